//! Custom recurrence rules of todos: the subset of iCalendar's RRULE
//! (RFC 5545 3.3.10) that people and CalDAV clients actually write, parsed
//! once into a `Copy` value, and the next occurrence after a due date.
//!
//! A todo only ever needs the *next* occurrence (completing it moves the due
//! date on), so the rule is evaluated with the current due date as the
//! series' anchor rather than by expanding the whole series from DTSTART.

use std::fmt;

use chrono::{
    DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

const SUPPORTED_PARTS: &str = "FREQ, INTERVAL, BYDAY, BYMONTHDAY, BYMONTH, COUNT, UNTIL, WKST";
const WEEKDAY_CODES: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
const MAX_INTERVAL: u16 = 999;
const MAX_COUNT: u16 = 10_000;

/// The search for the next occurrence gives up only once it is past both
/// bounds: periods alone would miss "every day, if it is 29 February" (up to
/// eight years of days), years alone would miss "every 999 years".
const SEARCH_PERIODS: u32 = 400;
const SEARCH_MONTHS: u32 = 50 * 12;

/// How often the series repeats; the finer RFC frequencies make no sense
/// for a todo (nobody completes a task every minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Freq {
    fn as_str(self) -> &'static str {
        match self {
            Freq::Daily => "DAILY",
            Freq::Weekly => "WEEKLY",
            Freq::Monthly => "MONTHLY",
            Freq::Yearly => "YEARLY",
        }
    }
}

/// Where the series ends. UNTIL keeps its form (a date or an instant), so
/// the canonical text gives back what the client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum End {
    Count(u16),
    /// Through the end of this local day.
    UntilDate(NaiveDate),
    UntilInstant(DateTime<Utc>),
}

/// A parsed rule of the subset. `Copy` so that the todo's `Recurrence` can
/// hold one, which is why the lists are bitmasks rather than `Vec`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RRule {
    freq: Freq,
    /// 1..=999.
    interval: u16,
    /// Bit `m` for month `m` (1..=12).
    by_month: u16,
    /// Bit `d - 1` for day `d` (1..=31), bit `31 + n` for day `-n` (counted from the end).
    by_month_day: u64,
    /// Per weekday (Monday first): bit 0 for every such weekday, bit `n` for
    /// the `n`th (1..=5), bit `5 + n` for the `n`th from the end.
    by_day: [u16; 7],
    /// Kept only so the canonical text round-trips; `None` means Monday.
    wkst: Option<Weekday>,
    end: Option<End>,
}

impl RRule {
    /// Parses a rule, with or without the `RRULE:` prefix, in any case.
    /// Every refusal names the part it is about, so a client (or a person)
    /// can tell what to change.
    pub fn parse(text: &str) -> Result<RRule, String> {
        let upper = text.trim().to_ascii_uppercase();
        let body = upper.strip_prefix("RRULE:").unwrap_or(&upper);

        let mut freq = None;
        let mut interval = None;
        let mut by_month = None;
        let mut by_month_day = None;
        let mut by_day: Option<[u16; 7]> = None;
        let mut wkst = None;
        let mut count = None;
        let mut until = None;
        let mut seen_any = false;

        // Empty parts are skipped so a trailing `;` is harmless.
        for part in body.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            seen_any = true;
            let Some((name, value)) = part
                .split_once('=')
                .filter(|(name, _)| !name.trim().is_empty())
            else {
                return Err(format!("`{part}` is not a NAME=VALUE part of a rule"));
            };
            let name = name.trim();
            let value = value.trim();
            let already = match name {
                "FREQ" => freq.replace(parse_freq(value)?).is_some(),
                "INTERVAL" => interval.replace(parse_interval(value)?).is_some(),
                "BYMONTH" => by_month.replace(parse_by_month(value)?).is_some(),
                "BYMONTHDAY" => by_month_day.replace(parse_by_month_day(value)?).is_some(),
                "BYDAY" => by_day.replace(parse_by_day(value)?).is_some(),
                "WKST" => wkst
                    .replace(parse_weekday(value).ok_or_else(|| {
                        "WKST must be one of MO, TU, WE, TH, FR, SA, SU".to_string()
                    })?)
                    .is_some(),
                "COUNT" => count.replace(parse_count(value)?).is_some(),
                "UNTIL" => until.replace(parse_until(value)?).is_some(),
                _ => {
                    return Err(format!(
                        "{name} is not supported (supported: {SUPPORTED_PARTS})"
                    ))
                }
            };
            if already {
                return Err(format!("{name} is given more than once"));
            }
        }

        if !seen_any {
            return Err(
                "the rule is empty: FREQ is required (DAILY, WEEKLY, MONTHLY or YEARLY)"
                    .to_string(),
            );
        }
        let Some(freq) = freq else {
            return Err("FREQ is required (DAILY, WEEKLY, MONTHLY or YEARLY)".to_string());
        };
        let by_month = by_month.unwrap_or(0);
        let by_month_day = by_month_day.unwrap_or(0);
        let by_day = by_day.unwrap_or([0; 7]);

        if freq == Freq::Weekly && by_month_day != 0 {
            return Err("BYMONTHDAY is not allowed with FREQ=WEEKLY".to_string());
        }
        // An ordinal needs a month to count in: RFC 5545 would count it in
        // the year for a plain YEARLY, which nobody means.
        let ordinals_allowed = freq == Freq::Monthly || (freq == Freq::Yearly && by_month != 0);
        if !ordinals_allowed && by_day.iter().any(|mask| mask & !1 != 0) {
            return Err(
                "BYDAY ordinals (like 2FR or -1MO) need FREQ=MONTHLY, or FREQ=YEARLY with BYMONTH"
                    .to_string(),
            );
        }
        let end = match (count, until) {
            (Some(_), Some(_)) => return Err("COUNT and UNTIL cannot both be given".to_string()),
            (Some(count), None) => Some(End::Count(count)),
            (None, until) => until,
        };

        Ok(RRule {
            freq,
            interval: interval.unwrap_or(1),
            by_month,
            by_month_day,
            by_day,
            wkst,
            end,
        })
    }

    /// How many occurrences the series has, when it is bounded by COUNT.
    pub fn count(&self) -> Option<u32> {
        match self.end {
            Some(End::Count(count)) => Some(u32::from(count)),
            _ => None,
        }
    }

    /// The next occurrence strictly after `due`, which is occurrence number
    /// `occurrence` (1 = the first) of the series, evaluated in `tz`: the
    /// local date and wall-clock time of `due` are the pattern, so "every
    /// Monday 9:00" stays 9:00 local across DST changes. A local time that
    /// does not exist that day moves forward by the gap; an ambiguous one
    /// takes the earlier instant.
    ///
    /// `None` when the series is over (COUNT reached, or past UNTIL — a DATE
    /// UNTIL lasts through that local day) or when no occurrence turns up
    /// within a bounded search (e.g. 30 February).
    pub fn next_after(&self, due: DateTime<Utc>, tz: Tz, occurrence: u32) -> Option<DateTime<Utc>> {
        if self.is_complete_at(occurrence) {
            return None;
        }
        let local = due.with_timezone(&tz).naive_local();
        let day = self.next_date(local.date())?;
        let next = resolve_local(tz, day.and_time(local.time()))?;
        let within = match self.end {
            Some(End::UntilDate(until)) => day <= until,
            Some(End::UntilInstant(until)) => next <= until,
            Some(End::Count(_)) | None => true,
        };
        within.then_some(next)
    }

    /// [`RRule::next_after`] for all-day todos, on dates: the app keeps such
    /// a day as its 00:00 UTC, so a date-time UNTIL is compared with that.
    pub fn next_date_after(&self, day: NaiveDate, occurrence: u32) -> Option<NaiveDate> {
        if self.is_complete_at(occurrence) {
            return None;
        }
        let next = self.next_date(day)?;
        let within = match self.end {
            Some(End::UntilDate(until)) => next <= until,
            Some(End::UntilInstant(until)) => next.and_time(NaiveTime::MIN).and_utc() <= until,
            Some(End::Count(_)) | None => true,
        };
        within.then_some(next)
    }

    fn is_complete_at(&self, occurrence: u32) -> bool {
        self.count().is_some_and(|count| occurrence >= count)
    }

    /// The first date of the series after `anchor`, with `anchor` an
    /// occurrence and the source of whatever the rule leaves open (weekday,
    /// day of month, month).
    fn next_date(&self, anchor: NaiveDate) -> Option<NaiveDate> {
        let horizon = anchor
            .checked_add_months(Months::new(SEARCH_MONTHS))
            .unwrap_or(NaiveDate::MAX);
        let interval = u32::from(self.interval);
        for period in 0..u32::MAX {
            let (start, found) = match self.freq {
                Freq::Daily => {
                    // Period 0 would be the anchor itself.
                    let day = anchor
                        .checked_add_days(Days::new(u64::from(period + 1) * u64::from(interval)))?;
                    (day, self.day_filter_matches(day).then_some(day))
                }
                Freq::Weekly => {
                    let week = self
                        .week_start(anchor)?
                        .checked_add_days(Days::new(7 * u64::from(period) * u64::from(interval)))?;
                    (week, self.first_in_week(week, anchor))
                }
                Freq::Monthly => {
                    let month = first_of_month(anchor)
                        .checked_add_months(Months::new(period.checked_mul(interval)?))?;
                    let found = if self.month_allowed(month.month()) {
                        self.first_in_month(month, anchor)
                    } else {
                        None
                    };
                    (month, found)
                }
                Freq::Yearly => {
                    let years = i32::try_from(period.checked_mul(interval)?).ok()?;
                    let year = anchor.year().checked_add(years)?;
                    let january = NaiveDate::from_ymd_opt(year, 1, 1)?;
                    (january, self.first_in_year(year, anchor))
                }
            };
            if found.is_some() {
                return found;
            }
            if period >= SEARCH_PERIODS && start > horizon {
                return None;
            }
        }
        None
    }

    /// The start (on WKST) of the week holding `day`.
    fn week_start(&self, day: NaiveDate) -> Option<NaiveDate> {
        let wkst = self.wkst.unwrap_or(Weekday::Mon).num_days_from_monday();
        let back = (day.weekday().num_days_from_monday() + 7 - wkst) % 7;
        day.checked_sub_days(Days::new(u64::from(back)))
    }

    fn first_in_week(&self, week: NaiveDate, anchor: NaiveDate) -> Option<NaiveDate> {
        let has_by_day = self.by_day.iter().any(|mask| *mask != 0);
        (0..7)
            .filter_map(|offset| week.checked_add_days(Days::new(offset)))
            .filter(|day| *day > anchor)
            .find(|day| {
                let weekday_ok = if has_by_day {
                    self.by_day[weekday_index(day.weekday())] & 1 != 0
                } else {
                    day.weekday() == anchor.weekday()
                };
                weekday_ok && self.month_allowed(day.month())
            })
    }

    fn first_in_year(&self, year: i32, anchor: NaiveDate) -> Option<NaiveDate> {
        let has_day_parts = self.by_month_day != 0 || self.by_day.iter().any(|m| *m != 0);
        (1..=12)
            .filter(|month| {
                if self.by_month != 0 {
                    self.month_allowed(*month)
                } else if has_day_parts {
                    // RFC 5545: BYMONTHDAY / BYDAY expand a YEARLY rule
                    // over every month of the year.
                    true
                } else {
                    *month == anchor.month()
                }
            })
            .filter_map(|month| NaiveDate::from_ymd_opt(year, month, 1))
            .find_map(|first| self.first_in_month(first, anchor))
    }

    /// The first day of the month starting at `first` that the rule holds
    /// and that comes after `anchor`.
    fn first_in_month(&self, first: NaiveDate, anchor: NaiveDate) -> Option<NaiveDate> {
        let has_month_day = self.by_month_day != 0;
        let has_by_day = self.by_day.iter().any(|m| *m != 0);
        first
            .iter_days()
            .take_while(|day| day.month() == first.month())
            .filter(|day| *day > anchor)
            .find(|day| {
                if !has_month_day && !has_by_day {
                    return day.day() == anchor.day();
                }
                (!has_month_day || self.month_day_matches(*day))
                    && (!has_by_day || self.weekday_matches_in_month(*day))
            })
    }

    /// DAILY: every part limits which days count.
    fn day_filter_matches(&self, day: NaiveDate) -> bool {
        let weekday_ok = self.by_day.iter().all(|m| *m == 0)
            || self.by_day[weekday_index(day.weekday())] & 1 != 0;
        self.month_allowed(day.month())
            && (self.by_month_day == 0 || self.month_day_matches(day))
            && weekday_ok
    }

    fn month_allowed(&self, month: u32) -> bool {
        self.by_month == 0 || self.by_month & (1 << month) != 0
    }

    fn month_day_matches(&self, day: NaiveDate) -> bool {
        let from_end = days_in_month(day) - day.day() + 1;
        self.by_month_day & (1 << (day.day() - 1)) != 0
            || self.by_month_day & (1 << (31 + from_end)) != 0
    }

    fn weekday_matches_in_month(&self, day: NaiveDate) -> bool {
        let mask = self.by_day[weekday_index(day.weekday())];
        let nth = (day.day() - 1) / 7 + 1;
        let nth_from_end = (days_in_month(day) - day.day()) / 7 + 1;
        mask & 1 != 0 || mask & (1 << nth) != 0 || mask & (1 << (5 + nth_from_end)) != 0
    }
}

/// The canonical text: `RRULE:` then FREQ, INTERVAL (when not 1), BYMONTH,
/// BYMONTHDAY, BYDAY, WKST, COUNT, UNTIL, lists sorted, so equal rules read
/// the same and `parse` gives the rule back.
impl fmt::Display for RRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RRULE:FREQ={}", self.freq.as_str())?;
        if self.interval > 1 {
            write!(f, ";INTERVAL={}", self.interval)?;
        }
        if self.by_month != 0 {
            let months: Vec<String> = (1..=12)
                .filter(|m| self.by_month & (1 << m) != 0)
                .map(|m| m.to_string())
                .collect();
            write!(f, ";BYMONTH={}", months.join(","))?;
        }
        if self.by_month_day != 0 {
            let negative = (1..=31)
                .rev()
                .filter(|n| self.by_month_day & (1 << (31 + n)) != 0);
            let positive = (1..=31).filter(|d| self.by_month_day & (1 << (d - 1)) != 0);
            let days: Vec<String> = negative
                .map(|n| format!("-{n}"))
                .chain(positive.map(|d| d.to_string()))
                .collect();
            write!(f, ";BYMONTHDAY={}", days.join(","))?;
        }
        if self.by_day.iter().any(|m| *m != 0) {
            let mut days = Vec::new();
            for (code, mask) in WEEKDAY_CODES.iter().zip(self.by_day) {
                if mask & 1 != 0 {
                    days.push((*code).to_string());
                }
                for n in (1..=5).rev() {
                    if mask & (1 << (5 + n)) != 0 {
                        days.push(format!("-{n}{code}"));
                    }
                }
                for n in 1..=5 {
                    if mask & (1 << n) != 0 {
                        days.push(format!("{n}{code}"));
                    }
                }
            }
            write!(f, ";BYDAY={}", days.join(","))?;
        }
        if let Some(wkst) = self.wkst {
            write!(f, ";WKST={}", WEEKDAY_CODES[weekday_index(wkst)])?;
        }
        match self.end {
            Some(End::Count(count)) => write!(f, ";COUNT={count}"),
            Some(End::UntilDate(day)) => write!(f, ";UNTIL={}", day.format("%Y%m%d")),
            Some(End::UntilInstant(at)) => write!(f, ";UNTIL={}", at.format("%Y%m%dT%H%M%SZ")),
            None => Ok(()),
        }
    }
}

fn parse_freq(value: &str) -> Result<Freq, String> {
    match value {
        "DAILY" => Ok(Freq::Daily),
        "WEEKLY" => Ok(Freq::Weekly),
        "MONTHLY" => Ok(Freq::Monthly),
        "YEARLY" => Ok(Freq::Yearly),
        "HOURLY" | "MINUTELY" | "SECONDLY" => Err(format!(
            "FREQ={value} is not supported (supported: DAILY, WEEKLY, MONTHLY, YEARLY)"
        )),
        _ => Err("FREQ must be one of DAILY, WEEKLY, MONTHLY, YEARLY".to_string()),
    }
}

/// A whole number without sign or spaces; `str::parse` alone would take `+5`.
fn parse_unsigned(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// A number with an optional sign, as BYDAY ordinals and BYMONTHDAY allow.
fn parse_signed(value: &str) -> Option<i32> {
    let (negative, digits) = match value.as_bytes().first() {
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        _ => (false, value),
    };
    let magnitude = i32::try_from(parse_unsigned(digits)?).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

fn parse_interval(value: &str) -> Result<u16, String> {
    parse_unsigned(value)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| (1..=MAX_INTERVAL).contains(n))
        .ok_or_else(|| format!("INTERVAL must be a whole number from 1 to {MAX_INTERVAL}"))
}

fn parse_count(value: &str) -> Result<u16, String> {
    parse_unsigned(value)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| (1..=MAX_COUNT).contains(n))
        .ok_or_else(|| format!("COUNT must be a whole number from 1 to {MAX_COUNT}"))
}

fn parse_by_month(value: &str) -> Result<u16, String> {
    value.split(',').try_fold(0u16, |mask, item| {
        let month = parse_unsigned(item.trim())
            .filter(|m| (1..=12).contains(m))
            .ok_or_else(|| {
                format!("BYMONTH: `{item}` is not a month; months are numbers from 1 to 12")
            })?;
        Ok(mask | 1 << month)
    })
}

fn parse_by_month_day(value: &str) -> Result<u64, String> {
    value.split(',').try_fold(0u64, |mask, item| {
        let day = parse_signed(item.trim())
            .filter(|d| (1..=31).contains(&d.abs()))
            .ok_or_else(|| {
                format!(
                    "BYMONTHDAY: `{item}` is not a day of the month; \
                     days are 1 to 31, or -1 to -31 counted from the month's end"
                )
            })?;
        let bit = if day > 0 { day - 1 } else { 31 - day };
        Ok(mask | 1 << bit)
    })
}

fn parse_by_day(value: &str) -> Result<[u16; 7], String> {
    let mut masks = [0u16; 7];
    for item in value.split(',').map(str::trim) {
        let refusal = || {
            format!(
                "BYDAY: `{item}` is not a weekday (MO, TU, WE, TH, FR, SA, SU) with an \
                 optional ordinal from 1 to 5 or -1 to -5, like 2FR or -1MO"
            )
        };
        let split = item.len().checked_sub(2).ok_or_else(refusal)?;
        let (ordinal, code) = match (item.get(..split), item.get(split..)) {
            (Some(ordinal), Some(code)) => (ordinal, code),
            _ => return Err(refusal()),
        };
        let weekday = parse_weekday(code).ok_or_else(refusal)?;
        let bit = if ordinal.is_empty() {
            0
        } else {
            match parse_signed(ordinal).ok_or_else(refusal)? {
                n @ 1..=5 => n,
                n @ -5..=-1 => 5 - n,
                _ => return Err(refusal()),
            }
        };
        masks[weekday_index(weekday)] |= 1 << bit;
    }
    Ok(masks)
}

fn parse_weekday(code: &str) -> Option<Weekday> {
    match code {
        "MO" => Some(Weekday::Mon),
        "TU" => Some(Weekday::Tue),
        "WE" => Some(Weekday::Wed),
        "TH" => Some(Weekday::Thu),
        "FR" => Some(Weekday::Fri),
        "SA" => Some(Weekday::Sat),
        "SU" => Some(Weekday::Sun),
        _ => None,
    }
}

/// A DATE (`20271231`) or a UTC DATE-TIME (`20271231T235959Z`). A floating
/// date-time is refused: its meaning would depend on a zone the rule lacks.
fn parse_until(value: &str) -> Result<End, String> {
    let refusal =
        || "UNTIL must be a date (20271231) or a UTC date-time (20271231T235959Z)".to_string();
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !value.is_ascii() {
        return Err(refusal());
    }
    match value.len() {
        8 if digits(value) => NaiveDate::parse_from_str(value, "%Y%m%d")
            .map(End::UntilDate)
            .map_err(|_| refusal()),
        16 if value.ends_with('Z') && digits(&value[..8]) && digits(&value[9..15]) => {
            NaiveDateTime::parse_from_str(&value[..15], "%Y%m%dT%H%M%S")
                .map(|at| End::UntilInstant(at.and_utc()))
                .map_err(|_| refusal())
        }
        _ => Err(refusal()),
    }
}

fn weekday_index(weekday: Weekday) -> usize {
    weekday.num_days_from_monday() as usize
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn days_in_month(day: NaiveDate) -> u32 {
    (28..=31)
        .rev()
        .find(|d| day.with_day(*d).is_some())
        .unwrap_or(28)
}

/// The instant of a local date and time in `tz`. In a spring-forward gap
/// the time moves forward by the gap (02:30 becomes 03:30 in Berlin); in a
/// fall-back overlap the earlier instant wins, as RFC 5545 asks.
fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(at) = tz.from_local_datetime(&local).earliest() {
        return Some(at.with_timezone(&Utc));
    }
    // In the gap: read the wall time with the offset in force before it.
    let before = local.checked_sub_days(Days::new(1))?;
    let offset: FixedOffset = tz.offset_from_utc_datetime(&before).fix();
    let utc = local.checked_sub_signed(chrono::Duration::seconds(i64::from(
        offset.local_minus_utc(),
    )))?;
    Some(utc.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Berlin;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn rule(text: &str) -> RRule {
        RRule::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn supported_rules_parse_to_their_canonical_text() {
        let cases = [
            ("FREQ=DAILY", "RRULE:FREQ=DAILY"),
            (
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
                "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
            ),
            (
                "freq=weekly;interval=2;byday=mo",
                "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
            ),
            (
                "RRULE:FREQ=MONTHLY;BYMONTHDAY=15",
                "RRULE:FREQ=MONTHLY;BYMONTHDAY=15",
            ),
            (
                "rrule:freq=monthly;byday=-1fr",
                "RRULE:FREQ=MONTHLY;BYDAY=-1FR",
            ),
            ("  RRULE:FREQ=DAILY;  ", "RRULE:FREQ=DAILY"),
            ("FREQ=DAILY;INTERVAL=1", "RRULE:FREQ=DAILY"),
            ("FREQ=DAILY;INTERVAL=999", "RRULE:FREQ=DAILY;INTERVAL=999"),
            (
                "FREQ=MONTHLY;BYDAY=2FR,+1TU",
                "RRULE:FREQ=MONTHLY;BYDAY=1TU,2FR",
            ),
            (
                "FREQ=MONTHLY;BYDAY=1MO,MO,-1MO",
                "RRULE:FREQ=MONTHLY;BYDAY=MO,-1MO,1MO",
            ),
            (
                "FREQ=MONTHLY;BYMONTHDAY=15,-1,1,+2",
                "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1,1,2,15",
            ),
            (
                "FREQ=YEARLY;BYMONTHDAY=3;BYMONTH=3",
                "RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=3",
            ),
            (
                "FREQ=YEARLY;BYMONTH=12,1,6",
                "RRULE:FREQ=YEARLY;BYMONTH=1,6,12",
            ),
            (
                "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
                "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
            ),
            (
                "FREQ=WEEKLY;BYDAY=FR,MO,WE;WKST=SU",
                "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;WKST=SU",
            ),
            (
                "FREQ=DAILY;BYDAY=SA,SU;BYMONTH=7",
                "RRULE:FREQ=DAILY;BYMONTH=7;BYDAY=SA,SU",
            ),
            ("FREQ=DAILY;COUNT=10", "RRULE:FREQ=DAILY;COUNT=10"),
            ("FREQ=DAILY;COUNT=10000", "RRULE:FREQ=DAILY;COUNT=10000"),
            (
                "FREQ=DAILY;UNTIL=20271231",
                "RRULE:FREQ=DAILY;UNTIL=20271231",
            ),
            (
                "FREQ=DAILY;until=20271231t235959z",
                "RRULE:FREQ=DAILY;UNTIL=20271231T235959Z",
            ),
            (
                "COUNT=3;WKST=MO;BYDAY=MO;INTERVAL=3;FREQ=WEEKLY",
                "RRULE:FREQ=WEEKLY;INTERVAL=3;BYDAY=MO;WKST=MO;COUNT=3",
            ),
        ];
        for (input, canonical) in cases {
            let parsed = rule(input);
            assert_eq!(parsed.to_string(), canonical, "{input}");
            assert_eq!(RRule::parse(canonical), Ok(parsed), "round trip of {input}");
        }
    }

    #[test]
    fn count_is_known_only_for_a_rule_with_count() {
        assert_eq!(rule("FREQ=DAILY;COUNT=3").count(), Some(3));
        assert_eq!(rule("FREQ=DAILY;UNTIL=20271231").count(), None);
        assert_eq!(rule("FREQ=DAILY").count(), None);
    }

    #[test]
    fn unsupported_or_malformed_rules_are_refused_naming_the_part() {
        let cases = [
            (
                "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO",
                "BYSETPOS is not supported (supported: FREQ,",
            ),
            ("FREQ=YEARLY;BYWEEKNO=20", "BYWEEKNO is not supported"),
            ("FREQ=YEARLY;BYYEARDAY=100", "BYYEARDAY is not supported"),
            ("FREQ=DAILY;BYHOUR=9", "BYHOUR is not supported"),
            ("FREQ=DAILY;X-NAME=1", "X-NAME is not supported"),
            ("FREQ=HOURLY", "FREQ=HOURLY is not supported"),
            ("FREQ=MINUTELY", "FREQ=MINUTELY is not supported"),
            ("FREQ=FORTNIGHTLY", "FREQ must be one of"),
            (
                "FREQ=DAILY;INTERVAL=0",
                "INTERVAL must be a whole number from 1 to 999",
            ),
            (
                "FREQ=DAILY;INTERVAL=1000",
                "INTERVAL must be a whole number from 1 to 999",
            ),
            ("FREQ=DAILY;INTERVAL=+2", "INTERVAL must be"),
            ("FREQ=DAILY;INTERVAL=", "INTERVAL must be"),
            ("FREQ=WEEKLY;BYDAY=XX", "BYDAY: `XX`"),
            ("FREQ=MONTHLY;BYDAY=6MO", "BYDAY: `6MO`"),
            ("FREQ=MONTHLY;BYDAY=0MO", "BYDAY: `0MO`"),
            ("FREQ=MONTHLY;BYDAY=-6MO", "BYDAY: `-6MO`"),
            ("FREQ=MONTHLY;BYDAY=MO,", "BYDAY: ``"),
            ("FREQ=MONTHLY;BYDAY=M", "BYDAY: `M`"),
            ("FREQ=WEEKLY;BYDAY=1MO", "BYDAY ordinals"),
            ("FREQ=DAILY;BYDAY=-1FR", "BYDAY ordinals"),
            ("FREQ=YEARLY;BYDAY=1MO", "BYDAY ordinals"),
            (
                "FREQ=WEEKLY;BYMONTHDAY=1",
                "BYMONTHDAY is not allowed with FREQ=WEEKLY",
            ),
            ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY: `0`"),
            ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY: `32`"),
            ("FREQ=MONTHLY;BYMONTHDAY=-32", "BYMONTHDAY: `-32`"),
            ("FREQ=YEARLY;BYMONTH=13", "BYMONTH: `13`"),
            ("FREQ=YEARLY;BYMONTH=0", "BYMONTH: `0`"),
            (
                "FREQ=DAILY;COUNT=0",
                "COUNT must be a whole number from 1 to 10000",
            ),
            ("FREQ=DAILY;COUNT=10001", "COUNT must be"),
            (
                "FREQ=DAILY;COUNT=3;UNTIL=20271231",
                "COUNT and UNTIL cannot both be given",
            ),
            ("FREQ=DAILY;UNTIL=20271231T235959", "UNTIL must be a date"),
            ("FREQ=DAILY;UNTIL=20270230", "UNTIL must be a date"),
            ("FREQ=DAILY;UNTIL=2027-12-31", "UNTIL must be a date"),
            ("FREQ=DAILY;WKST=XX", "WKST must be one of"),
            ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given more than once"),
            (
                "FREQ=DAILY;COUNT=2;COUNT=3",
                "COUNT is given more than once",
            ),
            ("INTERVAL=2", "FREQ is required"),
            ("FREQ", "`FREQ` is not a NAME=VALUE part"),
            ("FREQ=DAILY;=2", "`=2` is not a NAME=VALUE part"),
            ("", "the rule is empty: FREQ is required"),
            ("RRULE:", "the rule is empty"),
            (" ; ", "the rule is empty"),
        ];
        for (input, expected) in cases {
            match RRule::parse(input) {
                Ok(parsed) => panic!("{input:?} parsed as {parsed}"),
                Err(message) => {
                    assert!(
                        message.contains(expected),
                        "{input:?}: {message:?} lacks {expected:?}"
                    )
                }
            }
        }
    }

    /// (rule, due day, its occurrence number, the next day)
    const DAY_CASES: &[(&str, &str, u32, Option<&str>)] = &[
        // "every other Monday"
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
            "2026-01-05",
            1,
            Some("2026-01-19"),
        ),
        // "every weekday": Friday goes on to Monday
        (
            "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
            "2026-01-09",
            1,
            Some("2026-01-12"),
        ),
        (
            "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
            "2026-01-06",
            1,
            Some("2026-01-07"),
        ),
        // weekly without BYDAY keeps the due's weekday
        ("FREQ=WEEKLY", "2026-01-07", 1, Some("2026-01-14")),
        ("FREQ=WEEKLY;BYMONTH=3", "2026-03-25", 1, Some("2027-03-03")),
        // the week starts on WKST, which decides what "every other week" skips
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU",
            "2026-01-05",
            1,
            Some("2026-01-11"),
        ),
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU;WKST=SU",
            "2026-01-05",
            1,
            Some("2026-01-18"),
        ),
        // "every 3 days"
        ("FREQ=DAILY;INTERVAL=3", "2026-01-30", 1, Some("2026-02-02")),
        (
            "FREQ=DAILY;BYDAY=MO,WE",
            "2026-01-05",
            1,
            Some("2026-01-07"),
        ),
        (
            "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29",
            "2024-02-29",
            1,
            Some("2028-02-29"),
        ),
        // "on the 15th of every month"
        (
            "FREQ=MONTHLY;BYMONTHDAY=15",
            "2026-01-15",
            1,
            Some("2026-02-15"),
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=15",
            "2026-12-15",
            1,
            Some("2027-01-15"),
        ),
        (
            "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=1,15",
            "2026-01-15",
            1,
            Some("2026-03-01"),
        ),
        (
            "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=1,15",
            "2026-01-01",
            1,
            Some("2026-01-15"),
        ),
        // "every last Friday"
        (
            "FREQ=MONTHLY;BYDAY=-1FR",
            "2026-01-30",
            1,
            Some("2026-02-27"),
        ),
        // the second Friday
        (
            "FREQ=MONTHLY;BYDAY=2FR",
            "2026-01-09",
            1,
            Some("2026-02-13"),
        ),
        // Friday the 13th: both parts must hold
        (
            "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
            "2026-03-13",
            1,
            Some("2026-11-13"),
        ),
        ("FREQ=MONTHLY;BYDAY=MO", "2026-01-26", 1, Some("2026-02-02")),
        // the last day of the month
        (
            "FREQ=MONTHLY;BYMONTHDAY=-1",
            "2026-01-31",
            1,
            Some("2026-02-28"),
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=-1",
            "2028-01-31",
            1,
            Some("2028-02-29"),
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=-1",
            "2026-02-28",
            1,
            Some("2026-03-31"),
        ),
        // months without a 31st are skipped, RFC style
        (
            "FREQ=MONTHLY;BYMONTHDAY=31",
            "2026-01-31",
            1,
            Some("2026-03-31"),
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=31",
            "2026-03-31",
            1,
            Some("2026-05-31"),
        ),
        ("FREQ=MONTHLY", "2026-01-31", 1, Some("2026-03-31")),
        (
            "FREQ=MONTHLY;BYMONTH=1,7;BYDAY=1MO",
            "2026-01-05",
            1,
            Some("2026-07-06"),
        ),
        // "every year on 3 March"
        (
            "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=3",
            "2026-03-03",
            1,
            Some("2027-03-03"),
        ),
        ("FREQ=YEARLY", "2026-03-03", 1, Some("2027-03-03")),
        // 29 February happens in leap years only
        ("FREQ=YEARLY", "2024-02-29", 1, Some("2028-02-29")),
        (
            "FREQ=YEARLY;INTERVAL=2;BYMONTH=1,6",
            "2026-01-10",
            1,
            Some("2026-06-10"),
        ),
        (
            "FREQ=YEARLY;INTERVAL=2;BYMONTH=1,6",
            "2026-06-10",
            1,
            Some("2028-01-10"),
        ),
        // Thanksgiving
        (
            "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
            "2026-11-26",
            1,
            Some("2027-11-25"),
        ),
        // RFC 5545: BYMONTHDAY without BYMONTH expands a YEARLY rule over the year
        (
            "FREQ=YEARLY;BYMONTHDAY=1",
            "2026-01-01",
            1,
            Some("2026-02-01"),
        ),
        // COUNT: occurrence 3 of 3 is the last
        ("FREQ=DAILY;COUNT=3", "2026-01-01", 1, Some("2026-01-02")),
        ("FREQ=DAILY;COUNT=3", "2026-01-02", 2, Some("2026-01-03")),
        ("FREQ=DAILY;COUNT=3", "2026-01-03", 3, None),
        ("FREQ=DAILY;COUNT=1", "2026-01-01", 1, None),
        // UNTIL a date includes that day
        (
            "FREQ=DAILY;UNTIL=20260110",
            "2026-01-09",
            4,
            Some("2026-01-10"),
        ),
        ("FREQ=DAILY;UNTIL=20260110", "2026-01-10", 5, None),
        (
            "FREQ=DAILY;UNTIL=20260110T000000Z",
            "2026-01-09",
            1,
            Some("2026-01-10"),
        ),
        ("FREQ=DAILY;UNTIL=20260109T235959Z", "2026-01-09", 1, None),
        // never happens: None, not a hang
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "2026-01-01", 1, None),
        (
            "FREQ=MONTHLY;BYMONTH=4,6,9,11;BYMONTHDAY=31",
            "2026-01-01",
            1,
            None,
        ),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=-30", "2026-01-01", 1, None),
        ("FREQ=MONTHLY;BYMONTHDAY=1;BYDAY=5MO", "2026-01-01", 1, None),
    ];

    #[test]
    fn next_dates_follow_the_rule() {
        for (text, day, occurrence, expected) in DAY_CASES {
            let next = rule(text).next_date_after(date(day), *occurrence);
            assert_eq!(next, expected.map(date), "{text} after {day}");
        }
    }

    #[test]
    fn next_times_keep_the_dates_of_the_rule_at_the_dues_local_time() {
        for (text, day, occurrence, expected) in DAY_CASES {
            let due = resolve_local(Berlin, date(day).and_hms_opt(10, 15, 0).unwrap()).unwrap();
            let next = rule(text).next_after(due, Berlin, *occurrence);
            let next_local = next.map(|at| at.with_timezone(&Berlin).naive_local());
            let expected = expected.map(|d| date(d).and_hms_opt(10, 15, 0).unwrap());
            // The date-time UNTIL cases are about midnight UTC, not 10:15 Berlin.
            if !text.contains("UNTIL=20260109T") && !text.contains("T000000Z") {
                assert_eq!(next_local, expected, "{text} after {day}");
            }
        }
    }

    #[test]
    fn next_times_across_dst_keep_the_local_wall_clock() {
        let cases = [
            // "every Monday 9:00" in Berlin over the last Sunday of March ...
            (
                "FREQ=WEEKLY;BYDAY=MO",
                Berlin,
                "2026-03-23T08:00:00Z",
                "2026-03-30T07:00:00Z",
            ),
            // ... and of October
            (
                "FREQ=WEEKLY;BYDAY=MO",
                Berlin,
                "2026-10-19T07:00:00Z",
                "2026-10-26T08:00:00Z",
            ),
            // 02:30 does not exist on the spring-forward night: 03:30 that day
            (
                "FREQ=DAILY",
                Berlin,
                "2026-03-28T01:30:00Z",
                "2026-03-29T01:30:00Z",
            ),
            // 02:30 happens twice on the fall-back night: the first one
            (
                "FREQ=DAILY",
                Berlin,
                "2026-10-24T00:30:00Z",
                "2026-10-25T00:30:00Z",
            ),
            (
                "FREQ=WEEKLY;BYDAY=MO",
                New_York,
                "2026-03-02T14:00:00Z",
                "2026-03-09T13:00:00Z",
            ),
            (
                "FREQ=WEEKLY;BYDAY=MO",
                New_York,
                "2026-10-26T13:00:00Z",
                "2026-11-02T14:00:00Z",
            ),
            (
                "FREQ=DAILY",
                New_York,
                "2026-03-07T07:30:00Z",
                "2026-03-08T07:30:00Z",
            ),
            (
                "FREQ=DAILY",
                New_York,
                "2026-10-31T05:30:00Z",
                "2026-11-01T05:30:00Z",
            ),
            // "last Friday, 18:00 New York" is a Saturday in UTC: the local date counts
            (
                "FREQ=MONTHLY;BYDAY=-1FR",
                New_York,
                "2026-01-30T23:00:00Z",
                "2026-02-27T23:00:00Z",
            ),
        ];
        for (text, tz, due, expected) in cases {
            let next = rule(text).next_after(utc(due), tz, 1);
            assert_eq!(next, Some(utc(expected)), "{text} in {tz} after {due}");
        }
    }

    #[test]
    fn the_spring_forward_gap_moves_the_time_on_by_the_gap() {
        let at = resolve_local(Berlin, date("2026-03-29").and_hms_opt(2, 30, 0).unwrap());
        let local = at.map(|t| t.with_timezone(&Berlin).naive_local());
        assert_eq!(local, date("2026-03-29").and_hms_opt(3, 30, 0));
    }

    #[test]
    fn until_a_date_lasts_through_that_local_day() {
        let daily = rule("FREQ=DAILY;UNTIL=20260110");
        // 23:30 Berlin on the 10th is 22:30 UTC: still the 10th locally.
        let next = daily.next_after(utc("2026-01-09T22:30:00Z"), Berlin, 1);
        assert_eq!(next, Some(utc("2026-01-10T22:30:00Z")));
        assert_eq!(
            daily.next_after(utc("2026-01-10T22:30:00Z"), Berlin, 2),
            None
        );
    }

    #[test]
    fn until_a_date_time_includes_an_occurrence_at_that_instant_only() {
        let daily = rule("FREQ=DAILY;UNTIL=20260110T080000Z");
        let at_nine = daily.next_after(utc("2026-01-09T08:00:00Z"), Berlin, 1);
        assert_eq!(at_nine, Some(utc("2026-01-10T08:00:00Z")));
        assert_eq!(
            daily.next_after(utc("2026-01-09T08:30:00Z"), Berlin, 1),
            None
        );
    }

    #[test]
    fn count_ends_the_series_at_its_last_occurrence() {
        let three = rule("FREQ=WEEKLY;COUNT=3");
        let due = utc("2026-01-05T09:00:00Z");
        assert_eq!(
            three.next_after(due, Berlin, 2),
            Some(utc("2026-01-12T09:00:00Z"))
        );
        assert_eq!(three.next_after(due, Berlin, 3), None);
    }

    #[test]
    fn a_rule_that_never_matches_gives_up_quickly() {
        let started = std::time::Instant::now();
        for text in [
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
            "FREQ=DAILY;INTERVAL=7;BYDAY=TU",
            "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31;INTERVAL=12",
            "FREQ=YEARLY;INTERVAL=999;BYMONTH=2;BYMONTHDAY=30",
        ] {
            let next = rule(text).next_after(utc("2026-01-01T09:00:00Z"), Berlin, 1);
            assert_eq!(next, None, "{text}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn the_far_future_ends_the_search_instead_of_overflowing() {
        let every_999_years = rule("FREQ=YEARLY;INTERVAL=999");
        assert_eq!(every_999_years.next_date_after(NaiveDate::MAX, 1), None);
        assert_eq!(rule("FREQ=DAILY").next_date_after(NaiveDate::MAX, 1), None);
    }
}
