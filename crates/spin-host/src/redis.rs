//! The [`Redis`] port over Spin's outbound Redis (`fermyon:spin/redis@2.0.0`,
//! `spin_sdk::redis`). Only the component that relays events builds one
//! ([`crate::serve_with_redis`]), so only its module imports the interface.
//!
//! Spin checks the address against `allowed_outbound_hosts`. The interface
//! takes no time limit: a Redis that accepts the connection and then never
//! answers holds the request (the relay's lease runs out meanwhile, and the
//! events are sent again by the next relay). Each entry has an explicit id
//! that grows with the events' order, so a send that lands late is refused
//! by Redis ([`Appended::NotAboveTop`]) instead of landing after newer events.

use std::cell::RefCell;

use spin_sdk::redis::{Connection, RedisParameter, RedisResult};
use todo_core::ports::{Appended, OutboundError, Redis};

/// A connection for one request, opened on first use for its URL.
#[derive(Default)]
pub struct SpinRedis {
    connection: RefCell<Option<(String, Connection)>>,
}

impl Redis for SpinRedis {
    fn xadd(
        &self,
        url: &str,
        stream: &str,
        max_len: u64,
        id: &str,
        field: &str,
        value: &[u8],
    ) -> Result<Appended, OutboundError> {
        let mut slot = self.connection.borrow_mut();
        let connection = match slot.take() {
            Some((open_url, connection)) if open_url == url => connection,
            // The error text names no address: the URL may hold a password.
            _ => Connection::open(url)
                .map_err(|e| OutboundError::Failed(format!("cannot open Redis: {e:?}")))?,
        };
        let max_len = i64::try_from(max_len).unwrap_or(i64::MAX);
        let arguments = [
            RedisParameter::Binary(stream.as_bytes().to_vec()),
            RedisParameter::Binary(b"MAXLEN".to_vec()),
            RedisParameter::Binary(b"~".to_vec()),
            RedisParameter::Int64(max_len),
            RedisParameter::Binary(id.as_bytes().to_vec()),
            RedisParameter::Binary(field.as_bytes().to_vec()),
            RedisParameter::Binary(value.to_vec()),
        ];
        let answer = match connection.execute("XADD", &arguments) {
            Ok(answer) => answer,
            // Spin passes the server's error on as text (`Error::Other`).
            Err(e) => {
                let text = format!("{e:?}");
                if Appended::is_not_above_top(&text) {
                    *slot = Some((url.to_owned(), connection));
                    return Ok(Appended::NotAboveTop);
                }
                // Any other failure drops the connection: the next command
                // opens anew.
                return Err(OutboundError::Failed(format!("XADD failed: {text}")));
            }
        };
        *slot = Some((url.to_owned(), connection));
        entry_id(answer).map(|_| Appended::Added)
    }
}

/// The entry id `XADD` answers (a bulk string, or a status on some hosts).
fn entry_id(answer: Vec<RedisResult>) -> Result<String, OutboundError> {
    match answer.into_iter().next() {
        Some(RedisResult::Binary(id)) => Ok(String::from_utf8_lossy(&id).into_owned()),
        Some(RedisResult::Status(id)) => Ok(id),
        other => Err(OutboundError::Failed(format!(
            "XADD answered no entry id: {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_refusing_a_late_entry_id_is_told_from_other_failures() {
        // Spin's host turns a server error into `Error::Other` with the
        // redis crate's text of it, which carries the server's message.
        let refused = spin_sdk::redis::Error::Other(
            "An error was signalled by the server - ResponseError: The ID specified in XADD \
             is equal or smaller than the target stream top item"
                .into(),
        );
        assert!(Appended::is_not_above_top(&format!("{refused:?}")));
        for other in [
            spin_sdk::redis::Error::Other("Connection refused (os error 111)".into()),
            spin_sdk::redis::Error::InvalidAddress,
            spin_sdk::redis::Error::TooManyConnections,
        ] {
            assert!(!Appended::is_not_above_top(&format!("{other:?}")));
        }
    }

    #[test]
    fn xadd_answers_the_new_entry_id() {
        assert_eq!(
            entry_id(vec![RedisResult::Binary(b"1700000000000-0".to_vec())]).unwrap(),
            "1700000000000-0"
        );
        assert_eq!(
            entry_id(vec![RedisResult::Status("1-1".into())]).unwrap(),
            "1-1"
        );
        assert!(entry_id(vec![RedisResult::Nil]).is_err());
        assert!(entry_id(vec![]).is_err());
    }
}
