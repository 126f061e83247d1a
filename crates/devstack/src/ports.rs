//! Ports in use, found before anything starts and reported by the name of
//! what wanted them.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// The `(name, port)` pairs already taken on 127.0.0.1, in the given order.
/// Binding is the test: a port is free exactly when the process that
/// wants it could bind it (a listener on `0.0.0.0` takes it too).
pub fn taken(wanted: &[(String, u16)]) -> Vec<&(String, u16)> {
    wanted
        .iter()
        .filter(|(_, port)| TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, *port))).is_err())
        .collect()
}

/// Two names given the same port.
pub fn clashes(wanted: &[(String, u16)]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (a, port)) in wanted.iter().enumerate() {
        for (b, other) in &wanted[i + 1..] {
            if port == other {
                out.push(format!("{a} and {b} are both given port {port}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_port_is_reported_by_name() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = held.local_addr().unwrap().port();
        let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let wanted = vec![("greeter".to_owned(), busy), ("caller".to_owned(), free)];
        assert_eq!(taken(&wanted), vec![&("greeter".to_owned(), busy)]);
    }

    #[test]
    fn the_same_port_twice_is_a_clash() {
        let wanted = vec![("greeter".to_owned(), 9000), ("caller".to_owned(), 9001), ("lang".to_owned(), 9000)];
        assert_eq!(clashes(&wanted), vec!["greeter and lang are both given port 9000".to_owned()]);
    }
}
