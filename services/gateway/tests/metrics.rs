//! Every served request is recorded in gateway_db; Metrics summarises them.

mod support;

use platform_proto::gateway::v1::{LocalizedGreetingRequest, MethodMetrics, MetricsRequest, OverviewRequest};
use serde_json::json;
use support::{Auth, Gateway, Neighbours, authorized, eventually};
use tonic::Code;

const GREETING: &str = "/gateway.v1.GatewayService/LocalizedGreeting";
const OVERVIEW: &str = "/gateway.v1.GatewayService/Overview";

fn ask(name: &str) -> LocalizedGreetingRequest {
    LocalizedGreetingRequest { name: name.into(), language: "fr".into() }
}

#[tokio::test]
async fn metrics_counts_every_request_with_errors_and_percentiles() {
    let auth = Auth::start().await;
    let gateway = Gateway::with(&Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None }).await;
    let token = auth.admin_token("ada@example.com").await;
    let mut client = gateway.client().await;

    client.localized_greeting(authorized(ask("Ada"), &token)).await.unwrap();
    client.localized_greeting(authorized(ask("Ada"), &token)).await.unwrap(); // cached
    client.localized_greeting(authorized(ask("Grace"), &token)).await.unwrap();
    assert_eq!(client.localized_greeting(authorized(ask(""), &token)).await.unwrap_err().code(), Code::InvalidArgument);
    assert_eq!(client.localized_greeting(ask("Ada")).await.unwrap_err().code(), Code::Unauthenticated);
    client.overview(OverviewRequest {}).await.unwrap();
    let (status, _) = gateway.connect("Overview", Some(&token), json!({})).await;
    assert_eq!(status, 200);

    // Written in the background: poll until both methods are complete.
    let metrics = eventually(|| {
        let mut client = client.clone();
        let token = token.clone();
        async move {
            let r = client.metrics(authorized(MetricsRequest { window: None }, &token)).await.unwrap().into_inner();
            let find = |m: &str| r.metrics.iter().find(|x| x.method == m).cloned();
            match (find(GREETING), find(OVERVIEW)) {
                (Some(g), Some(o)) if g.requests == 5 && o.requests == 2 => Some((g, o, r.window)),
                _ => None,
            }
        }
    })
    .await;
    let (greeting, overview, window): (MethodMetrics, MethodMetrics, _) = metrics;
    assert_eq!(window.unwrap().seconds, 3600, "the default window is an hour");
    assert_eq!((greeting.errors, overview.errors), (2, 0));
    for m in [&greeting, &overview] {
        assert!(0.0 <= m.p50_ms && m.p50_ms <= m.p95_ms && m.p95_ms <= m.p99_ms, "{m:?}");
    }

    // What was stored, row by row.
    let mut db = gateway.db().await;
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT status, upstream, method FROM request_metrics WHERE method = $1 OR method = $2 ORDER BY id",
    )
    .bind(GREETING)
    .bind(OVERVIEW)
    .fetch_all(&mut db)
    .await
    .unwrap();
    let rows: Vec<(&str, &str)> = rows.iter().map(|(s, u, _)| (s.as_str(), u.as_str())).collect();
    assert_eq!(
        rows,
        [
            ("ok", "lang"),
            ("ok", ""), // from the cache
            ("ok", "lang"),
            ("invalid_argument", ""),
            ("unauthenticated", ""),
            ("ok", "lang"),
            ("ok", "lang"), // the user count from gateway's own projection
        ]
    );
}

#[tokio::test]
async fn bad_windows_are_invalid_argument() {
    let auth = Auth::start().await;
    let gateway = Gateway::with(&Neighbours { lang: support::dead_port(), auth: auth.addr, jwks: None }).await;
    let token = auth.admin_token("ada@example.com").await;
    let mut client = gateway.client().await;
    let window = |seconds| MetricsRequest { window: Some(prost_types::Duration { seconds, nanos: 0 }) };
    for seconds in [-60, 0, 8 * 86_400] {
        let err = client.metrics(authorized(window(seconds), &token)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{seconds}");
        assert!(err.message().contains("window"), "{}", err.message());
    }
    let (status, body) = gateway.connect("Metrics", Some(&token), json!({"window": "-5s"})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_argument")), "{body}");
    let (status, body) = gateway.connect("Metrics", Some(&token), json!({"window": "an hour"})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = gateway.connect("Metrics", Some(&token), json!({"window": "60s"})).await;
    assert_eq!((status, &body["window"]), (200, &json!("60s")), "{body}");
}

#[tokio::test]
async fn queued_records_are_written_at_shutdown() {
    let auth = Auth::start().await;
    let n = Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None };
    // Nothing is written on a timer within this test.
    let gateway = Gateway::start(support::config(&n, &[("GATEWAY_METRICS_FLUSH_MS", "3600000")]).await).await;
    let token = auth.admin_token("ada@example.com").await;
    let mut client = gateway.client().await;
    for name in ["Ada", "Grace", "Linus"] {
        client.localized_greeting(authorized(ask(name), &token)).await.unwrap();
    }
    drop(client);
    let mut db = gateway.db().await;
    let count = || sqlx::query_scalar::<_, i64>("SELECT count(*) FROM request_metrics");
    assert_eq!(count().fetch_one(&mut db).await.unwrap(), 0, "still queued");
    gateway.shut_down().await;
    assert_eq!(count().fetch_one(&mut db).await.unwrap(), 3);
}

#[tokio::test]
async fn windows_select_recent_records_and_retention_deletes_old_ones() {
    let auth = Auth::start().await;
    let gateway = Gateway::with(&Neighbours { lang: support::dead_port(), auth: auth.addr, jwks: None }).await;
    let token = auth.admin_token("ada@example.com").await;
    let mut db = gateway.db().await;
    for (hours, latency) in [(0.1, 10.0), (2.0, 20.0), (30.0 * 24.0, 30.0)] {
        sqlx::query(
            "INSERT INTO request_metrics (method, upstream, status, latency_ms, at)
             VALUES ('/test/Old', '', 'ok', $1, now() - make_interval(secs => $2))",
        )
        .bind(latency)
        .bind(hours * 3600.0)
        .execute(&mut db)
        .await
        .unwrap();
    }
    let mut client = gateway.client().await;
    let mut test_method = async |seconds| {
        let window = Some(prost_types::Duration { seconds, nanos: 0 });
        let r = client.metrics(authorized(MetricsRequest { window }, &token)).await.unwrap().into_inner();
        r.metrics.into_iter().find(|m| m.method == "/test/Old").map(|m| (m.requests, m.p50_ms))
    };
    assert_eq!(test_method(3600).await, Some((1, 10.0)));
    assert_eq!(test_method(3 * 3600).await, Some((2, 15.0)));

    let store =
        gateway::store::Store::new(sqlx::PgPool::connect_with(gateway.database.url.options.clone()).await.unwrap());
    assert_eq!(store.delete_older_than(std::time::Duration::from_secs(7 * 86_400)).await.unwrap(), 1);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM request_metrics WHERE method = '/test/Old'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(left, 2);
}
