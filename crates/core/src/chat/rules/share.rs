//! "share Groceries with anna@example.com (as a viewer)", "invite
//! anna@example.com to Groceries": giving another person access to a list.
//! The assistant only proposes it; the user's "yes" shares.

use super::words::{join_text, phrase, Word};
use crate::chat::intent::{Intent, SharedRole};

/// Words that ask for the viewer role; anything else is an editor.
const VIEWER: &[&str] = &[
    "viewer",
    "viewers",
    "read-only",
    "readonly",
    "view-only",
    "reader",
];

pub(super) fn parse(words: &[Word<'_>]) -> Option<Intent> {
    if let Some(end) = phrase(words, 0, &[&["share"]]) {
        let words = words.get(end..)?;
        let with = (1..words.len()).find(|&i| words.get(i).is_some_and(|w| w.is("with")));
        let Some(with) = with else {
            return Some(Intent::Unknown);
        };
        return Some(share(words.get(..with)?, words.get(with + 1..)?));
    }
    // "invite anna@example.com to Groceries"
    let end = phrase(words, 0, &[&["invite", "add"]])?;
    let words = words.get(end..)?;
    let email = words.first().filter(|w| w.key.contains('@'))?;
    let to = phrase(words, 1, &[&["to", "into", "onto"]])?;
    let (list, role) = list_and_role(words.get(to..)?);
    Some(intent(list, email.key.clone(), role))
}

/// "Groceries" and "anna@example.com as a viewer".
fn share(list: &[Word<'_>], person: &[Word<'_>]) -> Intent {
    let (email, role_words) = match person.split_first() {
        Some((first, rest)) => (first.key.clone(), rest),
        None => return Intent::Unknown,
    };
    let (_, role) = list_and_role(role_words);
    intent(list.to_vec(), email, role)
}

/// The words before "as ...", and the role "as a viewer" (or "read-only")
/// asks for.
fn list_and_role<'m>(words: &[Word<'m>]) -> (Vec<Word<'m>>, Option<SharedRole>) {
    let role_at = words
        .iter()
        .position(|w| w.is_any(&["as", "with"]) || w.is_any(VIEWER) || w.is("editor"));
    let (list, rest) = words.split_at(role_at.unwrap_or(words.len()));
    let role = if rest.iter().any(|w| w.is_any(VIEWER)) {
        Some(SharedRole::Viewer)
    } else if rest.iter().any(|w| w.is_any(&["editor", "editors"])) {
        Some(SharedRole::Editor)
    } else {
        None
    };
    (list.to_vec(), role)
}

fn intent(list: Vec<Word<'_>>, email: String, role: Option<SharedRole>) -> Intent {
    let mut list = list.as_slice();
    if let [first, rest @ ..] = list {
        if first.is_any(&["my", "the", "our"]) {
            list = rest;
        }
    }
    if let [rest @ .., last] = list {
        if last.is("list") && !rest.is_empty() {
            list = rest;
        }
    }
    let list = join_text(list);
    if list.is_empty() || email.is_empty() {
        return Intent::Unknown;
    }
    Intent::Share { list, email, role }
}
