//! Rebuilding gateway's projection (`user_activity`) from the streams:
//! `gateway projection rebuild [--apply]`.
//!
//! In one transaction that holds the table's lock (the live consumers'
//! writes wait), the table is emptied and every event still in auth's and
//! greeter's streams is applied again with the live consumers' own
//! handlers, each with its inbox row, so an event a consumer had not yet
//! applied is not applied twice after the lock is released. The rebuilt
//! rows are compared with the live ones; without `--apply` the transaction
//! is rolled back and only the comparison is reported.
//!
//! The streams keep events for `EVENTS_STREAM_MAX_AGE_SECS` (7 days by
//! default): a rebuild can only give what they still hold, so after that
//! window older users and greetings are missing from it. The report says
//! from when each stream holds events, and how the two states differ.

use std::collections::BTreeMap;

use async_nats::jetstream::{self, consumer::pull::OrderedConfig};
use chrono::{DateTime, Utc};
use events::{consumer::Handler, envelope::CloudEvent, subjects};
use futures_util::StreamExt;
use sqlx::{Connection, PgConnection};

use crate::projection::{self, ACTIVITY, ROLES, USERS};

/// One row of the projection, as compared.
type Row = (Option<DateTime<Utc>>, i64, Option<DateTime<Utc>>, Vec<String>);

/// What a rebuild found.
#[derive(Debug)]
pub struct Report {
    /// Events applied, by stream.
    pub applied: BTreeMap<String, u64>,
    /// When each stream's oldest event was stored.
    pub since: BTreeMap<String, Option<DateTime<Utc>>>,
    pub live_rows: usize,
    pub rebuilt_rows: usize,
    /// Users whose rows differ (or exist on one side only), at most 20.
    pub differences: Vec<String>,
    pub applied_to_table: bool,
}

impl Report {
    pub fn equal(&self) -> bool {
        self.differences.is_empty() && self.live_rows == self.rebuilt_rows
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (stream, n) in &self.applied {
            let since = self.since.get(stream).copied().flatten();
            let since = since.map_or("empty".to_owned(), |t| format!("holds events since {t}"));
            writeln!(f, "{stream}: {n} events applied ({since})")?;
        }
        writeln!(f, "live rows: {}, rebuilt rows: {}", self.live_rows, self.rebuilt_rows)?;
        if self.equal() {
            writeln!(f, "the rebuilt projection equals the live one")?;
        } else {
            writeln!(f, "differences (first 20): {}", self.differences.join(", "))?;
        }
        let outcome = if self.applied_to_table { "applied" } else { "not applied (dry run; --apply to apply)" };
        writeln!(f, "{outcome}")
    }
}

/// Rebuilds from the streams at `nats_url` into `conn`'s database.
pub async fn rebuild(conn: &mut PgConnection, nats_url: &str, apply: bool) -> anyhow::Result<Report> {
    let js = jetstream::new(events::connect(nats_url).await?);
    let mut tx = conn.begin().await?;
    sqlx::query("LOCK TABLE user_activity IN EXCLUSIVE MODE").execute(&mut *tx).await?;
    let live = rows(&mut tx).await?;
    sqlx::query("DELETE FROM user_activity").execute(&mut *tx).await?;
    let sources: [(&str, &str, Handler, &str); 3] = [
        ("platform-auth", subjects::USER_REGISTERED, projection::registered(), USERS),
        ("platform-auth", subjects::USER_ROLES_CHANGED, projection::roles(), ROLES),
        ("platform-greeter", subjects::GREETING_CREATED, projection::greeted(), ACTIVITY),
    ];
    let mut report = Report {
        applied: BTreeMap::new(),
        since: BTreeMap::new(),
        live_rows: live.len(),
        rebuilt_rows: 0,
        differences: Vec::new(),
        applied_to_table: false,
    };
    for (stream, subject, handler, consumer) in sources {
        let mut stream = match js.get_stream(stream).await {
            Ok(stream) => stream,
            // No stream yet: nothing was ever published there.
            Err(_) => continue,
        };
        let state = stream.info().await?.state.clone();
        report.since.insert(
            stream.cached_info().config.name.clone(),
            (state.messages > 0).then(|| {
                DateTime::from_timestamp(state.first_timestamp.unix_timestamp(), state.first_timestamp.nanosecond())
                    .unwrap_or_default()
            }),
        );
        if state.messages == 0 {
            continue;
        }
        let ordered =
            stream.create_consumer(OrderedConfig { filter_subject: subject.to_owned(), ..Default::default() }).await?;
        if ordered.cached_info().num_pending == 0 {
            continue;
        }
        let last = state.last_sequence;
        let mut messages = ordered.messages().await?;
        let mut applied = 0;
        while let Some(message) = messages.next().await {
            let message = message?;
            let at = message.info().map(|i| i.stream_sequence).unwrap_or(last);
            if let Ok(event) = CloudEvent::from_message(message.headers.as_ref(), &message.payload) {
                handler(&mut tx, &event).await.map_err(anyhow::Error::msg)?;
                sqlx::query("INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(consumer)
                    .bind(&event.id)
                    .execute(&mut *tx)
                    .await?;
                applied += 1;
            }
            if at >= last || message.info().is_ok_and(|i| i.pending == 0) {
                break;
            }
        }
        *report.applied.entry(stream.cached_info().config.name.clone()).or_default() += applied;
    }
    let rebuilt = rows(&mut tx).await?;
    report.rebuilt_rows = rebuilt.len();
    let users: std::collections::BTreeSet<&String> = live.keys().chain(rebuilt.keys()).collect();
    report.differences =
        users.into_iter().filter(|u| live.get(*u) != rebuilt.get(*u)).take(20).map(|u| u.to_string()).collect();
    if apply {
        tx.commit().await?;
        report.applied_to_table = true;
    } else {
        tx.rollback().await?;
    }
    Ok(report)
}

async fn rows(conn: &mut PgConnection) -> sqlx::Result<BTreeMap<String, Row>> {
    type Read = (String, Option<DateTime<Utc>>, i64, Option<DateTime<Utc>>, Vec<String>);
    let rows: Vec<Read> = sqlx::query_as(
        "SELECT user_id, registered_at, greetings, last_greeted_at, roles FROM user_activity ORDER BY user_id",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(u, r, g, l, roles)| (u, (r, g, l, roles))).collect())
}
