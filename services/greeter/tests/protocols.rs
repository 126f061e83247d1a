//! greeter's RPCs over every protocol a client may speak — gRPC, gRPC-Web
//! (binary and text), Connect JSON and binary (over HTTP/1.1 and h2c), and
//! Connect GET where the contract allows it — each uncompressed and with
//! gzip both ways, with a real caller, auth and PostgreSQL behind it.
//!
//! The matrix goes through `rpc-testkit`, which sees the wire: where each
//! protocol puts the status, whether an answer was compressed. The real
//! tonic and tonic-web clients make calls of their own besides.

mod support;

use std::{net::SocketAddr, time::Duration};

use platform_proto::greeter::v1::{
    GreetRequest, GreetResponse, ListGreetingsRequest, ListGreetingsResponse,
    greeter_service_client::GreeterServiceClient,
};
use rpc_testkit::{Client, Protocol, Wire};
use tonic::{Code, codec::CompressionEncoding};

const GREET: &str = "/greeter.v1.GreeterService/Greet";
const LIST: &str = "/greeter.v1.GreeterService/ListGreetings";

/// greeter, caller and auth, a local target, and a user's access token.
async fn stack() -> (SocketAddr, SocketAddr, String) {
    let target = support::target().await;
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let caller = support::caller(&auth).await;
    (support::greeter(&auth, caller, Duration::from_secs(3)).await, target, token)
}

fn client(greeter: SocketAddr, token: &str) -> Client {
    Client::new(greeter, platform_proto::descriptor_pool()).with_token(token)
}

const GRPC: Wire = Wire::new(Protocol::Grpc);

async fn list(client: &Client, page_size: i32) -> ListGreetingsResponse {
    client
        .unary::<_, ListGreetingsResponse>(GRPC, LIST, &ListGreetingsRequest { page_size, page_token: String::new() })
        .await
        .unwrap()
        .message
}

#[tokio::test]
async fn greet_works_over_every_wire() {
    let (greeter, target, token) = stack().await;
    let client = client(greeter, &token);
    let url = format!("http://{target}/ok");
    let mut ids = Vec::new();
    for wire in Wire::posts() {
        let name = format!("Ada {wire}");
        let request = GreetRequest { name: format!("  {name} "), url: url.clone() };
        let reply =
            client.unary::<_, GreetResponse>(wire, GREET, &request).await.unwrap_or_else(|f| panic!("{wire}: {f:?}"));
        reply.assert_ok(wire);
        let r = &reply.message;
        assert_eq!((r.greeting.as_str(), r.external_status), (format!("Hello, {name}!").as_str(), 200), "{wire}");
        assert!(r.greeting_id > 0 && r.created_at.is_some(), "{wire}: {r:?}");
        assert!(!reply.compressed, "{wire}: an answer under 1 KiB goes uncompressed");
        ids.push(r.greeting_id);
    }
    // Each call stored exactly one greeting.
    let stored: Vec<i64> = list(&client, 100).await.greetings.iter().map(|g| g.id).rev().collect();
    assert_eq!(stored, ids);
}

/// Refusals reach every client with their code, message and the field at
/// fault (a `google.rpc.BadRequest`: `grpc-status-details-bin` for gRPC and
/// gRPC-Web, `details` in Connect's JSON), and store nothing.
#[tokio::test]
async fn greet_refusals_carry_the_field_at_fault_over_every_wire() {
    let (greeter, _, token) = stack().await;
    let client = client(greeter, &token);
    let long = "x".repeat(101);
    for wire in Wire::posts() {
        for (name, url, field, needle) in [
            ("", "", "name", "name is required"),
            ("Ada\u{7}", "", "name", "control character"),
            (long.as_str(), "", "name", "101 characters"),
            ("Ada", "ftp://example.com", "url", "http:// or https://"),
        ] {
            let request = GreetRequest { name: name.into(), url: url.into() };
            let failure = client.unary::<_, GreetResponse>(wire, GREET, &request).await.unwrap_err();
            failure.assert(wire, Code::InvalidArgument, needle);
            assert_eq!(failure.bad_field(), Some(field), "{wire}: {name:?} {url:?}");
            if !wire.is_connect() {
                let trailers = if failure.trailers.is_empty() { &failure.headers } else { &failure.trailers };
                assert!(trailers.contains_key("grpc-status-details-bin"), "{wire}: {trailers:?}");
            }
        }
    }
    assert!(list(&client, 100).await.greetings.is_empty(), "nothing invalid was stored");
}

#[tokio::test]
async fn list_greetings_works_over_every_wire_get_included_and_large_pages_are_compressed() {
    let (greeter, target, token) = stack().await;
    let client = client(greeter, &token);
    for i in 0..30 {
        let request = GreetRequest { name: format!("guest {i:02}"), url: format!("http://{target}/ok") };
        client.unary::<_, GreetResponse>(GRPC, GREET, &request).await.unwrap();
    }
    let newest: Vec<String> = (5..30).rev().map(|i| format!("guest {i:02}")).collect();
    for wire in Wire::all(true) {
        let first = ListGreetingsRequest { page_size: 25, page_token: String::new() };
        let reply = client
            .unary::<_, ListGreetingsResponse>(wire, LIST, &first)
            .await
            .unwrap_or_else(|f| panic!("{wire}: {f:?}"));
        reply.assert_ok(wire);
        let names: Vec<&str> = reply.message.greetings.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, newest, "{wire}");
        assert_eq!(reply.compressed, wire.gzip, "{wire}: 25 greetings are over 1 KiB");

        let next = ListGreetingsRequest { page_size: 25, page_token: reply.message.next_page_token };
        let rest = client.unary::<_, ListGreetingsResponse>(wire, LIST, &next).await.unwrap();
        let names: Vec<&str> = rest.message.greetings.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["guest 04", "guest 03", "guest 02", "guest 01", "guest 00"], "{wire}");
        assert!(rest.message.next_page_token.is_empty(), "{wire}");

        let one = ListGreetingsRequest { page_size: 1, ..first };
        let one = client.unary::<_, ListGreetingsResponse>(wire, LIST, &one).await.unwrap();
        assert!(!one.compressed, "{wire}: one greeting is under 1 KiB");

        for (request, field) in [
            (ListGreetingsRequest { page_size: 5, page_token: "bogus".into() }, "page_token"),
            (ListGreetingsRequest { page_size: -1, page_token: String::new() }, "page_size"),
        ] {
            let failure = client.unary::<_, ListGreetingsResponse>(wire, LIST, &request).await.unwrap_err();
            failure.assert(wire, Code::InvalidArgument, field);
            assert_eq!(failure.bad_field(), Some(field), "{wire}");
        }
    }
}

/// The GET form of a call is what a browser or CDN may cache: the URL is
/// the request, and the answer varies with what the client accepts.
#[tokio::test]
async fn connect_get_answers_are_cacheable() {
    let (greeter, _, token) = stack().await;
    let client = client(greeter, &token);
    for wire in Wire::gets() {
        let reply =
            client.unary::<_, ListGreetingsResponse>(wire, LIST, &ListGreetingsRequest::default()).await.unwrap();
        assert_eq!(reply.headers["vary"], "Accept-Encoding", "{wire}");
    }
}

/// tonic's own client, compressing both ways.
#[tokio::test]
async fn a_tonic_client_greets_with_gzip_both_ways() {
    let (greeter, target, token) = stack().await;
    let mut client = support::client(format!("http://{greeter}"), &token)
        .await
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let r = client
        .greet(GreetRequest { name: "  Ada  ".into(), url: format!("http://{target}/ok") })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.greeting.as_str(), r.external_status), ("Hello, Ada!", 200));
    let list = client.list_greetings(ListGreetingsRequest::default()).await.unwrap().into_inner();
    assert_eq!(list.greetings[0].id, r.greeting_id);
    let err = client.greet(GreetRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

/// tonic-web's client over HTTP/1.1, compressing both ways.
#[tokio::test]
async fn a_grpc_web_client_greets_over_http1() {
    let (greeter, target, token) = stack().await;
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<tonic_web::GrpcWebCall<tonic::body::Body>>();
    let svc = tower::ServiceBuilder::new().layer(tonic_web::GrpcWebClientLayer::new()).service(http);
    let svc = tower::ServiceBuilder::new()
        .map_request(move |mut req: tonic::codegen::http::Request<_>| {
            req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
            req
        })
        .service(svc);
    let mut client = GreeterServiceClient::with_origin(svc, format!("http://{greeter}").parse().unwrap())
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let r = client
        .greet(GreetRequest { name: "Margaret".into(), url: format!("http://{target}/ok") })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.greeting.as_str(), r.external_status), ("Hello, Margaret!", 200));

    let err = client.greet(GreetRequest { name: "".into(), url: String::new() }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

/// Reflection lists what this process serves (not every contract it was
/// built with), and the standard health service answers Connect too.
#[tokio::test]
async fn reflection_lists_only_the_services_served_and_health_speaks_connect() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let (greeter, _, token) = stack().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{greeter}")).unwrap().connect().await.unwrap();
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("not a list of services")
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(names, ["greeter.v1.GreeterService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"]);

    let mut pool = platform_proto::descriptor_pool().clone();
    pool.decode_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET).unwrap();
    let client = Client::new(greeter, &pool).with_token(&token);
    for wire in Wire::all(false) {
        let request = tonic_health::pb::HealthCheckRequest { service: "greeter.v1.GreeterService".into() };
        let reply = client
            .unary::<_, tonic_health::pb::HealthCheckResponse>(wire, "/grpc.health.v1.Health/Check", &request)
            .await
            .unwrap_or_else(|f| panic!("{wire}: {f:?}"));
        reply.assert_ok(wire);
        assert_eq!(reply.message.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
    }
}
