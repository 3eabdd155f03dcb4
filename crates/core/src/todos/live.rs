//! Live updates without WebSockets, which Spin does not have: a long-poll
//! on the delta sync. `GET /api/todos?since=<token>&wait=<seconds>` answers
//! as soon as there is something after the token, or, when nothing comes,
//! once the wait is over.

use std::time::Duration;

use super::query::{SyncToken, Wait};
use super::store::{self, ChangeFeed, TodoError};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ports::Ctx;
use crate::waits::{self, Taken};

/// How often a waiting long-poll looks for changes: a change shows up at
/// most this late (plus one request), well inside the 2 seconds the web UI
/// promises, for 2 statements a second per waiting client.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// The changes after `since`, as soon as there are any, else none once
/// `wait` has passed. Each check is the delta sync's one statement, which
/// checks the caller too: a token revoked meanwhile is a 401 at the next
/// check. Between checks the request holds no database connection
/// ([`Ctx::pause`]).
///
/// A request that would wait first takes one of its user's
/// [`waits::MAX_PER_USER`] slots (one more statement, and one to give it
/// back at the end), or answers 429 `too_many_waits` when they are all
/// held; one whose first check finds changes answers them at once, with
/// neither.
///
/// The deadline is kept on `ctx.clock`, whose sleeps the HTTP tests fast
/// forward. Since that is the wall clock under Spin, the number of checks
/// is bounded too, so a clock set back cannot stretch a wait.
pub fn changes_within(
    ctx: &Ctx,
    caller: &Caller,
    raw_since: &str,
    limit: i64,
    wait: Wait,
) -> Result<ChangeFeed, ApiError> {
    let deadline = ctx.clock.now() + wait.duration();
    let since = store::open_token(ctx, caller, raw_since, "since")?;
    let feed = store::changes(ctx, caller, &since, limit)?;
    // The same positions seal to the same token: one the client did not
    // send is news.
    if has_news(&feed, raw_since) {
        return Ok(feed);
    }
    let lease = match waits::acquire(ctx, caller, wait.duration())? {
        None => return Err(TodoError::Unauthorized.into()),
        Some(Taken::Full { retry_after }) => return Err(waits::too_many_long_polls(retry_after)),
        Some(Taken::Lease(lease)) => lease,
    };
    let answer = follow(
        ctx,
        caller,
        (&since, raw_since, limit),
        wait,
        deadline,
        feed,
    );
    waits::release(ctx, lease);
    Ok(answer?)
}

/// The checks of a wait, after the first one found nothing.
fn follow(
    ctx: &Ctx,
    caller: &Caller,
    (since, unchanged, limit): (&SyncToken, &str, i64),
    wait: Wait,
    deadline: chrono::DateTime<chrono::Utc>,
    mut feed: ChangeFeed,
) -> Result<ChangeFeed, TodoError> {
    for _ in 0..max_pauses(wait) {
        if has_news(&feed, unchanged) {
            break;
        }
        let left = (deadline - ctx.clock.now()).to_std().unwrap_or_default();
        if left.is_zero() {
            break;
        }
        ctx.pause(left.min(CHECK_INTERVAL));
        feed = store::changes(ctx, caller, since, limit)?;
    }
    Ok(feed)
}

/// Pauses of a whole wait: one per interval, the last one maybe shorter.
fn max_pauses(wait: Wait) -> u128 {
    wait.duration()
        .as_millis()
        .div_ceil(CHECK_INTERVAL.as_millis())
}

/// Whether a feed tells the client anything it does not know: changes, a
/// list it gained or lost, or a token other than the one it sent (a
/// position inside a change that is now behind it, say).
fn has_news(feed: &ChangeFeed, unchanged: &str) -> bool {
    !feed.items.is_empty()
        || !feed.deleted.is_empty()
        || !feed.reminders.is_empty()
        || !feed.lists.is_empty()
        || !feed.removed_lists.is_empty()
        || feed.sync_token != unchanged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_is_cut_into_intervals_and_the_last_may_be_shorter() {
        let pauses = |s: &str| Wait::parse(s).map(max_pauses);
        assert_eq!(pauses("1"), Ok(2));
        assert_eq!(pauses("2"), Ok(4));
        assert_eq!(pauses("25"), Ok(50));
    }

    #[test]
    fn only_changes_or_a_new_token_are_news() {
        let feed = |token: &str, deleted: Vec<uuid::Uuid>| ChangeFeed {
            items: Vec::new(),
            deleted,
            reminders: Vec::new(),
            lists: Vec::new(),
            removed_lists: Vec::new(),
            sync_token: token.to_owned(),
            has_more: false,
        };
        assert!(!has_news(&feed("a", vec![]), "a"));
        assert!(has_news(&feed("b", vec![]), "a"));
        assert!(has_news(&feed("a", vec![uuid::Uuid::nil()]), "a"));
    }
}
