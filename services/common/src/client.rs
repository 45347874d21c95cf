//! The browser's address, as far as the gateway can tell it.
//!
//! Per-address limits (sign-in attempts, registrations, live sockets) need the real client,
//! not the reverse proxy in front of the gateway. `X-Forwarded-For` is believed only when the
//! connection comes from a proxy listed in `TRUSTED_PROXIES`, and then only as far back as the
//! right-most hop that is not itself a trusted proxy: anything left of it the client wrote.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::config::ConfigError;

/// The browser's address, put into each request's extensions by the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl std::fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed (default: none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Comma-separated CIDRs or single addresses, e.g. `10.0.0.0/8, 192.0.2.1`.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is not an address or a CIDR block"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// `TRUSTED_PROXIES` from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let list = std::env::var("TRUSTED_PROXIES").unwrap_or_default();
        Self::parse(&list).map_err(|reason| ConfigError {
            name: "TRUSTED_PROXIES".into(),
            value: list.clone(),
            reason,
        })
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client behind a connection from `peer` carrying `headers`.
    pub fn client_of(&self, peer: SocketAddr, headers: &HeaderMap) -> ClientAddress {
        let mut client = peer.ip().to_canonical();
        if !self.trusts(client) {
            return ClientAddress(client);
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(address) => {
                    client = address.to_canonical();
                    if !self.trusts(client) {
                        break;
                    }
                }
                // A hop that is not an address: stop at the last one that was.
                Err(_) => break,
            }
        }
        ClientAddress(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            forwarded.parse().expect("a header value"),
        );
        headers
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().expect("an address"), 40_000)
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let proxies = TrustedProxies::default();
        let client = proxies.client_of(peer("198.51.100.9"), &headers("203.0.113.5"));
        assert_eq!(client.to_string(), "198.51.100.9");
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1").expect("valid");
        // The client wrote "1.1.1.1" itself; 203.0.113.5 is who reached the first proxy.
        let forwarded = headers("1.1.1.1, 203.0.113.5, 10.1.2.3");
        assert_eq!(
            proxies.client_of(peer("192.0.2.1"), &forwarded).to_string(),
            "203.0.113.5"
        );
        assert_eq!(
            proxies
                .client_of(peer("198.51.100.9"), &forwarded)
                .to_string(),
            "198.51.100.9",
            "a connection not from a proxy is its own client"
        );
        assert_eq!(
            proxies
                .client_of(peer("10.9.9.9"), &headers("junk, 10.1.1.1"))
                .to_string(),
            "10.1.1.1"
        );
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
        assert_eq!(
            TrustedProxies::parse(" ").expect("empty"),
            TrustedProxies::default()
        );
    }
}
