//! Words that may name one of the user's lists: "to Groceries", "in my Work
//! list", "show the Groceries list". Whether "to Groceries" names a list or
//! ends a title ("go to the bank") depends on the user's lists, which the
//! rule tier reads only when a message could name one (see [`Lists`]).

use super::words::{join_text, Word};
use crate::chat::intent::name_match;

/// What the rule tier knows of the user's lists while it reads a message.
#[derive(Debug, Clone, Copy)]
pub enum Lists<'a> {
    /// Not read: words name a list only when they say so ("my Groceries
    /// list"), and then whether it exists is told later.
    Unread,
    /// Any words where a list's name may stand are one: a message that
    /// reads otherwise than with [`Lists::Unread`] could name a list, and
    /// is read again with the user's lists.
    Any,
    /// The names of the user's lists.
    Named(&'a [String]),
}

/// Prepositions before a list's name.
pub(super) const INTO: &[&str] = &["to", "into", "in", "on", "onto"];

/// Words that say "list" without naming one ("my shopping list" names no
/// list of its own: it is the user's todo list).
const GENERIC: &[&str] = &[
    "todo", "to-do", "task", "tasks", "todos", "to-dos", "shopping", "grocery",
];

/// The name of the list `words` name, as typed: "[my|the|our] NAME
/// [list]". `list_follows`: the word after them is "list". A name said as a
/// list's ("my Work list") is one whatever the lists; other words only
/// when a list of the user's is called so ([`Lists`]).
pub(super) fn list_named(
    words: &[Word<'_>],
    list_follows: bool,
    lists: Lists<'_>,
) -> Option<String> {
    let mut core = words;
    let mut explicit = list_follows;
    if let [rest @ .., last] = core {
        if last.is("list") {
            core = rest;
            explicit = true;
        }
    }
    if let [first, rest @ ..] = core {
        if first.is_any(&["my", "the", "our"]) {
            core = rest;
        }
    }
    let name = join_text(core);
    let name = name.trim_end_matches(['!', '?']).trim_end().to_owned();
    if name.is_empty() || core.iter().all(|w| w.key.is_empty()) {
        return None;
    }
    let generic = core.len() == 1 && core.iter().all(|w| w.is_any(GENERIC));
    let known = match lists {
        Lists::Unread => false,
        Lists::Any => true,
        Lists::Named(names) => names.iter().any(|n| name_match(n, &name).is_some()),
    };
    (known || (explicit && !generic)).then_some(name)
}

/// Splits `words` at the last preposition after which the rest names a
/// list ("milk to Groceries"): the words before it, and the list's name.
pub(super) fn split_list<'w, 'm>(
    words: &'w [Word<'m>],
    prepositions: &[&str],
    lists: Lists<'_>,
) -> Option<(&'w [Word<'m>], String)> {
    (1..words.len()).rev().find_map(|at| {
        let before = words.get(..at)?;
        let word = words.get(at)?;
        if !word.is_any(prepositions) {
            return None;
        }
        let name = list_named(words.get(at + 1..)?, false, lists)?;
        Some((before, name))
    })
}

#[cfg(test)]
mod tests {
    use super::super::words::split;
    use super::*;

    #[test]
    fn a_list_is_named_as_one_or_by_a_name_the_user_has() {
        let names = ["Groceries".to_owned(), "Weekly Work".to_owned()];
        let named = |text: &str, lists| list_named(&split(text), false, lists);
        assert_eq!(
            named("my Groceries list", Lists::Unread).as_deref(),
            Some("Groceries")
        );
        assert_eq!(named("Groceries", Lists::Unread), None);
        assert_eq!(named("Groceries", Lists::Any).as_deref(), Some("Groceries"));
        assert_eq!(
            named("the groceries", Lists::Named(&names)).as_deref(),
            Some("groceries")
        );
        assert_eq!(named("work", Lists::Named(&names)).as_deref(), Some("work"));
        assert_eq!(named("the bank", Lists::Named(&names)), None);
        assert_eq!(named("my shopping list", Lists::Unread), None);
        assert_eq!(
            named("Holidays list", Lists::Named(&names)).as_deref(),
            Some("Holidays")
        );
        assert_eq!(named("list", Lists::Any), None);
        let words = split("go to bank to Groceries");
        let (before, name) = split_list(&words, INTO, Lists::Named(&names)).unwrap();
        assert_eq!(
            (join_text(before), name.as_str()),
            ("go to bank".into(), "Groceries")
        );
        assert!(split_list(&split("go to bank"), INTO, Lists::Named(&names)).is_none());
    }
}
