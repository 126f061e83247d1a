//! `WatchGreetings`: greetings as they are stored, by any greeter replica.
//!
//! Every insert into `greetings` notifies the `greetings` channel (a
//! trigger, so every writer does), and PostgreSQL delivers the notice to
//! every replica listening, on commit. One task per process listens — shared
//! work, which no client's request runs or can stop — reads each greeting
//! that someone watches once, and hands it to the streams watching its
//! owner, each through a bounded buffer. A stream whose buffer is full is
//! dropped with `RESOURCE_EXHAUSTED`: a reader that does not read costs at
//! most its buffer. Notices sent while the listening connection is being
//! re-made are lost (a watch is live news, not a log; `ListGreetings` has
//! every greeting).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::Stream;
use platform::shutdown::Draining;
use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::mpsc;
use tonic::Status;

use crate::store::{GreetingRow, Store};

/// The channel the `greetings` trigger notifies (migrations/…_notify.sql).
const CHANNEL: &str = "greetings";

/// Bounds of the watches.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// How long a watch stays silent before a heartbeat.
    pub heartbeat: Duration,
    /// Greetings a watch may hold that its reader has not taken.
    pub buffer: usize,
    /// Watches one process keeps open at most.
    pub max_watchers: usize,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self { heartbeat: Duration::from_secs(15), buffer: 32, max_watchers: 1000 }
    }
}

/// What a watch receives.
#[derive(Debug)]
pub enum Event {
    Greeting(Arc<GreetingRow>),
    Heartbeat,
}

/// The process's watches, fed by one listening task.
#[derive(Clone)]
pub struct Watchers {
    hub: Arc<Hub>,
}

struct Hub {
    watchers: Mutex<HashMap<u64, Watcher>>,
    next_id: AtomicU64,
    config: WatchConfig,
    draining: Draining,
}

struct Watcher {
    /// Whose greetings it gets; `None` for everyone's.
    owner: Option<String>,
    tx: mpsc::Sender<Arc<GreetingRow>>,
    /// Why it was ended from here, if it was: [`SLOW`] or [`DELETED`].
    dropped: Arc<AtomicU8>,
}

/// A watch dropped for not keeping up.
const SLOW: u8 = 1;
/// A watch of a user whose account is being deleted.
const DELETED: u8 = 2;

impl Watchers {
    /// Starts listening on `pool`'s database. The task ends when aborted
    /// (it stops with the server); watches end when `draining` begins.
    pub fn spawn(pool: PgPool, config: WatchConfig, draining: Draining) -> (Self, tokio::task::JoinHandle<()>) {
        let hub = Arc::new(Hub { watchers: Mutex::new(HashMap::new()), next_id: AtomicU64::new(0), config, draining });
        let task = tokio::spawn(listen(hub.clone(), pool));
        (Self { hub }, task)
    }

    /// A watch of `owner`'s greetings (everyone's for `None`).
    pub fn watch(
        &self,
        owner: Option<String>,
    ) -> Result<impl Stream<Item = Result<Event, Status>> + Send + 'static, Status> {
        let hub = self.hub.clone();
        let (tx, rx) = mpsc::channel(hub.config.buffer);
        let dropped = Arc::new(AtomicU8::new(0));
        let id = hub.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut watchers = hub.watchers.lock().expect("not poisoned");
            if watchers.len() >= hub.config.max_watchers {
                return Err(Status::resource_exhausted(format!(
                    "this greeter has {} watches open, its limit; try again later",
                    watchers.len()
                )));
            }
            watchers.insert(id, Watcher { owner, tx, dropped: dropped.clone() });
            metrics::gauge!("greeter_watchers").set(watchers.len() as f64);
        }
        let mut heartbeat = tokio::time::interval(hub.config.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let state =
            WatchState { registration: Registration { id, hub: hub.clone() }, rx, dropped, heartbeat, first: true };
        Ok(futures_util::stream::unfold(Some(state), |state| async move {
            let mut s = state?;
            if s.first {
                // The watch is in place: the client may now make what it waits for.
                s.first = false;
                s.heartbeat.reset();
                return Some((Ok(Event::Heartbeat), Some(s)));
            }
            let draining = s.registration.hub.draining.clone();
            tokio::select! {
                biased;
                () = draining.started() => {
                    Some((Err(Status::unavailable("this greeter is shutting down; watch again")), None))
                }
                row = s.rx.recv() => match row {
                    Some(row) => {
                        s.heartbeat.reset();
                        Some((Ok(Event::Greeting(row)), Some(s)))
                    }
                    None => Some((Err(match s.dropped.load(Ordering::Relaxed) {
                        SLOW => Status::resource_exhausted(
                            "the watch fell too far behind: its reader did not keep up; watch again",
                        ),
                        DELETED => Status::permission_denied("the account is being deleted; its greetings are gone"),
                        _ => Status::unavailable("the watch ended; watch again"),
                    }), None)),
                },
                _ = s.heartbeat.tick() => Some((Ok(Event::Heartbeat), Some(s))),
            }
        }))
    }
}

struct WatchState {
    registration: Registration,
    rx: mpsc::Receiver<Arc<GreetingRow>>,
    dropped: Arc<AtomicU8>,
    heartbeat: tokio::time::Interval,
    first: bool,
}

/// Takes a watch off the hub when its stream is dropped (the client went
/// away, or the stream ended).
struct Registration {
    id: u64,
    hub: Arc<Hub>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut watchers = self.hub.watchers.lock().expect("not poisoned");
        watchers.remove(&self.id);
        metrics::gauge!("greeter_watchers").set(watchers.len() as f64);
    }
}

/// The listening task: (re)connects, then hands each notified greeting out.
async fn listen(hub: Arc<Hub>, pool: PgPool) {
    let store = Store::new(pool.clone());
    let mut backoff = Duration::from_millis(100);
    loop {
        match subscribe(&pool).await {
            Ok(mut listener) => {
                backoff = Duration::from_millis(100);
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notice)) => deliver(&hub, &store, notice.payload()).await,
                        Ok(None) => {
                            tracing::warn!("the greetings listener lost its connection; notices may have been missed");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "the greetings listener failed");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, retry_in = ?backoff, "cannot listen for greetings"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn subscribe(pool: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[derive(serde::Deserialize)]
struct Notice {
    id: i64,
    owner: Option<String>,
}

/// The notice [`notify_deleted`] sends.
#[derive(serde::Deserialize)]
struct Deleted {
    deleted_owner: String,
}

/// Tells every replica's listener, when `conn`'s transaction commits, that
/// `owner`'s greetings are gone: their watches of that owner end.
pub async fn notify_deleted(conn: &mut sqlx::PgConnection, owner: &str) -> sqlx::Result<()> {
    let payload = serde_json::json!({ "deleted_owner": owner }).to_string();
    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(conn).await?;
    Ok(())
}

/// Ends every watch of `owner`'s greetings.
fn end_watches_of(hub: &Hub, owner: &str) {
    let mut watchers = hub.watchers.lock().expect("not poisoned");
    watchers.retain(|_, w| {
        let theirs = w.owner.as_deref() == Some(owner);
        if theirs {
            w.dropped.store(DELETED, Ordering::Relaxed);
        }
        !theirs
    });
    metrics::gauge!("greeter_watchers").set(watchers.len() as f64);
}

/// Reads the greeting of `payload` once, if anyone watches it, and hands it
/// to each watch of its owner; a watch whose buffer is full is dropped.
async fn deliver(hub: &Hub, store: &Store, payload: &str) {
    if let Ok(deleted) = serde_json::from_str::<Deleted>(payload) {
        return end_watches_of(hub, &deleted.deleted_owner);
    }
    let Ok(notice) = serde_json::from_str::<Notice>(payload) else {
        tracing::warn!(payload, "an unreadable greetings notice");
        return;
    };
    let watching = |w: &Watcher| w.owner.is_none() || w.owner == notice.owner;
    if !hub.watchers.lock().expect("not poisoned").values().any(watching) {
        return;
    }
    let row = match store.get(notice.id).await {
        Ok(Some(row)) => Arc::new(row),
        // Deleted since (retention), or the database is away: nothing to send.
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, id = notice.id, "a watched greeting could not be read");
            return;
        }
    };
    let mut watchers = hub.watchers.lock().expect("not poisoned");
    watchers.retain(|_, w| {
        if !watching(w) {
            return true;
        }
        match w.tx.try_send(row.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                w.dropped.store(SLOW, Ordering::Relaxed);
                metrics::counter!("greeter_watchers_dropped_total", "reason" => "slow_reader").increment(1);
                tracing::info!("a watch fell too far behind and was dropped");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    });
    metrics::gauge!("greeter_watchers").set(watchers.len() as f64);
}
