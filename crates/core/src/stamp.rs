//! Timestamps in JSON, as chrono's serde writes and reads them, without
//! chrono's formatting machinery on the common path.
//!
//! A list of 50 todos carries about 150 timestamps each way (PostgreSQL's
//! JSON in, the API's JSON out). chrono writes one through `fmt` and
//! serde_json's `collect_str`, a few characters at a time, and parses one
//! with its general RFC 3339 parser: together about a quarter of what a list
//! costs the component. Here a timestamp is written into a buffer of bytes,
//! and the shape PostgreSQL and the API write (`2026-12-07T04:11:30.126375+00:00`,
//! `...Z`) is read directly. Anything else goes to chrono, so what is
//! accepted and what is written stay chrono's: [`format`] writes exactly
//! `to_rfc3339_opts(AutoSi, true)`.
//!
//! Use as `#[serde(with = "crate::stamp")]`, or `crate::stamp::option` for
//! an `Option` (with `#[serde(default)]`).

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Timelike, Utc,
};
use serde::{de, Deserialize, Deserializer, Serializer};

/// `dt` as chrono's serde writes it: RFC 3339 in UTC with `Z`, and the
/// fraction of a second in 0, 3, 6 or 9 digits, the fewest that hold it.
pub fn format(dt: &DateTime<Utc>) -> String {
    let mut out = Vec::with_capacity(30);
    push(dt, &mut out);
    // Only ASCII was written.
    String::from_utf8(out).unwrap_or_default()
}

/// [`format`], written at the end of `out`.
pub fn push(dt: &DateTime<Utc>, out: &mut Vec<u8>) {
    let year = dt.year();
    let nanos = dt.nanosecond();
    // chrono writes other years with a sign, and a leap second as :60.
    let (Ok(year @ 0..=9999), 0..=999_999_999) = (u32::try_from(year), nanos) else {
        out.extend_from_slice(dt.to_rfc3339_opts(SecondsFormat::AutoSi, true).as_bytes());
        return;
    };
    push_digits(out, year, 4);
    for (before, value) in [
        (b'-', dt.month()),
        (b'-', dt.day()),
        (b'T', dt.hour()),
        (b':', dt.minute()),
        (b':', dt.second()),
    ] {
        out.push(before);
        push_digits(out, value, 2);
    }
    if nanos != 0 {
        out.push(b'.');
        if nanos % 1_000_000 == 0 {
            push_digits(out, nanos / 1_000_000, 3);
        } else if nanos % 1_000 == 0 {
            push_digits(out, nanos / 1_000, 6);
        } else {
            push_digits(out, nanos, 9);
        }
    }
    out.push(b'Z');
}

fn push_digits(out: &mut Vec<u8>, value: u32, width: u32) {
    for place in (0..width).rev() {
        // A digit: below 10.
        out.push(b'0' + (value / 10_u32.pow(place) % 10) as u8);
    }
}

/// `text` as chrono's serde reads a `DateTime<Utc>`.
pub fn parse(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    match parse_plain(text.as_bytes()) {
        Some(dt) => Ok(dt),
        None => text
            .parse::<DateTime<FixedOffset>>()
            .map(|dt| dt.with_timezone(&Utc)),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]` then `Z` or `±HH:MM`, and nothing else.
fn parse_plain(b: &[u8]) -> Option<DateTime<Utc>> {
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0_u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let separated = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')]
        .iter()
        .all(|&(at, sep)| b.get(at) == Some(&sep));
    if !separated {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(0..4)?).ok()?,
        number(5..7)?,
        number(8..10)?,
    )?;
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let mut at = 19;
    let mut nanos = 0;
    if b.get(at) == Some(&b'.') {
        let digits = b[at + 1..]
            .iter()
            .take_while(|d| d.is_ascii_digit())
            .count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        nanos = number(at + 1..at + 1 + digits)? * 10_u32.pow(9 - digits as u32);
        at += 1 + digits;
    }
    let offset = match b.get(at..)? {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (number(at + 1..at + 3)?, number(at + 4..at + 6)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    FixedOffset::east_opt(offset)?
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|dt| dt.with_timezone(&Utc))
}

pub fn serialize<S: Serializer>(dt: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(dt))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    Stamp::deserialize(deserializer).map(|s| s.0)
}

/// A timestamp read from the JSON string itself (borrowed where the input
/// allows it), never copied into a `String` first.
struct Stamp(DateTime<Utc>);

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Stamp;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an RFC 3339 formatted date and time string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Stamp, E> {
                parse(text).map(Stamp).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// The same for an `Option`, `null` for `None`.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(
        dt: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match dt {
            Some(dt) => super::serialize(dt, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<Stamp>::deserialize(deserializer).map(|o| o.map(|s| s.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Timestamps with every kind of fraction, around the edges of the
    /// fast path.
    fn samples() -> Vec<DateTime<Utc>> {
        let base = Utc.with_ymd_and_hms(2026, 12, 7, 4, 11, 30).unwrap();
        let mut all = vec![
            base,
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(0, 2, 29, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 6, 1, 0, 0, 0).unwrap(),
        ];
        for nanos in [
            1,
            10,
            120,
            1_000,
            126_375_000,
            126_375_832,
            500_000_000,
            999_999_999,
        ] {
            all.push(base + chrono::Duration::nanoseconds(nanos));
        }
        all
    }

    #[test]
    fn writes_what_chrono_writes() {
        for dt in samples() {
            let chrono = serde_json::to_string(&dt).unwrap();
            assert_eq!(format!("\"{}\"", format(&dt)), chrono);
        }
    }

    #[test]
    fn reads_what_chrono_reads() {
        let texts = [
            "2026-12-07T04:11:30.126375+00:00",
            "2026-12-07T04:11:30Z",
            "2026-12-07T04:11:30.5Z",
            "2026-12-07T04:11:30.123456789Z",
            "2026-12-07T05:11:30.126+01:00",
            "2026-12-06T23:41:30-04:30",
            "2026-12-07 04:11:30Z",
            "2026-12-07t04:11:30z",
            "2026-12-07T04:11:30.1234567891Z",
            "2026-12-07T04:11:30.Z",
            "2026-02-30T04:11:30Z",
            "2026-12-07T24:11:30Z",
            "2026-12-07T04:11:60Z",
            "2026-12-07T04:11:30+24:00",
            "2026-12-07T04:11:30+01:60",
            "2026-12-07T04:11:30+01:99",
            "2026-12-07T04:11:30-23:59",
            "2026-12-07T04:11:30+0100",
            "+2026-12-07T04:11:30Z",
            "2026-12-07T04:11:30",
            "",
            "2026-12-07T04:11:30Z ",
        ];
        for text in texts {
            let ours = parse(text).ok();
            let chrono: Option<DateTime<Utc>> =
                serde_json::from_str(&serde_json::to_string(text).unwrap()).ok();
            assert_eq!(ours, chrono, "{text:?}");
        }
        for dt in samples() {
            assert_eq!(parse(&format(&dt)).unwrap(), dt);
        }
    }

    #[test]
    fn reads_through_serde_as_chrono_does() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Row {
            #[serde(with = "super")]
            at: DateTime<Utc>,
            #[serde(default, with = "super::option")]
            maybe: Option<DateTime<Utc>>,
        }
        let row: Row = serde_json::from_str(
            r#"{"at": "2026-12-07T04:11:30.126375+00:00", "maybe": "2026-12-07T05:11:30+01:00"}"#,
        )
        .unwrap();
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 4, 11, 30).unwrap();
        assert_eq!(row.at, at + chrono::Duration::microseconds(126_375));
        assert_eq!(row.maybe, Some(at));
        let row: Row =
            serde_json::from_str(r#"{"at": "2026-12-07T04:11:30Z", "maybe": null}"#).unwrap();
        assert_eq!((row.at, row.maybe), (at, None));
        let row: Row = serde_json::from_str(r#"{"at": "2026-12-07T04:11:30Z"}"#).unwrap();
        assert_eq!(row.maybe, None);
        for bad in [r#"{"at": 5}"#, r#"{"at": "yesterday"}"#, r#"{"at": null}"#] {
            assert!(serde_json::from_str::<Row>(bad).is_err(), "{bad}");
        }
    }
}
