//! Ended sessions end their access tokens everywhere at once, not at
//! expiry: after logging out everywhere, a password change or a logout,
//! every service (auth, lang, greeter, gateway: each verifies tokens itself)
//! refuses the tokens of the ended sessions within moments, and admits the
//! others. Real services and a real nats-server carry the news.

mod support;

use serde_json::{Value, json};
use support::stack::{admitted, auth, gateway, greeter, lang, refused_everywhere};
use testkit::nats::Nats;

async fn login(auth: &auth::testing::Fixture, email: &str) -> Value {
    let body = json!({ "email": email, "password": auth::testing::PASSWORD });
    let res = reqwest::Client::new().post(auth.url("/auth/login")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn post(auth: &auth::testing::Fixture, path: &str, token: &str, body: Value) -> u16 {
    let res = reqwest::Client::new().post(auth.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    res.status().as_u16()
}

#[tokio::test]
async fn ended_sessions_tokens_are_refused_by_every_service() {
    let nats = Nats::start();
    let auth = auth(&nats).await;
    let (greeter, lang) = (greeter(&auth, &nats).await, lang(&auth, &nats, None).await);
    let gateway = gateway(&auth, lang.addr, &nats).await;
    let (_, first) = auth.user("ada@example.com").await;
    let second = login(&auth, "ada@example.com").await["access_token"].as_str().unwrap().to_owned();
    let (_, bob) = auth.user("bob@example.com").await;
    for token in [&first, &second, &bob] {
        assert_eq!(admitted(&auth, &lang, &greeter, &gateway, token).await, [true; 4]);
    }

    // A password change ends every other session; the changing one stays.
    let change = json!({ "current_password": auth::testing::PASSWORD, "new_password": "a much longer passphrase 42" });
    assert_eq!(post(&auth, "/auth/password", &second, change).await, 204);
    let took = refused_everywhere(&auth, &lang, &greeter, &gateway, &first).await;
    eprintln!("after a password change, another session's token was refused everywhere within {took:?}");
    assert_eq!(admitted(&auth, &lang, &greeter, &gateway, &second).await, [true; 4], "the changing session stays");

    // Logging out everywhere ends that one too; a new login works at once.
    assert_eq!(post(&auth, "/auth/logout-all", &second, json!({})).await, 204);
    let took = refused_everywhere(&auth, &lang, &greeter, &gateway, &second).await;
    eprintln!("after logging out everywhere, the token was refused everywhere within {took:?}");
    let body = json!({ "email": "ada@example.com", "password": "a much longer passphrase 42" });
    let res = reqwest::Client::new().post(auth.url("/auth/login")).json(&body).send().await.unwrap();
    let fresh: Value = res.json().await.unwrap();
    let fresh = fresh["access_token"].as_str().unwrap();
    assert_eq!(admitted(&auth, &lang, &greeter, &gateway, fresh).await, [true; 4], "a new session is not revoked");
    assert_eq!(admitted(&auth, &lang, &greeter, &gateway, &bob).await, [true; 4], "another user is untouched");
}

#[tokio::test]
async fn a_logout_ends_that_sessions_access_token() {
    let nats = Nats::start();
    let auth = auth(&nats).await;
    let (greeter, lang) = (greeter(&auth, &nats).await, lang(&auth, &nats, None).await);
    let gateway = gateway(&auth, lang.addr, &nats).await;
    auth.user("ada@example.com").await;
    let pair = login(&auth, "ada@example.com").await;
    let kept = login(&auth, "ada@example.com").await["access_token"].as_str().unwrap().to_owned();
    let (access, refresh) = (pair["access_token"].as_str().unwrap(), pair["refresh_token"].as_str().unwrap());
    let res = reqwest::Client::new()
        .post(auth.url("/auth/logout"))
        .json(&json!({ "refresh_token": refresh }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let took = refused_everywhere(&auth, &lang, &greeter, &gateway, access).await;
    eprintln!("after a logout, its access token was refused everywhere within {took:?}");
    assert_eq!(admitted(&auth, &lang, &greeter, &gateway, &kept).await, [true; 4], "the other session stays");
}
