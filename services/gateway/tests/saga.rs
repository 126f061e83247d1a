//! Deleting an account, auth's saga, with every participant real: auth,
//! greeter, lang and gateway in-process on their own databases, one
//! nats-server between them. The data is made through each service's own
//! code (greeter's store, lang's REST API, gateway's projection fed by
//! events), and its removal is checked in each database, next to another
//! user's data that must stay.

mod support;

use std::time::Duration;

use auth::testing::Fixture;
use platform::db::DbConfig;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use support::{
    Gateway,
    stack::{RETRY, Running, auth, gateway, greeter, lang},
};
use testkit::nats::Nats;

/// One user's data at each participant: greetings (through greeter's own
/// store, which also announces them), a language preference (through
/// lang's API) and gateway's projection entry (from the events).
async fn make_data(
    auth: &Fixture,
    greeter: &Running,
    lang: &Running,
    gateway: &Gateway,
    email: &str,
) -> (String, String) {
    let (id, token) = auth.user(email).await;
    let mut db = greeter.db().await;
    for name in ["Ada", "Grace", "Edsger"] {
        let greeting = format!("Hello, {name}!");
        let new = greeter::store::NewGreeting {
            owner: &id,
            name,
            greeting: &greeting,
            url: "https://example.com/",
            external_status: Some(200),
            external_error: None,
        };
        greeter::store::insert(&mut db, &new).await.unwrap();
    }
    let http = reqwest::Client::new();
    let res = http
        .put(format!("http://{}/lang/v1/preferences/me", lang.addr))
        .bearer_auth(&token)
        .json(&json!({ "language": "fr" }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    support::eventually(|| async {
        let mut db = gateway.db().await;
        let greetings: Option<i64> =
            sqlx::query_scalar("SELECT greetings FROM user_activity WHERE user_id = $1 AND registered_at IS NOT NULL")
                .bind(&id)
                .fetch_optional(&mut db)
                .await
                .unwrap();
        (greetings == Some(3)).then_some(())
    })
    .await;
    (id, token)
}

/// What each participant still holds of `id`: greetings, preferences, projection rows.
async fn held(greeter: &Running, lang_db: &DbConfig, gateway: &Gateway, id: &str) -> (i64, i64, i64) {
    let mut g = greeter.db().await;
    let greetings: i64 =
        sqlx::query_scalar("SELECT count(*) FROM greetings WHERE owner = $1").bind(id).fetch_one(&mut g).await.unwrap();
    let mut l = PgConnection::connect_with(&lang_db.url.options).await.unwrap();
    let preferences: i64 = sqlx::query_scalar("SELECT count(*) FROM preferences WHERE user_id = $1")
        .bind(id)
        .fetch_one(&mut l)
        .await
        .unwrap_or(-1);
    let mut gw = gateway.db().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM user_activity WHERE user_id = $1")
        .bind(id)
        .fetch_one(&mut gw)
        .await
        .unwrap();
    (greetings, preferences, rows)
}

async fn get(auth: &Fixture, path: &str, token: &str) -> (u16, Value) {
    let res = reqwest::Client::new().get(auth.url(path)).bearer_auth(token).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

async fn send(auth: &Fixture, method: reqwest::Method, path: &str, token: &str) -> (u16, Value) {
    let res = reqwest::Client::new().request(method, auth.url(path)).bearer_auth(token).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// The deletion of `user`'s account, read by an admin (the user's own
/// token stops working when the account goes), once `done` says it is
/// where the test wants it.
async fn deletion_when(auth: &Fixture, admin: &str, user: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(auth, &format!("/auth/admin/users/{user}/deletion"), admin).await;
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "the deletion did not get there within 60 s: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn step<'a>(deletion: &'a Value, participant: &str) -> &'a Value {
    deletion["participants"].as_array().unwrap().iter().find(|s| s["participant"] == participant).unwrap()
}

async fn login(auth: &Fixture, email: &str) -> u16 {
    let body = json!({ "email": email, "password": auth::testing::PASSWORD });
    reqwest::Client::new().post(auth.url("/auth/login")).json(&body).send().await.unwrap().status().as_u16()
}

async fn account_exists(auth: &Fixture, id: &str) -> bool {
    let mut db = PgConnection::connect_with(&auth.config.common.database.url.options).await.unwrap();
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1::uuid)")
        .bind(id)
        .fetch_one(&mut db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_deletion_removes_the_users_data_everywhere_then_the_account() {
    let nats = Nats::start();
    let auth = auth(&nats).await;
    let (greeter, lang) = (greeter(&auth, &nats).await, lang(&auth, &nats, None).await);
    let gateway = gateway(&auth, lang.addr, &nats).await;
    let (_, admin) = auth.admin("root@example.com").await;
    let (ada, token) = make_data(&auth, &greeter, &lang, &gateway, "ada@example.com").await;
    let (bob, bob_token) = make_data(&auth, &greeter, &lang, &gateway, "bob@example.com").await;
    assert_eq!(held(&greeter, &lang.db, &gateway, &ada).await, (3, 1, 1));

    let started = std::time::Instant::now();
    let (status, body) = send(&auth, reqwest::Method::DELETE, "/auth/me", &token).await;
    assert_eq!(status, 202, "{body}");
    assert!(["requested", "in_progress", "completed"].contains(&body["state"].as_str().unwrap()), "{body}");
    assert_eq!(login(&auth, "ada@example.com").await, 401, "no logging in once the deletion has started");
    // The user follows it with the token they have, until the account goes.
    let (status, own) = get(&auth, "/auth/me/deletion", &token).await;
    assert!(status == 200 || (status == 401 && own["error"]["message"].as_str().unwrap().contains("deleted")), "{own}");

    let done = deletion_when(&auth, &admin, &ada, |d| d["state"] == "completed").await;
    eprintln!("the deletion completed {:?} after it was asked for", started.elapsed());
    assert_eq!(step(&done, "greeter")["removed"], 3, "{done}");
    assert_eq!(step(&done, "lang")["removed"], 1, "{done}");
    assert_eq!(step(&done, "gateway")["removed"], 1, "{done}");
    assert_eq!(held(&greeter, &lang.db, &gateway, &ada).await, (0, 0, 0), "nothing of ada's is left");
    assert!(!account_exists(&auth, &ada).await, "the account is gone");
    assert_eq!(held(&greeter, &lang.db, &gateway, &bob).await, (3, 1, 1), "bob's data is untouched");
    assert!(account_exists(&auth, &bob).await);

    // ada's access token, minutes from expiry, stops working everywhere.
    let took = support::stack::refused_everywhere(&auth, &lang, &greeter, &gateway, &token).await;
    eprintln!(
        "the deleted account's access token was refused by auth, lang, greeter and gateway {took:?} after completion"
    );
    let bob_admitted = support::stack::admitted(&auth, &lang, &greeter, &gateway, &bob_token).await;
    assert_eq!(bob_admitted, [true; 4], "bob's token still works everywhere");
    let (status, body) = get(&auth, "/auth/me", &token).await;
    assert_eq!(status, 401);
    assert!(body["error"]["message"].as_str().unwrap().contains("deleted"), "{body}");

    // auth announces the deletion last, once the account is gone.
    let announced = events::inspect::wait_for(&nats.url(), "platform-auth", 1, Duration::from_secs(20)).await.unwrap();
    let deleted: Vec<_> = announced.iter().filter(|e| e.kind == events::subjects::USER_DELETED).collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].subject.as_deref(), Some(ada.as_str()));
}

#[tokio::test]
async fn a_participant_down_for_a_while_is_asked_again_and_the_deletion_completes() {
    let nats = Nats::start();
    let auth = auth(&nats).await;
    let (greeter, lang_first) = (greeter(&auth, &nats).await, lang(&auth, &nats, None).await);
    let gateway = gateway(&auth, lang_first.addr, &nats).await;
    let (_, admin) = auth.admin("root@example.com").await;
    let (ada, token) = make_data(&auth, &greeter, &lang_first, &gateway, "ada@example.com").await;
    let lang_db = lang_first.db.clone();
    lang_first.stop().await;

    let (status, body) = send(&auth, reqwest::Method::DELETE, "/auth/me", &token).await;
    assert_eq!(status, 202, "{body}");
    // The others answer; lang is silent, and auth keeps asking it.
    let waiting = deletion_when(&auth, &admin, &ada, |d| {
        d["state"] == "in_progress" && d["attempts"].as_i64().unwrap() >= 3 && step(d, "gateway")["state"] == "deleted"
    })
    .await;
    assert_eq!(step(&waiting, "greeter")["state"], "deleted", "{waiting}");
    assert_eq!(step(&waiting, "lang")["state"], "pending", "{waiting}");
    assert!(account_exists(&auth, &ada).await, "the account stays while a participant has not answered");

    let lang = lang(&auth, &nats, Some(lang_db)).await;
    let done = deletion_when(&auth, &admin, &ada, |d| d["state"] == "completed").await;
    eprintln!("completed after {} requests: {done}", done["attempts"]);
    assert_eq!(step(&done, "lang")["removed"], 1, "{done}");
    assert_eq!(held(&greeter, &lang.db, &gateway, &ada).await, (0, 0, 0));
    assert!(!account_exists(&auth, &ada).await);
}

#[tokio::test]
async fn a_participant_that_fails_stops_the_deletion_visibly_until_an_admin_retries() {
    let nats = Nats::start();
    let auth = auth(&nats).await;
    let (greeter, lang) = (greeter(&auth, &nats).await, lang(&auth, &nats, None).await);
    let gateway = gateway(&auth, lang.addr, &nats).await;
    let (_, admin) = auth.admin("root@example.com").await;
    let (ada, token) = make_data(&auth, &greeter, &lang, &gateway, "ada@example.com").await;
    // lang cannot delete anything: its table is not where it looks.
    let mut lang_db = PgConnection::connect_with(&lang.db.url.options).await.unwrap();
    sqlx::query("ALTER TABLE preferences RENAME TO preferences_moved").execute(&mut lang_db).await.unwrap();

    let (status, body) = send(&auth, reqwest::Method::DELETE, &format!("/auth/admin/users/{ada}"), &admin).await;
    assert_eq!(status, 202, "{body}");
    let failed = deletion_when(&auth, &admin, &ada, |d| d["state"] == "failed").await;
    assert_eq!(step(&failed, "greeter")["state"], "deleted", "{failed}");
    assert_eq!(step(&failed, "gateway")["state"], "deleted", "{failed}");
    let lang_step = step(&failed, "lang");
    assert_eq!(lang_step["state"], "failed", "{failed}");
    let reason = lang_step["reason"].as_str().unwrap();
    assert!(reason.contains("preferences"), "the reason says what failed: {reason}");
    assert!(account_exists(&auth, &ada).await, "never reported done with data left behind");
    assert_eq!(login(&auth, "ada@example.com").await, 401, "still no logging in");
    // Asking again as the user does not resume it; an admin's retry does.
    let (status, body) = send(&auth, reqwest::Method::DELETE, "/auth/me", &token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("deletion_failed")), "{body}");
    let (status, body) = get(&auth, &format!("/auth/admin/users/{ada}/deletion"), &admin).await;
    assert_eq!((status, &body["state"]), (200, &json!("failed")), "{body}");

    sqlx::query("ALTER TABLE preferences_moved RENAME TO preferences").execute(&mut lang_db).await.unwrap();
    let retry = format!("/auth/admin/users/{ada}/deletion/retry");
    let (status, body) = send(&auth, reqwest::Method::POST, &retry, &admin).await;
    assert_eq!(status, 202, "{body}");
    let done = deletion_when(&auth, &admin, &ada, |d| d["state"] == "completed").await;
    assert_eq!(step(&done, "lang")["removed"], 1, "{done}");
    assert_eq!(held(&greeter, &lang.db, &gateway, &ada).await, (0, 0, 0));
    assert!(!account_exists(&auth, &ada).await);
    let (status, body) = send(&auth, reqwest::Method::POST, &retry, &admin).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("deletion_not_failed")), "{body}");
}

#[tokio::test]
async fn the_only_admin_cannot_delete_their_account() {
    let nats = Nats::start();
    let auth = auth(&nats).await;
    let (_, admin) = auth.admin("root@example.com").await;
    let (status, body) = send(&auth, reqwest::Method::DELETE, "/auth/me", &admin).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("last_admin")), "{body}");
    let (status, _) = get(&auth, "/auth/me/deletion", &admin).await;
    assert_eq!(status, 404);
}

/// `gateway projection rebuild`, the real binary: from the streams, the
/// rebuilt projection equals the live one (a deleted user stays out, a role
/// change is in); a damaged live projection is reported, then repaired by
/// `--apply`; and the live consumers go on counting once.
#[tokio::test]
async fn the_projection_rebuilt_from_the_streams_equals_the_live_one() {
    let nats = Nats::start();
    let auth = auth(&nats).await;
    let (greeter, lang) = (greeter(&auth, &nats).await, lang(&auth, &nats, None).await);
    let gateway = gateway(&auth, lang.addr, &nats).await;
    let (ada, _) = make_data(&auth, &greeter, &lang, &gateway, "ada@example.com").await;
    let (bob, _) = make_data(&auth, &greeter, &lang, &gateway, "bob@example.com").await;
    let (_, admin) = auth.admin("bob@example.com").await;
    let (status, body) = send(&auth, reqwest::Method::DELETE, &format!("/auth/admin/users/{ada}"), &admin).await;
    assert_eq!(status, 202, "{body}");
    deletion_when(&auth, &admin, &ada, |d| d["state"] == "completed").await;
    let projected = |user: String| {
        let options = gateway.database.url.options.clone();
        async move {
            let mut db = PgConnection::connect_with(&options).await.unwrap();
            sqlx::query_as::<_, (i64, Vec<String>)>("SELECT greetings, roles FROM user_activity WHERE user_id = $1")
                .bind(user)
                .fetch_optional(&mut db)
                .await
                .unwrap()
        }
    };
    support::eventually(|| async { projected(bob.clone()).await.filter(|(_, roles)| roles == &["admin"]) }).await;
    assert_eq!(projected(ada.clone()).await, None);

    let o = &gateway.database.url.options;
    let database_url =
        format!("postgres://{}@{}:{}/{}", o.get_username(), o.get_host(), o.get_port(), o.get_database().unwrap());
    let rebuild = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
            .args(["projection", "rebuild"])
            .args(args)
            .env("DATABASE_URL", &database_url)
            .env("NATS_URL", nats.url())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success(), said + &String::from_utf8_lossy(&out.stderr))
    };
    let (equal, said) = rebuild(&[]);
    eprintln!("{said}");
    assert!(equal && said.contains("equals the live one") && said.contains("not applied"), "{said}");

    let mut db = gateway.db().await;
    sqlx::query("UPDATE user_activity SET greetings = 99 WHERE user_id = $1")
        .bind(&bob)
        .execute(&mut db)
        .await
        .unwrap();
    let (equal, said) = rebuild(&[]);
    assert!(!equal && said.contains(&format!("differences (first 20): {bob}")), "{said}");
    let (applied, said) = rebuild(&["--apply"]);
    assert!(applied && said.contains("applied"), "{said}");
    assert_eq!(projected(bob.clone()).await, Some((3, vec!["admin".to_owned()])), "repaired from the streams");

    // The live consumers go on: one more greeting counts once.
    let mut g = greeter.db().await;
    let new = greeter::store::NewGreeting {
        owner: &bob,
        name: "Barbara",
        greeting: "Hello, Barbara!",
        url: "https://example.com/",
        external_status: Some(200),
        external_error: None,
    };
    greeter::store::insert(&mut g, &new).await.unwrap();
    support::eventually(|| async { projected(bob.clone()).await.filter(|(n, _)| *n == 4) }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(projected(bob.clone()).await.map(|(n, _)| n), Some(4), "counted once");
    let (equal, said) = rebuild(&[]);
    assert!(equal, "{said}");
}

/// A participant silent for too long counts as failed ("no answer"); an
/// admin's retry gives it the full number of requests again, and the
/// deletion completes once it is back.
#[tokio::test]
async fn a_silent_participant_fails_the_deletion_and_a_retry_asks_it_afresh() {
    let nats = Nats::start();
    let auth = support::stack::auth_giving_up_after(&nats, 3).await;
    let (greeter, lang_first) = (greeter(&auth, &nats).await, lang(&auth, &nats, None).await);
    let gateway = gateway(&auth, lang_first.addr, &nats).await;
    let (_, admin) = auth.admin("root@example.com").await;
    let (ada, token) = make_data(&auth, &greeter, &lang_first, &gateway, "ada@example.com").await;
    let lang_db = lang_first.db.clone();
    lang_first.stop().await;

    let (status, body) = send(&auth, reqwest::Method::DELETE, "/auth/me", &token).await;
    assert_eq!(status, 202, "{body}");
    let failed = deletion_when(&auth, &admin, &ada, |d| d["state"] == "failed").await;
    let reason = step(&failed, "lang")["reason"].as_str().unwrap().to_owned();
    assert_eq!(reason, "no answer after 3 requests", "{failed}");
    assert_eq!(step(&failed, "greeter")["state"], "deleted", "{failed}");

    let retry = format!("/auth/admin/users/{ada}/deletion/retry");
    let (status, body) = send(&auth, reqwest::Method::POST, &retry, &admin).await;
    assert_eq!((status, &body["attempts"]), (202, &json!(1)), "{body}");
    // Past the next request's time, lang is still being asked, not failed again.
    tokio::time::sleep(RETRY * 3).await;
    let (_, now) = get(&auth, &format!("/auth/admin/users/{ada}/deletion"), &admin).await;
    assert_eq!(now["state"], "in_progress", "{now}");

    let lang = lang(&auth, &nats, Some(lang_db)).await;
    deletion_when(&auth, &admin, &ada, |d| d["state"] == "completed").await;
    assert_eq!(held(&greeter, &lang.db, &gateway, &ada).await, (0, 0, 0));
}
