//! greeter through every protocol a client may speak: gRPC (tonic client),
//! Connect JSON and binary over HTTP/1.1 (what `curl` and connect-web send),
//! and gRPC-Web (tonic-web's client), with a real caller and PostgreSQL.

mod support;

use std::time::Duration;

use platform_proto::greeter::v1::{
    GreetRequest, GreetResponse, ListGreetingsRequest, greeter_service_client::GreeterServiceClient,
};
use prost::Message;
use serde_json::{Value, json};
use tonic::Code;

/// greeter, caller and auth, a local target, and a user's access token.
async fn stack() -> (std::net::SocketAddr, std::net::SocketAddr, String) {
    let target = support::target().await;
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let caller = support::caller(&auth).await;
    (support::greeter(&auth, caller, Duration::from_secs(3)).await, target, token)
}

#[tokio::test]
async fn grpc_greets_through_caller_and_stores_the_greeting() {
    let (greeter, target, token) = stack().await;
    let mut client = support::client(format!("http://{greeter}"), &token).await;
    let r = client
        .greet(GreetRequest { name: "  Ada  ".into(), url: format!("http://{target}/ok") })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.greeting, "Hello, Ada!");
    assert_eq!(r.external_status, 200);
    assert_eq!(r.external_error, "");
    assert!(r.greeting_id > 0);
    assert!(r.created_at.is_some());

    let list = client.list_greetings(ListGreetingsRequest::default()).await.unwrap().into_inner();
    assert_eq!(list.greetings.len(), 1);
    let g = &list.greetings[0];
    assert_eq!((g.id, g.name.as_str(), g.external_status), (r.greeting_id, "Ada", 200));
    assert_eq!(g.url, format!("http://{target}/ok"));
}

#[tokio::test]
async fn connect_json_works_like_curl() {
    let (greeter, target, token) = stack().await;
    let http = support::http(&token);
    let res = http
        .post(format!("http://{greeter}/greeter.v1.GreeterService/Greet"))
        .header("content-type", "application/json")
        .body(json!({"name": "Grace", "url": format!("http://{target}/ok")}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["greeting"], "Hello, Grace!");
    assert_eq!(body["externalStatus"], 200);
    assert!(body["greetingId"].as_str().unwrap().parse::<i64>().unwrap() > 0, "int64 is a JSON string: {body}");
    assert!(body["createdAt"].as_str().unwrap().ends_with('Z'), "timestamps are RFC 3339: {body}");

    // An empty body is the empty request, which is invalid here.
    let res = http
        .post(format!("http://{greeter}/greeter.v1.GreeterService/ListGreetings"))
        .header("content-type", "application/json")
        .header("connect-protocol-version", "1")
        .body("{\"pageSize\": 5}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["greetings"][0]["name"], "Grace");
}

#[tokio::test]
async fn connect_binary_round_trips_protobuf() {
    let (greeter, target, token) = stack().await;
    let req = GreetRequest { name: "Linus".into(), url: format!("http://{target}/ok") };
    let res = support::http(&token)
        .post(format!("http://{greeter}/greeter.v1.GreeterService/Greet"))
        .header("content-type", "application/proto")
        .body(req.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/proto");
    let r = GreetResponse::decode(res.bytes().await.unwrap()).unwrap();
    assert_eq!((r.greeting.as_str(), r.external_status), ("Hello, Linus!", 200));
}

#[tokio::test]
async fn grpc_web_client_over_http1() {
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
    let mut client = GreeterServiceClient::with_origin(svc, format!("http://{greeter}").parse().unwrap());
    let r = client
        .greet(GreetRequest { name: "Margaret".into(), url: format!("http://{target}/ok") })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.greeting.as_str(), r.external_status), ("Hello, Margaret!", 200));

    let err = client.greet(GreetRequest { name: "".into(), url: String::new() }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn validation_errors_are_invalid_argument_on_every_protocol() {
    let (greeter, _, token) = stack().await;
    let mut client = support::client(format!("http://{greeter}"), &token).await;
    for (name, url, needle) in [
        ("", "", "required"),
        ("   ", "", "required"),
        (&"x".repeat(101) as &str, "", "101 characters"),
        ("Ada\u{7}", "", "control character"),
        ("Ada", "ftp://example.com", "http"),
        ("Ada", "not a url", "http"),
    ] {
        let err = client.greet(GreetRequest { name: name.into(), url: url.into() }).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{name:?} {url:?}");
        assert!(err.message().contains(needle), "{}", err.message());
    }

    let http = support::http(&token);
    let post = |body: &'static str| {
        http.post(format!("http://{greeter}/greeter.v1.GreeterService/Greet"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (body, needle) in [
        (r#"{"name": ""}"#, "required"),
        (r#"{"name": "Ada", "colour": "red"}"#, "colour"),
        (r#"{"name": 42}"#, "GreetRequest"),
        ("{not json", "GreetRequest"),
    ] {
        let res = post(body).await.unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["code"], "invalid_argument", "{body}");
        assert!(err["message"].as_str().unwrap().contains(needle), "{body}: {err}");
    }

    // Nothing invalid was stored.
    let list = client.list_greetings(ListGreetingsRequest::default()).await.unwrap().into_inner();
    assert!(list.greetings.is_empty());
}

#[tokio::test]
async fn list_greetings_pages_newest_first_with_opaque_tokens() {
    let (greeter, target, token) = stack().await;
    let mut client = support::client(format!("http://{greeter}"), &token).await;
    for i in 0..25 {
        client.greet(GreetRequest { name: format!("n{i}"), url: format!("http://{target}/ok") }).await.unwrap();
    }
    let first = client.list_greetings(ListGreetingsRequest::default()).await.unwrap().into_inner();
    assert_eq!(first.greetings.len(), 20, "default page size");
    assert_eq!(first.greetings[0].name, "n24");
    let second = client
        .list_greetings(ListGreetingsRequest { page_size: 0, page_token: first.next_page_token })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = second.greetings.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["n4", "n3", "n2", "n1", "n0"]);
    assert!(second.next_page_token.is_empty());

    let all = client
        .list_greetings(ListGreetingsRequest { page_size: 1000, page_token: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.greetings.len(), 25, "above the maximum is capped at 100, not refused");

    let res = support::http(&token)
        .post(format!("http://{greeter}/greeter.v1.GreeterService/ListGreetings"))
        .header("content-type", "application/json")
        .body(r#"{"pageToken": "bogus"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["code"], "invalid_argument");
    assert!(err["message"].as_str().unwrap().contains("page_token"));
}

/// Requests under greeter's path that no protocol here can serve are
/// answered as the Connect specification says, not with gRPC's framing:
/// an unknown media type is 415 naming the accepted ones, an unknown method
/// `unimplemented` (404), and any verb but POST 405 with `Allow: POST`.
#[tokio::test]
async fn connect_refusals_follow_the_spec() {
    let (greeter, _, token) = stack().await;
    let http = support::http(&token);
    let url = |method: &str| format!("http://{greeter}/greeter.v1.GreeterService/{method}");

    let plain = http.post(url("Greet")).header("content-type", "text/plain").body("Ada").send().await.unwrap();
    assert_eq!(plain.status(), 415);
    let accepted = plain.headers()["accept-post"].to_str().unwrap();
    assert!(accepted.contains("application/json, application/proto"), "{accepted}");

    let unknown = http.post(url("Gret")).json(&json!({ "name": "Ada" })).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["code"], "unimplemented", "{body}");
    assert!(body["message"].as_str().unwrap().contains("/greeter.v1.GreeterService/Gret"), "{body}");

    let get = http.get(url("Greet")).send().await.unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
    assert_eq!(get.json::<Value>().await.unwrap()["code"], "unimplemented");

    // gRPC clients are untouched: tonic still answers them.
    let mut client = support::client(format!("http://{greeter}"), &token).await;
    client.list_greetings(ListGreetingsRequest::default()).await.unwrap();
}
