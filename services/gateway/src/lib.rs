//! The gateway service: fronts the REST services `lang` and `auth` with a
//! typed gRPC/gRPC-Web/Connect API and records every request it serves.
//!
//! [`upstream`] calls lang through the shared resilience stack,
//! [`service`] is the `gateway.v1.GatewayService` RPC surface (cache and
//! fallback for greetings, partial overviews), [`projection`] is the read
//! model of users fed by auth's and greeter's events ([`rebuild`] rebuilds
//! it from the streams), [`freshness`] drops
//! cached greetings when a translation changes, [`access`] decides which
//! RPCs need a token, [`recording`] notes every call and [`recorder`]
//! writes the notes to [`store`] off the request path.

pub mod access;
pub mod config;
pub mod freshness;
pub mod projection;
pub mod rebuild;
pub mod recorder;
pub mod recording;
pub mod service;
pub mod startup;
pub mod store;
pub mod upstream;
pub mod watch;

pub use config::Config;
pub use startup::{Application, build};
