//! Making an Ed25519 signing key in the form auth reads (PKCS#8 PEM, as
//! `openssl genpkey -algorithm ed25519` writes it). It lives here, below
//! both auth (its ephemeral key, `auth rotate-key`) and devstack (the local
//! key), so neither tool needs the other.

use base64::{Engine, engine::general_purpose::STANDARD};

/// PKCS#8 v1 DER header of an Ed25519 private key; the 32-byte seed follows.
pub const ED25519_PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// A new random Ed25519 private key as PKCS#8 PEM.
pub fn generate_pem() -> Result<String, getrandom::Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)?;
    let mut der = ED25519_PKCS8_PREFIX.to_vec();
    der.extend_from_slice(&seed);
    let b64 = STANDARD.encode(&der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_keys_are_ed25519_pkcs8_and_distinct() {
        let (a, b) = (super::generate_pem().unwrap(), super::generate_pem().unwrap());
        assert_ne!(a, b);
        jsonwebtoken::EncodingKey::from_ed_pem(a.as_bytes()).unwrap();
        assert!(a.starts_with("-----BEGIN PRIVATE KEY-----\n") && a.ends_with("-----END PRIVATE KEY-----\n"));
    }
}
