//! Writing events: a row in the service's `outbox`, in the caller's transaction.

use sqlx::PgConnection;

/// The channel the relay listens on, so that it publishes at once.
pub(crate) const CHANNEL: &str = "outbox";

/// An event to publish.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// Its NATS subject and CloudEvents type, `platform.<service>.<entity>.<verb>`.
    pub subject: &'a str,
    /// The producer, `/<service>`.
    pub source: &'a str,
    /// What it is about (CloudEvents `subject`), if anything.
    pub about: Option<&'a str>,
    /// The protobuf-encoded message.
    pub data: &'a [u8],
    /// A W3C `traceparent` to carry; `None` takes the current span's.
    pub traceparent: Option<&'a str>,
}

impl<'a> Event<'a> {
    /// An event from `source` (`/<service>`) on `subject`, about `about`,
    /// carrying the current span's trace context.
    pub fn new(subject: &'a str, source: &'a str, about: Option<&'a str>, data: &'a [u8]) -> Event<'a> {
        Event { subject, source, about, data, traceparent: None }
    }
}

/// The current span's `traceparent`, if it is being traced.
fn current_traceparent() -> Option<String> {
    let mut headers = http::HeaderMap::new();
    platform::propagation::inject(&mut headers);
    headers.get("traceparent").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// A protobuf timestamp for an event's time fields.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 }
}

/// Writes `event` through `conn`, which must be in the transaction of the
/// change it describes; its id. It takes `subject`'s advisory lock until
/// that transaction ends, so events of one subject commit in `seq` order,
/// the order the relay publishes them in.
pub async fn enqueue(conn: &mut PgConnection, event: &Event<'_>) -> sqlx::Result<String> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(event.subject)
        .execute(&mut *conn)
        .await?;
    let traceparent = event.traceparent.map(str::to_owned).or_else(current_traceparent);
    let id = sqlx::query_scalar(
        "INSERT INTO outbox (subject, type, source, event_subject, data, traceparent)
         VALUES ($1, $1, $2, $3, $4, $5) RETURNING id::text",
    )
    .bind(event.subject)
    .bind(event.source)
    .bind(event.about)
    .bind(event.data)
    .bind(traceparent)
    .fetch_one(&mut *conn)
    .await?;
    // Delivered at commit, and only then.
    sqlx::query("SELECT pg_notify($1, '')").bind(CHANNEL).execute(&mut *conn).await?;
    Ok(id)
}
