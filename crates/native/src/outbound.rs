//! `allowed_outbound_hosts`, checked the way Spin checks it before any
//! outbound connection (HTTP or Postgres): an entry is
//! `<scheme>://<host>[:<port>]`, where the scheme may be `*`, the host `*`,
//! `*.domain`, a name, an IP address or a CIDR range, and the port `*`, a
//! number or a range `a..b` (end excluded). A missing port means the scheme's
//! well-known port. Entries may not carry a path.

use std::net::IpAddr;

use anyhow::{bail, Context, Result};

/// The port Spin assumes for a scheme when none is written.
pub fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// A component's resolved `allowed_outbound_hosts`.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Vec<AllowedHost>);

#[derive(Debug, Clone)]
struct AllowedHost {
    /// `None` for `*`.
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone)]
enum HostPattern {
    Any,
    /// `*.example.com`, stored as `.example.com`.
    Subdomain(String),
    /// `self`: the app itself, reachable only through relative URLs, which
    /// these ports never send.
    ToSelf,
    Name(String),
    Network {
        addr: IpAddr,
        prefix: u8,
    },
}

#[derive(Debug, Clone)]
enum PortPattern {
    Any,
    /// `start..end`, end excluded; a single port is `p..p+1`.
    Range(u32, u32),
}

impl AllowedHosts {
    /// Nothing is allowed (a component without `allowed_outbound_hosts`).
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses resolved entries (templates already expanded).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self> {
        if let [only] = entries {
            if only.as_ref() == "insecure:allow-all" {
                bail!("'insecure:allow-all' is not allowed; use '*://*:*' to allow everything");
            }
        }
        entries
            .iter()
            .map(|e| {
                AllowedHost::parse(e.as_ref()).with_context(|| {
                    format!("invalid allowed_outbound_hosts entry {:?}", e.as_ref())
                })
            })
            .collect::<Result<_>>()
            .map(Self)
    }

    /// Whether a connection to `scheme://host:port` may be made; `port`
    /// `None` means the scheme's well-known port.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let host = normalize_host(host);
        self.0.iter().any(|h| h.allows(scheme, &host, port))
    }

    /// [`allows`](Self::allows) for an absolute URL; relative or malformed
    /// URLs are never allowed.
    pub fn allows_url(&self, url: &str) -> bool {
        url::Url::parse(url).is_ok_and(|u| {
            u.host_str()
                .is_some_and(|host| self.allows(u.scheme(), host, u.port()))
        })
    }
}

impl AllowedHost {
    fn parse(entry: &str) -> Result<Self> {
        let entry = entry.trim();
        let Some((scheme, rest)) = entry.split_once("://") else {
            bail!("it has no scheme (write e.g. 'https://host' or '*://host:*')");
        };
        let (host, port) = split_host_port(rest);
        let port = match port.split_once('/') {
            Some((_, path)) if !path.is_empty() => bail!("it has a path, which is not allowed"),
            Some((port, _)) => port,
            None => port,
        };
        let scheme = match scheme {
            "*" => None,
            s if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()) => {
                Some(s.to_ascii_lowercase())
            }
            s => bail!("scheme {s:?} must be letters only, or '*'"),
        };
        let port = match port {
            "" => {
                let scheme = scheme.as_deref().unwrap_or("*");
                let p = well_known_port(scheme).with_context(|| {
                    format!("no port given and scheme {scheme:?} has no well-known port")
                })?;
                PortPattern::Range(p.into(), u32::from(p) + 1)
            }
            "*" => PortPattern::Any,
            p => match p.split_once("..") {
                Some((start, end)) => PortPattern::Range(parse_port(start)?, parse_port(end)?),
                None => {
                    let p = parse_port(p)?;
                    PortPattern::Range(p, p + 1)
                }
            },
        };
        Ok(Self {
            scheme,
            host: HostPattern::parse(host)?,
            port,
        })
    }

    fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme_ok = self
            .scheme
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(scheme));
        let port_ok = match self.port {
            PortPattern::Any => true,
            PortPattern::Range(start, end) => port
                .or_else(|| well_known_port(&scheme.to_ascii_lowercase()))
                .is_some_and(|p| (start..end).contains(&u32::from(p))),
        };
        scheme_ok && port_ok && self.host.allows(host)
    }
}

/// Splits `host:port`, keeping IPv6 brackets and CIDR suffixes with the host.
fn split_host_port(rest: &str) -> (&str, &str) {
    if let Some(end) = rest.strip_prefix('[').and_then(|r| r.find(']')) {
        let (host, after) = rest.split_at(end + 2);
        let port = after.strip_prefix(':').unwrap_or(after);
        return (host, port);
    }
    rest.rsplit_once(':').unwrap_or((rest, ""))
}

fn parse_port(p: &str) -> Result<u32> {
    p.parse::<u16>()
        .map(u32::from)
        .with_context(|| format!("port {p:?} is not a number from 0 to 65535"))
}

/// Lowercase, without IPv6 brackets.
fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

impl HostPattern {
    fn parse(host: &str) -> Result<Self> {
        let host = host.trim().trim_end_matches('/');
        if host == "*" {
            return Ok(Self::Any);
        }
        if host == "self" || host == "self.alt" {
            return Ok(Self::ToSelf);
        }
        if let Some(network) = parse_network(host) {
            return Ok(network);
        }
        if host.is_empty() {
            bail!("it has no host");
        }
        if host.contains('/') {
            bail!("hosts must not contain paths");
        }
        if let Some(domain) = host.strip_prefix("*.") {
            if domain.contains('*') {
                bail!("wildcards are allowed only as the first label (*.example.com)");
            }
            return Ok(Self::Subdomain(format!(".{}", domain.to_ascii_lowercase())));
        }
        if host.contains('*') {
            bail!("wildcards are allowed only as the first label (*.example.com)");
        }
        Ok(Self::Name(host.to_ascii_lowercase()))
    }

    fn allows(&self, host: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Subdomain(suffix) => host.ends_with(suffix.as_str()),
            Self::ToSelf => false,
            Self::Name(name) => name == host,
            Self::Network { addr, prefix } => host
                .parse::<IpAddr>()
                .is_ok_and(|ip| in_network(ip, *addr, *prefix)),
        }
    }
}

/// `10.0.0.0/8`, `127.0.0.1`, `[::1]`, `fd00::/8`.
fn parse_network(host: &str) -> Option<HostPattern> {
    let host = normalize_host(host);
    let (addr, prefix) = match host.split_once('/') {
        Some((addr, prefix)) => (
            addr.parse::<IpAddr>().ok()?,
            Some(prefix.parse::<u8>().ok()?),
        ),
        None => (host.parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max).min(max);
    Some(HostPattern::Network { addr, prefix })
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let (ip, net, bits) = match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            (u128::from(u32::from(ip)), u128::from(u32::from(net)), 32u32)
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => (u128::from(ip), u128::from(net), 128u32),
        _ => return false,
    };
    let shift = bits - u32::from(prefix);
    ip.checked_shr(shift).unwrap_or(0) == net.checked_shr(shift).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_allowed_exactly_as_spin_allows_them() {
        let table: &[(&str, &str, bool)] = &[
            // scheme, host and default port
            ("https://example.com", "https://example.com/v1/chat", true),
            ("https://example.com", "https://example.com:443/", true),
            ("https://example.com", "http://example.com/", false),
            ("https://example.com", "https://example.com:8443/", false),
            ("https://example.com", "https://api.example.com/", false),
            ("https://example.com/", "https://example.com/", true),
            ("https://EXAMPLE.com", "https://example.COM/", true),
            // explicit ports
            (
                "http://127.0.0.1:11434",
                "http://127.0.0.1:11434/api/chat",
                true,
            ),
            ("http://127.0.0.1:11434", "http://127.0.0.1/api/chat", false),
            ("http://127.0.0.1:11434", "http://localhost:11434/", false),
            (
                "http://localhost:8000..8010",
                "http://localhost:8009/",
                true,
            ),
            (
                "http://localhost:8000..8010",
                "http://localhost:8010/",
                false,
            ),
            // postgres, with and without a port
            (
                "postgres://db.internal:5432",
                "postgres://db.internal:5432/todo",
                true,
            ),
            (
                "postgres://db.internal",
                "postgres://db.internal/todo",
                true,
            ),
            (
                "postgres://db.internal",
                "postgres://db.internal:6543/todo",
                false,
            ),
            // wildcards
            ("*://host:*", "http://host:1/", true),
            ("*://host:*", "postgres://host:5432/x", true),
            ("*://host:*", "http://other:1/", false),
            ("https://*.example.com", "https://api.example.com/", true),
            ("https://*.example.com", "https://a.b.example.com/", true),
            ("https://*.example.com", "https://example.com/", false),
            ("https://*.example.com", "https://badexample.com/", false),
            ("*://*:*", "mqtt://anything:9/", true),
            ("http://*:80", "http://anything/", true),
            // addresses and networks
            ("http://10.0.0.0/8:*", "http://10.1.2.3:99/", true),
            ("http://10.0.0.0/8:*", "http://11.1.2.3:99/", false),
            ("http://[::1]:8080", "http://[::1]:8080/", true),
            // self is for relative URLs only
            ("http://self", "http://self/", false),
            // relative URLs never pass
            ("*://*:*", "/relative", false),
        ];
        for (entry, url, want) in table {
            let allowed = AllowedHosts::parse(&[*entry]).unwrap();
            assert_eq!(allowed.allows_url(url), *want, "{entry} vs {url}");
        }
    }

    #[test]
    fn no_entries_allow_nothing() {
        assert!(!AllowedHosts::none().allows_url("https://example.com/"));
    }

    #[test]
    fn malformed_entries_are_rejected() {
        for entry in [
            "example.com",
            "*",
            "",
            "https://example.com/path",
            "*://host",
            "ftp://host",
            "https://a.*.com",
            "https://ex*ample.com",
            "http://host:port",
            "http://host:70000",
            "ht-tp://host:1",
            "http://:80",
        ] {
            assert!(AllowedHosts::parse(&[entry]).is_err(), "{entry:?}");
        }
        assert!(AllowedHosts::parse(&["insecure:allow-all"]).is_err());
    }
}
