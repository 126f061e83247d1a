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

/// Accounts made by the operator command (`auth admin create`, as devstack
/// makes its local admin) are registered users too: read models that count
/// users from events must see them. Making an existing account an admin
/// registers nobody.
#[tokio::test]
async fn an_admin_created_by_the_operator_command_is_registered_once() {
    let nats = Nats::start();
    let url = nats.url();
    let fixture = auth::testing::Fixture::start_with(|c| c.events.nats_url = url.clone()).await;
    let (root_id, _) = fixture.admin("root@example.com").await;
    let (ada_id, _) = fixture.user("ada@example.com").await;
    fixture.admin("ada@example.com").await;

    // Each grant of the admin role is announced too (user.roles_changed).
    let wait = Duration::from_secs(20);
    events::inspect::wait_for(&url, "platform-auth", 4, wait).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let published = events::inspect::wait_for(&url, "platform-auth", 4, wait).await.unwrap();
    let of = |kind: &'static str| published.iter().filter(move |e| e.kind == kind);
    let registered: Vec<String> =
        of(subjects::USER_REGISTERED).map(|e| v1::UserRegistered::decode(&e.data[..]).unwrap().user_id).collect();
    assert_eq!(
        registered,
        [root_id.clone(), ada_id.clone()],
        "the operator's admin, then the sign-up; no second event for ada"
    );
    let roles: Vec<(String, Vec<String>)> = of(subjects::USER_ROLES_CHANGED)
        .map(|e| v1::UserRolesChanged::decode(&e.data[..]).unwrap())
        .map(|c| (c.user_id, c.roles))
        .collect();
    let admin = vec!["admin".to_owned()];
    assert_eq!(roles, [(root_id, admin.clone()), (ada_id, admin)], "each grant, with the roles held after it");
    assert_eq!(published.len(), 4, "nothing else");
}
