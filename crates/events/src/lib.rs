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
//! - [`consumer::Consumer`]: a durable pull consumer with explicit acks whose
//!   handler applies each event and records its id in the `inbox` table in
//!   one transaction, so a redelivery has no second effect; after
//!   `max_deliver` failures the event goes to the dead-letter stream;
//!   [`dead_letters`] lists and replays it (`events dead-letters`).
//! - [`deletion`]: a participant's side of the account-deletion saga.
//! - [`envelope`]: CloudEvents 1.0 attributes as NATS headers (the NATS
//!   protocol binding's binary content mode), the data protobuf.

/// The event contracts, `proto/events/v1/` (package `events.v1`).
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/events.v1.rs"));
}

/// One NATS subject per event type, `platform.<producer>.<entity>.<verb>`;
/// each producer's events are its own stream, `platform-<producer>`.
pub mod subjects {
    /// [`crate::v1::UserRegistered`].
    pub const USER_REGISTERED: &str = "platform.auth.user.registered";
    /// [`crate::v1::GreetingCreated`].
    pub const GREETING_CREATED: &str = "platform.greeter.greeting.created";
    /// [`crate::v1::TranslationChanged`].
    pub const TRANSLATION_CHANGED: &str = "platform.lang.translation.changed";
    /// [`crate::v1::UserDeletionRequested`].
    pub const USER_DELETION_REQUESTED: &str = "platform.auth.user.deletion_requested";
    /// [`crate::v1::UserDeleted`].
    pub const USER_DELETED: &str = "platform.auth.user.deleted";
    /// [`crate::v1::CallCompleted`].
    pub const CALL_COMPLETED: &str = "platform.caller.call.completed";
    /// [`crate::v1::UserRolesChanged`].
    pub const USER_ROLES_CHANGED: &str = "platform.auth.user.roles_changed";
    /// [`crate::v1::PreferenceChanged`].
    pub const PREFERENCE_CHANGED: &str = "platform.lang.preference.changed";
    /// [`crate::v1::SessionsRevoked`].
    pub const SESSIONS_REVOKED: &str = "platform.auth.sessions.revoked";

    /// [`crate::v1::UserDataDeleted`] from `participant`.
    pub fn user_data_deleted(participant: &str) -> String {
        format!("platform.{participant}.user_data.deleted")
    }

    /// [`crate::v1::UserDataDeletionFailed`] from `participant`.
    pub fn user_data_deletion_failed(participant: &str) -> String {
        format!("platform.{participant}.user_data.deletion_failed")
    }
}

pub mod consumer;
pub mod dead_letters;
pub mod deletion;
pub mod envelope;
pub mod inspect;
pub mod outbox;
pub mod relay;
mod trace;

use sqlx::migrate::Migrator;

/// Connects to the broker at `url`: one server, or a cluster's nodes
/// comma-separated (as the `nats` CLI takes them). The client also learns
/// the cluster's other nodes from the one it reaches, and fails over.
pub async fn connect(url: &str) -> Result<async_nats::Client, async_nats::ConnectError> {
    let servers: Vec<&str> = url.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    async_nats::connect(servers).await
}

/// This crate's tables: `outbox` and `outbox_lease`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");
