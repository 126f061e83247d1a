//! Every request under greeter's paths that cannot be served is answered in
//! the protocol the client spoke, with the code a client of that protocol
//! expects, and shows in the request metrics: unknown media types (415 with
//! `Accept-Post`), unknown methods (`unimplemented`), wrong verbs (405 with
//! `Allow`), malformed bodies (`invalid_argument`), oversized messages and
//! zip bombs (`resource_exhausted`), unsupported codings (`unimplemented`),
//! a wrong `connect-protocol-version`, and deadlines that run out while the
//! body is still being read (`deadline_exceeded`).

mod support;

use std::{
    convert::Infallible,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, header};
use http_body::Frame;
use platform_proto::greeter::v1::{GreetRequest, GreetResponse, ListGreetingsRequest};
use prost::Message;
use rpc_testkit::{Client, Codec, Protocol, Wire, frame, gzip, metric, requests_series};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

const GREET: &str = "/greeter.v1.GreeterService/Greet";
const LIST: &str = "/greeter.v1.GreeterService/ListGreetings";
const FOUR_MIB: usize = 4 * 1024 * 1024;

/// greeter (its caller unreachable: a greeting then records the failure),
/// a wire-level client with a user's token, and the token for hand-made requests.
struct Stack {
    addr: SocketAddr,
    client: Client,
    bearer: HeaderValue,
}

async fn start() -> Stack {
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let addr = support::greeter(&auth, support::dead_port(), Duration::from_millis(200)).await;
    let client = Client::new(addr, platform_proto::descriptor_pool()).with_token(&token);
    Stack { addr, client, bearer: format!("Bearer {token}").parse().unwrap() }
}

impl Stack {
    fn post(&self, path: &str, content_type: &str, body: impl Into<Bytes>, http2: bool) -> Request<Bytes> {
        Request::builder()
            .method(Method::POST)
            .uri(self.client.url(path))
            .version(if http2 { http::Version::HTTP_2 } else { http::Version::HTTP_11 })
            .header(header::CONTENT_TYPE, content_type)
            .header(header::AUTHORIZATION, &self.bearer)
            .body(body.into())
            .unwrap()
    }

    fn get(&self, path_and_query: &str) -> Request<Bytes> {
        Request::builder()
            .uri(self.client.url(path_and_query))
            .header(header::AUTHORIZATION, &self.bearer)
            .body(Bytes::new())
            .unwrap()
    }
}

#[tokio::test]
async fn unknown_media_types_are_415_with_what_is_accepted() {
    let stack = start().await;
    let (greeter, client) = (stack.addr, &stack.client);
    let before = metric(greeter, &requests_series(GREET, "connect", "invalid_argument")).await;
    for (content_type, http2) in [
        ("text/plain", false),
        // Over h2c, as Traefik forwards: once answered 200 with gRPC headers.
        ("text/plain", true),
        ("application/xml", false),
        // A streaming Connect type on a unary method.
        ("application/connect+json", false),
        // gRPC and gRPC-Web with a codec other than protobuf.
        ("application/grpc+json", true),
        ("application/grpc-web+json", false),
    ] {
        let res = client.send_raw(http2, stack.post(GREET, content_type, "Ada", http2)).await;
        assert_eq!(res.status, 415, "{content_type} h2={http2}");
        let accepted = res.headers["accept-post"].to_str().unwrap();
        for media in ["application/grpc", "application/grpc-web", "application/json", "application/proto"] {
            assert!(accepted.split(", ").any(|a| a == media), "{content_type}: Accept-Post lacks {media}: {accepted}");
        }
        assert!(res.body.is_empty());
    }
    // A missing content type is no better.
    let mut req = stack.post(GREET, "x/x", "", false);
    req.headers_mut().remove(header::CONTENT_TYPE);
    assert_eq!(client.send_raw(false, req).await.status, 415);
    let after = metric(greeter, &requests_series(GREET, "connect", "invalid_argument")).await;
    assert!(after >= before + 5.0, "415s are in the request metrics: {before} -> {after}");
}

#[tokio::test]
async fn unknown_methods_and_services_are_unimplemented_in_each_protocol() {
    let stack = start().await;
    let (greeter, client) = (stack.addr, &stack.client);
    let unknown = "/greeter.v1.GreeterService/Gret";
    for wire in Wire::posts() {
        // The empty message: "{}" in JSON, no bytes in protobuf.
        let body = if wire.is_connect() && format!("{wire}").contains("json") { "{}" } else { "" };
        let answer = client.send(wire, unknown, Bytes::from_static(body.as_bytes()), HeaderMap::new()).await;
        let failure = match answer.into_result::<GreetResponse>(wire, &client.method(GREET)) {
            Err(f) => f,
            Ok(_) => panic!("{wire}: an unknown method answered"),
        };
        assert_eq!(failure.code, Code::Unimplemented, "{wire}: {failure:?}");
        if wire.is_connect() {
            // Connect: 404 for a procedure the server does not know.
            assert_eq!(failure.http_status, 404, "{wire}");
            assert_eq!(failure.body["code"], "unimplemented", "{wire}");
            assert!(failure.message.contains(unknown), "{wire}: {}", failure.message);
        } else {
            // gRPC: HTTP 200, the status alone in the headers (trailers-only).
            assert_eq!(failure.http_status, 200, "{wire}");
            assert_eq!(failure.headers["grpc-status"], "12", "{wire}");
        }
    }
    for path in ["/nope.v1.Nothing/Greet", "/favicon.ico"] {
        let res = client.send_raw(false, stack.post(path, "application/json", "{}", false)).await;
        assert_eq!((res.status.as_u16(), &res.json()["code"]), (404, &json!("unimplemented")), "{path}");
    }
    assert!(metric(greeter, &requests_series("unknown", "connect", "unimplemented")).await >= 1.0);
}

#[tokio::test]
async fn verbs_other_than_post_are_405_with_allow_and_get_only_where_the_contract_allows() {
    let stack = start().await;
    let client = &stack.client;
    let request = |method: Method, path: &str| {
        Request::builder().method(method).uri(client.url(path)).body(Bytes::new()).unwrap()
    };
    // Greet has side effects: POST only.
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let res = client.send_raw(false, request(method.clone(), GREET)).await;
        assert_eq!((res.status.as_u16(), res.headers["allow"].to_str().unwrap()), (405, "POST"), "{method}");
        assert_eq!(res.json()["code"], "unimplemented");
        assert!(res.json()["message"].as_str().unwrap().contains("NO_SIDE_EFFECTS"));
    }
    // ListGreetings is marked NO_SIDE_EFFECTS: GET and POST.
    let res = client.send_raw(false, request(Method::PUT, LIST)).await;
    assert_eq!((res.status.as_u16(), res.headers["allow"].to_str().unwrap()), (405, "GET, POST"));
}

/// Bodies that are not the message they claim to be are the client's
/// error, whatever the protocol.
#[tokio::test]
async fn malformed_bodies_are_invalid_argument_in_every_protocol() {
    let stack = start().await;
    let (greeter, client) = (stack.addr, &stack.client);
    let send = |wire: Wire, body: &'static [u8]| client.send(wire, GREET, Bytes::from_static(body), HeaderMap::new());
    let json = Wire::new(Protocol::Connect(Codec::Json));
    for (body, needle) in [
        (&b"{not json"[..], "greeter.v1.GreetRequest"),
        (br#"{"name": 42}"#, "greeter.v1.GreetRequest"),
        (br#"{"name": "Ada", "colour": "red"}"#, "colour"),
        (br#"{"name": "Ada"} trailing"#, "trailing"),
    ] {
        let failure = send(json, body).await.into_result::<GreetResponse>(json, &client.method(GREET)).unwrap_err();
        failure.assert(json, Code::InvalidArgument, needle);
    }
    // Not protobuf: a field tag with no field number.
    for wire in [
        Wire::new(Protocol::Connect(Codec::Proto)),
        Wire::new(Protocol::Grpc),
        Wire::new(Protocol::GrpcWeb),
        Wire::new(Protocol::Grpc).gzip(),
    ] {
        let failure =
            send(wire, b"\x00\x00\x00").await.into_result::<GreetResponse>(wire, &client.method(GREET)).unwrap_err();
        failure.assert(wire, Code::InvalidArgument, "not a valid protobuf message");
    }
    // A gRPC body that ends inside its message.
    let truncated = frame(&GreetRequest { name: "Ada".into(), url: String::new() }.encode_to_vec(), false);
    for (wire, content_type) in [(true, "application/grpc"), (false, "application/grpc-web+proto")] {
        let res =
            client.send_raw(wire, stack.post(GREET, content_type, truncated.slice(..truncated.len() - 2), wire)).await;
        let (code, message) = res.grpc_status().unwrap();
        assert_eq!(code, Code::InvalidArgument, "{content_type}: {message}");
        assert!(message.contains("2 bytes short"), "{message}");
    }
    // A GET whose message is not what it says.
    for query in ["encoding=proto&base64=1&message=***", "encoding=json&message=%7Bnope", "message=%7B%7D"] {
        let res = client.send_raw(false, stack.get(&format!("{LIST}?{query}"))).await;
        assert_eq!((res.status.as_u16(), &res.json()["code"]), (400, &json!("invalid_argument")), "{query}");
    }
    // "gzip" that is not.
    let mut req = stack.post(GREET, "application/json", "{\"name\":\"Ada\"}", false);
    req.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    let res = client.send_raw(false, req).await;
    assert_eq!((res.status.as_u16(), &res.json()["code"]), (400, &json!("invalid_argument")));
    assert!(res.json()["message"].as_str().unwrap().contains("not valid gzip"), "{}", res.json());
    assert!(metric(greeter, &requests_series(GREET, "grpc", "invalid_argument")).await >= 3.0);
}

/// Nothing larger than 4 MiB is read into memory: not a body, not a
/// frame a gRPC client announces, not what a small gzip body inflates to.
#[tokio::test]
async fn oversized_messages_and_zip_bombs_are_resource_exhausted_in_every_protocol() {
    let stack = start().await;
    let (greeter, client) = (stack.addr, &stack.client);
    let method = client.method(GREET);
    let big = GreetRequest { name: "x".repeat(FOUR_MIB + 1), url: String::new() }.encode_to_vec();
    for wire in [
        Wire::new(Protocol::Connect(Codec::Proto)),
        Wire::new(Protocol::Grpc),
        Wire::new(Protocol::GrpcWeb),
        Wire::new(Protocol::GrpcWebText),
    ] {
        let failure = client
            .send(wire, GREET, big.clone().into(), HeaderMap::new())
            .await
            .into_result::<GreetResponse>(wire, &method)
            .unwrap_err();
        failure.assert(wire, Code::ResourceExhausted, "bytes");
    }
    // A few KiB of gzip that inflate to 64 MiB.
    let bomb = GreetRequest { name: "\0".repeat(64 << 20), url: String::new() }.encode_to_vec();
    for wire in [
        Wire::new(Protocol::Connect(Codec::Proto)).gzip(),
        Wire::new(Protocol::Grpc).gzip(),
        Wire::new(Protocol::GrpcWeb).gzip(),
    ] {
        let started = Instant::now();
        let failure = client
            .send(wire, GREET, bomb.clone().into(), HeaderMap::new())
            .await
            .into_result::<GreetResponse>(wire, &method)
            .unwrap_err();
        failure.assert(wire, Code::ResourceExhausted, "");
        assert!(started.elapsed() < Duration::from_secs(10), "{wire}");
    }
    // The same bomb in a GET's query.
    let packed = gzip(&ListGreetingsRequest { page_size: 1, page_token: "\0".repeat(16 << 20) }.encode_to_vec());
    let query = format!(
        "encoding=proto&base64=1&compression=gzip&message={}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &packed)
    );
    let res = client.send_raw(false, stack.get(&format!("{LIST}?{query}"))).await;
    assert_eq!((res.status.as_u16(), &res.json()["code"]), (429, &json!("resource_exhausted")), "{}", res.json());
    assert!(metric(greeter, &requests_series(GREET, "grpc-web", "resource_exhausted")).await >= 2.0);
}

#[tokio::test]
async fn codings_and_protocol_versions_are_checked_as_the_spec_says() {
    let stack = start().await;
    let client = &stack.client;
    // An unsupported coding: unimplemented, naming what is supported.
    let mut req = stack.post(GREET, "application/json", "{}", false);
    req.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
    let res = client.send_raw(false, req).await;
    assert_eq!((res.status.as_u16(), &res.json()["code"]), (501, &json!("unimplemented")));
    assert!(res.json()["message"].as_str().unwrap().contains("gzip"));
    assert_eq!(res.headers["accept-encoding"], "gzip");

    // connect-protocol-version: optional (curl sends none), but if sent it must be 1.
    let mut req = stack.post(LIST, "application/json", "{}", false);
    req.headers_mut().insert("connect-protocol-version", HeaderValue::from_static("2"));
    let res = client.send_raw(false, req).await;
    assert_eq!((res.status.as_u16(), &res.json()["code"]), (400, &json!("invalid_argument")));
    assert!(res.json()["message"].as_str().unwrap().contains("connect-protocol-version"));
    let res = client.send_raw(false, stack.post(LIST, "application/json", "{}", false)).await;
    assert_eq!(res.status, 200, "no version header is accepted");

    // The same for GET's connect parameter.
    for (query, status) in [("connect=v2&encoding=json&message=%7B%7D", 400), ("encoding=json&message=%7B%7D", 200)] {
        assert_eq!(client.send_raw(false, stack.get(&format!("{LIST}?{query}"))).await.status, status, "{query}");
    }

    // A malformed timeout.
    let mut req = stack.post(LIST, "application/json", "{}", false);
    req.headers_mut().insert("connect-timeout-ms", HeaderValue::from_static("12345678901"));
    let res = client.send_raw(false, req).await;
    assert_eq!((res.status.as_u16(), &res.json()["code"]), (400, &json!("invalid_argument")));
}

/// A body that never finishes: the first bytes, then nothing.
struct Stalled(Option<Bytes>);

impl http_body::Body for Stalled {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.0.take() {
            Some(first) => Poll::Ready(Some(Ok(Frame::data(first)))),
            None => Poll::Pending,
        }
    }
}

/// The client's deadline starts with the call: a client that sends half
/// its body and stops gets `deadline_exceeded` when its deadline passes.
#[tokio::test]
async fn the_deadline_covers_reading_the_body() {
    let stack = start().await;
    let greeter = stack.addr;
    let token = stack.bearer.to_str().unwrap().to_owned();

    // Connect over HTTP/1.1: a body of 40 bytes announced, 10 sent.
    let mut tcp = tokio::net::TcpStream::connect(greeter).await.unwrap();
    let head = format!(
        "POST {GREET} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnect-timeout-ms: 300\r\n\
         authorization: {token}\r\ncontent-length: 40\r\n\r\n{{\"name\": "
    );
    let started = Instant::now();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    assert!(answer.contains("deadline_exceeded"), "{answer}");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(5), "{took:?}");

    // gRPC over HTTP/2: one frame header, then nothing.
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Stalled>();
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{greeter}{GREET}"))
        .header(header::CONTENT_TYPE, "application/grpc")
        .header("grpc-timeout", "300m")
        .header(header::AUTHORIZATION, &token)
        .body(Stalled(Some(Bytes::from_static(&[0, 0, 0, 0, 40]))))
        .unwrap();
    let res = tokio::time::timeout(Duration::from_secs(10), http.request(req)).await.unwrap().unwrap();
    assert_eq!(res.headers()["grpc-status"], "4", "{:?}", res.headers());
    assert!(metric(greeter, &requests_series(GREET, "connect", "deadline_exceeded")).await >= 1.0);
    assert!(metric(greeter, &requests_series(GREET, "grpc", "deadline_exceeded")).await >= 1.0);
}

/// What `curl` shows of a Connect JSON answer: proto3's JSON mapping.
#[tokio::test]
async fn connect_json_answers_use_the_canonical_json_mapping() {
    let stack = start().await;
    let client = &stack.client;
    let res = client.send_raw(false, stack.post(LIST, "application/json", "", false)).await;
    assert_eq!(res.status, 200, "an empty body is the empty request");
    assert_eq!(res.json(), json!({}), "empty lists and strings are left out");

    let res = client.send_raw(false, stack.post(GREET, "application/json", r#"{"name": "Grace"}"#, false)).await;
    assert_eq!(res.status, 200);
    let body: Value = res.json();
    assert_eq!(body["greeting"], "Hello, Grace!");
    assert!(body["greetingId"].as_str().unwrap().parse::<i64>().unwrap() > 0, "int64 is a JSON string: {body}");
    assert!(body["createdAt"].as_str().unwrap().ends_with('Z'), "timestamps are RFC 3339: {body}");
    assert!(body.get("externalStatus").is_none(), "zero is left out (caller is down): {body}");
    assert!(body["externalError"].as_str().unwrap().contains("caller"), "{body}");

    let res = client
        .send_raw(false, stack.post(LIST, "application/json", r#"{"pageSize": 5, "page_token": ""}"#, false))
        .await;
    assert_eq!(res.status, 200, "lowerCamelCase and proto field names are both accepted: {}", res.json());
    assert_eq!(res.json()["greetings"][0]["name"], "Grace");
}
