//! Recurrence phrases of a new todo: "every day", "every other monday",
//! "every 3 weeks", "the 15th of every month", "every last friday", "every
//! year on 3 march". The plain ones stay the words daily, weekly and monthly;
//! the others become a rule, written as RRULE text and parsed like a client's.
//!
//! A phrase that names a day implies the first due date: the nearest such day
//! from today on, today included (as "every monday" on a Monday).

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

use super::attributes::priority_at;
use super::when::{self, Clock, DayPart, Piece};
use super::words::{key, phrase, skip, Word};
use crate::todos::rrule::RRule;
use crate::todos::Recurrence;

/// How many words a phrase took, its recurrence and the day or part of the
/// day it implies.
pub(super) type RepeatMatch = (usize, Recurrence, Option<Piece>);

/// Words that may announce a recurrence: "repeat every day".
const ANNOUNCERS: &[&str] = &["repeat", "repeats", "repeating", "recurring", "recurs"];

/// Words that tie a first day to a recurrence: "every monday starting
/// tomorrow".
const STARTS: &[&str] = &["starting", "beginning", "from"];

/// Words after "every 15th" that do not make the number count something
/// ("every 15th at 9am", but "every 15th page").
const CONNECTORS: &[&str] = &[
    "and", "at", "on", "by", "in", "from", "for", "to", "until", "till", "then", "starting",
    "with", "as", "plus", "also",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// Which days of its period a series falls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    /// The day the todo is due, whatever it is: "every week".
    Any,
    /// "every monday".
    Weekday(Weekday),
    /// Monday to Friday.
    Workdays,
    /// "the 15th"; -1 is the last day.
    MonthDay(i32),
    /// "the first monday" (1 to 5), "the last friday" (-1).
    NthWeekday(i32, Weekday),
    /// "3 march": month, day.
    Date(u32, u32),
}

#[derive(Debug, Clone, Copy)]
struct Repeat {
    freq: Freq,
    interval: u32,
    on: On,
}

impl Repeat {
    fn every(freq: Freq, interval: u32) -> Self {
        Self {
            freq,
            interval,
            on: On::Any,
        }
    }

    fn on(self, on: On) -> Self {
        Self { on, ..self }
    }

    /// The phrase's match, ending at `end`; `None` when the rule is out of
    /// the subset (INTERVAL over 999) or its first day out of range.
    fn found(self, end: usize, clock: &Clock) -> Option<RepeatMatch> {
        let today = clock.today();
        let first = match self.on {
            On::Any => None,
            On::Weekday(day) => Some(when::upcoming(today, day)?),
            On::Workdays => Some(next_workday(today)?),
            On::MonthDay(day) => Some(next_month_day(today, day)?),
            On::NthWeekday(n, day) => Some(next_nth_weekday(today, n, day)?),
            On::Date(month, day) => Some(when::next_date(today, month, day)?),
        };
        Some((end, self.recurrence()?, first.map(|d| Piece::Day(d, None))))
    }

    fn recurrence(self) -> Option<Recurrence> {
        // The words the app had before rules: "every monday" stays weekly,
        // its first due date says which day.
        match (self.freq, self.interval, self.on) {
            (Freq::Daily, 1, On::Any) => Some(Recurrence::Daily),
            (Freq::Weekly, 1, On::Any | On::Weekday(_)) => Some(Recurrence::Weekly),
            (Freq::Monthly, 1, On::Any) => Some(Recurrence::Monthly),
            _ => RRule::parse(&self.rule_text()).ok().map(Recurrence::Rule),
        }
    }

    fn rule_text(self) -> String {
        let freq = match self.freq {
            Freq::Daily => "DAILY",
            Freq::Weekly => "WEEKLY",
            Freq::Monthly => "MONTHLY",
            Freq::Yearly => "YEARLY",
        };
        let mut text = format!("RRULE:FREQ={freq}");
        if self.interval > 1 {
            text.push_str(&format!(";INTERVAL={}", self.interval));
        }
        let on = match self.on {
            On::Any => String::new(),
            On::Weekday(day) => format!(";BYDAY={}", code(day)),
            On::Workdays => ";BYDAY=MO,TU,WE,TH,FR".to_owned(),
            On::MonthDay(day) => format!(";BYMONTHDAY={day}"),
            On::NthWeekday(n, day) => format!(";BYDAY={n}{}", code(day)),
            On::Date(month, day) => format!(";BYMONTH={month};BYMONTHDAY={day}"),
        };
        text + &on
    }
}

fn code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

/// A recurrence phrase at the start of `words`: "every day", "weekly",
/// "every other monday", "repeat every 2 weeks", "on weekdays", "the 15th of
/// every month", "yearly on march 3", "each morning".
pub(super) fn recurrence_at(words: &[Word<'_>], clock: &Clock) -> Option<RepeatMatch> {
    let (end, recurrence, first) = phrase_at(words, clock)?;
    // "every 3 days starting tomorrow": the connector goes with the
    // recurrence, the day is read as the due date.
    let starts = words.get(end).is_some_and(|w| w.is_any(STARTS))
        && words
            .get(end + 1..)
            .and_then(|rest| when::piece_at(rest, clock))
            .is_some();
    Some((end + usize::from(starts), recurrence, first))
}

fn phrase_at(words: &[Word<'_>], clock: &Clock) -> Option<RepeatMatch> {
    let at = skip(words, 0, ANNOUNCERS);
    let word = key(words, at)?;
    match word {
        "daily" | "everyday" => return Repeat::every(Freq::Daily, 1).found(at + 1, clock),
        "weekly" => return Repeat::every(Freq::Weekly, 1).found(at + 1, clock),
        "monthly" => return day_of_period(words, at + 1, Repeat::every(Freq::Monthly, 1), clock),
        "yearly" | "annually" => {
            return day_of_period(words, at + 1, Repeat::every(Freq::Yearly, 1), clock)
        }
        "every" | "each" => return after_every(words, at + 1, word == "every", clock),
        _ => {}
    }
    if let Some(end) = phrase(words, at, &[&["on"], &["weekdays", "workdays"]]) {
        return Repeat::every(Freq::Weekly, 1)
            .on(On::Workdays)
            .found(end, clock);
    }
    of_every_month(words, at, clock)
}

/// What follows "every" (or "each", which never takes "other") at `at`.
fn after_every(words: &[Word<'_>], at: usize, every: bool, clock: &Clock) -> Option<RepeatMatch> {
    let word = key(words, at)?;
    // "every other monday", "every other week"
    if word == "other" {
        if !every {
            return None;
        }
        let next = key(words, at + 1)?;
        if let Some(day) = when::weekday_of(next, true) {
            return Repeat::every(Freq::Weekly, 2)
                .on(On::Weekday(day))
                .found(at + 2, clock);
        }
        return units(words, at + 1, 2, clock);
    }
    // "every 15th of the month", "every second tuesday of the month"
    if let Some((end, on)) = day_of_month_at(words, at) {
        if let Some((end, _)) = month_suffix(words, end) {
            return Repeat::every(Freq::Monthly, 1).on(on).found(end, clock);
        }
    }
    // "every 3 march", "every march 3rd", "every 3rd of march"
    if let Some((end, month, day)) = when::month_day_at(words, at) {
        return Repeat::every(Freq::Yearly, 1)
            .on(On::Date(month, day))
            .found(end, clock);
    }
    // "every 3 days", "every two weeks", "every second month"
    let interval = match when::count_of(word) {
        Some(_) if matches!(word, "a" | "an") => None,
        Some(n) => Some(n),
        // "every first day" is a day of the month, not an interval.
        None => ordinal_of(word)
            .filter(|&n| n >= 2)
            .and_then(|n| u32::try_from(n).ok()),
    };
    if let Some(interval) = interval.filter(|_| unit_of(key(words, at + 1)).is_some()) {
        return units(words, at + 1, interval, clock);
    }
    // "every day", "every month on the 15th", "every year on 3 march"
    if matches!(word, "day" | "week" | "month" | "year") {
        return units(words, at, 1, clock);
    }
    // "every weekday", "every work day"
    let workdays = phrase(words, at, &[&["weekday", "workday", "work-day"]])
        .or_else(|| phrase(words, at, &[&["work", "working", "business"], &["day"]]));
    if let Some(end) = workdays {
        return Repeat::every(Freq::Weekly, 1)
            .on(On::Workdays)
            .found(end, clock);
    }
    // "each morning"
    if let Some(part) = DayPart::of(word) {
        return Some((at + 1, Recurrence::Daily, Some(Piece::Part(part))));
    }
    // "every monday"
    if let Some(day) = when::weekday_of(word, true) {
        return Repeat::every(Freq::Weekly, 1)
            .on(On::Weekday(day))
            .found(at + 1, clock);
    }
    // "every last friday", "every first monday", "every last day", "every 15th"
    let (end, on) = day_of_month_at(words, at)?;
    let bare_number = end == at + 1 && matches!(on, On::MonthDay(_));
    if bare_number && (word.bytes().all(|b| b.is_ascii_digit()) || counts_a_noun(words, end, clock))
    {
        return None;
    }
    Repeat::every(Freq::Monthly, 1).on(on).found(end, clock)
}

/// A unit at `at` ("days", "week"), with the day of its period after it for
/// months and years ("every 2 months on the 1st").
fn units(words: &[Word<'_>], at: usize, interval: u32, clock: &Clock) -> Option<RepeatMatch> {
    let freq = unit_of(key(words, at))?;
    day_of_period(words, at + 1, Repeat::every(freq, interval), clock)
}

fn unit_of(key: Option<&str>) -> Option<Freq> {
    match key? {
        "day" | "days" => Some(Freq::Daily),
        "week" | "weeks" => Some(Freq::Weekly),
        "month" | "months" => Some(Freq::Monthly),
        "year" | "years" => Some(Freq::Yearly),
        _ => None,
    }
}

/// `repeat`, ending at `at`, with the day it falls on when one follows:
/// "[on] the 15th" or "[on] the last friday" after a monthly phrase, "[on]
/// march 3" after a yearly one.
fn day_of_period(
    words: &[Word<'_>],
    at: usize,
    repeat: Repeat,
    clock: &Clock,
) -> Option<RepeatMatch> {
    let after_on = skip(words, at, &["on"]);
    let day = match repeat.freq {
        Freq::Monthly => {
            let after_the = skip(words, after_on, &["the"]);
            day_of_month_at(words, after_the).filter(|_| after_the > at)
        }
        Freq::Yearly => {
            when::month_day_at(words, after_on).map(|(end, month, day)| (end, On::Date(month, day)))
        }
        Freq::Daily | Freq::Weekly => None,
    };
    day.and_then(|(end, on)| repeat.on(on).found(end, clock))
        .or_else(|| repeat.found(at, clock))
}

/// "[on] [the] 15th of every month", "the last friday of each month", "on
/// the last day of every month".
fn of_every_month(words: &[Word<'_>], at: usize, clock: &Clock) -> Option<RepeatMatch> {
    let start = skip(words, at, &["on"]);
    let start = skip(words, start, &["the"]);
    let (end, on) = day_of_month_at(words, start)?;
    let (end, every) = month_suffix(words, end)?;
    if !every {
        return None;
    }
    Repeat::every(Freq::Monthly, 1).on(on).found(end, clock)
}

/// "of the month", "of every month", "of each month" at `at`: the index after
/// it, and whether it said every month (not just "the").
fn month_suffix(words: &[Word<'_>], at: usize) -> Option<(usize, bool)> {
    let end = phrase(words, at, &[&["of"], &["the", "every", "each"], &["month"]])?;
    let every = !words.get(at + 1).is_some_and(|w| w.is("the"));
    Some((end, every))
}

/// A day of the month at `at`: "last friday", "first monday", "2nd tuesday",
/// "last day", "first day", "15th", "15".
fn day_of_month_at(words: &[Word<'_>], at: usize) -> Option<(usize, On)> {
    let word = key(words, at)?;
    if let Some(n) = ordinal_of(word) {
        let next = key(words, at + 1);
        if let Some(day) = next.and_then(|k| when::weekday_of(k, true)) {
            return Some((at + 2, On::NthWeekday(n, day)));
        }
        if next == Some("day") {
            return Some((at + 2, On::MonthDay(n)));
        }
    }
    let day = when::day_of_month(word)?;
    Some((at + 1, On::MonthDay(i32::try_from(day).ok()?)))
}

/// "first" to "fifth", "1st" to "5th", and "last" (-1): a weekday's place in
/// its month.
fn ordinal_of(key: &str) -> Option<i32> {
    match key {
        "first" | "1st" => Some(1),
        "second" | "2nd" => Some(2),
        "third" | "3rd" => Some(3),
        "fourth" | "4th" => Some(4),
        "fifth" | "5th" => Some(5),
        "last" => Some(-1),
        _ => None,
    }
}

/// Whether the word at `at` is one that a number before it counts ("every
/// 15th page"): a plain word that starts no other phrase.
fn counts_a_noun(words: &[Word<'_>], at: usize, clock: &Clock) -> bool {
    let Some(next) = words.get(at).filter(|w| !w.break_before) else {
        return false;
    };
    let Some(key) = next.keyword().filter(|k| !k.is_empty()) else {
        return false;
    };
    let rest = words.get(at..).unwrap_or_default();
    key.chars().all(char::is_alphabetic)
        && !CONNECTORS.contains(&key)
        && priority_at(rest, false).is_none()
        && when::piece_at(rest, clock).is_none()
}

/// Today if it is a weekday, else the coming Monday.
fn next_workday(today: NaiveDate) -> Option<NaiveDate> {
    match today.weekday() {
        Weekday::Sat | Weekday::Sun => when::upcoming(today, Weekday::Mon),
        _ => Some(today),
    }
}

/// The next `day` of a month from today on (-1: the last day).
fn next_month_day(today: NaiveDate, day: i32) -> Option<NaiveDate> {
    first_in_months(today, |year, month| {
        if day < 0 {
            when::end_of_month(NaiveDate::from_ymd_opt(year, month, 1)?)
        } else {
            NaiveDate::from_ymd_opt(year, month, u32::try_from(day).ok()?)
        }
    })
}

/// The next `n`th `weekday` of a month from today on (-1: the last).
fn next_nth_weekday(today: NaiveDate, n: i32, weekday: Weekday) -> Option<NaiveDate> {
    first_in_months(today, |year, month| {
        if n > 0 {
            NaiveDate::from_weekday_of_month_opt(year, month, weekday, u8::try_from(n).ok()?)
        } else {
            let last = when::end_of_month(NaiveDate::from_ymd_opt(year, month, 1)?)?;
            let back =
                (7 + last.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
            last.checked_sub_days(Days::new(back.into()))
        }
    })
}

/// The first day `in_month` gives, from this month on, that is not before
/// today; a year of months is enough for any day a phrase can name.
fn first_in_months(
    today: NaiveDate,
    in_month: impl Fn(i32, u32) -> Option<NaiveDate>,
) -> Option<NaiveDate> {
    let this_month = today.with_day(1)?;
    (0..=12)
        .filter_map(|ahead| this_month.checked_add_months(Months::new(ahead)))
        .filter_map(|month| in_month(month.year(), month.month()))
        .find(|date| *date >= today)
}
