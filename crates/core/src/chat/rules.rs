//! The rule tier of the chat assistant: reads the commands users already
//! know ("task buy milk tomorrow", "show my tasks", "mark done milk") into an
//! [`Intent`] without any model. It must never fail: whatever it does not
//! understand is [`Intent::Unknown`], which the chat service answers with
//! [`unknown_text`].
//!
//! Matching works on whole words (module `words`), case- and
//! whitespace-insensitively; titles and targets keep the words as typed.
//! Dates are read in the user's time zone (module `when` documents the
//! choices: 09:00 for a day without a time, 20:00 for "tonight", "friday"
//! on a Friday is today).

mod attributes;
mod edit;
mod list;
mod list_names;
mod repeat;
mod share;
mod when;
mod words;

use chrono::DateTime;
use chrono_tz::Tz;

use crate::chat::intent::{Draft, Intent};
use crate::todos::Priority;
use attributes::{extract, priority_at, Kinds};
pub use list_names::Lists;
use when::Clock;
use words::{join_text, phrase, skip, Word};

/// Longer messages are refused unread. The API takes at most 2000
/// characters, which is at most this many bytes of UTF-8.
const MAX_MESSAGE_BYTES: usize = 4 * 2000;

/// What `message`, said at the user's local time `now`, asks for, with the
/// user's lists unread (see [`Lists::Unread`]).
///
/// Never panics, and takes time linear in the message; one longer than the
/// API accepts is `Unknown` unread.
pub fn parse(message: &str, now: DateTime<Tz>) -> Intent {
    parse_knowing(message, now, Lists::Unread)
}

/// Whether the user's lists may change what `message` means ("add milk to
/// Groceries" or a title "go to the bank"): then it is read again with
/// their names ([`parse_knowing`]).
pub fn may_name_a_list(message: &str, now: DateTime<Tz>) -> bool {
    parse_knowing(message, now, Lists::Any) != parse(message, now)
}

/// What `message` asks for, knowing what `lists` says of the user's lists.
pub fn parse_knowing(message: &str, now: DateTime<Tz>, lists: Lists<'_>) -> Intent {
    if message.len() > MAX_MESSAGE_BYTES {
        return Intent::Unknown;
    }
    let all = words::split(message);
    let (words, greeted) = without_courtesies(&all);
    if words.is_empty() {
        return if greeted {
            Intent::Help
        } else {
            Intent::Unknown
        };
    }
    if is_help(words) {
        return Intent::Help;
    }
    let clock = Clock::new(now);
    share::parse(words)
        .or_else(|| list::bare(words, &clock, lists))
        .or_else(|| edit::add_tags(words))
        .or_else(|| edit::remove_tags(words))
        .or_else(|| create(words, &clock, lists))
        .or_else(|| list::parse(words, &clock, lists))
        .or_else(|| edit::parse(words, &clock, lists))
        .unwrap_or(Intent::Unknown)
}

/// What the assistant can do, with example commands.
pub fn help_text() -> &'static str {
    "I keep your todo list. Try for example:\n\
     - task buy milk tomorrow at 5pm #shopping\n\
     - urgent task call the bank\n\
     - task water the plants every monday and task pay rent end of month\n\
     - show my tasks / what's due today / show overdue / list #shopping / find milk\n\
     - mark done buy milk / reopen buy milk\n\
     - rename buy milk to buy oat milk / make call the bank urgent / make it urgent\n\
     - move call the bank to friday / tag call the bank #finance / remove #finance from call the bank\n\
     - delete buy milk / delete all done\n\
     - add milk to Groceries / show my Groceries list / move call the bank to Work / assign milk to Anna\n\
     - share Groceries with anna@example.com / share Groceries with anna@example.com as viewer\n\
     Priorities: urgent, asap, important, high priority, low priority, p1 to p4.\n\
     Dates: today, tonight, tomorrow, friday, next monday, in 3 days, on 2026-12-01, \
     dec 3, end of month, at 5pm, at 17:30. Repeats: every day, every week, every monday, \
     every month, every other monday, every weekday, every 3 days, the 15th of every month, \
     every last friday, every year on 3 march."
}

/// The answer to a message the assistant did not understand.
pub fn unknown_text() -> &'static str {
    "Sorry, I did not understand that. You can say for example:\n\
     - task buy milk tomorrow\n\
     - show my tasks\n\
     - what's due today\n\
     - mark done buy milk\n\
     - delete buy milk\n\
     Say \"help\" to see everything I can do."
}

/// The message without "please", "can you", "thanks" around it, and whether
/// it greeted ("hi" alone is answered with the help).
fn without_courtesies<'w, 'm>(words: &'w [Word<'m>]) -> (&'w [Word<'m>], bool) {
    let mut words = words;
    let mut greeted = false;
    loop {
        let lead = phrase(words, 0, &[&["hi", "hello", "hey", "hiya", "yo"]]);
        greeted |= lead.is_some();
        let lead = lead
            .or_else(|| {
                phrase(
                    words,
                    0,
                    &[&["please", "pls", "plz", "kindly", "ok", "okay"]],
                )
            })
            .or_else(|| {
                phrase(
                    words,
                    0,
                    &[
                        &["can", "could", "would", "will"],
                        &["you"],
                        &["please", ""],
                    ],
                )
            })
            .or_else(|| {
                phrase(
                    words,
                    0,
                    &[
                        &["i"],
                        &["want", "would", "wanna"],
                        &["like", ""],
                        &["to", ""],
                    ],
                )
            })
            .or_else(|| phrase(words, 0, &[&["i'd"], &["like"], &["to"]]))
            .or_else(|| phrase(words, 0, &[&["let's", "lets"]]));
        if let Some(end) = lead {
            words = words.get(end..).unwrap_or_default();
            continue;
        }
        let n = words.len();
        let trail = if words
            .last()
            .is_some_and(|w| w.is_any(&["please", "pls", "plz", "thanks", "thx", "ty", "cheers"]))
        {
            1
        } else if n >= 2 && phrase(words, n - 2, &[&["thank"], &["you"]]) == Some(n) {
            2
        } else {
            0
        };
        if trail == 0 {
            return (words, greeted);
        }
        words = words.get(..n - trail).unwrap_or_default();
    }
}

fn is_help(words: &[Word<'_>]) -> bool {
    if words.iter().all(|w| w.key.is_empty()) {
        return words.iter().any(|w| w.text.contains('?'));
    }
    let help_phrases: &[&[&[&str]]] = &[
        &[&[
            "help",
            "/help",
            "commands",
            "command",
            "menu",
            "usage",
            "instructions",
            "/start",
            "examples",
        ]],
        &[
            &["what"],
            &["can", "do"],
            &["you", "i"],
            &["do", "say", "ask", "type"],
        ],
        &[&["how"], &["does"], &["this", "it"], &["work"]],
        &[&["how"], &["do", "can"], &["i"]],
        &[&["how"], &["to"]],
        &[
            &["what"],
            &["are"],
            &["the", "your"],
            &["commands", "options"],
        ],
        &[&["show", "list"], &["help", "commands", "examples"]],
        &[&["who", "what"], &["are"], &["you"]],
    ];
    help_phrases
        .iter()
        .any(|pattern| phrase(words, 0, pattern).is_some())
}

/// Nouns that announce a new todo: "task buy milk".
const TODO_NOUNS: &[&str] = &["task", "todo", "to-do", "reminder", "item"];

/// "task X", "urgent task X", "add X", "remind me to X", and several at
/// once: "task buy milk and task call mom". `None` when the message does not
/// start like a new todo; `Unknown` when one of its todos has no title left.
/// The last todo's words may end with the list they all go to ("add milk
/// to Groceries").
fn create(words: &[Word<'_>], clock: &Clock, lists: Lists<'_>) -> Option<Intent> {
    let (mut start, mut priority) = todo_start(words, 0, false)?;
    let mut drafts = Vec::new();
    let mut at = start + 1;
    while at < words.len() {
        let next = words
            .get(at)
            .filter(|w| w.break_before || after_conjunction(words, at).is_some())
            .and_then(|_| todo_start(words, at, true));
        let Some((next_start, next_priority)) = next else {
            at += 1;
            continue;
        };
        let end = after_conjunction(words, at).unwrap_or(at);
        drafts.push(
            draft(
                words.get(start..end).unwrap_or_default(),
                priority,
                clock,
                None,
            )
            .map(|(draft, _)| draft),
        );
        start = next_start;
        priority = next_priority;
        at = next_start + 1;
    }
    let last = draft(
        words.get(start..).unwrap_or_default(),
        priority,
        clock,
        Some(lists),
    );
    let list = last.as_ref().and_then(|(_, list)| list.clone());
    drafts.push(last.map(|(draft, _)| draft));
    let todos: Option<Vec<Draft>> = drafts.into_iter().collect();
    Some(todos.map_or(Intent::Unknown, |todos| Intent::Create { todos, list }))
}

/// Where the "and" (or "and then", "also", "plus") before `at` begins.
fn after_conjunction(words: &[Word<'_>], at: usize) -> Option<usize> {
    let before = at.checked_sub(1)?;
    let word = words.get(before)?;
    if word.is_any(&["then", "also"]) {
        let earlier = before
            .checked_sub(1)
            .filter(|&i| words.get(i).is_some_and(|w| w.is("and")));
        return Some(earlier.unwrap_or(before));
    }
    word.is_any(&["and", "plus", "&"]).then_some(before)
}

/// Where a new todo's description starts, if one is announced at `at`, and
/// the priority the announcement gave it ("urgent task"). After the first
/// todo only an announcement with a noun counts (`and task ...`, `and add a
/// task ...`), so "task read and add notes" stays one todo.
fn todo_start(words: &[Word<'_>], at: usize, later: bool) -> Option<(usize, Option<Priority>)> {
    // "add X", "create a new task X", "add an urgent task: X"
    if let Some(verb_end) = phrase(words, at, &[&["add", "create", "new", "insert"]]) {
        let announced = noun_after(words, verb_end);
        let new_alone = words.get(at).is_some_and(|w| w.is("new"));
        return match announced {
            Some(found) => Some(found),
            None if later || new_alone => None,
            None => Some((verb_end, None)),
        };
    }
    // "task X", "urgent task X", "a high priority todo: X"
    if let Some(found) = noun_after(words, at) {
        return Some(found);
    }
    // "remind me to X", "don't forget to X"
    let phrases: &[&[&[&str]]] = &[
        &[&["remind"], &["me"], &["to", "about", "that", ""]],
        &[&["remember"], &["to"]],
        &[
            &["don't", "dont", "do"],
            &["not", ""],
            &["forget"],
            &["to", "about", ""],
        ],
        &[&["i"], &["need", "have", "must", "should"], &["to", ""]],
    ];
    phrases
        .iter()
        .find_map(|pattern| phrase(words, at, pattern))
        .map(|end| (end, None))
}

/// `[a] [new] [urgent] task [to|:|-]` at `at`: where the description starts
/// and the priority said on the way.
fn noun_after(words: &[Word<'_>], at: usize) -> Option<(usize, Option<Priority>)> {
    let mut i = phrase(
        words,
        at,
        &[&["a", "an", "another", "the", ""], &["new", ""]],
    )?;
    let mut priority = None;
    if let Some((len, said)) = words.get(i..).and_then(|rest| priority_at(rest, false)) {
        i += len;
        priority = Some(said);
    }
    let noun_end = phrase(words, i, &[&["new", ""], TODO_NOUNS])?;
    let end = skip(
        words,
        noun_end,
        &["to", "-", "–", "called", "named", "that"],
    );
    Some((end, priority))
}

/// A new todo from its description: priority, date, tags and recurrence
/// taken out, the rest its title; with `lists`, the list its title ends
/// with ("milk to Groceries") taken out too. `None` if no title is left.
fn draft(
    words: &[Word<'_>],
    priority: Option<Priority>,
    clock: &Clock,
    lists: Option<Lists<'_>>,
) -> Option<(Draft, Option<String>)> {
    let (found, taken) = extract(words, Kinds::DRAFT, clock);
    let left: Vec<Word<'_>> = words
        .iter()
        .zip(&taken)
        .filter(|(_, taken)| !**taken)
        .map(|(word, _)| word.clone())
        .collect();
    let split = lists.and_then(|lists| list_names::split_list(&left, list_names::INTO, lists));
    let (title, list) = match split {
        Some((before, list)) => (join_text(before), Some(list)),
        None => (join_text(&left), None),
    };
    if title.is_empty() {
        return None;
    }
    let draft = Draft {
        title,
        priority: priority.or(found.priority),
        due_at: found.due_at(clock),
        tags: found.tags,
        recurrence: found.recurrence,
    };
    Some((draft, list))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Berlin;

    use super::*;
    use crate::chat::intent::{Changes, DueFilter, Filter, StatusFilter};
    use crate::todos::rrule::RRule;
    use crate::todos::Recurrence;

    fn local(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Tz> {
        tz.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap()
    }

    /// Wednesday 2026-11-25, 10:00 in Berlin (09:00 UTC).
    fn wednesday_in_berlin() -> DateTime<Tz> {
        local(Berlin, 2026, 11, 25, 10, 0)
    }

    fn todo(title: &str) -> Draft {
        Draft {
            title: title.into(),
            ..Draft::default()
        }
    }

    trait DraftBuilder {
        fn priority(self, p: Priority) -> Draft;
        fn due(self, utc: &str) -> Draft;
        fn tags(self, tags: &[&str]) -> Draft;
        fn every(self, r: Recurrence) -> Draft;
    }

    impl DraftBuilder for Draft {
        fn priority(self, p: Priority) -> Draft {
            Draft {
                priority: Some(p),
                ..self
            }
        }
        fn due(self, utc: &str) -> Draft {
            Draft {
                due_at: Some(utc.parse().unwrap()),
                ..self
            }
        }
        fn tags(self, tags: &[&str]) -> Draft {
            Draft {
                tags: tags.iter().map(|t| t.to_string()).collect(),
                ..self
            }
        }
        fn every(self, r: Recurrence) -> Draft {
            Draft {
                recurrence: Some(r),
                ..self
            }
        }
    }

    /// A custom recurrence, written without its `RRULE:`.
    fn rule(text: &str) -> Recurrence {
        Recurrence::Rule(RRule::parse(text).unwrap())
    }

    fn create(todos: Vec<Draft>) -> Intent {
        Intent::Create { todos, list: None }
    }

    fn one(todo: Draft) -> Intent {
        create(vec![todo])
    }

    fn list(filter: Filter) -> Intent {
        Intent::List { filter }
    }

    fn complete(target: &str) -> Intent {
        Intent::Complete {
            target: target.into(),
        }
    }

    fn reopen(target: &str) -> Intent {
        Intent::Reopen {
            target: target.into(),
        }
    }

    fn delete(target: &str, all: bool) -> Intent {
        Intent::Delete {
            target: target.into(),
            all,
        }
    }

    fn update(target: &str, changes: Changes) -> Intent {
        Intent::Update {
            target: target.into(),
            changes,
        }
    }

    fn priority_to(p: Priority) -> Changes {
        Changes {
            priority: Some(p),
            ..Changes::default()
        }
    }

    fn due_to(utc: &str) -> Changes {
        Changes {
            due_at: Some(utc.parse().unwrap()),
            ..Changes::default()
        }
    }

    fn add_tags(tags: &[&str]) -> Changes {
        Changes {
            add_tags: Some(tags.iter().map(|t| t.to_string()).collect()),
            ..Changes::default()
        }
    }

    fn remove_tags(tags: &[&str]) -> Changes {
        Changes {
            remove_tags: Some(tags.iter().map(|t| t.to_string()).collect()),
            ..Changes::default()
        }
    }

    fn check(now: DateTime<Tz>, cases: &[(&str, Intent)]) {
        let mut wrong = Vec::new();
        for (message, want) in cases {
            let got = parse(message, now);
            if &got != want {
                wrong.push(format!("{message:?}\n   got  {got:?}\n   want {want:?}"));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} wrong:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }

    // In Berlin on 2026-11-25 (UTC+1): a date alone is 09:00 local = 08:00Z.
    const THU: &str = "2026-11-26T08:00:00Z";
    const FRI: &str = "2026-11-27T08:00:00Z";
    const NEXT_MON: &str = "2026-11-30T08:00:00Z";

    fn phrasings() -> Vec<(&'static str, Intent)> {
        use Priority::*;
        vec![
            // New todos: the commands, case and whitespace.
            ("task buy milk", one(todo("buy milk"))),
            (
                "Task Call the Bank tomorrow",
                one(todo("Call the Bank").due(THU)),
            ),
            ("TASK   buy\tmilk  ", one(todo("buy milk"))),
            ("  task buy milk\n", one(todo("buy milk"))),
            (
                "urgent task call mom",
                one(todo("call mom").priority(Urgent)),
            ),
            (
                "Urgent Task: call mom",
                one(todo("call mom").priority(Urgent)),
            ),
            ("add buy milk", one(todo("buy milk"))),
            ("add a task to buy milk", one(todo("buy milk"))),
            ("ADD   Buy   Milk  ", one(todo("Buy Milk"))),
            ("new task: buy milk", one(todo("buy milk"))),
            ("todo: buy milk", one(todo("buy milk"))),
            (
                "add an important task call the bank",
                one(todo("call the bank").priority(High)),
            ),
            ("add milk to my list", one(todo("milk"))),
            (
                "add milk and eggs to my shopping list",
                one(todo("milk and eggs")),
            ),
            ("please add buy milk, thanks", one(todo("buy milk"))),
            (
                "remind me to call mom at 5pm",
                one(todo("call mom").due("2026-11-25T16:00:00Z")),
            ),
            // Priorities leave the title.
            ("task call mom asap", one(todo("call mom").priority(Urgent))),
            (
                "task file taxes, important",
                one(todo("file taxes").priority(High)),
            ),
            (
                "task clean garage high priority",
                one(todo("clean garage").priority(High)),
            ),
            (
                "task clean garage with low priority",
                one(todo("clean garage").priority(Low)),
            ),
            (
                "task p1 fix the server",
                one(todo("fix the server").priority(Urgent)),
            ),
            ("task review PR P2", one(todo("review PR").priority(High))),
            (
                "task water plants p3",
                one(todo("water plants").priority(Medium)),
            ),
            (
                "task tidy desk medium",
                one(todo("tidy desk").priority(Medium)),
            ),
            (
                "task read a book p4",
                one(todo("read a book").priority(Low)),
            ),
            (
                "task learn piano someday",
                one(todo("learn piano").priority(Low)),
            ),
            (
                "task reply to Anna, not urgent",
                one(todo("reply to Anna").priority(Low)),
            ),
            // Tags leave the title, lowercased.
            (
                "task buy milk #shopping",
                one(todo("buy milk").tags(&["shopping"])),
            ),
            (
                "task buy #Groceries milk #food #groceries",
                one(todo("buy milk").tags(&["groceries", "food"])),
            ),
            ("task call #1 customer", one(todo("call #1 customer"))),
            // Dates and times.
            (
                "task submit report by friday",
                one(todo("submit report").due(FRI)),
            ),
            (
                "task call dentist on Friday",
                one(todo("call dentist").due(FRI)),
            ),
            (
                "task call dentist friday",
                one(todo("call dentist").due(FRI)),
            ),
            (
                "task call dentist by fri",
                one(todo("call dentist").due(FRI)),
            ),
            ("task enjoy the sun", one(todo("enjoy the sun"))),
            (
                "task call dentist next monday",
                one(todo("call dentist").due(NEXT_MON)),
            ),
            (
                "task pay rent in 3 days",
                one(todo("pay rent").due("2026-11-28T08:00:00Z")),
            ),
            (
                "task renew passport in 2 weeks",
                one(todo("renew passport").due("2026-12-09T08:00:00Z")),
            ),
            (
                "task call mom tomorrow at 5pm",
                one(todo("call mom").due("2026-11-26T16:00:00Z")),
            ),
            (
                "task call mom at 5 pm tomorrow",
                one(todo("call mom").due("2026-11-26T16:00:00Z")),
            ),
            (
                "task standup at 17:30",
                one(todo("standup").due("2026-11-25T16:30:00Z")),
            ),
            (
                "task standup at 9am",
                one(todo("standup").due("2026-11-26T08:00:00Z")),
            ),
            (
                "task dentist on 2026-12-01",
                one(todo("dentist").due("2026-12-01T08:00:00Z")),
            ),
            (
                "task buy gift dec 3",
                one(todo("buy gift").due("2026-12-03T08:00:00Z")),
            ),
            (
                "task buy gift December 3rd",
                one(todo("buy gift").due("2026-12-03T08:00:00Z")),
            ),
            (
                "task pay rent end of month",
                one(todo("pay rent").due("2026-11-30T08:00:00Z")),
            ),
            (
                "task pay rent by the end of the month",
                one(todo("pay rent").due("2026-11-30T08:00:00Z")),
            ),
            (
                "task watch a movie tonight",
                one(todo("watch a movie").due("2026-11-25T19:00:00Z")),
            ),
            // 09:00 has passed today: due at the end of the day.
            (
                "task buy bread today",
                one(todo("buy bread").due("2026-11-25T22:59:00Z")),
            ),
            (
                "task book flights for tomorrow",
                one(todo("book flights").due(THU)),
            ),
            (
                "task report due on dec 3",
                one(todo("report").due("2026-12-03T08:00:00Z")),
            ),
            ("task buy milk, tomorrow", one(todo("buy milk").due(THU))),
            (
                "task meeting monday moved from friday",
                one(todo("meeting moved from friday").due(NEXT_MON)),
            ),
            // Recurrence.
            (
                "task water plants every day",
                one(todo("water plants").every(Recurrence::Daily)),
            ),
            (
                "task water plants daily",
                one(todo("water plants").every(Recurrence::Daily)),
            ),
            (
                "task team sync every week",
                one(todo("team sync").every(Recurrence::Weekly)),
            ),
            (
                "task gym every monday",
                one(todo("gym").every(Recurrence::Weekly).due(NEXT_MON)),
            ),
            (
                "task gym every monday at 7am",
                one(todo("gym")
                    .every(Recurrence::Weekly)
                    .due("2026-11-30T06:00:00Z")),
            ),
            (
                "task pay rent every month",
                one(todo("pay rent").every(Recurrence::Monthly)),
            ),
            // Custom recurrence: rules, the day they name the first due date.
            (
                "add water the ferns every other Monday",
                one(todo("water the ferns")
                    .every(rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"))
                    .due(NEXT_MON)),
            ),
            (
                "add every other monday water the ferns #garden",
                one(todo("water the ferns")
                    .every(rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"))
                    .due(NEXT_MON)
                    .tags(&["garden"])),
            ),
            (
                "task team sync every other week",
                one(todo("team sync").every(rule("FREQ=WEEKLY;INTERVAL=2"))),
            ),
            (
                "task water plants every other day",
                one(todo("water plants").every(rule("FREQ=DAILY;INTERVAL=2"))),
            ),
            // Today is a weekday, and 09:00 has passed: the end of today.
            (
                "task standup every weekday",
                one(todo("standup")
                    .every(rule("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"))
                    .due("2026-11-25T22:59:00Z")),
            ),
            (
                "task standup every work day at 5pm",
                one(todo("standup")
                    .every(rule("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"))
                    .due("2026-11-25T16:00:00Z")),
            ),
            (
                "task standup every workday",
                one(todo("standup")
                    .every(rule("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"))
                    .due("2026-11-25T22:59:00Z")),
            ),
            (
                "task standup on weekdays",
                one(todo("standup")
                    .every(rule("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"))
                    .due("2026-11-25T22:59:00Z")),
            ),
            (
                "task stretch every 3 days",
                one(todo("stretch").every(rule("FREQ=DAILY;INTERVAL=3"))),
            ),
            (
                "task backup every 2 weeks",
                one(todo("backup").every(rule("FREQ=WEEKLY;INTERVAL=2"))),
            ),
            (
                "task dentist check-up every 6 months",
                one(todo("dentist check-up").every(rule("FREQ=MONTHLY;INTERVAL=6"))),
            ),
            (
                "task renew passport every two years",
                one(todo("renew passport").every(rule("FREQ=YEARLY;INTERVAL=2"))),
            ),
            (
                "task defrost fridge every twelve weeks",
                one(todo("defrost fridge").every(rule("FREQ=WEEKLY;INTERVAL=12"))),
            ),
            (
                "task water plants every 1 day",
                one(todo("water plants").every(Recurrence::Daily)),
            ),
            (
                "task pay rent on the 15th of every month",
                one(todo("pay rent")
                    .every(rule("FREQ=MONTHLY;BYMONTHDAY=15"))
                    .due("2026-12-15T08:00:00Z")),
            ),
            (
                "task pay rent every month on the 15th",
                one(todo("pay rent")
                    .every(rule("FREQ=MONTHLY;BYMONTHDAY=15"))
                    .due("2026-12-15T08:00:00Z")),
            ),
            (
                "task pay rent the 15th of each month",
                one(todo("pay rent")
                    .every(rule("FREQ=MONTHLY;BYMONTHDAY=15"))
                    .due("2026-12-15T08:00:00Z")),
            ),
            (
                "task pay rent every 15th",
                one(todo("pay rent")
                    .every(rule("FREQ=MONTHLY;BYMONTHDAY=15"))
                    .due("2026-12-15T08:00:00Z")),
            ),
            (
                "task pay rent every 15th at 5pm",
                one(todo("pay rent")
                    .every(rule("FREQ=MONTHLY;BYMONTHDAY=15"))
                    .due("2026-12-15T16:00:00Z")),
            ),
            (
                "task send invoices on the last day of every month",
                one(todo("send invoices")
                    .every(rule("FREQ=MONTHLY;BYMONTHDAY=-1"))
                    .due("2026-11-30T08:00:00Z")),
            ),
            (
                "task send invoices every last day of the month",
                one(todo("send invoices")
                    .every(rule("FREQ=MONTHLY;BYMONTHDAY=-1"))
                    .due("2026-11-30T08:00:00Z")),
            ),
            (
                "task review budget every last Friday",
                one(todo("review budget")
                    .every(rule("FREQ=MONTHLY;BYDAY=-1FR"))
                    .due(FRI)),
            ),
            (
                "task review budget the last Friday of every month",
                one(todo("review budget")
                    .every(rule("FREQ=MONTHLY;BYDAY=-1FR"))
                    .due(FRI)),
            ),
            (
                "task book club every first Monday",
                one(todo("book club")
                    .every(rule("FREQ=MONTHLY;BYDAY=1MO"))
                    .due("2026-12-07T08:00:00Z")),
            ),
            (
                "task council meeting every second Tuesday of the month",
                one(todo("council meeting")
                    .every(rule("FREQ=MONTHLY;BYDAY=2TU"))
                    .due("2026-12-08T08:00:00Z")),
            ),
            (
                "task send card every year on 3 March",
                one(todo("send card")
                    .every(rule("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=3"))
                    .due("2027-03-03T08:00:00Z")),
            ),
            (
                "task send card every 3 March",
                one(todo("send card")
                    .every(rule("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=3"))
                    .due("2027-03-03T08:00:00Z")),
            ),
            (
                "task send card yearly on March 3",
                one(todo("send card")
                    .every(rule("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=3"))
                    .due("2027-03-03T08:00:00Z")),
            ),
            (
                "task send card every March 3rd",
                one(todo("send card")
                    .every(rule("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=3"))
                    .due("2027-03-03T08:00:00Z")),
            ),
            (
                "task send card annually on 3 March",
                one(todo("send card")
                    .every(rule("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=3"))
                    .due("2027-03-03T08:00:00Z")),
            ),
            (
                "task check smoke alarms yearly",
                one(todo("check smoke alarms").every(rule("FREQ=YEARLY"))),
            ),
            (
                "task check smoke alarms annually",
                one(todo("check smoke alarms").every(rule("FREQ=YEARLY"))),
            ),
            (
                "task check smoke alarms every year",
                one(todo("check smoke alarms").every(rule("FREQ=YEARLY"))),
            ),
            (
                "task pay rent every other month on the 1st",
                one(todo("pay rent")
                    .every(rule("FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=1"))
                    .due("2026-12-01T08:00:00Z")),
            ),
            (
                "task book club every first day of the month",
                one(todo("book club")
                    .every(rule("FREQ=MONTHLY;BYMONTHDAY=1"))
                    .due("2026-12-01T08:00:00Z")),
            ),
            (
                "task review budget every month on the last friday",
                one(todo("review budget")
                    .every(rule("FREQ=MONTHLY;BYDAY=-1FR"))
                    .due(FRI)),
            ),
            (
                "task council meeting every 2nd tue",
                one(todo("council meeting")
                    .every(rule("FREQ=MONTHLY;BYDAY=2TU"))
                    .due("2026-12-08T08:00:00Z")),
            ),
            (
                "task mow the lawn repeat every second week",
                one(todo("mow the lawn").every(rule("FREQ=WEEKLY;INTERVAL=2"))),
            ),
            (
                "task call grandma each year on the 3rd of March, urgent",
                one(todo("call grandma")
                    .every(rule("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=3"))
                    .due("2027-03-03T08:00:00Z")
                    .priority(Urgent)),
            ),
            // A day named besides the rule is the first due date.
            (
                "task gym every other monday from next week at 7am",
                one(todo("gym")
                    .every(rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"))
                    .due("2026-11-30T06:00:00Z")),
            ),
            (
                "task stretch every 3 days starting tomorrow",
                one(todo("stretch")
                    .every(rule("FREQ=DAILY;INTERVAL=3"))
                    .due(THU)),
            ),
            // Words that only look like a rule stay in the title.
            (
                "add call every other person",
                one(todo("call every other person")),
            ),
            (
                "add read every 15th page",
                one(todo("read every 15th page")),
            ),
            ("add enjoy every second", one(todo("enjoy every second"))),
            ("add help each other", one(todo("help each other"))),
            ("add eat every last bit", one(todo("eat every last bit"))),
            ("add rest every 5 miles", one(todo("rest every 5 miles"))),
            ("add sing every 3 songs", one(todo("sing every 3 songs"))),
            (
                "add stretch every 1000 days",
                one(todo("stretch every 1000 days")),
            ),
            (
                "add plan the 15th of the month",
                one(todo("plan the 15th of the month")),
            ),
            ("add paint the 1st floor", one(todo("paint the 1st floor"))),
            (
                "add read chapter every 15",
                one(todo("read chapter every 15")),
            ),
            (
                "add stretch every 15 minutes",
                one(todo("stretch every 15 minutes")),
            ),
            // Several todos in one message.
            (
                "task buy milk and task call mom",
                create(vec![todo("buy milk"), todo("call mom")]),
            ),
            (
                "task buy milk tomorrow and urgent task call mom",
                create(vec![
                    todo("buy milk").due(THU),
                    todo("call mom").priority(Urgent),
                ]),
            ),
            (
                "add milk, task call mom friday; todo pay bills #home",
                create(vec![
                    todo("milk"),
                    todo("call mom").due(FRI),
                    todo("pay bills").tags(&["home"]),
                ]),
            ),
            (
                "task buy milk\ntask call mom",
                create(vec![todo("buy milk"), todo("call mom")]),
            ),
            (
                "task buy milk and then remind me to call mom",
                create(vec![todo("buy milk"), todo("call mom")]),
            ),
            ("task read and add notes", one(todo("read and add notes"))),
            // Quotes keep a title as typed.
            (
                r#"task "meet at 5pm with Bob" friday"#,
                one(todo("meet at 5pm with Bob").due(FRI)),
            ),
            // Nothing left for a title.
            ("task", Intent::Unknown),
            ("urgent task #work tomorrow", Intent::Unknown),
            ("task buy milk and task", Intent::Unknown),
            // Lists.
            ("show my tasks", list(Filter::default())),
            ("list", list(Filter::default())),
            ("Show   My   Tasks", list(Filter::default())),
            ("my todos", list(Filter::default())),
            (
                "what's due today",
                list(Filter {
                    due: Some(DueFilter::Today),
                    ..Filter::default()
                }),
            ),
            (
                "What’s due today?",
                list(Filter {
                    due: Some(DueFilter::Today),
                    ..Filter::default()
                }),
            ),
            (
                "what is due this week",
                list(Filter {
                    due: Some(DueFilter::ThisWeek),
                    ..Filter::default()
                }),
            ),
            (
                "show overdue tasks",
                list(Filter {
                    due: Some(DueFilter::Overdue),
                    ..Filter::default()
                }),
            ),
            (
                "overdue",
                list(Filter {
                    due: Some(DueFilter::Overdue),
                    ..Filter::default()
                }),
            ),
            (
                "show done tasks",
                list(Filter {
                    status: Some(StatusFilter::Done),
                    ..Filter::default()
                }),
            ),
            (
                "list open todos",
                list(Filter {
                    status: Some(StatusFilter::Open),
                    ..Filter::default()
                }),
            ),
            (
                "what's left",
                list(Filter {
                    status: Some(StatusFilter::Open),
                    ..Filter::default()
                }),
            ),
            (
                "show all tasks",
                list(Filter {
                    status: Some(StatusFilter::All),
                    ..Filter::default()
                }),
            ),
            (
                "show urgent tasks",
                list(Filter {
                    priority: Some(Urgent),
                    ..Filter::default()
                }),
            ),
            (
                "show high priority tasks",
                list(Filter {
                    priority: Some(High),
                    ..Filter::default()
                }),
            ),
            (
                "list #Shopping",
                list(Filter {
                    tag: Some("shopping".into()),
                    ..Filter::default()
                }),
            ),
            (
                "show tasks tagged home",
                list(Filter {
                    tag: Some("home".into()),
                    ..Filter::default()
                }),
            ),
            (
                "find milk",
                list(Filter {
                    text: Some("milk".into()),
                    ..Filter::default()
                }),
            ),
            (
                "search for Dentist appointment",
                list(Filter {
                    text: Some("Dentist appointment".into()),
                    ..Filter::default()
                }),
            ),
            (
                "show tasks about taxes",
                list(Filter {
                    text: Some("taxes".into()),
                    ..Filter::default()
                }),
            ),
            (
                "show open urgent tasks due this week tagged work",
                list(Filter {
                    status: Some(StatusFilter::Open),
                    priority: Some(Urgent),
                    due: Some(DueFilter::ThisWeek),
                    tag: Some("work".into()),
                    text: None,
                    list: None,
                }),
            ),
            ("task list", list(Filter::default())),
            ("show tasks for tomorrow", Intent::Unknown),
            // Complete.
            ("mark done groceries", complete("groceries")),
            ("MARK DONE Groceries.", complete("Groceries")),
            ("complete Buy milk", complete("Buy milk")),
            ("done buy milk", complete("buy milk")),
            ("mark buy milk as done", complete("buy milk")),
            ("mark buy milk complete", complete("buy milk")),
            ("finished with the report", complete("the report")),
            ("check off milk", complete("milk")),
            ("cross milk off my list", complete("milk")),
            ("buy milk is done", complete("buy milk")),
            (r#"complete "buy milk""#, complete("buy milk")),
            ("done", Intent::Unknown),
            // Reopen.
            ("reopen groceries", reopen("groceries")),
            ("mark groceries as not done", reopen("groceries")),
            ("uncheck buy milk", reopen("buy milk")),
            ("buy milk isn't done", reopen("buy milk")),
            // Delete: "all" only when said.
            ("delete groceries", delete("groceries", false)),
            ("remove buy milk", delete("buy milk", false)),
            ("remove milk from my list", delete("milk", false)),
            ("delete all done", delete("done", true)),
            ("delete all groceries", delete("groceries", true)),
            ("Delete all of the Groceries", delete("Groceries", true)),
            ("delete all", Intent::Unknown),
            ("complete all", Intent::Unknown),
            ("delete everything", Intent::Unknown),
            // Update.
            (
                "rename buy milk to buy oat milk",
                update(
                    "buy milk",
                    Changes {
                        title: Some("buy oat milk".into()),
                        ..Changes::default()
                    },
                ),
            ),
            (
                r#"rename "go to bank" to "Go to the Bank""#,
                update(
                    "go to bank",
                    Changes {
                        title: Some("Go to the Bank".into()),
                        ..Changes::default()
                    },
                ),
            ),
            (
                "change buy milk to buy oat milk",
                update(
                    "buy milk",
                    Changes {
                        title: Some("buy oat milk".into()),
                        ..Changes::default()
                    },
                ),
            ),
            (
                "make call mom urgent",
                update("call mom", priority_to(Urgent)),
            ),
            (
                "Make Taxes high priority",
                update("Taxes", priority_to(High)),
            ),
            (
                "make report low priority",
                update("report", priority_to(Low)),
            ),
            ("make report p2", update("report", priority_to(High))),
            (
                "mark taxes as important",
                update("taxes", priority_to(High)),
            ),
            ("set taxes to high", update("taxes", priority_to(High))),
            (
                "set the priority of taxes to low",
                update("taxes", priority_to(Low)),
            ),
            ("prioritize taxes", update("taxes", priority_to(High))),
            ("move dentist to friday", update("dentist", due_to(FRI))),
            ("change dentist to friday", update("dentist", due_to(FRI))),
            (
                "move go to bank to next monday at 9am",
                update("go to bank", due_to(NEXT_MON)),
            ),
            (
                "reschedule dentist for tomorrow at 5pm",
                update("dentist", due_to("2026-11-26T16:00:00Z")),
            ),
            (
                "make report urgent and due friday",
                update(
                    "report",
                    Changes {
                        priority: Some(Urgent),
                        due_at: Some(FRI.parse().unwrap()),
                        ..Changes::default()
                    },
                ),
            ),
            // Tags named in an update are added; the todo keeps the others.
            (
                "tag groceries #home",
                update("groceries", add_tags(&["home"])),
            ),
            (
                "tag buy milk with home and errands",
                update("buy milk", add_tags(&["home", "errands"])),
            ),
            (
                "add #home to groceries",
                update("groceries", add_tags(&["home"])),
            ),
            (
                "add the tags home and errands to buy milk",
                update("buy milk", add_tags(&["home", "errands"])),
            ),
            (
                "make groceries urgent #home",
                update(
                    "groceries",
                    Changes {
                        priority: Some(Priority::Urgent),
                        ..add_tags(&["home"])
                    },
                ),
            ),
            // Taking tags off.
            (
                "remove #home from groceries",
                update("groceries", remove_tags(&["home"])),
            ),
            (
                "take the tag home off buy milk",
                update("buy milk", remove_tags(&["home"])),
            ),
            (
                "delete tags home and errands from buy milk",
                update("buy milk", remove_tags(&["home", "errands"])),
            ),
            (
                "untag #home from groceries",
                update("groceries", remove_tags(&["home"])),
            ),
            (
                "untag buy milk #home #errands",
                update("buy milk", remove_tags(&["home", "errands"])),
            ),
            // Without a hashtag or "tag", "remove" deletes a todo.
            (
                "remove home insurance from my list",
                Intent::Delete {
                    target: "home insurance".into(),
                    all: false,
                },
            ),
            ("untag #home", Intent::Unknown),
            ("make dinner tomorrow", Intent::Unknown),
            ("move dentist", Intent::Unknown),
            // Help.
            ("help", Intent::Help),
            ("HELP!", Intent::Help),
            ("what can you do?", Intent::Help),
            ("how do I add a task?", Intent::Help),
            ("hi", Intent::Help),
            ("?", Intent::Help),
            // Anything else.
            ("", Intent::Unknown),
            ("   \n\t ", Intent::Unknown),
            ("buy milk", Intent::Unknown),
            ("what's the weather like", Intent::Unknown),
            ("🙂 🙂", Intent::Unknown),
            ("asdf qwerty", Intent::Unknown),
            ("\"", Intent::Unknown),
        ]
    }

    #[test]
    fn the_known_commands_read_as_their_intents() {
        let cases = phrasings();
        assert!(cases.len() >= 80, "only {} cases", cases.len());
        check(wednesday_in_berlin(), &cases);
    }

    /// Pronouns stay pronouns: the assistant resolves them to the todos of
    /// the last answer, by id and version, and never searches titles for
    /// them ("them" is in "mathematics", "it" in "submit report").
    #[test]
    fn pronouns_are_targets_that_only_point_back() {
        let cases = [
            ("ok, delete them", delete("them", false)),
            ("delete them", delete("them", false)),
            ("Delete those.", delete("those", false)),
            ("remove these", delete("these", false)),
            ("delete it", delete("it", false)),
            ("delete that one", delete("that one", false)),
            ("delete all of them", delete("them", true)),
            ("delete them all", delete("them all", false)),
            ("please delete those tasks", delete("those tasks", false)),
            ("mark it done", complete("it")),
            ("complete them", complete("them")),
            ("reopen that", reopen("that")),
            (
                "make it urgent",
                update("it", priority_to(Priority::Urgent)),
            ),
            ("move this one to friday", update("this one", due_to(FRI))),
        ];
        check(wednesday_in_berlin(), &cases);
        for (message, intent) in &cases {
            let target = intent.target().unwrap_or_default();
            assert!(
                crate::chat::intent::is_pronoun(target),
                "{message}: {target:?}"
            );
        }
        // Words that merely hold a pronoun are words.
        for target in [
            "submit it",
            "mathematics",
            "them apples",
            "this week's report",
            "all",
            "",
        ] {
            assert!(!crate::chat::intent::is_pronoun(target), "{target:?}");
        }
        // "Delete it all" names everything, which this tier never does.
        check(wednesday_in_berlin(), &[("delete it all", Intent::Unknown)]);
    }

    fn in_list(todos: Vec<Draft>, list: &str) -> Intent {
        Intent::Create {
            todos,
            list: Some(list.into()),
        }
    }

    fn changes(list: Option<&str>, assignee: Option<&str>) -> Changes {
        Changes {
            list: list.map(Into::into),
            assignee: assignee.map(Into::into),
            ..Changes::default()
        }
    }

    fn of_list(list: &str) -> Filter {
        Filter {
            list: Some(list.into()),
            ..Filter::default()
        }
    }

    /// Lists are read from the words where a list's name stands, as the
    /// user's lists name them; people and shares need no lists to read.
    #[test]
    fn lists_people_and_shares_are_read_knowing_the_users_lists() {
        let now = wednesday_in_berlin();
        let names = [
            "Groceries".to_owned(),
            "Work".to_owned(),
            "Weekly Shop".to_owned(),
        ];
        let mut wrong = Vec::new();
        let cases = [
            (
                "add milk to Groceries",
                in_list(vec![todo("milk")], "Groceries"),
            ),
            (
                "add milk to groceries",
                in_list(vec![todo("milk")], "groceries"),
            ),
            (
                "task buy milk tomorrow in my Groceries list",
                in_list(vec![todo("buy milk").due(THU)], "Groceries"),
            ),
            (
                "add bread to the shop",
                in_list(vec![todo("bread")], "shop"),
            ),
            ("task go to bank", one(todo("go to bank"))),
            (
                "task go to bank to Work",
                in_list(vec![todo("go to bank")], "Work"),
            ),
            ("add milk to my list", one(todo("milk"))),
            // An unknown list said as a list is one: the assistant says it
            // has none of that name.
            (
                "add milk to my Holiday list",
                in_list(vec![todo("milk")], "Holiday"),
            ),
            ("show my Groceries list", list(of_list("Groceries"))),
            ("show Groceries", list(of_list("Groceries"))),
            ("what's in Work?", list(of_list("Work"))),
            ("Groceries list", list(of_list("Groceries"))),
            (
                "show milk",
                list(Filter {
                    text: Some("milk".into()),
                    ..Filter::default()
                }),
            ),
            (
                "find groceries",
                list(Filter {
                    text: Some("groceries".into()),
                    ..Filter::default()
                }),
            ),
            (
                "move the dentist to Work",
                update("dentist", changes(Some("Work"), None)),
            ),
            (
                "move go to bank into my Weekly Shop list",
                update("go to bank", changes(Some("Weekly Shop"), None)),
            ),
            ("move dentist to friday", update("dentist", due_to(FRI))),
            ("move dentist to the moon", Intent::Unknown),
            (
                "assign milk to Anna",
                update("milk", changes(None, Some("Anna"))),
            ),
            (
                "assign the go to bank to anna@example.com",
                update("go to bank", changes(None, Some("anna@example.com"))),
            ),
            (
                "assign milk to me",
                update("milk", changes(None, Some("me"))),
            ),
            (
                "unassign milk",
                update("milk", changes(None, Some("nobody"))),
            ),
            ("assign milk", Intent::Unknown),
            (
                "share Groceries with anna@example.com",
                Intent::Share {
                    list: "Groceries".into(),
                    email: "anna@example.com".into(),
                    role: None,
                },
            ),
            (
                "please share the Weekly Shop list with Anna@Example.com as a viewer",
                Intent::Share {
                    list: "Weekly Shop".into(),
                    email: "anna@example.com".into(),
                    role: Some(crate::chat::intent::SharedRole::Viewer),
                },
            ),
            (
                "invite anna@example.com to Work as editor",
                Intent::Share {
                    list: "Work".into(),
                    email: "anna@example.com".into(),
                    role: Some(crate::chat::intent::SharedRole::Editor),
                },
            ),
            ("share Groceries", Intent::Unknown),
        ];
        for (message, want) in &cases {
            let got = parse_knowing(message, now, Lists::Named(&names));
            if &got != want {
                wrong.push(format!("{message:?}\n   got  {got:?}\n   want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        // Reading the lists is worth it only where a list's name may stand.
        for message in [
            "add milk to Groceries",
            "task go to bank",
            "move dentist to Work",
        ] {
            assert!(may_name_a_list(message, now), "{message}");
        }
        for message in [
            "task buy milk",
            "show my tasks",
            "move dentist to friday",
            "help",
        ] {
            assert!(!may_name_a_list(message, now), "{message}");
        }
    }

    #[test]
    fn times_are_local_to_the_user_in_new_york() {
        // 10:00 in New York is 15:00 UTC (EST, UTC-5).
        let now = local(New_York, 2026, 11, 25, 10, 0);
        check(
            now,
            &[
                (
                    "task call mom tomorrow at 5pm",
                    one(todo("call mom").due("2026-11-26T22:00:00Z")),
                ),
                (
                    "task pay rent end of month",
                    one(todo("pay rent").due("2026-11-30T14:00:00Z")),
                ),
                (
                    "task dinner tonight",
                    one(todo("dinner").due("2026-11-26T01:00:00Z")),
                ),
                (
                    "task call dentist friday",
                    one(todo("call dentist").due("2026-11-27T14:00:00Z")),
                ),
            ],
        );
    }

    #[test]
    fn local_times_around_a_dst_change_resolve_to_the_earliest_valid_instant() {
        // Saturday before Berlin skips 02:00-03:00 (2027-03-28).
        let before_spring = local(Berlin, 2027, 3, 27, 10, 0);
        check(
            before_spring,
            &[
                // 02:30 does not exist: the change itself, 03:00 CEST.
                (
                    "task feed cat tomorrow at 2:30am",
                    one(todo("feed cat").due("2027-03-28T01:00:00Z")),
                ),
                (
                    "task feed cat tomorrow",
                    one(todo("feed cat").due("2027-03-28T07:00:00Z")),
                ),
            ],
        );
        // Saturday before New York repeats 01:00-02:00 (2026-11-01).
        let before_fall = local(New_York, 2026, 10, 31, 10, 0);
        check(
            before_fall,
            &[
                // 01:30 happens twice: the first one, still EDT (UTC-4).
                (
                    "task feed cat tomorrow at 1:30am",
                    one(todo("feed cat").due("2026-11-01T05:30:00Z")),
                ),
                (
                    "task feed cat tomorrow",
                    one(todo("feed cat").due("2026-11-01T14:00:00Z")),
                ),
            ],
        );
    }

    #[test]
    fn a_weekday_said_on_that_day_means_today() {
        // Friday 2026-11-27, 08:00 in Berlin.
        let friday = local(Berlin, 2026, 11, 27, 8, 0);
        check(
            friday,
            &[
                (
                    "task send report friday",
                    one(todo("send report").due("2026-11-27T08:00:00Z")),
                ),
                (
                    "task send report next friday",
                    one(todo("send report").due("2026-12-04T08:00:00Z")),
                ),
                (
                    "task send report monday",
                    one(todo("send report").due("2026-11-30T08:00:00Z")),
                ),
            ],
        );
    }

    #[test]
    fn a_repeat_said_on_a_weekend_starts_on_its_next_day_or_today() {
        // Saturday 2026-11-28, 10:00 in Berlin: 09:00 has passed.
        let saturday = local(Berlin, 2026, 11, 28, 10, 0);
        check(
            saturday,
            &[
                (
                    "task standup every weekday",
                    one(todo("standup")
                        .every(rule("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"))
                        .due("2026-11-30T08:00:00Z")),
                ),
                (
                    "task review budget every last friday",
                    one(todo("review budget")
                        .every(rule("FREQ=MONTHLY;BYDAY=-1FR"))
                        .due("2026-12-25T08:00:00Z")),
                ),
                (
                    "task market every last saturday",
                    one(todo("market")
                        .every(rule("FREQ=MONTHLY;BYDAY=-1SA"))
                        .due("2026-11-28T22:59:00Z")),
                ),
                (
                    "task market every other saturday",
                    one(todo("market")
                        .every(rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=SA"))
                        .due("2026-11-28T22:59:00Z")),
                ),
                (
                    "task pay bills every 31st",
                    one(todo("pay bills")
                        .every(rule("FREQ=MONTHLY;BYMONTHDAY=31"))
                        .due("2026-12-31T08:00:00Z")),
                ),
                (
                    "task send card every 29 february",
                    one(todo("send card")
                        .every(rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"))
                        .due("2028-02-29T08:00:00Z")),
                ),
            ],
        );
    }

    #[test]
    fn help_and_unknown_texts_give_examples() {
        for text in [help_text(), unknown_text()] {
            assert!(text.contains("task buy milk"), "{text}");
            assert!(text.contains("show my tasks"), "{text}");
        }
        // Every example in the help reads as something, not as unknown,
        // for a user with the lists it names.
        let now = wednesday_in_berlin();
        let names = ["Groceries".to_owned(), "Work".to_owned()];
        for line in help_text().lines().filter_map(|l| l.strip_prefix("- ")) {
            for example in line.split(" / ") {
                let intent = parse_knowing(example, now, Lists::Named(&names));
                assert_ne!(intent, Intent::Unknown, "{example}");
            }
        }
    }

    #[test]
    fn messages_longer_than_the_api_allows_are_unknown_unread() {
        let long = "task ".repeat(2000);
        assert_eq!(parse(&long, wednesday_in_berlin()), Intent::Unknown);
    }

    #[test]
    fn pathological_messages_are_read_quickly() {
        let now = wednesday_in_berlin();
        let messages = [
            format!("task {}", "tomorrow at 5pm ".repeat(120)),
            format!("move {} to friday", "go to bank ".repeat(180)),
            format!("task {}", "a and task ".repeat(180)),
            format!("show {}", "in 3 days ".repeat(190)),
            "\"".repeat(1990),
            format!("make {} urgent", "x due ".repeat(300)),
        ];
        for message in &messages {
            let started = std::time::Instant::now();
            let _ = parse(message, now);
            let took = started.elapsed();
            assert!(took.as_millis() < 200, "{took:?} for {}", &message[..40]);
        }
    }

    #[cfg(not(target_family = "wasm"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        const VOCABULARY: &[&str] = &[
            "task",
            "add",
            "urgent",
            "and",
            "at",
            "5",
            "5pm",
            "17:30",
            "pm",
            "on",
            "by",
            "in",
            "3",
            "days",
            "every",
            "other",
            "weekday",
            "last",
            "first",
            "15th",
            "year",
            "march",
            "monday",
            "next",
            "tomorrow",
            "tonight",
            "dec",
            "31st",
            "2026-02-29",
            "9999-12-31",
            "1970-01-01",
            "end",
            "of",
            "month",
            "#",
            "#tag",
            "\"",
            "“",
            "mark",
            "done",
            "as",
            "not",
            "delete",
            "all",
            "rename",
            "to",
            "make",
            "move",
            "tag",
            "show",
            "what's",
            "due",
            "today",
            "help",
            "p1",
            "high",
            "priority",
            "é",
            "İ",
            "ß",
            "\u{0}",
            "\n",
            ",",
            ";",
            "🙂",
            "99999999999",
            "in",
            "a",
            "hours",
            "the",
            "day",
            "after",
            "remind",
            "me",
        ];

        fn message() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "\\PC{0,400}",
                prop::collection::vec(prop::sample::select(VOCABULARY), 0..80)
                    .prop_map(|words| words.join(" ")),
                "[a-z #\"0-9:,\n]{1000,2000}",
                prop::collection::vec(any::<char>(), 0..2000)
                    .prop_map(|chars| chars.into_iter().collect()),
            ]
        }

        fn now() -> impl Strategy<Value = DateTime<Tz>> {
            let zones = [
                Tz::UTC,
                Berlin,
                New_York,
                chrono_tz::Pacific::Apia,
                chrono_tz::Pacific::Kiritimati,
                chrono_tz::Australia::Lord_Howe,
            ];
            // From 1970 to the last second of 9999, edges included.
            let seconds =
                prop_oneof![0i64..=253_402_300_799, Just(0i64), Just(253_402_300_799i64),];
            (seconds, prop::sample::select(zones.to_vec())).prop_map(|(secs, tz)| {
                Utc.timestamp_opt(secs, 0)
                    .single()
                    .unwrap_or_default()
                    .with_timezone(&tz)
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn parse_never_panics_and_answers_quickly(message in message(), now in now()) {
                let started = std::time::Instant::now();
                let intent = parse(&message, now);
                prop_assert!(started.elapsed().as_millis() < 200);
                if let Intent::Create { todos, .. } = intent {
                    prop_assert!(!todos.is_empty());
                    for todo in todos {
                        prop_assert!(!todo.title.is_empty());
                        prop_assert_eq!(todo.title.trim(), todo.title.as_str());
                        prop_assert!(!todo.title.chars().any(char::is_control));
                        if let Some(due) = todo.due_at {
                            prop_assert!(crate::todos::DueAt::new(due).is_ok());
                        }
                    }
                }
            }
        }
    }
}
