//! The iCalendar (RFC 5545) layer of the CalDAV server: it reads the VCALENDAR
//! a client PUTs into a [`TodoObject`], and writes a todo back with [`render`].
//! Clients store more than the app maps (sort orders, parent links, their own
//! X- properties), so `render` starts from what the client stored and rewrites
//! only what the app changed. Pure code: no I/O, no clock.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::rc::Rc;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// Longest UID we accept: it becomes part of a resource name and a database key.
pub const MAX_UID_CHARS: usize = 255;

/// Lines longer than this many octets are folded (RFC 5545 §3.1).
const FOLD_OCTETS: usize = 75;

/// Deepest nesting of components we read. Real calendars nest four deep at
/// most (VCALENDAR, VTODO, VALARM, VLOCATION); without a bound, a body of
/// nested BEGIN lines would overflow the stack when the tree is dropped.
const MAX_DEPTH: usize = 8;

/// How many years back a VTIMEZONE rule is searched for its latest onset.
const MAX_RULE_YEARS_BACK: usize = 50;

/// What we write as PRODID into calendars we create.
const PRODID: &str = "-//todo-spin//CalDAV//EN";

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a text is not an iCalendar object we can take. The message is meant
/// for the person whose client sent it, so it names the property or line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcalError {
    line: Option<usize>,
    message: String,
}

impl IcalError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            line: None,
            message: message.into(),
        }
    }

    fn at(line: usize, message: impl Into<String>) -> Self {
        Self {
            line: Some(line),
            message: message.into(),
        }
    }

    /// The 1-based line of the text the problem starts on, when it is known
    /// (problems found after parsing, like a bad DUE, name the property instead).
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The message without the line number.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for IcalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for IcalError {}

/// At most 60 characters of `text`, for quoting client input in a message.
fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(MAX).collect();
        short.push('…');
        short
    }
}

// ---------------------------------------------------------------------------
// Content lines and components
// ---------------------------------------------------------------------------

/// One content line, `NAME;PARAM=value:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Upper-cased: iCalendar names are case-insensitive.
    pub name: String,
    /// Parameter names upper-cased, values as sent without their DQUOTEs.
    /// A list value (`MEMBER="a","b"`) is joined with commas.
    pub params: Vec<(String, String)>,
    /// The raw value text, still escaped: only the property knows its type.
    pub value: String,
}

impl Property {
    /// A property without parameters; `value` must already be escaped.
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        Self {
            name: name.to_ascii_uppercase(),
            params: Vec::new(),
            value: value.into(),
        }
    }

    /// This property with one more parameter.
    pub fn with_param(mut self, name: &str, value: impl Into<String>) -> Self {
        self.params.push((name.to_ascii_uppercase(), value.into()));
        self
    }

    /// The value of the first parameter called `name` (any case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value read as TEXT: escapes resolved.
    pub fn text(&self) -> String {
        unescape_text(&self.value)
    }

    /// The unfolded content line.
    fn to_line(&self) -> String {
        let mut line = self.name.clone();
        for (name, value) in &self.params {
            line.push(';');
            line.push_str(name);
            line.push('=');
            if value.contains([':', ';', ',']) || value.starts_with('"') {
                // A DQUOTE cannot appear inside a quoted value (RFC 5545 has no
                // escape for it); an apostrophe keeps the text readable.
                line.push('"');
                line.push_str(&value.replace('"', "'"));
                line.push('"');
            } else {
                line.push_str(value);
            }
        }
        line.push(':');
        line.push_str(&self.value);
        line
    }
}

/// A `BEGIN:NAME` … `END:NAME` block: its properties in order, then its
/// sub-components in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Upper-cased, e.g. `VTODO`.
    pub name: String,
    pub props: Vec<Property>,
    pub children: Vec<Component>,
}

impl Component {
    /// An empty component.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_ascii_uppercase(),
            props: Vec::new(),
            children: Vec::new(),
        }
    }

    /// The first property called `name` (any case).
    pub fn prop(&self, name: &str) -> Option<&Property> {
        self.props
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Every property called `name` (any case), in order.
    pub fn props_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Property> + 'a {
        self.props
            .iter()
            .filter(move |p| p.name.eq_ignore_ascii_case(name))
    }

    /// Every sub-component called `name` (any case), in order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Component> + 'a {
        self.children
            .iter()
            .filter(move |c| c.name.eq_ignore_ascii_case(name))
    }

    /// The component as iCalendar text: CRLF line ends, lines folded at 75
    /// octets.
    pub fn to_ics(&self) -> String {
        let mut out = String::new();
        self.write_to(&mut out);
        out
    }

    fn write_to(&self, out: &mut String) {
        push_folded(out, &format!("BEGIN:{}", self.name));
        for prop in &self.props {
            push_folded(out, &prop.to_line());
        }
        for child in &self.children {
            child.write_to(out);
        }
        push_folded(out, &format!("END:{}", self.name));
    }
}

/// Appends `line` folded into physical lines of at most 75 octets, each cut on
/// a character boundary so that no line holds half a UTF-8 character.
fn push_folded(out: &mut String, line: &str) {
    let mut rest = line;
    // The continuation's leading space counts towards its 75 octets.
    let mut room = FOLD_OCTETS;
    while rest.len() > room {
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        room = FOLD_OCTETS - 1;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

/// Escapes `text` as an iCalendar TEXT value. Line breaks become `\n`; other
/// control characters (which no TEXT value may hold) are dropped.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Resolves TEXT escapes. An unknown escape such as `\:` is kept as it is:
/// sloppy clients send Windows paths unescaped, and we would rather show a
/// backslash than lose one.
fn unescape_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(c @ ('\\' | ';' | ',')) => out.push(c),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Splits a TEXT list (CATEGORIES) on the commas that are not escaped, and
/// unescapes each item.
fn split_text_list(raw: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push('\\');
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ',' => items.push(unescape_text(&std::mem::take(&mut current))),
            c => current.push(c),
        }
    }
    items.push(unescape_text(&current));
    items
}

/// Parses iCalendar text into its one top-level VCALENDAR.
///
/// Lenient where clients differ harmlessly (LF or CRLF, blank lines, a BOM,
/// name case), strict where a mistake would lose data (nesting, quoting,
/// control characters).
pub fn parse(text: &str) -> Result<Component, IcalError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // (line number where the component began, component)
    let mut open: Vec<(usize, Component)> = Vec::new();
    let mut root: Option<Component> = None;
    for (number, line) in unfold(text)? {
        if line.is_empty() {
            continue;
        }
        if root.is_some() {
            return Err(IcalError::at(
                number,
                "nothing may follow END:VCALENDAR (one calendar object per resource)",
            ));
        }
        let prop = parse_content_line(&line).map_err(|message| IcalError::at(number, message))?;
        match prop.name.as_str() {
            "BEGIN" => {
                let name = component_name(&prop.value)
                    .map_err(|message| IcalError::at(number, message))?;
                if open.is_empty() && name != "VCALENDAR" {
                    return Err(IcalError::at(
                        number,
                        format!(
                            "an iCalendar object starts with BEGIN:VCALENDAR, not BEGIN:{name}"
                        ),
                    ));
                }
                if open.len() >= MAX_DEPTH {
                    return Err(IcalError::at(
                        number,
                        format!("components nest more than {MAX_DEPTH} deep"),
                    ));
                }
                open.push((number, Component::new(&name)));
            }
            "END" => {
                let name = component_name(&prop.value)
                    .map_err(|message| IcalError::at(number, message))?;
                let Some((began, done)) = open.pop() else {
                    return Err(IcalError::at(
                        number,
                        format!("END:{name} has no matching BEGIN:{name}"),
                    ));
                };
                if done.name != name {
                    return Err(IcalError::at(
                        number,
                        format!(
                            "END:{name} does not match BEGIN:{} on line {began}",
                            done.name
                        ),
                    ));
                }
                match open.last_mut() {
                    Some((_, parent)) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            _ => match open.last_mut() {
                Some((_, component)) => component.props.push(prop),
                None => {
                    return Err(IcalError::at(
                        number,
                        format!("the property {} comes before BEGIN:VCALENDAR", prop.name),
                    ))
                }
            },
        }
    }
    if let Some((began, component)) = open.last() {
        return Err(IcalError::at(
            *began,
            format!("BEGIN:{0} is never closed by END:{0}", component.name),
        ));
    }
    root.ok_or_else(|| {
        IcalError::new("the text holds no iCalendar object (BEGIN:VCALENDAR … END:VCALENDAR)")
    })
}

/// Joins folded lines. Each logical line carries the number of its first
/// physical line, for error messages. Blank lines come through as empty.
fn unfold(text: &str) -> Result<Vec<(usize, String)>, IcalError> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let number = index + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match raw.strip_prefix([' ', '\t']) {
            Some(rest) => {
                match lines.last_mut() {
                    Some((_, line)) if !line.is_empty() => line.push_str(rest),
                    _ if raw.trim().is_empty() => lines.push((number, String::new())),
                    _ => return Err(IcalError::at(
                        number,
                        "the line starts with a space, but there is no line before it to continue",
                    )),
                }
            }
            None => lines.push((number, raw.to_owned())),
        }
    }
    Ok(lines)
}

/// Splits an unfolded content line into name, parameters and value.
fn parse_content_line(line: &str) -> Result<Property, String> {
    if let Some(c) = line.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(format!(
            "the line holds the control character U+{:04X}, which iCalendar does not allow",
            u32::from(c)
        ));
    }
    let not_a_line = || format!("\"{}\" is not a content line (NAME:value)", shorten(line));
    let name_end = line.find([';', ':']).ok_or_else(not_a_line)?;
    let name = checked_name(&line[..name_end]).ok_or_else(not_a_line)?;
    let mut params = Vec::new();
    let mut rest = &line[name_end..];
    loop {
        if let Some(value) = rest.strip_prefix(':') {
            return Ok(Property {
                name,
                params,
                value: value.to_owned(),
            });
        }
        // Otherwise `rest` starts with ';': a parameter follows.
        rest = &rest[1..];
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("a parameter of {name} has no '=' (expected NAME=value)"))?;
        let param_name = checked_name(&rest[..eq])
            .ok_or_else(|| format!("\"{}\" is not a parameter name", shorten(&rest[..eq])))?;
        rest = &rest[eq + 1..];
        let mut values = Vec::new();
        loop {
            if let Some(quoted) = rest.strip_prefix('"') {
                let close = quoted.find('"').ok_or_else(|| {
                    format!("the quoted value of parameter {param_name} has no closing '\"'")
                })?;
                values.push(&quoted[..close]);
                rest = &quoted[close + 1..];
            } else {
                let end = rest
                    .find([',', ';', ':'])
                    .ok_or_else(|| format!("{name} has no ':' before its value"))?;
                values.push(&rest[..end]);
                rest = &rest[end..];
            }
            match rest.strip_prefix(',') {
                Some(more) => rest = more,
                None => break,
            }
        }
        if !rest.starts_with([';', ':']) {
            return Err(format!(
                "unexpected text after the quoted value of parameter {param_name}"
            ));
        }
        params.push((param_name, values.join(",")));
    }
}

/// `name` upper-cased if it is an iana-token or x-name (letters, digits, '-';
/// we also let '_' through, which some X- properties use).
fn checked_name(name: &str) -> Option<String> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then(|| name.to_ascii_uppercase())
}

/// The component name after BEGIN: or END:.
fn component_name(value: &str) -> Result<String, String> {
    checked_name(value.trim())
        .ok_or_else(|| format!("\"{}\" is not a component name", shorten(value)))
}

// ---------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------

/// A DATE or DATE-TIME value, with every date-time resolved to an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcalTime {
    /// An all-day value (`VALUE=DATE`): a day, in no time zone.
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

impl IcalTime {
    /// Reads a DATE or DATE-TIME property. A `TZID` is looked up in the IANA
    /// database first, then in the VTIMEZONEs of `calendar`; a floating time
    /// is read in `default_tz`.
    pub fn from_property(
        prop: &Property,
        calendar: &Component,
        default_tz: Tz,
    ) -> Result<Self, IcalError> {
        Zones::new(calendar, default_tz).time(prop)
    }

    /// The property as we write it: a date as `;VALUE=DATE:YYYYMMDD`, a
    /// date-time in UTC, so no reader needs our time zones.
    pub fn to_property(&self, name: &str) -> Property {
        match self {
            IcalTime::Date(date) => {
                Property::new(name, date.format("%Y%m%d").to_string()).with_param("VALUE", "DATE")
            }
            IcalTime::DateTime(at) => Property::new(name, utc_stamp(*at)),
        }
    }

    /// The instant; a date counts as its midnight in `tz`.
    pub fn start_in(&self, tz: Tz) -> DateTime<Utc> {
        match self {
            IcalTime::Date(date) => Zone::Iana(tz).to_utc(date.and_time(NaiveTime::MIN)),
            IcalTime::DateTime(at) => *at,
        }
    }
}

/// The time zones of one calendar object, each read at most once: a client
/// may send thousands of overrides that all name one large VTIMEZONE.
struct Zones<'a> {
    calendar: &'a Component,
    default_tz: Tz,
    read: RefCell<BTreeMap<String, Rc<Zone>>>,
}

impl<'a> Zones<'a> {
    fn new(calendar: &'a Component, default_tz: Tz) -> Self {
        Self {
            calendar,
            default_tz,
            read: RefCell::new(BTreeMap::new()),
        }
    }

    fn zone(&self, tzid: &str) -> Result<Rc<Zone>, String> {
        if let Some(zone) = self
            .read
            .try_borrow()
            .ok()
            .and_then(|read| read.get(tzid).cloned())
        {
            return Ok(zone);
        }
        let zone = Rc::new(Zone::resolve(tzid, self.calendar)?);
        if let Ok(mut read) = self.read.try_borrow_mut() {
            read.insert(tzid.to_owned(), Rc::clone(&zone));
        }
        Ok(zone)
    }

    /// See [`IcalTime::from_property`].
    fn time(&self, prop: &Property) -> Result<IcalTime, IcalError> {
        let raw = prop.value.trim();
        let invalid = || {
            IcalError::new(format!(
                "{}: \"{}\" is not a valid date or date-time (YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ)",
                prop.name,
                shorten(raw)
            ))
        };
        // VALUE=DATE-TIME with a bare date is a common slip; the date is meant.
        let date_only = match prop.param("VALUE").map(str::to_ascii_uppercase).as_deref() {
            Some("DATE") => true,
            Some("DATE-TIME") | None => raw.len() == 8,
            Some(other) => {
                return Err(IcalError::new(format!(
                    "{}: VALUE={other} is not supported here; use a date or date-time",
                    prop.name
                )))
            }
        };
        if date_only {
            return parse_date(raw).map(IcalTime::Date).ok_or_else(invalid);
        }
        let (local, is_utc) = parse_date_time(raw).ok_or_else(invalid)?;
        if is_utc {
            return Ok(IcalTime::DateTime(Utc.from_utc_datetime(&local)));
        }
        let at = match prop.param("TZID") {
            Some(tzid) => self
                .zone(tzid)
                .map_err(|message| IcalError::new(format!("{}: {message}", prop.name)))?
                .to_utc(local),
            None => Zone::Iana(self.default_tz).to_utc(local),
        };
        Ok(IcalTime::DateTime(at))
    }

    /// The property's time if it is there and valid.
    fn time_of(&self, prop: Option<&Property>) -> Option<IcalTime> {
        prop.and_then(|p| self.time(p).ok())
    }
}

/// `YYYYMMDDTHHMMSSZ`.
fn utc_stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Two-digit (or four-digit) decimal field, digits only.
fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `YYYYMMDD`.
fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 8 {
        return None;
    }
    let year = i32::try_from(digits(text.get(0..4)?)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(text.get(4..6)?)?, digits(text.get(6..8)?)?)
}

/// `YYYYMMDDTHHMMSS` with an optional `Z`; the flag says whether it was UTC.
fn parse_date_time(text: &str) -> Option<(NaiveDateTime, bool)> {
    let (text, is_utc) = match text.strip_suffix(['Z', 'z']) {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let (date, time) = text.split_once(['T', 't'])?;
    if time.len() != 6 {
        return None;
    }
    let date = parse_date(date)?;
    // A leap second (60) is real but chrono cannot hold it at this precision.
    let second = digits(time.get(4..6)?)?.min(59);
    let time = NaiveTime::from_hms_opt(digits(time.get(0..2)?)?, digits(time.get(2..4)?)?, second)?;
    Some((date.and_time(time), is_utc))
}

/// Where a TZID leads.
enum Zone {
    Iana(Tz),
    Defined(VTimezone),
}

impl Zone {
    /// The IANA zone if `tzid` names one, else the calendar's VTIMEZONE for it.
    fn resolve(tzid: &str, calendar: &Component) -> Result<Self, String> {
        if let Some(tz) = iana_zone(tzid) {
            return Ok(Zone::Iana(tz));
        }
        let defined = calendar.children_named("VTIMEZONE").find(|c| {
            c.prop("TZID")
                .is_some_and(|p| p.value.trim() == tzid.trim())
        });
        let Some(vtimezone) = defined else {
            return Err(format!(
                "the time zone \"{}\" is neither an IANA zone name nor defined by a VTIMEZONE in the calendar object",
                shorten(tzid)
            ));
        };
        if let Some(tz) = vtimezone
            .prop("X-LIC-LOCATION")
            .and_then(|p| iana_zone(&p.value))
        {
            return Ok(Zone::Iana(tz));
        }
        VTimezone::parse(vtimezone, tzid).map(Zone::Defined)
    }

    /// The instant the local time `local` means here. Ambiguous times (the
    /// hour repeated when clocks go back) take the earlier instant; times in
    /// the gap when clocks go forward move forward by the gap, as most
    /// clients do.
    fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Zone::Iana(tz) => match tz.from_local_datetime(&local) {
                LocalResult::Single(at) => at.with_timezone(&Utc),
                LocalResult::Ambiguous(a, b) => a.with_timezone(&Utc).min(b.with_timezone(&Utc)),
                LocalResult::None => {
                    // Read the time with the offset in force before the gap;
                    // transitions are months apart, so a day earlier has it.
                    let before = tz
                        .offset_from_utc_datetime(&(local - Duration::days(1)))
                        .fix();
                    Utc.from_utc_datetime(&minus_offset(local, before))
                }
            },
            Zone::Defined(vtimezone) => Utc.from_utc_datetime(&vtimezone.to_utc(local)),
        }
    }
}

/// `local` read with UTC offset `offset`, as a UTC wall time.
fn minus_offset(local: NaiveDateTime, offset: FixedOffset) -> NaiveDateTime {
    local - Duration::seconds(i64::from(offset.local_minus_utc()))
}

/// An IANA zone for `tzid`, also when a client prefixes it the way Mozilla
/// did (`/mozilla.org/20050126_1/Europe/Berlin`): the longest tail that names
/// a zone wins, so `America/Argentina/Buenos_Aires` is not cut short. A tail
/// must be an `Area/Location` name, so that `Custom Zone/GMT` goes to its
/// VTIMEZONE rather than to GMT.
fn iana_zone(tzid: &str) -> Option<Tz> {
    let tzid = tzid.trim();
    let tails = tzid
        .match_indices('/')
        .map(|(i, _)| &tzid[i + 1..])
        .filter(|tail| tail.contains('/'));
    std::iter::once(tzid)
        .chain(tails)
        .find_map(|name| Tz::from_str(name).ok())
}

/// A VTIMEZONE read into its observances (STANDARD and DAYLIGHT parts).
struct VTimezone {
    observances: Vec<Observance>,
}

/// One STANDARD or DAYLIGHT part: from each onset on, `to` is in force.
struct Observance {
    /// Local time, read with `from`.
    onset: NaiveDateTime,
    from: FixedOffset,
    to: FixedOffset,
    rule: Option<YearlyRule>,
    /// Further onsets, local time.
    rdates: Vec<NaiveDateTime>,
}

/// The yearly recurrence of an onset, in the shapes time zones use.
struct YearlyRule {
    month: u32,
    day: RuleDay,
    /// Last onset allowed, UTC.
    until: Option<NaiveDateTime>,
    /// Last year with an onset, from COUNT.
    last_year: Option<i32>,
}

enum RuleDay {
    /// `BYDAY=-1SU`: the last Sunday; `2SU`: the second.
    Nth(i32, Weekday),
    /// `BYDAY=SU;BYMONTHDAY=8,9,…,14`: the first Sunday among those days.
    WeekdayAmong(Weekday, Vec<u32>),
    /// A fixed day of the month.
    MonthDay(u32),
}

impl VTimezone {
    fn parse(vtimezone: &Component, tzid: &str) -> Result<Self, String> {
        let observances = vtimezone
            .children
            .iter()
            .filter(|c| c.name == "STANDARD" || c.name == "DAYLIGHT")
            .map(|c| Observance::parse(c, tzid))
            .collect::<Result<Vec<_>, _>>()?;
        if observances.is_empty() {
            return Err(format!(
                "the VTIMEZONE \"{}\" has no STANDARD or DAYLIGHT part",
                shorten(tzid)
            ));
        }
        Ok(Self { observances })
    }

    /// The UTC offset in force at the UTC wall time `utc`.
    fn offset_at(&self, utc: NaiveDateTime) -> FixedOffset {
        let latest = self
            .observances
            .iter()
            .filter_map(|o| o.latest_onset(utc).map(|at| (at, o.to)))
            .max_by_key(|(at, _)| *at);
        match latest {
            Some((_, offset)) => offset,
            // Before the first onset, the offset it changes from applies.
            None => self
                .observances
                .iter()
                .min_by_key(|o| o.onset)
                .map_or(Utc.fix(), |o| o.from),
        }
    }

    /// The UTC wall time of `local`. Transitions are months apart, so the
    /// offsets in force a day before and a day after are the only ones
    /// `local` can be read with; one that is in force at the instant it
    /// gives is right. (Trying every offset the zone names instead would let
    /// a VTIMEZONE of thousands of parts cost millions of steps.)
    fn to_utc(&self, local: NaiveDateTime) -> NaiveDateTime {
        let before = self.offset_at(local - Duration::days(1));
        let after = self.offset_at(local + Duration::days(1));
        let consistent = [before, after]
            .into_iter()
            .map(|offset| (minus_offset(local, offset), offset))
            .filter(|(at, offset)| self.offset_at(*at) == *offset)
            .map(|(at, _)| at)
            .min();
        // Neither fits in a gap: read it with the offset before the
        // transition, which moves it forward by the gap.
        consistent.unwrap_or_else(|| minus_offset(local, before))
    }
}

impl Observance {
    fn parse(part: &Component, tzid: &str) -> Result<Self, String> {
        let problem = |what: &str| format!("the VTIMEZONE \"{}\": {what}", shorten(tzid));
        let onset = part
            .prop("DTSTART")
            .and_then(|p| parse_date_time(p.value.trim()))
            .map(|(at, _)| at)
            .ok_or_else(|| problem(&format!("its {} part has no valid DTSTART", part.name)))?;
        let offset = |name: &str| {
            part.prop(name)
                .and_then(|p| parse_utc_offset(&p.value))
                .ok_or_else(|| problem(&format!("its {} part has no valid {name}", part.name)))
        };
        let from = offset("TZOFFSETFROM")?;
        let to = offset("TZOFFSETTO")?;
        let rule = part
            .prop("RRULE")
            .map(|p| YearlyRule::parse(&p.value, onset))
            .transpose()
            .map_err(|what| problem(&what))?;
        let rdates = part
            .props_named("RDATE")
            .flat_map(|p| p.value.split(','))
            .filter_map(|v| parse_date_time(v.trim()).map(|(at, _)| at))
            .collect();
        Ok(Self {
            onset,
            from,
            to,
            rule,
            rdates,
        })
    }

    /// The latest onset at or before the UTC wall time `utc`, as UTC.
    fn latest_onset(&self, utc: NaiveDateTime) -> Option<NaiveDateTime> {
        let to_utc = |local: NaiveDateTime| minus_offset(local, self.from);
        let mut onsets: Vec<NaiveDateTime> = std::iter::once(self.onset)
            .chain(self.rdates.iter().copied())
            .map(to_utc)
            .collect();
        if let Some(rule) = &self.rule {
            let mut last_year = utc.year() + 1;
            if let Some(year) = rule.last_year {
                last_year = last_year.min(year);
            }
            if let Some(until) = rule.until {
                last_year = last_year.min(until.year() + 1);
            }
            // The latest onset is within a year or two of `utc` (or of the
            // rule's end); the bound only stops a rule whose date never
            // exists (BYMONTHDAY=31;BYMONTH=2) from walking back centuries.
            let years = (self.onset.year()..=last_year)
                .rev()
                .take(MAX_RULE_YEARS_BACK);
            for year in years {
                let Some(date) = rule.date_in(year) else {
                    continue;
                };
                let local = date.and_time(self.onset.time());
                if local < self.onset {
                    break;
                }
                let at = to_utc(local);
                if rule.until.is_some_and(|until| at > until) {
                    continue;
                }
                if at <= utc {
                    onsets.push(at);
                    break;
                }
            }
        }
        onsets.into_iter().filter(|at| *at <= utc).max()
    }
}

impl YearlyRule {
    /// Reads the RRULE shapes time zones use; anything else is refused
    /// rather than guessed, since a wrong offset would move every time.
    fn parse(value: &str, onset: NaiveDateTime) -> Result<Self, String> {
        let unsupported = || {
            format!(
                "its rule \"{}\" is not one this server understands (FREQ=YEARLY;BYMONTH=m;BYDAY=±nDD)",
                shorten(value)
            )
        };
        let mut freq = None;
        let mut month = None;
        let mut byday = None;
        let mut monthdays: Option<Vec<u32>> = None;
        let mut until = None;
        let mut count: Option<u32> = None;
        for part in value.trim().split(';').filter(|p| !p.is_empty()) {
            let (key, v) = part.split_once('=').ok_or_else(unsupported)?;
            let v = v.trim();
            match key.trim().to_ascii_uppercase().as_str() {
                "FREQ" => freq = Some(v.to_ascii_uppercase()),
                "BYMONTH" => {
                    month = Some(
                        digits(v)
                            .filter(|m| (1..=12).contains(m))
                            .ok_or_else(unsupported)?,
                    )
                }
                "BYDAY" => byday = Some(parse_byday(v).ok_or_else(unsupported)?),
                "BYMONTHDAY" => {
                    let days = v
                        .split(',')
                        .map(|d| digits(d.trim()).filter(|d| (1..=31).contains(d)))
                        .collect::<Option<Vec<u32>>>()
                        .ok_or_else(unsupported)?;
                    monthdays = Some(days);
                }
                "UNTIL" => {
                    let at = match parse_date_time(v) {
                        // RFC 5545 wants UTC here; a local UNTIL is read as
                        // UTC too, which is off by hours around an onset
                        // that is months away.
                        Some((at, _)) => at,
                        None => parse_date(v)
                            .and_then(|d| d.and_hms_opt(23, 59, 59))
                            .ok_or_else(unsupported)?,
                    };
                    until = Some(at);
                }
                "COUNT" => count = Some(digits(v).ok_or_else(unsupported)?),
                "INTERVAL" if v == "1" => {}
                "WKST" => {}
                _ => return Err(unsupported()),
            }
        }
        if freq.as_deref() != Some("YEARLY") {
            return Err(unsupported());
        }
        let day = match (byday, monthdays) {
            (Some((0, weekday)), Some(mut days)) => {
                days.sort_unstable();
                RuleDay::WeekdayAmong(weekday, days)
            }
            (Some((n, weekday)), None) if n != 0 => RuleDay::Nth(n, weekday),
            (None, Some(days)) if days.len() == 1 => {
                RuleDay::MonthDay(days.first().copied().unwrap_or(onset.day()))
            }
            (None, None) => RuleDay::MonthDay(onset.day()),
            _ => return Err(unsupported()),
        };
        let last_year = match count {
            Some(count) => Some(
                i32::try_from(count)
                    .ok()
                    .and_then(|c| onset.year().checked_add(c - 1))
                    .ok_or_else(unsupported)?,
            ),
            None => None,
        };
        Ok(Self {
            month: month.unwrap_or(onset.month()),
            day,
            until,
            last_year,
        })
    }

    /// The rule's date in `year`, if that year has one.
    fn date_in(&self, year: i32) -> Option<NaiveDate> {
        match &self.day {
            RuleDay::Nth(n, weekday) => nth_weekday(year, self.month, *n, *weekday),
            RuleDay::WeekdayAmong(weekday, days) => days
                .iter()
                .filter_map(|d| NaiveDate::from_ymd_opt(year, self.month, *d))
                .find(|d| d.weekday() == *weekday),
            RuleDay::MonthDay(day) => NaiveDate::from_ymd_opt(year, self.month, *day),
        }
    }
}

/// `-1SU` → (-1, Sunday), `SU` → (0, Sunday). One day only.
fn parse_byday(text: &str) -> Option<(i32, Weekday)> {
    let text = text.trim().to_ascii_uppercase();
    let split = text.len().checked_sub(2)?;
    let (n, day) = (text.get(..split)?, text.get(split..)?);
    let weekday = match day {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    };
    let n = match n {
        "" => 0,
        n => n
            .parse::<i32>()
            .ok()
            .filter(|n| (-5..=5).contains(n) && *n != 0)?,
    };
    Some((n, weekday))
}

/// The `n`th `weekday` of the month (negative: counted from the end).
fn nth_weekday(year: i32, month: u32, n: i32, weekday: Weekday) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let wanted = i64::from(weekday.num_days_from_monday());
    if n > 0 {
        let shift = (wanted - i64::from(first.weekday().num_days_from_monday())).rem_euclid(7);
        first
            .checked_add_signed(Duration::days(shift + 7 * i64::from(n - 1)))
            .filter(|d| d.month() == month)
    } else {
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        }?;
        let last = next.pred_opt()?;
        let shift = (i64::from(last.weekday().num_days_from_monday()) - wanted).rem_euclid(7);
        last.checked_sub_signed(Duration::days(shift + 7 * i64::from(-n - 1)))
            .filter(|d| d.month() == month)
    }
}

/// `+0100`, `-0500`, `+053000`.
fn parse_utc_offset(text: &str) -> Option<FixedOffset> {
    let text = text.trim();
    let sign = match text.get(..1)? {
        "+" => 1,
        "-" => -1,
        _ => return None,
    };
    let rest = text.get(1..)?;
    if rest.len() != 4 && rest.len() != 6 {
        return None;
    }
    let hours = digits(rest.get(0..2)?)?;
    let minutes = digits(rest.get(2..4)?)?;
    let seconds = match rest.get(4..6) {
        Some(s) if !s.is_empty() => digits(s)?,
        _ => 0,
    };
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    let total = i32::try_from(hours * 3600 + minutes * 60 + seconds).ok()?;
    FixedOffset::east_opt(sign * total)
}

/// Reads an RFC 5545 duration (`-PT15M`, `P1D`, `-P1DT2H`, `PT0S`, `P1W`).
/// Components must come in order; weeks may be followed by days, which RFC
/// 5545 forbids but some clients write.
pub fn parse_duration(text: &str) -> Result<Duration, IcalError> {
    let invalid = || {
        IcalError::new(format!(
            "\"{}\" is not a duration (like -PT15M, P1D or P1W)",
            shorten(text)
        ))
    };
    let upper = text.trim().to_ascii_uppercase();
    let (negative, rest) = match upper.as_bytes().first() {
        Some(b'-') => (true, &upper[1..]),
        Some(b'+') => (false, &upper[1..]),
        _ => (false, upper.as_str()),
    };
    let rest = rest.strip_prefix('P').ok_or_else(invalid)?;
    let mut seconds: i64 = 0;
    let mut number: Option<i64> = None;
    let mut in_time = false;
    let mut time_parts = 0;
    let mut parts = 0;
    // Rank of the last unit, so that units come in order: W D | H M S.
    let mut last_rank = 0;
    for c in rest.chars() {
        if let Some(digit) = c.to_digit(10) {
            let so_far = number.unwrap_or(0);
            number = Some(
                so_far
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(i64::from(digit)))
                    .ok_or_else(invalid)?,
            );
            continue;
        }
        if c == 'T' {
            if in_time || number.is_some() {
                return Err(invalid());
            }
            in_time = true;
            continue;
        }
        let (rank, unit) = match (in_time, c) {
            (false, 'W') => (1, 604_800),
            (false, 'D') => (2, 86_400),
            (true, 'H') => (3, 3_600),
            (true, 'M') => (4, 60),
            (true, 'S') => (5, 1),
            _ => return Err(invalid()),
        };
        let n = number.take().ok_or_else(invalid)?;
        if rank <= last_rank {
            return Err(invalid());
        }
        last_rank = rank;
        seconds = n
            .checked_mul(unit)
            .and_then(|s| seconds.checked_add(s))
            .ok_or_else(invalid)?;
        parts += 1;
        if in_time {
            time_parts += 1;
        }
    }
    if number.is_some() || parts == 0 || (in_time && time_parts == 0) {
        return Err(invalid());
    }
    let duration = Duration::try_seconds(seconds).ok_or_else(invalid)?;
    Ok(if negative { -duration } else { duration })
}

// ---------------------------------------------------------------------------
// The VTODO a client PUTs
// ---------------------------------------------------------------------------

/// The fields of one VTODO the app maps, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VTodo {
    pub uid: String,
    /// Unescaped.
    pub summary: Option<String>,
    /// Unescaped.
    pub description: Option<String>,
    /// 0 (undefined) or 1 (highest) ..= 9 (lowest).
    pub priority: Option<u8>,
    pub due: Option<IcalTime>,
    pub dtstart: Option<IcalTime>,
    /// Upper-cased: NEEDS-ACTION, COMPLETED, IN-PROCESS, CANCELLED.
    pub status: Option<String>,
    pub completed: Option<DateTime<Utc>>,
    /// 0 ..= 100.
    pub percent_complete: Option<u8>,
    /// Every CATEGORIES property, split, unescaped, trimmed, empty ones dropped.
    pub categories: Vec<String>,
    /// The raw RRULE value, e.g. `FREQ=WEEKLY;BYDAY=MO`.
    pub rrule: Option<String>,
    pub recurrence_id: Option<IcalTime>,
    /// The earliest VALARM trigger that resolves to an instant.
    pub alarm: Option<DateTime<Utc>>,
}

impl VTodo {
    /// Clients mark completion in three ways; any one of them counts.
    pub fn is_completed(&self) -> bool {
        self.status.as_deref() == Some("COMPLETED")
            || self.completed.is_some()
            || self.percent_complete == Some(100)
    }

    fn parse(todo: &Component, zones: &Zones) -> Result<Self, IcalError> {
        let uid = todo
            .prop("UID")
            .map(|p| p.text().trim().to_owned())
            .filter(|uid| !uid.is_empty())
            .ok_or_else(|| IcalError::new("a VTODO has no UID; every task needs one"))?;
        let uid_chars = uid.chars().count();
        if uid_chars > MAX_UID_CHARS {
            return Err(IcalError::new(format!(
                "the UID is {uid_chars} characters long; at most {MAX_UID_CHARS} are allowed"
            )));
        }
        let time = |name: &str| todo.prop(name).map(|p| zones.time(p)).transpose();
        let due = time("DUE")?;
        let dtstart = time("DTSTART")?;
        Ok(Self {
            summary: todo.prop("SUMMARY").map(Property::text),
            description: todo.prop("DESCRIPTION").map(Property::text),
            priority: todo.prop("PRIORITY").map(|p| bounded(p, 9)).transpose()?,
            due,
            dtstart,
            status: todo
                .prop("STATUS")
                .map(|p| p.value.trim().to_ascii_uppercase()),
            completed: time("COMPLETED")?.map(|t| t.start_in(zones.default_tz)),
            percent_complete: todo
                .prop("PERCENT-COMPLETE")
                .map(|p| bounded(p, 100))
                .transpose()?,
            categories: categories_of(todo),
            rrule: todo.prop("RRULE").map(|p| p.value.trim().to_owned()),
            recurrence_id: time("RECURRENCE-ID")?,
            alarm: earliest_alarm(todo, dtstart, due, zones),
            uid,
        })
    }
}

/// An integer property from 0 to `max`.
fn bounded(prop: &Property, max: u8) -> Result<u8, IcalError> {
    let raw = prop.value.trim();
    raw.parse::<u8>().ok().filter(|n| *n <= max).ok_or_else(|| {
        IcalError::new(format!(
            "{} must be a whole number from 0 to {max}, not \"{}\"",
            prop.name,
            shorten(raw)
        ))
    })
}

/// All CATEGORIES of a component, in order.
fn categories_of(todo: &Component) -> Vec<String> {
    todo.props_named("CATEGORIES")
        .flat_map(|p| split_text_list(&p.value))
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect()
}

/// The earliest trigger among a component's VALARMs that resolve.
fn earliest_alarm(
    todo: &Component,
    dtstart: Option<IcalTime>,
    due: Option<IcalTime>,
    zones: &Zones,
) -> Option<DateTime<Utc>> {
    todo.children_named("VALARM")
        .filter_map(|alarm| resolve_alarm(alarm, dtstart, due, zones))
        .min()
}

/// When a VALARM goes off: an absolute trigger, or a duration from DUE
/// (`RELATED=END`) or DTSTART (the default; DUE for a task without DTSTART).
/// `ACTION:NONE` (RFC 9074) never goes off, so it does not resolve.
fn resolve_alarm(
    alarm: &Component,
    dtstart: Option<IcalTime>,
    due: Option<IcalTime>,
    zones: &Zones,
) -> Option<DateTime<Utc>> {
    let tz = zones.default_tz;
    if alarm
        .prop("ACTION")
        .is_some_and(|a| a.value.trim().eq_ignore_ascii_case("NONE"))
    {
        return None;
    }
    let trigger = alarm.prop("TRIGGER")?;
    let absolute = trigger
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE-TIME"));
    let offset = if absolute {
        None
    } else {
        parse_duration(&trigger.value).ok()
    };
    let Some(offset) = offset else {
        // Absolute; some clients leave out VALUE=DATE-TIME.
        return zones.time_of(Some(trigger)).map(|t| t.start_in(tz));
    };
    let related_end = trigger
        .param("RELATED")
        .is_some_and(|r| r.trim().eq_ignore_ascii_case("END"));
    let anchor = if related_end { due } else { dtstart.or(due) }?;
    anchor.start_in(tz).checked_add_signed(offset)
}

/// A task as a client stored it: the task, its changed instances, and the
/// whole calendar so that what the app does not map can be served back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoObject {
    /// The VTODO without RECURRENCE-ID.
    pub master: VTodo,
    /// VTODOs of the same UID with RECURRENCE-ID (Thunderbird completes an
    /// instance of a recurring task that way).
    pub overrides: Vec<VTodo>,
    pub calendar: Component,
}

/// Reads the calendar object a client PUTs: one task, maybe with overrides of
/// its instances. Anything else is refused with a message for the user.
pub fn parse_todo_object(text: &str, default_tz: Tz) -> Result<TodoObject, IcalError> {
    let calendar = parse(text)?;
    for child in &calendar.children {
        if matches!(child.name.as_str(), "VEVENT" | "VJOURNAL" | "VFREEBUSY") {
            return Err(IcalError::new(format!(
                "the calendar object holds a {}; this calendar holds tasks (VTODO) only",
                child.name
            )));
        }
    }
    let zones = Zones::new(&calendar, default_tz);
    let mut master: Option<VTodo> = None;
    let mut overrides: Vec<VTodo> = Vec::new();
    let mut recurrence_ids = HashSet::new();
    for child in calendar.children_named("VTODO") {
        let todo = VTodo::parse(child, &zones)?;
        let first_uid = master
            .as_ref()
            .or(overrides.first())
            .map(|t| t.uid.as_str());
        if let Some(first_uid) = first_uid {
            if first_uid != todo.uid {
                return Err(IcalError::new(format!(
                    "the calendar object holds tasks with different UIDs (\"{}\" and \"{}\"); store each task as its own resource",
                    shorten(first_uid),
                    shorten(&todo.uid)
                )));
            }
        }
        if let Some(recurrence_id) = todo.recurrence_id {
            if !recurrence_ids.insert(recurrence_id) {
                return Err(IcalError::new(format!(
                    "the task \"{}\" has two overrides with the same RECURRENCE-ID",
                    shorten(&todo.uid)
                )));
            }
            overrides.push(todo);
        } else if master.is_some() {
            return Err(IcalError::new(format!(
                "the calendar object holds two VTODOs with UID \"{}\" and no RECURRENCE-ID; a task may appear only once",
                shorten(&todo.uid)
            )));
        } else {
            master = Some(todo);
        }
    }
    drop(zones);
    let Some(master) = master else {
        return Err(match overrides.first() {
            Some(first) => IcalError::new(format!(
                "the calendar object holds only changed instances (RECURRENCE-ID) of the task \"{}\", not the task itself",
                shorten(&first.uid)
            )),
            None => IcalError::new(
                "the calendar object holds no VTODO; this calendar holds tasks (VTODO) only",
            ),
        });
    };
    Ok(TodoObject {
        master,
        overrides,
        calendar,
    })
}

// ---------------------------------------------------------------------------
// Rendering what a client reads back
// ---------------------------------------------------------------------------

/// A todo as the app holds it, in the terms of a VTODO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoView<'a> {
    pub uid: &'a str,
    pub summary: &'a str,
    /// Empty: no DESCRIPTION.
    pub description: &'a str,
    /// 0 ..= 9 as the caller mapped it; 0 writes no PRIORITY.
    pub priority: u8,
    pub due: Option<IcalTime>,
    /// `Some`: completed.
    pub completed_at: Option<DateTime<Utc>>,
    pub categories: &'a [String],
    pub rrule: Option<&'a str>,
    pub remind_at: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub sequence: i64,
}

/// The VTODO properties the app writes, in the order a fresh VTODO has them.
const VIEW_PROPERTIES: [&str; 14] = [
    "UID",
    "DTSTAMP",
    "CREATED",
    "LAST-MODIFIED",
    "SEQUENCE",
    "SUMMARY",
    "DESCRIPTION",
    "PRIORITY",
    "DUE",
    "STATUS",
    "COMPLETED",
    "PERCENT-COMPLETE",
    "CATEGORIES",
    "RRULE",
];

/// The todo as iCalendar. With `stored` (the last VCALENDAR a client PUT for
/// it) everything the app does not map is served back as the client wrote
/// it, and mapped properties whose meaning did not change stay verbatim:
/// clients compare text, and a rewritten time zone or alarm reads as an edit.
pub fn render(view: &TodoView, stored: Option<&Component>, default_tz: Tz) -> String {
    let calendar = stored
        .and_then(|stored| merge(view, stored, default_tz))
        .unwrap_or_else(|| fresh_calendar(view));
    calendar.to_ics()
}

fn fresh_calendar(view: &TodoView) -> Component {
    let mut todo = Component::new("VTODO");
    todo.props = VIEW_PROPERTIES
        .iter()
        .flat_map(|name| view_props(view, name))
        .collect();
    todo.children = view_alarm(view).into_iter().collect();
    let mut calendar = Component::new("VCALENDAR");
    calendar.props = vec![
        Property::new("VERSION", "2.0"),
        Property::new("PRODID", PRODID),
    ];
    calendar.children = vec![todo];
    calendar
}

/// The lines the view gives property `name` (none when it has no value).
fn view_props(view: &TodoView, name: &str) -> Vec<Property> {
    let completed = view.completed_at.is_some();
    let prop = match name {
        "UID" => Some(Property::new(name, escape_text(view.uid))),
        "DTSTAMP" | "LAST-MODIFIED" => Some(Property::new(name, utc_stamp(view.last_modified))),
        "CREATED" => Some(Property::new(name, utc_stamp(view.created))),
        "SEQUENCE" => Some(Property::new(name, view.sequence.to_string())),
        "SUMMARY" => {
            (!view.summary.is_empty()).then(|| Property::new(name, escape_text(view.summary)))
        }
        "DESCRIPTION" => (!view.description.is_empty())
            .then(|| Property::new(name, escape_text(view.description))),
        "PRIORITY" => {
            (view.priority > 0).then(|| Property::new(name, view.priority.min(9).to_string()))
        }
        "DUE" => view.due.map(|due| due.to_property(name)),
        "STATUS" => Some(Property::new(
            name,
            if completed {
                "COMPLETED"
            } else {
                "NEEDS-ACTION"
            },
        )),
        "COMPLETED" => view
            .completed_at
            .map(|at| Property::new(name, utc_stamp(at))),
        "PERCENT-COMPLETE" => completed.then(|| Property::new(name, "100")),
        "CATEGORIES" => {
            let categories: Vec<String> = view_categories(view).map(escape_text).collect();
            (!categories.is_empty()).then(|| Property::new(name, categories.join(",")))
        }
        "RRULE" => view_rrule(view).map(|rule| Property::new(name, rule)),
        _ => None,
    };
    prop.into_iter().collect()
}

fn view_categories<'a>(view: &'a TodoView) -> impl Iterator<Item = &'a str> + 'a {
    view.categories
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
}

/// The view's RRULE, without anything that would break the line.
fn view_rrule(view: &TodoView) -> Option<String> {
    view.rrule
        .map(|rule| {
            rule.trim()
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
        })
        .filter(|rule| !rule.is_empty())
}

fn view_alarm(view: &TodoView) -> Option<Component> {
    let at = view.remind_at?;
    let mut alarm = Component::new("VALARM");
    let description = if view.summary.is_empty() {
        "Reminder"
    } else {
        view.summary
    };
    alarm.props = vec![
        Property::new("ACTION", "DISPLAY"),
        Property::new("DESCRIPTION", escape_text(description)),
        Property::new("TRIGGER", utc_stamp(at)).with_param("VALUE", "DATE-TIME"),
    ];
    Some(alarm)
}

/// The stored calendar with the view applied; `None` if it has no task.
fn merge(view: &TodoView, stored: &Component, tz: Tz) -> Option<Component> {
    let is_override = |c: &Component| c.name == "VTODO" && c.prop("RECURRENCE-ID").is_some();
    let master = stored
        .children
        .iter()
        .find(|c| c.name == "VTODO" && !is_override(c))?;
    let merged = merge_todo(view, master, &Zones::new(stored, tz));
    let mut calendar = stored.clone();
    // The app resolves overrides itself; serving them back would undo that.
    calendar.children.retain(|c| !is_override(c));
    for child in &mut calendar.children {
        if child.name == "VTODO" {
            *child = merged.clone();
        }
    }
    Some(calendar)
}

/// The stored VTODO with each mapped property kept where it means what the
/// view says and replaced in place where it does not.
fn merge_todo(view: &TodoView, stored: &Component, zones: &Zones) -> Component {
    let plan: Vec<(&str, bool, Vec<Property>)> = VIEW_PROPERTIES
        .iter()
        .map(|name| {
            let keep = stored_means_same(view, name, stored, zones);
            (*name, keep, view_props(view, name))
        })
        .collect();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut props = Vec::with_capacity(stored.props.len() + 4);
    for prop in &stored.props {
        match plan.iter().find(|(name, _, _)| *name == prop.name) {
            Some((name, false, replacement)) => {
                if placed.insert(name) {
                    props.extend(replacement.iter().cloned());
                }
            }
            _ => props.push(prop.clone()),
        }
    }
    for (name, keep, replacement) in &plan {
        if !keep && !placed.contains(name) {
            props.extend(replacement.iter().cloned());
        }
    }
    Component {
        name: stored.name.clone(),
        props,
        children: merge_alarms(view, stored, zones),
    }
}

/// Whether the stored VTODO's property `name` says what the view says.
fn stored_means_same(view: &TodoView, name: &str, stored: &Component, zones: &Zones) -> bool {
    let prop = stored.prop(name);
    match name {
        "UID" => prop.is_some_and(|p| p.text().trim() == view.uid),
        "CREATED" => prop.is_some(),
        "SUMMARY" => same_text(prop, view.summary),
        "DESCRIPTION" => same_text(prop, view.description),
        "PRIORITY" => {
            let stored = prop.map_or(Some(0), |p| p.value.trim().parse::<u8>().ok());
            stored == Some(view.priority.min(9))
        }
        "DUE" => match (prop, view.due) {
            (None, None) => true,
            (Some(p), Some(due)) => zones.time_of(Some(p)) == Some(due),
            _ => false,
        },
        "STATUS" | "COMPLETED" | "PERCENT-COMPLETE" => {
            stored_is_completed(stored) == view.completed_at.is_some()
        }
        "CATEGORIES" => {
            let stored: BTreeSet<String> = categories_of(stored).into_iter().collect();
            let view: BTreeSet<String> = view_categories(view).map(str::to_owned).collect();
            stored == view
        }
        "RRULE" => prop.map(|p| p.value.trim().to_owned()) == view_rrule(view),
        // DTSTAMP, LAST-MODIFIED and SEQUENCE always come from the view.
        _ => false,
    }
}

fn same_text(prop: Option<&Property>, view: &str) -> bool {
    let stored = prop.map(Property::text).unwrap_or_default();
    stored.replace("\r\n", "\n") == view.replace("\r\n", "\n")
}

fn stored_is_completed(todo: &Component) -> bool {
    todo.prop("STATUS")
        .is_some_and(|p| p.value.trim().eq_ignore_ascii_case("COMPLETED"))
        || todo.prop("COMPLETED").is_some()
        || todo
            .prop("PERCENT-COMPLETE")
            .is_some_and(|p| p.value.trim().parse::<u8>() == Ok(100))
}

/// The VTODO's sub-components with its alarms kept if their earliest trigger
/// is the view's reminder, else the alarms that resolve replaced by the
/// view's one. Alarms are resolved against the DUE the output will have, so
/// a relative alarm that still fires at the reminder survives a moved DUE.
/// Alarms that do not resolve are the client's business and stay.
fn merge_alarms(view: &TodoView, stored: &Component, zones: &Zones) -> Vec<Component> {
    let dtstart = zones.time_of(stored.prop("DTSTART"));
    let resolved: Vec<Option<DateTime<Utc>>> = stored
        .children
        .iter()
        .map(|child| {
            if child.name == "VALARM" {
                resolve_alarm(child, dtstart, view.due, zones)
            } else {
                None
            }
        })
        .collect();
    if resolved.iter().flatten().min().copied() == view.remind_at {
        return stored.children.clone();
    }
    let mut children = Vec::with_capacity(stored.children.len() + 1);
    let mut new_alarm = view_alarm(view);
    for (child, at) in stored.children.iter().zip(&resolved) {
        if at.is_some() {
            children.extend(new_alarm.take());
        } else {
            children.push(child.clone());
        }
    }
    children.extend(new_alarm);
    children
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Tz;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Text with LF line ends as CRLF, the way clients send it.
    fn crlf(text: &str) -> String {
        text.replace('\n', "\r\n")
    }

    const APPLE: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Apple Inc.//iOS 18.2//EN
CALSCALE:GREGORIAN
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
DTSTART:19810329T020000
TZNAME:MESZ
TZOFFSETTO:+0200
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
DTSTART:19961027T030000
TZNAME:MEZ
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE
BEGIN:VTODO
CREATED:20261120T091512Z
DTSTAMP:20261120T091530Z
DTSTART;TZID=Europe/Berlin:20261208T090000
DUE;TZID=Europe/Berlin:20261208T090000
LAST-MODIFIED:20261120T091530Z
PRIORITY:1
SEQUENCE:0
STATUS:NEEDS-ACTION
SUMMARY:Renew the passport
UID:7E0C5A2B-41D3-4E0A-9C61-2F0B1D8E6A4C
X-APPLE-SORT-ORDER:786875730
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Reminder
TRIGGER;VALUE=DATE-TIME:20261208T074500Z
UID:0F6B9E1D-8E23-4D0B-9C1E-6B3F8A2E5D70
X-WR-ALARMUID:0F6B9E1D-8E23-4D0B-9C1E-6B3F8A2E5D70
END:VALARM
END:VTODO
END:VCALENDAR
";

    const TASKS_ORG: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:+//IDN bitfire.at//ical4android (org.tasks)
BEGIN:VTODO
DTSTAMP:20260301T101010Z
UID:6208207123885469311
CREATED:20260301T101000Z
LAST-MODIFIED:20260301T101010Z
SUMMARY:Water the plants\\, then the lawn
DESCRIPTION:Balcony first.\\nThen the garden.
PRIORITY:9
STATUS:NEEDS-ACTION
DUE:20260315T170000Z
RRULE:FREQ=WEEKLY;BYDAY=SU
CATEGORIES:home,garden\\, backyard
RELATED-TO;RELTYPE=PARENT:2875934923489
X-MOZ-SNOOZE-TIME:20260315T164500Z
X-TASKS-ORG-COLLAPSED:0
BEGIN:VALARM
TRIGGER;RELATED=END:-PT15M
ACTION:DISPLAY
DESCRIPTION:Default Tasks.org description
END:VALARM
END:VTODO
END:VCALENDAR
";

    /// Thunderbird's VTIMEZONE, under a TZID no IANA lookup knows, so that the
    /// VTIMEZONE itself must be read.
    const THUNDERBIRD: &str = "BEGIN:VCALENDAR
PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN
VERSION:2.0
X-LIC-ERROR;X-LIC-ERRORTYPE=VALUE-PARSE-ERROR:No value for LOCATION propert
 y. Removing entire property:
BEGIN:VTIMEZONE
TZID:Mitteleuropäische Zeit
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
END:VTIMEZONE
BEGIN:VTODO
CREATED:20260401T080000Z
LAST-MODIFIED:20260401T081500Z
DTSTAMP:20260401T081500Z
UID:0c7b5d1e-2f3a-4b6c-9d8e-1f2a3b4c5d6e
SUMMARY:Submit the tax return
X-LIC-ERROR;X-LIC-ERRORTYPE=VALUE-PARSE-ERROR:No value for LOCATION propert
 y. Removing entire property:
STATUS:NEEDS-ACTION
DTSTART;TZID=Mitteleuropäische Zeit:20260715T090000
DUE;TZID=Mitteleuropäische Zeit:20261231T180000
X-MOZ-GENERATION:3
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER;VALUE=DURATION:-PT1H
DESCRIPTION:Default Mozilla Description
END:VALARM
END:VTODO
END:VCALENDAR
";

    /// A calendar around one VTODO body (its lines without BEGIN/END).
    fn todo_calendar(body: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\n{}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n", crlf(body.trim()))
    }

    /// The view that says exactly what `todo` says.
    fn view_of(todo: &VTodo) -> TodoView<'_> {
        TodoView {
            uid: &todo.uid,
            summary: todo.summary.as_deref().unwrap_or(""),
            description: todo.description.as_deref().unwrap_or(""),
            priority: todo.priority.unwrap_or(0),
            due: todo.due,
            completed_at: todo
                .is_completed()
                .then(|| todo.completed.unwrap_or(utc("2026-01-01T00:00:00Z"))),
            categories: &todo.categories,
            rrule: todo.rrule.as_deref(),
            remind_at: todo.alarm,
            created: utc("2026-01-02T03:04:05Z"),
            last_modified: utc("2026-11-21T10:00:00Z"),
            sequence: 7,
        }
    }

    fn lines(ics: &str) -> Vec<&str> {
        ics.split("\r\n").filter(|l| !l.is_empty()).collect()
    }

    // --- content lines -----------------------------------------------------

    #[test]
    fn long_lines_fold_at_75_octets_and_unfold_back() {
        // "SUMMARY:" is 8 octets, so a value of n octets makes a line of n + 8.
        for value_len in [0, 66, 67, 68, 140, 141, 142, 500] {
            let value = "x".repeat(value_len);
            let mut calendar = Component::new("VCALENDAR");
            calendar.props.push(Property::new("SUMMARY", value.clone()));
            let ics = calendar.to_ics();
            let physical = lines(&ics);
            for line in &physical {
                assert!(line.len() <= 75, "{line:?} is {} octets", line.len());
            }
            let summary_lines = physical.len() - 2;
            let want = if value_len + 8 <= 75 {
                1
            } else {
                1 + (value_len + 8 - 75).div_ceil(74)
            };
            assert_eq!(summary_lines, want, "value of {value_len} octets");
            assert_eq!(
                parse(&ics).unwrap(),
                calendar,
                "value of {value_len} octets"
            );
        }
    }

    #[test]
    fn a_line_of_exactly_75_octets_is_not_folded() {
        let mut calendar = Component::new("VCALENDAR");
        calendar
            .props
            .push(Property::new("SUMMARY", "y".repeat(67)));
        let ics = calendar.to_ics();
        assert!(ics.contains(&format!("\r\nSUMMARY:{}\r\n", "y".repeat(67))));
    }

    #[test]
    fn folding_never_splits_a_multi_byte_character() {
        // 66 ASCII octets after "SUMMARY:" leave 1 octet of room: a 2-, 3- or
        // 4-octet character must move whole to the next line.
        for ch in ['ä', '€', '🦀'] {
            let value = format!("{}{}{}", "a".repeat(66), ch, "b".repeat(100));
            let mut calendar = Component::new("VCALENDAR");
            calendar.props.push(Property::new("SUMMARY", value.clone()));
            let ics = calendar.to_ics();
            let physical = lines(&ics);
            assert_eq!(physical[1], format!("SUMMARY:{}", "a".repeat(66)));
            assert!(physical[2].starts_with(&format!(" {ch}")), "{ch}");
            assert!(physical.iter().all(|l| l.len() <= 75));
            assert_eq!(parse(&ics).unwrap().props[0].value, value);
        }
    }

    #[test]
    fn unfolding_accepts_lf_line_ends_and_tab_continuations() {
        let text = "BEGIN:VCALENDAR\nSUMMARY:Buy\n  milk and\n\t bread\nEND:VCALENDAR\n";
        let calendar = parse(text).unwrap();
        assert_eq!(calendar.props[0].value, "Buy milk and bread");
    }

    #[test]
    fn text_escaping_round_trips() {
        let cases = [
            ("plain", "plain"),
            ("a, b; c", "a\\, b\\; c"),
            ("back\\slash", "back\\\\slash"),
            ("two\nlines", "two\\nlines"),
            ("windows\r\nline", "windows\\nline"),
            ("ümlaut ✓ 🦀", "ümlaut ✓ 🦀"),
            ("\\n is not a newline", "\\\\n is not a newline"),
            ("", ""),
        ];
        for (text, escaped) in cases {
            assert_eq!(escape_text(text), escaped, "{text:?}");
            let back = Property::new("SUMMARY", escape_text(text)).text();
            assert_eq!(back, text.replace("\r\n", "\n"), "{text:?}");
        }
    }

    #[test]
    fn unescaping_reads_capital_n_and_keeps_unknown_escapes() {
        let cases = [
            ("a\\Nb", "a\nb"),
            ("C:\\Users", "C:\\Users"),
            ("trailing\\", "trailing\\"),
            ("\\;\\,\\\\", ";,\\"),
        ];
        for (raw, text) in cases {
            assert_eq!(Property::new("X", raw).text(), text, "{raw:?}");
        }
    }

    #[test]
    fn quoted_parameter_values_may_hold_colons_semicolons_and_commas() {
        let text = crlf(
            "BEGIN:VCALENDAR
ATTACH;FMTTYPE=text/plain;X-LABEL=\"a:b;c,d\";X-EMPTY=:https://example.com/a;b
ATTENDEE;MEMBER=\"mailto:a@example.com\",\"mailto:b@example.com\";CN=Ann:mailto:ann@example.com
END:VCALENDAR
",
        );
        let calendar = parse(&text).unwrap();
        let attach = &calendar.props[0];
        assert_eq!(attach.param("x-label"), Some("a:b;c,d"));
        assert_eq!(attach.param("FMTTYPE"), Some("text/plain"));
        assert_eq!(attach.param("X-EMPTY"), Some(""));
        assert_eq!(attach.value, "https://example.com/a;b");
        let attendee = &calendar.props[1];
        assert_eq!(
            attendee.param("MEMBER"),
            Some("mailto:a@example.com,mailto:b@example.com")
        );
        assert_eq!(attendee.value, "mailto:ann@example.com");
        let written = calendar.to_ics();
        assert!(written.contains("X-LABEL=\"a:b;c,d\""), "{written}");
        assert!(written.contains("FMTTYPE=text/plain;"), "{written}");
        assert_eq!(parse(&written).unwrap(), calendar);
    }

    #[test]
    fn names_are_case_insensitive_and_stored_upper_case() {
        let calendar =
            parse("begin:vcalendar\r\nx-Foo;tzid=Europe/Berlin:Value\r\nEnd:VCalendar\r\n")
                .unwrap();
        assert_eq!(calendar.name, "VCALENDAR");
        assert_eq!(calendar.props[0].name, "X-FOO");
        assert_eq!(
            calendar.props[0].params,
            vec![("TZID".to_owned(), "Europe/Berlin".to_owned())]
        );
        assert_eq!(calendar.props[0].value, "Value");
        assert!(calendar.prop("x-foo").is_some());
    }

    #[test]
    fn broken_objects_are_refused_with_the_line_number() {
        let deep = format!("BEGIN:VCALENDAR\n{}", "BEGIN:X\n".repeat(100_000));
        let cases: &[(&str, Option<usize>, &str)] = &[
            ("", None, "holds no iCalendar object"),
            (
                "BEGIN:VTODO\nEND:VTODO\n",
                Some(1),
                "starts with BEGIN:VCALENDAR",
            ),
            ("VERSION:2.0\n", Some(1), "comes before BEGIN:VCALENDAR"),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nEND:VEVENT\nEND:VCALENDAR\n",
                Some(3),
                "END:VEVENT does not match BEGIN:VTODO on line 2",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:1\n",
                Some(2),
                "BEGIN:VTODO is never closed",
            ),
            (
                "BEGIN:VCALENDAR\nEND:VCALENDAR\nEND:VCALENDAR\n",
                Some(3),
                "nothing may follow",
            ),
            (
                "BEGIN:VCALENDAR\nEND:VCALENDAR\nBEGIN:VCALENDAR\nEND:VCALENDAR\n",
                Some(3),
                "nothing may follow",
            ),
            (
                "BEGIN:VCALENDAR\nSUMMARY no colon\nEND:VCALENDAR\n",
                Some(2),
                "not a content line",
            ),
            (
                "BEGIN:VCALENDAR\nSUMMARY:bell\u{7}\nEND:VCALENDAR\n",
                Some(2),
                "control character U+0007",
            ),
            (
                "BEGIN:VCALENDAR\nX-A;P=\"open:x\nEND:VCALENDAR\n",
                Some(2),
                "no closing",
            ),
            (
                "BEGIN:VCALENDAR\nX-A;P=\"q\"x:v\nEND:VCALENDAR\n",
                Some(2),
                "unexpected text",
            ),
            (
                "BEGIN:VCALENDAR\nX-A;P:v\nEND:VCALENDAR\n",
                Some(2),
                "no '='",
            ),
            (
                " continued\nBEGIN:VCALENDAR\nEND:VCALENDAR\n",
                Some(1),
                "no line before it",
            ),
            ("END:VCALENDAR\n", Some(1), "no matching BEGIN"),
            (
                "BEGIN:VCALENDAR\nBEGIN:\nEND:VCALENDAR\n",
                Some(2),
                "not a component name",
            ),
            (&deep, Some(9), "nest more than 8 deep"),
        ];
        for (text, line, message) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.line(), *line, "{text:?}: {err}");
            assert!(err.message().contains(message), "{text:?}: {err}");
        }
    }

    #[test]
    fn blank_lines_and_a_byte_order_mark_are_tolerated() {
        let text = "\u{feff}BEGIN:VCALENDAR\r\n\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n\r\n\r\n";
        assert_eq!(parse(text).unwrap().props.len(), 1);
    }

    #[test]
    fn every_fixture_survives_a_serialise_parse_round_trip() {
        for fixture in [APPLE, TASKS_ORG, THUNDERBIRD] {
            let calendar = parse(&crlf(fixture)).unwrap();
            assert_eq!(parse(&calendar.to_ics()).unwrap(), calendar);
            // Our own output is stable, and line for line the client's text.
            assert_eq!(calendar.to_ics(), crlf(fixture));
        }
    }

    // --- times -------------------------------------------------------------

    fn time_of(line: &str, calendar: &str, default_tz: Tz) -> Result<IcalTime, IcalError> {
        let calendar = parse(calendar).unwrap();
        let prop = parse_content_line(line).unwrap();
        IcalTime::from_property(&prop, &calendar, default_tz)
    }

    const EMPTY: &str = "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n";

    #[test]
    fn dates_and_date_times_are_read_in_every_form() {
        let at = |s| IcalTime::DateTime(utc(s));
        let cases = [
            ("DUE;VALUE=DATE:20261208", IcalTime::Date(date(2026, 12, 8))),
            ("DUE:20261208", IcalTime::Date(date(2026, 12, 8))),
            ("DUE:20261208T090000Z", at("2026-12-08T09:00:00Z")),
            (
                "DUE;TZID=Europe/Berlin:20261208T090000",
                at("2026-12-08T08:00:00Z"),
            ),
            (
                "DUE;TZID=Europe/Berlin:20260708T090000",
                at("2026-07-08T07:00:00Z"),
            ),
            (
                "DUE;TZID=/mozilla.org/20050126_1/Europe/Berlin:20260708T090000",
                at("2026-07-08T07:00:00Z"),
            ),
            (
                "DUE;TZID=\"America/Argentina/Buenos_Aires\":20260708T090000",
                at("2026-07-08T12:00:00Z"),
            ),
            (
                "DUE;TZID=America/New_York:20260708T090000",
                at("2026-07-08T13:00:00Z"),
            ),
            // Floating: read in the caller's zone (Berlin here).
            ("DUE:20260708T090000", at("2026-07-08T07:00:00Z")),
            (
                "DUE;VALUE=DATE-TIME:20261208T090000Z",
                at("2026-12-08T09:00:00Z"),
            ),
            ("DUE:20261231T235960Z", at("2026-12-31T23:59:59Z")),
        ];
        for (line, want) in cases {
            assert_eq!(time_of(line, EMPTY, BERLIN).unwrap(), want, "{line}");
        }
    }

    #[test]
    fn invalid_dates_are_refused_naming_the_property() {
        for line in [
            "DUE:20261308",
            "DUE:20260230",
            "DUE:2026-12-08",
            "DUE;VALUE=DATE:20261208T090000Z",
            "DUE:20261208T250000Z",
            "DUE:20261208T0900",
            "DUE:",
            "DUE;VALUE=PERIOD:20261208T090000Z/PT1H",
        ] {
            let err = time_of(line, EMPTY, BERLIN).unwrap_err();
            assert!(err.message().starts_with("DUE:"), "{line}: {err}");
        }
    }

    #[test]
    fn an_unknown_tzid_without_vtimezone_is_refused_by_name() {
        let err = time_of(
            "DUE;TZID=Narnia Standard Time:20261208T090000",
            EMPTY,
            BERLIN,
        )
        .unwrap_err();
        assert!(err.message().contains("\"Narnia Standard Time\""), "{err}");
        assert!(err.message().contains("VTIMEZONE"), "{err}");
    }

    #[test]
    fn a_thunderbird_style_vtimezone_gives_summer_and_winter_offsets() {
        let calendar = crlf(THUNDERBIRD);
        let cases = [
            ("20260715T090000", "2026-07-15T07:00:00Z"),
            ("20261231T180000", "2026-12-31T17:00:00Z"),
            ("20260328T120000", "2026-03-28T11:00:00Z"),
            ("20260329T120000", "2026-03-29T10:00:00Z"),
            ("19690101T120000", "1969-01-01T11:00:00Z"),
        ];
        for (local, want) in cases {
            let line = format!("DUE;TZID=Mitteleuropäische Zeit:{local}");
            // The default zone must play no part.
            let got = time_of(&line, &calendar, chrono_tz::Asia::Tokyo).unwrap();
            assert_eq!(got, IcalTime::DateTime(utc(want)), "{local}");
        }
    }

    #[test]
    fn a_tzid_that_only_ends_in_a_zone_abbreviation_uses_its_vtimezone() {
        let calendar = crlf(
            "BEGIN:VCALENDAR
BEGIN:VTIMEZONE
TZID:Custom Zone/GMT
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0300
TZOFFSETTO:+0300
END:STANDARD
END:VTIMEZONE
END:VCALENDAR
",
        );
        let got = time_of(
            "DUE;TZID=Custom Zone/GMT:20260708T090000",
            &calendar,
            BERLIN,
        )
        .unwrap();
        assert_eq!(got, IcalTime::DateTime(utc("2026-07-08T06:00:00Z")));
    }

    #[test]
    fn a_vtimezone_with_x_lic_location_uses_the_iana_zone() {
        let calendar = crlf(
            "BEGIN:VCALENDAR
BEGIN:VTIMEZONE
TZID:Custom
X-LIC-LOCATION:Europe/Berlin
END:VTIMEZONE
END:VCALENDAR
",
        );
        let got = time_of("DUE;TZID=Custom:20260708T090000", &calendar, chrono_tz::UTC).unwrap();
        assert_eq!(got, IcalTime::DateTime(utc("2026-07-08T07:00:00Z")));
    }

    /// A VTIMEZONE named `tzid` with the given DAYLIGHT and STANDARD rules;
    /// clocks go forward at 02:00 and back at `back_at` (local, `HHMMSS`).
    fn vtimezone(
        tzid: &str,
        standard: i32,
        daylight: i32,
        dst_rule: &str,
        std_rule: &str,
        back_at: &str,
    ) -> String {
        let offset = |s: i32| {
            format!(
                "{}{:02}{:02}",
                if s < 0 { '-' } else { '+' },
                s.abs() / 3600,
                s.abs() % 3600 / 60
            )
        };
        crlf(&format!(
            "BEGIN:VCALENDAR
BEGIN:VTIMEZONE
TZID:{tzid}
BEGIN:DAYLIGHT
TZOFFSETFROM:{std}
TZOFFSETTO:{dst}
DTSTART:20070311T020000
RRULE:{dst_rule}
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:{dst}
TZOFFSETTO:{std}
DTSTART:20071104T{back_at}
RRULE:{std_rule}
END:STANDARD
END:VTIMEZONE
END:VCALENDAR
",
            std = offset(standard),
            dst = offset(daylight),
        ))
    }

    #[test]
    fn a_vtimezone_agrees_with_the_iana_database_every_half_hour_of_a_year() {
        let zones = [
            (
                chrono_tz::Europe::Berlin,
                vtimezone(
                    "Berlin",
                    3600,
                    7200,
                    "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
                    "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
                    "030000",
                ),
            ),
            (
                chrono_tz::America::New_York,
                vtimezone(
                    "New York",
                    -5 * 3600,
                    -4 * 3600,
                    "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
                    "FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
                    "020000",
                ),
            ),
            (
                chrono_tz::America::New_York,
                vtimezone(
                    "Old Outlook",
                    -5 * 3600,
                    -4 * 3600,
                    "FREQ=YEARLY;BYMONTH=3;BYDAY=SU;BYMONTHDAY=8,9,10,11,12,13,14",
                    "FREQ=YEARLY;BYMONTH=11;BYDAY=SU;BYMONTHDAY=1,2,3,4,5,6,7",
                    "020000",
                ),
            ),
        ];
        for (tz, calendar_text) in zones {
            let calendar = parse(&calendar_text).unwrap();
            let tzid = calendar.children[0].prop("TZID").unwrap().value.clone();
            let zone = Zone::resolve(&tzid, &calendar).unwrap();
            assert!(matches!(zone, Zone::Defined(_)));
            let mut local = date(2026, 1, 1).and_hms_opt(0, 0, 0).unwrap();
            while local.year() == 2026 {
                assert_eq!(
                    zone.to_utc(local),
                    Zone::Iana(tz).to_utc(local),
                    "{tzid} at {local}"
                );
                local += Duration::minutes(30);
            }
        }
    }

    #[test]
    fn ambiguous_local_times_take_the_earlier_instant_and_gap_times_move_forward() {
        let calendar = parse(&crlf(THUNDERBIRD)).unwrap();
        let defined = Zone::resolve("Mitteleuropäische Zeit", &calendar).unwrap();
        let iana = Zone::Iana(BERLIN);
        let cases = [
            // 02:30 on 25 Oct 2026 happens twice; the first is CEST.
            (
                date(2026, 10, 25).and_hms_opt(2, 30, 0).unwrap(),
                "2026-10-25T00:30:00Z",
            ),
            // 02:30 on 29 Mar 2026 never happens; it means 03:30 CEST.
            (
                date(2026, 3, 29).and_hms_opt(2, 30, 0).unwrap(),
                "2026-03-29T01:30:00Z",
            ),
        ];
        for (local, want) in cases {
            assert_eq!(defined.to_utc(local), utc(want), "VTIMEZONE {local}");
            assert_eq!(iana.to_utc(local), utc(want), "IANA {local}");
        }
    }

    #[test]
    fn unsupported_vtimezone_rules_are_refused_rather_than_guessed() {
        let calendar = vtimezone(
            "Odd",
            3600,
            7200,
            "FREQ=MONTHLY;BYDAY=-1SU",
            "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
            "030000",
        );
        let err = time_of("DUE;TZID=Odd:20260708T090000", &calendar, BERLIN).unwrap_err();
        assert!(err.message().contains("FREQ=MONTHLY"), "{err}");
    }

    #[test]
    fn durations_parse_in_every_rfc_5545_form() {
        let cases: &[(&str, Option<i64>)] = &[
            ("-PT15M", Some(-15 * 60)),
            ("PT15M", Some(15 * 60)),
            ("+PT15M", Some(15 * 60)),
            ("P1D", Some(86_400)),
            ("-P1DT2H", Some(-(86_400 + 7_200))),
            ("PT0S", Some(0)),
            ("P1W", Some(604_800)),
            ("P1W2D", Some(604_800 + 2 * 86_400)),
            ("PT1H30M15S", Some(5_415)),
            ("pt5m", Some(300)),
            ("P", None),
            ("PT", None),
            ("P1DT", None),
            ("PT15", None),
            ("15M", None),
            ("PT1M1H", None),
            ("P1H", None),
            ("PT1D", None),
            ("P99999999999999999999W", None),
            ("", None),
        ];
        for (text, want) in cases {
            let got = parse_duration(text).ok().map(|d| d.num_seconds());
            assert_eq!(got, *want, "{text:?}");
        }
    }

    #[test]
    fn times_are_written_as_utc_or_value_date() {
        let due = IcalTime::Date(date(2026, 12, 8)).to_property("DUE");
        assert_eq!(due.to_line(), "DUE;VALUE=DATE:20261208");
        let due = IcalTime::DateTime(utc("2026-12-08T08:00:00Z")).to_property("DUE");
        assert_eq!(due.to_line(), "DUE:20261208T080000Z");
    }

    // --- VTODO -------------------------------------------------------------

    #[test]
    fn an_apple_reminders_task_is_read() {
        let object = parse_todo_object(&crlf(APPLE), BERLIN).unwrap();
        let todo = &object.master;
        assert_eq!(todo.uid, "7E0C5A2B-41D3-4E0A-9C61-2F0B1D8E6A4C");
        assert_eq!(todo.summary.as_deref(), Some("Renew the passport"));
        assert_eq!(todo.priority, Some(1));
        assert_eq!(
            todo.due,
            Some(IcalTime::DateTime(utc("2026-12-08T08:00:00Z")))
        );
        assert_eq!(todo.status.as_deref(), Some("NEEDS-ACTION"));
        assert_eq!(todo.alarm, Some(utc("2026-12-08T07:45:00Z")));
        assert!(!todo.is_completed());
        assert!(object.overrides.is_empty());
    }

    #[test]
    fn a_tasks_org_task_is_read_with_categories_and_a_due_relative_alarm() {
        let object = parse_todo_object(&crlf(TASKS_ORG), BERLIN).unwrap();
        let todo = &object.master;
        assert_eq!(todo.uid, "6208207123885469311");
        assert_eq!(
            todo.summary.as_deref(),
            Some("Water the plants, then the lawn")
        );
        assert_eq!(
            todo.description.as_deref(),
            Some("Balcony first.\nThen the garden.")
        );
        assert_eq!(todo.categories, vec!["home", "garden, backyard"]);
        assert_eq!(todo.rrule.as_deref(), Some("FREQ=WEEKLY;BYDAY=SU"));
        assert_eq!(todo.alarm, Some(utc("2026-03-15T16:45:00Z")));
    }

    #[test]
    fn a_thunderbird_task_is_read_through_its_vtimezone() {
        let object = parse_todo_object(&crlf(THUNDERBIRD), BERLIN).unwrap();
        let todo = &object.master;
        assert_eq!(
            todo.dtstart,
            Some(IcalTime::DateTime(utc("2026-07-15T07:00:00Z")))
        );
        assert_eq!(
            todo.due,
            Some(IcalTime::DateTime(utc("2026-12-31T17:00:00Z")))
        );
        // -PT1H relative to DTSTART, the default.
        assert_eq!(todo.alarm, Some(utc("2026-07-15T06:00:00Z")));
    }

    #[test]
    fn alarms_resolve_relative_to_start_or_due_or_absolutely() {
        let cases: &[(&str, Option<&str>)] = &[
            ("DUE:20261208T090000Z\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;RELATED=END:-PT15M\nEND:VALARM", Some("2026-12-08T08:45:00Z")),
            ("DUE:20261208T090000Z\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT15M\nEND:VALARM", Some("2026-12-08T08:45:00Z")),
            ("DTSTART:20261201T090000Z\nDUE:20261208T090000Z\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT15M\nEND:VALARM", Some("2026-12-01T08:45:00Z")),
            ("BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;VALUE=DATE-TIME:20261208T074500Z\nEND:VALARM", Some("2026-12-08T07:45:00Z")),
            ("BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:20261208T074500Z\nEND:VALARM", Some("2026-12-08T07:45:00Z")),
            // A date-only DUE counts as midnight in the default zone (Berlin).
            ("DUE;VALUE=DATE:20261208\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;RELATED=END:PT9H\nEND:VALARM", Some("2026-12-08T08:00:00Z")),
            // The earliest of several wins.
            ("DUE:20261208T090000Z\nBEGIN:VALARM\nTRIGGER:-PT1H\nEND:VALARM\nBEGIN:VALARM\nTRIGGER:-P1D\nEND:VALARM", Some("2026-12-07T09:00:00Z")),
            // Nothing to be relative to, a broken trigger, ACTION:NONE: ignored.
            ("BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;RELATED=END:-PT15M\nEND:VALARM", None),
            ("DUE:20261208T090000Z\nBEGIN:VALARM\nTRIGGER:soon\nEND:VALARM", None),
            ("DUE:20261208T090000Z\nBEGIN:VALARM\nACTION:NONE\nTRIGGER;VALUE=DATE-TIME:19760401T005545Z\nEND:VALARM", None),
        ];
        for (body, want) in cases {
            let text = todo_calendar(&format!("UID:a\n{body}"));
            let object = parse_todo_object(&text, BERLIN).unwrap();
            assert_eq!(object.master.alarm, want.map(utc), "{body}");
        }
    }

    #[test]
    fn completion_is_read_from_status_completed_or_percent() {
        let cases = [
            ("STATUS:COMPLETED", true),
            ("status:completed", true),
            ("COMPLETED:20260301T100000Z", true),
            ("PERCENT-COMPLETE:100", true),
            ("PERCENT-COMPLETE:99\nSTATUS:IN-PROCESS", false),
            ("STATUS:CANCELLED", false),
            ("STATUS:NEEDS-ACTION", false),
        ];
        for (body, want) in cases {
            let text = todo_calendar(&format!("UID:a\n{body}"));
            let object = parse_todo_object(&text, BERLIN).unwrap();
            assert_eq!(object.master.is_completed(), want, "{body}");
        }
    }

    #[test]
    fn calendar_objects_that_are_not_a_single_task_are_refused() {
        let event = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:e\nEND:VEVENT\nEND:VCALENDAR\n";
        let journal = "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nEND:VTODO\nBEGIN:VJOURNAL\nUID:j\nEND:VJOURNAL\nEND:VCALENDAR\n";
        let two_uids = "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nEND:VTODO\nBEGIN:VTODO\nUID:b\nEND:VTODO\nEND:VCALENDAR\n";
        let two_masters = "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nEND:VTODO\nBEGIN:VTODO\nUID:a\nEND:VTODO\nEND:VCALENDAR\n";
        let only_override = "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nRECURRENCE-ID:20260301T090000Z\nEND:VTODO\nEND:VCALENDAR\n";
        let same_override = "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nEND:VTODO\nBEGIN:VTODO\nUID:a\nRECURRENCE-ID:20260301T090000Z\nEND:VTODO\nBEGIN:VTODO\nUID:a\nRECURRENCE-ID:20260301T090000Z\nEND:VTODO\nEND:VCALENDAR\n";
        let long_uid = todo_calendar(&format!("UID:{}", "u".repeat(256)));
        let cases: Vec<(String, &str)> = vec![
            (
                event.into(),
                "holds a VEVENT; this calendar holds tasks (VTODO) only",
            ),
            (journal.into(), "holds a VJOURNAL"),
            (two_uids.into(), "different UIDs (\"a\" and \"b\")"),
            (
                two_masters.into(),
                "two VTODOs with UID \"a\" and no RECURRENCE-ID",
            ),
            (only_override.into(), "only changed instances"),
            (same_override.into(), "same RECURRENCE-ID"),
            (
                "BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n".into(),
                "holds no VTODO",
            ),
            (todo_calendar("SUMMARY:no uid"), "has no UID"),
            (todo_calendar("UID:  "), "has no UID"),
            (long_uid, "256 characters long; at most 255"),
            (
                todo_calendar("UID:a\nPRIORITY:10"),
                "PRIORITY must be a whole number from 0 to 9, not \"10\"",
            ),
            (todo_calendar("UID:a\nPRIORITY:high"), "PRIORITY must be"),
            (
                todo_calendar("UID:a\nPERCENT-COMPLETE:101"),
                "PERCENT-COMPLETE must be a whole number from 0 to 100",
            ),
            (
                todo_calendar("UID:a\nDUE:tomorrow"),
                "DUE: \"tomorrow\" is not a valid date",
            ),
            (
                todo_calendar("UID:a\nDUE;TZID=Mars/Olympus:20260101T090000"),
                "\"Mars/Olympus\"",
            ),
            (
                "BEGIN:VTODO\nUID:a\nEND:VTODO\n".into(),
                "starts with BEGIN:VCALENDAR",
            ),
        ];
        for (text, message) in cases {
            let err = parse_todo_object(&text, BERLIN).unwrap_err();
            assert!(err.to_string().contains(message), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_uid_of_255_characters_is_accepted() {
        let uid = "ü".repeat(255);
        let object = parse_todo_object(&todo_calendar(&format!("UID:{uid}")), BERLIN).unwrap();
        assert_eq!(object.master.uid, uid);
    }

    #[test]
    fn an_override_with_recurrence_id_is_accepted_beside_its_master() {
        let text = crlf(
            "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN
BEGIN:VTODO
UID:weekly
SUMMARY:Take out the bins
DUE:20260302T070000Z
RRULE:FREQ=WEEKLY
END:VTODO
BEGIN:VTODO
UID:weekly
RECURRENCE-ID:20260309T070000Z
SUMMARY:Take out the bins
STATUS:COMPLETED
COMPLETED:20260309T065900Z
END:VTODO
END:VCALENDAR
",
        );
        let object = parse_todo_object(&text, BERLIN).unwrap();
        assert_eq!(object.master.rrule.as_deref(), Some("FREQ=WEEKLY"));
        assert_eq!(object.overrides.len(), 1);
        let instance = &object.overrides[0];
        assert_eq!(
            instance.recurrence_id,
            Some(IcalTime::DateTime(utc("2026-03-09T07:00:00Z")))
        );
        assert!(instance.is_completed());
        assert_eq!(instance.completed, Some(utc("2026-03-09T06:59:00Z")));
        // Overrides are the app's to resolve; render drops them.
        let view = view_of(&object.master);
        let rendered =
            parse_todo_object(&render(&view, Some(&object.calendar), BERLIN), BERLIN).unwrap();
        assert!(rendered.overrides.is_empty());
        assert_eq!(rendered.master.rrule.as_deref(), Some("FREQ=WEEKLY"));
    }

    // --- render ------------------------------------------------------------

    fn fresh_view(categories: &[String]) -> TodoView<'_> {
        TodoView {
            uid: "3f1c9a7e-5b2d-4e8f-a6c0-1d2e3f4a5b6c",
            summary: "Call the dentist; ask about Tuesday, 10:00",
            description: "Number is on the card.\nBring the form.",
            priority: 5,
            due: Some(IcalTime::DateTime(utc("2026-12-08T08:00:00Z"))),
            completed_at: None,
            categories,
            rrule: Some("FREQ=MONTHLY;BYMONTHDAY=8"),
            remind_at: Some(utc("2026-12-08T07:30:00Z")),
            created: utc("2026-11-01T12:00:00Z"),
            last_modified: utc("2026-11-02T12:00:00Z"),
            sequence: 2,
        }
    }

    #[test]
    fn a_fresh_view_renders_and_parses_back() {
        let categories = vec!["health".to_owned(), "calls, urgent".to_owned()];
        let view = fresh_view(&categories);
        let ics = render(&view, None, BERLIN);
        let want = crlf(
            "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//todo-spin//CalDAV//EN
BEGIN:VTODO
UID:3f1c9a7e-5b2d-4e8f-a6c0-1d2e3f4a5b6c
DTSTAMP:20261102T120000Z
CREATED:20261101T120000Z
LAST-MODIFIED:20261102T120000Z
SEQUENCE:2
SUMMARY:Call the dentist\\; ask about Tuesday\\, 10:00
DESCRIPTION:Number is on the card.\\nBring the form.
PRIORITY:5
DUE:20261208T080000Z
STATUS:NEEDS-ACTION
CATEGORIES:health,calls\\, urgent
RRULE:FREQ=MONTHLY;BYMONTHDAY=8
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Call the dentist\\; ask about Tuesday\\, 10:00
TRIGGER;VALUE=DATE-TIME:20261208T073000Z
END:VALARM
END:VTODO
END:VCALENDAR
",
        );
        assert_eq!(ics, want);
        let todo = parse_todo_object(&ics, BERLIN).unwrap().master;
        assert_eq!(todo.uid, view.uid);
        assert_eq!(todo.summary.as_deref(), Some(view.summary));
        assert_eq!(todo.description.as_deref(), Some(view.description));
        assert_eq!(todo.priority, Some(5));
        assert_eq!(todo.due, view.due);
        assert_eq!(todo.categories, categories);
        assert_eq!(todo.rrule.as_deref(), view.rrule);
        assert_eq!(todo.alarm, view.remind_at);
        assert!(!todo.is_completed());
    }

    #[test]
    fn a_completed_fresh_view_has_status_completed_and_percent() {
        let mut view = fresh_view(&[]);
        view.completed_at = Some(utc("2026-12-08T09:10:00Z"));
        view.priority = 0;
        view.description = "";
        let ics = render(&view, None, BERLIN);
        for line in [
            "STATUS:COMPLETED",
            "COMPLETED:20261208T091000Z",
            "PERCENT-COMPLETE:100",
        ] {
            assert!(lines(&ics).contains(&line), "{line} in {ics}");
        }
        for absent in ["PRIORITY", "DESCRIPTION:Number", "CATEGORIES"] {
            assert!(!ics.contains(absent), "{absent} in {ics}");
        }
        let todo = parse_todo_object(&ics, BERLIN).unwrap().master;
        assert!(todo.is_completed());
        assert_eq!(todo.completed, view.completed_at);
    }

    #[test]
    fn a_date_only_due_stays_value_date() {
        let mut view = fresh_view(&[]);
        view.due = Some(IcalTime::Date(date(2026, 12, 8)));
        let ics = render(&view, None, BERLIN);
        assert!(lines(&ics).contains(&"DUE;VALUE=DATE:20261208"), "{ics}");
        let todo = parse_todo_object(&ics, BERLIN).unwrap().master;
        assert_eq!(todo.due, view.due);

        // And a stored date-only DUE the view still has stays as it was.
        let stored = todo_calendar("UID:d\nSUMMARY:s\nDUE;VALUE=DATE:20261208");
        let object = parse_todo_object(&stored, BERLIN).unwrap();
        let ics = render(&view_of(&object.master), Some(&object.calendar), BERLIN);
        assert!(lines(&ics).contains(&"DUE;VALUE=DATE:20261208"), "{ics}");
    }

    #[test]
    fn an_unchanged_view_changes_only_dtstamp_last_modified_and_sequence() {
        for fixture in [APPLE, TASKS_ORG, THUNDERBIRD] {
            let stored = crlf(fixture);
            let object = parse_todo_object(&stored, BERLIN).unwrap();
            let ics = render(&view_of(&object.master), Some(&object.calendar), BERLIN);
            let volatile = |l: &&str| {
                !(l.starts_with("DTSTAMP:")
                    || l.starts_with("LAST-MODIFIED:")
                    || l.starts_with("SEQUENCE:"))
            };
            let (stored, ics) = (stored.replace("\r\n ", ""), ics.replace("\r\n ", ""));
            let before: Vec<&str> = lines(&stored).into_iter().filter(volatile).collect();
            let after: Vec<&str> = lines(&ics).into_iter().filter(volatile).collect();
            assert_eq!(after, before, "{fixture}");
            assert!(lines(&ics).contains(&"SEQUENCE:7"));
            assert!(lines(&ics).contains(&"DTSTAMP:20261121T100000Z"));
            assert!(lines(&ics).contains(&"LAST-MODIFIED:20261121T100000Z"));
        }
    }

    #[test]
    fn render_with_stored_keeps_client_properties_byte_identical() {
        for (fixture, kept) in [
            (APPLE, &["X-APPLE-SORT-ORDER:786875730", "X-WR-ALARMUID:0F6B9E1D-8E23-4D0B-9C1E-6B3F8A2E5D70", "CALSCALE:GREGORIAN", "DTSTART;TZID=Europe/Berlin:20261208T090000"][..]),
            (TASKS_ORG, &["RELATED-TO;RELTYPE=PARENT:2875934923489", "X-MOZ-SNOOZE-TIME:20260315T164500Z", "X-TASKS-ORG-COLLAPSED:0", "PRODID:+//IDN bitfire.at//ical4android (org.tasks)"][..]),
            (THUNDERBIRD, &["X-MOZ-GENERATION:3", "X-LIC-ERROR;X-LIC-ERRORTYPE=VALUE-PARSE-ERROR:No value for LOCATION property. Removing entire property:", "TZID:Mitteleuropäische Zeit"][..]),
        ] {
            let object = parse_todo_object(&crlf(fixture), BERLIN).unwrap();
            let mut view = view_of(&object.master);
            view.summary = "Something else entirely";
            view.priority = 3;
            let ics = render(&view, Some(&object.calendar), BERLIN);
            let unfolded = ics.replace("\r\n ", "");
            for line in kept {
                assert!(unfolded.contains(&format!("\n{line}\r\n")), "{line} kept in {ics}");
            }
            assert!(parse_todo_object(&ics, BERLIN).is_ok());
        }
    }

    #[test]
    fn a_changed_summary_is_replaced_in_place_while_others_are_kept() {
        let object = parse_todo_object(&crlf(APPLE), BERLIN).unwrap();
        let mut view = view_of(&object.master);
        view.summary = "Renew the passport, and the ID card";
        let ics = render(&view, Some(&object.calendar), BERLIN);
        let all = lines(&ics);
        let summary = all.iter().position(|l| l.starts_with("SUMMARY:")).unwrap();
        assert_eq!(
            all[summary],
            "SUMMARY:Renew the passport\\, and the ID card"
        );
        // Same place as before: between STATUS and UID.
        assert!(all[summary - 1].starts_with("STATUS:"));
        assert!(all[summary + 1].starts_with("UID:"));
        assert!(all.contains(&"PRIORITY:1"));
        assert!(all.contains(&"DUE;TZID=Europe/Berlin:20261208T090000"));
        assert!(all.contains(&"TRIGGER;VALUE=DATE-TIME:20261208T074500Z"));
        let todo = parse_todo_object(&ics, BERLIN).unwrap().master;
        assert_eq!(todo.summary.as_deref(), Some(view.summary));
    }

    #[test]
    fn a_stored_tzid_due_is_kept_while_its_instant_is_unchanged_and_written_in_utc_when_changed() {
        let object = parse_todo_object(&crlf(APPLE), BERLIN).unwrap();
        let mut view = view_of(&object.master);
        view.due = Some(IcalTime::DateTime(utc("2026-12-08T08:00:00Z")));
        let ics = render(&view, Some(&object.calendar), BERLIN);
        assert!(
            lines(&ics).contains(&"DUE;TZID=Europe/Berlin:20261208T090000"),
            "{ics}"
        );

        view.due = Some(IcalTime::DateTime(utc("2026-12-09T08:00:00Z")));
        let ics = render(&view, Some(&object.calendar), BERLIN);
        let all = lines(&ics);
        assert!(!ics.contains("DUE;TZID"), "{ics}");
        let due = all.iter().position(|l| l.starts_with("DUE")).unwrap();
        assert_eq!(all[due], "DUE:20261209T080000Z");
        assert!(
            all[due - 1].starts_with("DTSTART;TZID=Europe/Berlin"),
            "DUE stays in its place"
        );
        // The VTIMEZONE stays: DTSTART still needs it.
        assert!(ics.contains("BEGIN:VTIMEZONE"));

        view.due = None;
        let ics = render(&view, Some(&object.calendar), BERLIN);
        assert!(!lines(&ics).iter().any(|l| l.starts_with("DUE")), "{ics}");
    }

    #[test]
    fn categories_with_an_escaped_comma_survive_render_and_parse() {
        let object = parse_todo_object(&crlf(TASKS_ORG), BERLIN).unwrap();
        // The same set in another order keeps the stored line.
        let reordered = vec!["garden, backyard".to_owned(), "home".to_owned()];
        let mut view = view_of(&object.master);
        view.categories = &reordered;
        let ics = render(&view, Some(&object.calendar), BERLIN);
        assert!(
            lines(&ics).contains(&"CATEGORIES:home,garden\\, backyard"),
            "{ics}"
        );

        let changed = vec!["home".to_owned(), "a; b, c".to_owned()];
        view.categories = &changed;
        let ics = render(&view, Some(&object.calendar), BERLIN);
        assert!(
            lines(&ics).contains(&"CATEGORIES:home,a\\; b\\, c"),
            "{ics}"
        );
        let todo = parse_todo_object(&ics, BERLIN).unwrap().master;
        assert_eq!(todo.categories, changed);

        view.categories = &[];
        let ics = render(&view, Some(&object.calendar), BERLIN);
        assert!(!ics.contains("CATEGORIES"), "{ics}");
    }

    #[test]
    fn completing_a_task_replaces_the_completion_properties() {
        let object = parse_todo_object(&crlf(TASKS_ORG), BERLIN).unwrap();
        let mut view = view_of(&object.master);
        view.completed_at = Some(utc("2026-03-15T18:00:00Z"));
        let ics = render(&view, Some(&object.calendar), BERLIN);
        let all = lines(&ics);
        let status = all.iter().position(|l| l.starts_with("STATUS:")).unwrap();
        assert_eq!(all[status], "STATUS:COMPLETED");
        assert!(
            all[status - 1].starts_with("PRIORITY:"),
            "STATUS stays in its place"
        );
        assert!(all.contains(&"COMPLETED:20260315T180000Z"));
        assert!(all.contains(&"PERCENT-COMPLETE:100"));
        let todo = parse_todo_object(&ics, BERLIN).unwrap().master;
        assert_eq!(todo.completed, view.completed_at);

        // And reopening it takes all three back.
        let completed = parse_todo_object(&ics, BERLIN).unwrap();
        let mut view = view_of(&completed.master);
        view.completed_at = None;
        let ics = render(&view, Some(&completed.calendar), BERLIN);
        assert!(lines(&ics).contains(&"STATUS:NEEDS-ACTION"), "{ics}");
        assert!(
            !ics.contains("COMPLETED:") && !ics.contains("PERCENT-COMPLETE"),
            "{ics}"
        );
    }

    #[test]
    fn an_in_process_status_survives_while_the_task_stays_open() {
        let stored = todo_calendar("UID:p\nSUMMARY:Paint\nSTATUS:IN-PROCESS\nPERCENT-COMPLETE:40");
        let object = parse_todo_object(&stored, BERLIN).unwrap();
        let ics = render(&view_of(&object.master), Some(&object.calendar), BERLIN);
        assert!(lines(&ics).contains(&"STATUS:IN-PROCESS"));
        assert!(lines(&ics).contains(&"PERCENT-COMPLETE:40"));
    }

    #[test]
    fn alarms_are_kept_when_they_resolve_to_the_reminder_and_replaced_otherwise() {
        let object = parse_todo_object(&crlf(TASKS_ORG), BERLIN).unwrap();
        let mut view = view_of(&object.master);

        // The relative alarm still fires at the reminder after DUE moves by
        // the same amount, so it stays as the client wrote it.
        view.due = Some(IcalTime::DateTime(utc("2026-03-16T17:00:00Z")));
        view.remind_at = Some(utc("2026-03-16T16:45:00Z"));
        let ics = render(&view, Some(&object.calendar), BERLIN);
        assert!(lines(&ics).contains(&"TRIGGER;RELATED=END:-PT15M"), "{ics}");

        view.remind_at = Some(utc("2026-03-16T08:00:00Z"));
        let ics = render(&view, Some(&object.calendar), BERLIN);
        assert!(!ics.contains("-PT15M"), "{ics}");
        assert!(
            lines(&ics).contains(&"TRIGGER;VALUE=DATE-TIME:20260316T080000Z"),
            "{ics}"
        );
        assert_eq!(ics.matches("BEGIN:VALARM").count(), 1);
        assert_eq!(
            parse_todo_object(&ics, BERLIN).unwrap().master.alarm,
            view.remind_at
        );

        view.remind_at = None;
        let ics = render(&view, Some(&object.calendar), BERLIN);
        assert!(!ics.contains("VALARM"), "{ics}");
    }

    #[test]
    fn alarms_that_never_fire_are_kept_when_the_reminder_changes() {
        let stored = todo_calendar(
            "UID:n\nSUMMARY:s\nBEGIN:VALARM\nACTION:NONE\nTRIGGER;VALUE=DATE-TIME:19760401T005545Z\nEND:VALARM",
        );
        let object = parse_todo_object(&stored, BERLIN).unwrap();
        let mut view = view_of(&object.master);
        view.remind_at = Some(utc("2026-05-01T07:00:00Z"));
        let ics = render(&view, Some(&object.calendar), BERLIN);
        assert!(lines(&ics).contains(&"ACTION:NONE"), "{ics}");
        assert_eq!(ics.matches("BEGIN:VALARM").count(), 2);
        assert_eq!(
            parse_todo_object(&ics, BERLIN).unwrap().master.alarm,
            view.remind_at
        );
    }

    #[test]
    fn properties_the_stored_task_lacks_are_added_before_its_end() {
        let stored = todo_calendar("UID:m\nX-APPLE-SORT-ORDER:1");
        let object = parse_todo_object(&stored, BERLIN).unwrap();
        let categories = vec!["errands".to_owned()];
        let view = TodoView {
            uid: "m",
            ..fresh_view(&categories)
        };
        let ics = render(&view, Some(&object.calendar), BERLIN);
        let all = lines(&ics);
        assert_eq!(all[4], "UID:m");
        assert_eq!(all[5], "X-APPLE-SORT-ORDER:1");
        assert_eq!(all[6], "DTSTAMP:20261102T120000Z");
        let todo = parse_todo_object(&ics, BERLIN).unwrap().master;
        assert_eq!(todo.summary.as_deref(), Some(view.summary));
        assert_eq!(todo.due, view.due);
        assert_eq!(todo.alarm, view.remind_at);
        assert_eq!(todo.categories, categories);
    }

    #[test]
    fn a_vtimezone_rule_whose_date_never_exists_is_cheap() {
        let calendar = crlf(
            "BEGIN:VCALENDAR
BEGIN:VTIMEZONE
TZID:Never
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
DTSTART:16010101T030000
RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31
END:STANDARD
END:VTIMEZONE
END:VCALENDAR
",
        );
        let started = std::time::Instant::now();
        let got = time_of("DUE;TZID=Never:99991231T120000", &calendar, BERLIN).unwrap();
        assert_eq!(got, IcalTime::DateTime(utc("9999-12-31T11:00:00Z")));
        assert!(started.elapsed().as_millis() < 100);
    }

    #[cfg(not(target_family = "wasm"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Text with the characters that stress quoting, escaping and
        /// folding, and no control characters but tab.
        const TEXT: &str = r#"[a-zA-Z0-9 :;,\\"/=éü€🦀\t]"#;

        fn text(max: usize) -> impl Strategy<Value = String> {
            proptest::string::string_regex(&format!("{TEXT}{{0,{max}}}")).unwrap()
        }

        fn property() -> impl Strategy<Value = Property> {
            let name = prop_oneof![
                Just("SUMMARY".to_owned()),
                Just("X-APPLE-SORT-ORDER".to_owned()),
                "X-[A-Z0-9-]{1,12}",
            ];
            // A DQUOTE cannot be written inside a quoted parameter value.
            let param = ("[A-Z][A-Z-]{0,8}", "[a-zA-Z0-9 :;,/éü€🦀\t]{0,30}");
            (name, prop::collection::vec(param, 0..3), text(200)).prop_map(
                |(name, params, value)| Property {
                    name,
                    params,
                    value,
                },
            )
        }

        fn component() -> impl Strategy<Value = Component> {
            let name = || {
                prop_oneof![
                    Just("VTODO".to_owned()),
                    Just("VALARM".to_owned()),
                    "X-[A-Z]{1,8}"
                ]
            };
            let leaf =
                (name(), prop::collection::vec(property(), 0..5)).prop_map(|(name, props)| {
                    Component {
                        name,
                        props,
                        children: Vec::new(),
                    }
                });
            leaf.prop_recursive(3, 24, 4, move |inner| {
                (
                    name(),
                    prop::collection::vec(property(), 0..5),
                    prop::collection::vec(inner, 0..4),
                )
                    .prop_map(|(name, props, children)| Component {
                        name,
                        props,
                        children,
                    })
            })
        }

        fn calendar() -> impl Strategy<Value = Component> {
            (
                prop::collection::vec(property(), 0..4),
                prop::collection::vec(component(), 0..4),
            )
                .prop_map(|(props, children)| Component {
                    name: "VCALENDAR".to_owned(),
                    props,
                    children,
                })
        }

        /// A fixture with some lines deleted, inserted or lengthened.
        fn mangled_fixture() -> impl Strategy<Value = String> {
            let edit = (0usize..200, 0u8..3, text(20));
            (0usize..3, prop::collection::vec(edit, 0..4)).prop_map(|(which, edits)| {
                let fixture = crlf([APPLE, TASKS_ORG, THUNDERBIRD][which]);
                let mut lines: Vec<String> = fixture.split("\r\n").map(str::to_owned).collect();
                for (at, kind, text) in edits {
                    let at = at % lines.len();
                    match kind {
                        0 => {
                            lines.remove(at);
                        }
                        1 => lines.insert(at, text),
                        _ => lines[at].push_str(&text),
                    }
                    if lines.is_empty() {
                        lines.push(String::new());
                    }
                }
                lines.join("\r\n")
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            #[test]
            fn components_round_trip_through_text(calendar in calendar()) {
                let ics = calendar.to_ics();
                for line in ics.split("\r\n") {
                    prop_assert!(line.len() <= 75, "{line:?}");
                }
                prop_assert_eq!(parse(&ics).unwrap(), calendar);
            }

            #[test]
            fn text_escaping_round_trips_for_any_text(plain in text(100), tricky in "[\\n\\\\,;a]{0,20}") {
                for text in [plain, tricky] {
                    prop_assert_eq!(Property::new("X", escape_text(&text)).text(), text);
                }
            }

            #[test]
            fn whatever_is_accepted_renders_back_into_something_accepted(text in mangled_fixture()) {
                let Ok(object) = parse_todo_object(&text, BERLIN) else {
                    return Ok(());
                };
                let mut view = view_of(&object.master);
                let ics = render(&view, Some(&object.calendar), BERLIN);
                let again = parse_todo_object(&ics, BERLIN);
                prop_assert!(again.is_ok(), "{:?} for\n{}", again, ics);
                view.summary = "Changed; with, specials\nand a line";
                view.due = Some(IcalTime::Date(date(2027, 1, 2)));
                view.remind_at = Some(utc("2027-01-01T09:00:00Z"));
                view.completed_at = None;
                let ics = render(&view, Some(&object.calendar), BERLIN);
                let again = parse_todo_object(&ics, BERLIN).unwrap().master;
                prop_assert_eq!(again.summary.as_deref(), Some(view.summary));
                prop_assert_eq!(again.due, view.due);
                prop_assert_eq!(again.alarm, view.remind_at);
                prop_assert!(!again.is_completed());
            }
        }
    }
}
