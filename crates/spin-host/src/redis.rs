//! The [`Redis`] port over Spin's outbound Redis (`fermyon:spin/redis@2.0.0`,
//! `spin_sdk::redis`). Only the component that relays events builds one
//! ([`crate::serve_with_redis`]), so only its module imports the interface.
//!
//! Spin checks the address against `allowed_outbound_hosts`. The interface
//! takes no time limit: a Redis that accepts the connection and then never
//! answers holds the request (the relay's lease runs out meanwhile, and the
//! events are sent again by the next relay).

use std::cell::RefCell;

use spin_sdk::redis::{Connection, RedisParameter, RedisResult};
use todo_core::ports::{OutboundError, Redis};

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
        field: &str,
        value: &[u8],
    ) -> Result<String, OutboundError> {
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
            RedisParameter::Binary(b"*".to_vec()),
            RedisParameter::Binary(field.as_bytes().to_vec()),
            RedisParameter::Binary(value.to_vec()),
        ];
        // A failed command drops the connection: the next one opens anew.
        let answer = connection
            .execute("XADD", &arguments)
            .map_err(|e| OutboundError::Failed(format!("XADD failed: {e:?}")))?;
        *slot = Some((url.to_owned(), connection));
        entry_id(answer)
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
