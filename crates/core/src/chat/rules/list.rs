//! "show my tasks", "what's due today", "list #shopping", "find milk": which
//! todos to show. Each word narrows the filter or is a filler; what is left
//! is text to search for after "show"/"find", and makes a question ("what's
//! the weather?") no list request at all.

use super::attributes::{priority_at, tag_of};
use super::list_names::{list_named, Lists};
use super::when::{self, Clock};
use super::words::{join_text, phrase, Word};
use crate::chat::intent::{DueFilter, Filter, Intent, StatusFilter};
use crate::todos::Tags;

/// How the request began, which decides what its other words may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// "show ...", "list ...": other words are text to look for.
    Show,
    /// "find ...", "search for ...": everything else is text.
    Search,
    /// "what's due today?": every word must be understood.
    Question,
    /// "my tasks", "overdue todos": no verb, every word understood, and a
    /// word that names the list.
    Bare,
}

/// Words that name the list itself.
const LIST_NOUNS: &[&str] = &[
    "tasks",
    "todos",
    "to-dos",
    "items",
    "things",
    "list",
    "agenda",
    "reminders",
];

/// Words that narrow nothing. "task" alone does not name the list: "urgent
/// task" is a todo without a title, not a list of urgent ones.
const FILLERS: &[&str] = &[
    "my",
    "me",
    "the",
    "a",
    "an",
    "of",
    "to",
    "do",
    "does",
    "did",
    "i",
    "i've",
    "ive",
    "have",
    "has",
    "got",
    "get",
    "is",
    "are",
    "am",
    "was",
    "there",
    "any",
    "anything",
    "what",
    "what's",
    "whats",
    "what're",
    "which",
    "show",
    "list",
    "display",
    "view",
    "see",
    "please",
    "on",
    "in",
    "for",
    "that",
    "still",
    "currently",
    "now",
    "you",
    "can",
    "could",
    "need",
    "should",
    "how",
    "many",
    "much",
    "we",
    "our",
    "us",
    "so",
    "far",
    "just",
    "give",
    "tell",
    "whole",
    "entire",
    "full",
    "with",
    "and",
    "or",
    "ones",
    "one",
    "-",
    "task",
    "todo",
    "to-do",
    "item",
];

const DONE: &[&str] = &[
    "done",
    "completed",
    "complete",
    "finished",
    "closed",
    "ticked",
    "checked",
];

const OPEN: &[&str] = &[
    "open",
    "pending",
    "incomplete",
    "unfinished",
    "remaining",
    "outstanding",
    "active",
    "left",
    "undone",
    "uncompleted",
    "unchecked",
];

/// Words that put everything after them into the text filter.
const TEXT_INTROS: &[&str] = &[
    "about",
    "containing",
    "contains",
    "mentioning",
    "matching",
    "called",
    "named",
    "like",
    "regarding",
];

/// A list request whose every word is a list word: "my tasks", "overdue",
/// "my Groceries list".
pub(super) fn bare(words: &[Word<'_>], clock: &Clock, lists: Lists<'_>) -> Option<Intent> {
    filter(words, Start::Bare, clock, lists).map(|filter| Intent::List { filter })
}

/// A list request that starts with a verb or a question word.
pub(super) fn parse(words: &[Word<'_>], clock: &Clock, lists: Lists<'_>) -> Option<Intent> {
    let (start, rest) = if let Some(end) = phrase(words, 0, &[&["search", "look"], &["for", "up"]])
        .or_else(|| phrase(words, 0, &[&["find", "search", "lookup", "grep"]]))
    {
        (Start::Search, end)
    } else if let Some(end) = phrase(words, 0, &[&["show", "list", "display", "view", "see"]]) {
        (Start::Show, end)
    } else if phrase(
        words,
        0,
        &[&[
            "what", "what's", "whats", "what're", "which", "anything", "any", "do", "is", "are",
            "how", "have",
        ]],
    )
    .is_some()
    {
        (Start::Question, 0)
    } else {
        return None;
    };
    let filter = filter(words.get(rest..)?, start, clock, lists)?;
    Some(Intent::List { filter })
}

fn filter(words: &[Word<'_>], start: Start, clock: &Clock, lists: Lists<'_>) -> Option<Filter> {
    let mut filter = Filter::default();
    let mut all = false;
    let mut named_list = false;
    let mut other_day = false;
    let mut leftovers: Vec<&Word<'_>> = Vec::new();
    // Where the leftovers stand, to tell whether they name a list.
    let mut leftover_at: Vec<usize> = Vec::new();
    let mut i = 0;
    while let Some(word) = words.get(i) {
        let rest = words.get(i..).unwrap_or_default();
        if word.quoted {
            leftovers.push(word);
            leftover_at.push(i);
            i += 1;
            continue;
        }
        if word.is_any(TEXT_INTROS) && i + 1 < words.len() {
            filter.text = Some(join_text(words.iter().skip(i + 1))).filter(|t| !t.is_empty());
            break;
        }
        if let Some(tag) = tag_of(word) {
            filter.tag.get_or_insert(tag);
            i += 1;
            continue;
        }
        if let Some(end) = phrase(
            words,
            i,
            &[
                &["with", ""],
                &["tagged", "labeled", "labelled", "tag", "label"],
            ],
        ) {
            let tag = words
                .get(end)
                .and_then(|w| w.keyword())
                .and_then(|k| Tags::parse_one(k.trim_start_matches('#')).ok());
            if let Some(tag) = tag {
                filter.tag.get_or_insert(tag);
                i = end + 1;
                continue;
            }
        }
        if let Some((end, due)) = due_at(words, i) {
            filter.due.get_or_insert(due);
            i = end;
            continue;
        }
        if let Some(end) = phrase(words, i, &[&["not"], DONE]) {
            filter.status.get_or_insert(StatusFilter::Open);
            i = end;
            continue;
        }
        if word.is_any(DONE) {
            filter.status.get_or_insert(StatusFilter::Done);
        } else if word.is_any(OPEN) {
            filter.status.get_or_insert(StatusFilter::Open);
        } else if word.is_any(&["all", "everything", "every", "both"]) {
            all = true;
        } else if let Some((end, priority)) = priority_at(rest, true) {
            filter.priority.get_or_insert(priority);
            i += end.max(1);
            continue;
        } else if let Some((end, _)) = when::piece_at(rest, clock) {
            // A day the filter cannot express ("tomorrow"): not a list we
            // can show, rather than a text search for "tomorrow".
            other_day = true;
            i += end.max(1);
            continue;
        } else if word.is_any(LIST_NOUNS) || word.is("due") {
            named_list = true;
        } else if !word.is_any(FILLERS) && !word.key.is_empty() {
            leftovers.push(word);
            leftover_at.push(i);
        }
        i += 1;
    }
    // "show my Groceries list", "what's in Groceries": the leftovers, side
    // by side, name a list. A bare request names it as a list.
    if let (Some(&first), Some(&last)) = (leftover_at.first(), leftover_at.last()) {
        let side_by_side = last + 1 - first == leftover_at.len();
        let list_follows = words.get(last + 1).is_some_and(|w| w.is("list"));
        let lists = match start {
            Start::Bare => Lists::Unread,
            _ => lists,
        };
        let named = (side_by_side && start != Start::Search && filter.text.is_none())
            .then(|| list_named(words.get(first..=last)?, list_follows, lists))
            .flatten();
        if let Some(name) = named {
            filter.list = Some(name);
            leftovers.clear();
            named_list = true;
        }
    }
    if all && filter.status.is_none() {
        filter.status = Some(StatusFilter::All);
    }
    if other_day {
        return None;
    }
    let narrowed = filter != Filter::default();
    match start {
        Start::Bare => {
            (leftovers.is_empty() && (named_list || filter.due.is_some())).then_some(filter)
        }
        Start::Question => (leftovers.is_empty() && (named_list || narrowed)).then_some(filter),
        Start::Show | Start::Search => {
            if filter.text.is_none() && !leftovers.is_empty() {
                filter.text = Some(join_text(leftovers)).filter(|t| !t.is_empty());
            }
            Some(filter)
        }
    }
}

/// "today", "due today", "for today", "tonight", "this week", "overdue",
/// "past due", "late".
fn due_at(words: &[Word<'_>], at: usize) -> Option<(usize, DueFilter)> {
    let at = phrase(words, at, &[&["due", "for", ""]])?;
    if let Some(end) = phrase(words, at, &[&["today", "today's", "tonight"]]) {
        return Some((end, DueFilter::Today));
    }
    if let Some(end) = phrase(words, at, &[&["this", "the"], &["week", "week's"]]) {
        return Some((end, DueFilter::ThisWeek));
    }
    if let Some(end) = phrase(words, at, &[&["overdue", "late", "missed", "expired"]])
        .or_else(|| phrase(words, at, &[&["past"], &["due"]]))
    {
        return Some((end, DueFilter::Overdue));
    }
    None
}
