//! Verifying the auth service's access tokens anywhere in the platform.
//!
//! Access tokens are EdDSA-signed JWTs. [`verify`] checks one against a
//! [`KeySet`] with the algorithm, issuer and audience pinned, so `alg: none`,
//! HMAC tokens "signed" with the public key, tampered signatures, foreign
//! issuers or audiences and expired tokens are all refused. The auth service
//! verifies with its own keys; other services use [`Jwks`], which fetches
//! the public keys from auth's JWKS endpoint, caches them and refetches
//! (rate-limited) when a token names a key it has not seen, e.g. after a key
//! rotation. [`AuthLayer`] puts that in front of a gRPC service and hands the
//! caller's [`Identity`] to the handlers in the request extensions.

pub mod claims;
pub mod config;
pub mod jwks;
pub mod layer;
pub mod verify;

pub use claims::{Claims, Identity};
pub use config::Config;
pub use jwks::Jwks;
pub use layer::{AuthLayer, Mode};
pub use verify::{Expected, KeySet, Rejected, verify};
