//! The HTTP runtime every platform service shares.
//!
//! A service's `main` is three calls: read its configuration
//! ([`config`]), start [`telemetry`], and run a [`server::Server`] built from
//! its router. Everything a service needs to be operable — PostgreSQL with
//! migrations ([`db`]), health and readiness ([`health`]), Prometheus metrics
//! ([`metrics`]), one log line, span and metric per request ([`observe`]),
//! the inbound deadline for outbound calls ([`deadline`]), trace propagation
//! on outbound calls ([`propagation`]) and graceful shutdown ([`shutdown`]) —
//! lives here, once. REST services share one JSON error shape and body
//! decoding ([`rest`]); checks on client text that several services apply
//! are in [`validate`].
//!
//! Nothing here knows gRPC: the gRPC services add the RPC runtime
//! (`platform-rpc`: gRPC, gRPC-Web and Connect on one port) on top, and the
//! REST services compile without it.

pub mod audit;
pub mod config;
pub mod db;
pub mod deadline;
pub mod health;
pub mod keepalive;
pub mod metrics;
pub mod observe;
pub mod propagation;
pub mod redact;
pub mod request_id;
pub mod rest;
pub mod retention;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod validate;

pub use config::{CommonConfig, ConfigError, Env};
pub use server::Server;
