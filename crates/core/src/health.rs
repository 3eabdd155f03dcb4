//! Liveness and readiness.

use crate::api::{Request, Response};
use crate::error::ApiError;
use crate::ports::Ctx;

pub fn handle(_req: &Request, _ctx: &Ctx) -> Result<Response, ApiError> {
    Err(ApiError::not_implemented("health"))
}
