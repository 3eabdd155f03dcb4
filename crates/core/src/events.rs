//! Todo events as CloudEvents, and their relay to a broker (to come).

use crate::error::ApiError;
use crate::ports::Ctx;

/// Delivers the pending events to the configured sink; how many.
pub fn relay(_ctx: &Ctx) -> Result<u64, ApiError> {
    Ok(0)
}
