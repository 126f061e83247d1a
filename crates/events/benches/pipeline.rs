//! Events through the whole pipeline on this machine: writers commit an
//! outbox row each (one subject, as one event type of one service), the
//! relay publishes them to a real nats-server with JetStream
//! acknowledgements, and a durable consumer applies each one with its
//! inbox row in PostgreSQL. It prints figures; nothing passes or fails on
//! them.
//!
//!   cargo bench -p events --bench pipeline
//!   BENCH_EVENTS=20000 BENCH_WRITERS=16 BENCH_RATE=500 cargo bench -p events --bench pipeline
//!
//! Two runs in one process, each with a fresh database and nats-server:
//! - flood: BENCH_EVENTS (default 5000) events from BENCH_WRITERS (8)
//!   concurrent writers as fast as they commit: the pipeline's capacity;
//! - steady: BENCH_RATE events/s (default 200, well under capacity) for
//!   BENCH_SECS (5) at an open-loop pace: the delay an event sees when
//!   nothing queues.
//!
//! The delay is from the event's commit-time `ce-time` (the outbox row's
//! `created_at`) to the consumer's handler, same clock.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use events::{
    consumer::{self, Consumer, Handler},
    outbox::{self, Event},
    relay::{self, Relay},
};
use sqlx::{Connection, PgPool};
use testkit::nats::Nats;

const SUBJECT: &str = "platform.bench.thing.happened";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Outcome {
    events: usize,
    /// From the first write to the last event applied.
    elapsed: Duration,
    /// Writes committed per second.
    write_rate: f64,
    /// From the first write to the last row published (acknowledged by the stream).
    relayed: Duration,
    delays_ms: Vec<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// A pipeline: database, relay and consumer on a fresh stream; the delays the handler sees.
async fn pipeline(nats: &Nats) -> (PgPool, Arc<Mutex<Vec<f64>>>) {
    let db = testkit::database().await;
    let pool = platform::db::connect(&db, &events::MIGRATOR).await.expect("the database");
    sqlx::query("CREATE TABLE effects (event_id text PRIMARY KEY)").execute(&pool).await.unwrap();
    let mut config = relay::Config::from_env(&platform::Env::default(), "bench").unwrap();
    config.nats_url = nats.url();
    Relay::new(pool.clone(), config).spawn();
    let delays = Arc::new(Mutex::new(Vec::new()));
    let handler: Handler = {
        let delays = delays.clone();
        Box::new(move |conn, event| {
            let delays = delays.clone();
            Box::pin(async move {
                sqlx::query("INSERT INTO effects (event_id) VALUES ($1)")
                    .bind(&event.id)
                    .execute(conn)
                    .await
                    .map_err(|e| e.to_string())?;
                let delay = chrono::Utc::now() - event.time;
                delays.lock().unwrap().push(delay.num_microseconds().unwrap_or(0) as f64 / 1000.0);
                Ok(())
            })
        })
    };
    let config = consumer::Config::new(&nats.url(), "platform-bench", "bench-effects", SUBJECT);
    let consumer = Consumer::new(pool.clone(), config, handler);
    let mut ready = consumer.caught_up();
    consumer.spawn();
    // Measured from a running pipeline: the consumer waits for the relay to
    // make the stream, and its start-up is not the pipeline's delay.
    ready.wait_for(|r| *r).await.unwrap();
    (pool, delays)
}

async fn write(pool: &PgPool, n: u64) {
    let mut conn = pool.acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    let data = n.to_be_bytes();
    outbox::enqueue(&mut tx, &Event::new(SUBJECT, "/bench", None, &data)).await.unwrap();
    tx.commit().await.unwrap();
}

/// Waits until the relay has published every row; when it had.
async fn wait_relayed(pool: &PgPool, started: Instant) -> Duration {
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetch_one(pool).await.unwrap();
        if pending == 0 {
            return started.elapsed();
        }
        // Coarse: a tight poll would take the database from the consumer.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_applied(delays: &Mutex<Vec<f64>>, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while delays.lock().unwrap().len() < want {
        assert!(Instant::now() < deadline, "only {} of {want} applied", delays.lock().unwrap().len());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Once the writers are done, the relay has published and the consumer
/// applied all `events`: the run's figures.
async fn measure(
    pool: &PgPool,
    delays: &Mutex<Vec<f64>>,
    started: Instant,
    writers: Vec<tokio::task::JoinHandle<()>>,
    events: u64,
) -> Outcome {
    for w in writers {
        w.await.unwrap();
    }
    let written = started.elapsed();
    let relayed = wait_relayed(pool, started).await;
    wait_applied(delays, events as usize).await;
    let delays_ms = std::mem::take(&mut *delays.lock().unwrap());
    Outcome {
        events: events as usize,
        elapsed: started.elapsed(),
        write_rate: events as f64 / written.as_secs_f64(),
        relayed,
        delays_ms,
    }
}

async fn flood(events: u64, writers: u64) -> Outcome {
    let nats = Nats::start();
    let (pool, delays) = pipeline(&nats).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = w;
            while n < events {
                write(&pool, n).await;
                n += writers;
            }
        }));
    }
    measure(&pool, &delays, started, tasks, events).await
}

async fn steady(rate: u64, secs: u64) -> Outcome {
    let nats = Nats::start();
    let (pool, delays) = pipeline(&nats).await;
    let events = rate * secs;
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tasks = Vec::new();
    // Open loop: each write at its time, whatever the earlier ones do.
    for n in 0..events {
        tokio::time::sleep_until((started + interval * n as u32).into()).await;
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move { write(&pool, n).await }));
    }
    measure(&pool, &delays, started, tasks, events).await
}

fn main() {
    // Errors only: the relay and consumer log per batch at most, but quietly is fair.
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new("error")).init();
    let (events, writers) = (env("BENCH_EVENTS", 5000), env("BENCH_WRITERS", 8));
    let (rate, secs) = (env("BENCH_RATE", 200), env("BENCH_SECS", 5));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let flood = flood(events, writers).await;
        let steady = steady(rate, secs).await;
        println!("\noutbox → relay → nats-server (JetStream, file storage) → durable consumer + inbox, one subject\n");
        println!("| run | events | written/s | relayed/s | applied/s (end to end) | delay p50 | p90 | p99 | max |");
        println!("|---|---|---|---|---|---|---|---|---|");
        let mut p99s = Vec::new();
        for (name, mut o) in [(format!("flood, {writers} writers"), flood), (format!("steady, {rate}/s"), steady)] {
            o.delays_ms.sort_by(f64::total_cmp);
            let d = &o.delays_ms;
            p99s.push(percentile(d, 0.99));
            println!(
                "| {name} | {} | {:.0} | {:.0} | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
                o.events,
                o.write_rate,
                o.events as f64 / o.relayed.as_secs_f64(),
                o.events as f64 / o.elapsed.as_secs_f64(),
                percentile(d, 0.50),
                percentile(d, 0.90),
                percentile(d, 0.99),
                d[d.len() - 1],
            );
        }
        println!("\nflood p99 / steady p99: {:.1}", p99s[0] / p99s[1]);
    });
}
