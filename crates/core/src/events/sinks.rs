//! Where the relay delivers events (`events_sink`) and how each broker
//! acknowledges them: Redis Streams through Spin's outbound Redis (one
//! `XADD` per event), or a Kafka topic through a Kafka REST proxy (v2 API,
//! as Confluent's REST Proxy and Redpanda's HTTP Proxy speak it) over
//! outbound HTTP. A sink reports exactly the events the broker took, and
//! stops at the first one it did not take, so that the events of a todo are
//! delivered in their order.

use std::time::Duration;

use http::{header, Method};
use serde::Deserialize;
use serde_json::json;

use super::cloud::{AuditEvent, CloudEvent};
use crate::error::ApiError;
use crate::ports::{Appended, Ctx};

/// The stream and topic when `events_redis_stream` or `events_kafka_topic`
/// is not set.
pub const DEFAULT_STREAM: &str = "todo-events";

/// About how many entries the Redis stream keeps (`XADD ... MAXLEN ~`):
/// older ones are trimmed, whole macro nodes at a time, so a consumer that
/// is down for longer than that many changes misses the oldest.
pub const REDIS_STREAM_MAXLEN: u64 = 100_000;

/// The time limit of one request to the Kafka REST proxy (natively, also of
/// one Redis command; Spin's Redis interface takes no time limit, which the
/// Redis sink does not count on). A request that ran out of time may still
/// be written by the proxy later: the relay stops at once, without trying
/// again, and the next relay sends the event again before any newer one of
/// its todo, so a late copy is always a duplicate of an event consumers
/// already have, and they drop it by its CloudEvent `id`.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// The Kafka REST proxy's v2 media types: records with JSON keys and
/// values, and its answers.
const KAFKA_JSON_V2: &str = "application/vnd.kafka.json.v2+json";
const KAFKA_V2: &str = "application/vnd.kafka.v2+json";

/// A configured sink. No `Debug`: the Redis URL and the Kafka credentials
/// are secrets.
pub enum Sink {
    /// No broker: events are kept for [`super::RETENTION_DAYS`], then pruned.
    None,
    Redis {
        url: String,
        stream: String,
    },
    KafkaRest {
        /// The proxy's origin, without a trailing slash.
        url: String,
        topic: String,
        /// Sent as `Authorization` when set.
        auth: Option<String>,
    },
}

impl Sink {
    /// The sink the variables name; 500 `misconfigured` (and nothing
    /// delivered, nothing lost) for an unknown sink or one without what it
    /// needs.
    pub fn from_ctx(ctx: &Ctx) -> Result<Self, ApiError> {
        let or_default = |name: &str, default: &str| {
            let value = ctx.var(name).trim().to_owned();
            if value.is_empty() {
                default.to_owned()
            } else {
                value
            }
        };
        match ctx.var("events_sink").trim() {
            "" | "none" => Ok(Sink::None),
            "redis" => {
                let url = ctx.var("events_redis_url").trim().to_owned();
                if !url.starts_with("redis://") && !url.starts_with("rediss://") {
                    return Err(ApiError::misconfigured(
                        "events_sink is redis, so events_redis_url must be a redis:// URL",
                    ));
                }
                Ok(Sink::Redis {
                    url,
                    stream: or_default("events_redis_stream", DEFAULT_STREAM),
                })
            }
            "kafka-rest" => {
                let url = kafka_origin(&ctx.var("events_kafka_url"))?;
                let topic = or_default("events_kafka_topic", DEFAULT_STREAM);
                if !is_topic_name(&topic) {
                    return Err(ApiError::misconfigured(format!(
                        "events_kafka_topic {topic:?} is no Kafka topic name \
                         (1 to 249 letters, digits, '.', '_' or '-')"
                    )));
                }
                let auth =
                    Some(ctx.var("events_kafka_auth").trim().to_owned()).filter(|a| !a.is_empty());
                Ok(Sink::KafkaRest { url, topic, auth })
            }
            other => Err(ApiError::misconfigured(format!(
                "events_sink must be none, redis or kafka-rest, not {other:?}"
            ))),
        }
    }
}

/// `events_kafka_url` as an origin (`http(s)://host[:port]`): it is also an
/// `allowed_outbound_hosts` entry, which may not have a path.
fn kafka_origin(raw: &str) -> Result<String, ApiError> {
    let wrong = || {
        ApiError::misconfigured(format!(
            "events_sink is kafka-rest, so events_kafka_url must be the REST proxy's \
             origin, http(s)://host[:port] without a path, not {raw:?}"
        ))
    };
    let url = url::Url::parse(raw.trim()).map_err(|_| wrong())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.path() != "/"
        || url.query().is_some()
        || !url.username().is_empty()
    {
        return Err(wrong());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Kafka's rule for topic names.
fn is_topic_name(name: &str) -> bool {
    (1..=249).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// What a sink did with a batch.
#[derive(Debug, Default, PartialEq)]
pub struct Delivery {
    /// The audit ids of the events the broker acknowledged.
    pub acked: Vec<i64>,
    /// Why it did not take the rest, when it did not (for the log only: it
    /// may name hosts).
    pub failure: Option<String>,
}

/// Sends `events` (in audit order) until the broker fails one, or until
/// the clock's [`monotonic`](crate::ports::Clock::monotonic) reading passes
/// `stop_by`, when the rest waits for the next pass.
pub fn deliver(
    ctx: &Ctx,
    sink: &Sink,
    events: &[(AuditEvent, CloudEvent)],
    stop_by: Duration,
) -> Delivery {
    match sink {
        Sink::None => Delivery::default(),
        Sink::Redis { url, stream } => to_redis(ctx, url, stream, events, stop_by),
        Sink::KafkaRest { url, topic, auth } => {
            let endpoint = format!("{url}/topics/{topic}");
            to_kafka(ctx, &endpoint, auth.as_deref(), events, stop_by)
        }
    }
}

/// One `XADD` per event, each entry with one field, `event`, under the id
/// `<send_seq>-0` (migration V14). A pass sends its events in ascending send
/// numbers and stops at the first failure, so the stream's ids ascend with
/// the events' order, and Redis refuses a send that comes too late: one
/// from a relay that hung on `XADD` past its lease (Spin's Redis interface
/// has no time limit) while the next relay sent the same event and newer
/// ones. A refused event is in the stream already, sent by another pass, or
/// is superseded by what is: it counts as delivered and is never sent again.
fn to_redis(
    ctx: &Ctx,
    url: &str,
    stream: &str,
    events: &[(AuditEvent, CloudEvent)],
    stop_by: Duration,
) -> Delivery {
    let mut delivery = Delivery::default();
    for (audit, event) in events {
        if ctx.clock.monotonic() >= stop_by {
            break;
        }
        let Some(send_seq) = audit.send_seq else {
            delivery.failure = Some(format!("event {} has no send number", audit.id));
            break;
        };
        let json = event.to_json();
        match ctx.redis.xadd(
            url,
            stream,
            REDIS_STREAM_MAXLEN,
            &format!("{send_seq}-0"),
            "event",
            json.as_bytes(),
        ) {
            Ok(Appended::Added | Appended::NotAboveTop) => delivery.acked.push(audit.id),
            Err(e) => {
                delivery.failure = Some(format!("redis XADD of event {}: {e}", audit.id));
                break;
            }
        }
    }
    delivery
}

/// The proxy's answer to a produce request.
#[derive(Deserialize)]
struct Produced {
    offsets: Vec<Offset>,
}

/// One record's fate: `error_code` and `error` are null when it was written.
#[derive(Deserialize)]
struct Offset {
    #[serde(default)]
    error_code: Option<i64>,
    #[serde(default)]
    error: Option<String>,
}

/// The proxy's error body, e.g. `{"error_code":40401,"message":"Topic not found."}`.
#[derive(Deserialize)]
struct ProxyError {
    error_code: Option<i64>,
    message: Option<String>,
}

/// Records keyed by the todo id (so one todo's events share a partition),
/// the CloudEvent as the value. A request never holds two events of one
/// todo: the proxy may write a record after one it failed, and a later
/// event of the same todo must not land before an earlier one that is sent
/// again. So the batch goes as runs of events of distinct todos, one request
/// each, and stops after the first run with a failure, keeping what the
/// broker took of it.
fn to_kafka(
    ctx: &Ctx,
    endpoint: &str,
    auth: Option<&str>,
    events: &[(AuditEvent, CloudEvent)],
    stop_by: Duration,
) -> Delivery {
    let mut delivery = Delivery::default();
    for run in distinct_todo_runs(events) {
        if ctx.clock.monotonic() >= stop_by {
            break;
        }
        let records: Vec<serde_json::Value> = run
            .iter()
            .map(|(_, event)| json!({"key": event.subject, "value": event}))
            .collect();
        let body = json!({ "records": records }).to_string().into_bytes();
        let mut request = http::Request::builder()
            .method(Method::POST)
            .uri(endpoint)
            .header(header::CONTENT_TYPE, KAFKA_JSON_V2)
            .header(header::ACCEPT, KAFKA_V2);
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let answer = request
            .body(body)
            .map_err(|e| e.to_string())
            .and_then(|request| {
                ctx.http
                    .send(request, SEND_TIMEOUT)
                    .map_err(|e| e.to_string())
            });
        let response = match answer {
            Ok(response) => response,
            Err(e) => {
                delivery.failure = Some(format!("kafka-rest POST {endpoint}: {e}"));
                break;
            }
        };
        if !response.status().is_success() {
            let error = serde_json::from_slice::<ProxyError>(response.body()).ok();
            delivery.failure = Some(format!(
                "kafka-rest POST {endpoint} answered {}: error_code {:?}, {:?}",
                response.status(),
                error.as_ref().and_then(|e| e.error_code),
                error.and_then(|e| e.message).unwrap_or_default()
            ));
            break;
        }
        let offsets = match serde_json::from_slice::<Produced>(response.body()) {
            Ok(produced) if produced.offsets.len() == run.len() => produced.offsets,
            Ok(produced) => {
                delivery.failure = Some(format!(
                    "kafka-rest answered {} offsets for {} records",
                    produced.offsets.len(),
                    run.len()
                ));
                break;
            }
            Err(e) => {
                delivery.failure = Some(format!("kafka-rest answered no offsets: {e}"));
                break;
            }
        };
        for ((audit, _), offset) in run.iter().zip(offsets) {
            if offset.error_code.is_none() && offset.error.is_none() {
                delivery.acked.push(audit.id);
            } else if delivery.failure.is_none() {
                delivery.failure = Some(format!(
                    "kafka-rest did not write event {}: error_code {:?}, {:?}",
                    audit.id,
                    offset.error_code,
                    offset.error.unwrap_or_default()
                ));
            }
        }
        if delivery.failure.is_some() {
            break;
        }
    }
    delivery
}

/// `events` cut into consecutive runs in which no todo comes twice.
fn distinct_todo_runs<T>(events: &[(AuditEvent, T)]) -> Vec<&[(AuditEvent, T)]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for (i, (audit, _)) in events.iter().enumerate() {
        if events[start..i]
            .iter()
            .any(|(a, _)| a.todo_id == audit.todo_id)
        {
            runs.push(&events[start..i]);
            start = i;
        }
    }
    if start < events.len() {
        runs.push(&events[start..]);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use uuid::Uuid;

    fn audit(id: i64, todo: u128) -> (AuditEvent, ()) {
        (
            AuditEvent {
                id,
                todo_id: Some(Uuid::from_u128(todo)),
                list_id: None,
                action: "update".into(),
                after: None,
                actor: None,
                at: Utc::now(),
                send_seq: Some(id),
            },
            (),
        )
    }

    /// A Redis stream as far as ids go: it takes an id only above its last.
    #[derive(Default)]
    struct Stream {
        top: std::cell::Cell<i64>,
        sent: std::cell::RefCell<Vec<String>>,
    }

    impl crate::ports::Redis for Stream {
        fn xadd(
            &self,
            _: &str,
            _: &str,
            _: u64,
            id: &str,
            _: &str,
            _: &[u8],
        ) -> Result<Appended, crate::ports::OutboundError> {
            self.sent.borrow_mut().push(id.to_owned());
            let seq: i64 = id.trim_end_matches("-0").parse().unwrap_or_default();
            if seq <= self.top.get() {
                return Ok(Appended::NotAboveTop);
            }
            self.top.set(seq);
            Ok(Appended::Added)
        }
    }

    struct Unused;
    impl crate::ports::Db for Unused {
        fn query_json(
            &self,
            _: &str,
            _: &[crate::db::SqlParam],
        ) -> Result<String, crate::db::DbError> {
            Err(crate::db::DbError::Connection("unused".into()))
        }
        fn execute(&self, _: &str, _: &[crate::db::SqlParam]) -> Result<u64, crate::db::DbError> {
            Err(crate::db::DbError::Connection("unused".into()))
        }
        fn release(&self) {}
    }
    impl crate::ports::HttpClient for Unused {
        fn send(
            &self,
            _: http::Request<Vec<u8>>,
            _: Duration,
        ) -> Result<http::Response<Vec<u8>>, crate::ports::OutboundError> {
            Err(crate::ports::OutboundError::Failed("unused".into()))
        }
    }
    impl crate::ports::Variables for Unused {
        fn get(&self, _: &str) -> Option<String> {
            None
        }
    }

    fn to_stream(stream: &Stream, events: &[(AuditEvent, CloudEvent)]) -> Delivery {
        let clock = crate::ports::SystemClock;
        let ctx = Ctx::new(&Unused, &Unused, &Unused, &clock).with_redis(stream);
        let sink = Sink::Redis {
            url: "redis://127.0.0.1:6379".into(),
            stream: DEFAULT_STREAM.into(),
        };
        deliver(
            &ctx,
            &sink,
            events,
            ctx.clock.monotonic() + Duration::from_secs(60),
        )
    }

    fn event(id: i64, send_seq: Option<i64>) -> (AuditEvent, CloudEvent) {
        let (mut row, ()) = audit(id, 1);
        row.send_seq = send_seq;
        row.action = "create".into();
        row.after = Some(json!({}));
        let event = CloudEvent::of(&row, "/s").unwrap();
        (row, event)
    }

    #[test]
    fn redis_entries_take_the_send_number_and_a_refused_one_is_not_sent_again() {
        let stream = Stream::default();
        // Another relay already sent the first two events.
        stream.top.set(11);
        let delivery = to_stream(
            &stream,
            &[event(1, Some(10)), event(2, Some(11)), event(3, Some(12))],
        );
        assert_eq!(*stream.sent.borrow(), ["10-0", "11-0", "12-0"]);
        assert_eq!(
            delivery.acked,
            [1, 2, 3],
            "the refused ones are in the stream"
        );
        assert_eq!(delivery.failure, None);
        assert_eq!(stream.top.get(), 12);

        // An event without a send number stops the pass before it.
        let delivery = to_stream(
            &stream,
            &[event(4, Some(13)), event(5, None), event(6, Some(14))],
        );
        assert_eq!(delivery.acked, [4]);
        assert!(delivery.failure.is_some());
        assert_eq!(stream.top.get(), 13);
    }

    #[test]
    fn a_batch_is_cut_where_a_todo_comes_again() {
        let events = [
            audit(1, 1),
            audit(2, 2),
            audit(3, 1),
            audit(4, 3),
            audit(5, 2),
            audit(6, 2),
        ];
        let runs: Vec<Vec<i64>> = distinct_todo_runs(&events)
            .iter()
            .map(|run| run.iter().map(|(a, _)| a.id).collect())
            .collect();
        assert_eq!(runs, [vec![1, 2], vec![3, 4, 5], vec![6]]);
        assert!(distinct_todo_runs::<()>(&[]).is_empty());
    }

    #[test]
    fn kafka_topics_are_named_as_kafka_allows() {
        for good in ["todo-events", "a", "todo.events_v2", &"x".repeat(249)] {
            assert!(is_topic_name(good), "{good}");
        }
        for bad in ["", ".", "..", "todo events", "a/b", "ü", &"x".repeat(250)] {
            assert!(!is_topic_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_kafka_url_must_be_an_origin() {
        assert_eq!(
            kafka_origin("http://127.0.0.1:8082").unwrap(),
            "http://127.0.0.1:8082"
        );
        assert_eq!(
            kafka_origin(" https://proxy.example/ ").unwrap(),
            "https://proxy.example"
        );
        for bad in [
            "",
            "127.0.0.1:8082",
            "ftp://proxy",
            "http://proxy/kafka",
            "http://proxy?x=1",
            "http://user:pw@proxy",
        ] {
            assert!(kafka_origin(bad).is_err(), "{bad}");
        }
    }
}
