//! The pipeline under faults, end to end and counted exactly: writers
//! commit things with their events, the relay publishes them, a consumer
//! applies them. Whatever fails — the broker killed mid-publish, the
//! consumer killed mid-batch, PostgreSQL crashing under the relay, a node
//! of a 3-node JetStream cluster lost under load — every committed event
//! is in the stream once, in commit order, and has exactly one effect.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream;
use events::{
    consumer::{self, Consumer, Handler},
    outbox::{self, Event},
    relay::Relay,
};
use sqlx::PgPool;
use testkit::nats::{Cluster, Nats};

mod support;
use support::relay_config;

const SUBJECT: &str = "platform.test.thing.happened";
const STREAM: &str = "platform-test";

/// These tests run one at a time. They kill servers and start them again
/// on the same ports; run side by side, another test's free port could be
/// one of those, taken in the meantime (a cluster node then fails to bind
/// its route port, and JetStream finds too few peers).
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn consumer_config(url: &str, replicas: usize) -> consumer::Config {
    consumer::Config {
        // Faults are not poison: nothing here may be dead-lettered.
        max_deliver: 1000,
        ack_wait: Duration::from_secs(1),
        retry_delay: Duration::from_millis(50),
        replicas,
        ..consumer::Config::new(url, STREAM, "test-effects", SUBJECT)
    }
}

/// The events tables, the writers' `things` and the consumer's `effects`.
async fn migrate(db: &platform::db::DbConfig) -> PgPool {
    let pool = platform::db::connect(db, &events::MIGRATOR).await.expect("the database");
    sqlx::query("CREATE TABLE things (n int PRIMARY KEY)").execute(&pool).await.unwrap();
    sqlx::query("CREATE TABLE effects (event_id text NOT NULL, n int NOT NULL)").execute(&pool).await.unwrap();
    pool
}

/// Thing `n` and its event, in one transaction. Safe to retry when the
/// outcome is unknown (the commit's answer lost in a crash): a second
/// attempt finds the thing and writes nothing.
async fn write(pool: &PgPool, n: i32) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    let fresh: Option<bool> =
        sqlx::query_scalar("INSERT INTO things (n) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true")
            .bind(n)
            .fetch_optional(&mut *tx)
            .await?;
    if fresh.is_some() {
        let data = n.to_be_bytes();
        outbox::enqueue(&mut tx, &Event::new(SUBJECT, "/test", None, &data)).await?;
    }
    tx.commit().await
}

/// Writes `0..count`, each until it commits, `gap` apart: a steady load.
async fn write_all(pool: PgPool, count: i32, gap: Duration) {
    for n in 0..count {
        while write(&pool, n).await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(gap).await;
    }
}

/// Records each event's number in `effects`; counts its calls.
fn handler(calls: Arc<AtomicU32>, work: Duration) -> Handler {
    Box::new(move |conn, event| {
        calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let n = i32::from_be_bytes(event.data[..4].try_into().map_err(|_| "not a number".to_owned())?);
            sqlx::query("INSERT INTO effects (event_id, n) VALUES ($1, $2)")
                .bind(&event.id)
                .bind(n)
                .execute(&mut *conn)
                .await
                .map_err(|e| e.to_string())?;
            tokio::time::sleep(work).await;
            Ok(())
        })
    })
}

/// The numbers in the stream, in stream order, once it holds `count`; a
/// moment later it must hold no more (a duplicate would show).
async fn stream_numbers(url: &str, count: i32) -> Vec<i32> {
    let wait = Duration::from_secs(60);
    events::inspect::wait_for(url, STREAM, count as u64, wait).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = events::inspect::wait_for(url, STREAM, count as u64, wait).await.unwrap();
    events.iter().map(|e| number(&e.data)).collect()
}

fn number(data: &[u8]) -> i32 {
    i32::from_be_bytes(data[..4].try_into().unwrap())
}

/// Every effect's number, once there are `count`, and a moment later.
async fn effects(pool: &PgPool, count: i32) -> Vec<i32> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let n = || async { sqlx::query_scalar::<_, i64>("SELECT count(*) FROM effects").fetch_one(pool).await };
    while !matches!(n().await, Ok(n) if n >= i64::from(count)) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    sqlx::query_scalar("SELECT n FROM effects ORDER BY n").fetch_all(pool).await.unwrap()
}

/// Each of `0..count` once in the stream, in commit (outbox) order, and
/// applied once.
async fn assert_exactly_once(url: &str, pool: &PgPool, count: i32) {
    let in_stream = stream_numbers(url, count).await;
    let committed: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT data FROM outbox ORDER BY seq").fetch_all(pool).await.unwrap();
    let committed: Vec<i32> = committed.iter().map(|d| number(d)).collect();
    assert_eq!(in_stream, committed, "the stream: every event once, in commit order");
    let mut sorted = in_stream;
    sorted.sort_unstable();
    assert_eq!(sorted, (0..count).collect::<Vec<_>>(), "every committed thing has its event");
    assert_eq!(effects(pool, count).await, sorted, "the effects: every event applied once");
}

/// How many events the stream holds (0 while it cannot be asked).
async fn in_stream(js: &jetstream::Context) -> u64 {
    match js.get_stream(STREAM).await {
        Ok(mut stream) => stream.info().await.map(|i| i.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

#[tokio::test]
async fn the_broker_killed_mid_publish_loses_and_doubles_nothing() {
    let _alone = ALONE.lock().await;
    let mut nats = Nats::start();
    let pool = migrate(&testkit::database().await).await;
    Relay::new(pool.clone(), relay_config(&nats.url(), 1)).spawn();
    Consumer::new(pool.clone(), consumer_config(&nats.url(), 1), handler(Arc::default(), Duration::ZERO)).spawn();
    let (rounds, burst) = (4, 100);
    let mut at_kill = Vec::new();
    for round in 0..rounds {
        // A burst committed at once, and the broker killed once the relay
        // has published part of it: published, not yet marked.
        let first = round * burst;
        futures_util::future::join_all((first..first + burst).map(|n| {
            let pool = pool.clone();
            async move { write(&pool, n).await.unwrap() }
        }))
        .await;
        let js = jetstream::new(events::connect(&nats.url()).await.unwrap());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut published = in_stream(&js).await;
        while published < (first + 10) as u64 {
            assert!(tokio::time::Instant::now() < deadline, "the relay did not publish round {round}");
            tokio::time::sleep(Duration::from_millis(1)).await;
            published = in_stream(&js).await;
        }
        nats.kill();
        at_kill.push(published - first as u64);
        tokio::time::sleep(Duration::from_millis(200)).await;
        nats.resume();
    }
    println!("events of each burst of {burst} in the stream when the broker was killed: {at_kill:?}");
    assert!(at_kill.iter().any(|&p| p < burst as u64), "a kill must land mid-publish: {at_kill:?}");
    assert_exactly_once(&nats.url(), &pool, rounds * burst).await;
}

#[tokio::test]
async fn a_consumer_killed_mid_batch_applies_each_event_once() {
    let _alone = ALONE.lock().await;
    let nats = Nats::start();
    let pool = migrate(&testkit::database().await).await;
    Relay::new(pool.clone(), relay_config(&nats.url(), 1)).spawn();
    let count = 300;
    write_all(pool.clone(), count, Duration::ZERO).await;
    stream_numbers(&nats.url(), count).await;

    // Each life of the consumer is cut short partway through a pulled
    // batch: effects committed but not acknowledged, or half applied.
    let calls = Arc::new(AtomicU32::new(0));
    let work = Duration::from_millis(3);
    for _ in 0..5 {
        let consumer = Consumer::new(pool.clone(), consumer_config(&nats.url(), 1), handler(calls.clone(), work));
        let task = consumer.spawn();
        tokio::time::sleep(Duration::from_millis(150)).await;
        task.abort();
        let _ = task.await;
    }
    let applied_before_last: i64 = sqlx::query_scalar("SELECT count(*) FROM effects").fetch_one(&pool).await.unwrap();
    assert!(applied_before_last < i64::from(count), "the kills must land before the end: {applied_before_last}");
    Consumer::new(pool.clone(), consumer_config(&nats.url(), 1), handler(calls.clone(), work)).spawn();
    assert_eq!(effects(&pool, count).await, (0..count).collect::<Vec<_>>(), "every event applied once");

    let js = jetstream::new(events::connect(&nats.url()).await.unwrap());
    let mut durable: jetstream::consumer::PullConsumer =
        js.get_stream(STREAM).await.unwrap().get_consumer("test-effects").await.unwrap();
    let deliveries = durable.info().await.unwrap().delivered.consumer_sequence;
    println!(
        "{count} events: {deliveries} deliveries, {} handler calls, {applied_before_last} applied before the last life",
        calls.load(Ordering::SeqCst)
    );
    assert!(deliveries > count as u64, "killed consumers' unacknowledged events were delivered again");
}

#[tokio::test]
async fn postgres_crashing_under_the_relay_loses_and_doubles_nothing() {
    let _alone = ALONE.lock().await;
    let mut postgres = testkit::postgres::Postgres::start();
    let nats = Nats::start();
    let pool = migrate(&postgres.database().await).await;
    Relay::new(pool.clone(), relay_config(&nats.url(), 1)).spawn();
    Consumer::new(pool.clone(), consumer_config(&nats.url(), 1), handler(Arc::default(), Duration::ZERO)).spawn();
    let count = 600;
    let writer = tokio::spawn(write_all(pool.clone(), count, Duration::from_millis(1)));
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        postgres.crash();
        tokio::time::sleep(Duration::from_millis(300)).await;
        postgres.resume();
    }
    let crashed_at: i64 = sqlx::query_scalar("SELECT count(*) FROM things").fetch_one(&pool).await.unwrap();
    writer.await.unwrap();
    println!("PostgreSQL crashed twice; {crashed_at} of {count} things written when it came back the second time");
    assert!(crashed_at < i64::from(count), "the crashes must land while events are written");
    assert_exactly_once(&nats.url(), &pool, count).await;
}

#[tokio::test]
async fn a_three_node_cluster_losing_the_stream_leader_under_load_loses_and_doubles_nothing() {
    let _alone = ALONE.lock().await;
    let mut cluster = Cluster::start(3);
    let url = cluster.url();
    // The cluster elects its JetStream leader first (slow on a loaded machine); the stream, three copies.
    let js = jetstream::new(events::connect(&url).await.unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut stream = loop {
        let config = jetstream::stream::Config {
            name: STREAM.into(),
            subjects: vec!["platform.test.>".into()],
            storage: jetstream::stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            num_replicas: 3,
            ..Default::default()
        };
        match js.get_or_create_stream(config).await {
            Ok(stream) => break stream,
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "no JetStream cluster within 60 s: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let pool = migrate(&testkit::database().await).await;
    Relay::new(pool.clone(), relay_config(&url, 3)).spawn();
    Consumer::new(pool.clone(), consumer_config(&url, 3), handler(Arc::default(), Duration::ZERO)).spawn();
    let count = 600;
    let writer = tokio::spawn(write_all(pool.clone(), count, Duration::from_millis(2)));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let info = stream.info().await.unwrap().clone();
    let leader = info.cluster.and_then(|c| c.leader).expect("the stream has a leader");
    let node: usize = leader.trim_start_matches("node-").parse().unwrap();
    cluster.node(node).kill();
    let published_at_kill = info.state.messages;
    writer.await.unwrap();
    println!("the stream leader {leader} was killed after {published_at_kill} of {count} events");
    assert!(published_at_kill < count as u64, "the node must be lost under load");
    // Two of three nodes carry on; every event arrives once.
    assert_exactly_once(&url, &pool, count).await;
    let now = stream.info().await.unwrap().cluster.clone().and_then(|c| c.leader);
    assert!(now.is_some_and(|now| now != leader), "another copy leads the stream");
}
