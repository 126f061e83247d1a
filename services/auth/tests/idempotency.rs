//! `Idempotency-Key` on sign-up, password change and role changes, against
//! real PostgreSQL: repeats replay (a sign-up with a fresh token pair, never
//! a stored one), concurrent repeats run once, another request or another
//! caller's key never gets someone else's answer, and expired keys run again.

mod support;

use std::time::Duration;

use auth::testing::Fixture;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use support::{Auth, PASSWORD};

const KEY: &str = "2b1e4c8a-3f5d-4e6a-9b7c-0d1e2f3a4b5c";

async fn auth() -> Auth {
    // Sign-ups come through a trusted proxy, so each test client can have its own address.
    support::spawn_with(|c| c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await
}

async fn db(auth: &Auth) -> PgConnection {
    PgConnection::connect_with(&auth.db.url.options).await.unwrap()
}

async fn count(auth: &Auth, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&mut db(auth).await).await.unwrap()
}

fn replayed(res: &Response) -> bool {
    res.headers().get("idempotent-replayed").is_some_and(|v| v == "true")
}

async fn signup(auth: &Auth, from: &str, key: &str, email: &str) -> Response {
    auth.http
        .post(auth.url("/auth/signup"))
        .header("x-forwarded-for", from)
        .header("idempotency-key", key)
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_repeated_signup_is_the_same_account_with_fresh_tokens() {
    let auth = auth().await;
    let first = signup(&auth, "198.51.100.7", KEY, "ada@example.com").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(!replayed(&first));
    let first: Value = first.json().await.unwrap();
    let again = signup(&auth, "198.51.100.7", KEY, "ada@example.com").await;
    assert_eq!(again.status(), StatusCode::CREATED, "not 409 for the account it just made");
    assert!(replayed(&again));
    assert_eq!(again.headers()["cache-control"], "no-store");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["user"], first["user"]);
    assert_ne!(again["tokens"]["refresh_token"], first["tokens"]["refresh_token"], "a fresh pair");
    // The fresh pair works.
    assert_eq!(auth.get("/auth/me", again["tokens"]["access_token"].as_str()).await.status(), StatusCode::OK);
    assert_eq!(count(&auth, "SELECT count(*) FROM users").await, 1);
    // What was stored: the status and the user id, no token, no password.
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT body FROM idempotency_keys").fetch_one(&mut db(&auth).await).await.unwrap();
    assert_eq!(stored, first["user"]["id"].as_str().unwrap().as_bytes());
    let row: String = sqlx::query_scalar("SELECT row_to_json(k)::text FROM idempotency_keys k")
        .fetch_one(&mut db(&auth).await)
        .await
        .unwrap();
    assert!(!row.contains("correct horse") && !row.contains("ada@") && !row.contains(KEY), "{row}");
    // Without a key, the same sign-up is the usual 409.
    let res = auth.post("/auth/signup", json!({ "email": "ada@example.com", "password": PASSWORD })).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn twenty_concurrent_signups_with_one_key_make_one_account() {
    let auth = auth().await;
    let runs = (0..20).map(|_| signup(&auth, "198.51.100.8", KEY, "grace@example.com"));
    let responses = futures_util::future::join_all(runs).await;
    let mut fresh = 0;
    let mut ids = Vec::new();
    for res in responses {
        assert_eq!(res.status(), StatusCode::CREATED);
        fresh += usize::from(!replayed(&res));
        let body: Value = res.json().await.unwrap();
        ids.push(body["user"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(fresh, 1, "one execution");
    assert!(ids.iter().all(|id| *id == ids[0]));
    assert_eq!(count(&auth, "SELECT count(*) FROM users").await, 1);
    // Each answer started its own session: 20 families.
    assert_eq!(count(&auth, "SELECT count(*) FROM session_families").await, 20);
}

#[tokio::test]
async fn another_request_or_another_address_with_the_key() {
    let auth = auth().await;
    assert_eq!(signup(&auth, "198.51.100.9", KEY, "ada@example.com").await.status(), StatusCode::CREATED);
    // Another body with the same key: 422, and nothing created.
    let res = signup(&auth, "198.51.100.9", KEY, "bob@example.com").await;
    let (code, message) = support::error(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(code, "idempotency_key_reused");
    assert!(message.contains("new key"), "{message}");
    // Another client (address) reusing the key: its own execution, here the usual 409.
    let res = signup(&auth, "203.0.113.5", KEY, "ada@example.com").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(!replayed(&res));
    let res = signup(&auth, "203.0.113.5", KEY, "eve@example.com").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(!replayed(&res));
    assert_eq!(count(&auth, "SELECT count(*) FROM users").await, 2);
    // A malformed key: 400, before anything runs.
    let res = signup(&auth, "198.51.100.9", "tiny", "zed@example.com").await;
    let (code, _) = support::error(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(code, "invalid_idempotency_key");
}

#[tokio::test]
async fn an_expired_signup_key_runs_again() {
    let auth = support::spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        c.idempotency.retention = Duration::from_secs(1);
    })
    .await;
    assert_eq!(signup(&auth, "198.51.100.10", KEY, "ada@example.com").await.status(), StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = signup(&auth, "198.51.100.10", KEY, "ada@example.com").await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "expired: run again, and the email is taken");
    assert!(!replayed(&res));
}

async fn change_password(auth: &Auth, token: &str, key: &str, new: &str) -> Response {
    auth.http
        .post(auth.url("/auth/password"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&json!({ "current_password": PASSWORD, "new_password": new }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_repeated_password_change_changes_it_once() {
    let auth = auth().await;
    let body = auth.signup("ada@example.com", PASSWORD).await;
    let token = body["tokens"]["access_token"].as_str().unwrap().to_owned();
    let new = "a brand new passphrase";
    let responses = futures_util::future::join_all((0..20).map(|_| change_password(&auth, &token, KEY, new))).await;
    assert!(responses.iter().all(|r| r.status() == StatusCode::NO_CONTENT));
    assert_eq!(responses.iter().filter(|r| !replayed(r)).count(), 1, "one execution");
    let changed = "SELECT count(*) FROM audit_log WHERE action = 'password.changed'";
    assert_eq!(count(&auth, changed).await, 1, "one audit record: one execution");
    // A sequential repeat: 204 again, though the current password in it is now wrong.
    let again = change_password(&auth, &token, KEY, new).await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    assert!(replayed(&again));
    assert_eq!(auth.login("ada@example.com", new).await.status(), StatusCode::OK);
    assert_eq!(auth.login("ada@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    // Another new password with the same key: 422, and the password stays.
    let res = change_password(&auth, &token, KEY, "yet another passphrase").await;
    support::error(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(count(&auth, changed).await, 1);
    assert_eq!(auth.login("ada@example.com", new).await.status(), StatusCode::OK);
    // Another user's same key and body: their own execution (here 403: not their password).
    let eve = auth.signup("eve@example.com", "a quite different phrase").await;
    let res = change_password(&auth, eve["tokens"]["access_token"].as_str().unwrap(), KEY, new).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(!replayed(&res));
}

async fn grant(auth: &Fixture, admin: &str, user_id: &str, key: &str) -> Response {
    reqwest::Client::new()
        .put(auth.url(&format!("/auth/admin/users/{user_id}/roles/admin")))
        .bearer_auth(admin)
        .header("idempotency-key", key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_repeated_role_grant_is_applied_and_audited_once() {
    let auth = Fixture::start().await;
    let (_, admin) = auth.admin("root@example.com").await;
    let (_, admin2) = auth.admin("second@example.com").await;
    let (ada_id, _) = auth.user("ada@example.com").await;
    let responses = futures_util::future::join_all((0..20).map(|_| grant(&auth, &admin, &ada_id, KEY))).await;
    assert!(responses.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(responses.iter().filter(|r| !replayed(r)).count(), 1);
    let mut db = PgConnection::connect_with(&auth.config.common.database.url.options).await.unwrap();
    assert_eq!(grants(&mut db, &ada_id).await, 1, "one audit record: one execution");
    // Revoking with the same key is another request (another method): 422.
    let res = reqwest::Client::new()
        .delete(auth.url(&format!("/auth/admin/users/{ada_id}/roles/admin")))
        .bearer_auth(&admin)
        .header("idempotency-key", KEY)
        .send()
        .await
        .unwrap();
    support::error(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    // Another admin with the same key: their own execution (audited again).
    let res = grant(&auth, &admin2, &ada_id, KEY).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!replayed(&res));
    assert_eq!(grants(&mut db, &ada_id).await, 2);
}

/// Audit records of admin grants to `user_id`.
async fn grants(db: &mut PgConnection, user_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'role.granted' AND target = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
        .unwrap()
}
