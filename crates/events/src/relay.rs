//! The relay: pending outbox rows to JetStream, in order, acknowledged,
//! then marked. Its own task with its own timeouts; no request waits for it.

use std::time::Duration;

use async_nats::jetstream::{self, stream::StorageType};
use chrono::{DateTime, Utc};
use platform::{ConfigError, Env, retention::Prune};
use sqlx::{PgPool, postgres::PgListener};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::{envelope::CloudEvent, outbox::CHANNEL};

/// | variable | default | meaning |
/// |---|---|---|
/// | `NATS_URL` | `nats://127.0.0.1:4222` | the broker; while it is away events wait in the outbox |
/// | `OUTBOX_BATCH` | `100` | rows published per round |
/// | `OUTBOX_RETENTION_SECS` | `86400` | published rows are kept this long, then pruned |
/// | `EVENTS_STREAM_MAX_AGE_SECS` | `604800` | how long the service's stream keeps events (7 days) |
/// | `EVENTS_STREAM_REPLICAS` | `1` | copies of the stream in a JetStream cluster (3 in production: one node may fail) |
#[derive(Debug, Clone)]
pub struct Config {
    pub nats_url: String,
    /// The stream of this service's events (`platform-<service>`), and the
    /// subjects it holds (`platform.<service>.>`).
    pub stream: String,
    pub subjects: Vec<String>,
    pub batch: usize,
    /// Longest wait for new rows when no notification comes.
    pub poll: Duration,
    /// How long a relay's turn lasts unless renewed.
    pub lease: Duration,
    /// How long to wait for one publish acknowledgement.
    pub ack_timeout: Duration,
    /// Published rows are kept this long.
    pub retention: Duration,
    /// The stream's retention.
    pub max_age: Duration,
    /// Messages with the same id within this window are dropped by the stream.
    pub duplicate_window: Duration,
    /// The stream's copies, on as many nodes of a JetStream cluster.
    pub replicas: usize,
}

impl Config {
    /// For `service`, from the environment.
    pub fn from_env(env: &Env, service: &str) -> Result<Config, ConfigError> {
        Ok(Config {
            nats_url: env.string("NATS_URL", "nats://127.0.0.1:4222"),
            stream: format!("platform-{service}"),
            subjects: vec![format!("platform.{service}.>")],
            batch: env.nonzero("OUTBOX_BATCH", |e, n| e.parse(n, 100usize))?,
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(5),
            retention: env.nonzero("OUTBOX_RETENTION_SECS", |e, n| e.secs(n, Duration::from_secs(86_400)))?,
            max_age: env.nonzero("EVENTS_STREAM_MAX_AGE_SECS", |e, n| e.secs(n, Duration::from_secs(7 * 86_400)))?,
            duplicate_window: Duration::from_secs(120),
            replicas: replicas(env)?,
        })
    }

    /// The pruning job for [`platform::Server::with_retention`]: published
    /// rows past the retention.
    pub fn prune(&self) -> Prune {
        Prune::new("outbox", "published_at", self.retention).and("published_at IS NOT NULL")
    }
}

/// `EVENTS_STREAM_REPLICAS`: copies of each stream (JetStream allows 1 to 5).
pub fn replicas(env: &Env) -> Result<usize, ConfigError> {
    let n = env.nonzero("EVENTS_STREAM_REPLICAS", |e, n| e.parse(n, 1usize))?;
    if n > 5 {
        return Err(ConfigError::Invalid {
            name: "EVENTS_STREAM_REPLICAS".into(),
            value: n.to_string(),
            reason: "at most 5 (JetStream's limit)".into(),
        });
    }
    Ok(n)
}

/// One service's relay.
pub struct Relay {
    pool: PgPool,
    config: Config,
    /// Who holds the lease: this process.
    holder: String,
}

/// Why a round of relaying stopped.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error("the broker: {0}")]
    Broker(String),
    #[error("the database: {0}")]
    Database(#[from] sqlx::Error),
}

fn broker(e: impl std::fmt::Display) -> Stop {
    Stop::Broker(e.to_string())
}

struct Row {
    seq: i64,
    subject: String,
    event: CloudEvent,
}

impl Relay {
    pub fn new(pool: PgPool, config: Config) -> Relay {
        let holder = format!("{}-{}", std::process::id(), Utc::now().timestamp_nanos_opt().unwrap_or_default());
        Relay { pool, config, holder }
    }

    /// Runs until the process ends, reconnecting with backoff.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(self) {
        let mut backoff = Duration::from_millis(100);
        let mut said_away = false;
        loop {
            match self.connect().await {
                Ok(js) => {
                    if said_away {
                        tracing::info!(url = %self.config.nats_url, "broker reachable; relaying the outbox");
                    }
                    said_away = false;
                    backoff = Duration::from_millis(100);
                    if let Err(e) = self.relay(&js).await {
                        tracing::warn!(error = %e, "outbox relay paused; pending events wait in the outbox");
                        metrics::counter!("outbox_publish_failures_total").increment(1);
                    }
                }
                Err(e) => {
                    if !said_away {
                        tracing::warn!(
                            url = %self.config.nats_url, error = %e,
                            "no broker: events wait in the outbox until it is reachable"
                        );
                        said_away = true;
                    }
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn connect(&self) -> Result<jetstream::Context, Stop> {
        let client = tokio::time::timeout(self.config.ack_timeout, crate::connect(&self.config.nats_url))
            .await
            .map_err(|_| broker("connecting timed out"))?
            .map_err(broker)?;
        let mut js = jetstream::new(client);
        js.set_timeout(self.config.ack_timeout);
        let stream = jetstream::stream::Config {
            name: self.config.stream.clone(),
            subjects: self.config.subjects.clone(),
            storage: StorageType::File,
            max_age: self.config.max_age,
            duplicate_window: self.config.duplicate_window,
            num_replicas: self.config.replicas,
            ..Default::default()
        };
        js.get_or_create_stream(stream).await.map_err(broker)?;
        Ok(js)
    }

    /// Publishes until something fails.
    async fn relay(&self, js: &jetstream::Context) -> Result<(), Stop> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        loop {
            if !self.take_turn().await? {
                tokio::time::sleep(self.config.lease / 3).await;
                continue;
            }
            self.report_pending().await?;
            let rows = self.pending().await?;
            if rows.is_empty() {
                // A notification, or the poll interval; either way look again.
                let _ = tokio::time::timeout(self.config.poll, listener.recv()).await;
                continue;
            }
            let mut published = Vec::with_capacity(rows.len());
            let mut failure = None;
            for row in rows {
                // A producer span in the writing request's trace; the
                // message carries this span's context on to consumers.
                let span = tracing::info_span!(
                    "publish",
                    otel.name = %format!("publish {}", row.subject),
                    otel.kind = "producer",
                    messaging.system = "nats",
                    messaging.destination.name = %row.subject,
                    messaging.message.id = %row.event.id,
                );
                crate::trace::continue_from(&span, row.event.traceparent.as_deref());
                let mut headers = row.event.headers();
                if let Some(traceparent) = crate::trace::traceparent_of(&span) {
                    headers.insert("traceparent", traceparent.as_str());
                }
                let sent = async {
                    let ack = js
                        .publish_with_headers(row.subject.clone(), headers, row.event.data.clone().into())
                        .await
                        .map_err(broker)?;
                    ack.await.map_err(broker)
                };
                match sent.instrument(span).await {
                    Ok(ack) => {
                        metrics::counter!("outbox_published_total", "duplicate" => ack.duplicate.to_string())
                            .increment(1);
                        published.push(row.seq);
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            self.mark(&published).await?;
            if let Some(e) = failure {
                return Err(e);
            }
        }
    }

    /// Takes or renews this relay's turn; whether it holds it.
    async fn take_turn(&self) -> sqlx::Result<bool> {
        let held: Option<bool> = sqlx::query_scalar(
            "INSERT INTO outbox_lease (name, holder, expires_at) VALUES ('relay', $1, now() + make_interval(secs => $2))
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
               WHERE outbox_lease.holder = EXCLUDED.holder OR outbox_lease.expires_at < now()
             RETURNING true",
        )
        .bind(&self.holder)
        .bind(self.config.lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        Ok(held.is_some())
    }

    async fn report_pending(&self) -> sqlx::Result<()> {
        let (pending, oldest): (i64, Option<f64>) = sqlx::query_as(
            "SELECT count(*), extract(epoch FROM now() - min(created_at))::float8 FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        metrics::gauge!("outbox_pending").set(pending as f64);
        metrics::gauge!("outbox_oldest_pending_seconds").set(oldest.unwrap_or(0.0));
        Ok(())
    }

    async fn pending(&self) -> sqlx::Result<Vec<Row>> {
        type Pending = (i64, String, String, String, String, Option<String>, Vec<u8>, Option<String>, DateTime<Utc>);
        let rows: Vec<Pending> = sqlx::query_as(
            "SELECT seq, id::text, subject, type, source, event_subject, data, traceparent, created_at
             FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(i64::try_from(self.config.batch).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(seq, id, subject, kind, source, about, data, traceparent, time)| Row {
                seq,
                subject,
                event: CloudEvent { id, source, kind, time, subject: about, traceparent, data },
            })
            .collect())
    }

    async fn mark(&self, published: &[i64]) -> sqlx::Result<()> {
        if !published.is_empty() {
            sqlx::query("UPDATE outbox SET published_at = now() WHERE seq = ANY($1)")
                .bind(published)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_one_to_five() {
        let replicas_of = |v: &str| replicas(&Env::from_pairs([("EVENTS_STREAM_REPLICAS", v)]));
        assert_eq!(replicas(&Env::default()).unwrap(), 1);
        assert_eq!(replicas_of("3").unwrap(), 3);
        let too_many = replicas_of("6").unwrap_err().to_string();
        assert!(too_many.contains("EVENTS_STREAM_REPLICAS") && too_many.contains("at most 5"), "{too_many}");
        assert!(replicas_of("0").is_err());
    }
}
