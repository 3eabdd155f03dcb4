//! Todo events: every change of a todo (and every fired reminder) is an audit
//! row written by the statement that makes the change, queued in
//! `event_outbox` by a trigger in that same statement (migration V9). The
//! relay delivers the queue to the broker `events_sink` names, as
//! CloudEvents ([`cloud`]), at least once and in order per todo.
//!
//! One relay delivers at a time: a pass takes the single-row lease and reads
//! its batch in one statement, sends the batch, and marks delivered exactly
//! what the broker acknowledged (and gives the lease back) in one more, only
//! while it still holds the lease. A relay that dies between send and mark
//! leaves its events queued: they are sent again, never lost.
//!
//! A send can arrive late: Spin's Redis interface has no time limit, and a
//! Kafka REST proxy may write a record after its request timed out. So each
//! event has a send number (migration V14), given by the first pass that
//! claims it; passes send in ascending numbers, and the Redis sink uses the
//! number as the entry id, which Redis refuses unless it is above the
//! stream's last. For Kafka, a pass stops at its first failure (a timeout
//! included) without trying again, so a late record is a copy of one
//! consumers already have, which they drop by its CloudEvent `id`.

pub mod cloud;
pub mod sinks;

use std::time::Duration;

use serde::Deserialize;
use uuid::Uuid;

use crate::db::{Json, SqlParam, Statement};
use crate::error::{ApiError, Fields};
use crate::ports::Ctx;
use cloud::{AuditEvent, CloudEvent, DEFAULT_SOURCE};
use sinks::{Delivery, Sink};

/// How many events one pass reads and sends.
pub const BATCH: i64 = 100;

/// How long a pass may hold the lease. A pass stops sending after
/// [`SEND_BUDGET`], and each request to a Kafka REST proxy has
/// [`sinks::SEND_TIMEOUT`], so a live Kafka relay gives the lease back well
/// before it runs out; a relay that died holds it this long at most. Spin's
/// Redis interface has no time limit, so a pass stuck on `XADD` can outlive
/// its lease while the next relay sends its events again: what it sends
/// late is refused by Redis, because every entry's id is the event's send
/// number ([`sinks`]).
pub const LEASE: Duration = Duration::from_secs(60);

/// How long a pass goes on sending before it leaves the rest of its batch
/// for the next pass.
pub const SEND_BUDGET: Duration = Duration::from_secs(20);

/// How long one call of the relay goes on: a backlog is drained for this
/// long at most, and `wait` cannot be longer.
pub const MAX_RUN: Duration = Duration::from_secs(55);

/// How often a relay that waits (`wait=`) looks for new events.
pub const FOLLOW_INTERVAL: Duration = Duration::from_secs(1);

/// How long the outbox keeps an event: a delivered one, or with
/// `events_sink = none` any. The audit row itself stays (it is the history).
pub const RETENTION_DAYS: i64 = 7;

/// How many outbox rows one prune deletes at most, so that it stays short.
pub const PRUNE_BATCH: i64 = 10_000;

/// What `POST /internal/events/relay` was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayQuery {
    /// `wait=<seconds>`: go on relaying new events as they come, for this
    /// long (0 to 55; default 0, one run until the queue is empty).
    pub wait: Duration,
}

impl RelayQuery {
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut fields = Fields::default();
        let mut wait = None;
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match name.as_ref() {
                "wait" if wait.is_some() => fields.add("wait", "given more than once"),
                "wait" => {
                    wait = fields.take(
                        "wait",
                        value
                            .parse::<u64>()
                            .ok()
                            .filter(|s| *s <= MAX_RUN.as_secs())
                            .map(Duration::from_secs)
                            .ok_or_else(|| {
                                format!(
                                    "must be a whole number of seconds from 0 to {}",
                                    MAX_RUN.as_secs()
                                )
                            }),
                    )
                }
                other => fields.add(other, "unknown parameter"),
            }
        }
        if !fields.is_empty() {
            return Err(fields.into_error());
        }
        Ok(RelayQuery {
            wait: wait.unwrap_or_default(),
        })
    }
}

/// Delivers the queued events to the configured sink, in audit order, until
/// none is left (for [`MAX_RUN`] at most), then for `query.wait` more
/// seconds as they come; how many were delivered. With `events_sink = none`
/// it only prunes the queue.
///
/// 503 when the broker does not take an event (those before it are
/// delivered, it and the rest stay queued); 500 `misconfigured` for an
/// unknown sink.
pub fn relay(ctx: &Ctx, query: &RelayQuery) -> Result<u64, ApiError> {
    let sink = Sink::from_ctx(ctx)?;
    if let Sink::None = sink {
        prune_all(ctx)?;
        return Ok(0);
    }
    let source = Some(ctx.var("events_source").trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SOURCE.to_owned());
    let relay = Uuid::new_v4();
    let started = ctx.clock.now();
    let follow_until = started + query.wait;
    let drain_until = started + MAX_RUN;
    let mut delivered = 0;
    loop {
        let pass = pass(ctx, &sink, &source, relay)?;
        delivered += pass.delivered;
        if let Some(failure) = pass.failure {
            return Err(failure.into_error(delivered));
        }
        let now = ctx.clock.now();
        if pass.more && now < drain_until {
            continue;
        }
        if now >= follow_until {
            return Ok(delivered);
        }
        ctx.pause(FOLLOW_INTERVAL);
    }
}

/// Why a pass stopped short.
enum Failure {
    /// The broker did not take an event.
    Broker(String),
    /// An audit row that is no event (no data, an unknown action).
    BadEvent(String),
}

impl Failure {
    fn into_error(self, delivered: u64) -> ApiError {
        let (mut error, detail) = match self {
            Failure::Broker(detail) => (
                ApiError::unavailable(format!(
                    "the events broker did not take every event: {delivered} delivered, \
                     the rest stays queued for the next relay"
                )),
                detail,
            ),
            Failure::BadEvent(detail) => (ApiError::internal(""), detail),
        };
        error.internal = Some(detail);
        error
    }
}

/// What one pass did.
struct Pass {
    delivered: u64,
    /// Its batch was full: more events may be waiting.
    more: bool,
    failure: Option<Failure>,
}

/// Takes the lease and reads a batch of queued events in send order (`$1`
/// the relay, `$2` the lease in seconds, `$3` the batch size). The lease is
/// taken only when it is free (or its holder is this relay) and something
/// is queued, atomically: of two relays at once, one waits for the other's
/// row lock and then finds the lease taken.
///
/// The batch locks its rows (`FOR UPDATE`): a relay that waited for the lease
/// while another marked its events re-reads each row it found queued and
/// skips the ones marked meanwhile, so nothing is sent twice by two live
/// relays, and no later event of a todo goes out before an earlier one.
///
/// Events get their send numbers here (migration V14): the ones a pass
/// claimed before keep theirs and come first, the others are numbered in
/// audit order from `event_send_seq` (the numbers drawn are sorted, so
/// the order does not depend on how PostgreSQL draws them). So every pass
/// sends in ascending send numbers, which the Redis sink uses as entry ids.
const TAKE_LEASE: &[&str] = &[
    "lease AS (
    UPDATE relay_lease SET holder = $1::text::uuid, until = now() + $2::int8 * interval '1 second'
    WHERE (until < now() OR holder = $1::text::uuid)
      AND EXISTS (SELECT FROM event_outbox WHERE delivered_at IS NULL)
    RETURNING holder)",
    "batch AS (
    SELECT o.audit_id, o.send_seq
    FROM event_outbox o
    WHERE o.delivered_at IS NULL AND EXISTS (SELECT FROM lease)
    ORDER BY o.send_seq, o.audit_id LIMIT $3::int8
    FOR UPDATE OF o)",
    "fresh AS (
    SELECT audit_id, row_number() OVER (ORDER BY audit_id) AS n
    FROM batch WHERE send_seq IS NULL)",
    "drawn AS (
    SELECT seq, row_number() OVER (ORDER BY seq) AS n
    FROM (SELECT nextval('event_send_seq') AS seq FROM fresh) AS d)",
    "numbered AS (
    UPDATE event_outbox o SET send_seq = drawn.seq
    FROM fresh JOIN drawn USING (n)
    WHERE o.audit_id = fresh.audit_id
    RETURNING o.audit_id, o.send_seq)",
];
const BATCH_SQL: &str = "SELECT a.id, a.todo_id, a.list_id, a.action, a.after, a.at,
        COALESCE(b.send_seq, n.send_seq) AS send_seq,
        CASE WHEN a.action <> 'reminder' THEN (
            SELECT json_build_object('id', u.id, 'name', u.name)
            FROM users u WHERE u.id = a.actor_id) END AS actor
    FROM batch b JOIN todo_audit a ON a.id = b.audit_id
    LEFT JOIN numbered n ON n.audit_id = b.audit_id
    ORDER BY COALESCE(b.send_seq, n.send_seq)";

/// Marks delivered the listed events (`$2`, an int8 array literal) and gives
/// the lease back, only while relay `$1` holds it: a relay whose lease was
/// taken over marks nothing, and its events are sent again. Also prunes
/// delivered events older than `$3` days (`$4` at most).
const MARK_CTES: &[&str] = &[
    "held AS (
        UPDATE relay_lease SET holder = NULL, until = '-infinity'
        WHERE holder = $1::text::uuid
        RETURNING 1)",
    "marked AS (
        UPDATE event_outbox SET delivered_at = now()
        WHERE audit_id = ANY($2::text::int8[]) AND delivered_at IS NULL
          AND EXISTS (SELECT FROM held)
        RETURNING audit_id)",
    "pruned AS (
        DELETE FROM event_outbox WHERE audit_id IN (
            SELECT audit_id FROM event_outbox
            WHERE created_at < now() - $3::int8 * interval '1 day' AND delivered_at IS NOT NULL
            ORDER BY created_at LIMIT $4::int8))",
];

/// Prunes every event older than `$1` days (`$2` at most), delivered or not:
/// what `events_sink = none` does.
const PRUNE_ALL: &str = "pruned AS (
    DELETE FROM event_outbox WHERE audit_id IN (
        SELECT audit_id FROM event_outbox
        WHERE created_at < now() - $1::int8 * interval '1 day'
        ORDER BY created_at LIMIT $2::int8)
    RETURNING 1)";

/// One pass: lease and batch, send, mark.
fn pass(ctx: &Ctx, sink: &Sink, source: &str, relay: Uuid) -> Result<Pass, ApiError> {
    #[derive(Deserialize)]
    struct Taken {
        leased: bool,
        events: Vec<AuditEvent>,
    }
    let started = ctx.clock.monotonic();
    let taken: Taken = Statement::object(
        TAKE_LEASE,
        &[
            ("leased", Json::Value("EXISTS (SELECT FROM lease)")),
            ("events", Json::Rows(BATCH_SQL)),
        ],
        vec![
            relay.into(),
            i64::try_from(LEASE.as_secs()).unwrap_or(i64::MAX).into(),
            BATCH.into(),
        ],
    )
    .fetch(ctx.db)?;
    if !taken.leased {
        return Ok(Pass {
            delivered: 0,
            more: false,
            failure: None,
        });
    }
    let more = i64::try_from(taken.events.len()).unwrap_or(0) >= BATCH;

    // Every event up to the first row that is none.
    let mut events = Vec::with_capacity(taken.events.len());
    let mut failure = None;
    for audit in taken.events {
        match CloudEvent::of(&audit, source) {
            Ok(event) => events.push((audit, event)),
            Err(e) => {
                failure = Some(Failure::BadEvent(e.to_string()));
                break;
            }
        }
    }
    let Delivery {
        acked,
        failure: refused,
    } = sinks::deliver(ctx, sink, &events, started + SEND_BUDGET);
    if let Some(refused) = refused {
        failure = Some(Failure::Broker(refused));
    }
    let delivered = mark(ctx, relay, &acked)?;
    Ok(Pass {
        delivered,
        more: more && failure.is_none(),
        failure,
    })
}

/// Marks `acked` delivered and gives the lease back; how many were marked
/// (none when the lease was lost meanwhile).
fn mark(ctx: &Ctx, relay: Uuid, acked: &[i64]) -> Result<u64, ApiError> {
    #[derive(Deserialize)]
    struct Marked {
        marked: u64,
    }
    let ids: Vec<String> = acked.iter().map(i64::to_string).collect();
    let answer: Marked = Statement::object(
        MARK_CTES,
        &[("marked", Json::Value("(SELECT count(*) FROM marked)"))],
        vec![
            relay.into(),
            SqlParam::Text(format!("{{{}}}", ids.join(","))),
            RETENTION_DAYS.into(),
            PRUNE_BATCH.into(),
        ],
    )
    .fetch(ctx.db)?;
    Ok(answer.marked)
}

/// `events_sink = none`: the queue is only pruned.
fn prune_all(ctx: &Ctx) -> Result<(), ApiError> {
    let _: serde_json::Value = Statement::object(
        &[PRUNE_ALL],
        &[("pruned", Json::Value("(SELECT count(*) FROM pruned)"))],
        vec![RETENTION_DAYS.into(), PRUNE_BATCH.into()],
    )
    .fetch(ctx.db)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_query_takes_only_a_sane_wait() {
        assert_eq!(RelayQuery::parse(None).unwrap().wait, Duration::ZERO);
        assert_eq!(
            RelayQuery::parse(Some("wait=55")).unwrap().wait,
            Duration::from_secs(55)
        );
        for bad in ["wait=56", "wait=-1", "wait=x", "wait=1&wait=2", "other=1"] {
            let error = RelayQuery::parse(Some(bad)).unwrap_err();
            assert_eq!(error.status.as_u16(), 422, "{bad}");
        }
    }

    /// Only a Kafka pass is bounded: Spin's Redis interface takes no time
    /// limit, and a Redis pass that outlives its lease is made harmless by
    /// its entry ids instead (`crates/native/tests/events.rs`).
    #[test]
    fn a_kafka_pass_is_bounded_well_within_its_lease() {
        assert!(SEND_BUDGET + sinks::SEND_TIMEOUT * 2 < LEASE);
    }
}
