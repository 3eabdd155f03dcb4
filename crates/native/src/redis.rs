//! [`Redis`] over the `redis` crate, behaving like Spin's outbound Redis in a
//! component: `allowed_outbound_hosts` is checked (as `redis://host:port`)
//! before connecting, one connection serves one request, and an error names
//! no address (the URL may hold a password). Unlike Spin's interface it has
//! time limits, so a test against a server that hangs cannot hang; the core
//! counts on none (a late `XADD` is refused by its entry id instead).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use todo_core::events::sinks::SEND_TIMEOUT;
use todo_core::ports::{Appended, OutboundError, Redis};

use crate::outbound::AllowedHosts;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub struct NativeRedis {
    allowed: Arc<AllowedHosts>,
    connection: Mutex<Option<(String, redis::Connection)>>,
}

impl NativeRedis {
    pub fn new(allowed: Arc<AllowedHosts>) -> Self {
        Self {
            allowed,
            connection: Mutex::new(None),
        }
    }

    fn connect(&self, url: &str) -> Result<redis::Connection, OutboundError> {
        let parsed = url::Url::parse(url)
            .map_err(|_| OutboundError::Failed("the Redis URL is malformed".into()))?;
        let host = parsed.host_str().unwrap_or_default();
        let port = parsed.port().unwrap_or(6379);
        if !self.allowed.allows(parsed.scheme(), host, Some(port)) {
            return Err(OutboundError::NotAllowed(format!(
                "{}://{host}:{port}",
                parsed.scheme()
            )));
        }
        let failed = |e: redis::RedisError| OutboundError::Failed(format!("Redis: {e}"));
        let connection = redis::Client::open(url)
            .map_err(failed)?
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(failed)?;
        connection
            .set_read_timeout(Some(SEND_TIMEOUT))
            .and_then(|()| connection.set_write_timeout(Some(SEND_TIMEOUT)))
            .map_err(failed)?;
        Ok(connection)
    }
}

impl Redis for NativeRedis {
    fn xadd(
        &self,
        url: &str,
        stream: &str,
        max_len: u64,
        id: &str,
        field: &str,
        value: &[u8],
    ) -> Result<Appended, OutboundError> {
        let mut slot = self
            .connection
            .lock()
            .map_err(|_| OutboundError::Failed("Redis connection lock poisoned".into()))?;
        let mut connection = match slot.take() {
            Some((open_url, connection)) if open_url == url => connection,
            _ => self.connect(url)?,
        };
        let answer = redis::cmd("XADD")
            .arg(stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(max_len)
            .arg(id)
            .arg(field)
            .arg(value)
            .query::<String>(&mut connection);
        let appended = match answer {
            Ok(_) => Appended::Added,
            Err(e) if Appended::is_not_above_top(&e.to_string()) => Appended::NotAboveTop,
            Err(e) if e.is_timeout() => return Err(OutboundError::Timeout),
            Err(e) => return Err(OutboundError::Failed(format!("XADD failed: {e}"))),
        };
        // Kept for the next command only when this one went through.
        *slot = Some((url.to_owned(), connection));
        Ok(appended)
    }
}
