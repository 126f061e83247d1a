//! `Idempotency-Key` on lang's writes (translations and preferences),
//! against real PostgreSQL and auth: repeats replay, twenty concurrent
//! repeats write (and audit) once, another body or another user's key never
//! gets someone else's answer, and an expired key writes again.

use std::time::Duration;

mod support;

use auth::testing::Fixture;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

const KEY: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

struct Lang {
    base: String,
    db: platform::db::DbConfig,
    auth: Fixture,
}

async fn spawn(idempotency: idempotency::Config) -> Lang {
    let support::Served { base, db, auth } = support::spawn_with(|c| c.idempotency = idempotency).await;
    Lang { base, db, auth }
}

impl Lang {
    async fn send(&self, method: Method, path: &str, token: &str, key: &str, body: Option<Value>) -> Response {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("idempotency-key", key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn count(&self, sql: &str) -> i64 {
        let mut conn = PgConnection::connect_with(&self.db.url.options).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }
}

fn replayed(res: &Response) -> bool {
    res.headers().get("idempotent-replayed").is_some_and(|v| v == "true")
}

const FR: &str = "/lang/v1/translations/fr/greeting";
const PREFERENCE: &str = "/lang/v1/preferences/me";
const AUDITED_PUTS: &str = "SELECT count(*) FROM audit_log WHERE action = 'translation.put'";

#[tokio::test]
async fn twenty_concurrent_translation_writes_with_one_key_write_once() {
    let lang = spawn(Default::default()).await;
    let (_, admin) = lang.auth.admin("root@example.com").await;
    let body = json!({ "template": "Salut, {name} !" });
    let runs = (0..20).map(|_| lang.send(Method::PUT, FR, &admin, KEY, Some(body.clone())));
    let responses = futures_util::future::join_all(runs).await;
    let statuses: Vec<StatusCode> = responses.iter().map(Response::status).collect();
    assert!(statuses.iter().all(|s| *s == statuses[0]), "every repeat got the first status: {statuses:?}");
    assert_eq!(responses.iter().filter(|r| !replayed(r)).count(), 1, "one execution");
    let bodies: Vec<Value> = futures_util::future::join_all(responses.into_iter().map(|r| r.json::<Value>()))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(bodies.iter().all(|b| *b == bodies[0]), "the first answer, updated_at included");
    assert_eq!(lang.count(AUDITED_PUTS).await, 1, "one audit record: one execution");
    // A sequential repeat too; another template with the key is 422.
    let again = lang.send(Method::PUT, FR, &admin, KEY, Some(body)).await;
    assert!(replayed(&again));
    let other = lang.send(Method::PUT, FR, &admin, KEY, Some(json!({ "template": "Bonjour, {name} !" }))).await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = other.json().await.unwrap();
    assert_eq!(error["error"]["code"], "idempotency_key_reused");
    assert_eq!(lang.count(AUDITED_PUTS).await, 1);
    // Deleting with the key is another request too.
    assert_eq!(lang.send(Method::DELETE, FR, &admin, KEY, None).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_repeated_delete_replays_204_rather_than_404() {
    let lang = spawn(Default::default()).await;
    let (_, admin) = lang.auth.admin("root@example.com").await;
    let put =
        lang.send(Method::PUT, FR, &admin, "put-key-0000000000000", Some(json!({ "template": "Salut, {name} !" })));
    assert!(put.await.status().is_success());
    let first = lang.send(Method::DELETE, FR, &admin, KEY, None).await;
    assert_eq!(first.status(), StatusCode::NO_CONTENT);
    let again = lang.send(Method::DELETE, FR, &admin, KEY, None).await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    assert!(replayed(&again));
    // Without a key the repeat finds nothing.
    let res = reqwest::Client::new().delete(format!("{}{FR}", lang.base)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(lang.count("SELECT count(*) FROM audit_log WHERE action = 'translation.deleted'").await, 1);
}

#[tokio::test]
async fn preferences_are_per_user_and_repeats_replay() {
    let lang = spawn(Default::default()).await;
    let (ada_id, ada) = lang.auth.user("ada@example.com").await;
    let (eve_id, eve) = lang.auth.user("eve@example.com").await;
    let runs = (0..20).map(|_| lang.send(Method::PUT, PREFERENCE, &ada, KEY, Some(json!({ "language": "fr" }))));
    let responses = futures_util::future::join_all(runs).await;
    assert!(responses.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(responses.iter().filter(|r| !replayed(r)).count(), 1, "one execution");
    let first: Value = responses.into_iter().next().unwrap().json().await.unwrap();
    assert_eq!(first["user_id"], ada_id);
    // A second execution would have moved updated_at: the stored row is the first's.
    let mut conn = PgConnection::connect_with(&lang.db.url.options).await.unwrap();
    let stored: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT updated_at FROM preferences WHERE user_id = $1")
            .bind(&ada_id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let answered: chrono::DateTime<chrono::Utc> = first["updated_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(stored, answered, "written once");
    // Eve with Ada's key and body: her own preference, not Ada's answer.
    let res = lang.send(Method::PUT, PREFERENCE, &eve, KEY, Some(json!({ "language": "fr" }))).await;
    assert!(!replayed(&res));
    let hers: Value = res.json().await.unwrap();
    assert_eq!(hers["user_id"], eve_id);
    assert_eq!(lang.count("SELECT count(*) FROM preferences").await, 2);
    // An unknown language fails and stores no outcome: its retry runs again.
    let bad = lang.send(Method::PUT, PREFERENCE, &ada, "bad-key-000000000000", Some(json!({ "language": "xx" }))).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let retry =
        lang.send(Method::PUT, PREFERENCE, &ada, "bad-key-000000000000", Some(json!({ "language": "xx" }))).await;
    assert_eq!(retry.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!replayed(&retry));
}

#[tokio::test]
async fn an_expired_key_writes_again() {
    let lang = spawn(idempotency::Config { retention: Duration::from_secs(1), ..Default::default() }).await;
    let (_, admin) = lang.auth.admin("root@example.com").await;
    let body = json!({ "template": "Salut, {name} !" });
    // fr's greeting is seeded, so each write replaces it (200).
    assert_eq!(lang.send(Method::PUT, FR, &admin, KEY, Some(body.clone())).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = lang.send(Method::PUT, FR, &admin, KEY, Some(body)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!replayed(&res));
    assert_eq!(lang.count(AUDITED_PUTS).await, 2);
}
