//! Token pairs: a short-lived signed access token, verifiable anywhere
//! with the public key, and an opaque refresh token that only this service
//! can redeem. Refresh tokens are stored as SHA-256 hashes, so a copy of the
//! database does not hand out sessions; they are random enough (256 bits)
//! that a fast unsalted hash is safe, unlike passwords.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authn::{Claims, Expected, KeySet, Rejected};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::{config::TokenConfig, keys::SigningKey};

/// `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    Ok(buf)
}

/// A new refresh token: 32 random bytes, base64url (43 characters).
pub fn new_refresh_token() -> anyhow::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// What is stored for a refresh token.
pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Signs access tokens and verifies them.
pub struct Issuer {
    key: SigningKey,
    keys: KeySet,
    expected: Expected,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl Issuer {
    pub fn new(config: &TokenConfig) -> anyhow::Result<Self> {
        let key = SigningKey::load(&config.key)?;
        Ok(Self {
            keys: key.key_set()?,
            key,
            expected: config.expected.clone(),
            access_ttl: config.access_ttl,
            refresh_ttl: config.refresh_ttl,
        })
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// A signed access token for the user.
    pub fn access_token(&self, user_id: &str, email: &str) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
        let claims = Claims {
            sub: user_id.to_owned(),
            email: email.to_owned(),
            iat: now,
            exp: now + self.access_ttl.as_secs() as i64,
            iss: self.expected.issuer.clone(),
            aud: self.expected.audience.clone(),
            jti: URL_SAFE_NO_PAD.encode(random_bytes::<16>()?),
        };
        self.key.sign(&claims)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, Rejected> {
        authn::verify(token, &self.keys, &self.expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeySource;

    fn issuer() -> Issuer {
        Issuer::new(&TokenConfig {
            key: KeySource::Ephemeral,
            expected: Expected { issuer: "auth".into(), audience: "platform".into(), leeway: Duration::ZERO },
            access_ttl: Duration::from_secs(60),
            refresh_ttl: Duration::from_secs(60),
        })
        .unwrap()
    }

    #[test]
    fn access_tokens_verify_with_their_claims() {
        let issuer = issuer();
        let token = issuer.access_token("u1", "ada@example.com").unwrap();
        let claims = issuer.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.email.as_str()), ("u1", "ada@example.com"));
        assert_eq!(claims.exp - claims.iat, 60);
        assert_ne!(claims.jti, issuer.verify(&issuer.access_token("u1", "a").unwrap()).unwrap().jti);
        assert_eq!(issuer.verify(&token.replace('.', "")), Err(Rejected::Malformed));
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_refresh_token().unwrap());
        assert_eq!(hash_refresh_token(&a).len(), 32);
        assert_eq!(hash_refresh_token(&a), hash_refresh_token(&a));
    }
}
