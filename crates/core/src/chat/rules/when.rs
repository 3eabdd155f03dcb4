//! Date and time phrases ("tomorrow at 5pm", "next monday", "in 3 days",
//! "dec 3", "end of month") and how the ones in a message become one instant
//! in UTC, read in the user's time zone.
//!
//! The choices, each covered by the table in `rules.rs`:
//! - A day without a time of day is due at 09:00 local; "tonight" at 20:00,
//!   "morning" 09:00, "afternoon" 15:00, "evening" 19:00, "night" 20:00. When
//!   that hour of *today* has already passed ("today" said at 10:00), the todo
//!   is due at 23:59 instead, so that it is not overdue the moment it exists.
//! - A time without a day is the next such moment: today if still ahead,
//!   otherwise tomorrow.
//! - "friday", "on friday", "by friday", "this friday": the nearest Friday
//!   from today on, so today when today is Friday. "next friday": the Friday
//!   of next week (weeks start on Monday), so on a Wednesday "friday" is in
//!   two days and "next friday" in nine. "next week" is next week's Monday,
//!   "next month" the 1st of next month.
//! - "end of month" is the last day of this month, "end of week" the nearest
//!   Friday (today on a Friday), "end of year" December 31; "weekend" the
//!   nearest Saturday (today on a Saturday or Sunday).
//! - "dec 3" without a year: the next December 3 from today on.
//! - "at 5" without am/pm: 17:00 (a bare hour from 1 to 7 is taken as the
//!   afternoon, as people mean when they say it); "at 05:00", "at 8",
//!   "at 17:30" as written; after "evening"/"tonight", "at 9" is 21:00.
//! - A local time that does not exist (the hour skipped when clocks go
//!   forward) is the first valid instant after it, i.e. the moment of the
//!   change; an ambiguous one (clocks going back) the earlier of the two.
//! - Only instants from 1970 to 9999 (what the API stores) are dates; other
//!   words stay in the title.

use chrono::{
    DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;

use super::words::{key, phrase, skip, Word};
use crate::todos::domain::bounded;

/// The hour a day without a time of day is due at.
const DEFAULT_HOUR: u32 = 9;

/// The moment a day without a time is due at once its hour has passed.
const END_OF_DAY: (u32, u32) = (23, 59);

/// "the afternoon", as in "tomorrow afternoon" or "in the afternoon".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DayPart {
    Morning,
    Afternoon,
    Evening,
    Night,
}

impl DayPart {
    pub fn of(key: &str) -> Option<Self> {
        match key {
            "morning" => Some(Self::Morning),
            "afternoon" => Some(Self::Afternoon),
            "evening" => Some(Self::Evening),
            "night" => Some(Self::Night),
            _ => None,
        }
    }

    fn hour(self) -> u32 {
        match self {
            Self::Morning => DEFAULT_HOUR,
            Self::Afternoon => 15,
            Self::Evening => 19,
            Self::Night => 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meridiem {
    Am,
    Pm,
}

/// A time as said: "5pm", "17:30", "at 5".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TimeOfDay {
    hour: u32,
    minute: u32,
    meridiem: Option<Meridiem>,
    /// "05:00": written on a 24-hour clock, so never moved to the afternoon.
    zero_padded: bool,
}

impl TimeOfDay {
    fn at(self, part: Option<DayPart>) -> Option<NaiveTime> {
        let hour = match (self.meridiem, part) {
            (Some(Meridiem::Am), _) => self.hour % 12,
            (Some(Meridiem::Pm), _) => self.hour % 12 + 12,
            (None, Some(DayPart::Afternoon | DayPart::Evening | DayPart::Night))
                if (1..12).contains(&self.hour) =>
            {
                self.hour + 12
            }
            (None, None) if !self.zero_padded && (1..=7).contains(&self.hour) => self.hour + 12,
            (None, _) => self.hour,
        };
        NaiveTime::from_hms_opt(hour, self.minute, 0)
    }
}

/// One phrase's worth of "when".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Piece {
    /// "tomorrow", "friday evening", "dec 3".
    Day(NaiveDate, Option<DayPart>),
    /// "at 5pm".
    Time(TimeOfDay),
    /// "in the morning".
    Part(DayPart),
    /// "in 2 hours".
    Instant(DateTime<Utc>),
}

/// The user's "now": the instant and the local date it falls on.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    now: DateTime<Tz>,
    today: NaiveDate,
}

impl Clock {
    pub fn new(now: DateTime<Tz>) -> Self {
        Self {
            now,
            today: now.date_naive(),
        }
    }

    pub fn today(&self) -> NaiveDate {
        self.today
    }

    fn now_utc(&self) -> DateTime<Utc> {
        self.now.with_timezone(&Utc)
    }

    fn tomorrow(&self) -> Option<NaiveDate> {
        self.today.succ_opt()
    }

    /// `time` on local `date`, in UTC, if the API can store it.
    fn local(&self, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        earliest_instant(self.now.timezone(), date, time).and_then(storable)
    }
}

/// The earliest instant showing `time` on `date` in `tz`, or, when clocks
/// skip that time, the first instant after it.
fn earliest_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let step = TimeDelta::try_minutes(1)?;
    let mut local = date.and_time(time);
    // Clocks skip at most a day (Samoa, 2011).
    for _ in 0..=26 * 60 {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(at) => return Some(at.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => return Some(a.min(b).with_timezone(&Utc)),
            LocalResult::None => local = local.checked_add_signed(step)?,
        }
    }
    None
}

fn storable(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    bounded(at).ok()
}

/// Years the API stores; a phrase naming another is no date.
fn plausible(date: NaiveDate) -> Option<NaiveDate> {
    (1970..=9999).contains(&date.year()).then_some(date)
}

/// What a message said about when, gathered phrase by phrase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct When {
    day: Option<(NaiveDate, Option<DayPart>)>,
    time: Option<TimeOfDay>,
    part: Option<DayPart>,
    instant: Option<DateTime<Utc>>,
}

impl When {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Takes a piece unless the message already said as much: the first day
    /// (or time) named wins, a later one stays in the title.
    pub fn add(&mut self, piece: Piece) -> bool {
        if self.instant.is_some() {
            return false;
        }
        match piece {
            Piece::Day(date, part) if self.day.is_none() => self.day = Some((date, part)),
            Piece::Time(time) if self.time.is_none() => self.time = Some(time),
            Piece::Part(part) if self.part.is_none() => self.part = Some(part),
            Piece::Instant(at) if self.is_empty() => self.instant = Some(at),
            _ => return false,
        }
        true
    }

    /// The instant in UTC, by the rules in the module comment.
    pub fn resolve(&self, clock: &Clock) -> Option<DateTime<Utc>> {
        if let Some(at) = self.instant {
            return storable(at);
        }
        let part = self.day.and_then(|(_, part)| part).or(self.part);
        match (self.day, self.time) {
            (Some((date, _)), Some(time)) => clock.local(date, time.at(part)?),
            (Some((date, _)), None) => {
                let hour = part.map_or(DEFAULT_HOUR, DayPart::hour);
                let due = clock.local(date, NaiveTime::from_hms_opt(hour, 0, 0)?)?;
                if date == clock.today && due <= clock.now_utc() {
                    let (hour, minute) = END_OF_DAY;
                    clock.local(date, NaiveTime::from_hms_opt(hour, minute, 0)?)
                } else {
                    Some(due)
                }
            }
            (None, time) => {
                let time = match time {
                    Some(time) => time.at(part)?,
                    None => NaiveTime::from_hms_opt(part?.hour(), 0, 0)?,
                };
                match clock.local(clock.today, time) {
                    Some(today) if today > clock.now_utc() => Some(today),
                    _ => clock.local(clock.tomorrow()?, time),
                }
            }
        }
    }
}

/// A date or time phrase at the start of `words`: how many words it takes
/// and what it says.
pub(super) fn piece_at(words: &[Word<'_>], clock: &Clock) -> Option<(usize, Piece)> {
    time_at(words)
        .map(|(end, time)| (end, Piece::Time(time)))
        .or_else(|| day_at(words, clock))
        .or_else(|| relative_at(words, clock))
}

// The number words below are read by hand rather than with `regex`: every
// request runs in a fresh instance under Spin, so a regex would be compiled
// again for each message that has a number in it.

/// `text` split after its leading ASCII digits.
fn leading_digits(text: &str) -> (&str, &str) {
    text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    )
}

/// A number of `min..=max` ASCII digits, all of `text`.
fn number(text: &str, min: usize, max: usize) -> Option<u32> {
    let (digits, rest) = leading_digits(text);
    (rest.is_empty() && (min..=max).contains(&digits.len()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// "5", "5pm", "5:30", "17:30", "5.30p.m" (the key has no trailing dot):
/// the hour's digits, the separator and minute, and the meridiem's key.
struct TimeWord<'a> {
    hour: &'a str,
    minute: Option<(char, &'a str)>,
    meridiem: &'a str,
}

fn time_word(word: &str) -> Option<TimeWord<'_>> {
    let (hour, mut rest) = leading_digits(word);
    if !(1..=2).contains(&hour.len()) {
        return None;
    }
    let mut minute = None;
    if let Some(separator) = rest.chars().next().filter(|c| matches!(c, ':' | '.')) {
        let (digits, after) = leading_digits(&rest[1..]);
        if digits.len() != 2 {
            return None;
        }
        minute = Some((separator, digits));
        rest = after;
    }
    matches!(rest, "" | "am" | "pm" | "a.m" | "p.m").then_some(TimeWord {
        hour,
        minute,
        meridiem: rest,
    })
}

/// "2026-12-01".
fn iso_date(word: &str) -> Option<NaiveDate> {
    let mut parts = word.split('-');
    let year = i32::try_from(number(parts.next()?, 4, 4)?).ok()?;
    let month = number(parts.next()?, 1, 2)?;
    let day = number(parts.next()?, 1, 2)?;
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

fn meridiem_of(key: &str) -> Option<Meridiem> {
    match key {
        "am" | "a.m" => Some(Meridiem::Am),
        "pm" | "p.m" => Some(Meridiem::Pm),
        _ => None,
    }
}

/// "at 5pm", "by 17:30", "at noon", "5 pm".
fn time_at(words: &[Word<'_>]) -> Option<(usize, TimeOfDay)> {
    let mut at = skip(words, 0, &["due"]);
    let around = words.get(at).is_some_and(|w| w.is("around"));
    at = skip(
        words,
        at,
        &["by", "before", "around", "until", "till", "til"],
    );
    let before_at = at;
    at = skip(words, at, &["at", "@"]);
    // A bare number is a time only when announced: "at 5", "around 5".
    let anchored = around || at > before_at;
    let word = key(words, at)?;
    if matches!(word, "noon" | "midday") {
        let noon = TimeOfDay {
            hour: 12,
            minute: 0,
            meridiem: Some(Meridiem::Pm),
            zero_padded: false,
        };
        return Some((at + 1, noon));
    }
    if !word.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let time = time_word(word)?;
    let digits = time.hour;
    let hour: u32 = digits.parse().ok()?;
    let minute: u32 = time.minute.map_or(Some(0), |(_, m)| m.parse().ok())?;
    let separator = time.minute.map(|(separator, _)| separator);
    let mut end = at + 1;
    let mut meridiem = meridiem_of(time.meridiem);
    if meridiem.is_none() {
        if let Some(m) = key(words, end).and_then(meridiem_of) {
            meridiem = Some(m);
            end += 1;
        }
    }
    let clear = meridiem.is_some() || separator == Some(':');
    if !(clear || anchored) || minute > 59 {
        return None;
    }
    match meridiem {
        Some(_) if !(1..=12).contains(&hour) => return None,
        None if hour > 23 => return None,
        _ => {}
    }
    end = skip(words, end, &["o'clock", "oclock"]);
    let time = TimeOfDay {
        hour,
        minute,
        meridiem,
        zero_padded: digits.len() == 2 && digits.starts_with('0'),
    };
    Some((end, time))
}

/// A day phrase, with its connectors ("due on", "by") and a part of the day
/// after it ("tomorrow morning").
fn day_at(words: &[Word<'_>], clock: &Clock) -> Option<(usize, Piece)> {
    let mut at = skip(words, 0, &["due"]);
    at = skip(
        words,
        at,
        &["on", "by", "before", "until", "till", "til", "for"],
    );
    let (end, date, part) = day_core(words, at, clock, at > 0)?;
    let date = plausible(date)?;
    match part {
        Some(part) => Some((end, Piece::Day(date, Some(part)))),
        None => match key(words, end).and_then(DayPart::of) {
            Some(part) => Some((end + 1, Piece::Day(date, Some(part)))),
            None => Some((end, Piece::Day(date, None))),
        },
    }
}

type DayMatch = (usize, NaiveDate, Option<DayPart>);

fn day_core(words: &[Word<'_>], at: usize, clock: &Clock, connected: bool) -> Option<DayMatch> {
    let today = clock.today;
    let word = key(words, at)?;
    let day = |date: Option<NaiveDate>, len: usize| date.map(|d| (at + len, d, None));
    match word {
        "today" => return day(Some(today), 1),
        "tonight" => return Some((at + 1, today, Some(DayPart::Night))),
        "tomorrow" | "tmrw" | "tmr" | "tomorow" | "tommorow" | "tommorrow" | "2morrow" => {
            return day(clock.tomorrow(), 1)
        }
        "overmorrow" => return day(today.checked_add_days(Days::new(2)), 1),
        "eom" => return day(end_of_month(today), 1),
        "weekend" => return day(weekend(today), 1),
        _ => {}
    }
    if let Some(end) = phrase(
        words,
        at,
        &[&["the", ""], &["day"], &["after"], &["tomorrow"]],
    ) {
        return today.checked_add_days(Days::new(2)).map(|d| (end, d, None));
    }
    if let Some(found) = relative_day(words, at, today) {
        return Some(found);
    }
    if let Some(found) = end_of(words, at, today) {
        return Some(found);
    }
    if let Some(weekday) = weekday_of(word, connected) {
        return upcoming(today, weekday).map(|d| (at + 1, d, None));
    }
    calendar_date(words, at, today)
}

/// "this friday", "next monday", "coming sunday", "next week", "this
/// evening", "the weekend".
fn relative_day(words: &[Word<'_>], at: usize, today: NaiveDate) -> Option<DayMatch> {
    let first = key(words, at)?;
    let second = key(words, at + 1)?;
    let end = at + 2;
    let date = match (first, second) {
        ("this", part) if DayPart::of(part).is_some() => {
            return Some((end, today, DayPart::of(part)));
        }
        ("this" | "coming" | "the", "weekend") => weekend(today),
        ("this" | "coming", day) => upcoming(today, weekday_of(day, true)?),
        ("next", "week") => next_week(today, Weekday::Mon),
        ("next", "weekend") => next_week(today, Weekday::Sat),
        ("next", "month") => today
            .with_day(1)
            .and_then(|d| d.checked_add_months(Months::new(1))),
        ("next", "year") => NaiveDate::from_ymd_opt(today.year().checked_add(1)?, 1, 1),
        ("next", day) => next_week(today, weekday_of(day, true)?),
        _ => return None,
    };
    date.map(|d| (end, d, None))
}

/// "end of month", "the end of the week", "end of next month", "end of year".
fn end_of(words: &[Word<'_>], at: usize, today: NaiveDate) -> Option<DayMatch> {
    let after_of = phrase(words, at, &[&["the", ""], &["end"], &["of"]])?;
    let this = phrase(words, after_of, &[&["the", "this", ""]])?;
    if let Some(end) = phrase(words, this, &[&["month"]]) {
        return end_of_month(today).map(|d| (end, d, None));
    }
    if let Some(end) = phrase(words, this, &[&["week"]]) {
        return upcoming(today, Weekday::Fri).map(|d| (end, d, None));
    }
    if let Some(end) = phrase(words, this, &[&["year"]]) {
        return NaiveDate::from_ymd_opt(today.year(), 12, 31).map(|d| (end, d, None));
    }
    let next = phrase(words, after_of, &[&["next"]])?;
    if let Some(end) = phrase(words, next, &[&["month"]]) {
        let next_month = today
            .with_day(1)
            .and_then(|d| d.checked_add_months(Months::new(1)))?;
        return end_of_month(next_month).map(|d| (end, d, None));
    }
    if let Some(end) = phrase(words, next, &[&["week"]]) {
        return next_week(today, Weekday::Fri).map(|d| (end, d, None));
    }
    None
}

/// "2026-12-01", "dec 3", "december 3rd 2027", "3 dec", "the 3rd of december".
fn calendar_date(words: &[Word<'_>], at: usize, today: NaiveDate) -> Option<DayMatch> {
    let first = key(words, at)?;
    if let Some(date) = iso_date(first) {
        return Some((at + 1, date, None));
    }
    let (end, month, day) = month_day_at(words, at)?;
    with_year(words, end, month, day, today)
}

/// "dec 3", "december 3rd", "3 dec", "the 3rd of december" at `at`: the
/// index after it, the month and the day, without a year (which may follow).
pub(super) fn month_day_at(words: &[Word<'_>], at: usize) -> Option<(usize, u32, u32)> {
    // month day
    if let Some(month) = key(words, at).and_then(month_of) {
        let day = key(words, at + 1).and_then(day_of_month)?;
        return Some((at + 2, month, day));
    }
    // [the] day [of] month
    let start = skip(words, at, &["the"]);
    let day = key(words, start).and_then(day_of_month)?;
    let month_at = skip(words, start + 1, &["of"]);
    let month = key(words, month_at).and_then(month_of)?;
    Some((month_at + 1, month, day))
}

/// The date with the year at `at` if one is there, else the next such date
/// from today on (Feb 29 waits for a leap year).
fn with_year(
    words: &[Word<'_>],
    at: usize,
    month: u32,
    day: u32,
    today: NaiveDate,
) -> Option<DayMatch> {
    let year = key(words, at)
        .filter(|k| k.len() == 4 && k.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|k| k.parse::<i32>().ok())
        .filter(|y| (1970..=9999).contains(y));
    if let Some(year) = year {
        return NaiveDate::from_ymd_opt(year, month, day).map(|d| (at + 1, d, None));
    }
    next_date(today, month, day).map(|d| (at, d, None))
}

/// The next `month`/`day` from today on (Feb 29 waits for a leap year).
pub(super) fn next_date(today: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    (0..8)
        .filter_map(|ahead| today.year().checked_add(ahead))
        .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day))
        .find(|date| *date >= today)
}

/// "in 3 days", "in a week", "in two months", "in 2 hours", "in the
/// morning", "at night".
fn relative_at(words: &[Word<'_>], clock: &Clock) -> Option<(usize, Piece)> {
    if let Some(end) = phrase(words, 0, &[&["at"], &["night"]]) {
        return Some((end, Piece::Part(DayPart::Night)));
    }
    let after_in = phrase(words, 0, &[&["in", "within"]])?;
    if let Some(end) = phrase(words, after_in, &[&["the"]]) {
        let part = key(words, end).and_then(DayPart::of)?;
        return Some((end + 1, Piece::Part(part)));
    }
    let count = key(words, after_in).and_then(count_of)?;
    let unit = key(words, after_in + 1)?;
    let end = after_in + 2;
    let today = clock.today;
    let piece = match unit {
        "day" | "days" => Piece::Day(today.checked_add_days(Days::new(count.into()))?, None),
        "week" | "weeks" => {
            let days = u64::from(count).checked_mul(7)?;
            Piece::Day(today.checked_add_days(Days::new(days))?, None)
        }
        "month" | "months" => Piece::Day(today.checked_add_months(Months::new(count))?, None),
        "year" | "years" => {
            let months = count.checked_mul(12)?;
            Piece::Day(today.checked_add_months(Months::new(months))?, None)
        }
        "hour" | "hours" | "hr" | "hrs" | "h" => {
            let delta = TimeDelta::try_hours(count.into())?;
            Piece::Instant(storable(clock.now_utc().checked_add_signed(delta)?)?)
        }
        "minute" | "minutes" | "min" | "mins" => {
            let delta = TimeDelta::try_minutes(count.into())?;
            Piece::Instant(storable(clock.now_utc().checked_add_signed(delta)?)?)
        }
        _ => return None,
    };
    match piece {
        Piece::Day(date, _) => plausible(date).map(|d| (end, Piece::Day(d, None))),
        other => Some((end, other)),
    }
}

pub(super) fn count_of(key: &str) -> Option<u32> {
    let count = match key {
        "a" | "an" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        digits if (1..=6).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse().ok()?
        }
        _ => return None,
    };
    Some(count)
}

/// A weekday by its name; its short form only after a word that announces a
/// day ("on fri"), so that "enjoy the sun" stays a title.
pub(super) fn weekday_of(key: &str, short_forms: bool) -> Option<Weekday> {
    let day = match key {
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        "sunday" => Weekday::Sun,
        short if short_forms => match short {
            "mon" => Weekday::Mon,
            "tue" | "tues" => Weekday::Tue,
            "wed" => Weekday::Wed,
            "thu" | "thur" | "thurs" => Weekday::Thu,
            "fri" => Weekday::Fri,
            "sat" => Weekday::Sat,
            "sun" => Weekday::Sun,
            _ => return None,
        },
        _ => return None,
    };
    Some(day)
}

fn month_of(key: &str) -> Option<u32> {
    let month = match key {
        "january" | "jan" => 1,
        "february" | "feb" => 2,
        "march" | "mar" => 3,
        "april" | "apr" => 4,
        "may" => 5,
        "june" | "jun" => 6,
        "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sep" | "sept" => 9,
        "october" | "oct" => 10,
        "november" | "nov" => 11,
        "december" | "dec" => 12,
        _ => return None,
    };
    Some(month)
}

/// "3", "3rd", "21st".
pub(super) fn day_of_month(key: &str) -> Option<u32> {
    let (digits, suffix) = leading_digits(key);
    if !matches!(suffix, "" | "st" | "nd" | "rd" | "th") {
        return None;
    }
    number(digits, 1, 2).filter(|d| (1..=31).contains(d))
}

/// The nearest `weekday` from today on (today included).
pub(super) fn upcoming(today: NaiveDate, weekday: Weekday) -> Option<NaiveDate> {
    let ahead = (7 + weekday.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
    today.checked_add_days(Days::new(ahead.into()))
}

/// `weekday` in the week after this one (weeks start on Monday).
fn next_week(today: NaiveDate, weekday: Weekday) -> Option<NaiveDate> {
    let to_monday = 7 - today.weekday().num_days_from_monday();
    today.checked_add_days(Days::new(
        (to_monday + weekday.num_days_from_monday()).into(),
    ))
}

pub(super) fn end_of_month(date: NaiveDate) -> Option<NaiveDate> {
    date.with_day(1)?
        .checked_add_months(Months::new(1))?
        .pred_opt()
}

/// The nearest Saturday, or today during a weekend.
fn weekend(today: NaiveDate) -> Option<NaiveDate> {
    match today.weekday() {
        Weekday::Sat | Weekday::Sun => Some(today),
        _ => upcoming(today, Weekday::Sat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::rules::words::split;

    fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Tz> {
        chrono_tz::Europe::Berlin
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Every phrase of the message taken in turn, the way the rules do.
    fn when(message: &str, now: DateTime<Tz>) -> Option<DateTime<Utc>> {
        let clock = Clock::new(now);
        let words = split(message);
        let mut when = When::default();
        let mut i = 0;
        while i < words.len() {
            match piece_at(&words[i..], &clock) {
                Some((n, piece)) if when.add(piece) => i += n.max(1),
                _ => i += 1,
            }
        }
        when.resolve(&clock)
    }

    #[test]
    fn date_phrases_resolve_in_the_users_time_zone() {
        // Wednesday 2026-11-25 10:00 in Berlin (UTC+1).
        let now = berlin(2026, 11, 25, 10, 0);
        let cases = [
            ("tomorrow", "2026-11-26T08:00:00Z"),
            ("tomorrow at 5pm", "2026-11-26T16:00:00Z"),
            ("at 5pm tomorrow", "2026-11-26T16:00:00Z"),
            ("tomorrow morning", "2026-11-26T08:00:00Z"),
            ("tomorrow evening at 7", "2026-11-26T18:00:00Z"),
            ("tonight", "2026-11-25T19:00:00Z"),
            ("tonight at 9", "2026-11-25T20:00:00Z"),
            ("today", "2026-11-25T22:59:00Z"),
            ("today at 8am", "2026-11-25T07:00:00Z"),
            ("at 9am", "2026-11-26T08:00:00Z"),
            ("at 11", "2026-11-25T10:00:00Z"),
            ("at 5", "2026-11-25T16:00:00Z"),
            ("at 05:00", "2026-11-26T04:00:00Z"),
            ("at noon", "2026-11-25T11:00:00Z"),
            ("17:30", "2026-11-25T16:30:00Z"),
            ("5:30 pm", "2026-11-25T16:30:00Z"),
            ("wednesday", "2026-11-25T22:59:00Z"),
            ("friday", "2026-11-27T08:00:00Z"),
            ("by fri", "2026-11-27T08:00:00Z"),
            ("next friday", "2026-12-04T08:00:00Z"),
            ("next monday", "2026-11-30T08:00:00Z"),
            ("next week", "2026-11-30T08:00:00Z"),
            ("next month", "2026-12-01T08:00:00Z"),
            ("in 3 days", "2026-11-28T08:00:00Z"),
            ("in two weeks", "2026-12-09T08:00:00Z"),
            ("in a month", "2026-12-25T08:00:00Z"),
            ("in 2 hours", "2026-11-25T11:00:00Z"),
            ("in 30 minutes", "2026-11-25T09:30:00Z"),
            ("on 2026-12-01", "2026-12-01T08:00:00Z"),
            ("dec 3", "2026-12-03T08:00:00Z"),
            ("3rd of december 2027", "2027-12-03T08:00:00Z"),
            ("nov 24", "2027-11-24T08:00:00Z"),
            ("feb 29", "2028-02-29T08:00:00Z"),
            ("end of month", "2026-11-30T08:00:00Z"),
            ("by the end of the month", "2026-11-30T08:00:00Z"),
            ("end of next month", "2026-12-31T08:00:00Z"),
            ("end of the week", "2026-11-27T08:00:00Z"),
            ("this weekend", "2026-11-28T08:00:00Z"),
            ("the day after tomorrow", "2026-11-27T08:00:00Z"),
            ("in the evening", "2026-11-25T18:00:00Z"),
        ];
        for (phrase, want) in cases {
            assert_eq!(when(phrase, now), Some(utc(want)), "{phrase}");
        }
    }

    #[test]
    fn words_that_only_look_like_dates_are_no_dates() {
        let now = berlin(2026, 11, 25, 10, 0);
        for phrase in [
            "enjoy the sun",
            "buy 5 apples",
            "at 25:00",
            "at 13pm",
            "on 1969-12-31",
            "feb 30",
            "in 99999999 days",
            "may",
            "the 5th",
            "5.30",
        ] {
            assert_eq!(when(phrase, now), None, "{phrase}");
        }
    }

    #[test]
    fn clocks_going_forward_or_back_give_the_earliest_valid_instant() {
        let now = berlin(2027, 3, 20, 10, 0);
        // 02:30 does not exist on 2027-03-28 in Berlin: 03:00 CEST it is.
        assert_eq!(
            when("on 2027-03-28 at 2:30am", now),
            Some(utc("2027-03-28T01:00:00Z"))
        );
        // 02:30 happens twice on 2026-10-25: the first one (CEST).
        assert_eq!(
            when("on 2026-10-25 at 02:30", berlin(2026, 10, 20, 10, 0)),
            Some(utc("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn a_weekday_said_on_that_day_means_today_and_next_means_next_week() {
        let friday = berlin(2026, 11, 27, 8, 0);
        assert_eq!(when("friday", friday), Some(utc("2026-11-27T08:00:00Z")));
        assert_eq!(
            when("next friday", friday),
            Some(utc("2026-12-04T08:00:00Z"))
        );
        let friday_noon = berlin(2026, 11, 27, 12, 0);
        assert_eq!(
            when("by friday", friday_noon),
            Some(utc("2026-11-27T22:59:00Z"))
        );
    }
}
