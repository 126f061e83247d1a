//! Throttling failed logins, per account and per client address.
//!
//! Failures are counted in PostgreSQL, so every replica sees the same counts
//! and a restart does not reset them. Keys are hashes (the database keeps
//! no list of addresses or of emails people tried), and IPv6 clients are
//! counted per /64, the block one subscriber usually gets. Counting is in
//! fixed windows: after `max` failures the key is refused until its window
//! ends. A correct password clears the account's count but not the
//! address's, so an attacker cannot reset their own count by logging into
//! an account of their own between guesses.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

use crate::{config::ThrottleConfig, store::Store};

#[derive(Clone)]
pub struct Throttle {
    store: Store,
    config: ThrottleConfig,
}

impl Throttle {
    pub fn new(store: Store, config: ThrottleConfig) -> Self {
        Self { store, config }
    }

    /// Seconds to wait, if login from `addr` to `email` is throttled now.
    pub async fn check(&self, email: &str, addr: IpAddr) -> sqlx::Result<Option<u64>> {
        let (account, address) = (account_key(email), address_key(addr));
        self.store
            .throttled_for(
                &[(&account, self.config.max_per_account), (&address, self.config.max_per_address)],
                self.config.window,
            )
            .await
    }

    pub async fn failed(&self, email: &str, addr: IpAddr) -> sqlx::Result<()> {
        self.store.record_failure(&[&account_key(email), &address_key(addr)], self.config.window).await
    }

    pub async fn succeeded(&self, email: &str) -> sqlx::Result<()> {
        self.store.clear_failures(&account_key(email)).await
    }
}

fn account_key(email: &str) -> Vec<u8> {
    Sha256::new().chain_update(b"account\0").chain_update(email.as_bytes()).finalize().to_vec()
}

fn address_key(addr: IpAddr) -> Vec<u8> {
    let block = match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    };
    Sha256::new().chain_update(b"address\0").chain_update(block.as_bytes()).finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_their_64() {
        let a = address_key("2001:db8:1:2::1".parse().unwrap());
        assert_eq!(a, address_key("2001:db8:1:2:ffff::9".parse().unwrap()));
        assert_ne!(a, address_key("2001:db8:1:3::1".parse().unwrap()));
        assert_ne!(address_key("10.0.0.1".parse().unwrap()), address_key("10.0.0.2".parse().unwrap()));
        assert_ne!(account_key("10.0.0.1"), address_key("10.0.0.1".parse().unwrap()));
    }
}
