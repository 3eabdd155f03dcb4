//! The chat assistant. Implemented by the chat issue; until then its one
//! documented route, `POST /api/chat/messages`, answers 501 with the
//! standard error body, after the same method and token checks as every
//! other route.

use http::Method;

use crate::api::{allow, Request, Response};
use crate::auth::require_caller;
use crate::error::ApiError;
use crate::ports::Ctx;

pub fn handle(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    match req.uri().path().trim_end_matches('/') {
        "/api/chat/messages" => {
            allow(req, &[Method::POST])?;
            require_caller(req, ctx)?;
            Err(ApiError::not_implemented("the chat assistant"))
        }
        _ => Err(ApiError::not_found()),
    }
}
