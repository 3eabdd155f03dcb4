//! W3C Trace Context: the `traceparent` a request came with, when it is
//! valid. Its trace id goes into the access-log line, so that a log line and
//! the trace Spin exports (Spin joins an incoming trace) can be found from
//! each other, and it is passed on to the LLM calls, so that the provider's
//! side of a slow chat request lands in the same trace.
//!
//! An invalid header is ignored, as the specification asks: the request is
//! served as one without a trace. The app records no spans of its own, so it
//! passes the header on unchanged (the specification's rule for a component
//! that does not take part in the trace).

use http::{HeaderMap, HeaderValue};

pub const TRACEPARENT: &str = "traceparent";

/// A valid `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
}

impl TraceParent {
    /// Parses a header value by the specification's rules: lowercase hex
    /// only, version `ff` refused, neither id all zeros. A later version
    /// is read by the fields version 00 defines, as the specification says,
    /// and passed on as version 00.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim_matches([' ', '\t']);
        let bytes = value.as_bytes();
        if bytes.len() < 55 {
            return None;
        }
        let version = hex::<1>(&bytes[0..2])?[0];
        if version == 0xff
            || (version == 0 && bytes.len() != 55)
            || (bytes.len() > 55 && bytes[55] != b'-')
        {
            return None;
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let trace_id = hex::<16>(&bytes[3..35])?;
        let parent_id = hex::<8>(&bytes[36..52])?;
        let flags = hex::<1>(&bytes[53..55])?[0];
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// The request's trace context: its one valid `traceparent` header. Two
    /// or more are invalid by the specification, and ignored.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let mut values = headers.get_all(TRACEPARENT).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        Self::parse(value.to_str().ok()?)
    }

    /// The trace id, as it appears in the header (32 lowercase hex digits).
    pub fn trace_id(&self) -> String {
        to_hex(&self.trace_id)
    }

    /// The header value to pass on.
    pub fn header_value(&self) -> String {
        format!(
            "00-{}-{}-{}",
            to_hex(&self.trace_id),
            to_hex(&self.parent_id),
            to_hex(&[self.flags])
        )
    }

    /// Sets `traceparent` on an outbound request's headers.
    pub fn propagate(&self, headers: &mut HeaderMap) {
        if let Ok(value) = HeaderValue::from_str(&self.header_value()) {
            headers.insert(TRACEPARENT, value);
        }
    }
}

/// `N` bytes from `2 * N` lowercase hex digits (the specification refuses
/// uppercase).
fn hex<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn traceparent_values_are_read_by_the_specifications_rules() {
        // (value, the trace id read, or None when it must be ignored)
        let cases: &[(&str, Option<&str>)] = &[
            (VALID, Some("4bf92f3577b34da6a3ce929d0e0e4736")),
            // Not sampled: still a trace.
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            ),
            // Surrounding blanks are not part of the value.
            (
                " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t",
                Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            ),
            // A later version: the fields version 00 defines, and more after a dash.
            (
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds",
                Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            ),
            (
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            ),
            // A later version followed by something other than a dash.
            (
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
                None,
            ),
            // Version 00 has exactly four fields.
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                None,
            ),
            // Version ff is forbidden.
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                None,
            ),
            // Uppercase hex is refused.
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
                None,
            ),
            // All-zero ids are invalid.
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                None,
            ),
            // Wrong lengths, separators or digits.
            (
                "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
                None,
            ),
            (
                "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
                None,
            ),
            (
                "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",
                None,
            ),
            ("", None),
            ("garbage", None),
        ];
        for (value, expected) in cases {
            let read = TraceParent::parse(value).map(|t| t.trace_id());
            assert_eq!(read.as_deref(), *expected, "{value:?}");
        }
    }

    #[test]
    fn a_trace_is_passed_on_as_version_00_with_its_ids_and_flags() {
        let read = TraceParent::parse(VALID).unwrap();
        assert_eq!(read.header_value(), VALID);
        let later =
            TraceParent::parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-more")
                .unwrap();
        assert_eq!(
            later.header_value(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"
        );
        let mut headers = HeaderMap::new();
        later.propagate(&mut headers);
        assert_eq!(headers[TRACEPARENT], later.header_value());
    }

    #[test]
    fn a_request_with_one_valid_traceparent_has_a_trace_and_others_have_none() {
        let mut headers = HeaderMap::new();
        assert_eq!(TraceParent::from_headers(&headers), None);
        headers.insert(TRACEPARENT, HeaderValue::from_static(VALID));
        assert_eq!(
            TraceParent::from_headers(&headers).map(|t| t.trace_id()),
            Some("4bf92f3577b34da6a3ce929d0e0e4736".to_owned())
        );
        // Two headers: invalid by the specification.
        headers.append(TRACEPARENT, HeaderValue::from_static(VALID));
        assert_eq!(TraceParent::from_headers(&headers), None);
        // Not text.
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_bytes(b"00-\xff").unwrap());
        assert_eq!(TraceParent::from_headers(&headers), None);
    }
}
