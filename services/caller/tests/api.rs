//! caller end to end: a real PostgreSQL, the service on a random port, a
//! real tonic client, and a local HTTP target on loopback.

use std::{net::SocketAddr, time::Duration};

use auth::testing::Fixture;
use axum::{Router, body::Body, response::Redirect, routing::get};
use caller::config::{Config, FetchConfig};
use platform::{CommonConfig, Env};
use platform_proto::caller::v1::{CallRequest, ListCallsRequest, caller_service_client::CallerServiceClient};
use tonic::{
    Code,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

/// A local HTTP server standing in for "the internet".
async fn target() -> SocketAddr {
    let app = Router::new()
        .route("/ok", get(|| async { ([("content-type", "text/plain")], "hello") }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route(
            "/big",
            get(|| async {
                // 4 MiB in 64 KiB chunks, streamed.
                let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024]));
                Body::from_stream(futures_stream(chunks))
            }),
        )
        .route(
            "/redirect/{n}",
            get(|axum::extract::Path(n): axum::extract::Path<u32>| async move {
                if n == 0 { Redirect::temporary("/ok") } else { Redirect::temporary(&format!("/redirect/{}", n - 1)) }
            }),
        )
        .route("/to-metadata", get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data/") }))
        .route("/to-private", get(|| async { Redirect::temporary("http://10.0.0.1/") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn futures_stream<I: Iterator + Send + 'static>(it: I) -> impl futures_core_stream::Stream<Item = I::Item> {
    futures_core_stream::iter(it)
}

mod futures_core_stream {
    pub use tokio_stream::{Stream, iter};
}

/// caller admitting greeter, with a real auth; a client presenting greeter's service token.
async fn spawn(fetch: FetchConfig) -> CallerServiceClient<InterceptedService<Channel, impl Interceptor + Clone>> {
    let auth = Fixture::start().await;
    let addr = start(&auth, fetch).await;
    client(addr, auth.service_token("greeter").await).await
}

async fn start(auth: &Fixture, fetch: FetchConfig) -> SocketAddr {
    start_on(auth, fetch, testkit::database().await).await
}

async fn start_on(auth: &Fixture, fetch: FetchConfig, database: platform::db::DbConfig) -> SocketAddr {
    start_with(auth, fetch, database, None).await
}

/// caller, relaying its events to the broker at `nats_url` if given.
async fn start_with(
    auth: &Fixture,
    fetch: FetchConfig,
    database: platform::db::DbConfig,
    nats_url: Option<String>,
) -> SocketAddr {
    testkit::init_telemetry();
    let mut common = CommonConfig::from_env(&Env::default(), "caller", 0).unwrap();
    common.port = 0;
    common.database = database;
    let retention = Duration::from_secs(30 * 86_400);
    let mut events = events::relay::Config::from_env(&Env::default(), "caller").unwrap();
    if let Some(url) = nats_url {
        events.nats_url = url;
    }
    let allowed_clients = vec!["greeter".into()];
    let config = Config { common, fetch, authn: auth.authn(), allowed_clients, retention, events };
    let server = caller::build(config).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    addr
}

async fn client(
    addr: SocketAddr,
    token: String,
) -> CallerServiceClient<InterceptedService<Channel, impl Interceptor + Clone>> {
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let authorization: MetadataValue<Ascii> =
        if token.is_empty() { MetadataValue::from_static("") } else { format!("Bearer {token}").parse().unwrap() };
    CallerServiceClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
        if !authorization.is_empty() {
            req.metadata_mut().insert("authorization", authorization.clone());
        }
        Ok(req)
    })
}

/// Only the services caller allows may call it: not anonymous callers, not
/// users (admins included), not other services, not forged tokens.
#[tokio::test]
async fn only_allowed_services_may_call() {
    let auth = Fixture::start().await;
    let addr = start(&auth, loopback_allowed()).await;
    let target = target().await;
    let (_, user) = auth.user("ada@example.com").await;
    let (_, admin) = auth.admin("root@example.com").await;
    let gateway = auth.service_token("gateway").await;
    let greeter = auth.service_token("greeter").await;
    // A token another auth signed: the same claims, the wrong key.
    let foreign = Fixture::start().await.service_token("greeter").await;
    let tampered = {
        let t: Vec<&str> = greeter.split('.').collect();
        let other: Vec<&str> = gateway.split('.').collect();
        format!("{}.{}.{}", t[0], other[1], t[2])
    };
    for (token, code) in [
        ("", Code::Unauthenticated),
        (user.as_str(), Code::PermissionDenied),
        (admin.as_str(), Code::PermissionDenied),
        (gateway.as_str(), Code::PermissionDenied),
        (foreign.as_str(), Code::Unauthenticated),
        (tampered.as_str(), Code::Unauthenticated),
        ("not.a.jwt", Code::Unauthenticated),
    ] {
        let mut c = client(addr, token.to_owned()).await;
        let err = c.call(call(format!("http://{target}/ok"))).await.unwrap_err();
        assert_eq!(err.code(), code, "{token:.20}: {err:?}");
        let err = c.list_calls(ListCallsRequest::default()).await.unwrap_err();
        assert_eq!(err.code(), code, "{token:.20}: {err:?}");
    }
    let mut ok = client(addr, greeter.clone()).await;
    assert_eq!(ok.call(call(format!("http://{target}/ok"))).await.unwrap().into_inner().status_code, 200);
    let calls = ok.list_calls(ListCallsRequest::default()).await.unwrap().into_inner().calls;
    assert_eq!(calls.len(), 1, "refused callers made no call and left no record");
}

fn loopback_allowed() -> FetchConfig {
    FetchConfig { allowed_networks: vec!["127.0.0.0/8".parse().unwrap()], ..FetchConfig::default() }
}

fn call(url: impl Into<String>) -> CallRequest {
    CallRequest { url: url.into(), method: String::new() }
}

#[tokio::test]
async fn loopback_is_refused_by_default_and_the_refusal_is_recorded() {
    let target = target().await;
    let mut client = spawn(FetchConfig::default()).await;
    for url in [
        format!("http://{target}/ok"),
        format!("http://localhost:{}/ok", target.port()),
        format!("http://[::ffff:127.0.0.1]:{}/", target.port()),
    ] {
        let err = client.call(call(&url)).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{url}: {err:?}");
        // The client gets one fixed message: no rule, no resolved address.
        assert_eq!(err.message(), caller::service::REFUSED, "{url}");
        assert!(!err.message().contains("127.0.0.1") && !err.message().contains("loopback"));
    }
    // The details stay in caller's records.
    let calls = client.list_calls(ListCallsRequest::default()).await.unwrap().into_inner().calls;
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().all(|c| c.status_code == 0 && c.error.contains("refused") && c.error.contains("loopback")));
}

#[tokio::test]
async fn allowed_loopback_call_reports_status_and_metadata() {
    let target = target().await;
    let mut client = spawn(loopback_allowed()).await;
    let r = client.call(call(format!("http://{target}/ok"))).await.unwrap().into_inner();
    assert_eq!(r.status_code, 200);
    assert_eq!(r.content_type, "text/plain");
    assert_eq!(r.content_length, 5);
    assert_eq!(r.error, "");
    assert!(r.call_id > 0);

    let head = client
        .call(CallRequest { url: format!("http://{target}/ok"), method: "HEAD".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((head.status_code, head.content_length), (200, 0));

    let missing = client.call(call(format!("http://{target}/nope"))).await.unwrap().into_inner();
    assert_eq!(missing.status_code, 404);
}

#[tokio::test]
async fn private_and_metadata_stay_refused_when_loopback_is_allowed() {
    let target = target().await;
    let mut client = spawn(loopback_allowed()).await;
    for url in [
        "http://10.0.0.1/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        format!("http://{target}/to-metadata"),
        format!("http://{target}/to-private"),
    ] {
        let err = client.call(call(&url)).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{url}: {err:?}");
        assert_eq!(err.message(), caller::service::REFUSED, "{url}");
    }
    let calls = client.list_calls(ListCallsRequest::default()).await.unwrap().into_inner().calls;
    let errors: Vec<&str> = calls.iter().map(|c| c.error.as_str()).collect();
    assert!(
        errors.iter().any(|e| e.contains("metadata")) && errors.iter().any(|e| e.contains("private")),
        "{errors:?}"
    );
}

/// A call that the client's deadline would cut short is given up in time to
/// be recorded: before, the handler was cancelled at the deadline and the
/// call it had made was never recorded.
#[tokio::test]
async fn a_call_past_the_clients_deadline_is_still_recorded() {
    let target = target().await;
    let mut client = spawn(loopback_allowed()).await;
    let mut request = tonic::Request::new(call(format!("http://{target}/slow")));
    request.set_timeout(Duration::from_millis(800));
    let answer = client.call(request).await.expect("answered within the deadline").into_inner();
    assert_eq!(answer.status_code, 0);
    assert!(answer.error.contains("deadline"), "{}", answer.error);
    assert!(answer.call_id > 0, "recorded");
    let calls = client.list_calls(ListCallsRequest::default()).await.unwrap().into_inner().calls;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, answer.call_id);
}

#[tokio::test]
async fn redirects_are_followed_up_to_five_hops() {
    let target = target().await;
    let mut client = spawn(loopback_allowed()).await;
    let ok = client.call(call(format!("http://{target}/redirect/4"))).await.unwrap().into_inner();
    assert_eq!((ok.status_code, ok.error.as_str()), (200, ""));
    let too_many = client.call(call(format!("http://{target}/redirect/5"))).await.unwrap().into_inner();
    assert_eq!(too_many.status_code, 0);
    assert!(too_many.error.contains("redirects"), "{}", too_many.error);
}

#[tokio::test]
async fn body_is_capped_and_slow_targets_time_out() {
    let target = target().await;
    let mut client = spawn(FetchConfig {
        max_body_bytes: 100_000,
        request_timeout: Duration::from_millis(400),
        ..loopback_allowed()
    })
    .await;
    let big = client.call(call(format!("http://{target}/big"))).await.unwrap().into_inner();
    assert_eq!(big.status_code, 200);
    assert!(big.error.contains("exceeds 100000 bytes"), "{}", big.error);
    assert!(big.content_length > 100_000 && big.content_length < 4 * 1024 * 1024, "{}", big.content_length);

    let slow = client.call(call(format!("http://{target}/slow"))).await.unwrap().into_inner();
    assert!(slow.error.contains("timed out"), "{}", slow.error);
    assert!((400..5000).contains(&slow.duration_ms), "{}", slow.duration_ms);
}

#[tokio::test]
async fn bad_requests_are_invalid_arguments() {
    let mut client = spawn(FetchConfig::default()).await;
    for (url, method, needle) in [
        ("", "", "required"),
        ("ftp://example.com/", "", "scheme"),
        ("https://example.com/", "DELETE", "method"),
        ("nonsense", "", "valid URL"),
    ] {
        let err = client.call(CallRequest { url: url.into(), method: method.into() }).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains(needle), "{}", err.message());
    }
    let long = format!("https://example.com/{}", "a".repeat(2048));
    assert_eq!(client.call(call(long)).await.unwrap_err().code(), Code::InvalidArgument);
    // Nothing malformed was recorded.
    assert!(client.list_calls(ListCallsRequest::default()).await.unwrap().into_inner().calls.is_empty());
}

#[tokio::test]
async fn list_calls_pages_newest_first() {
    let target = target().await;
    let mut client = spawn(loopback_allowed()).await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(client.call(call(format!("http://{target}/ok?i={i}"))).await.unwrap().into_inner().call_id);
    }
    let mut seen = Vec::new();
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let page =
            client.list_calls(ListCallsRequest { page_size: 2, page_token: token.clone() }).await.unwrap().into_inner();
        assert!(page.calls.len() <= 2);
        seen.extend(page.calls.iter().map(|c| c.url.clone()));
        ids.extend(page.calls.iter().map(|c| c.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    made.reverse();
    assert_eq!(ids, made, "newest first, each once");
    // Recorded without the query string, which may carry secrets.
    assert_eq!(seen, vec![format!("http://{target}/ok"); 5]);

    let err = client.list_calls(ListCallsRequest { page_size: 2, page_token: "not-a-token".into() }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

/// When the call cannot be recorded, its outcome is still the answer (it was
/// UNAVAILABLE before, so greeter retried and made more unrecorded calls),
/// and the loss is counted.
#[tokio::test]
async fn an_unrecordable_call_still_answers_its_outcome() {
    let auth = Fixture::start().await;
    let target = target().await;
    let database = testkit::database().await;
    let addr = start_on(&auth, loopback_allowed(), database.clone()).await;
    let mut client = client(addr, auth.service_token("greeter").await).await;
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect_with(&database.url.options.clone().database("postgres"))
            .await
            .unwrap();
    sqlx::query(&format!(r#"DROP DATABASE "{}" WITH (FORCE)"#, database.url.database))
        .execute(&mut admin)
        .await
        .unwrap();
    let answer = client.call(call(format!("http://{target}/ok"))).await.expect("the outcome, not UNAVAILABLE");
    let answer = answer.into_inner();
    assert_eq!((answer.status_code, answer.call_id), (200, 0), "made, and said to be unrecorded");
    let metrics = reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l.starts_with("caller_unrecorded_calls_total") && !l.ends_with(" 0")), "{metrics}");
}

/// Each recorded call is announced once (`call.completed`), a refused one
/// too, in the transaction that records it; the URL carries no credentials.
#[tokio::test]
async fn each_recorded_call_publishes_call_completed() {
    let nats = testkit::nats::Nats::start();
    let auth = Fixture::start().await;
    let addr = start_with(&auth, loopback_allowed(), testkit::database().await, Some(nats.url())).await;
    let target = target().await;
    let mut c = client(addr, auth.service_token("greeter").await).await;
    let ok = c.call(call(format!("http://user:s3cret@{target}/ok"))).await.unwrap().into_inner();
    assert_eq!(ok.status_code, 200);
    let refused = c.call(call("http://169.254.169.254/latest/meta-data/")).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    let wait = Duration::from_secs(20);
    events::inspect::wait_for(&nats.url(), "platform-caller", 2, wait).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let published = events::inspect::wait_for(&nats.url(), "platform-caller", 2, wait).await.unwrap();
    assert_eq!(published.len(), 2, "one event per recorded call");
    let completed: Vec<events::v1::CallCompleted> = published
        .iter()
        .map(|e| {
            assert_eq!((e.kind.as_str(), e.source.as_str()), (events::subjects::CALL_COMPLETED, "/caller"));
            <events::v1::CallCompleted as prost::Message>::decode(&e.data[..]).unwrap()
        })
        .collect();
    assert_eq!((completed[0].call_id, completed[0].status_code), (ok.call_id, 200));
    assert!(!completed[0].url.contains("s3cret") && !completed[0].url.contains("user:"), "{}", completed[0].url);
    assert_eq!(completed[1].status_code, 0);
    assert!(!completed[1].error.is_empty(), "the refusal's reason");
    for e in &published {
        assert!(!String::from_utf8_lossy(&e.data).contains("s3cret"), "no credential anywhere in the event");
    }
}
