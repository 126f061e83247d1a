//! Which destinations the caller may reach.
//!
//! The caller fetches URLs chosen by other services' clients, so it must not
//! become a door into the network it runs in: by default every address that
//! is not globally routable is refused — loopback, private, shared
//! (carrier-grade NAT), link-local, unique-local, multicast, reserved and
//! documentation ranges. Operators can open specific networks
//! (`CALLER_ALLOWED_NETWORKS`); cloud metadata endpoints stay refused even
//! then, because credentials live there.
//!
//! The policy is applied to every address a name resolves to, to IP
//! literals, and to every redirect hop; connections go to the addresses that
//! were checked (see [`crate::fetch`]), so a second DNS answer cannot swap
//! in an internal address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why a destination was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("destination {addr} refused: it is {kind}{hint}")]
pub struct Refused {
    pub addr: IpAddr,
    pub kind: &'static str,
    hint: &'static str,
}

#[derive(Debug, Clone, Default)]
pub struct Policy {
    allowed: Vec<IpNet>,
}

impl Policy {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    /// Whether `addr` may be connected to.
    pub fn check(&self, addr: IpAddr) -> Result<(), Refused> {
        let addr = canonical(addr);
        if is_metadata(addr) {
            return Err(Refused { addr, kind: "a cloud metadata endpoint", hint: "" });
        }
        match classify(addr) {
            None => Ok(()),
            Some(_) if self.allowed.iter().any(|net| net.contains(&addr)) => Ok(()),
            Some(kind) => Err(Refused { addr, kind, hint: " (set CALLER_ALLOWED_NETWORKS to allow it)" }),
        }
    }
}

/// IPv4-mapped and -compatible IPv6 addresses are judged as the IPv4
/// address they carry, so `::ffff:127.0.0.1` is loopback.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

fn is_metadata(addr: IpAddr) -> bool {
    const V4: [Ipv4Addr; 3] = [
        Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, OpenStack
        Ipv4Addr::new(169, 254, 170, 2),   // AWS ECS task metadata
        Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
    ];
    const V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)]; // AWS IMDS over IPv6
    match addr {
        IpAddr::V4(a) => V4.contains(&a),
        IpAddr::V6(a) => V6.contains(&a),
    }
}

/// The kind of non-public address, or `None` for a globally routable one.
fn classify(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(a) => {
            let [b0, b1, ..] = a.octets();
            if a.is_loopback() {
                Some("a loopback address")
            } else if a.is_private() {
                Some("a private address")
            } else if a.is_link_local() {
                Some("a link-local address")
            } else if b0 == 100 && (64..128).contains(&b1) {
                Some("a shared (carrier-grade NAT) address")
            } else if a.is_unspecified() || b0 == 0 {
                Some("an unspecified address")
            } else if a.is_multicast() || a.is_broadcast() || b0 >= 240 {
                Some("a multicast, broadcast or reserved address")
            } else if a.is_documentation() || (b0 == 198 && (b1 == 18 || b1 == 19)) || (b0 == 192 && b1 == 0) {
                Some("a documentation, benchmarking or protocol-assignment address")
            } else {
                None
            }
        }
        IpAddr::V6(a) => {
            let s0 = a.segments()[0];
            if a.is_loopback() {
                Some("a loopback address")
            } else if a.is_unspecified() {
                Some("an unspecified address")
            } else if (s0 & 0xfe00) == 0xfc00 {
                Some("a unique-local (private) address")
            } else if (s0 & 0xffc0) == 0xfe80 {
                Some("a link-local address")
            } else if a.is_multicast() {
                Some("a multicast address")
            } else if s0 == 0x2001 && a.segments()[1] == 0xdb8 {
                Some("a documentation address")
            } else if s0 == 0x64 && a.segments()[1] == 0xff9b {
                // NAT64 can reach any IPv4 address, internal ones included.
                Some("a NAT64 address")
            } else if (s0 & 0xe000) != 0x2000 {
                Some("outside the global unicast range")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(p: &Policy, a: &str) -> bool {
        p.check(a.parse().unwrap()).is_err()
    }

    #[test]
    fn refuses_internal_destinations_by_default() {
        let p = Policy::default();
        for a in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "fd00:ec2::254",
            "64:ff9b::a00:1",
        ] {
            assert!(refused(&p, a), "{a} should be refused");
        }
    }

    #[test]
    fn allows_public_destinations() {
        let p = Policy::default();
        for a in ["93.184.215.14", "1.1.1.1", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!refused(&p, a), "{a} should be allowed");
        }
    }

    #[test]
    fn allow_list_opens_networks_but_never_metadata() {
        let p = Policy::new(vec!["127.0.0.0/8".parse().unwrap(), "169.254.0.0/16".parse().unwrap()]);
        assert!(!refused(&p, "127.0.0.1"));
        assert!(!refused(&p, "::ffff:127.0.0.1"));
        assert!(refused(&p, "10.0.0.1"), "other private ranges stay refused");
        assert!(refused(&p, "169.254.169.254"), "metadata stays refused");
        let err = Policy::default().check("127.0.0.1".parse().unwrap()).unwrap_err().to_string();
        assert!(err.contains("loopback") && err.contains("CALLER_ALLOWED_NETWORKS"), "{err}");
    }
}
