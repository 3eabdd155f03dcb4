//! [`HttpClient`] over `ureq`, behaving like outbound HTTP in a Spin
//! component: `allowed_outbound_hosts` is checked before anything is sent,
//! every status comes back as a response, redirects are not followed, no
//! headers are added, no proxy is used, and the whole exchange has one deadline.

use std::sync::Arc;
use std::time::Duration;

use todo_core::ports::{HttpClient, OutboundError};
use ureq::config::AutoHeaderValue;

use crate::outbound::AllowedHosts;

/// Largest response body read, like any client's sanity cap.
const MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;

pub struct NativeHttp {
    allowed: Arc<AllowedHosts>,
}

impl NativeHttp {
    pub fn new(allowed: Arc<AllowedHosts>) -> Self {
        Self { allowed }
    }

    fn check_allowed(&self, uri: &http::Uri) -> Result<(), OutboundError> {
        let allowed = match (uri.scheme_str(), uri.host()) {
            (Some(scheme), Some(host)) => self.allowed.allows(scheme, host, uri.port_u16()),
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(OutboundError::NotAllowed(uri.to_string()))
        }
    }
}

impl HttpClient for NativeHttp {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, OutboundError> {
        self.check_allowed(request.uri())?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(AutoHeaderValue::None)
            .accept(AutoHeaderValue::None)
            .accept_encoding(AutoHeaderValue::None)
            .proxy(None)
            .build()
            .into();
        let response = agent.run(request).map_err(outbound_error)?;
        let (parts, mut body) = response.into_parts();
        let body = body
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(outbound_error)?;
        Ok(http::Response::from_parts(parts, body))
    }
}

fn outbound_error(e: ureq::Error) -> OutboundError {
    match e {
        ureq::Error::Timeout(_) => OutboundError::Timeout,
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => OutboundError::Timeout,
        other => OutboundError::Failed(other.to_string()),
    }
}
