//! greeter's streaming RPCs over every protocol that carries them — gRPC,
//! gRPC-Web (binary over HTTP/1.1 and HTTP/2, text over HTTP/1.1), Connect
//! streaming (JSON and binary, HTTP/1.1 and h2c) — plain and with gzip:
//! `WatchGreetings` (server streaming, PostgreSQL LISTEN/NOTIFY behind it),
//! `GreetMany` (client streaming) and server reflection (bidi). Each test
//! reads the messages, the status the stream ends with and its trailers.

mod support;

use std::{net::SocketAddr, time::Duration};

use platform_proto::greeter::v1::{
    GreetManyRequest, GreetManyResponse, GreetRequest, GreetResponse, ListGreetingsRequest, ListGreetingsResponse,
    WatchGreetingsRequest, WatchGreetingsResponse, watch_greetings_response::Event,
};
use rpc_testkit::{Client, Item, Protocol, Stream, Wire, metric, requests_series};
use tonic::Code;

const GREET: &str = "/greeter.v1.GreeterService/Greet";
const LIST: &str = "/greeter.v1.GreeterService/ListGreetings";
const GREET_MANY: &str = "/greeter.v1.GreeterService/GreetMany";
const WATCH: &str = "/greeter.v1.GreeterService/WatchGreetings";
const GRPC: Wire = Wire::new(Protocol::Grpc);
/// How long a test waits for what should come: a safety net, not a measure.
const PATIENCE: Duration = Duration::from_secs(10);

struct Stack {
    greeter: SocketAddr,
    ada: Client,
    bob: Client,
    admin: Client,
    target: SocketAddr,
}

async fn stack() -> Stack {
    let target = support::target().await;
    let auth = support::auth().await;
    let (_, ada) = auth.user("ada@example.com").await;
    let (_, bob) = auth.user("bob@example.com").await;
    let (_, admin) = auth.admin("root@example.com").await;
    let caller = support::caller(&auth).await;
    let greeter = support::greeter(&auth, caller, Duration::from_secs(3)).await;
    let client = Client::new(greeter, platform_proto::descriptor_pool());
    Stack {
        greeter,
        ada: client.with_token(&ada),
        bob: client.with_token(&bob),
        admin: client.with_token(&admin),
        target,
    }
}

async fn greet(client: &Client, name: &str) -> GreetResponse {
    client
        .unary::<_, GreetResponse>(GRPC, GREET, &GreetRequest { name: name.into(), url: String::new() })
        .await
        .unwrap()
        .message
}

/// The next greeting a watch delivers, skipping heartbeats.
async fn next_greeting(watch: &mut Stream<WatchGreetingsResponse>) -> platform_proto::greeter::v1::Greeting {
    loop {
        match watch.next_within(PATIENCE).await {
            Some(Item::Message { message, .. }) => match message.event {
                Some(Event::Greeting(g)) => return g,
                Some(Event::Heartbeat(_)) => continue,
                None => panic!("an empty event"),
            },
            other => panic!("{}: expected a greeting, got {other:?}", watch.wire),
        }
    }
}

/// The first message of a watch: a heartbeat, once the watch is in place.
async fn in_place(watch: &mut Stream<WatchGreetingsResponse>) {
    match watch.next_within(PATIENCE).await {
        Some(Item::Message { message, .. }) => {
            assert!(matches!(message.event, Some(Event::Heartbeat(_))), "{}: {message:?}", watch.wire)
        }
        other => panic!("{}: expected the first heartbeat, got {other:?}", watch.wire),
    }
}

/// Every wire at once (each watch waits for its deadline): each watch gets
/// ada's greeting made after it was in place, never one of bob's, and ends
/// at its deadline with `DEADLINE_EXCEEDED`.
#[tokio::test]
async fn watch_greetings_delivers_the_users_own_greetings_over_every_stream_wire() {
    let s = stack().await;
    let mut watches = tokio::task::JoinSet::new();
    for wire in Wire::streams(false) {
        let (ada, bob) = (s.ada.clone(), s.bob.clone());
        watches.spawn(async move {
            let mut watch =
                ada.with_timeout(Duration::from_secs(8)).stream(wire, WATCH, &[WatchGreetingsRequest::default()]).await;
            assert_eq!(watch.http_status, 200, "{wire}");
            in_place(&mut watch).await;
            // Made over other connections: bob's first, which ada must not see.
            greet(&bob, &format!("Bob {wire}")).await;
            let made = greet(&ada, &format!("Ada {wire}")).await;
            loop {
                let delivered = next_greeting(&mut watch).await;
                assert!(delivered.name.starts_with("Ada "), "{wire}: delivered {delivered:?}");
                if delivered.id == made.greeting_id {
                    assert_eq!(delivered.name, format!("Ada {wire}"));
                    break;
                }
            }
            // The client's deadline ends the stream, with that status in its ending.
            let ending = loop {
                match watch.next_within(PATIENCE).await {
                    Some(Item::End(ending)) => break ending,
                    Some(Item::Message { message, .. }) => {
                        if let Some(Event::Greeting(g)) = message.event {
                            assert!(g.name.starts_with("Ada "), "{wire}: delivered {g:?}");
                        }
                    }
                    None => panic!("{wire}: the stream did not end at its deadline"),
                }
            };
            ending.assert(wire, Code::DeadlineExceeded, "deadline");
        });
    }
    while let Some(done) = watches.join_next().await {
        done.unwrap();
    }
}

#[tokio::test]
async fn greet_many_stores_every_name_over_every_stream_wire_or_none() {
    let s = stack().await;
    let url = format!("http://{}/ok", s.target);
    let mut stored = 0;
    for wire in Wire::streams(false) {
        let names: Vec<GreetManyRequest> =
            (0..3).map(|i| GreetManyRequest { name: format!("Guest {i} {wire}"), url: url.clone() }).collect();
        let done = s.ada.stream_all::<_, GreetManyResponse>(wire, GREET_MANY, &names).await;
        assert_eq!(done.http_status, 200, "{wire}");
        done.ending.assert(wire, Code::Ok, "");
        let [reply] = done.messages.as_slice() else { panic!("{wire}: one answer, got {:?}", done.messages) };
        let greetings: Vec<&str> = reply.greetings.iter().map(|g| g.greeting.as_str()).collect();
        assert_eq!(greetings, names.iter().map(|n| format!("Hello, {}!", n.name)).collect::<Vec<_>>(), "{wire}");
        assert!(reply.greetings.iter().all(|g| g.external_status == 200), "{wire}");
        stored += 3;

        // One bad name fails the stream, and nothing of it is stored.
        let mut bad = names.clone();
        bad[1].name = String::new();
        let done = s.ada.stream_all::<_, GreetManyResponse>(wire, GREET_MANY, &bad).await;
        done.ending.assert(wire, Code::InvalidArgument, "name is required");
        assert!(done.messages.is_empty(), "{wire}");
        assert_eq!(done.ending.details.bad_request().map(|b| b.field_violations[0].field.clone()), Some("name".into()));
    }
    let all = ListGreetingsRequest { page_size: 100, page_token: String::new() };
    let listed = s.ada.unary::<_, ListGreetingsResponse>(GRPC, LIST, &all).await.unwrap().message;
    assert_eq!(listed.greetings.len(), stored);

    let too_many: Vec<GreetManyRequest> =
        (0..101).map(|i| GreetManyRequest { name: format!("n{i}"), url: String::new() }).collect();
    let done = s.ada.stream_all::<_, GreetManyResponse>(GRPC, GREET_MANY, &too_many).await;
    done.ending.assert(GRPC, Code::ResourceExhausted, "at most 100");
    assert!(metric(s.greeter, &requests_series(GREET_MANY, "connect", "invalid_argument")).await >= 4.0);
    assert!(
        metric(
            s.greeter,
            "rpc_messages_received_total{method=\"/greeter.v1.GreeterService/GreetMany\",protocol=\"grpc\"}"
        )
        .await
            >= 101.0
    );
}

/// An admin may watch everyone's greetings; a user may not ask to.
#[tokio::test]
async fn admins_watch_everyones_greetings_and_users_may_not() {
    let s = stack().await;
    let all = WatchGreetingsRequest { all: true };
    for wire in [GRPC, Wire::new(Protocol::ConnectStream(rpc_testkit::Codec::Json)), Wire::new(Protocol::GrpcWeb)] {
        let refused = s.ada.stream_all::<_, WatchGreetingsResponse>(wire, WATCH, &[all]).await;
        refused.ending.assert(wire, Code::PermissionDenied, "only admins");
        assert!(refused.messages.is_empty(), "{wire}");
    }
    let mut watch = s.admin.stream(GRPC, WATCH, &[all]).await;
    in_place(&mut watch).await;
    let by_ada = greet(&s.ada, "from Ada").await;
    let by_bob = greet(&s.bob, "from Bob").await;
    let first = next_greeting(&mut watch).await;
    let second = next_greeting(&mut watch).await;
    assert_eq!((first.id, second.id), (by_ada.greeting_id, by_bob.greeting_id));
}

/// gRPC server reflection is a bidi stream: over gRPC, gRPC-Web and Connect
/// on HTTP/2 it lists the services; HTTP/1.1 cannot carry a bidi call, so
/// Connect and gRPC-Web there are refused with 505, as connect-go does.
#[tokio::test]
async fn reflection_answers_over_every_protocol_that_carries_bidi() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, ServerReflectionResponse, server_reflection_request::MessageRequest,
        server_reflection_response::MessageResponse,
    };
    const REFLECTION: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
    let s = stack().await;
    let mut pool = platform_proto::descriptor_pool().clone();
    pool.decode_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET).unwrap();
    let client = Client::new(s.greeter, &pool);
    let ask = |request| ServerReflectionRequest { host: String::new(), message_request: Some(request) };
    let questions = [
        ask(MessageRequest::ListServices(String::new())),
        ask(MessageRequest::FileContainingSymbol("greeter.v1.GreeterService".into())),
    ];
    for wire in Wire::streams(true) {
        let done = client.stream_all::<_, ServerReflectionResponse>(wire, REFLECTION, &questions).await;
        done.ending.assert(wire, Code::Ok, "");
        let [list, file] = done.messages.as_slice() else { panic!("{wire}: two answers, got {:?}", done.messages) };
        let Some(MessageResponse::ListServicesResponse(list)) = &list.message_response else {
            panic!("{wire}: {list:?}")
        };
        let mut names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        assert_eq!(
            names,
            ["greeter.v1.GreeterService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"]
        );
        let Some(MessageResponse::FileDescriptorResponse(file)) = &file.message_response else {
            panic!("{wire}: {file:?}")
        };
        assert!(!file.file_descriptor_proto.is_empty(), "{wire}");
        // Per message: Connect compresses what is at least 1 KiB; tonic
        // compresses every message of a gRPC stream once gzip is accepted.
        for &(compressed, size) in &done.compressed {
            let expected = wire.gzip && (size >= 1024 || !wire.is_connect());
            assert_eq!(compressed, expected, "{wire}: a {size}-byte message");
        }
        assert!(done.compressed[1].1 >= 1024, "the descriptor answer is large enough to compress");
    }
    for wire in [Wire::new(Protocol::ConnectStream(rpc_testkit::Codec::Json)), Wire::new(Protocol::GrpcWeb)] {
        let refused = client.stream::<_, ServerReflectionResponse>(wire, REFLECTION, &questions).await;
        assert_eq!(refused.http_status, 505, "{wire}");
    }
}

/// Two greeter replicas on one database: a greeting stored through one
/// reaches a watch held by the other (PostgreSQL NOTIFY reaches every
/// listener).
#[tokio::test]
async fn a_greeting_stored_by_one_replica_reaches_watches_on_another() {
    let auth = support::auth().await;
    let (_, ada) = auth.user("ada@example.com").await;
    let first = support::greeter_config(&auth, support::dead_port(), Duration::from_millis(100)).await;
    let second = first.clone();
    let mut replicas = Vec::new();
    for config in [first, second] {
        let server = greeter::build(config).await.unwrap();
        replicas.push(Client::new(server.local_addr(), platform_proto::descriptor_pool()).with_token(&ada));
        tokio::spawn(server.run_until(std::future::pending()));
    }
    let mut watch = replicas[0].stream(GRPC, WATCH, &[WatchGreetingsRequest::default()]).await;
    in_place(&mut watch).await;
    let made = greet(&replicas[1], "via the other replica").await;
    let delivered = next_greeting(&mut watch).await;
    assert_eq!((delivered.id, delivered.name.as_str()), (made.greeting_id, "via the other replica"));
}
