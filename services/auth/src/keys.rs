//! The key that signs access tokens, and the JWKS that publishes its public
//! half so other services verify tokens without calling auth.
//!
//! Ed25519 (JWS `EdDSA`): small keys and signatures, no parameters to get
//! wrong, deterministic signing. The key id is the key's RFC 7638 thumbprint,
//! so it changes exactly when the key does.

use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header,
    jwk::{AlgorithmParameters, Jwk, ThumbprintHash},
};
use serde::Serialize;

use crate::config::KeySource;

pub struct SigningKey {
    encoding: EncodingKey,
    kid: String,
    /// The public key, base64url.
    x: String,
}

/// A JWKS document (RFC 7517).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Jwks {
    pub keys: Vec<PublicJwk>,
}

/// An Ed25519 public key as a JWK (RFC 8037).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicJwk {
    /// Always `OKP`.
    pub kty: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// Key id: the key's RFC 7638 SHA-256 thumbprint; access tokens name it in their header.
    pub kid: String,
    /// Always `EdDSA`.
    pub alg: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub key_use: String,
}

/// The public half of a signing key: its id and Ed25519 point (base64url).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PublicKey {
    pub kid: String,
    pub x: String,
}

impl Jwks {
    pub fn of(keys: &[PublicKey]) -> Self {
        Self {
            keys: keys
                .iter()
                .map(|k| PublicJwk {
                    kty: "OKP".into(),
                    crv: "Ed25519".into(),
                    x: k.x.clone(),
                    kid: k.kid.clone(),
                    alg: "EdDSA".into(),
                    key_use: "sig".into(),
                })
                .collect(),
        }
    }
}

/// The keys, for verifying locally; unusable entries are skipped.
pub fn key_set(keys: &[PublicKey]) -> authn::KeySet {
    let mut set = authn::KeySet::default();
    for k in keys {
        match DecodingKey::from_ed_components(&k.x) {
            Ok(key) => set.insert(k.kid.clone(), key),
            Err(e) => tracing::warn!(kid = %k.kid, error = %e, "ignoring an unusable published key"),
        }
    }
    set
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The configured key, or a fresh one (with a warning) when none is.
    pub fn load(source: &KeySource) -> anyhow::Result<Self> {
        match source {
            KeySource::File(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("AUTH_SIGNING_KEY_FILE {}: {e}", path.display()))?;
                Self::from_pem(&pem).map_err(|e| anyhow::anyhow!("AUTH_SIGNING_KEY_FILE {}: {e}", path.display()))
            }
            KeySource::Pem(pem) => Self::from_pem(pem.as_bytes()).map_err(|e| anyhow::anyhow!("AUTH_SIGNING_KEY: {e}")),
            KeySource::Ephemeral => {
                let key = Self::from_pem(generate_pem()?.as_bytes())?;
                tracing::warn!(
                    kid = %key.kid,
                    "no AUTH_SIGNING_KEY_FILE or AUTH_SIGNING_KEY: signing with a key generated for this process; \
                     its tokens stop verifying when it exits and other replicas will not accept them"
                );
                Ok(key)
            }
        }
    }

    /// An Ed25519 private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &[u8]) -> anyhow::Result<Self> {
        let encoding = EncodingKey::from_ed_pem(pem)
            .map_err(|e| anyhow::anyhow!("not an Ed25519 private key in PKCS#8 PEM form ({e})"))?;
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::EdDSA)
            .map_err(|e| anyhow::anyhow!("not a usable Ed25519 private key ({e})"))?;
        let AlgorithmParameters::OctetKeyPair(params) = &jwk.algorithm else {
            anyhow::bail!("not an Ed25519 private key");
        };
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(|e| anyhow::anyhow!("thumbprint: {e}"))?;
        Ok(Self { x: params.x.clone(), encoding, kid })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey { kid: self.kid.clone(), x: self.x.clone() }
    }

    /// The public key alone, as a JWKS document.
    pub fn jwks(&self) -> Jwks {
        Jwks::of(&[self.public()])
    }

    /// A compact JWS of `claims`, with `kid` in the header.
    pub fn sign<T: serde::Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

/// A new random Ed25519 private key as PKCS#8 PEM ([`authn::keys::generate_pem`]).
pub fn generate_pem() -> anyhow::Result<String> {
    authn::keys::generate_pem().map_err(|e| anyhow::anyhow!("no randomness available: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with `openssl genpkey -algorithm ed25519`; a test key only.
    const OPENSSL_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIMp22gub+/Eqw2gwEsKT5VIPiMmZY7ZLOUZmstrPd2RB
-----END PRIVATE KEY-----
";

    #[test]
    fn reads_openssl_keys_and_publishes_only_the_public_half() {
        let key = SigningKey::from_pem(OPENSSL_PEM.as_bytes()).unwrap();
        let jwks = serde_json::to_value(key.jwks()).unwrap();
        let jwk = &jwks["keys"][0];
        assert_eq!(
            (jwk["kty"].as_str(), jwk["crv"].as_str(), jwk["alg"].as_str()),
            (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
        );
        assert_eq!(jwk["kid"].as_str(), Some(key.kid()));
        assert!(jwk.get("d").is_none(), "private key material leaked: {jwk}");
        // What verifiers parse it with accepts it.
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
        assert!(authn::KeySet::from_jwks(&set).contains(key.kid()));
        // The public key openssl derives from the same private key.
        assert_eq!(jwk["x"].as_str(), Some("M4JSRsd3P_CD7JJTZIlKkA_I9ogC8ZvrqbZXopRHBm8"));
    }

    #[test]
    fn generated_keys_are_distinct_and_round_trip() {
        let a = SigningKey::from_pem(generate_pem().unwrap().as_bytes()).unwrap();
        let b = SigningKey::from_pem(generate_pem().unwrap().as_bytes()).unwrap();
        assert_ne!(a.kid(), b.kid());
    }

    #[test]
    fn refuses_other_key_types() {
        assert!(SigningKey::from_pem(b"not a pem").is_err());
        // The public half of OPENSSL_PEM: it cannot sign.
        let public = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAM4JSRsd3P/CD7JJTZIlKkA/I9ogC8ZvrqbZXopRHBm8=\n-----END PUBLIC KEY-----\n";
        assert!(SigningKey::from_pem(public.as_bytes()).is_err());
    }
}
