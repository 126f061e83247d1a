//! The outbox and its relay against real PostgreSQL and a real nats-server
//! (JetStream): order, attributes, a broker that comes and goes, re-sends
//! absorbed, and two relays (replicas) taking turns. Counted exactly.

use std::time::Duration;

use events::{
    envelope::CloudEvent,
    outbox::{self, Event},
    relay::{Config, Relay},
};
use sqlx::{Connection, PgPool};
use testkit::nats::Nats;

mod support;

const SUBJECT: &str = "platform.test.thing.happened";

fn config(nats: &Nats) -> Config {
    support::relay_config(&nats.url(), 1)
}

async fn database() -> PgPool {
    let db = testkit::database().await;
    platform::db::connect(&db, &events::MIGRATOR).await.expect("the database")
}

/// Event `n`, committed (or rolled back) in a transaction of its own.
async fn write(pool: &PgPool, n: u32, commit: bool) {
    let mut conn = pool.acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    let data = n.to_be_bytes();
    let event = Event::new(SUBJECT, "/test", Some("thing"), &data);
    outbox::enqueue(&mut tx, &event).await.unwrap();
    if commit {
        tx.commit().await.unwrap();
    }
}

/// Every message of the stream once it holds `want`, checking a moment
/// later that it holds no more (a duplicate would show).
async fn stream_messages(nats: &Nats, want: u64) -> Vec<CloudEvent> {
    let wait = Duration::from_secs(20);
    events::inspect::wait_for(&nats.url(), "platform-test", want, wait).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = events::inspect::wait_for(&nats.url(), "platform-test", want, wait).await.unwrap();
    assert_eq!(events.len() as u64, want, "no event twice");
    events
}

fn numbers(events: &[CloudEvent]) -> Vec<u32> {
    events.iter().map(|e| u32::from_be_bytes(e.data[..4].try_into().unwrap())).collect()
}

async fn pending(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn committed_events_reach_the_stream_in_order_with_their_attributes() {
    let (pool, nats) = (database().await, Nats::start());
    Relay::new(pool.clone(), config(&nats)).spawn();
    for n in 0..20 {
        write(&pool, n, true).await;
        if n == 10 {
            write(&pool, 999, false).await; // rolled back: never sent
        }
    }
    let events = stream_messages(&nats, 20).await;
    assert_eq!(numbers(&events), (0..20).collect::<Vec<_>>());
    let first = &events[0];
    assert_eq!((first.source.as_str(), first.kind.as_str()), ("/test", SUBJECT));
    assert_eq!(first.subject.as_deref(), Some("thing"));
    let ids: std::collections::HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 20, "each event its own id");
    assert_eq!(pending(&pool).await, 0, "every row marked published");
}

#[tokio::test]
async fn while_the_broker_is_away_events_wait_and_then_all_arrive_once() {
    let (pool, mut nats) = (database().await, Nats::start());
    nats.kill();
    Relay::new(pool.clone(), config(&nats)).spawn();
    for n in 0..30 {
        write(&pool, n, true).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(pending(&pool).await, 30, "acknowledged writes wait in the outbox");
    nats.resume();
    assert_eq!(numbers(&stream_messages(&nats, 30).await), (0..30).collect::<Vec<_>>());
    // Killed again mid-stream, and back: the rest arrive, nothing twice.
    nats.kill();
    for n in 30..60 {
        write(&pool, n, true).await;
    }
    nats.resume();
    assert_eq!(numbers(&stream_messages(&nats, 60).await), (0..60).collect::<Vec<_>>());
    assert_eq!(pending(&pool).await, 0);
}

#[tokio::test]
async fn a_re_sent_event_is_dropped_by_the_streams_duplicate_window() {
    let (pool, nats) = (database().await, Nats::start());
    Relay::new(pool.clone(), config(&nats)).spawn();
    for n in 0..10 {
        write(&pool, n, true).await;
    }
    stream_messages(&nats, 10).await;
    // As if a relay died after publishing, before marking: all sent again.
    sqlx::query("UPDATE outbox SET published_at = NULL").execute(&pool).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while pending(&pool).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the rows were not re-sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(numbers(&stream_messages(&nats, 10).await), (0..10).collect::<Vec<_>>(), "still ten, once each");
}

#[tokio::test]
async fn two_relays_take_turns_and_keep_the_order() {
    let (pool, nats) = (database().await, Nats::start());
    Relay::new(pool.clone(), config(&nats)).spawn();
    Relay::new(pool.clone(), config(&nats)).spawn();
    // Written concurrently by many transactions at once.
    futures_util::future::join_all((0..50).map(|n| write(&pool, n, true))).await;
    let events = stream_messages(&nats, 50).await;
    // Per subject, stream order is commit order, which the outbox's seq records.
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM outbox ORDER BY seq").fetch_all(&pool).await.unwrap();
    let by_seq: Vec<String> =
        sqlx::query_scalar("SELECT id::text FROM outbox ORDER BY seq").fetch_all(&pool).await.unwrap();
    assert_eq!(seqs.len(), 50);
    assert_eq!(events.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), by_seq, "stream order is outbox order");
    let holders: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_lease").fetch_one(&pool).await.unwrap();
    assert_eq!(holders, 1, "one relay's turn at a time");
}
