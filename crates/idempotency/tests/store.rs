//! The store against a real PostgreSQL: repeats replay, concurrent repeats
//! run the write once, mismatches and busy keys are refused, failures and
//! expiry free the key, and nothing of key, scope or body is stored.

use std::time::Duration;

use idempotency::{Begun, Config, Idempotency, Key, Outcome, Refused, Request, Scope};
use sqlx::PgPool;

const KEY: &str = "0b6f4a35-5f6b-4a55-9a37-7f0d2a0f8c11";

async fn store(config: Config) -> (Idempotency, PgPool) {
    let db = testkit::database().await;
    let pool = platform::db::connect(&db, &idempotency::MIGRATOR).await.expect("the database");
    sqlx::query("CREATE TABLE effects (id bigserial PRIMARY KEY, what text NOT NULL)").execute(&pool).await.unwrap();
    (Idempotency::new(pool.clone(), config), pool)
}

fn request(scope: &str, body: &str) -> Request {
    Key::parse(KEY).unwrap().request(&Scope::subject(scope), "POST", "/effects", body.as_bytes())
}

/// Runs the write the way a handler does: the effect, then the outcome.
async fn run(store: &Idempotency, request: &Request, hold: Duration) -> Result<(Outcome, bool), Refused> {
    match store.begin(Some(request)).await? {
        Begun::Replay(outcome) => Ok((outcome, true)),
        Begun::Write(mut write) => {
            let id: i64 = sqlx::query_scalar("INSERT INTO effects (what) VALUES ('x') RETURNING id")
                .fetch_one(write.conn())
                .await?;
            tokio::time::sleep(hold).await;
            let outcome = Outcome { status: 201, body: id.to_string().into_bytes() };
            write.commit(|| outcome.clone()).await?;
            Ok((outcome, false))
        }
    }
}

async fn effects(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM effects").fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn a_repeat_replays_the_first_outcome() {
    let (store, pool) = store(Config::default()).await;
    let first = run(&store, &request("alice", "{}"), Duration::ZERO).await.unwrap();
    let again = run(&store, &request("alice", "{}"), Duration::ZERO).await.unwrap();
    assert!(!first.1 && again.1, "the second was replayed");
    assert_eq!(first.0, again.0);
    assert_eq!(effects(&pool).await, 1);
    // Without a key every request runs.
    let Begun::Write(write) = store.begin(None).await.unwrap() else { panic!("no key, no replay") };
    assert!(!write.is_keyed());
}

#[tokio::test]
async fn twenty_concurrent_repeats_run_the_write_once() {
    let (store, pool) = store(Config::default()).await;
    // Two replicas of a service: repeats wait in their process, or on the
    // row lock for an attempt in the other.
    let replica = Idempotency::new(pool.clone(), Config::default());
    let request = request("alice", "{}");
    let on = |i: usize| if i.is_multiple_of(2) { &store } else { &replica };
    let runs = futures_util::future::join_all((0..20).map(|i| run(on(i), &request, Duration::from_millis(300)))).await;
    let outcomes: Vec<(Outcome, bool)> = runs.into_iter().map(|r| r.expect("waited, not refused")).collect();
    assert_eq!(outcomes.iter().filter(|(_, replayed)| !replayed).count(), 1, "one execution");
    assert!(outcomes.iter().all(|(o, _)| *o == outcomes[0].0), "every repeat got the first outcome");
    assert_eq!(effects(&pool).await, 1);
}

#[tokio::test]
async fn the_same_key_with_another_request_is_refused() {
    let (store, pool) = store(Config::default()).await;
    run(&store, &request("alice", "{}"), Duration::ZERO).await.unwrap();
    let other = run(&store, &request("alice", r#"{"a":1}"#), Duration::ZERO).await;
    assert!(matches!(other, Err(Refused::Mismatch)), "{other:?}");
    assert_eq!(effects(&pool).await, 1);
}

#[tokio::test]
async fn another_scope_with_the_same_key_runs_on_its_own() {
    let (store, pool) = store(Config::default()).await;
    let (alice, _) = run(&store, &request("alice", "{}"), Duration::ZERO).await.unwrap();
    let (bob, replayed) = run(&store, &request("bob", "{}"), Duration::ZERO).await.unwrap();
    assert!(!replayed);
    assert_ne!(alice, bob, "bob got his own execution, not alice's answer");
    assert_eq!(effects(&pool).await, 2);
}

#[tokio::test]
async fn a_repeat_that_waits_too_long_is_told_the_first_is_in_progress() {
    let config = Config { max_wait: Duration::from_millis(100), ..Config::default() };
    let (store, pool) = store(config).await;
    let first = request("alice", "{}");
    // In the same process (waiting for its turn) and in another (on the row lock).
    let replica = Idempotency::new(pool.clone(), Config { max_wait: Duration::from_millis(100), ..Config::default() });
    let first = &first;
    let later = |store| async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        run(store, first, Duration::ZERO).await
    };
    let (slow, busy, elsewhere) =
        tokio::join!(run(&store, first, Duration::from_millis(1500)), later(&store), later(&replica));
    assert!(matches!(busy, Err(Refused::InProgress)), "{busy:?}");
    assert!(matches!(elsewhere, Err(Refused::InProgress)), "{elsewhere:?}");
    assert!(!slow.unwrap().1);
    // The request's own deadline bounds the wait too, when shorter.
    let second = Key::parse("another-key-0000000000").unwrap().request(&Scope::subject("a"), "POST", "/", b"");
    let patient = || Idempotency::new(pool.clone(), Config { max_wait: Duration::from_secs(60), ..Config::default() });
    let (long, long_replica) = (patient(), patient());
    let started = tokio::time::Instant::now();
    let (_, busy) = tokio::join!(run(&long, &second, Duration::from_millis(1500)), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(150);
        platform::deadline::scope(deadline, run(&long_replica, &second, Duration::ZERO)).await
    });
    assert!(matches!(busy, Err(Refused::InProgress)), "{busy:?}");
    println!("refused after {:?} (first attempt held 1.5 s)", started.elapsed());
    assert_eq!(effects(&pool).await, 2);
}

#[tokio::test]
async fn a_first_attempt_that_fails_frees_the_key() {
    let (store, pool) = store(Config::default()).await;
    let request = request("alice", "{}");
    let Begun::Write(mut write) = store.begin(Some(&request)).await.unwrap() else { panic!() };
    sqlx::query("INSERT INTO effects (what) VALUES ('lost')").execute(write.conn()).await.unwrap();
    drop(write); // an error: nothing committed
    let (_, replayed) = run(&store, &request, Duration::ZERO).await.unwrap();
    assert!(!replayed, "the retry ran");
    assert_eq!(effects(&pool).await, 1);
}

#[tokio::test]
async fn an_expired_key_runs_again_and_is_pruned() {
    let config = Config { retention: Duration::from_secs(1), ..Config::default() };
    let (store, pool) = store(config).await;
    run(&store, &request("alice", "{}"), Duration::ZERO).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Expired: free even for another request.
    let (_, replayed) = run(&store, &request("alice", r#"{"new":true}"#), Duration::ZERO).await.unwrap();
    assert!(!replayed);
    assert_eq!(effects(&pool).await, 2);
    run(
        &store,
        &Key::parse("a-key-that-expires-00").unwrap().request(&Scope::subject("b"), "POST", "/", b""),
        Duration::ZERO,
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let pruned = Idempotency::prune().run(&pool).await.unwrap();
    assert_eq!(pruned, 2);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys").fetch_one(&pool).await.unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn neither_key_scope_nor_body_is_stored() {
    let (store, pool) = store(Config::default()).await;
    let body = r#"{"password":"correct horse battery staple"}"#;
    run(&store, &request("alice@example.com", body), Duration::ZERO).await.unwrap();
    let row: String =
        sqlx::query_scalar("SELECT row_to_json(k)::text FROM idempotency_keys k").fetch_one(&pool).await.unwrap();
    for secret in [KEY, "alice@example.com", "correct horse", "password"] {
        assert!(!row.contains(secret), "{secret} is stored: {row}");
    }
    // Nor hex-encoded (bytea's text form).
    let hex: String = KEY.bytes().map(|b| format!("{b:02x}")).collect();
    assert!(!row.contains(&hex[..16]));
}

#[tokio::test]
async fn a_database_migrated_before_gets_the_table_with_its_service_migrations() {
    // A service whose own migrations ran before this crate's existed, one of
    // them with a later version than this crate's.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("20991231000000_later.sql"), "CREATE TABLE later (id int);").unwrap();
    let service = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    let db = testkit::database().await;
    platform::db::connect(&db, &service).await.unwrap();
    let combined = platform::db::merge(&[&service, &idempotency::MIGRATOR]);
    let versions: Vec<i64> = combined.migrations.iter().map(|m| m.version).collect();
    assert!(versions.is_sorted() && versions.len() == 2, "{versions:?}");
    let pool = platform::db::connect(&db, &combined).await.expect("the older migration applies after the newer");
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('later', 'idempotency_keys')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(tables, 2);
}
