//! Who is on the other end of a request: the client's address (for
//! throttling and the session record) and user agent.
//!
//! The address is the TCP peer. `X-Forwarded-For` is believed only when the
//! peer is a configured trusted proxy, and then only as far as the chain of
//! trusted proxies goes: the client is the right-most address that is not
//! one of them. Anything else a client could forge to dodge throttling.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use http::{HeaderMap, header::USER_AGENT, request::Parts};
use ipnet::IpNet;

/// Longest user agent kept with a session.
const MAX_USER_AGENT_CHARS: usize = 512;

/// Proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub std::sync::Arc<Vec<IpNet>>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub addr: IpAddr,
    pub user_agent: Option<String>,
}

impl<S> FromRequestParts<S> for Client
where
    S: Send + Sync,
    TrustedProxies: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let trusted = TrustedProxies::from_ref(state);
        // Served by platform::Server, connections always carry their peer.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(a)| canonical(a.ip()));
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        warn_untrusted_forwarding(peer, &parts.headers, &trusted.0);
        Ok(Self { addr: client_addr(peer, &parts.headers, &trusted.0), user_agent })
    }
}

/// Says once per process that forwarded headers arrive from a peer that is
/// not a trusted proxy: behind an edge that means `AUTH_TRUSTED_PROXIES`
/// is missing, and every client is throttled as the edge's one address.
fn warn_untrusted_forwarding(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if headers.contains_key("x-forwarded-for")
        && !trusted.iter().any(|n| n.contains(&peer))
        && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        tracing::warn!(
            %peer,
            "X-Forwarded-For arrived from a peer that is not in AUTH_TRUSTED_PROXIES: it is ignored, and clients \
             behind that proxy are throttled as one address; set AUTH_TRUSTED_PROXIES to the edge's addresses"
        );
    }
}

/// The client's address given the peer and the forwarding headers.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |a: &IpAddr| trusted.iter().any(|n| n.contains(a));
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = canonical(peer);
    for hop in hops.iter().rev() {
        if !is_trusted(&client) {
            break;
        }
        match hop.parse::<IpAddr>() {
            Ok(a) => client = canonical(a),
            Err(_) => break,
        }
    }
    client
}

/// `::ffff:10.0.0.1` is `10.0.0.1`, so one client has one throttling key.
fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(v: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in v {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_trusted() {
        let h = xff(&["203.0.113.9"]);
        assert_eq!(client_addr(ip("198.51.100.1"), &h, &[]), ip("198.51.100.1"));
        assert_eq!(client_addr(ip("198.51.100.1"), &h, &["10.0.0.0/8".parse().unwrap()]), ip("198.51.100.1"));
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // A client-forged left-most entry is not believed.
        let h = xff(&["1.2.3.4, 203.0.113.9", "10.0.0.7"]);
        assert_eq!(client_addr(ip("10.0.0.1"), &h, &trusted), ip("203.0.113.9"));
        // Only trusted hops: the left-most is as far as the chain goes.
        assert_eq!(client_addr(ip("10.0.0.1"), &xff(&["10.0.0.9"]), &trusted), ip("10.0.0.9"));
        // Garbage stops the walk at the last good hop.
        assert_eq!(client_addr(ip("10.0.0.1"), &xff(&["203.0.113.9, junk"]), &trusted), ip("10.0.0.1"));
        assert_eq!(client_addr(ip("::ffff:10.0.0.1"), &xff(&["203.0.113.9"]), &trusted), ip("203.0.113.9"));
    }
}
