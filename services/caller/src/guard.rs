//! Which destinations the caller may reach.
//!
//! The caller fetches URLs chosen by other services' clients, so it must not
//! become a door into the network it runs in: by default every address that
//! is not globally reachable is refused — loopback, private, shared
//! (carrier-grade NAT), link-local, unique-local, multicast, reserved and
//! documentation ranges. Operators can open specific networks
//! (`CALLER_ALLOWED_NETWORKS`); cloud metadata endpoints stay refused even
//! then, because credentials live there.
//!
//! "Globally reachable" is what the IANA IPv4 and IPv6 Special-Purpose
//! Address Registries say it is: `special_purpose.rs` holds a
//! committed copy of both, row for row, and the most specific row that
//! contains an address decides (so 192.0.0.9 is reachable although the
//! 192.0.0.0/24 around it is not). An address in a row whose "Globally
//! Reachable" column is
//!
//! - `True` is not refused on the registry's account;
//! - `False` is refused;
//! - `N/A` is refused — Teredo (2001::/32) stays under the `False` of the
//!   2001::/23 it sits in, whose footnote allows only "a more specific
//!   allocation" to lift it — except 6to4 (2002::/16), whose `N/A` the
//!   registry defers to RFC 3056: it is judged by the IPv4 address it embeds;
//! - blank (the terminated 192.88.99.0/24 and 2001:10::/28) is refused.
//!
//! Beyond the registry, and kept from before it was consulted:
//!
//! - multicast (224.0.0.0/4, ff00::/8), which the registry does not list;
//! - IPv6 outside 2000::/3 that no registry row covers (unallocated, or
//!   deprecated forms such as IPv4-compatible `::a.b.c.d`);
//! - addresses that carry an IPv4 address are judged by it: IPv4-mapped
//!   (`::ffff:a.b.c.d`) wholly as that IPv4 address; NAT64 (64:ff9b::/96),
//!   6to4 (2002::/16) and IPv4-compatible (`::a.b.c.d`) forms are refused
//!   if the address they carry is, on top of their own IPv6 verdict;
//! - cloud metadata endpoints, also when carried in such a form, are
//!   refused whatever `CALLER_ALLOWED_NETWORKS` says.
//!
//! The policy is applied to every address a name resolves to, to IP
//! literals, and to every redirect hop; connections go to the addresses that
//! were checked (see [`crate::fetch`]), so a second DNS answer cannot swap
//! in an internal address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::special_purpose::{self, Reachable, Row};

/// Why a destination was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("destination {addr} refused: it is {kind}{detail}{hint}")]
pub struct Refused {
    pub addr: IpAddr,
    pub kind: &'static str,
    detail: String,
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
        let embedded = embedded_ipv4(addr);
        if is_metadata(addr) {
            return Err(Refused { addr, kind: METADATA, detail: String::new(), hint: "" });
        }
        if let Some((v4, form)) = embedded {
            let carried = IpAddr::V4(v4);
            if is_metadata(carried) {
                return Err(Refused { addr, kind: METADATA, detail: format!(" ({v4} embedded in {form})"), hint: "" });
            }
            // The allow-list opens this if it lists the IPv6 address or the IPv4 one it carries.
            if let Some(reason) = classify(carried)
                && !self.opens(addr)
                && !self.opens(carried)
            {
                return Err(reason.refused(addr, Some((v4, form))));
            }
        }
        match classify(addr) {
            Some(reason) if !self.opens(addr) => Err(reason.refused(addr, None)),
            _ => Ok(()),
        }
    }

    fn opens(&self, addr: IpAddr) -> bool {
        self.allowed.iter().any(|net| net.contains(&addr))
    }
}

const METADATA: &str = "a cloud metadata endpoint";

/// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry,
/// so `::ffff:127.0.0.1` is loopback.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

/// The IPv4 address an IPv6 address carries in the forms judged by it
/// (besides IPv4-mapped, which [`canonical`] has already unwrapped), and
/// the form's name.
fn embedded_ipv4(addr: IpAddr) -> Option<(Ipv4Addr, &'static str)> {
    let IpAddr::V6(v6) = addr else { return None };
    let s = v6.segments();
    let low = Ipv4Addr::from_bits(v6.to_bits() as u32);
    match s {
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some((low, "a NAT64 address (64:ff9b::/96)")),
        [0x2002, hi, lo, ..] => Some((Ipv4Addr::from_bits((u32::from(hi) << 16) | u32::from(lo)), "a 6to4 address")),
        // `::` and `::1` are the unspecified and loopback addresses.
        [0, 0, 0, 0, 0, 0, _, _] if v6.to_bits() > 1 => Some((low, "an IPv4-compatible address")),
        _ => None,
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

/// Why an address is not globally reachable.
struct Reason {
    kind: &'static str,
    /// The registry row (and which of its prefixes) that refused it, if one did.
    block: Option<(IpNet, &'static Row)>,
}

impl Reason {
    fn refused(self, addr: IpAddr, via: Option<(Ipv4Addr, &'static str)>) -> Refused {
        let block = self.block.map(|(net, row)| format!("IANA special-purpose block {net}: {}, {}", row.name, row.rfc));
        let detail = match (via, block) {
            (Some((v4, form)), Some(block)) => format!(" ({v4} embedded in {form}; {block})"),
            (Some((v4, form)), None) => format!(" ({v4} embedded in {form})"),
            (None, Some(block)) => format!(" ({block})"),
            (None, None) => String::new(),
        };
        Refused { addr, kind: self.kind, detail, hint: " (set CALLER_ALLOWED_NETWORKS to allow it)" }
    }
}

/// Why `addr` itself is not globally reachable, or `None` if it is. The
/// IPv4 address an IPv6 form carries is judged separately (see
/// [`Policy::check`]).
fn classify(addr: IpAddr) -> Option<Reason> {
    let block = match addr {
        IpAddr::V4(a) => special_purpose::lookup_v4(a).map(|(net, row)| (IpNet::V4(net), row)),
        IpAddr::V6(a) => special_purpose::lookup_v6(a).map(|(net, row)| (IpNet::V6(net), row)),
    };
    if let Some((_, row)) = block {
        return match row.globally_reachable {
            Reachable::True => None,
            // 6to4: as reachable as the IPv4 address it carries.
            Reachable::NotApplicable if embedded_ipv4(addr).is_some() => None,
            Reachable::False | Reachable::NotApplicable | Reachable::Blank => {
                Some(Reason { kind: describe(row), block })
            }
        };
    }
    let kind = match addr {
        IpAddr::V4(a) if a.is_multicast() => "a multicast address",
        IpAddr::V6(a) if a.is_multicast() => "a multicast address",
        IpAddr::V6(a) if (a.segments()[0] & 0xe000) != 0x2000 => "outside the global unicast range",
        _ => return None,
    };
    Some(Reason { kind, block: None })
}

/// The kind of address a refusing registry row holds, for messages.
fn describe(row: &Row) -> &'static str {
    match row.name {
        "Loopback" | "Loopback Address" => "a loopback address",
        "Private-Use" => "a private address",
        "Unique-Local" => "a unique-local (private) address",
        "Link Local" | "Link-Local Unicast" => "a link-local address",
        "Shared Address Space" => "a shared (carrier-grade NAT) address",
        "\"This network\"" | "\"This host on this network\"" | "Unspecified Address" => "an unspecified address",
        "Limited Broadcast" => "a broadcast address",
        "Reserved" => "a reserved address",
        "Benchmarking" => "a benchmarking address",
        "IPv4-IPv6 Translat." => "a local-use NAT64 address",
        "TEREDO" => "a Teredo address",
        name if name.starts_with("Documentation") => "a documentation address",
        _ => "a special-purpose address that is not globally reachable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(p: &Policy, a: &str) -> bool {
        p.check(a.parse().unwrap()).is_err()
    }

    fn message(p: &Policy, a: &str) -> String {
        p.check(a.parse().unwrap()).unwrap_err().to_string()
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

    #[test]
    fn only_192_0_0_0_slash_24_of_192_0_is_special() {
        let p = Policy::default();
        for a in ["192.0.1.1", "192.0.3.5", "192.0.128.1", "192.0.255.255", "192.1.0.1"] {
            assert!(!refused(&p, a), "{a} is ordinary public space and should be allowed");
        }
        for a in ["192.0.0.0", "192.0.0.1", "192.0.0.8", "192.0.0.11", "192.0.0.170", "192.0.0.171", "192.0.0.255"] {
            assert!(refused(&p, a), "{a} is in 192.0.0.0/24 and should be refused");
        }
        assert!(refused(&p, "192.0.2.1"), "TEST-NET-1 stays refused");
    }

    #[test]
    fn globally_reachable_rows_inside_refused_blocks_are_allowed() {
        let p = Policy::default();
        for a in [
            "192.0.0.9",
            "192.0.0.10",
            "192.31.196.1",
            "192.52.193.1",
            "192.175.48.1",
            "2001:1::1",
            "2001:1::2",
            "2001:1::3",
            "2001:3::1",
            "2001:4:112::1",
            "2001:20::1",
            "2001:30::1",
            "2620:4f:8000::1",
            "::ffff:192.0.0.9",
        ] {
            assert!(!refused(&p, a), "{a} is globally reachable per IANA and should be allowed");
        }
    }

    #[test]
    fn registry_blocks_the_old_code_missed_are_refused() {
        let p = Policy::default();
        for a in [
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.7",
            "240.0.0.1",
            "192.88.99.1",
            "192.88.99.2",
            "2001::1",
            "2001:1::4",
            "2001:2::1",
            "2001:10::1",
            "2001:1ff::1",
            "2001:db8::1",
            "3fff::1",
            "5f00::1",
            "100::1",
            "100:0:0:1::1",
            "64:ff9b:1::1",
        ] {
            assert!(refused(&p, a), "{a} should be refused");
        }
        assert!(!refused(&p, "2001:200::1"), "2001:200::/23 is outside 2001::/23");
    }

    /// Every registry row is honoured: its first address is refused unless
    /// the row is globally reachable. (Forms carrying an IPv4 address are
    /// judged by that address, covered in the next test.)
    #[test]
    fn every_registry_row_decides_its_own_addresses() {
        let p = Policy::default();
        let v4 = special_purpose::IPV4.iter().flat_map(|r| r.prefixes.iter().map(move |n| (*n, r)));
        let v6 = special_purpose::IPV6.iter().flat_map(|r| r.prefixes.iter().map(move |n| (*n, r)));
        for (prefix, row) in v4.chain(v6) {
            let net: IpNet = prefix.parse().unwrap();
            let first = net.network();
            if embedded_ipv4(first).is_some() || canonical(first) != first {
                continue;
            }
            let reachable = row.globally_reachable == Reachable::True;
            assert_eq!(
                p.check(first).is_ok(),
                reachable,
                "{first} in {prefix} ({}), {:?}",
                row.name,
                row.globally_reachable
            );
        }
    }

    /// Where rows nest and disagree, the inner (more specific) row's
    /// verdict wins at the policy level too.
    #[test]
    fn the_more_specific_overlapping_row_decides_the_policy() {
        let p = Policy::default();
        let rows: Vec<(IpNet, &Row)> = special_purpose::IPV4
            .iter()
            .chain(special_purpose::IPV6.iter())
            .flat_map(|r| r.prefixes.iter().map(move |n| (n.parse::<IpNet>().unwrap(), r)))
            .collect();
        let mut disagreeing = 0;
        for (outer, outer_row) in &rows {
            for (inner, inner_row) in rows.iter().filter(|(n, _)| n != outer && outer.contains(n)) {
                if inner_row.globally_reachable == outer_row.globally_reachable {
                    continue;
                }
                disagreeing += 1;
                let addr = inner.network();
                let deeper = rows.iter().any(|(n, _)| n != inner && inner.contains(n) && n.contains(&addr));
                assert!(!deeper, "pick an address only {inner} covers");
                let want_ok = inner_row.globally_reachable == Reachable::True;
                assert_eq!(
                    p.check(addr).is_ok(),
                    want_ok,
                    "{addr}: {inner} ({}) must win over {outer}",
                    inner_row.name
                );
            }
        }
        assert!(disagreeing >= 10, "only {disagreeing} nested rows disagree with their enclosing row");
    }

    #[test]
    fn forms_carrying_an_ipv4_address_are_judged_by_it() {
        let p = Policy::default();
        for a in [
            // NAT64 well-known prefix
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "64:ff9b::c0a8:101",
            "64:ff9b::c000:1",
            "64:ff9b::e000:1",
            // 6to4
            "2002:a00:1::1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "2002:6440:1::1",
            "2002:e000:1::1",
            // IPv4-compatible (deprecated; refused even when the IPv4 address is public)
            "::a00:1",
            "::7f00:1",
            "::808:808",
            // IPv4-mapped
            "::ffff:192.0.0.1",
            "::ffff:224.0.0.1",
        ] {
            assert!(refused(&p, a), "{a} should be refused");
        }
        for a in ["64:ff9b::808:808", "64:ff9b::c000:9", "2002:808:808::1", "2002:c000:301::1", "::ffff:192.0.1.1"] {
            assert!(!refused(&p, a), "{a} carries a public IPv4 address and should be allowed");
        }
        let err = message(&p, "64:ff9b::a00:1");
        assert!(err.contains("private") && err.contains("10.0.0.1") && err.contains("NAT64"), "{err}");
        let err = message(&p, "::808:808");
        assert!(err.contains("outside the global unicast range"), "{err}");
    }

    #[test]
    fn multicast_stays_refused() {
        let p = Policy::new(vec!["0.0.0.0/0".parse().unwrap()]);
        assert!(!refused(&p, "224.0.0.1"), "the allow-list can open multicast, as before");
        let p = Policy::default();
        for a in ["224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1", "::ffff:239.1.1.1"] {
            assert!(refused(&p, a), "{a} should be refused");
            assert!(message(&p, a).contains("multicast"), "{a}");
        }
    }

    #[test]
    fn allow_list_opens_carried_ipv4_networks_but_never_metadata() {
        let p = Policy::new(vec![
            "10.0.0.0/8".parse().unwrap(),
            "169.254.0.0/16".parse().unwrap(),
            "100.64.0.0/10".parse().unwrap(),
            "fc00::/7".parse().unwrap(),
            "64:ff9b::/96".parse().unwrap(),
            "2002::/16".parse().unwrap(),
        ]);
        assert!(!refused(&p, "64:ff9b::a00:1"));
        assert!(!refused(&p, "2002:a00:1::1"));
        assert!(refused(&p, "::a00:1"), "IPv4-compatible stays outside the global unicast range");
        for a in [
            "169.254.169.254",
            "169.254.170.2",
            "100.100.100.200",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "::a9fe:a9fe",
            "fd00:ec2::254",
        ] {
            let err = message(&p, a);
            assert!(err.contains("metadata") && !err.contains("CALLER_ALLOWED_NETWORKS"), "{a}: {err}");
        }
    }

    #[test]
    fn refusals_name_the_registry_row() {
        let p = Policy::default();
        let err = message(&p, "127.0.0.1");
        assert!(err.contains("loopback") && err.contains("127.0.0.0/8") && err.contains("RFC1122"), "{err}");
        let err = message(&p, "192.0.0.1");
        assert!(err.contains("192.0.0.0/29") && err.contains("IPv4 Service Continuity Prefix"), "{err}");
        let err = message(&p, "2001::1");
        assert!(err.contains("Teredo") && err.contains("2001::/32"), "{err}");
    }
}
