//! Verifying the auth service's access tokens anywhere in the platform, and
//! deciding who may call what.
//!
//! Access tokens are EdDSA-signed JWTs. [`verify()`] checks one against a
//! [`KeySet`] with the algorithm, issuer and audience pinned, so `alg: none`,
//! HMAC tokens "signed" with the public key, tampered signatures, foreign
//! issuers or audiences and expired tokens are all refused. The auth service
//! verifies with its own keys; other services use [`Jwks`], which fetches
//! the public keys from auth's JWKS endpoint, caches them and refetches
//! (rate-limited) when a token names a key it has not seen, e.g. after a key
//! rotation. Each service declares the [`Access`] level of every route and
//! RPC ([`Route`]) and enforces it with `AccessLayer` (gRPC, feature `grpc`) or the
//! [`rest`] extractors. Services call each other with short-lived service
//! tokens ([`client::ServiceToken`]).

pub mod access;
pub mod claims;
pub mod client;
pub mod config;
pub mod jwks;
pub mod keys;
#[cfg(feature = "grpc")]
pub mod layer;
pub mod rest;
pub mod revocations;
pub mod verify;

pub use access::{Access, Denied, Gate, Route, Verify};
pub use claims::{ADMIN, Claims, Identity};
pub use config::Config;
pub use jwks::Jwks;
#[cfg(feature = "grpc")]
pub use layer::AccessLayer;
pub use revocations::Revocations;
pub use verify::{Expected, KeySet, Rejected, verify};
