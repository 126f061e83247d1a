//! The greeter service: greets, records the status of an external URL
//! fetched through the caller service, and stores every greeting.
//!
//! [`upstream`] asks `caller` under a deadline, [`store`] keeps greetings,
//! [`watch`] streams them to their owners as they are stored, [`service`] is
//! the `greeter.v1.GreeterService` RPC surface.

pub mod config;
pub mod service;
pub mod startup;
pub mod store;
pub mod upstream;
pub mod watch;

pub use config::Config;
pub use startup::build;
