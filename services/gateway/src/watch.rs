//! `WatchOverview`: one overview every few seconds, shared by every watcher.
//!
//! The overview is computed by a task of its own — shared work, which no
//! watcher's request runs or can cancel — started by the first watcher and
//! ended when the last one leaves. It publishes through a
//! `tokio::sync::watch` channel, which keeps only the newest overview: a
//! reader that falls behind skips to it instead of queueing the ones it
//! missed, so a slow reader costs nothing more than a fast one.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures_util::Stream;
use platform::shutdown::Draining;
use platform_proto::gateway::v1 as pb;
use tokio::sync::watch;
use tonic::Status;

use crate::{recording::Called, service::Gateway};

pub type OverviewStream = Pin<Box<dyn Stream<Item = Result<pb::WatchOverviewResponse, Status>> + Send>>;

/// The newest overview, and its watchers.
#[derive(Clone)]
pub struct OverviewFeed {
    inner: Arc<Feed>,
}

struct Feed {
    /// `None` until the first overview of a run is made.
    latest: watch::Sender<Option<pb::OverviewResponse>>,
    /// Whether the computing task runs.
    running: AtomicBool,
    interval: Duration,
    max_watchers: usize,
    draining: Draining,
}

impl OverviewFeed {
    pub fn new(interval: Duration, max_watchers: usize, draining: Draining) -> Self {
        let (latest, _) = watch::channel(None);
        Self { inner: Arc::new(Feed { latest, running: AtomicBool::new(false), interval, max_watchers, draining }) }
    }

    /// A watcher's stream: the newest overview at once (as soon as there is
    /// one), then each new one.
    pub fn watch(&self, gateway: &Gateway) -> Result<OverviewStream, Status> {
        let feed = &self.inner;
        if feed.latest.receiver_count() >= feed.max_watchers {
            return Err(Status::resource_exhausted(format!(
                "this gateway has {} overview watches open, its limit; try again later",
                feed.max_watchers
            )));
        }
        // Subscribe before looking at `running`: the task, about to stop,
        // looks at the watchers after clearing it (see `compute`).
        let rx = feed.latest.subscribe();
        if !feed.running.swap(true, Ordering::AcqRel) {
            tokio::spawn(compute(self.inner.clone(), gateway.clone()));
        }
        metrics::gauge!("gateway_overview_watchers").set(feed.latest.receiver_count() as f64);
        let draining = feed.draining.clone();
        let state = (rx, Gauge(self.inner.clone()), true);
        Ok(Box::pin(futures_util::stream::unfold(Some(state), move |state| {
            let draining = draining.clone();
            async move {
                let (mut rx, gauge, first) = state?;
                let next = tokio::select! {
                    biased;
                    () = draining.started() => {
                        return Some((Err(Status::unavailable("this gateway is shutting down; watch again")), None));
                    }
                    next = next_overview(&mut rx, first) => next,
                };
                match next {
                    Ok(overview) => {
                        Some((Ok(pb::WatchOverviewResponse { overview: Some(overview) }), Some((rx, gauge, false))))
                    }
                    Err(_) => Some((Err(Status::unavailable("the overview feed ended; watch again")), None)),
                }
            }
        })))
    }
}

/// The newest overview: the current one on a watch's first turn (once there
/// is one), then the next one made.
async fn next_overview(
    rx: &mut watch::Receiver<Option<pb::OverviewResponse>>,
    first: bool,
) -> Result<pb::OverviewResponse, watch::error::RecvError> {
    if !first {
        rx.changed().await?;
    }
    loop {
        if let Some(overview) = rx.borrow_and_update().clone() {
            return Ok(overview);
        }
        rx.changed().await?;
    }
}

/// Keeps the watcher gauge true when a watch ends.
struct Gauge(Arc<Feed>);

impl Drop for Gauge {
    fn drop(&mut self) {
        // This watch's receiver is dropped with the state, after this.
        let count = self.0.latest.receiver_count().saturating_sub(1);
        metrics::gauge!("gateway_overview_watchers").set(count as f64);
    }
}

/// Makes an overview every interval while anyone watches.
async fn compute(feed: Arc<Feed>, gateway: Gateway) {
    loop {
        if feed.latest.receiver_count() == 0 {
            // Clear `running`, then look again: a watcher that subscribed
            // meanwhile either saw `running` set (and counts on this task) or
            // started another one (and this one may stop).
            feed.running.store(false, Ordering::Release);
            if feed.latest.receiver_count() == 0 || feed.running.swap(true, Ordering::AcqRel) {
                // Whoever comes next starts from nothing, not a stale overview.
                feed.latest.send_replace(None);
                return;
            }
        }
        let overview = tokio::time::timeout(feed.interval, gateway.overview_of(true, &Called::default())).await;
        match overview {
            Ok((overview, _)) => {
                feed.latest.send_replace(Some(overview));
            }
            Err(_) => tracing::warn!(interval = ?feed.interval, "an overview took longer than its interval"),
        }
        tokio::time::sleep(feed.interval).await;
    }
}
