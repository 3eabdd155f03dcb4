//! Commands about a todo that exists: complete, reopen, delete, and update
//! (rename, priority, due date, tags). The todo is named by the user's
//! words (the target), which the chat service resolves among their todos.

use super::attributes::{extract, list_reference, tag_of, Found, Kinds};
use super::list_names::{split_list, Lists};
use super::when::Clock;
use super::words::{join_text, phrase, skip, Word};
use crate::chat::intent::{Changes, Intent};
use crate::todos::{Priority, Tags};

const DONE: &[&str] = &["done", "complete", "completed", "finished"];

/// At most this many words after a target are read as its changes
/// ("to next friday at 5pm"); it bounds the search for where a target ends.
const MAX_TAIL: usize = 12;

pub(super) fn parse(words: &[Word<'_>], clock: &Clock, lists: Lists<'_>) -> Option<Intent> {
    reopen(words)
        .or_else(|| complete(words))
        .or_else(|| delete(words))
        .or_else(|| assign(words))
        .or_else(|| update(words, clock, lists))
}

/// The todo these words name, as typed: quotes, a trailing "from my list"
/// and sentence punctuation removed. `None` if nothing is left.
fn target(words: &[Word<'_>]) -> Option<String> {
    let end = (words.len().saturating_sub(4)..words.len())
        .find(|&at| list_reference(words, at) == Some(words.len()))
        .unwrap_or(words.len());
    let text = join_text(words.iter().take(end));
    let text = text.trim_end_matches(['!', '?']).trim_end();
    // "complete all", "delete everything": no todo is named, and acting on
    // every todo would need a confirmation this tier cannot ask for. ("Them
    // all" points back at the todos of the last answer, see
    // `intent::is_pronoun`.)
    let names_none = text.is_empty()
        || matches!(
            text.to_lowercase().as_str(),
            "all" | "everything" | "it all"
        );
    (!names_none).then(|| text.to_owned())
}

fn with_target(words: &[Word<'_>], intent: impl FnOnce(String) -> Intent) -> Intent {
    target(words).map_or(Intent::Unknown, intent)
}

fn rest<'w, 'm>(words: &'w [Word<'m>], from: usize) -> &'w [Word<'m>] {
    words.get(from..).unwrap_or_default()
}

fn between<'w, 'm>(words: &'w [Word<'m>], from: usize, to: usize) -> &'w [Word<'m>] {
    words.get(from..to).unwrap_or_default()
}

/// "mark done X", "complete X", "done X", "check off X", "mark X as done",
/// "X is done".
fn complete(words: &[Word<'_>]) -> Option<Intent> {
    let prefixes: &[&[&[&str]]] = &[
        &[&["mark", "set"], &["as", ""], DONE],
        &[&["check", "tick", "cross"], &["off"]],
        &[&["done", "finished"], &["with"]],
        &[
            &["i", "i've", "ive"],
            &["have", "just", ""],
            &["finished", "completed", "done", "did"],
        ],
        &[&[
            "complete",
            "completed",
            "finish",
            "finished",
            "done",
            "close",
        ]],
    ];
    for prefix in prefixes {
        if let Some(end) = phrase(words, 0, prefix) {
            let target_words = rest(words, end);
            return Some(with_target(target_words, |target| Intent::Complete {
                target,
            }));
        }
    }
    let n = words.len();
    let last = words.last()?;
    // "mark X (as) done", "check X off", "X is done"
    if words.first()?.is("mark") && last.is_any(DONE) && n >= 3 {
        let end = if words.get(n - 2)?.is("as") {
            n - 2
        } else {
            n - 1
        };
        return Some(with_target(between(words, 1, end), |target| {
            Intent::Complete { target }
        }));
    }
    if words.first()?.is_any(&["check", "tick", "cross"]) && n >= 3 {
        // "check milk off", "cross milk off my list"
        let off = (2..n)
            .rev()
            .find(|&i| words.get(i).is_some_and(|w| w.is("off")))?;
        if off + 1 == n || list_reference(words, off) == Some(n) {
            return Some(with_target(between(words, 1, off), |target| {
                Intent::Complete { target }
            }));
        }
    }
    if n >= 3 && last.is_any(DONE) && words.get(n - 2)?.is_any(&["is", "are", "was", "were"]) {
        return Some(with_target(between(words, 0, n - 2), |target| {
            Intent::Complete { target }
        }));
    }
    None
}

/// "reopen X", "uncheck X", "mark X as not done", "X is not done".
fn reopen(words: &[Word<'_>]) -> Option<Intent> {
    const UNDONE: &[&str] = &[
        "undone",
        "open",
        "incomplete",
        "unfinished",
        "uncompleted",
        "pending",
    ];
    let prefixes: &[&[&[&str]]] = &[
        &[&[
            "reopen",
            "re-open",
            "uncomplete",
            "unmark",
            "uncheck",
            "untick",
            "undone",
        ]],
        &[&["mark", "set"], &["as", ""], &["not"], DONE],
        &[&["mark", "set"], &["as", ""], UNDONE],
    ];
    for prefix in prefixes {
        if let Some(end) = phrase(words, 0, prefix) {
            let target_words = rest(words, end);
            return Some(with_target(target_words, |target| Intent::Reopen {
                target,
            }));
        }
    }
    let n = words.len();
    let last = words.last()?;
    // "mark X (as) not done", "mark X (as) undone"
    if words.first()?.is("mark") && n >= 3 {
        let state_at = if last.is_any(DONE) && words.get(n - 2)?.is("not") {
            n - 2
        } else if last.is_any(UNDONE) {
            n - 1
        } else {
            n
        };
        if state_at < n {
            let as_at = state_at - 1;
            let end = if words.get(as_at).is_some_and(|w| w.is("as")) {
                as_at
            } else {
                state_at
            };
            return Some(with_target(between(words, 1, end), |target| {
                Intent::Reopen { target }
            }));
        }
    }
    // "open X again"
    if words.first()?.is("open") && last.is("again") && n >= 3 {
        return Some(with_target(between(words, 1, n - 1), |target| {
            Intent::Reopen { target }
        }));
    }
    // "X is not done", "X isn't done"
    if n >= 3 && last.is_any(DONE) {
        let before = words.get(n - 2)?;
        if before.is_any(&["isn't", "isnt", "wasn't", "aren't"]) {
            return Some(with_target(between(words, 0, n - 2), |target| {
                Intent::Reopen { target }
            }));
        }
        if before.is("not") && n >= 4 && words.get(n - 3)?.is_any(&["is", "are", "was"]) {
            return Some(with_target(between(words, 0, n - 3), |target| {
                Intent::Reopen { target }
            }));
        }
    }
    None
}

/// "delete X", "remove X", "get rid of X"; "delete all X" for every match.
fn delete(words: &[Word<'_>]) -> Option<Intent> {
    let end = phrase(
        words,
        0,
        &[&[
            "delete", "remove", "erase", "cancel", "drop", "trash", "del", "rm", "discard",
            "scrap", "clear",
        ]],
    )
    .or_else(|| phrase(words, 0, &[&["get"], &["rid"], &["of"]]))
    .or_else(|| phrase(words, 0, &[&["throw"], &["away", "out"]]))?;
    let after_all = phrase(
        words,
        end,
        &[&["all", "every", "each"], &["of", ""], &["the", "my", ""]],
    );
    let all = after_all.is_some();
    let target = target(rest(words, after_all.unwrap_or(end)));
    Some(target.map_or(Intent::Unknown, |target| Intent::Delete { target, all }))
}

/// What an update verb may change, and how its tail reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    /// "rename X to Y".
    Rename,
    /// "make X urgent", "make X due friday".
    Make,
    /// "mark X as urgent", "flag X important".
    Mark,
    /// "set X to high", "set X due friday".
    Set,
    /// "change X to Y": a priority or date if Y is one, else a new title.
    Change,
    /// "move X to friday".
    Move,
    /// "tag X #home", "tag X with home".
    Tag,
    /// "set the priority of X to high".
    PriorityOf,
    /// "change the due date of X to friday".
    DueOf,
}

/// A target that may start with "the" or "my" ("move the dentist to
/// Work"): without it, as titles rarely hold it.
fn plain_target(words: &[Word<'_>]) -> Option<String> {
    let words = match words {
        [first, rest @ ..] if first.is_any(&["the", "my"]) && !rest.is_empty() => rest,
        _ => words,
    };
    target(words)
}

/// "assign X to Anna", "assign X to me", "unassign X".
fn assign(words: &[Word<'_>]) -> Option<Intent> {
    let with_assignee = |target: String, assignee: String| Intent::Update {
        target,
        changes: Changes {
            assignee: Some(assignee),
            ..Changes::default()
        },
    };
    if let Some(end) = phrase(words, 0, &[&["unassign", "deassign"]]) {
        let target = plain_target(rest(words, end));
        return Some(target.map_or(Intent::Unknown, |t| with_assignee(t, "nobody".into())));
    }
    let end = phrase(words, 0, &[&["assign", "reassign"]])?;
    let words = rest(words, end);
    let Some(to) = (1..words.len())
        .rev()
        .find(|&i| words.get(i).is_some_and(|w| w.is("to")))
    else {
        return Some(Intent::Unknown);
    };
    let person = join_text(rest(words, to + 1));
    match plain_target(between(words, 0, to)) {
        Some(target) if !person.is_empty() => Some(with_assignee(target, person)),
        _ => Some(Intent::Unknown),
    }
}

/// "rename X to Y", "make X urgent", "move X to friday", "move X to Work"
/// (a list), "tag X #home", "prioritize X".
fn update(words: &[Word<'_>], clock: &Clock, lists: Lists<'_>) -> Option<Intent> {
    if let Some(end) = phrase(words, 0, &[&["prioritize", "prioritise"]]) {
        return Some(fixed_priority(rest(words, end), Priority::High));
    }
    if let Some(end) = phrase(words, 0, &[&["deprioritize", "deprioritise"]]) {
        return Some(fixed_priority(rest(words, end), Priority::Low));
    }
    let verbs: &[(Verb, &[&[&str]])] = &[
        (
            Verb::PriorityOf,
            &[
                &["set", "change", "update", "make"],
                &["the", ""],
                &["priority", "prio"],
                &["of", "for", "on"],
            ],
        ),
        (
            Verb::DueOf,
            &[
                &["set", "change", "update", "move"],
                &["the", ""],
                &["due", "deadline"],
                &["date", "time", ""],
                &["of", "for", "on"],
            ],
        ),
        (Verb::Rename, &[&["rename", "retitle"]]),
        (Verb::Make, &[&["make"]]),
        (Verb::Mark, &[&["mark", "flag"]]),
        (Verb::Set, &[&["set"]]),
        (Verb::Change, &[&["change", "update", "edit", "modify"]]),
        (
            Verb::Move,
            &[
                &[
                    "move",
                    "reschedule",
                    "postpone",
                    "push",
                    "defer",
                    "delay",
                    "shift",
                    "bump",
                ],
                &["back", ""],
            ],
        ),
        (Verb::Tag, &[&["tag", "label"]]),
    ];
    let (verb, end) = verbs
        .iter()
        .find_map(|(verb, pattern)| phrase(words, 0, pattern).map(|end| (*verb, end)))?;
    let words = rest(words, end);
    if verb == Verb::Rename {
        return new_title(words);
    }
    if let Some(intent) = split_changes(words, verb, clock) {
        return Some(intent);
    }
    if verb == Verb::Move {
        let (before, list) = split_list(words, &["to", "into"], lists)?;
        return Some(Intent::Update {
            target: plain_target(before)?,
            changes: Changes {
                list: Some(list),
                ..Changes::default()
            },
        });
    }
    match verb {
        Verb::Change => new_title(words),
        Verb::Tag => tag_with_words(words),
        _ => None,
    }
}

fn fixed_priority(words: &[Word<'_>], priority: Priority) -> Intent {
    with_target(words, |target| Intent::Update {
        target,
        changes: Changes {
            priority: Some(priority),
            ..Changes::default()
        },
    })
}

/// The kinds of change a verb's tail may hold.
fn kinds_for(verb: Verb, tail: &[Word<'_>]) -> Kinds {
    let priority = Kinds {
        priority: true,
        bare_levels: true,
        ..Kinds::default()
    };
    let when = Kinds {
        when: true,
        ..Kinds::default()
    };
    match verb {
        // "make dinner tomorrow" is no update: a date needs "due".
        Verb::Make => Kinds {
            tags: true,
            when: tail.iter().any(|w| w.is("due")),
            ..priority
        },
        Verb::Mark => Kinds {
            tags: true,
            ..priority
        },
        Verb::Set | Verb::Change => Kinds {
            tags: true,
            when: true,
            ..priority
        },
        Verb::PriorityOf => priority,
        Verb::DueOf | Verb::Move => when,
        Verb::Tag => Kinds {
            tags: true,
            ..Kinds::default()
        },
        Verb::Rename => Kinds::default(),
    }
}

/// Words in a tail that carry no change: "to" in "set X to high".
const TAIL_FILLERS: &[&str] = &[
    "to", "as", "a", "an", "be", "and", "priority", "prio", "the", "it", "its", "with", "level",
    "due", "-", ":",
];

/// Splits `X <changes>` where the target ends: at the first word from which
/// the rest reads entirely as changes the verb allows (so "move go to bank
/// to friday" targets "go to bank").
fn split_changes(words: &[Word<'_>], verb: Verb, clock: &Clock) -> Option<Intent> {
    let n = words.len();
    for cut in n.saturating_sub(MAX_TAIL).max(1)..n {
        let tail = rest(words, cut);
        if tail.first().is_none_or(|w| w.quoted) {
            continue;
        }
        let (found, taken) = extract(tail, kinds_for(verb, tail), clock);
        if found.is_empty() {
            continue;
        }
        let all_read = tail
            .iter()
            .zip(&taken)
            .all(|(word, taken)| *taken || word.is_any(TAIL_FILLERS) || word.key.is_empty());
        if !all_read {
            continue;
        }
        let Some(target) = target(between(words, 0, cut)) else {
            continue;
        };
        let changes = changes_of(&found, clock)?;
        return Some(Intent::Update { target, changes });
    }
    None
}

fn changes_of(found: &Found, clock: &Clock) -> Option<Changes> {
    let due_at = found.due_at(clock);
    if !found.when.is_empty() && due_at.is_none() {
        return None;
    }
    let changes = Changes {
        title: None,
        priority: found.priority,
        due_at,
        // "tag X #home", "make X urgent #work": tags are added, never
        // taken away.
        add_tags: (!found.tags.is_empty()).then(|| found.tags.clone()),
        ..Changes::default()
    };
    (changes != Changes::default()).then_some(changes)
}

/// "X to Y" (or "X into Y", "X as Y"): rename X to Y, split at the first
/// unquoted "to", as the new title is usually the longer part.
fn new_title(words: &[Word<'_>]) -> Option<Intent> {
    let split = ["to", "into", "as"].iter().find_map(|connector| {
        (1..words.len()).find(|&i| words.get(i).is_some_and(|w| w.is(connector)))
    })?;
    let target = target(between(words, 0, split))?;
    let title = join_text(rest(words, split + 1));
    if title.is_empty() {
        return Some(Intent::Unknown);
    }
    Some(Intent::Update {
        target,
        changes: Changes {
            title: Some(title),
            ..Changes::default()
        },
    })
}

/// "tag X with home, work", "tag X as home".
fn tag_with_words(words: &[Word<'_>]) -> Option<Intent> {
    let split = (1..words.len())
        .rev()
        .find(|&i| words.get(i).is_some_and(|w| w.is_any(&["with", "as"])))?;
    let tags = tag_list(rest(words, split + 1))?;
    let target = target(between(words, 0, split))?;
    Some(Intent::Update {
        target,
        changes: Changes {
            add_tags: Some(tags),
            ..Changes::default()
        },
    })
}

/// Tags named by plain words ("home, work" or "#home"), `and` between them.
fn tag_list(words: &[Word<'_>]) -> Option<Vec<String>> {
    let mut tags: Vec<String> = Vec::new();
    for word in words.iter().filter(|w| !w.is_any(&["and", "&"])) {
        let tag = Tags::parse_one(word.key.trim_start_matches('#')).ok()?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    (!tags.is_empty()).then_some(tags)
}

/// "add #home to X", "add the tag home to X": read before "add X" creates a
/// todo. The todo keeps its other tags.
pub(super) fn add_tags(words: &[Word<'_>]) -> Option<Intent> {
    let (tags, at) = named_tags(words, &["add", "put"])?;
    let end = phrase(words, at, &[&["to", "on", "onto"]])?;
    let target = target(rest(words, end))?;
    Some(Intent::Update {
        target,
        changes: Changes {
            add_tags: Some(tags),
            ..Changes::default()
        },
    })
}

/// "remove #home from X", "take the tag home off X", "untag #home from X",
/// "untag X #home": read before "remove X" deletes a todo. The todo keeps
/// its other tags.
pub(super) fn remove_tags(words: &[Word<'_>]) -> Option<Intent> {
    let verbs = &["remove", "delete", "drop", "take", "untag", "unlabel"];
    let named = named_tags(words, verbs).and_then(|(tags, at)| {
        let end = phrase(words, at, &[&["from", "off"]])?;
        Some((tags, target(rest(words, end))?))
    });
    let (tags, target) = named.or_else(|| untag_trailing(words))?;
    Some(Intent::Update {
        target,
        changes: Changes {
            remove_tags: Some(tags),
            ..Changes::default()
        },
    })
}

/// "untag X #home #work": the hashtags at the end.
fn untag_trailing(words: &[Word<'_>]) -> Option<(Vec<String>, String)> {
    let start = phrase(words, 0, &[&["untag", "unlabel"]])?;
    let first_tag = (start..words.len())
        .rev()
        .take_while(|&i| words.get(i).and_then(tag_of).is_some())
        .last()?;
    let tags = tag_list(between(words, first_tag, words.len()))?;
    Some((tags, target(between(words, start, first_tag))?))
}

/// After one of `verbs` (and "the tag"), the tags named: hashtags joined by
/// "and", or plain words too when "tag" was said ("the tags home and
/// work"). The tags and the index after them; `None` when none is named.
fn named_tags(words: &[Word<'_>], verbs: &[&str]) -> Option<(Vec<String>, usize)> {
    let mut at = phrase(
        words,
        0,
        &[
            verbs,
            &["the", "a", ""],
            &["tags", "tag", "label", "labels", ""],
        ],
    )?;
    let plain = at > 0
        && words
            .get(at - 1)
            .is_some_and(|w| w.is_any(&["tags", "tag", "label", "labels"]));
    let mut tags: Vec<String> = Vec::new();
    while let Some(word) = words.get(at) {
        let tag = match tag_of(word) {
            Some(tag) => tag,
            None if plain && !word.is_any(&["to", "on", "onto", "from", "off"]) => {
                match word.keyword().and_then(|key| Tags::parse_one(key).ok()) {
                    Some(tag) => tag,
                    None => break,
                }
            }
            None => break,
        };
        if !tags.contains(&tag) {
            tags.push(tag);
        }
        at = skip(words, at + 1, &["and", "&"]);
    }
    (!tags.is_empty()).then_some((tags, at))
}
