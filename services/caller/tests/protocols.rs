//! caller's RPCs over every protocol a client may speak — gRPC, gRPC-Web
//! (binary and text), Connect JSON and binary (HTTP/1.1 and h2c), and
//! Connect GET for `ListCalls` — each uncompressed and with gzip both ways,
//! at the wire level (`rpc-testkit`), with a real auth and PostgreSQL.

use std::{net::SocketAddr, time::Duration};

use auth::testing::Fixture;
use axum::{Router, routing::get};
use caller::config::{Config, FetchConfig};
use platform::{CommonConfig, Env};
use platform_proto::caller::v1::{CallRequest, CallResponse, ListCallsRequest, ListCallsResponse};
use rpc_testkit::{Client, Wire};
use tonic::Code;

const CALL: &str = "/caller.v1.CallerService/Call";
const LIST: &str = "/caller.v1.CallerService/ListCalls";

/// caller admitting greeter and reaching loopback, a local target, and
/// clients with greeter's service token and with a user's.
async fn start() -> (Client, Client, SocketAddr) {
    testkit::init_telemetry();
    let auth = Fixture::start().await;
    let mut common = CommonConfig::from_env(&Env::default(), "caller", 0).unwrap();
    common.port = 0;
    common.database = testkit::database().await;
    let fetch = FetchConfig { allowed_networks: vec!["127.0.0.0/8".parse().unwrap()], ..FetchConfig::default() };
    let retention = Duration::from_secs(30 * 86_400);
    let events = events::relay::Config::from_env(&Env::default(), "caller").unwrap();
    let allowed_clients = vec!["greeter".into()];
    let config = Config { common, fetch, authn: auth.authn(), allowed_clients, retention, events };
    let server = caller::build(config).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    let app = Router::new().route("/ok", get(|| async { ([("content-type", "text/plain")], "hello") }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = Client::new(addr, platform_proto::descriptor_pool());
    let (_, user) = auth.user("ada@example.com").await;
    (client.with_token(&auth.service_token("greeter").await), client.with_token(&user), target)
}

#[tokio::test]
async fn call_works_over_every_wire_and_refusals_keep_their_codes() {
    let (greeter, user, target) = start().await;
    for wire in Wire::posts() {
        let request = CallRequest { url: format!("http://{target}/ok?wire={wire}"), method: String::new() };
        let reply =
            greeter.unary::<_, CallResponse>(wire, CALL, &request).await.unwrap_or_else(|f| panic!("{wire}: {f:?}"));
        reply.assert_ok(wire);
        let r = &reply.message;
        assert_eq!((r.status_code, r.content_type.as_str(), r.content_length), (200, "text/plain", 5), "{wire}");
        assert!(r.call_id > 0, "{wire}");
        assert!(!reply.compressed, "{wire}: a small answer goes uncompressed");

        let bad = CallRequest { url: "not a url".into(), method: String::new() };
        let failure = greeter.unary::<_, CallResponse>(wire, CALL, &bad).await.unwrap_err();
        failure.assert(wire, Code::InvalidArgument, "url");
        assert_eq!(failure.bad_field(), Some("url"), "{wire}");

        let private = CallRequest { url: "http://10.0.0.1/".into(), method: String::new() };
        let failure = greeter.unary::<_, CallResponse>(wire, CALL, &private).await.unwrap_err();
        failure.assert(wire, Code::PermissionDenied, "not a public address");

        let failure = user.unary::<_, CallResponse>(wire, CALL, &request).await.unwrap_err();
        failure.assert(wire, Code::PermissionDenied, "");
    }
}

#[tokio::test]
async fn list_calls_works_over_every_wire_get_included_and_large_pages_are_compressed() {
    let (greeter, user, target) = start().await;
    let grpc = Wire::posts()[0];
    for i in 0..25 {
        let request = CallRequest { url: format!("http://{target}/ok?n={i:02}"), method: String::new() };
        greeter.unary::<_, CallResponse>(grpc, CALL, &request).await.unwrap();
    }
    for wire in Wire::all(true) {
        let page = ListCallsRequest { page_size: 20, page_token: String::new() };
        let reply =
            greeter.unary::<_, ListCallsResponse>(wire, LIST, &page).await.unwrap_or_else(|f| panic!("{wire}: {f:?}"));
        reply.assert_ok(wire);
        let urls: Vec<&str> = reply.message.calls.iter().map(|c| c.url.as_str()).collect();
        // Recorded without their query strings, newest first.
        assert_eq!(urls, vec![format!("http://{target}/ok"); 20], "{wire}");
        assert!(reply.message.calls.windows(2).all(|w| w[0].id > w[1].id), "{wire}");
        assert_eq!(reply.compressed, wire.gzip, "{wire}: 20 calls are over 1 KiB");

        let next = ListCallsRequest { page_size: 20, page_token: reply.message.next_page_token };
        assert_eq!(greeter.unary::<_, ListCallsResponse>(wire, LIST, &next).await.unwrap().message.calls.len(), 5);

        let bad = ListCallsRequest { page_size: 0, page_token: "bogus".into() };
        let failure = greeter.unary::<_, ListCallsResponse>(wire, LIST, &bad).await.unwrap_err();
        failure.assert(wire, Code::InvalidArgument, "page_token");
        assert_eq!(failure.bad_field(), Some("page_token"), "{wire}");

        let failure = user.unary::<_, ListCallsResponse>(wire, LIST, &page).await.unwrap_err();
        failure.assert(wire, Code::PermissionDenied, "");
    }
}
