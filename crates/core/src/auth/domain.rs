//! Account input, parsed once at the edge so the rest of the code never re-checks.

use std::sync::OnceLock;

use regex::Regex;

/// A trimmed, lowercased email address of a plausible shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The longest address SMTP allows, in bytes.
    pub const MAX_BYTES: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, String> {
        static SHAPE: OnceLock<Option<Regex>> = OnceLock::new();
        let email = Self::normalize(raw)?;
        // One @, a non-empty local part, a dotted domain, no spaces.
        let shape = SHAPE.get_or_init(|| {
            Regex::new(r"^[^@\s]{1,64}@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$").ok()
        });
        match shape {
            Some(re) if re.is_match(&email) => Ok(Self(email)),
            Some(_) => Err("must be a valid email address".into()),
            None => Err("cannot be checked right now".into()),
        }
    }

    /// Trimmed and lowercased, bounded, without control characters, but of
    /// any shape: what a login looks up (and throttles by), where an address
    /// that could never have signed up simply matches no account.
    pub fn normalize(raw: &str) -> Result<String, String> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            Err("must not be empty".into())
        } else if email.len() > Self::MAX_BYTES {
            Err(format!("must be at most {} characters", Self::MAX_BYTES))
        } else if email.chars().any(char::is_control) {
            Err("must not contain control characters".into())
        } else {
            Ok(email)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 8 to 128 characters, kept exactly as typed (no trimming: spaces are allowed).
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: String) -> Result<Self, String> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            Err(format!("must be at least {} characters", Self::MIN_CHARS))
        } else if n > Self::MAX_CHARS {
            Err(format!("must be at most {} characters", Self::MAX_CHARS))
        } else {
            Ok(Self(raw))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A display name: 1 to 100 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        match name.chars().count() {
            0 => Err("must not be empty".into()),
            _ if name.chars().any(char::is_control) => {
                Err("must be one line without control characters".into())
            }
            1..=100 => Ok(Self(name.to_owned())),
            _ => Err("must be at most 100 characters".into()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        let cases: &[(&str, Option<&str>)] = &[
            ("  Ada@Example.COM ", Some("ada@example.com")),
            ("a.b+tag@sub.example.org", Some("a.b+tag@sub.example.org")),
            ("", None),
            ("   ", None),
            ("no-at-sign", None),
            ("two@@example.com", None),
            ("a@localhost", None),
            ("a b@example.com", None),
            ("a@-example.com", None),
            ("@example.com", None),
            ("a\u{0}b@example.com", None),
            ("a\tb@example.com", None),
        ];
        for (raw, want) in cases {
            let got = Email::parse(raw).ok();
            assert_eq!(got.as_ref().map(Email::as_str), *want, "input {raw:?}");
        }
    }

    #[test]
    fn passwords_must_be_8_to_128_characters() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(Password::parse("é".repeat(128)).is_ok());
        assert!(Password::parse("x".repeat(129)).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(UserName::parse("  Ada ").unwrap().as_str(), "Ada");
        assert!(UserName::parse("   ").is_err());
        assert!(UserName::parse(&"n".repeat(100)).is_ok());
        assert!(UserName::parse(&"n".repeat(101)).is_err());
        assert!(UserName::parse("A\u{0}da").is_err());
        assert!(UserName::parse("A\nda").is_err());
    }

    #[test]
    fn a_login_email_is_bounded_but_of_any_shape() {
        assert_eq!(Email::normalize(" Ada@X "), Ok("ada@x".into()));
        assert!(Email::normalize(&"a".repeat(255)).is_err());
        assert!(Email::normalize(&"é".repeat(128)).is_err(), "bytes count");
        assert!(Email::normalize("a\u{0}@example.com").is_err());
        assert!(Email::normalize("  ").is_err());
    }

    #[test]
    fn password_debug_never_shows_the_secret() {
        let p = Password::parse("hunter2hunter2".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
