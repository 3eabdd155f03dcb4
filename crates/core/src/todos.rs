//! Todo management. Implemented by the todos issue; until then every route
//! answers 501 with the standard error body.

use crate::api::{Request, Response};
use crate::error::ApiError;
use crate::ports::Ctx;

pub fn handle(_req: &Request, _ctx: &Ctx) -> Result<Response, ApiError> {
    Err(ApiError::not_implemented("the todos API"))
}
