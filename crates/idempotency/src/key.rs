//! The client's key, whose request it names, and how requests are compared.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Shortest key accepted: keys must be unguessable (a UUID has 36
/// characters), since the key is what makes a fingerprint irreversible.
pub const MIN_LEN: usize = 16;
/// Longest key accepted.
pub const MAX_LEN: usize = 255;

/// A well-formed `Idempotency-Key` value.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(String);

// Keys are bearer-like (with the scope they replay an outcome): never printed.
impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Why a key was refused; the message says what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the idempotency key has {0} characters; send {MIN_LEN} to {MAX_LEN}, such as a random UUID")]
    Length(usize),
    #[error(
        "the idempotency key may hold only visible ASCII characters, without quotes or backslashes; send a random UUID"
    )]
    Characters,
}

impl Key {
    /// Parses a header or metadata value: a token, or a structured-field
    /// string as the IETF draft writes it (`"…"`).
    pub fn parse(raw: &str) -> Result<Key, KeyError> {
        let raw = raw.trim();
        let inner = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(raw);
        if !inner.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\') {
            return Err(KeyError::Characters);
        }
        if !(MIN_LEN..=MAX_LEN).contains(&inner.len()) {
            return Err(KeyError::Length(inner.len()));
        }
        Ok(Key(inner.to_owned()))
    }

    /// The request this key names for `scope`: `method` and `path` as sent
    /// (an RPC's full name for both over gRPC and Connect), and `body` in
    /// one canonical encoding (a REST route's JSON as parsed and
    /// re-serialised, an RPC's protobuf message).
    pub fn request(&self, scope: &Scope, method: &str, path: &str, body: &[u8]) -> Request {
        let (scope, key) = (scope.0.as_bytes(), self.0.as_bytes());
        let id = Sha256::digest(framed(&[b"platform idempotency id v1", scope, key])).into();
        let secret = Sha256::digest(framed(&[b"platform idempotency fingerprint v1", scope, key]));
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret).expect("HMAC takes keys of any length");
        mac.update(&framed(&[method.as_bytes(), path.as_bytes(), body]));
        Request { id, fingerprint: mac.finalize().into_bytes().into() }
    }
}

/// Whose key it is: keys of different scopes never meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(String);

impl Scope {
    /// A verified token's subject: a user id, or `service:<client>` for a
    /// service's token.
    pub fn subject(subject: &str) -> Scope {
        Scope(format!("subject:{subject}"))
    }

    /// An anonymous client, by its address (as the service determines it,
    /// forwarded headers trusted only from known proxies).
    pub fn address(address: std::net::IpAddr) -> Scope {
        Scope(format!("address:{address}"))
    }
}

/// A request as the store knows it: its row and its fingerprint, both
/// one-way, so that neither key, scope nor body is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub(crate) id: [u8; 32],
    pub(crate) fingerprint: [u8; 32],
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Request(..)")
    }
}

/// The parts, each after its length, so no two part lists give the same bytes.
fn framed(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum());
    for part in parts {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "8e03978e-40d5-43e8-bc93-6894a57f9324";

    #[test]
    fn keys_are_tokens_or_quoted_strings_of_sixteen_to_255_visible_characters() {
        assert_eq!(Key::parse(UUID), Key::parse(&format!("\"{UUID}\"")));
        assert_eq!(Key::parse("short"), Err(KeyError::Length(5)));
        assert_eq!(Key::parse(&"k".repeat(256)), Err(KeyError::Length(256)));
        assert!(Key::parse(&"k".repeat(255)).is_ok());
        assert_eq!(Key::parse("with a space in the key"), Err(KeyError::Characters));
        assert_eq!(Key::parse("quote\"inside-the-key"), Err(KeyError::Characters));
        assert_eq!(Key::parse("é-is-not-ascii-at-all"), Err(KeyError::Characters));
        assert!(!format!("{:?}", Key::parse(UUID).unwrap()).contains("8e03"));
    }

    #[test]
    fn requests_differ_by_scope_key_method_path_and_body() {
        let key = Key::parse(UUID).unwrap();
        let alice = Scope::subject("alice");
        let base = key.request(&alice, "POST", "/a", b"{}");
        assert_eq!(base, key.request(&alice, "POST", "/a", b"{}"));
        // Another scope: another row altogether.
        let bob = key.request(&Scope::subject("bob"), "POST", "/a", b"{}");
        assert_ne!(base.id, bob.id);
        // Same row, another request.
        for other in [
            key.request(&alice, "PUT", "/a", b"{}"),
            key.request(&alice, "POST", "/b", b"{}"),
            key.request(&alice, "POST", "/a", b"{ }"),
            // The framing keeps parts apart: "/a" + "x" is not "/ax" + "".
            key.request(&alice, "POST", "/ax", b""),
        ] {
            assert_eq!(other.id, base.id);
            assert_ne!(other.fingerprint, base.fingerprint);
        }
        // A user id cannot pose as an address, nor the other way round.
        let address = Scope::address("127.0.0.1".parse().unwrap());
        assert_ne!(
            key.request(&address, "POST", "/a", b"{}").id,
            key.request(&Scope::subject("127.0.0.1"), "POST", "/a", b"{}").id
        );
        // The fingerprint is keyed: the same body under another key differs.
        let other_key = Key::parse("another-key-of-enough-length").unwrap();
        assert_ne!(other_key.request(&alice, "POST", "/a", b"{}").fingerprint, base.fingerprint);
    }
}
