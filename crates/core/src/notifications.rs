//! Notification preferences (`GET`/`PUT /api/notifications/preferences`):
//! whether the user's reminders fire, the default lead time before a due
//! date (for todos without their own `remind_at`), quiet hours, and the
//! IANA time zone the quiet hours are in. Read by the reminder sweep
//! (`crate::reminders`).

use chrono::{NaiveTime, Timelike};
use chrono_tz::Tz;
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::api::{allow, json, parse_json, Request, Response};
use crate::auth::{rejected, require_caller, Caller};
use crate::db::Json;
use crate::error::{ApiError, Fields};
use crate::ports::Ctx;

/// The lead time without preferences: the app this one replaces used 30 minutes.
pub const DEFAULT_LEAD_MINUTES: i64 = 30;
/// The longest lead time: a week.
pub const MAX_LEAD_MINUTES: i64 = 7 * 24 * 60;

/// Quiet hours, local times in the user's zone: reminders due from `start`
/// until `end` wait until `end`. `start` after `end` spans midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    /// `start` and `end` as `HH:MM` (00:00 to 23:59), not equal.
    pub fn parse(start: &str, end: &str) -> Result<Self, String> {
        let time = |text: &str| {
            NaiveTime::parse_from_str(text, "%H:%M")
                .map_err(|_| format!("{text:?} is not a time of day as HH:MM (00:00 to 23:59)"))
        };
        let (start, end) = (time(start)?, time(end)?);
        if start == end {
            return Err("start and end must differ".into());
        }
        Ok(Self { start, end })
    }

    /// Whether the local time of day `t` is quiet.
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

/// A user's preferences, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    pub enabled: bool,
    pub lead_minutes: i64,
    pub quiet_hours: Option<QuietHours>,
    pub time_zone: Tz,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            enabled: true,
            lead_minutes: DEFAULT_LEAD_MINUTES,
            quiet_hours: None,
            time_zone: Tz::UTC,
        }
    }
}

/// Preferences as the API and the database spell them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PreferencesJson {
    pub enabled: bool,
    pub lead_minutes: i64,
    pub quiet_hours: Option<QuietHoursJson>,
    pub time_zone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursJson {
    pub start: String,
    pub end: String,
}

fn hh_mm(t: NaiveTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

impl From<&Preferences> for PreferencesJson {
    fn from(p: &Preferences) -> Self {
        Self {
            enabled: p.enabled,
            lead_minutes: p.lead_minutes,
            quiet_hours: p.quiet_hours.map(|q| QuietHoursJson {
                start: hh_mm(q.start),
                end: hh_mm(q.end),
            }),
            time_zone: p.time_zone.name().to_owned(),
        }
    }
}

/// The body of PUT: a full replacement, so a field left out (or null) is
/// reset to its default (reminders on, 30 minutes, no quiet hours, UTC).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreferencesBody {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    lead_minutes: Option<i64>,
    #[serde(default)]
    quiet_hours: Option<QuietHoursJson>,
    #[serde(default)]
    time_zone: Option<String>,
}

impl PreferencesBody {
    fn parse(self) -> Result<Preferences, ApiError> {
        let mut f = Fields::default();
        let defaults = Preferences::default();
        let lead_minutes = f.take(
            "lead_minutes",
            match self.lead_minutes {
                None => Ok(defaults.lead_minutes),
                Some(n) if (0..=MAX_LEAD_MINUTES).contains(&n) => Ok(n),
                Some(_) => Err(format!(
                    "must be a whole number of minutes from 0 to {MAX_LEAD_MINUTES}"
                )),
            },
        );
        let quiet_hours = f.take(
            "quiet_hours",
            self.quiet_hours
                .map(|q| QuietHours::parse(&q.start, &q.end))
                .transpose(),
        );
        let time_zone = f.take(
            "time_zone",
            match self.time_zone {
                None => Ok(defaults.time_zone),
                Some(name) => name
                    .trim()
                    .parse::<Tz>()
                    .map_err(|_| "must be an IANA time zone name such as Europe/Berlin".to_owned()),
            },
        );
        match (lead_minutes, quiet_hours, time_zone) {
            (Some(lead_minutes), Some(quiet_hours), Some(time_zone)) if f.is_empty() => {
                Ok(Preferences {
                    enabled: self.enabled.unwrap_or(defaults.enabled),
                    lead_minutes,
                    quiet_hours,
                    time_zone,
                })
            }
            _ => Err(f.into_error()),
        }
    }
}

/// Stored preferences back into their domain type; a stored value that no
/// longer parses (a time zone a newer database dropped) falls back to its
/// default rather than stopping the user's reminders.
pub fn from_stored(stored: &PreferencesJson) -> Preferences {
    let defaults = Preferences::default();
    Preferences {
        enabled: stored.enabled,
        lead_minutes: stored.lead_minutes.clamp(0, MAX_LEAD_MINUTES),
        quiet_hours: stored
            .quiet_hours
            .as_ref()
            .and_then(|q| QuietHours::parse(&q.start, &q.end).ok()),
        time_zone: stored.time_zone.parse().unwrap_or(defaults.time_zone),
    }
}

/// The SQL that answers stored preferences as [`PreferencesJson`].
pub const PREFERENCES_JSON: &str = "json_build_object(
        'enabled', p.enabled, 'lead_minutes', p.lead_minutes,
        'quiet_hours', CASE WHEN p.quiet_start IS NULL THEN NULL
                            ELSE json_build_object('start', to_char(p.quiet_start, 'HH24:MI'),
                                                   'end', to_char(p.quiet_end, 'HH24:MI')) END,
        'time_zone', p.time_zone)";

pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    if req.uri().path().trim_end_matches('/') != "/api/notifications/preferences" {
        return Err(ApiError::not_found());
    }
    allow(req, &[Method::GET, Method::PUT])?;
    let caller = require_caller(req, ctx)?;
    let preferences = if req.method() == Method::PUT {
        let body: PreferencesBody = parse_json(req)?;
        save(ctx, &caller, &body.parse()?)?
    } else {
        load(ctx, &caller)?
    };
    Ok(json(StatusCode::OK, &PreferencesJson::from(&preferences)))
}

#[derive(Deserialize)]
struct Answer {
    preferences: Option<PreferencesJson>,
}

/// The caller's preferences, the defaults when none were saved.
fn load(ctx: &Ctx, caller: &Caller) -> Result<Preferences, ApiError> {
    let select = format!(
        "SELECT {PREFERENCES_JSON} AS p FROM notification_preferences p
         WHERE p.user_id = (SELECT id FROM auth)"
    );
    let (_, answer) = caller
        .fetch::<Answer>(
            ctx,
            &[],
            &[("preferences", Json::Value(&format!("({select})")))],
            Vec::new(),
        )?
        .ok_or_else(rejected)?;
    Ok(answer
        .preferences
        .as_ref()
        .map(from_stored)
        .unwrap_or_default())
}

/// Replaces the caller's preferences, in one statement.
fn save(ctx: &Ctx, caller: &Caller, preferences: &Preferences) -> Result<Preferences, ApiError> {
    let quiet = preferences
        .quiet_hours
        .map(|q| (hh_mm(q.start), hh_mm(q.end)));
    let upsert = format!(
        "saved AS (
            INSERT INTO notification_preferences AS p
                (user_id, enabled, lead_minutes, quiet_start, quiet_end, time_zone, updated_at)
            SELECT id, $3::bool, $4::int8, $5::text::time, $6::text::time, $7::text,
                   $8::text::timestamptz
            FROM auth
            ON CONFLICT (user_id) DO UPDATE SET
                enabled = excluded.enabled, lead_minutes = excluded.lead_minutes,
                quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end,
                time_zone = excluded.time_zone, updated_at = excluded.updated_at
            RETURNING {PREFERENCES_JSON} AS p)"
    );
    let (_, answer) = caller
        .fetch::<Answer>(
            ctx,
            &[&upsert],
            &[("preferences", Json::Value("(SELECT p FROM saved)"))],
            vec![
                preferences.enabled.into(),
                preferences.lead_minutes.into(),
                quiet.as_ref().map(|q| q.0.as_str()).into(),
                quiet.as_ref().map(|q| q.1.as_str()).into(),
                preferences.time_zone.name().into(),
                ctx.clock.now().into(),
            ],
        )?
        .ok_or_else(rejected)?;
    Ok(answer
        .preferences
        .as_ref()
        .map(from_stored)
        .unwrap_or_else(|| preferences.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hh_mm: &str) -> NaiveTime {
        NaiveTime::parse_from_str(hh_mm, "%H:%M").unwrap_or_default()
    }

    #[test]
    fn quiet_hours_may_span_midnight() {
        let night = QuietHours::parse("22:00", "07:00").unwrap_or_else(|e| panic!("{e}"));
        for (t, quiet) in [
            ("21:59", false),
            ("22:00", true),
            ("23:59", true),
            ("00:00", true),
            ("06:59", true),
            ("07:00", false),
            ("12:00", false),
        ] {
            assert_eq!(night.contains(at(t)), quiet, "{t}");
        }
        let lunch = QuietHours::parse("12:00", "13:30").unwrap_or_else(|e| panic!("{e}"));
        assert!(lunch.contains(at("12:45")));
        assert!(!lunch.contains(at("13:30")));
        assert!(!lunch.contains(at("11:00")));
    }

    #[test]
    fn quiet_hours_are_two_different_times_of_day() {
        for (start, end) in [
            ("22:00", "22:00"),
            ("24:00", "07:00"),
            ("7", "08:00"),
            ("", ""),
        ] {
            assert!(QuietHours::parse(start, end).is_err(), "{start}-{end}");
        }
    }
}
