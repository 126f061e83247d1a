//! Writing served requests to `gateway_db` off the request path.
//!
//! A request hands its [`Record`] to a bounded queue without waiting
//! ([`Recorder::record`]); one background task drains the queue and writes
//! batches with a single `INSERT` each, at the latest every flush interval.
//! Nothing here can fail or slow a request: a full queue, or a batch the
//! database refuses, is dropped and counted (`gateway_metrics_dropped_total`
//! and a warning at most every [`WARN_EVERY`]). The same task deletes
//! records past the retention period once an hour. When every sender is
//! gone (the server stopped), the task writes what is queued and ends.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::{
    sync::mpsc::{self, error::TrySendError},
    task::JoinHandle,
};

use crate::{
    config::RecorderConfig,
    store::{Record, Store},
};

/// Least time between two warnings about dropped records.
pub const WARN_EVERY: Duration = Duration::from_secs(10);
/// Longest a batch insert may take before the batch is given up.
const INSERT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often old records are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub const DROPPED_METRIC: &str = "gateway_metrics_dropped_total";

/// Hands records to the background writer. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
    dropped: Arc<Dropped>,
}

/// The background writer, to wait for at shutdown.
pub struct Writer {
    task: JoinHandle<()>,
    dropped: Arc<Dropped>,
}

impl Recorder {
    /// Starts the writer on the current runtime.
    pub fn spawn(store: Store, config: &RecorderConfig) -> (Self, Writer) {
        let (recorder, rx) = Self::channel(config.queue);
        let dropped = recorder.dropped.clone();
        let task = tokio::spawn(write(rx, store, dropped.clone(), config.clone()));
        (recorder, Writer { task, dropped })
    }

    fn channel(queue: usize) -> (Self, mpsc::Receiver<Record>) {
        metrics::describe_counter!(
            DROPPED_METRIC,
            "Request records not written to gateway_db (queue full or database failing)."
        );
        let (tx, rx) = mpsc::channel(queue);
        (Self { tx, dropped: Arc::default() }, rx)
    }

    /// Queues `record`, or drops and counts it when the queue is full.
    pub fn record(&self, record: Record) {
        match self.tx.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.dropped.add(1, "the recording queue is full"),
            Err(TrySendError::Closed(_)) => self.dropped.add(1, "the recorder has stopped"),
        }
    }

    /// Records dropped so far by this recorder.
    pub fn dropped(&self) -> u64 {
        self.dropped.total()
    }
}

impl Writer {
    /// Records dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.total()
    }

    /// Waits, at most `grace`, for the writer to write what is queued; it
    /// does once every [`Recorder`] is dropped.
    pub async fn finish(self, grace: Duration) {
        let abort = self.task.abort_handle();
        if tokio::time::timeout(grace, self.task).await.is_err() {
            abort.abort();
            tracing::warn!(?grace, "request records still queued at shutdown were not written");
        }
    }
}

/// Counts dropped records and warns about them, rate-limited.
#[derive(Default)]
struct Dropped {
    total: AtomicU64,
    warn: Mutex<Warned>,
}

#[derive(Default)]
struct Warned {
    last: Option<Instant>,
    since: u64,
}

impl Dropped {
    fn add(&self, n: u64, reason: &str) {
        metrics::counter!(DROPPED_METRIC).increment(n);
        self.total.fetch_add(n, Ordering::Relaxed);
        let mut warned = self.warn.lock().unwrap_or_else(|e| e.into_inner());
        warned.since += n;
        if warned.last.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            tracing::warn!(dropped = warned.since, reason, "request metrics dropped; requests are unaffected");
            *warned = Warned { last: Some(Instant::now()), since: 0 };
        }
    }

    fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

async fn write(mut rx: mpsc::Receiver<Record>, store: Store, dropped: Arc<Dropped>, config: RecorderConfig) {
    let mut batch = Vec::with_capacity(config.batch);
    let mut tick = tokio::time::interval(config.flush_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_prune = Instant::now();
    loop {
        // The batch is written as soon as it is full, so there is always room.
        let room = config.batch - batch.len();
        tokio::select! {
            received = rx.recv_many(&mut batch, room) => {
                if received == 0 {
                    break; // Every sender is gone and the queue is empty.
                }
                if batch.len() >= config.batch {
                    flush(&store, &mut batch, &dropped).await;
                }
            }
            _ = tick.tick() => {
                flush(&store, &mut batch, &dropped).await;
                if Instant::now() >= next_prune {
                    next_prune = Instant::now() + PRUNE_EVERY;
                    prune(&store, config.retention).await;
                }
            }
        }
    }
    flush(&store, &mut batch, &dropped).await;
    tracing::debug!("request recorder stopped");
}

async fn flush(store: &Store, batch: &mut Vec<Record>, dropped: &Dropped) {
    if batch.is_empty() {
        return;
    }
    match tokio::time::timeout(INSERT_TIMEOUT, store.insert(batch)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => dropped.add(batch.len() as u64, &format!("gateway_db refused the batch: {e}")),
        Err(_) => dropped.add(batch.len() as u64, &format!("gateway_db did not answer within {INSERT_TIMEOUT:?}")),
    }
    batch.clear();
}

async fn prune(store: &Store, retention: Duration) {
    match store.delete_older_than(retention).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "deleted request metrics past retention"),
        Err(e) => tracing::warn!(error = %e, "deleting old request metrics failed; will retry within the hour"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    use super::*;

    fn record(method: &'static str) -> Record {
        Record { method, upstream: String::new(), status: "ok", latency_ms: 1.0, at: Utc::now() }
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_without_waiting() {
        let (recorder, mut rx) = Recorder::channel(2);
        for method in ["a", "b", "c", "d", "e"] {
            recorder.record(record(method));
        }
        assert_eq!(recorder.dropped(), 3);
        assert_eq!(rx.recv().await.unwrap().method, "a");
        assert_eq!(rx.recv().await.unwrap().method, "b");
        drop(rx);
        recorder.record(record("f"));
        assert_eq!(recorder.dropped(), 4, "a stopped writer drops too");
    }

    #[tokio::test]
    async fn batches_the_database_refuses_are_dropped_and_counted() {
        // Nothing listens on this port: every insert fails to connect.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pool = PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy_with(PgConnectOptions::new().host("127.0.0.1").port(port));
        let config = RecorderConfig { batch: 2, flush_interval: Duration::from_secs(3600), ..Default::default() };
        let (recorder, writer) = Recorder::spawn(Store::new(pool), &config);
        for method in ["a", "b", "c"] {
            recorder.record(record(method));
        }
        // "a" and "b" fill a batch, written (and refused) at once; "c" is
        // written (and refused) when the last sender goes away.
        let dropped = writer.dropped.clone();
        drop(recorder);
        writer.finish(Duration::from_secs(30)).await;
        assert_eq!(dropped.total(), 3);
    }
}
