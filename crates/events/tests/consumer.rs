//! Idempotent consumers against real PostgreSQL and nats-server: an event
//! delivered twice has one effect, a failing one is retried and then
//! applied once, and a poison event is dead-lettered with its reason while
//! the consumer goes on. Effects are counted in the database.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream;
use events::{
    consumer::{Config, Consumer, DEAD_LETTERS, FAILURE_HEADER, Handler},
    envelope::CloudEvent,
};
use sqlx::PgPool;
use testkit::nats::Nats;

const SUBJECT: &str = "platform.test.thing.happened";

async fn database() -> PgPool {
    let db = testkit::database().await;
    let pool = platform::db::connect(&db, &events::MIGRATOR).await.expect("the database");
    sqlx::query("CREATE TABLE effects (event_id text NOT NULL, data bytea NOT NULL)").execute(&pool).await.unwrap();
    pool
}

async fn stream(nats: &Nats) -> jetstream::Context {
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    js.get_or_create_stream(jetstream::stream::Config {
        name: "platform-test".into(),
        subjects: vec!["platform.test.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    js
}

/// Publishes event `id` with `data`, as message `msg_id` (a different one
/// gets past the stream's duplicate window: a second delivery of one event).
async fn publish(js: &jetstream::Context, id: &str, msg_id: &str, data: &[u8]) {
    let event = CloudEvent {
        id: id.into(),
        source: "/test".into(),
        kind: SUBJECT.into(),
        time: chrono::Utc::now(),
        subject: None,
        traceparent: None,
        data: data.to_vec(),
    };
    let mut headers = event.headers();
    headers.insert("Nats-Msg-Id", msg_id);
    js.publish_with_headers(SUBJECT, headers, data.to_vec().into()).await.unwrap().await.unwrap();
}

fn config(nats: &Nats) -> Config {
    Config {
        nats_url: nats.url(),
        stream: "platform-test".into(),
        durable: "test-effects".into(),
        filter_subject: SUBJECT.into(),
        max_deliver: 3,
        ack_wait: Duration::from_secs(5),
        retry_delay: Duration::from_millis(50),
        replicas: 1,
    }
}

/// Records the effect; fails for data `[0xFF]` always, and for data
/// `[0xFE]` on its first two attempts (counted in `attempts`).
fn handler(attempts: Arc<AtomicU32>) -> Handler {
    Box::new(move |conn, event| {
        let attempts = attempts.clone();
        Box::pin(async move {
            if event.data == [0xFF] {
                return Err("poison: this event can never apply".to_owned());
            }
            if event.data == [0xFE] && attempts.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err("flaky: not yet".to_owned());
            }
            record(conn, event).await
        })
    })
}

/// The effect: one row per application.
async fn record(conn: &mut sqlx::PgConnection, event: &CloudEvent) -> Result<(), String> {
    sqlx::query("INSERT INTO effects (event_id, data) VALUES ($1, $2)")
        .bind(&event.id)
        .bind(&event.data)
        .execute(conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn effects(pool: &PgPool, want: i64) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM effects").fetch_one(pool).await.unwrap();
        if n >= want || tokio::time::Instant::now() >= deadline {
            // A moment more: a second effect would show.
            tokio::time::sleep(Duration::from_millis(300)).await;
            return sqlx::query_scalar("SELECT count(*) FROM effects").fetch_one(pool).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_event_delivered_twice_has_one_effect() {
    let (pool, nats) = (database().await, Nats::start());
    let js = stream(&nats).await;
    for n in 0u8..10 {
        publish(&js, &format!("event-{n}"), &format!("msg-{n}"), &[n]).await;
    }
    // The same events again, as a relay re-sending past the duplicate window would.
    for n in 0u8..10 {
        publish(&js, &format!("event-{n}"), &format!("again-{n}"), &[n]).await;
    }
    Consumer::new(pool.clone(), config(&nats), handler(Arc::default())).spawn();
    assert_eq!(effects(&pool, 10).await, 10, "twenty deliveries, ten effects");
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox").fetch_one(&pool).await.unwrap();
    assert_eq!(inbox, 10);
}

#[tokio::test]
async fn a_failing_event_is_retried_then_applied_once() {
    let (pool, nats) = (database().await, Nats::start());
    let js = stream(&nats).await;
    publish(&js, "flaky", "flaky", &[0xFE]).await;
    let attempts = Arc::new(AtomicU32::new(0));
    Consumer::new(pool.clone(), config(&nats), handler(attempts.clone())).spawn();
    assert_eq!(effects(&pool, 1).await, 1);
    assert_eq!(attempts.load(Ordering::SeqCst), 3, "it failed twice, then applied");
}

#[tokio::test]
async fn a_poison_event_is_dead_lettered_and_the_consumer_goes_on() {
    let (pool, nats) = (database().await, Nats::start());
    let js = stream(&nats).await;
    publish(&js, "before", "before", &[1]).await;
    publish(&js, "poison", "poison", &[0xFF]).await;
    publish(&js, "after", "after", &[2]).await;
    Consumer::new(pool.clone(), config(&nats), handler(Arc::default())).spawn();
    assert_eq!(effects(&pool, 2).await, 2, "the events around the poison applied");
    let dead = events::inspect::wait_for(&nats.url(), DEAD_LETTERS, 1, Duration::from_secs(20)).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, "poison");
    let mut letters =
        jetstream::new(async_nats::connect(nats.url()).await.unwrap()).get_stream(DEAD_LETTERS).await.unwrap();
    let retention = letters.info().await.unwrap().config.max_age;
    assert_eq!(retention, events::consumer::DEAD_LETTER_RETENTION, "dead letters are kept for a bounded time");
    let raw = letters.get_raw_message(1).await.unwrap();
    let reason = raw.headers.get(FAILURE_HEADER).unwrap().as_str();
    assert!(reason.contains("failed 3 times") && reason.contains("poison"), "{reason}");
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM effects WHERE event_id = 'poison'").fetch_one(&pool).await.unwrap();
    assert_eq!(applied, 0);
}

/// A read model answers only once its consumer has reached the end of the
/// stream: `caught_up` turns true after the last event applied, not before,
/// and at once for a stream with nothing to apply.
#[tokio::test]
async fn caught_up_turns_true_once_the_stream_is_applied() {
    let (pool, nats) = (database().await, Nats::start());
    let js = stream(&nats).await;
    let mut empty = config(&nats);
    empty.durable = "test-empty".into();
    empty.filter_subject = "platform.test.nothing".into();
    let idle = Consumer::new(pool.clone(), empty, handler(Arc::default()));
    let mut idle_caught_up = idle.caught_up();
    idle.spawn();
    tokio::time::timeout(Duration::from_secs(20), idle_caught_up.wait_for(|c| *c)).await.unwrap().unwrap();

    for n in 0u8..50 {
        publish(&js, &format!("event-{n}"), &format!("msg-{n}"), &[n]).await;
    }
    let consumer = Consumer::new(pool.clone(), config(&nats), handler(Arc::default()));
    let mut caught_up = consumer.caught_up();
    assert!(!*caught_up.borrow(), "not before it started");
    consumer.spawn();
    tokio::time::timeout(Duration::from_secs(20), caught_up.wait_for(|c| *c)).await.unwrap().unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM effects").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 50, "every event applied when it says it has caught up");
}

/// Once the cause is fixed, `events dead-letters replay <consumer>` puts
/// the consumer's dead letters back on their subjects: each applies once,
/// and the dead-letter stream is left empty. Run as the operator would, the
/// real binary against the real broker.
#[tokio::test]
async fn dead_letters_are_listed_and_replayed_by_the_command() {
    let (pool, nats) = (database().await, Nats::start());
    let js = stream(&nats).await;
    let fixed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handler: Handler = {
        let fixed = fixed.clone();
        Box::new(move |conn, event| {
            let fixed = fixed.load(Ordering::SeqCst);
            Box::pin(async move {
                if !fixed {
                    return Err("the handler is broken".to_owned());
                }
                record(conn, event).await
            })
        })
    };
    for n in 0u8..3 {
        publish(&js, &format!("doomed-{n}"), &format!("doomed-{n}"), &[n]).await;
    }
    Consumer::new(pool.clone(), config(&nats), handler).spawn();
    events::inspect::wait_for(&nats.url(), DEAD_LETTERS, 3, Duration::from_secs(20)).await.unwrap();

    let events = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_events"))
            .args(args)
            .env("NATS_URL", nats.url())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let (listed, _) = events(&["dead-letters", "list", "--consumer", "test-effects"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(lines.iter().all(|l| l.contains(SUBJECT) && l.contains("the handler is broken")), "{listed}");
    assert_eq!(effects(&pool, 0).await, 0);

    fixed.store(true, Ordering::SeqCst);
    let (_, said) = events(&["dead-letters", "replay", "test-effects"]);
    assert!(said.contains("3 dead letters of test-effects replayed"), "{said}");
    assert_eq!(effects(&pool, 3).await, 3, "each replayed event applied once");
    let (listed, _) = events(&["dead-letters", "list"]);
    assert_eq!(listed, "", "nothing left in the dead-letter stream");
}
