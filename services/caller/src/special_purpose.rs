//! A committed copy of the IANA special-purpose address registries, which
//! [`crate::guard`] consults to decide whether a destination is globally
//! reachable.
//!
//! # Edition copied
//!
//! - IANA IPv4 Special-Purpose Address Registry, Last Updated 2025-10-09
//!   (<https://www.iana.org/assignments/iana-ipv4-special-registry/>).
//! - IANA IPv6 Special-Purpose Address Registry, Last Updated 2025-10-09
//!   (<https://www.iana.org/assignments/iana-ipv6-special-registry/>).
//!
//! Provenance: not fetched from iana.org directly (no network access when
//! this was written). The rows were transcribed from the registries' XML
//! (`<updated>2025-10-09</updated>` in both), as vendored byte-for-byte in
//! the `iprfc` 1.0.0 crate's `data/iana/` snapshot (SHA-256
//! `cf24e11f41b7d42c68debe2d18b97cac815084ec413ebb3b244f704028a16f20` for
//! IPv4, `c17f4380ba84fb2160dae82ebfd8bd155a5853cfab624ed3a9fd251638a8be02`
//! for IPv6), and cross-checked row by row
//! against the author's knowledge of the registries. The one row that check
//! did not already know is IPv4 `192.88.99.2/32` (6a44-relay anycast,
//! RFC 6751, record updated 2025-06-26); it is copied as the XML has it.
//! When IANA updates a registry, update the rows here, the date above, and
//! the row counts pinned in the tests.
//!
//! # What is copied
//!
//! One entry per registry row, in registry order: the Address Block (a row
//! may list more than one prefix: IPv4 "NAT64/DNS64 Discovery" lists two),
//! Name, RFC and Globally Reachable columns, as the registry spells them.
//! Footnote markers are dropped; the footnotes that bear on Globally
//! Reachable are quoted at the rows they belong to.
//!
//! # How "Globally Reachable" is read
//!
//! The registry's own rule (IPv4 footnote 2, IPv6 footnote 1) is that a
//! block such as 192.0.0.0/24 or 2001::/23 is not reachable "unless allowed
//! by a more specific allocation", so rows nest and **the most specific row
//! containing an address decides** ([`lookup_v4`], [`lookup_v6`]). What
//! that row's [`Reachable`] value means for a destination is decided in
//! [`crate::guard`]: only `True` is reachable; `False`, `N/A` and blank are
//! refused, except that 6to4's `N/A` (which the registry defers to RFC 3056)
//! is judged by the IPv4 address the 6to4 address embeds.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    sync::LazyLock,
};

use ipnet::{Ipv4Net, Ipv6Net};

/// The registry's "Globally Reachable" column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reachable {
    True,
    False,
    /// `N/A`: the registry declines to answer and points at a footnote
    /// (Teredo 2001::/32 → RFC 4380 §5; 6to4 2002::/16 → RFC 3056).
    NotApplicable,
    /// Left empty: terminated allocations (192.88.99.0/24 and 2001:10::/28),
    /// whose every boolean column the registry blanked.
    Blank,
}

/// One row of a special-purpose address registry.
#[derive(Debug, PartialEq, Eq)]
pub struct Row {
    /// The Address Block column: one prefix, or more for a row listing several.
    pub prefixes: &'static [&'static str],
    pub name: &'static str,
    pub rfc: &'static str,
    pub globally_reachable: Reachable,
}

const fn row(prefixes: &'static [&'static str], name: &'static str, rfc: &'static str, gr: Reachable) -> Row {
    Row { prefixes, name, rfc, globally_reachable: gr }
}

use Reachable::{Blank, False, NotApplicable, True};

/// IANA IPv4 Special-Purpose Address Registry, Last Updated 2025-10-09.
#[rustfmt::skip]
pub static IPV4: [Row; 25] = [
    row(&["0.0.0.0/8"], "\"This network\"", "[RFC791], Section 3.2", False),
    row(&["0.0.0.0/32"], "\"This host on this network\"", "[RFC1122], Section 3.2.1.3", False),
    row(&["10.0.0.0/8"], "Private-Use", "[RFC1918]", False),
    row(&["100.64.0.0/10"], "Shared Address Space", "[RFC6598]", False),
    row(&["127.0.0.0/8"], "Loopback", "[RFC1122], Section 3.2.1.3", False),
    row(&["169.254.0.0/16"], "Link Local", "[RFC3927]", False),
    row(&["172.16.0.0/12"], "Private-Use", "[RFC1918]", False),
    // Footnote 2: "Not useable unless by virtue of a more specific reservation."
    row(&["192.0.0.0/24"], "IETF Protocol Assignments", "[RFC6890], Section 2.1", False),
    row(&["192.0.0.0/29"], "IPv4 Service Continuity Prefix", "[RFC7335]", False),
    row(&["192.0.0.8/32"], "IPv4 dummy address", "[RFC7600]", False),
    row(&["192.0.0.9/32"], "Port Control Protocol Anycast", "[RFC7723]", True),
    row(&["192.0.0.10/32"], "Traversal Using Relays around NAT Anycast", "[RFC8155]", True),
    row(&["192.0.0.170/32", "192.0.0.171/32"], "NAT64/DNS64 Discovery", "[RFC8880][RFC7050], Section 2.2", False),
    row(&["192.0.2.0/24"], "Documentation (TEST-NET-1)", "[RFC5737]", False),
    row(&["192.31.196.0/24"], "AS112-v4", "[RFC7535]", True),
    row(&["192.52.193.0/24"], "AMT", "[RFC7450]", True),
    // Terminated 2015-03; the registry leaves its boolean columns empty.
    row(&["192.88.99.0/24"], "Deprecated (6to4 Relay Anycast)", "[RFC7526]", Blank),
    row(&["192.88.99.2/32"], "6a44-relay anycast address", "[RFC6751]", False),
    row(&["192.168.0.0/16"], "Private-Use", "[RFC1918]", False),
    row(&["192.175.48.0/24"], "Direct Delegation AS112 Service", "[RFC7534]", True),
    row(&["198.18.0.0/15"], "Benchmarking", "[RFC2544]", False),
    row(&["198.51.100.0/24"], "Documentation (TEST-NET-2)", "[RFC5737]", False),
    row(&["203.0.113.0/24"], "Documentation (TEST-NET-3)", "[RFC5737]", False),
    row(&["240.0.0.0/4"], "Reserved", "[RFC1112], Section 4", False),
    row(&["255.255.255.255/32"], "Limited Broadcast", "[RFC8190] [RFC919], Section 7", False),
];

/// IANA IPv6 Special-Purpose Address Registry, Last Updated 2025-10-09.
#[rustfmt::skip]
pub static IPV6: [Row; 25] = [
    row(&["::1/128"], "Loopback Address", "[RFC4291]", False),
    row(&["::/128"], "Unspecified Address", "[RFC4291]", False),
    row(&["::ffff:0:0/96"], "IPv4-mapped Address", "[RFC4291]", False),
    row(&["64:ff9b::/96"], "IPv4-IPv6 Translat.", "[RFC6052]", True),
    row(&["64:ff9b:1::/48"], "IPv4-IPv6 Translat.", "[RFC8215]", False),
    row(&["100::/64"], "Discard-Only Address Block", "[RFC6666]", False),
    row(&["100:0:0:1::/64"], "Dummy IPv6 Prefix", "[RFC9780]", False),
    // Footnote 1: "Unless allowed by a more specific allocation."
    row(&["2001::/23"], "IETF Protocol Assignments", "[RFC2928]", False),
    // Footnote 2: "See Section 5 of [RFC4380] for details."
    row(&["2001::/32"], "TEREDO", "[RFC4380] [RFC8190]", NotApplicable),
    row(&["2001:1::1/128"], "Port Control Protocol Anycast", "[RFC7723]", True),
    row(&["2001:1::2/128"], "Traversal Using Relays around NAT Anycast", "[RFC8155]", True),
    row(&["2001:1::3/128"], "DNS-SD Service Registration Protocol Anycast", "[RFC9665]", True),
    row(&["2001:2::/48"], "Benchmarking", "[RFC5180][RFC Errata 1752]", False),
    row(&["2001:3::/32"], "AMT", "[RFC7450]", True),
    row(&["2001:4:112::/48"], "AS112-v6", "[RFC7535]", True),
    // Terminated 2014-03; the registry leaves its boolean columns empty.
    row(&["2001:10::/28"], "Deprecated (previously ORCHID)", "[RFC4843]", Blank),
    row(&["2001:20::/28"], "ORCHIDv2", "[RFC7343]", True),
    row(&["2001:30::/28"], "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "[RFC9374]", True),
    row(&["2001:db8::/32"], "Documentation", "[RFC3849]", False),
    // Footnote 3: "See [RFC3056] for details."
    row(&["2002::/16"], "6to4", "[RFC3056]", NotApplicable),
    row(&["2620:4f:8000::/48"], "Direct Delegation AS112 Service", "[RFC7534]", True),
    row(&["3fff::/20"], "Documentation", "[RFC9637]", False),
    row(&["5f00::/16"], "Segment Routing (SRv6) SIDs", "[RFC9602]", False),
    // Footnote 4: "... The Unique-Local prefix is drawn from the IPv6 Global
    // Unicast Address range, but is specified as not globally routed."
    row(&["fc00::/7"], "Unique-Local", "[RFC4193] [RFC8190]", False),
    row(&["fe80::/10"], "Link-Local Unicast", "[RFC4291]", False),
];

/// Every prefix of the IPv4 table, parsed once, with the row it belongs to.
static V4_PREFIXES: LazyLock<Vec<(Ipv4Net, &'static Row)>> = LazyLock::new(|| {
    let parse = |p: &str| p.parse::<Ipv4Net>().unwrap_or_else(|e| panic!("IPv4 registry prefix {p:?}: {e}"));
    IPV4.iter().flat_map(|row| row.prefixes.iter().map(move |p| (parse(p), row))).collect()
});

/// Every prefix of the IPv6 table, parsed once, with the row it belongs to.
static V6_PREFIXES: LazyLock<Vec<(Ipv6Net, &'static Row)>> = LazyLock::new(|| {
    let parse = |p: &str| p.parse::<Ipv6Net>().unwrap_or_else(|e| panic!("IPv6 registry prefix {p:?}: {e}"));
    IPV6.iter().flat_map(|row| row.prefixes.iter().map(move |p| (parse(p), row))).collect()
});

/// The most specific IPv4 registry row containing `addr`, with the matching prefix.
pub fn lookup_v4(addr: Ipv4Addr) -> Option<(Ipv4Net, &'static Row)> {
    V4_PREFIXES.iter().filter(|(net, _)| net.contains(&addr)).max_by_key(|(net, _)| net.prefix_len()).copied()
}

/// The most specific IPv6 registry row containing `addr`, with the matching prefix.
pub fn lookup_v6(addr: Ipv6Addr) -> Option<(Ipv6Net, &'static Row)> {
    V6_PREFIXES.iter().filter(|(net, _)| net.contains(&addr)).max_by_key(|(net, _)| net.prefix_len()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_parses_and_is_a_network_address() {
        assert_eq!(V4_PREFIXES.len(), 26, "25 IPv4 rows, one of them listing two prefixes");
        assert_eq!(V6_PREFIXES.len(), 25);
        for (net, row) in V4_PREFIXES.iter() {
            assert_eq!(net.network(), net.addr(), "{net} ({}) has host bits set", row.name);
        }
        for (net, row) in V6_PREFIXES.iter() {
            assert_eq!(net.network(), net.addr(), "{net} ({}) has host bits set", row.name);
        }
    }

    #[test]
    fn no_prefix_is_listed_twice() {
        // Otherwise "the most specific row" would be ambiguous.
        for (i, (a, _)) in V4_PREFIXES.iter().enumerate() {
            assert!(V4_PREFIXES[i + 1..].iter().all(|(b, _)| a != b), "{a} listed twice");
        }
        for (i, (a, _)) in V6_PREFIXES.iter().enumerate() {
            assert!(V6_PREFIXES[i + 1..].iter().all(|(b, _)| a != b), "{a} listed twice");
        }
    }

    /// For every pair of nested rows, addresses of the inner row must be
    /// answered by the inner row (or one nested deeper still), never by the
    /// enclosing one — whatever order the rows are listed in.
    #[test]
    fn the_more_specific_of_overlapping_rows_wins() {
        let mut nested = 0;
        for (outer, _) in V4_PREFIXES.iter() {
            for (inner, inner_row) in V4_PREFIXES.iter().filter(|(n, _)| n != outer && outer.contains(n)) {
                nested += 1;
                for addr in [inner.network(), inner.broadcast()] {
                    let (found, row) = lookup_v4(addr).expect("inside a registry prefix");
                    assert!(
                        found.prefix_len() >= inner.prefix_len() && inner.contains(&found),
                        "{addr}: answered by {found} ({}) instead of {inner} ({})",
                        row.name,
                        inner_row.name
                    );
                }
            }
        }
        for (outer, _) in V6_PREFIXES.iter() {
            for (inner, inner_row) in V6_PREFIXES.iter().filter(|(n, _)| n != outer && outer.contains(n)) {
                nested += 1;
                for addr in [inner.network(), inner.broadcast()] {
                    let (found, row) = lookup_v6(addr).expect("inside a registry prefix");
                    assert!(
                        found.prefix_len() >= inner.prefix_len() && inner.contains(&found),
                        "{addr}: answered by {found} ({}) instead of {inner} ({})",
                        row.name,
                        inner_row.name
                    );
                }
            }
        }
        // 0.0.0.0/8 ⊃ 0.0.0.0/32; 192.0.0.0/24 ⊃ six rows; 192.88.99.0/24 ⊃
        // 192.88.99.2/32; 240.0.0.0/4 ⊃ 255.255.255.255/32; 2001::/23 ⊃ ten rows.
        assert_eq!(nested, 19, "nested row pairs in this edition; update when the registries change");
    }

    #[test]
    fn known_rows_answer() {
        let v4 = |a: &str| lookup_v4(a.parse().unwrap()).map(|(n, r)| (n.to_string(), r.globally_reachable));
        assert_eq!(v4("192.0.0.1"), Some(("192.0.0.0/29".into(), False)));
        assert_eq!(v4("192.0.0.9"), Some(("192.0.0.9/32".into(), True)));
        assert_eq!(v4("192.0.0.11"), Some(("192.0.0.0/24".into(), False)));
        assert_eq!(v4("192.0.0.171"), Some(("192.0.0.171/32".into(), False)));
        assert_eq!(v4("192.88.99.2"), Some(("192.88.99.2/32".into(), False)));
        assert_eq!(v4("192.88.99.1"), Some(("192.88.99.0/24".into(), Blank)));
        assert_eq!(v4("0.0.0.0"), Some(("0.0.0.0/32".into(), False)));
        assert_eq!(v4("192.0.1.1"), None);
        assert_eq!(v4("8.8.8.8"), None);
        let v6 = |a: &str| lookup_v6(a.parse().unwrap()).map(|(n, r)| (n.to_string(), r.globally_reachable));
        assert_eq!(v6("2001:1::1"), Some(("2001:1::1/128".into(), True)));
        assert_eq!(v6("2001:1::4"), Some(("2001::/23".into(), False)));
        assert_eq!(v6("2001::1"), Some(("2001::/32".into(), NotApplicable)));
        assert_eq!(v6("2001:4:112::1"), Some(("2001:4:112::/48".into(), True)));
        assert_eq!(v6("2001:200::1"), None, "outside 2001::/23");
        assert_eq!(v6("64:ff9b:1::1"), Some(("64:ff9b:1::/48".into(), False)));
    }
}
