//! What a list is made of: its name, its colour and the roles of its
//! members, each parsed once from raw input.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::todos::domain::one_line;

/// Lists one user may own, the Inbox aside.
pub const MAX_OWNED_LISTS: i64 = 100;
/// Members of one list, its owner included.
pub const MAX_MEMBERS: i64 = 50;
/// Pending invitations of one list.
pub const MAX_PENDING_INVITATIONS: i64 = 50;
/// Invitations one user may send in 24 hours.
pub const MAX_INVITATIONS_PER_DAY: i64 = 100;

/// 1..=100 characters after trimming, on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListName(String);

impl ListName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, String> {
        one_line(raw, Self::MAX_CHARS).map(|name| Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `#rrggbb`, kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Color(String);

impl Color {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.strip_prefix('#') {
            Some(hex) if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Self(format!("#{}", hex.to_ascii_lowercase())))
            }
            _ => Err("must be a colour written #rrggbb".into()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a member may do in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads only.
    Viewer,
    /// Creates, changes, completes, moves and deletes the list's todos.
    Editor,
    /// An editor who also renames, recolours, deletes and shares the list.
    Owner,
}

impl Role {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "owner" => Ok(Role::Owner),
            "editor" => Ok(Role::Editor),
            "viewer" => Ok(Role::Viewer),
            _ => Err("must be owner, editor or viewer".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    pub fn can_write(self) -> bool {
        self >= Role::Editor
    }
}

/// The role an invitation offers: nobody is invited to own a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvitedRole(Role);

impl InvitedRole {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match Role::parse(raw) {
            Ok(Role::Owner) | Err(_) => Err("must be editor or viewer".into()),
            Ok(role) => Ok(Self(role)),
        }
    }

    pub fn role(self) -> Role {
        self.0
    }
}

/// A person as a list shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: Uuid,
    pub name: String,
}

/// A list as its member sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct List {
    pub id: Uuid,
    pub name: String,
    pub color: Option<String>,
    /// The caller's role.
    pub role: Role,
    pub is_inbox: bool,
    pub owner: Person,
    pub member_count: i64,
    /// The list's todos that are not completed.
    pub open_count: i64,
}

/// A member as the list's members see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub role: Role,
}

/// A pending invitation as its list's owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentInvitation {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    /// Always `pending`: an answered invitation is gone.
    pub status: String,
}

/// A pending invitation as its invitee sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedInvitation {
    pub id: Uuid,
    pub list: ListRef,
    pub inviter: Person,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRef {
    pub id: Uuid,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_name_is_one_trimmed_line_of_1_to_100_characters() {
        assert_eq!(
            ListName::parse("  Groceries ").unwrap().as_str(),
            "Groceries"
        );
        assert_eq!(
            ListName::parse(&"é".repeat(100))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            100
        );
        for bad in ["", "   ", "a\nb", "tab\there", &"x".repeat(101)] {
            assert!(ListName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_colour_is_hash_and_six_hex_digits_in_lower_case() {
        assert_eq!(Color::parse("#A0b1C2").unwrap().as_str(), "#a0b1c2");
        for bad in [
            "", "#", "a0b1c2", "#a0b1c", "#a0b1c2d", "#g0b1c2", "#a0b1c²", " #a0b1c2",
        ] {
            assert!(Color::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn roles_order_by_power_and_an_invitation_never_offers_ownership() {
        assert!(Role::Owner.can_write() && Role::Editor.can_write() && !Role::Viewer.can_write());
        for role in [Role::Owner, Role::Editor, Role::Viewer] {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(Role::parse("Owner").is_err());
        assert_eq!(
            InvitedRole::parse("viewer").map(InvitedRole::role),
            Ok(Role::Viewer)
        );
        assert!(InvitedRole::parse("owner").is_err());
        assert!(InvitedRole::parse("admin").is_err());
    }
}
