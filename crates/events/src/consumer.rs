//! Idempotent consumers: a durable pull consumer with explicit acks whose
//! handler applies each event's effect in a transaction that also records
//! the event id in the service's `inbox` table. A redelivery finds the id and
//! has no second effect. An event that fails `max_deliver` times, or cannot
//! be read at all, goes to the dead-letter stream with the reason, and the
//! consumer goes on with the next.

use std::{future::Future, pin::Pin, time::Duration};

use async_nats::jetstream::{
    self, AckKind,
    consumer::{AckPolicy, DeliverPolicy, pull},
    stream::StorageType,
};
use futures_util::StreamExt;
use platform::retention::Prune;
use sqlx::{PgConnection, PgPool};
use tokio::{sync::watch, task::JoinHandle};
use tracing::Instrument;

use crate::envelope::CloudEvent;

/// The stream every consumer's dead letters go to, by subject
/// `platform.dead-letter.<consumer>`.
pub const DEAD_LETTERS: &str = "platform-dead-letters";
/// How long a dead letter is kept for an operator to look at and replay:
/// the stream is bounded like every other queue.
pub const DEAD_LETTER_RETENTION: Duration = Duration::from_secs(30 * 86_400);
/// How long a consumer's inbox remembers an event: past any redelivery, and
/// as long as the producers' streams keep events (7 days by default).
pub const INBOX_RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// The header a dead letter carries its failure in.
pub const FAILURE_HEADER: &str = "platform-failure";
/// The header a dead letter carries the subject it was published on in.
pub const ORIGINAL_SUBJECT_HEADER: &str = "platform-original-subject";

/// What a handler does with one event, inside the inbox transaction.
pub type Handler = Box<
    dyn for<'c> Fn(
            &'c mut PgConnection,
            &'c CloudEvent,
        ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'c>>
        + Send
        + Sync,
>;

/// What a consumer does, in a transaction of its own, with an event it has
/// given up on (as it goes to the dead-letter stream), given the reason:
/// for example, tell the event's producer that it failed.
pub type GiveUp = Box<
    dyn for<'c> Fn(
            &'c mut PgConnection,
            &'c CloudEvent,
            &'c str,
        ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'c>>
        + Send
        + Sync,
>;

/// One durable consumer of one stream.
#[derive(Debug, Clone)]
pub struct Config {
    pub nats_url: String,
    /// The producer's stream (`platform-<service>`).
    pub stream: String,
    /// The durable consumer's name: `<consuming service>-<purpose>`.
    pub durable: String,
    /// Which of the stream's subjects it takes.
    pub filter_subject: String,
    /// Deliveries before an event is dead-lettered.
    pub max_deliver: i64,
    /// How long a delivery may stay unacknowledged before it is redelivered.
    pub ack_wait: Duration,
    /// The wait before a failed event is delivered again.
    pub retry_delay: Duration,
    /// Copies of the dead-letter stream, if this consumer creates it
    /// (`EVENTS_STREAM_REPLICAS`, as the producers' streams).
    pub replicas: usize,
}

impl Config {
    /// A consumer of `filter_subject` on `stream` named `durable`, with the
    /// platform's defaults: 5 deliveries, 30 s to acknowledge, 1 s between
    /// attempts.
    pub fn new(nats_url: &str, stream: &str, durable: &str, filter_subject: &str) -> Config {
        Config {
            nats_url: nats_url.to_owned(),
            stream: stream.to_owned(),
            durable: durable.to_owned(),
            filter_subject: filter_subject.to_owned(),
            max_deliver: 5,
            ack_wait: Duration::from_secs(30),
            retry_delay: Duration::from_secs(1),
            replicas: 1,
        }
    }

    /// The pruning job for the inbox: ids kept well past any redelivery.
    pub fn prune(keep: Duration) -> Prune {
        Prune::new("inbox", "processed_at", keep)
    }
}

/// A running consumer.
pub struct Consumer {
    pool: PgPool,
    config: Config,
    handler: Handler,
    give_up: Option<GiveUp>,
    /// Whether the consumer has once reached the end of its stream: what a
    /// read model needs before its answers mean anything.
    caught_up: watch::Sender<bool>,
}

/// What became of one delivery.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    Applied,
    Duplicate,
    Retry(String),
    Dead(String),
}

impl Consumer {
    pub fn new(pool: PgPool, config: Config, handler: Handler) -> Consumer {
        Consumer { pool, config, handler, give_up: None, caught_up: watch::Sender::new(false) }
    }

    /// Runs `give_up` for each event this consumer dead-letters.
    pub fn on_give_up(mut self, give_up: GiveUp) -> Consumer {
        self.give_up = Some(give_up);
        self
    }

    /// Becomes `true` once every event in the stream when the consumer
    /// started (or any later moment) has been applied, and stays so.
    pub fn caught_up(&self) -> watch::Receiver<bool> {
        self.caught_up.subscribe()
    }

    /// Consumes until the process ends, reconnecting with backoff.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            // Said once per outage, not at every retry.
            let mut said_away = false;
            loop {
                let mut reached = false;
                if let Err(e) = self.consume(&mut reached).await {
                    if reached {
                        said_away = false;
                        backoff = Duration::from_millis(100);
                    }
                    if !said_away {
                        tracing::warn!(consumer = %self.config.durable, url = %self.config.nats_url, error = %e,
                            "consumer paused; events wait in the stream until the broker is back");
                        said_away = true;
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        })
    }

    /// Consumes until the broker goes away; `reached` is set once it was reached.
    async fn consume(&self, reached: &mut bool) -> Result<(), String> {
        let client = crate::connect(&self.config.nats_url).await.map_err(|e| e.to_string())?;
        let js = jetstream::new(client);
        js.get_or_create_stream(jetstream::stream::Config {
            name: DEAD_LETTERS.to_owned(),
            subjects: vec!["platform.dead-letter.>".to_owned()],
            storage: StorageType::File,
            max_age: DEAD_LETTER_RETENTION,
            num_replicas: self.config.replicas,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        let stream = js.get_stream(&self.config.stream).await.map_err(|e| e.to_string())?;
        let mut consumer: jetstream::consumer::PullConsumer = stream
            .get_or_create_consumer(
                &self.config.durable,
                pull::Config {
                    durable_name: Some(self.config.durable.clone()),
                    filter_subject: self.config.filter_subject.clone(),
                    ack_policy: AckPolicy::Explicit,
                    deliver_policy: DeliverPolicy::All,
                    max_deliver: self.config.max_deliver,
                    ack_wait: self.config.ack_wait,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        *reached = true;
        let consumer_name = self.config.durable.as_str();
        let info = consumer.info().await.map_err(|e| e.to_string())?;
        metrics::gauge!("events_consumer_pending", "consumer" => consumer_name.to_owned()).set(info.num_pending as f64);
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            self.caught_up.send_replace(true);
        }
        tracing::info!(consumer = consumer_name, pending = info.num_pending, "consuming");
        let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
        while let Some(message) = messages.next().await {
            let message = message.map_err(|e| e.to_string())?;
            let (delivered, pending) = message.info().map(|i| (i.delivered, i.pending)).unwrap_or((1, 1));
            let fate = match CloudEvent::from_message(message.headers.as_ref(), &message.payload) {
                Ok(event) => {
                    // A consumer span in the producer's trace (crate::trace).
                    let span = tracing::info_span!(
                        "process",
                        otel.name = %format!("process {}", event.kind),
                        otel.kind = "consumer",
                        messaging.system = "nats",
                        messaging.destination.name = %event.kind,
                        messaging.message.id = %event.id,
                        messaging.consumer.group.name = %self.config.durable,
                        delivered,
                    );
                    crate::trace::continue_from(&span, event.traceparent.as_deref());
                    self.apply(&event).instrument(span).await
                }
                Err(e) => Fate::Dead(format!("not a CloudEvent: {e}")),
            };
            let consumer = self.config.durable.as_str();
            let fate = match fate {
                Fate::Retry(reason) if delivered >= self.config.max_deliver => {
                    Fate::Dead(format!("failed {delivered} times; last: {reason}"))
                }
                other => other,
            };
            let settled = !matches!(fate, Fate::Retry(_));
            match fate {
                Fate::Applied | Fate::Duplicate => {
                    metrics::counter!("events_consumed_total", "consumer" => consumer.to_owned(), "outcome" => if fate == Fate::Applied { "applied" } else { "duplicate" }).increment(1);
                    message.ack().await.map_err(|e| e.to_string())?;
                }
                Fate::Retry(reason) => {
                    tracing::warn!(consumer, delivered, %reason, "event failed; it will be delivered again");
                    metrics::counter!("events_consumed_total", "consumer" => consumer.to_owned(), "outcome" => "retried").increment(1);
                    message.ack_with(AckKind::Nak(Some(self.config.retry_delay))).await.map_err(|e| e.to_string())?;
                }
                Fate::Dead(reason) => {
                    tracing::error!(consumer, delivered, %reason, "event dead-lettered");
                    let mut headers = message.headers.clone().unwrap_or_default();
                    headers.insert(FAILURE_HEADER, reason.as_str());
                    headers.insert(ORIGINAL_SUBJECT_HEADER, message.subject.as_str());
                    // Not the original Nats-Msg-Id: one event may die in several consumers.
                    headers.insert(
                        "Nats-Msg-Id",
                        format!("{consumer}-{}", message.info().map(|i| i.stream_sequence).unwrap_or(0)).as_str(),
                    );
                    js.publish_with_headers(
                        format!("platform.dead-letter.{consumer}"),
                        headers,
                        message.payload.clone(),
                    )
                    .await
                    .map_err(|e| e.to_string())?
                    .await
                    .map_err(|e| e.to_string())?;
                    metrics::counter!("events_dead_lettered_total", "consumer" => consumer.to_owned()).increment(1);
                    if let (Some(give_up), Ok(event)) =
                        (&self.give_up, CloudEvent::from_message(message.headers.as_ref(), &message.payload))
                    {
                        // Its own transaction: the handler's failed. If this
                        // fails too, the producer learns nothing from here and
                        // must notice the silence (auth's saga retries).
                        if let Err(e) = self.gave_up(give_up, &event, &reason).await {
                            tracing::error!(consumer, error = %e, "reporting a dead-lettered event failed");
                        }
                    }
                    message.ack_with(AckKind::Term).await.map_err(|e| e.to_string())?;
                }
            }
            // The broker's count of what is left after this message.
            metrics::gauge!("events_consumer_pending", "consumer" => consumer.to_owned()).set(pending as f64);
            if pending == 0 && settled {
                self.caught_up.send_replace(true);
            }
        }
        Err("the message stream ended".to_owned())
    }

    async fn gave_up(&self, give_up: &GiveUp, event: &CloudEvent, reason: &str) -> Result<(), String> {
        let mut tx = self.pool.begin().await.map_err(|e| e.to_string())?;
        give_up(&mut tx, event, reason).await?;
        tx.commit().await.map_err(|e| e.to_string())
    }

    /// The event's effect and its inbox row, in one transaction.
    async fn apply(&self, event: &CloudEvent) -> Fate {
        let result: Result<Fate, String> = async {
            let mut tx = self.pool.begin().await.map_err(|e| e.to_string())?;
            let fresh: Option<bool> = sqlx::query_scalar(
                "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
            )
            .bind(&self.config.durable)
            .bind(&event.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
            if fresh.is_none() {
                return Ok(Fate::Duplicate);
            }
            (self.handler)(&mut tx, event).await?;
            tx.commit().await.map_err(|e| e.to_string())?;
            Ok(Fate::Applied)
        }
        .await;
        result.unwrap_or_else(Fate::Retry)
    }
}
