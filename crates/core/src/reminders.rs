//! Reminders of due todos (to come).

use crate::error::ApiError;
use crate::ports::Ctx;

/// Fires the reminders that are due; how many.
pub fn sweep(_ctx: &Ctx) -> Result<u64, ApiError> {
    Ok(0)
}
