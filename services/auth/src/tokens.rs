//! Token pairs: a short-lived signed access token, verifiable anywhere
//! with the public key, and an opaque refresh token that only this service
//! can redeem. Refresh tokens are stored as SHA-256 hashes, so a copy of the
//! database does not hand out sessions; they are random enough (256 bits)
//! that a fast unsalted hash is safe, unlike passwords.

use std::{
    pin::Pin,
    sync::{Arc, RwLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use authn::{Claims, Expected, KeySet, Rejected};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::{
    config::TokenConfig,
    keys::{Jwks, PublicKey, SigningKey, key_set},
};

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

/// The keys published in the JWKS and accepted when verifying: the
/// current signing key and previous ones whose tokens may still be valid.
struct Published {
    keys: Vec<PublicKey>,
    set: KeySet,
}

impl Published {
    fn new(keys: Vec<PublicKey>) -> Self {
        Self { set: key_set(&keys), keys }
    }
}

/// Signs access tokens and verifies them.
pub struct Issuer {
    key: SigningKey,
    published: RwLock<Arc<Published>>,
    expected: Expected,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub service_ttl: Duration,
}

/// What an access token says about a user.
pub struct Subject<'a> {
    pub user_id: &'a str,
    pub email: &'a str,
    pub roles: &'a [String],
    /// The refresh-session family the token is issued for.
    pub session: &'a str,
}

fn now() -> anyhow::Result<i64> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64)
}

impl Issuer {
    pub fn new(config: &TokenConfig) -> anyhow::Result<Self> {
        let key = SigningKey::load(&config.key)?;
        Ok(Self {
            published: RwLock::new(Arc::new(Published::new(vec![key.public()]))),
            key,
            expected: config.expected.clone(),
            access_ttl: config.access_ttl,
            refresh_ttl: config.refresh_ttl,
            service_ttl: config.service_ttl,
        })
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// How long a retired key stays published: until the last token it
    /// signed has expired, clock skew included.
    pub fn retirement(&self) -> Duration {
        self.access_ttl + self.expected.leeway
    }

    /// Replaces the published keys (the current key is always among them).
    pub fn publish(&self, mut keys: Vec<PublicKey>) {
        if !keys.iter().any(|k| k.kid == self.key.kid()) {
            keys.push(self.key.public());
        }
        keys.sort_by(|a, b| (a.kid != self.key.kid(), &a.kid).cmp(&(b.kid != self.key.kid(), &b.kid)));
        *self.published.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Published::new(keys));
    }

    fn published(&self) -> Arc<Published> {
        self.published.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The JWKS document: the current key first.
    pub fn jwks(&self) -> Jwks {
        Jwks::of(&self.published().keys)
    }

    /// A signed access token for a user.
    pub fn access_token(&self, subject: &Subject<'_>) -> anyhow::Result<String> {
        let now = now()?;
        let claims = Claims {
            sub: subject.user_id.to_owned(),
            email: subject.email.to_owned(),
            roles: subject.roles.to_vec(),
            sid: Some(subject.session.to_owned()),
            client_id: None,
            iat: now,
            exp: now + self.access_ttl.as_secs() as i64,
            iss: self.expected.issuer.clone(),
            aud: self.expected.audience.clone(),
            jti: URL_SAFE_NO_PAD.encode(random_bytes::<16>()?),
        };
        self.key.sign(&claims)
    }

    /// A signed token for a service client (client-credentials grant).
    pub fn service_token(&self, client_id: &str) -> anyhow::Result<String> {
        let now = now()?;
        let claims = Claims {
            sub: format!("service:{client_id}"),
            email: String::new(),
            roles: Vec::new(),
            sid: None,
            client_id: Some(client_id.to_owned()),
            iat: now,
            exp: now + self.service_ttl.as_secs() as i64,
            iss: self.expected.issuer.clone(),
            aud: self.expected.audience.clone(),
            jti: URL_SAFE_NO_PAD.encode(random_bytes::<16>()?),
        };
        self.key.sign(&claims)
    }

    /// Verifies with every published key, so tokens signed with a previous
    /// key stay valid until they expire.
    pub fn verify(&self, token: &str) -> Result<Claims, Rejected> {
        authn::verify(token, &self.published().set, &self.expected)
    }
}

/// auth verifies with its own keys, never over HTTP.
impl authn::Verify for Issuer {
    fn verify<'a>(&'a self, token: &'a str) -> Pin<Box<dyn Future<Output = Result<Claims, Rejected>> + Send + 'a>> {
        Box::pin(std::future::ready(Issuer::verify(self, token)))
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
            service_ttl: Duration::from_secs(30),
            key_refresh: Duration::from_secs(30),
        })
        .unwrap()
    }

    #[test]
    fn access_tokens_verify_with_their_claims() {
        let issuer = issuer();
        let roles = vec!["admin".to_owned()];
        let subject = Subject { user_id: "u1", email: "ada@example.com", roles: &roles, session: "f1" };
        let token = issuer.access_token(&subject).unwrap();
        let claims = issuer.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.email.as_str()), ("u1", "ada@example.com"));
        assert_eq!(
            (claims.roles.clone(), claims.sid.as_deref(), claims.client_id.clone()),
            (roles.clone(), Some("f1"), None)
        );
        assert_eq!(claims.exp - claims.iat, 60);
        assert_ne!(claims.jti, issuer.verify(&issuer.access_token(&subject).unwrap()).unwrap().jti);
        assert_eq!(issuer.verify(&token.replace('.', "")), Err(Rejected::Malformed));

        let service = issuer.verify(&issuer.service_token("greeter").unwrap()).unwrap();
        assert_eq!((service.sub.as_str(), service.client_id.as_deref()), ("service:greeter", Some("greeter")));
        assert!(service.email.is_empty() && service.roles.is_empty());
        assert_eq!(service.exp - service.iat, 30);
    }

    #[test]
    fn previous_keys_verify_while_published() {
        let old = issuer();
        let new = issuer();
        let roles = Vec::new();
        let token = old.access_token(&Subject { user_id: "u", email: "e@x.io", roles: &roles, session: "f" }).unwrap();
        assert_eq!(new.verify(&token), Err(Rejected::UnknownKey));
        new.publish(vec![old.signing_key().public()]);
        assert_eq!(new.verify(&token).unwrap().sub, "u");
        let kids: Vec<String> = new.jwks().keys.into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, [new.signing_key().kid(), old.signing_key().kid()], "current key first");
        new.publish(Vec::new());
        assert_eq!(new.verify(&token), Err(Rejected::UnknownKey));
        assert_eq!(new.jwks().keys.len(), 1);
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
