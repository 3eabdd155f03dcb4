//! The client's address, which the sign-up and login throttles count by.
//! Spin reports the connection's peer (`spin-client-addr`); behind an
//! ingress or load balancer that is the proxy, for every client alike, so
//! the proxies named in `trusted_proxies` are looked through: each appends
//! the address it saw to `X-Forwarded-For`, and the client is the nearest
//! address there that is not a trusted proxy. What lies further left was
//! written by the client itself and is never believed.

use std::net::{IpAddr, SocketAddr};

use ipnet::{IpNet, Ipv6Net};

use crate::api::Request;
use crate::error::ApiError;
use crate::ports::Ctx;

/// The proxies whose `X-Forwarded-For` is believed: the application
/// variable `trusted_proxies`, comma-separated addresses or CIDR blocks
/// (e.g. `10.0.0.0/8, fd00::/8`); empty trusts none.
#[derive(Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// 500 `misconfigured` when an entry is neither an address nor a block.
    pub fn from_ctx(ctx: &Ctx) -> Result<Self, ApiError> {
        Self::parse(&ctx.var("trusted_proxies")).map_err(ApiError::misconfigured)
    }

    fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "trusted_proxies must list IP addresses or CIDR blocks \
                             (e.g. 10.0.0.0/8), not {entry:?}"
                        )
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// The key the per-address throttles count `req`'s client under: its IPv4
/// address, or its IPv6 /64 (one host usually holds a whole /64).
pub fn client_address(req: &Request, proxies: &TrustedProxies) -> String {
    let peer = req
        .headers()
        .get("spin-client-addr")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown");
    let Some(mut client) = parse_hop(peer) else {
        return peer.chars().take(64).collect();
    };
    // A header sent on several lines reaches a component as its last line
    // (spin-host keeps one value per name, as Spin's own conversion does):
    // the nearest proxy's, which is the part read first anyway.
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    for hop in forwarded
        .rsplit(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        if !proxies.trusts(client) {
            break;
        }
        match parse_hop(hop) {
            Some(ip) => client = ip,
            // A trusted proxy wrote something that is not an address
            // (`unknown`, an obfuscated name): it stands for its client.
            None => return hop.chars().take(64).collect(),
        }
    }
    throttle_key(client)
}

/// One hop: an address, with or without a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let ip = hop
        .parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|a| a.ip()))
        .or_else(|_| hop.trim_start_matches('[').trim_end_matches(']').parse())
        .ok()?;
    Some(ip.to_canonical())
}

fn throttle_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => Ipv6Net::new(v6, 64)
            .map(|net| net.trunc().to_string())
            .unwrap_or_else(|_| v6.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `forwarded`: the `X-Forwarded-For` value, none when empty.
    fn request(peer: &str, forwarded: &str) -> Request {
        let mut builder = http::Request::get("/").header("spin-client-addr", peer);
        if !forwarded.is_empty() {
            builder = builder.header("x-forwarded-for", forwarded);
        }
        builder.body(bytes::Bytes::new()).unwrap()
    }

    fn client(trusted: &str, peer: &str, forwarded: &str) -> String {
        let proxies = TrustedProxies::parse(trusted).unwrap();
        client_address(&request(peer, forwarded), &proxies)
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(client("", "203.0.113.9:4000", ""), "203.0.113.9");
        assert_eq!(
            client("", "203.0.113.9:4000", "198.51.100.1"),
            "203.0.113.9"
        );
        assert_eq!(
            client("10.0.0.0/8", "203.0.113.9:4000", "198.51.100.1"),
            "203.0.113.9"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted = "10.0.0.0/8, 192.168.1.1";
        // The ingress (10.1.2.3) saw the client; a second proxy in front.
        assert_eq!(
            client(trusted, "10.1.2.3:4000", "198.51.100.1"),
            "198.51.100.1"
        );
        assert_eq!(
            client(trusted, "10.1.2.3:4000", "198.51.100.1, 192.168.1.1"),
            "198.51.100.1"
        );
        // What the client wrote itself, left of the first untrusted hop, is not believed.
        assert_eq!(
            client(trusted, "10.1.2.3:4000", "1.1.1.1, 198.51.100.1"),
            "198.51.100.1"
        );
        assert_eq!(
            client(trusted, "10.1.2.3:4000", "1.1.1.1, 198.51.100.1:555"),
            "198.51.100.1"
        );
        // A client that claims to be a trusted proxy is looked through too,
        // but only as far as the list goes.
        assert_eq!(client(trusted, "10.1.2.3:4000", "10.9.9.9"), "10.9.9.9");
        // No header: the proxy itself.
        assert_eq!(client(trusted, "10.1.2.3:4000", ""), "10.1.2.3");
        // A hop that is no address stands for its client.
        assert_eq!(client(trusted, "10.1.2.3:4000", "unknown"), "unknown");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_block() {
        assert_eq!(
            client("", "[2001:db8:1:2:3:4:5:6]:4000", ""),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            client("fd00::/8", "[fd00::1]:4000", "[2001:db8:1:2::9]:80"),
            "2001:db8:1:2::/64"
        );
        // An IPv4 peer on a dual-stack socket is an IPv4 client.
        assert_eq!(client("", "[::ffff:203.0.113.9]:4000", ""), "203.0.113.9");
    }

    #[test]
    fn a_peer_that_is_no_address_is_counted_as_it_came() {
        assert_eq!(client("10.0.0.0/8", "unknown", "198.51.100.1"), "unknown");
    }

    #[test]
    fn entries_that_are_neither_addresses_nor_blocks_are_refused() {
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
        assert_eq!(
            TrustedProxies::parse(" 10.0.0.1 , ::1,").unwrap().0.len(),
            2
        );
        for bad in ["10.0.0.0/33", "ingress", "10.0.0.*"] {
            let message = TrustedProxies::parse(bad).unwrap_err();
            assert!(message.contains(bad), "{message}");
        }
    }
}
