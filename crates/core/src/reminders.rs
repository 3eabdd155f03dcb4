//! Reminders of due todos. A todo reminds its assignee, else the member who
//! set its due date or reminder time (here "the owner" of the reminder), at
//! its `remind_at`, or without one at the owner's default lead time before
//! its `due_at` (`crate::notifications`). Quiet hours hold when a reminder
//! would go off: a sweep that runs in the owner's quiet hours defers every
//! reminder due by then to their end, in the owner's time zone (chrono-tz,
//! so across DST changes too), however long ago it became due. The sweep
//! (`POST /internal/reminders/run`, called every minute by a scheduler)
//! fires each due reminder exactly once, however many sweeps run at once:
//! the statement that claims reminders sets `reminder_fired_at` only where
//! it is still NULL, and records a `reminder` entry of the todo's audit
//! trail, which becomes its `todo.reminder` event and reaches the owner's
//! delta sync and long-poll (the list's change number, read by the owner
//! alone).

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::db::{Json, Statement};
use crate::error::ApiError;
use crate::notifications::{
    self, Preferences, PreferencesJson, DEFAULT_LEAD_MINUTES, MAX_LEAD_MINUTES,
};
use crate::ports::Ctx;

/// The most reminders one sweep looks at; the next sweep takes the rest.
const BATCH: i64 = 500;

/// Whom a todo `t` reminds: its assignee, else the member who set its due
/// date or reminder time (its creator until someone did).
macro_rules! recipient {
    () => {
        "COALESCE(t.assignee_id, t.reminder_to, t.user_id)"
    };
}

/// The reminders of one sweep, decided: `$1` is a JSON array of `{id,
/// version, fire, defer_until}`, `$2` now. Fires those to fire, each only
/// while still armed and unchanged (so exactly once, whoever else sweeps),
/// defers the others (their owners' quiet hours are now) to the end of the
/// quiet hours, gives each owner the next change number and records a
/// `reminder` audit entry (the outbox's event) per fired reminder, all in
/// one statement.
const CLAIM_CTES: &[&str] = &[
    "input AS (
        SELECT * FROM jsonb_to_recordset($1::text::jsonb)
            AS i (id uuid, version int8, fire bool, defer_until timestamptz))",
    // The lists of the reminders to fire, locked first (in id order), as
    // every statement that changes a list's todos does: the lock
    // serialises the list's change numbers.
    "lk AS (
        SELECT l.id FROM lists l
        WHERE l.id IN (SELECT t.list_id FROM todos t JOIN input i ON i.id = t.id WHERE i.fire)
        ORDER BY l.id FOR UPDATE)",
    concat!(
        "claimed AS (
        UPDATE todos t SET reminder_fired_at = $2::text::timestamptz,
                           reminder_deferred_until = NULL
        FROM input i
        WHERE t.id = i.id AND i.fire AND t.version = i.version
          AND t.reminder_fired_at IS NULL AND NOT t.completed
          AND t.list_id IN (SELECT id FROM lk)
        RETURNING t.id, ",
        recipient!(),
        " AS recipient, t.list_id, todo_fields(t) AS fields)"
    ),
    "deferred AS (
        UPDATE todos t SET reminder_deferred_until = i.defer_until
        FROM input i
        WHERE t.id = i.id AND NOT i.fire AND t.version = i.version
          AND t.reminder_fired_at IS NULL
        RETURNING t.id)",
    "seq AS (
        UPDATE lists l SET change_seq = l.change_seq + 1
        WHERE l.id IN (SELECT list_id FROM claimed)
        RETURNING l.id, l.change_seq)",
    "audit AS (
        INSERT INTO todo_audit (user_id, todo_id, action, changes, at, change_seq, after,
                                list_id, actor_id)
        SELECT c.recipient, c.id, 'reminder', '{}', $2::text::timestamptz, seq.change_seq,
               event_data(c.id, c.fields), c.list_id, c.recipient
        FROM claimed c JOIN seq ON seq.id = c.list_id)",
];

#[derive(Deserialize)]
struct Candidate {
    id: Uuid,
    version: i64,
    preferences: Option<PreferencesJson>,
}

/// Fires the reminders that are due now; how many went off.
pub fn sweep(ctx: &Ctx) -> Result<u64, ApiError> {
    #[derive(Deserialize)]
    struct Candidates {
        candidates: Vec<Candidate>,
    }
    #[derive(Deserialize)]
    struct Claimed {
        fired: u64,
    }
    let now = ctx.clock.now();
    // The reminders due at `$1` (now), earliest first: armed reminders of
    // open todos whose owners have them on. `$2` (now + the longest lead
    // time) bounds the index range; the owner's lead time (`$4` without
    // preferences) then decides.
    let candidates_sql = format!(
        "SELECT t.id, t.version,
                COALESCE(t.reminder_deferred_until, t.remind_at,
                         t.due_at - make_interval(mins => COALESCE(p.lead_minutes, $4::int8::int4))) AS due,
                CASE WHEN p.user_id IS NOT NULL THEN {} END AS preferences
         FROM todos t LEFT JOIN notification_preferences p ON p.user_id = {}
         WHERE NOT t.completed AND t.reminder_fired_at IS NULL
           AND (t.remind_at IS NOT NULL OR t.due_at IS NOT NULL)
           AND COALESCE(t.reminder_deferred_until, t.remind_at, t.due_at) <= $2::text::timestamptz
           AND COALESCE(p.enabled, true)
           AND COALESCE(t.reminder_deferred_until, t.remind_at,
                        t.due_at - make_interval(mins => COALESCE(p.lead_minutes, $4::int8::int4)))
               <= $1::text::timestamptz
         ORDER BY due, t.id LIMIT $3::int8",
        notifications::PREFERENCES_JSON,
        recipient!(),
    );
    let found: Candidates = Statement::object(
        &[],
        &[("candidates", Json::Rows(&candidates_sql))],
        vec![
            now.into(),
            (now + Duration::minutes(MAX_LEAD_MINUTES)).into(),
            BATCH.into(),
            DEFAULT_LEAD_MINUTES.into(),
        ],
    )
    .fetch(ctx.db)?;
    if found.candidates.is_empty() {
        return Ok(0);
    }
    let decided: Vec<serde_json::Value> = found
        .candidates
        .iter()
        .map(|c| {
            let preferences = c
                .preferences
                .as_ref()
                .map(notifications::from_stored)
                .unwrap_or_default();
            // Quiet hours hold when the reminder would go off, which is
            // now: a reminder that became due before they began, or whose
            // time was set in the past, waits for their end all the same.
            let at = out_of_quiet_hours(now, &preferences);
            let fire = at <= now;
            json!({"id": c.id, "version": c.version, "fire": fire,
                   "defer_until": (!fire).then_some(at)})
        })
        .collect();
    let claimed: Claimed = Statement::object(
        CLAIM_CTES,
        &[("fired", Json::Value("(SELECT count(*) FROM claimed)"))],
        vec![
            serde_json::Value::from(decided).to_string().into(),
            now.into(),
        ],
    )
    .fetch(ctx.db)?;
    Ok(claimed.fired)
}

/// The first instant from `at` on that is outside the owner's quiet
/// hours: `at` itself, or the end of the quiet hours `at` falls in, in the
/// owner's time zone.
pub fn out_of_quiet_hours(at: DateTime<Utc>, preferences: &Preferences) -> DateTime<Utc> {
    let Some(quiet) = preferences.quiet_hours else {
        return at;
    };
    let zone = preferences.time_zone;
    let local = at.with_timezone(&zone);
    if !quiet.contains(local.time()) {
        return at;
    }
    let mut day = local.date_naive();
    if local.time() >= quiet.end {
        day = day.succ_opt().unwrap_or(day);
    }
    instant_after(&zone, day.and_time(quiet.end), at).unwrap_or(at)
}

/// The instant a local time names in `zone`, after `after`: in a repeated
/// hour (the clocks going back) the first of the two that is later than
/// `after`, and in a skipped hour (a DST gap) the first minute after the gap.
fn instant_after<Z: TimeZone>(
    zone: &Z,
    local: NaiveDateTime,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    (0..=180).find_map(|minutes| {
        match zone.from_local_datetime(&(local + Duration::minutes(minutes))) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(earlier, later) => {
                let earlier = earlier.with_timezone(&Utc);
                Some(if earlier > after {
                    earlier
                } else {
                    later.with_timezone(&Utc)
                })
            }
            LocalResult::None => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifications::QuietHours;
    use chrono_tz::Tz;

    fn utc(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn quiet(start: &str, end: &str, zone: Tz) -> Preferences {
        Preferences {
            quiet_hours: QuietHours::parse(start, end).ok(),
            time_zone: zone,
            ..Preferences::default()
        }
    }

    #[test]
    fn a_reminder_in_quiet_hours_waits_for_their_end_in_the_users_zone() {
        let berlin_nights = quiet("22:00", "07:00", Tz::Europe__Berlin);
        let cases = [
            // Outside quiet hours: at once (18:00 CET).
            ("2026-01-15T17:00:00Z", "2026-01-15T17:00:00Z"),
            // 23:30 CET: the next morning 07:00 CET.
            ("2026-01-15T22:30:00Z", "2026-01-16T06:00:00Z"),
            // 03:00 CET: the same morning.
            ("2026-01-16T02:00:00Z", "2026-01-16T06:00:00Z"),
            // The night clocks go forward (29 March 2026, 02:00 CET -> 03:00
            // CEST): 00:30 CET waits until 07:00 CEST, which is 05:00 UTC.
            ("2026-03-28T23:30:00Z", "2026-03-29T05:00:00Z"),
            // The night clocks go back (25 October 2026, 03:00 CEST -> 02:00
            // CET): 00:30 CEST waits until 07:00 CET, which is 06:00 UTC.
            ("2026-10-24T22:30:00Z", "2026-10-25T06:00:00Z"),
        ];
        for (due, fires) in cases {
            assert_eq!(
                out_of_quiet_hours(utc(due), &berlin_nights),
                utc(fires),
                "{due}"
            );
        }
        // Without quiet hours nothing moves.
        let due = utc("2026-01-15T22:30:00Z");
        assert_eq!(out_of_quiet_hours(due, &Preferences::default()), due);
    }

    #[test]
    fn quiet_hours_ending_in_a_repeated_hour_end_at_the_next_time_the_clock_shows_it() {
        // New York, 1 November 2026: 02:00 EDT becomes 01:00 EST, so 01:00
        // to 02:00 comes twice. Quiet until 01:30.
        let until_half_past_one = quiet("22:00", "01:30", Tz::America__New_York);
        let cases = [
            // 01:10 EDT: at 01:30 EDT.
            ("2026-11-01T05:10:00Z", "2026-11-01T05:30:00Z"),
            // 01:40 EDT: not quiet.
            ("2026-11-01T05:40:00Z", "2026-11-01T05:40:00Z"),
            // 01:10 EST, the clock showing it the second time: at 01:30 EST.
            ("2026-11-01T06:10:00Z", "2026-11-01T06:30:00Z"),
        ];
        for (at, until) in cases {
            assert_eq!(
                out_of_quiet_hours(utc(at), &until_half_past_one),
                utc(until),
                "{at}"
            );
        }
    }

    #[test]
    fn quiet_hours_ending_in_a_skipped_hour_end_when_the_clock_resumes() {
        // Quiet until 02:30 on the night 02:00 CET becomes 03:00 CEST:
        // 02:30 does not exist, so the reminder goes off at 03:00 CEST.
        let until_half_past_two = quiet("23:00", "02:30", Tz::Europe__Berlin);
        assert_eq!(
            out_of_quiet_hours(utc("2026-03-28T23:00:00Z"), &until_half_past_two),
            utc("2026-03-29T01:00:00Z")
        );
    }
}
