//! Health, readiness, metrics, trace propagation and shutdown.

mod support;

use std::{
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use platform_proto::{
    caller::v1::{
        CallRequest, CallResponse, ListCallsRequest, ListCallsResponse,
        caller_service_server::{CallerService, CallerServiceServer},
    },
    greeter::v1::{GreetRequest, greeter_service_client::GreeterServiceClient},
};
use support::Fixture;
use tonic::{Request, Response, Status};

#[tokio::test]
async fn health_readiness_grpc_health_and_metrics() {
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let greeter = support::greeter(&auth, support::dead_port(), Duration::from_millis(200)).await;
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("http://{greeter}/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(http.get(format!("http://{greeter}/readyz")).send().await.unwrap().status(), 200);

    let channel = tonic::transport::Channel::from_shared(format!("http://{greeter}")).unwrap().connect().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in ["", "greeter.v1.GreeterService"] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest { service: service.into() })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32, "{service:?}");
    }

    let mut client = GreeterServiceClient::with_interceptor(channel, support::bearer(&token));
    client.greet(GreetRequest { name: "Ada".into(), url: String::new() }).await.unwrap();
    let _ = client.greet(GreetRequest { name: "".into(), url: String::new() }).await;
    let metrics = http.get(format!("http://{greeter}/metrics")).send().await.unwrap().text().await.unwrap();
    for needle in [
        r#"rpc_requests_total{method="/greeter.v1.GreeterService/Greet",protocol="grpc",status="ok"}"#,
        r#"rpc_requests_total{method="/greeter.v1.GreeterService/Greet",protocol="grpc",status="invalid_argument"}"#,
        r#"rpc_request_duration_seconds_bucket{method="/greeter.v1.GreeterService/Greet",protocol="grpc",status="ok",le="0.1"}"#,
    ] {
        assert!(metrics.contains(needle), "missing {needle} in:\n{metrics}");
    }
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let auth = support::auth().await;
    let config = support::greeter_config(&auth, support::dead_port(), Duration::from_millis(200)).await;
    let db = config.common.database.clone();
    let server = greeter::build(config).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    assert_eq!(reqwest::get(format!("http://{addr}/readyz")).await.unwrap().status(), 200);

    // Drop the service's database from under it.
    let admin = {
        let mut u = url::Url::parse(&db.url.redacted()).unwrap();
        u.set_path("/postgres");
        u
    };
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin.as_str()).await.unwrap();
    sqlx::query(&format!(r#"DROP DATABASE "{}" WITH (FORCE)"#, db.url.database)).execute(&mut conn).await.unwrap();
    let res = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(
        reqwest::get(format!("http://{addr}/healthz")).await.unwrap().status(),
        200,
        "liveness is not readiness"
    );
}

/// A caller stand-in that records the `traceparent` it receives.
#[derive(Clone, Default)]
struct TraceRecorder(Arc<Mutex<Vec<String>>>);

#[tonic::async_trait]
impl CallerService for TraceRecorder {
    async fn call(&self, request: Request<CallRequest>) -> Result<Response<CallResponse>, Status> {
        let tp = request.metadata().get("traceparent").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        self.0.lock().unwrap().push(tp);
        Ok(Response::new(CallResponse { status_code: 204, ..Default::default() }))
    }
    async fn list_calls(&self, _: Request<ListCallsRequest>) -> Result<Response<ListCallsResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }
}

#[tokio::test]
async fn trace_context_is_continued_and_propagated_to_caller() {
    let recorder = TraceRecorder::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let svc = CallerServiceServer::new(recorder.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let greeter = support::greeter(&auth, upstream, Duration::from_secs(2)).await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let res = support::http(&token)
        .post(format!("http://{greeter}/greeter.v1.GreeterService/Greet"))
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .body(r#"{"name":"Ada","url":"https://example.com/"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["externalStatus"], 204);

    let seen = recorder.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let parts: Vec<&str> = seen[0].split('-').collect();
    assert_eq!(parts.len(), 4, "traceparent {:?}", seen[0]);
    assert_eq!(parts[1], trace_id, "the inbound trace continues across the hop");
    assert_ne!(parts[2], "00f067aa0ba902b7", "greeter's own span is the parent");
}

#[tokio::test]
async fn binary_fails_fast_on_bad_configuration() {
    let out = Command::new(env!("CARGO_BIN_EXE_greeter")).env("PORT", "eighty").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PORT") && stderr.contains("eighty"), "{stderr}");
    // A pool of no connections stops at start with a message, not a panic.
    let out = Command::new(env!("CARGO_BIN_EXE_greeter")).env("DATABASE_MAX_CONNECTIONS", "0").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DATABASE_MAX_CONNECTIONS") && !stderr.contains("panicked"), "{stderr}");
}

/// Paths nobody serves are counted under one label: 150 made-up methods
/// add no series (they added 2,550 lines to /metrics before).
#[tokio::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let auth = support::auth().await;
    let greeter = support::greeter(&auth, support::dead_port(), Duration::from_millis(200)).await;
    let http = reqwest::Client::new();
    // gRPC as a gRPC client sends it, over HTTP/2.
    let channel = tonic::transport::Channel::from_shared(format!("http://{greeter}")).unwrap().connect().await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    let metrics =
        || async { http.get(format!("http://{greeter}/metrics")).send().await.unwrap().text().await.unwrap() };
    for i in 0..150 {
        grpc.ready().await.unwrap();
        let path: http::uri::PathAndQuery = format!("/greeter.v1.GreeterService/Made{i}Up").parse().unwrap();
        let codec = tonic_prost::ProstCodec::<GreetRequest, platform_proto::greeter::v1::GreetResponse>::default();
        let err = grpc.unary(tonic::Request::new(GreetRequest::default()), path, codec).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "unknown methods need a token like any other");
        for ct in ["application/grpc-web", "application/json"] {
            let res = http
                .post(format!("http://{greeter}/greeter.v1.GreeterService/Made{i}Up"))
                .header("content-type", ct)
                .body("{}")
                .send()
                .await
                .unwrap();
            let _ = res.bytes().await;
        }
        let method = reqwest::Method::from_bytes(format!("X{i}").as_bytes()).unwrap();
        let res = http.request(method, format!("http://{greeter}/x{i}")).send().await.unwrap();
        let _ = res.bytes().await;
    }
    let text = metrics().await;
    assert!(!text.contains("Made1Up") && !text.contains("X12"), "made-up names became labels");
    assert!(text.contains(r#"method="unknown""#), "{text}");
    let series = text.lines().filter(|l| l.starts_with("rpc_request")).count();
    assert!(series < 200, "{series} series after 450 made-up requests");
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_exits_zero() {
    let target = support::target().await;
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let caller = support::caller(&auth).await;
    let (mut child, base) = spawn_binary(&auth, &format!("http://{caller}"), "1500").await;
    let http = support::http(&token);

    // A greeting that takes ~1.5 s (the slow target hits caller's deadline).
    let slow = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/greeter.v1.GreeterService/Greet");
        async move {
            http.post(url)
                .header("content-type", "application/json")
                .body(format!(r#"{{"name":"Ada","url":"http://{target}/slow"}}"#))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());

    let res = slow.await.unwrap().expect("in-flight request completes");
    assert_eq!(res.status(), 200);
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(http.get(format!("{base}/healthz")).send().await.is_err(), "no longer accepting");
}

/// Starts the real greeter binary with JSON logs on stdout.
async fn spawn_binary(auth: &Fixture, caller_url: &str, caller_timeout_ms: &str) -> (std::process::Child, String) {
    let env = [("CALLER_URL", caller_url), ("CALLER_TIMEOUT_MS", caller_timeout_ms)];
    let process = support::spawn_binary(auth, &env, Stdio::piped()).await;
    let base = process.base.clone();
    (process.into_child(), base)
}

#[tokio::test]
async fn json_logs_carry_method_status_latency_and_trace_id() {
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let (mut child, base) = spawn_binary(&auth, &format!("http://{}", support::dead_port()), "200").await;
    let http = support::http(&token);
    let res = http
        .post(format!("{base}/greeter.v1.GreeterService/Greet"))
        .header("content-type", "application/json")
        .body(r#"{"name":"Ada"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A Connect error names the request id too.
    let res = http
        .post(format!("{base}/greeter.v1.GreeterService/Greet"))
        .header("content-type", "application/json")
        .body(r#"{"name":""}"#)
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!((body["code"].as_str(), body["request_id"].as_str()), (Some("invalid_argument"), Some(id.as_str())));
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        let _ = child.wait();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut s).unwrap();
        s
    })
    .await
    .unwrap();
    let line = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "request" && v["method"] == "/greeter.v1.GreeterService/Greet")
        .unwrap_or_else(|| panic!("no request log line in:\n{out}"));
    assert_eq!(line["protocol"], "connect");
    assert_eq!(line["status"], "ok");
    assert!(line["latency_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(line["trace_id"].as_str().unwrap().len(), 32);
    assert_eq!(line["request_id"].as_str().unwrap().len(), 32, "{line}");
    assert!(!out.contains("Ada"), "request bodies are not logged");
}

/// Past the grace period a request still in flight is cut off, and the
/// server has stopped: its connection task no longer outlives the shutdown
/// (with axum::serve it kept running, here until caller's 30 s timeout).
#[tokio::test]
async fn the_grace_period_ends_requests_still_in_flight() {
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let caller = support::fake_caller::FakeCaller::start(support::fake_caller::Reply::Hang).await;
    let caller_addr: std::net::SocketAddr = caller.url().trim_start_matches("http://").parse().unwrap();
    let mut config = support::greeter_config(&auth, caller_addr, Duration::from_secs(30)).await;
    config.common.shutdown_grace = Duration::from_millis(500);
    let server = greeter::build(config).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    let slow = tokio::spawn(
        support::http(&token)
            .post(format!("http://{addr}/greeter.v1.GreeterService/Greet"))
            .header("content-type", "application/json")
            .body(r#"{"name":"Ada","url":"https://example.com/"}"#)
            .send(),
    );
    caller.until_in_flight(1).await;
    stop.send(()).unwrap();
    // Generous bounds, only there to stop a hung test.
    let ran = tokio::time::timeout(Duration::from_secs(10), running).await.expect("run_until returned");
    ran.unwrap().unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), slow).await.expect("the request was cut off");
    assert!(outcome.unwrap().is_err(), "the held request was dropped, not answered");
    assert!(reqwest::get(format!("http://{addr}/healthz")).await.is_err(), "no longer accepting");
}

/// Greetings past GREETER_RETENTION_DAYS are deleted (at start, then hourly).
#[tokio::test]
async fn greetings_past_their_retention_are_deleted() {
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let config = support::greeter_config(&auth, support::dead_port(), Duration::from_millis(200)).await;
    let db = config.common.database.clone();
    let server = greeter::build(config.clone()).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    let mut client = support::client(format!("http://{addr}"), &token).await;
    for name in ["Old", "New"] {
        client.greet(GreetRequest { name: name.into(), url: String::new() }).await.unwrap();
    }
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect_with(&db.url.options).await.unwrap();
    sqlx::query("UPDATE greetings SET created_at = now() - interval '91 days' WHERE name = 'Old'")
        .execute(&mut conn)
        .await
        .unwrap();
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();

    // A restart prunes at once.
    let server = greeter::build(config).await.unwrap();
    tokio::spawn(server.run_until(std::future::pending()));
    let names = support::eventually_names(&mut conn).await;
    assert_eq!(names, ["New"]);
}
