//! auth's `user.registered`, through its outbox and relay to a real
//! nats-server: published once the sign-up commits, never for a refused one,
//! and naming the account by id only.

mod support;

use std::time::Duration;

use events::{subjects, v1};
use prost::Message;
use reqwest::StatusCode;
use serde_json::json;
use support::PASSWORD;
use testkit::nats::Nats;

#[tokio::test]
async fn a_signup_publishes_user_registered_once() {
    let nats = Nats::start();
    let url = nats.url();
    let auth = support::spawn_with(|c| c.events.nats_url = url.clone()).await;
    let body = auth.signup("ada@example.com", PASSWORD).await;
    let id = body["user"]["id"].as_str().unwrap();
    // Refused sign-ups (taken, weak) publish nothing.
    let taken = auth.post("/auth/signup", json!({ "email": "ada@example.com", "password": PASSWORD })).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let weak = auth.post("/auth/signup", json!({ "email": "bob@example.com", "password": "password" })).await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let wait = Duration::from_secs(20);
    events::inspect::wait_for(&url, "platform-auth", 1, wait).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let published = events::inspect::wait_for(&url, "platform-auth", 1, wait).await.unwrap();
    assert_eq!(published.len(), 1, "one event for one account");
    let event = &published[0];
    assert_eq!((event.kind.as_str(), event.source.as_str()), (subjects::USER_REGISTERED, "/auth"));
    assert_eq!(event.subject.as_deref(), Some(id));
    let registered = v1::UserRegistered::decode(&event.data[..]).unwrap();
    assert_eq!(registered.user_id, id);
    assert!(registered.registered_at.is_some());
    let bytes = String::from_utf8_lossy(&event.data);
    assert!(!bytes.contains("ada@") && !bytes.contains("correct horse"), "no email or password in the event");
}
