//! Throttling password guesses, per account and per client address, and
//! sign-ups per client address.
//!
//! Attempts are counted in PostgreSQL, so every replica sees the same counts
//! and a restart does not reset them. Keys are hashes (the database keeps
//! no list of addresses or of emails people tried), and IPv6 clients are
//! counted per /64, the block one subscriber usually gets. Counting is in
//! fixed windows, and an attempt is *reserved* before the password is
//! hashed: the reservation is one atomic statement, so however many guesses
//! arrive at once, at most `max` per window are judged and the rest get 429
//! without costing a hash. A correct password clears the account's count
//! and gives back its reservation on the address, so successes do not count
//! against an address; an attacker still cannot reset their address's count
//! by logging into an account of their own between guesses, since each
//! guess stays counted.

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

    /// Reserves a password attempt against `email` from `addr`; the seconds
    /// to wait when either is past its limit (the attempt must not be judged).
    pub async fn reserve(&self, email: &str, addr: IpAddr) -> sqlx::Result<Option<u64>> {
        let (account, address) = (account_key(email), address_key(addr));
        self.store
            .reserve_attempt(
                &[(&account, self.config.max_per_account), (&address, self.config.max_per_address)],
                self.config.window,
            )
            .await
    }

    /// The attempt reserved for `email` from `addr` succeeded.
    pub async fn succeeded(&self, email: &str, addr: IpAddr) -> sqlx::Result<()> {
        self.store.clear_failures(&account_key(email)).await?;
        self.store.release_attempt(&address_key(addr)).await
    }

    /// Reserves a sign-up from `addr`; the seconds to wait when past the limit.
    pub async fn reserve_signup(&self, addr: IpAddr) -> sqlx::Result<Option<u64>> {
        let key = signup_key(addr);
        self.store.reserve_attempt(&[(&key, self.config.max_signups_per_address)], self.config.window).await
    }
}

fn account_key(email: &str) -> Vec<u8> {
    Sha256::new().chain_update(b"account\0").chain_update(email.as_bytes()).finalize().to_vec()
}

fn signup_key(addr: IpAddr) -> Vec<u8> {
    let mut key = b"signup\0".to_vec();
    key.extend(address_key(addr));
    Sha256::digest(&key).to_vec()
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
