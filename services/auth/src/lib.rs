//! The auth service: accounts, sessions and access tokens.
//!
//! [`email`] normalises account names, [`password`] judges and hashes
//! passwords, [`throttle`] slows down guessing, [`keys`] and [`tokens`] sign
//! access tokens and mint refresh tokens, [`client`] tells who is calling,
//! [`store`] keeps users and sessions, and [`service`] is the REST surface
//! under `/auth/`. Token verification is shared with other services through
//! the `authn` crate.

pub mod client;
pub mod config;
pub mod cookies;
pub mod deletion;
pub mod email;
pub mod keys;
pub mod ops;
pub mod password;
pub mod service;
pub mod startup;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;
pub mod tokens;

pub use config::Config;
pub use startup::build;
