//! gateway's read model, fed by events through a real nats-server: the
//! user count comes from auth's `user.registered`, not from asking auth; a
//! redelivered event counts once; and without the events the count is
//! withheld, never answered as zero.

mod support;

use std::time::Duration;

use async_nats::jetstream;
use events::{envelope::CloudEvent, subjects, v1};
use platform_proto::gateway::v1::OverviewRequest;
use prost::Message;
use serde_json::json;
use support::{Auth, Gateway, Neighbours, authorized};
use testkit::nats::Nats;

async fn user_count(gateway: &Gateway, token: &str, want: i64) -> i64 {
    support::eventually(|| async {
        let r = gateway.client().await.overview(authorized(OverviewRequest {}, token)).await.unwrap().into_inner();
        r.user_count.filter(|n| *n >= want)
    })
    .await
}

/// auth is asked for nothing but its keys: the gateway's `AUTH_URL` leads
/// nowhere, and the count still follows every sign-up.
#[tokio::test]
async fn the_user_count_follows_registrations_without_asking_auth() {
    let nats = Nats::start();
    let auth = Auth::with_events(&nats.url()).await;
    let token = auth.token("ada@example.com").await;
    let n = Neighbours { lang: support::lang().await, auth: support::dead_port(), jwks: Some(auth.jwks_url()) };
    let mut config = support::config(&n, &[]).await;
    config.events.nats_url = nats.url();
    let gateway = Gateway::start(config).await;

    assert_eq!(user_count(&gateway, &token, 1).await, 1);
    for n in 0..4 {
        auth.token(&format!("user{n}@example.com")).await;
    }
    let started = std::time::Instant::now();
    assert_eq!(user_count(&gateway, &token, 5).await, 5);
    eprintln!("four sign-ups reached the overview {:?} after the last", started.elapsed());
    let (status, body) = gateway.connect("Overview", Some(&token), json!({})).await;
    assert_eq!((status, &body["userCount"], &body.get("unavailable")), (200, &json!("5"), &None), "{body}");

    let mut db = gateway.db().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM user_activity WHERE registered_at IS NOT NULL")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(rows, 5);
}

/// The same events delivered twice (a relay re-sending past the stream's
/// duplicate window) count once; greetings are counted per user.
#[tokio::test]
async fn redelivered_events_count_once() {
    let nats = Nats::start();
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    for (stream, subjects) in [("platform-auth", "platform.auth.>"), ("platform-greeter", "platform.greeter.>")] {
        js.get_or_create_stream(jetstream::stream::Config {
            name: stream.into(),
            subjects: vec![subjects.into()],
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let publish = |id: String, msg_id: String, kind: &'static str, data: Vec<u8>| {
        let js = js.clone();
        async move {
            let event = CloudEvent {
                id,
                source: "/test".into(),
                kind: kind.into(),
                time: chrono::Utc::now(),
                subject: None,
                traceparent: None,
                data: data.clone(),
            };
            let mut headers = event.headers();
            headers.insert("Nats-Msg-Id", msg_id.as_str());
            js.publish_with_headers(kind, headers, data.into()).await.unwrap().await.unwrap();
        }
    };
    for round in ["first", "again"] {
        for user in 0..3 {
            let registered = v1::UserRegistered { user_id: format!("user-{user}"), registered_at: None };
            publish(
                format!("reg-{user}"),
                format!("{round}-reg-{user}"),
                subjects::USER_REGISTERED,
                registered.encode_to_vec(),
            )
            .await;
        }
        for greeting in 0..4 {
            let created = v1::GreetingCreated { greeting_id: greeting, owner: "user-0".into(), ..Default::default() };
            publish(
                format!("greet-{greeting}"),
                format!("{round}-greet-{greeting}"),
                subjects::GREETING_CREATED,
                created.encode_to_vec(),
            )
            .await;
        }
    }

    let auth = Auth::start().await;
    let token = auth.token("ada@example.com").await;
    let mut config =
        support::config(&Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None }, &[]).await;
    config.events.nats_url = nats.url();
    let gateway = Gateway::start(config).await;
    assert_eq!(user_count(&gateway, &token, 3).await, 3);
    let mut db = gateway.db().await;
    let greetings = support::eventually(|| {
        let options = gateway.database.url.options.clone();
        async move {
            let mut db = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await.unwrap();
            let n: Option<i64> = sqlx::query_scalar("SELECT greetings FROM user_activity WHERE user_id = 'user-0'")
                .fetch_optional(&mut db)
                .await
                .unwrap();
            n.filter(|n| *n >= 4)
        }
    })
    .await;
    // A moment more: a second effect would show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again: i64 = sqlx::query_scalar("SELECT greetings FROM user_activity WHERE user_id = 'user-0'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!((greetings, again), (4, 4), "eight deliveries of four greetings");
    assert_eq!(user_count(&gateway, &token, 3).await, 3, "six deliveries of three registrations");
}

/// Without the broker the projection has not read auth's events, so the
/// count is marked unavailable: zero would be a wrong answer.
#[tokio::test]
async fn without_the_events_the_count_is_unavailable_not_zero() {
    let auth = Auth::start().await;
    let token = auth.token("ada@example.com").await;
    let gateway = Gateway::with(&Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None }).await;
    let r = gateway.client().await.overview(authorized(OverviewRequest {}, &token)).await.unwrap().into_inner();
    assert_eq!((r.user_count, r.unavailable.as_slice()), (None, ["users".to_owned()].as_slice()));
    assert_eq!(r.languages.len(), 15, "the rest is answered");
}

/// Role changes reach the projection; a deleted user's entry stays gone
/// when an event about them arrives late (another stream lagging behind).
#[tokio::test]
async fn the_projection_follows_roles_and_keeps_deleted_users_out() {
    let nats = Nats::start();
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    for (stream, subjects) in [("platform-auth", "platform.auth.>"), ("platform-greeter", "platform.greeter.>")] {
        let config =
            jetstream::stream::Config { name: stream.into(), subjects: vec![subjects.into()], ..Default::default() };
        js.get_or_create_stream(config).await.unwrap();
    }
    let publish = |id: &'static str, kind: &'static str, data: Vec<u8>| {
        let js = js.clone();
        async move {
            let event = CloudEvent {
                id: id.into(),
                source: "/test".into(),
                kind: kind.into(),
                time: chrono::Utc::now(),
                subject: None,
                traceparent: None,
                data: data.clone(),
            };
            js.publish_with_headers(kind, event.headers(), data.into()).await.unwrap().await.unwrap();
        }
    };
    for user in ["ada", "bob"] {
        let registered = v1::UserRegistered { user_id: user.into(), registered_at: None };
        publish(
            if user == "ada" { "reg-ada" } else { "reg-bob" },
            subjects::USER_REGISTERED,
            registered.encode_to_vec(),
        )
        .await;
    }
    let roles = v1::UserRolesChanged { user_id: "bob".into(), roles: vec!["admin".into()], changed_at: None };
    publish("roles-bob", subjects::USER_ROLES_CHANGED, roles.encode_to_vec()).await;

    let auth = Auth::start().await;
    let n = Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None };
    let mut config = support::config(&n, &[]).await;
    config.events.nats_url = nats.url();
    let gateway = Gateway::start(config).await;
    let options = gateway.database.url.options.clone();
    let roles_of = |user: &'static str| {
        let options = options.clone();
        async move {
            let mut db = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await.unwrap();
            sqlx::query_scalar::<_, Vec<String>>("SELECT roles FROM user_activity WHERE user_id = $1")
                .bind(user)
                .fetch_optional(&mut db)
                .await
                .unwrap()
        }
    };
    support::eventually(|| async { roles_of("bob").await.filter(|r| r == &["admin"]) }).await;
    assert_eq!(roles_of("ada").await, Some(vec![]));

    // ada's account is deleted: gateway removes her entry and answers.
    let request =
        v1::UserDeletionRequested { user_id: "ada".into(), participants: vec![], attempt: 1, requested_at: None };
    publish("delete-ada", subjects::USER_DELETION_REQUESTED, request.encode_to_vec()).await;
    let answered =
        events::inspect::wait_for(&nats.url(), "platform-gateway", 1, Duration::from_secs(20)).await.unwrap();
    assert_eq!(answered[0].kind, subjects::user_data_deleted("gateway"));
    assert_eq!(v1::UserDataDeleted::decode(&answered[0].data[..]).unwrap().removed, 1);
    // A greeting of hers that greeter announced just before, read late.
    let late = v1::GreetingCreated { greeting_id: 7, owner: "ada".into(), ..Default::default() };
    publish("greet-ada", subjects::GREETING_CREATED, late.encode_to_vec()).await;
    let bob_greets = v1::GreetingCreated { greeting_id: 8, owner: "bob".into(), ..Default::default() };
    publish("greet-bob", subjects::GREETING_CREATED, bob_greets.encode_to_vec()).await;
    support::eventually(|| {
        let options = options.clone();
        async move {
            let mut db = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await.unwrap();
            let n: i64 = sqlx::query_scalar("SELECT greetings FROM user_activity WHERE user_id = 'bob'")
                .fetch_one(&mut db)
                .await
                .unwrap();
            (n == 1).then_some(())
        }
    })
    .await;
    assert_eq!(roles_of("ada").await, None, "the late greeting did not bring ada's entry back");
}
