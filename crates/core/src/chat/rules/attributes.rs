//! What a todo's words say besides its title: priority ("urgent", "p2"),
//! tags ("#shopping"), recurrence ("every monday") and when it is due. The
//! words that said it are taken out; the rest is the title (or target).

use chrono::{DateTime, Utc};

use super::repeat::recurrence_at;
use super::when::{self, Clock, Piece, When};
use super::words::{key, phrase, skip, Word};
use crate::todos::{Priority, Recurrence, Tags};

/// Which kinds of phrases to look for.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Kinds {
    pub priority: bool,
    /// "high", "low", "normal" alone (after "make X" or "show"), not only
    /// "high priority": alone they would take too many titles apart.
    pub bare_levels: bool,
    pub tags: bool,
    pub recurrence: bool,
    pub when: bool,
    /// "to my list": a filler in "add milk to my list".
    pub list_reference: bool,
}

impl Kinds {
    /// Everything a new todo may say.
    pub const DRAFT: Kinds = Kinds {
        priority: true,
        bare_levels: false,
        tags: true,
        recurrence: true,
        when: true,
        list_reference: true,
    };
}

/// What the phrases said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Found {
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub recurrence: Option<Recurrence>,
    pub when: When,
    /// The day or part of day a recurrence implies ("every monday"); used
    /// only when no other day was named.
    pub repeat: Option<Piece>,
}

impl Found {
    pub fn due_at(&self, clock: &Clock) -> Option<DateTime<Utc>> {
        let mut when = self.when;
        if let Some(piece) = self.repeat {
            when.add(piece);
        }
        when.resolve(clock)
    }

    /// Whether anything besides the title was said.
    pub fn is_empty(&self) -> bool {
        self.priority.is_none()
            && self.tags.is_empty()
            && self.recurrence.is_none()
            && self.when.is_empty()
            && self.repeat.is_none()
    }
}

/// Finds the phrases of `kinds` among `words`, left to right; quoted words
/// are never read. Returns what they said and which words they took.
pub(super) fn extract(words: &[Word<'_>], kinds: Kinds, clock: &Clock) -> (Found, Vec<bool>) {
    let mut taken = vec![false; words.len()];
    let mut found = Found::default();
    // Where each run of unquoted words ends, so phrases never span quotes.
    let mut run_end = vec![words.len(); words.len()];
    let mut end = words.len();
    for (i, word) in words.iter().enumerate().rev() {
        if word.quoted {
            end = i;
        }
        if let Some(slot) = run_end.get_mut(i) {
            *slot = end;
        }
    }
    let mut i = 0;
    while i < words.len() {
        let end = run_end.get(i).copied().unwrap_or(i);
        let len = words
            .get(i..end)
            .filter(|run| !run.is_empty())
            .and_then(|run| take_at(run, kinds, clock, &mut found))
            .unwrap_or(0);
        if len == 0 {
            i += 1;
            continue;
        }
        for t in taken.iter_mut().skip(i).take(len) {
            *t = true;
        }
        i += len;
    }
    (found, taken)
}

/// The first phrase at the start of `run`, if any: how many words it took.
fn take_at(run: &[Word<'_>], kinds: Kinds, clock: &Clock, found: &mut Found) -> Option<usize> {
    let first = run.first()?;
    if kinds.tags {
        if let Some(tag) = tag_of(first) {
            if !found.tags.contains(&tag) {
                found.tags.push(tag);
            }
            return Some(1);
        }
    }
    if kinds.list_reference {
        if let Some(end) = list_reference(run, 0) {
            return Some(end);
        }
    }
    if kinds.recurrence && found.recurrence.is_none() {
        if let Some((end, recurrence, repeat)) = recurrence_at(run, clock) {
            found.recurrence = Some(recurrence);
            found.repeat = repeat;
            return Some(end);
        }
    }
    if kinds.priority {
        if let Some((end, priority)) = priority_at(run, kinds.bare_levels) {
            // Later priority words go too; the first one counts.
            found.priority.get_or_insert(priority);
            return Some(end);
        }
    }
    if kinds.when {
        if let Some((end, piece)) = when::piece_at(run, clock) {
            if found.when.add(piece) {
                return Some(end);
            }
        }
    }
    None
}

/// "#shopping" → "shopping": a `#` then letters, digits, `-` or `_`, with at
/// least one letter ("#1" is no tag), within the domain's limits.
pub(super) fn tag_of(word: &Word<'_>) -> Option<String> {
    let name = word.keyword()?.strip_prefix('#')?;
    let well_formed = name
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        && name.chars().any(char::is_alphabetic);
    well_formed.then(|| Tags::parse_one(name).ok()).flatten()
}

/// "to my list", "on the todo list", "to my tasks" (at `at`): the index
/// after it.
pub(super) fn list_reference(words: &[Word<'_>], at: usize) -> Option<usize> {
    phrase(
        words,
        at,
        &[
            &["to", "on", "onto", "in", "from", "off"],
            &["my", "the", "our", ""],
            &["todo", "to-do", "task", "shopping", "grocery", ""],
            &["list", "todos", "to-dos", "tasks", "todo-list"],
        ],
    )
}

/// The priority a single word names, at any position.
fn level_word(key: &str) -> Option<Priority> {
    match key {
        "urgent" | "urgently" | "asap" | "a.s.a.p" | "p1" | "top-priority" => {
            Some(Priority::Urgent)
        }
        "important" | "p2" | "high-priority" | "high-prio" => Some(Priority::High),
        "medium" | "p3" | "medium-priority" => Some(Priority::Medium),
        "p4" | "someday" | "low-priority" | "low-prio" => Some(Priority::Low),
        _ => None,
    }
}

/// A level that needs "priority" after it ("high priority") unless bare
/// levels are allowed.
fn scale_word(key: &str) -> Option<Priority> {
    match key {
        "top" | "highest" | "critical" => Some(Priority::Urgent),
        "high" => Some(Priority::High),
        "normal" | "medium" => Some(Priority::Medium),
        "low" | "lowest" => Some(Priority::Low),
        _ => None,
    }
}

/// A level after "priority": "priority high", "priority 1".
fn after_priority(key: &str) -> Option<Priority> {
    match key {
        "1" => Some(Priority::Urgent),
        "2" => Some(Priority::High),
        "3" => Some(Priority::Medium),
        "4" => Some(Priority::Low),
        other => level_word(other).or_else(|| scale_word(other)),
    }
}

/// A priority phrase at the start of `words`, with its connectors: "urgent",
/// "with high priority", "as a p2", "not urgent", "priority: low".
pub(super) fn priority_at(words: &[Word<'_>], bare_levels: bool) -> Option<(usize, Priority)> {
    let mut at = skip(words, 0, &["with", "as", "at", "is"]);
    at = skip(words, at, &["a", "an"]);
    let word = key(words, at)?;
    let is_priority = |i: usize| {
        words
            .get(i)
            .is_some_and(|w| w.is_any(&["priority", "prio"]))
    };
    if word == "not" {
        let end = phrase(words, at + 1, &[&["urgent", "important"]])?;
        return Some((end, Priority::Low));
    }
    if matches!(word, "priority" | "prio") {
        let level = key(words, at + 1).and_then(after_priority)?;
        return Some((at + 2, level));
    }
    if let Some(level) = level_word(word) {
        let end = if is_priority(at + 1) { at + 2 } else { at + 1 };
        return Some((end, level));
    }
    let level = scale_word(word)?;
    if is_priority(at + 1) {
        Some((at + 2, level))
    } else if bare_levels {
        Some((at + 1, level))
    } else {
        None
    }
}
