//! Lists: every todo belongs to one, and a list is shared with its members,
//! each with a role. [`store`] is the library API; [`domain`] parses what a
//! request says about a list; [`http`] wraps the store as `/api/lists` and
//! `/api/invitations`.

pub mod domain;
pub mod http;
pub mod store;

pub use domain::{Color, InvitedRole, List, ListName, Member, Role};
pub use http::handle;
pub use store::{ListChanges, ListError};
