//! Checking a token: signature, algorithm, issuer, audience and expiry.

use std::{collections::HashMap, time::Duration};

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse},
};

use crate::Claims;

/// The only algorithm accepted. Pinning it (rather than trusting the
/// token's header) is what defeats `alg: none` and algorithm confusion.
pub const ALGORITHM: Algorithm = Algorithm::EdDSA;

/// What a valid token must say besides carrying a good signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub issuer: String,
    pub audience: String,
    /// Clock skew tolerated on `exp`.
    pub leeway: Duration,
}

/// Why a token was refused. The messages are safe to return to clients:
/// they never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("no bearer token was sent")]
    Missing,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token is not signed with the expected algorithm")]
    Algorithm,
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token's issuer, audience or claims are not valid here")]
    Claims,
    #[error("the signing keys cannot be fetched; try again")]
    KeysUnavailable,
}

/// Public keys by key id (`kid`).
#[derive(Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, DecodingKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.keys.keys()).finish()
    }
}

impl KeySet {
    pub fn insert(&mut self, kid: impl Into<String>, key: DecodingKey) {
        self.keys.insert(kid.into(), key);
    }

    pub fn get(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.get(kid)
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The Ed25519 signing keys of a JWKS document. Keys of any other type,
    /// without a `kid`, or marked for another algorithm or use are left out,
    /// so a key set can never introduce a second algorithm.
    pub fn from_jwks(set: &JwkSet) -> Self {
        let mut keys = Self::default();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.as_deref() else { continue };
            let AlgorithmParameters::OctetKeyPair(params) = &jwk.algorithm else { continue };
            let alg_ok = matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::EdDSA));
            let use_ok = matches!(jwk.common.public_key_use, None | Some(PublicKeyUse::Signature));
            if params.curve != EllipticCurve::Ed25519 || !alg_ok || !use_ok {
                continue;
            }
            match DecodingKey::from_ed_components(&params.x) {
                Ok(key) => keys.insert(kid, key),
                Err(e) => tracing::warn!(kid, error = %e, "ignoring an unusable key in the JWKS"),
            }
        }
        keys
    }
}

/// The key id a token names, after checking it claims the pinned algorithm.
pub fn key_id(token: &str) -> Result<String, Rejected> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Rejected::Malformed)?;
    if header.alg != ALGORITHM {
        return Err(Rejected::Algorithm);
    }
    header.kid.ok_or(Rejected::UnknownKey)
}

/// Verifies `token` against `keys` and `expected`.
pub fn verify(token: &str, keys: &KeySet, expected: &Expected) -> Result<Claims, Rejected> {
    let kid = key_id(token)?;
    let key = keys.get(&kid).ok_or(Rejected::UnknownKey)?;
    let mut validation = Validation::new(ALGORITHM);
    validation.set_issuer(&[&expected.issuer]);
    validation.set_audience(&[&expected.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = expected.leeway.as_secs();
    jsonwebtoken::decode::<Claims>(token, key, &validation).map(|data| data.claims).map_err(|e| match e.kind() {
        ErrorKind::InvalidSignature => Rejected::Signature,
        ErrorKind::ExpiredSignature => Rejected::Expired,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat | ErrorKind::InvalidEddsaKey => Rejected::Algorithm,
        ErrorKind::InvalidIssuer
        | ErrorKind::InvalidAudience
        | ErrorKind::ImmatureSignature
        | ErrorKind::MissingRequiredClaim(_)
        | ErrorKind::InvalidClaimFormat(_)
        // The header was read above, so this is the claims not decoding.
        | ErrorKind::Json(_) => Rejected::Claims,
        _ => Rejected::Malformed,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use jsonwebtoken::{EncodingKey, Header, jwk::Jwk};

    use super::*;

    /// A fixed Ed25519 key: PKCS#8 header and a 32-byte seed.
    fn key() -> (EncodingKey, String) {
        let mut der =
            vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
        der.extend_from_slice(&[7u8; 32]);
        let key = EncodingKey::from_ed_der(&der);
        let jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA).unwrap();
        let AlgorithmParameters::OctetKeyPair(p) = jwk.algorithm else { unreachable!() };
        (key, p.x)
    }

    fn jwks(keys: serde_json::Value) -> KeySet {
        KeySet::from_jwks(&serde_json::from_value(serde_json::json!({ "keys": keys })).unwrap())
    }

    fn expected() -> Expected {
        Expected { issuer: "auth".into(), audience: "platform".into(), leeway: Duration::ZERO }
    }

    fn token(kid: &str, alg: Algorithm, key: &EncodingKey) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        let claims = Claims {
            sub: "u".into(),
            email: "e@example.com".into(),
            roles: Vec::new(),
            sid: None,
            client_id: None,
            iat: now,
            exp: now + 60,
            iss: "auth".into(),
            aud: "platform".into(),
            jti: "j".into(),
        };
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, &claims, key).unwrap()
    }

    #[test]
    fn only_ed25519_signing_keys_with_an_id_are_taken_from_a_jwks() {
        let (_, x) = key();
        let keys = jwks(serde_json::json!([
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "encryption", "use": "enc"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "EdDSA"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "other-alg", "alg": "RS256"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "good", "alg": "EdDSA", "use": "sig"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "bare"},
        ]));
        let mut kids: Vec<&str> =
            ["hmac", "encryption", "other-alg", "good", "bare"].into_iter().filter(|k| keys.contains(k)).collect();
        kids.sort();
        assert_eq!(kids, ["bare", "good"]);
    }

    /// Why RUSTSEC-2023-0071 (`rsa`, .cargo/audit.toml) is ignored: a token
    /// that names any RSA algorithm is refused from its header, before a key
    /// or the `rsa` crate is touched, whatever the key set holds.
    #[test]
    fn rsa_tokens_are_refused_before_any_key_is_used() {
        use base64::Engine as _;
        let (_, x) = key();
        let keys = jwks(serde_json::json!([{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "good"}]));
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
            let header = b64.encode(format!(r#"{{"alg":"{alg}","kid":"good","typ":"JWT"}}"#));
            let claims = b64.encode(r#"{"sub":"u","iss":"auth","aud":"platform","exp":4102444800}"#);
            let token = format!("{header}.{claims}.{}", b64.encode([0u8; 256]));
            assert_eq!(key_id(&token), Err(Rejected::Algorithm), "{alg}");
            assert_eq!(verify(&token, &keys, &expected()), Err(Rejected::Algorithm), "{alg}");
        }
    }

    #[test]
    fn the_algorithm_is_pinned_whatever_the_key_set_holds() {
        let (key, x) = key();
        let keys = jwks(serde_json::json!([
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "good"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        ]));
        assert!(verify(&token("good", Algorithm::EdDSA, &key), &keys, &expected()).is_ok());
        let hmac = EncodingKey::from_secret(b"secret");
        for kid in ["hmac", "good"] {
            assert_eq!(verify(&token(kid, Algorithm::HS256, &hmac), &keys, &expected()), Err(Rejected::Algorithm));
        }
        let mut other = expected();
        other.audience = "elsewhere".into();
        assert_eq!(verify(&token("good", Algorithm::EdDSA, &key), &keys, &other), Err(Rejected::Claims));
        assert_eq!(verify(&token("nope", Algorithm::EdDSA, &key), &keys, &expected()), Err(Rejected::UnknownKey));
    }
}
