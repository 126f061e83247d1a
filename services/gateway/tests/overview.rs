//! Overview: lang asked and the user projection read concurrently, what is
//! missing marked, user data only for authenticated callers.

mod support;

use platform_proto::gateway::v1::OverviewRequest;
use serde_json::{Value, json};
use support::{Auth, Gateway, Neighbours, authorized};
use testkit::nats::Nats;
use tonic::Code;

#[tokio::test]
async fn both_up_gives_languages_and_user_count_to_authenticated_callers_only() {
    let nats = Nats::start();
    let auth = Auth::with_events(&nats.url()).await;
    let gateway = support::with_events(
        &Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None },
        &nats.url(),
        &[],
    )
    .await;
    let token = auth.token("ada@example.com").await;
    auth.token("grace@example.com").await;
    let mut client = gateway.client().await;

    let r = support::counted(&gateway, &token, 2).await;
    assert_eq!(r.user_count, Some(2));
    assert!(r.unavailable.is_empty(), "{:?}", r.unavailable);
    assert_eq!(r.languages.len(), 15);
    let fr = r.languages.iter().find(|l| l.code == "fr").unwrap();
    assert_eq!((fr.name.as_str(), fr.native_name.as_str()), ("French", "Français"));
    assert!(r.generated_at.is_some());
    assert_eq!(r.metrics_window.unwrap().seconds, 3600);

    let anonymous = client.overview(OverviewRequest {}).await.unwrap().into_inner();
    assert_eq!(anonymous.user_count, None, "no user data without a token");
    assert!(anonymous.unavailable.is_empty(), "{:?}", anonymous.unavailable);
    assert_eq!(anonymous.languages.len(), 15);

    // Connect JSON: int64 as a string; absent when not given.
    let (status, body) = gateway.connect("Overview", Some(&token), json!({})).await;
    assert_eq!((status, &body["userCount"]), (200, &json!("2")), "{body}");
    assert_eq!(body["languages"][0]["nativeName"].as_str().map(|s| !s.is_empty()), Some(true), "{body}");
    let (status, body) = gateway.connect("Overview", None, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body.get("userCount"), None, "{body}");

    // A token that is sent must be valid, even where none is needed.
    let err = client.overview(authorized(OverviewRequest {}, "not.a.jwt")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn one_source_unavailable_is_marked_and_the_rest_answered() {
    let nats = Nats::start();
    let auth = Auth::with_events(&nats.url()).await;
    let token = auth.token("ada@example.com").await;

    // lang down.
    let gateway =
        support::with_events(&Neighbours { lang: support::dead_port(), auth: auth.addr, jwks: None }, &nats.url(), &[])
            .await;
    let r = support::counted(&gateway, &token, 1).await;
    assert_eq!(r.unavailable, ["lang"]);
    assert!(r.languages.is_empty());
    assert_eq!(r.user_count, Some(1));

    // No broker: the users have not been read (the token still verifies).
    let gateway = Gateway::with(&Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None }).await;
    let r = gateway.client().await.overview(authorized(OverviewRequest {}, &token)).await.unwrap().into_inner();
    assert_eq!(r.unavailable, ["users"]);
    assert_eq!(r.user_count, None);
    assert_eq!(r.languages.len(), 15);
    let (status, body) = gateway.connect("Overview", Some(&token), json!({})).await;
    assert_eq!((status, &body["unavailable"]), (200, &json!(["users"])), "{body}");
}

#[tokio::test]
async fn every_upstream_down_is_unavailable() {
    let auth = Auth::start().await;
    let token = auth.token("ada@example.com").await;
    // lang down, and no broker for the users.
    let n = Neighbours { lang: support::dead_port(), auth: auth.addr, jwks: None };
    let gateway = Gateway::with(&n).await;
    let mut client = gateway.client().await;

    let err = client.overview(authorized(OverviewRequest {}, &token)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.message().contains("lang") && err.message().contains("users"), "{}", err.message());
    // Anonymous callers only need lang, which is down.
    let err = client.overview(OverviewRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let (status, body) = gateway.connect("Overview", None, json!({})).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("unavailable")));
}

/// One client's short deadline while the keys are being fetched does not
/// make the gateway refuse every token afterwards (it did for 30 s: the
/// fetch ran inside that request and was cancelled with it).
#[tokio::test]
async fn a_short_deadline_during_the_key_fetch_does_not_poison_it() {
    let auth = Auth::start().await;
    let token = auth.token("ada@example.com").await;
    let upstream = auth.jwks_url();
    let slow = support::serve(axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let upstream = upstream.clone();
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                reqwest::get(upstream).await.unwrap().text().await.unwrap()
            }
        }),
    ))
    .await;
    let n = Neighbours {
        lang: support::lang().await,
        auth: auth.addr,
        jwks: Some(format!("http://{slow}/jwks.json").parse().unwrap()),
    };
    let gateway = Gateway::with(&n).await;
    let hurried = reqwest::Client::new()
        .post(gateway.url("/gateway.v1.GatewayService/Overview"))
        .header("content-type", "application/json")
        .header("connect-timeout-ms", "50")
        .bearer_auth(&token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_ne!(hurried.status(), 200, "the hurried call ran out of time");
    // Generous: the one fetch lands about 300 ms after it started.
    let started = std::time::Instant::now();
    loop {
        let (status, body) = gateway.connect("Overview", Some(&token), json!({})).await;
        if status == 200 {
            assert_eq!(body["languages"].as_array().map(Vec::len), Some(15), "{body}");
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "still refused: {status} {body}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    eprintln!("a valid token was accepted {:?} after the hurried call", started.elapsed());
}

/// Concurrent overviews share one summary query, even a failing one: while
/// gateway_db hangs, ten overviews wait on one query (under its statement
/// timeout) instead of each retrying it in turn behind a mutex.
#[tokio::test]
async fn overviews_share_one_summary_query_even_when_it_hangs() {
    let auth = Auth::start().await;
    let gateway = Gateway::with(&Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None }).await;
    // Hold a lock the summary query needs.
    let mut locker = gateway.db().await;
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE request_metrics IN ACCESS EXCLUSIVE MODE").execute(&mut locker).await.unwrap();
    let overviews: Vec<_> = (0..10)
        .map(|_| {
            let url = gateway.url("/gateway.v1.GatewayService/Overview");
            tokio::spawn(async move {
                let res = reqwest::Client::new()
                    .post(url)
                    .header("content-type", "application/json")
                    .body("{}")
                    .send()
                    .await
                    .unwrap();
                res.json::<Value>().await.unwrap()
            })
        })
        .collect();
    // Meanwhile exactly one summary query waits in the database.
    let watcher = sqlx::PgPool::connect_with(gateway.database.url.options.clone()).await.unwrap();
    let waiting = support::eventually(|| {
        let watcher = watcher.clone();
        async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%percentile_cont%' AND state = 'active'
                 AND pid <> pg_backend_pid()",
            )
            .fetch_one(&watcher)
            .await
            .unwrap();
            (n > 0).then_some(n)
        }
    })
    .await;
    assert_eq!(waiting, 1, "one query for ten overviews");
    let started = std::time::Instant::now();
    for overview in overviews {
        let body = overview.await.unwrap();
        assert_eq!(body["unavailable"], json!(["metrics"]), "{body}");
    }
    // They shared the one query's failure (2 s statement timeout). Taking
    // turns, each retrying it, took ten times that; the bound is loose.
    let took = started.elapsed();
    eprintln!("ten overviews answered within {took:?} of one another");
    assert!(took < gateway::service::SUMMARY_TIMEOUT * 4, "{took:?}: the overviews took turns");
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
}
