//! The routes a scheduler calls, under `/internal/`: the reminder sweep and
//! the events relay (the SpinKube shim has no cron trigger, so a Kubernetes
//! CronJob, or a loop on a laptop, calls them). They are off (404) until
//! the secret variable `internal_token` is set, and then answer only
//! `Authorization: Bearer <internal_token>`, compared in constant time.

use http::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::{allow, bearer_token, json, Request, Response};
use crate::error::ApiError;
use crate::ports::Ctx;
use crate::{events, reminders, waits};

/// Whether `path` is one of the scheduler's routes (Spin's route
/// `/internal/...`: `/internal` and everything under it).
pub fn owns(path: &str) -> bool {
    path.strip_prefix("/internal")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let token = ctx.var("internal_token");
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::not_found());
    }
    if !same_secret(bearer_token(req).unwrap_or_default(), token) {
        return Err(ApiError::unauthorized(
            "the internal routes need Authorization: Bearer <internal_token>",
        ));
    }
    match req.uri().path().trim_end_matches('/') {
        "/internal/reminders/run" => {
            allow(req, &[Method::POST])?;
            let fired = reminders::sweep(ctx)?;
            Ok(json(StatusCode::OK, &json!({ "fired": fired })))
        }
        "/internal/events/relay" => {
            allow(req, &[Method::POST])?;
            let query = events::RelayQuery::parse(req.uri().query())?;
            // One relay follows the queue at a time; the others take turns.
            let delivered = if query.wait.is_zero() {
                events::relay(ctx, &query)?
            } else {
                let longest = query.wait.max(events::MAX_RUN) + events::LEASE;
                waits::as_the_follower(ctx, longest, || events::relay(ctx, &query))?
            };
            Ok(json(StatusCode::OK, &json!({ "delivered": delivered })))
        }
        _ => Err(ApiError::not_found()),
    }
}

/// Whether `presented` is `expected`, in time that depends on neither:
/// the digests have one length, and their comparison is constant-time.
fn same_secret(presented: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(presented.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_internal_routes_are_internal_and_everything_under_them() {
        for path in ["/internal", "/internal/", "/internal/events/relay"] {
            assert!(owns(path), "{path}");
        }
        for path in ["/", "/internals", "/api/internal/x", "/internalx/y"] {
            assert!(!owns(path), "{path}");
        }
    }

    #[test]
    fn only_the_same_secret_matches() {
        assert!(same_secret("s3cret-token", "s3cret-token"));
        for other in ["", "s3cret-toke", "s3cret-token ", "S3cret-token"] {
            assert!(!same_secret(other, "s3cret-token"), "{other:?}");
        }
    }
}
