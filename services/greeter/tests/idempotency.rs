//! `Greet` with an `idempotency-key`, over gRPC and Connect, against real
//! PostgreSQL and auth: a repeat replays the first greeting, concurrent
//! repeats greet (and call caller) once, another request or another user's
//! key never gets someone else's answer, an expired key greets again, and
//! an outcome committed before a crash is what the retry gets.

mod support;

use std::{io::Write as _, process::Stdio, time::Duration};

use platform_proto::greeter::v1::{GreetRequest, GreetResponse};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use support::fake_caller::{FakeCaller, Reply};
use tonic::Code;

const KEY: &str = "5d0f3a9e-8d3c-4f3e-9d35-2c4c7c0a1b11";
const GREET: &str = "/greeter.v1.GreeterService/Greet";

struct Greeter {
    base: String,
    db: platform::db::DbConfig,
    auth: support::Fixture,
    caller: FakeCaller,
}

async fn greeter(idempotency: idempotency::Config) -> Greeter {
    let auth = support::auth().await;
    let caller = FakeCaller::start(Reply::Status(200)).await;
    let mut config = support::greeter_config(&auth, caller.addr, Duration::from_secs(3)).await;
    config.idempotency = idempotency;
    let db = config.common.database.clone();
    let server = greeter::build(config).await.unwrap();
    let base = format!("http://{}", server.local_addr());
    tokio::spawn(server.run_until(std::future::pending()));
    Greeter { base, db, auth, caller }
}

async fn greetings(db: &platform::db::DbConfig) -> i64 {
    let mut conn = PgConnection::connect_with(&db.url.options).await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM greetings").fetch_one(&mut conn).await.unwrap()
}

/// gRPC `Greet` with `key` (if any); the answer and whether it was replayed.
async fn grpc(base: &str, token: &str, key: Option<&str>, name: &str) -> Result<(GreetResponse, bool), tonic::Status> {
    let mut client = support::client(base, token).await;
    let mut request = tonic::Request::new(GreetRequest { name: name.into(), url: "https://example.com/".into() });
    if let Some(key) = key {
        request.metadata_mut().insert("idempotency-key", key.parse().unwrap());
    }
    let response = client.greet(request).await?;
    let replayed = response.metadata().get("idempotent-replayed").is_some_and(|v| v == "true");
    Ok((response.into_inner(), replayed))
}

/// Connect JSON `Greet` with `key`; status, body and whether it was replayed.
async fn connect(base: &str, token: &str, key: &str, name: &str) -> (StatusCode, Value, bool) {
    let response = support::http(token)
        .post(format!("{base}{GREET}"))
        .header("connect-protocol-version", "1")
        .header("idempotency-key", key)
        .json(&json!({ "name": name, "url": "https://example.com/" }))
        .send()
        .await
        .unwrap();
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    (response.status(), response.json().await.unwrap(), replayed)
}

#[tokio::test]
async fn a_repeat_replays_the_first_greeting_over_grpc_and_connect() {
    let g = greeter(Default::default()).await;
    let (_, token) = g.auth.user("ada@example.com").await;
    let (first, replayed) = grpc(&g.base, &token, Some(KEY), "Ada").await.unwrap();
    assert!(!replayed);
    let (again, replayed) = grpc(&g.base, &token, Some(KEY), "Ada").await.unwrap();
    assert!(replayed, "marked idempotent-replayed");
    assert_eq!(again, first, "the first greeting, id and time included");
    // The same request over Connect JSON is the same request: its protobuf
    // message is what is fingerprinted, not the wire encoding.
    let (status, body, replayed) = connect(&g.base, &token, KEY, "Ada").await;
    assert_eq!(status, StatusCode::OK);
    assert!(replayed);
    assert_eq!(body["greetingId"], first.greeting_id.to_string());
    assert_eq!((greetings(&g.db).await, g.caller.hits()), (1, 1), "one greeting, one call to caller");
    // Without a key every Greet greets.
    grpc(&g.base, &token, None, "Ada").await.unwrap();
    grpc(&g.base, &token, None, "Ada").await.unwrap();
    assert_eq!(greetings(&g.db).await, 3);
}

#[tokio::test]
async fn twenty_concurrent_repeats_greet_once() {
    let g = greeter(Default::default()).await;
    let (_, token) = g.auth.user("ada@example.com").await;
    // caller holds its answer until all twenty are in: they overlap for sure.
    g.caller.otherwise(Reply::Hold);
    let runs = tokio::spawn({
        let (base, token) = (g.base.clone(), token.clone());
        async move {
            let calls = (0..20).map(|i| {
                let (base, token) = (base.clone(), token.clone());
                async move {
                    if i % 2 == 0 {
                        grpc(&base, &token, Some(KEY), "Ada").await.map(|(r, replayed)| (r.greeting_id, replayed))
                    } else {
                        let (status, body, replayed) = connect(&base, &token, KEY, "Ada").await;
                        assert_eq!(status, StatusCode::OK, "{body}");
                        Ok((body["greetingId"].as_str().unwrap().parse::<i64>().unwrap(), replayed))
                    }
                }
            });
            futures_util::future::join_all(calls).await
        }
    });
    g.caller.until_in_flight(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    g.caller.release();
    let outcomes: Vec<(i64, bool)> =
        runs.await.unwrap().into_iter().map(|r| r.expect("waited, then replayed")).collect();
    assert_eq!(outcomes.iter().filter(|(_, replayed)| !replayed).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|(id, _)| *id == outcomes[0].0), "every one got the first greeting");
    assert_eq!(greetings(&g.db).await, 1, "exactly one greeting stored");
    assert_eq!(g.caller.hits(), 1, "caller asked once");
}

#[tokio::test]
async fn another_request_with_the_same_key_is_refused() {
    let g = greeter(Default::default()).await;
    let (_, token) = g.auth.user("ada@example.com").await;
    grpc(&g.base, &token, Some(KEY), "Ada").await.unwrap();
    let refused = grpc(&g.base, &token, Some(KEY), "Grace").await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("different request"), "{}", refused.message());
    let (status, body, _) = connect(&g.base, &token, KEY, "Grace").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_argument")));
    // A malformed key is refused before anything runs.
    let short = grpc(&g.base, &token, Some("short"), "Ada").await.unwrap_err();
    assert_eq!(short.code(), Code::InvalidArgument);
    assert!(short.message().contains("16 to 255"), "{}", short.message());
    assert_eq!(greetings(&g.db).await, 1);
}

#[tokio::test]
async fn another_users_key_is_their_own() {
    let g = greeter(Default::default()).await;
    let (_, ada) = g.auth.user("ada@example.com").await;
    let (_, eve) = g.auth.user("eve@example.com").await;
    let (adas, _) = grpc(&g.base, &ada, Some(KEY), "Ada").await.unwrap();
    // Eve sends Ada's key with Ada's request: her own greeting, not Ada's.
    let (eves, replayed) = grpc(&g.base, &eve, Some(KEY), "Ada").await.unwrap();
    assert!(!replayed);
    assert_ne!(eves.greeting_id, adas.greeting_id);
    assert_eq!(greetings(&g.db).await, 2);
}

#[tokio::test]
async fn an_expired_key_greets_again() {
    let g = greeter(idempotency::Config { retention: Duration::from_secs(1), ..Default::default() }).await;
    let (_, token) = g.auth.user("ada@example.com").await;
    let (first, _) = grpc(&g.base, &token, Some(KEY), "Ada").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (second, replayed) = grpc(&g.base, &token, Some(KEY), "Ada").await.unwrap();
    assert!(!replayed, "expired: a new execution");
    assert_ne!(second.greeting_id, first.greeting_id);
    assert_eq!(greetings(&g.db).await, 2);
}

/// The Connect request, by hand: the test writes it and never reads the answer.
fn raw_greet(base: &str, token: &str) -> std::net::TcpStream {
    let addr = base.trim_start_matches("http://");
    let body = json!({ "name": "Ada", "url": "https://example.com/" }).to_string();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {GREET} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nconnect-protocol-version: 1\r\n\
         authorization: Bearer {token}\r\nidempotency-key: {KEY}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream
}

#[tokio::test]
async fn an_outcome_committed_before_a_crash_is_what_the_retry_gets() {
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let db = testkit::database().await;
    let caller = format!("http://{}", support::dead_port());
    let env = [("CALLER_URL", caller.as_str())];
    let first = support::spawn_binary_on(&auth, &db, &env, Stdio::null()).await;
    // The greeting commits; its answer is never read, and greeter is killed.
    let unread = raw_greet(&first.base, &token);
    for _ in 0..400 {
        if greetings(&db).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(greetings(&db).await, 1, "the first attempt committed");
    let mut child = first.into_child();
    child.kill().unwrap(); // SIGKILL: no drain, no goodbye
    child.wait().unwrap();
    drop(unread);

    let second = support::spawn_binary_on(&auth, &db, &env, Stdio::null()).await;
    let (status, body, replayed) = connect(&second.base, &token, KEY, "Ada").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(replayed, "the committed outcome, from greeter_db, after a restart");
    let stored: i64 = {
        let mut conn = PgConnection::connect_with(&db.url.options).await.unwrap();
        sqlx::query_scalar("SELECT id FROM greetings").fetch_one(&mut conn).await.unwrap()
    };
    assert_eq!(body["greetingId"], stored.to_string());
    assert_eq!(greetings(&db).await, 1, "and no second greeting");
}
