//! Typed views of the Spin variables (see `spin.toml` for names and defaults).

use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::ApiError;
use crate::ports::{Ctx, Variables};

/// The separator of the `database` component variable's six settings.
pub const DATABASE_SEPARATOR: char = '\u{1f}';

/// The database settings in the order `database` joins them, with their
/// defaults (`None`: the password, which may be empty).
pub const DATABASE_SETTINGS: [(&str, Option<&str>); 6] = [
    ("db_host", Some("127.0.0.1")),
    ("db_port", Some("5432")),
    ("db_name", Some("todo")),
    ("db_user", Some("todo")),
    ("db_password", None),
    ("db_sslmode", Some("disable")),
];

/// The Postgres connection string, assembled from the `db_*` variables so
/// nothing is configured twice (`allowed_outbound_hosts` uses the same ones),
/// with the user, password, database name and sslmode percent-encoded. Built
/// by hand rather than through `url::Url`, whose setters parse the URL again
/// each: about a twentieth of `/api/auth/me`'s own code in the guest.
///
/// A component reads them as one value, `database`: spin.toml joins the six
/// with [`DATABASE_SEPARATOR`] (unit separator, U+001F), one host call under
/// Spin instead of six. Joining is only safe while no value holds the
/// separator, which shows as more than six parts: then, and where `database`
/// is not declared (the migrator reads application variables), each of the
/// six is read on its own.
pub fn database_url(vars: &dyn Variables) -> String {
    let joined = vars.get("database");
    let parts: Vec<&str> = joined
        .as_deref()
        .map(|j| j.split(DATABASE_SEPARATOR).collect())
        .unwrap_or_default();
    let read = |i: usize| -> String {
        let (name, default) = DATABASE_SETTINGS[i];
        let value = match parts.len() {
            6 => Some(parts[i].to_owned()),
            _ => vars.get(name),
        };
        match default {
            Some(default) => value
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_owned()),
            None => value.unwrap_or_default(),
        }
    };
    let [host, port, name, user, password, sslmode] = std::array::from_fn(read);
    let password = match password.as_str() {
        "" => String::new(),
        password => format!(":{}", encoded(password)),
    };
    // An IPv6 address goes in brackets, as `[::1]:5432`.
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    format!(
        "postgres://{}{password}@{host}:{port}/{}?sslmode={}",
        encoded(&user),
        encoded(&name),
        encoded(&sslmode)
    )
}

/// Everything but the unreserved characters of RFC 3986, which every URL
/// reader takes as they are.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `value` percent-encoded for any part of the connection string, `%`
/// included: PostgreSQL's client decodes every part.
fn encoded(value: &str) -> String {
    utf8_percent_encode(value, NOT_UNRESERVED).to_string()
}

/// Minimum length of `jwt_secret`, in bytes (HS256 wants at least 256 bits).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

pub struct JwtConfig {
    pub secret: Vec<u8>,
    pub ttl_seconds: i64,
}

/// By hand, so that the signing secret never reaches a log.
impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig")
            .field("secret", &"***")
            .field("ttl_seconds", &self.ttl_seconds)
            .finish()
    }
}

impl JwtConfig {
    /// What issuing a token needs: the signing secret and the lifetime.
    /// 500 `misconfigured` (and a clear log line) when the secret is
    /// missing or short, or the lifetime is out of range.
    pub fn from_ctx(ctx: &Ctx) -> Result<Self, ApiError> {
        let secret = Self::secret(ctx)?;
        let ttl_seconds = match ctx.var("jwt_ttl_seconds").trim() {
            "" => 3600,
            v => v
                .parse::<i64>()
                .ok()
                .filter(|t| (60..=30 * 24 * 3600).contains(t))
                .ok_or_else(|| {
                    ApiError::misconfigured(format!(
                        "jwt_ttl_seconds must be a number of seconds between 60 and 2592000, not {v:?}"
                    ))
                })?,
        };
        Ok(Self {
            secret,
            ttl_seconds,
        })
    }

    /// The signing secret alone, which is all that verifying a token needs
    /// (every authenticated request: one variable read fewer than
    /// [`from_ctx`](Self::from_ctx)). 500 `misconfigured` when it is
    /// missing or short.
    pub fn secret(ctx: &Ctx) -> Result<Vec<u8>, ApiError> {
        let secret = ctx.var("jwt_secret");
        if secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(ApiError::misconfigured(format!(
                "jwt_secret must be set to at least {MIN_JWT_SECRET_BYTES} bytes (it has {}); \
                 set SPIN_VARIABLE_JWT_SECRET or the jwt_secret variable",
                secret.len()
            )));
        }
        Ok(secret.into_bytes())
    }
}

/// Per-tier time limit for LLM calls (`llm_timeout_ms`, default 8000).
pub fn llm_timeout(ctx: &Ctx) -> Duration {
    let ms = ctx
        .var("llm_timeout_ms")
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|ms| *ms > 0)
        .unwrap_or(8000);
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Vars(HashMap<&'static str, &'static str>);
    impl Variables for Vars {
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }

    #[test]
    fn jwt_configs_debug_output_hides_the_secret() {
        let config = JwtConfig {
            secret: b"a-signing-secret-of-32-bytes-or-more".to_vec(),
            ttl_seconds: 900,
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("a-signing-secret"), "{shown}");
        // Nor as the bytes a derived Debug would print.
        assert!(!shown.contains("97, 45, 115"), "{shown}");
        assert!(shown.contains("900"), "{shown}");
    }

    #[test]
    fn database_url_uses_defaults_for_missing_variables() {
        let url = database_url(&Vars(HashMap::new()));
        assert_eq!(url, "postgres://todo@127.0.0.1:5432/todo?sslmode=disable");
    }

    /// Variables that remember which names were asked, as Spin's host calls.
    #[derive(Default)]
    struct Counted(HashMap<String, String>, std::cell::RefCell<Vec<String>>);
    impl Counted {
        fn with(mut self, name: &str, value: &str) -> Self {
            self.0.insert(name.to_owned(), value.to_owned());
            self
        }
    }
    impl Variables for Counted {
        fn get(&self, name: &str) -> Option<String> {
            self.1.borrow_mut().push(name.to_owned());
            self.0.get(name).cloned()
        }
    }

    const SIX: [(&str, &str); 6] = [
        ("db_host", "db.internal"),
        ("db_port", "6543"),
        ("db_name", "app"),
        ("db_user", "me@corp"),
        ("db_password", "p@ss:w/rd"),
        ("db_sslmode", "require"),
    ];

    fn joined(values: [&str; 6]) -> String {
        values.join(&DATABASE_SEPARATOR.to_string())
    }

    #[test]
    fn database_url_reads_the_joined_settings_in_one_variable() {
        let counted = Counted::default().with("database", &joined(SIX.map(|(_, v)| v)));
        assert_eq!(
            database_url(&counted),
            database_url(&Vars(HashMap::from(SIX)))
        );
        assert_eq!(*counted.1.borrow(), ["database"]);

        // Empty settings take their defaults, as the six variables do.
        let counted = Counted::default().with("database", &joined([""; 6]));
        assert_eq!(
            database_url(&counted),
            "postgres://todo@127.0.0.1:5432/todo?sslmode=disable"
        );
        assert_eq!(counted.1.borrow().len(), 1);
    }

    #[test]
    fn a_setting_holding_the_separator_is_read_on_its_own() {
        let password = format!("a{DATABASE_SEPARATOR}b");
        let six = SIX.map(|(name, v)| (name, if name == "db_password" { &*password } else { v }));
        let counted = six
            .iter()
            .fold(Counted::default(), |c, (name, v)| c.with(name, v))
            .with("database", &joined(six.map(|(_, v)| v)));
        let url = database_url(&counted);
        assert_eq!(
            url,
            "postgres://me%40corp:a%1Fb@db.internal:6543/app?sslmode=require"
        );
        // `database` and then each of the six.
        assert_eq!(counted.1.borrow().len(), 7, "{:?}", counted.1.borrow());
    }

    #[test]
    fn database_url_percent_encodes_credentials() {
        let vars = Vars(HashMap::from(SIX));
        let url = database_url(&vars);
        assert_eq!(
            url,
            "postgres://me%40corp:p%40ss%3Aw%2Frd@db.internal:6543/app?sslmode=require"
        );
        // A `%` too, which PostgreSQL's client would otherwise decode, and
        // what is not ASCII.
        let vars = Vars(HashMap::from([
            ("db_user", "tödo"),
            ("db_password", "100%41 sure&=?#"),
            ("db_name", "my db/x"),
            ("db_host", "::1"),
        ]));
        assert_eq!(
            database_url(&vars),
            "postgres://t%C3%B6do:100%2541%20sure%26%3D%3F%23@[::1]:5432/my%20db%2Fx?sslmode=disable"
        );
    }
}
