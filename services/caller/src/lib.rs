//! The caller service: outbound HTTP calls on behalf of other services.
//!
//! [`guard`] decides which destinations may be reached (consulting
//! `special_purpose`, a committed copy of the IANA special-purpose address
//! registries), [`fetch`] makes the call under that policy with timeouts and
//! a body cap, [`store`] records every call, and [`service`] is the
//! `caller.v1.CallerService` RPC surface.

pub mod config;
pub mod fetch;
pub mod guard;
pub mod service;
mod special_purpose;
pub mod startup;
pub mod store;

pub use config::Config;
pub use startup::build;
