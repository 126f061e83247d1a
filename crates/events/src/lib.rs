//! Events between services, delivered at least once and in order per
//! subject: the transactional outbox and its relay to NATS JetStream.
//!
//! - [`outbox::enqueue`] writes an event into the service's own `outbox`
//!   table inside the transaction of the change it describes: committed
//!   together or not at all. The table is this crate's migration, merged
//!   into the service's migrator by [`platform::db::merge`].
//! - [`relay::Relay`] (one task per service, its own timeouts; no request
//!   waits for it) publishes pending rows in order with JetStream publish
//!   acknowledgements, the event id as `Nats-Msg-Id` so the stream's
//!   duplicate window drops re-sends, marks them published, and backs off
//!   while the broker is away: events wait in the outbox, nothing is lost.
//!   Replicas of a service take turns through a lease row, so one relay
//!   publishes at a time and order per subject holds.
//! - [`envelope`]: CloudEvents 1.0 attributes as NATS headers (the NATS
//!   protocol binding's binary content mode), the data protobuf.

pub mod envelope;
pub mod outbox;
pub mod relay;

use sqlx::migrate::Migrator;

/// This crate's tables: `outbox` and `outbox_lease`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");
