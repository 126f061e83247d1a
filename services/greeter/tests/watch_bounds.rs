//! What bounds `WatchGreetings`: a process-wide limit on open watches, a
//! buffer per watch (a reader that never reads is dropped with
//! `RESOURCE_EXHAUSTED` and the server lets go of it), cancellation noticed
//! at once, and shutdown ending every watch with `UNAVAILABLE`.
//!
//! One test, one greeter: the watch gauge is this process's alone.

mod support;

use std::time::Duration;

use greeter::watch::WatchConfig;
use platform_proto::greeter::v1::{
    GreetManyRequest, GreetManyResponse, WatchGreetingsRequest, WatchGreetingsResponse, watch_greetings_response::Event,
};
use rpc_testkit::{Client, Item, Protocol, Stream, Wire, metric};
use tonic::Code;

const GREET_MANY: &str = "/greeter.v1.GreeterService/GreetMany";
const WATCH: &str = "/greeter.v1.GreeterService/WatchGreetings";
const GRPC: Wire = Wire::new(Protocol::Grpc);
const PATIENCE: Duration = Duration::from_secs(10);

async fn open(client: &Client, wire: Wire) -> Stream<WatchGreetingsResponse> {
    let mut watch: Stream<WatchGreetingsResponse> =
        client.stream(wire, WATCH, &[WatchGreetingsRequest::default()]).await;
    match watch.next_within(PATIENCE).await {
        Some(Item::Message { message, .. }) => assert!(matches!(message.event, Some(Event::Heartbeat(_)))),
        other => panic!("{wire}: expected the first heartbeat, got {other:?}"),
    }
    watch
}

/// Polls the greeter's `greeter_watchers` gauge until it reads `expected`
/// (the bound is a safety net, not a measure).
async fn watchers_become(greeter: std::net::SocketAddr, expected: f64) {
    for _ in 0..400 {
        if metric(greeter, "greeter_watchers").await == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("greeter_watchers never read {expected}: {}", metric(greeter, "greeter_watchers").await);
}

#[tokio::test]
async fn watches_are_bounded_noticed_and_drained() {
    let auth = support::auth().await;
    let (_, ada) = auth.user("ada@example.com").await;
    let mut config = support::greeter_config(&auth, support::dead_port(), Duration::from_millis(50)).await;
    config.watch = WatchConfig { heartbeat: Duration::from_secs(60), buffer: 4, max_watchers: 3 };
    let server = greeter::build(config).await.unwrap();
    let greeter = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    let client = Client::new(greeter, platform_proto::descriptor_pool()).with_token(&ada);

    // The limit: three open, the fourth refused at once.
    let mut open_watches = Vec::new();
    for wire in [GRPC, Wire::new(Protocol::GrpcWeb), Wire::new(Protocol::ConnectStream(rpc_testkit::Codec::Json))] {
        open_watches.push(open(&client, wire).await);
    }
    watchers_become(greeter, 3.0).await;
    let refused =
        client.stream_all::<_, WatchGreetingsResponse>(GRPC, WATCH, &[WatchGreetingsRequest::default()]).await;
    refused.ending.assert(GRPC, Code::ResourceExhausted, "limit");
    assert!(refused.messages.is_empty());

    // Cancellation: a client that goes away is noticed, its place freed.
    drop(open_watches.pop());
    watchers_become(greeter, 2.0).await;
    open_watches.clear();
    watchers_become(greeter, 0.0).await;

    // A reader that never reads: HTTP/2 flow control stops the server after
    // 1 KiB, the watch's buffer fills, and the watch is dropped.
    let mut stalled = open(&client.with_stream_window(1024), GRPC).await;
    let reading = open(&client, GRPC).await;
    watchers_become(greeter, 2.0).await;
    let dropped_before = metric(greeter, "greeter_watchers_dropped_total{reason=\"slow_reader\"}").await;
    let long_url = format!("http://127.0.0.1:9/{}", "a".repeat(2000));
    let names: Vec<GreetManyRequest> =
        (0..100).map(|i| GreetManyRequest { name: format!("Ada {i:03}"), url: long_url.clone() }).collect();
    let done = client.stream_all::<_, GreetManyResponse>(GRPC, GREET_MANY, &names).await;
    done.ending.assert(GRPC, Code::Ok, "");
    watchers_become(greeter, 1.0).await;
    assert!(
        metric(greeter, "greeter_watchers_dropped_total{reason=\"slow_reader\"}").await > dropped_before,
        "the drop is counted"
    );
    // Read now, the stalled watch gives what it held, then the reason it ended.
    let mut held = 0;
    let ending = loop {
        match stalled.next_within(PATIENCE).await {
            Some(Item::Message { .. }) => held += 1,
            Some(Item::End(ending)) => break ending,
            None => panic!("the stalled watch never ended"),
        }
    };
    ending.assert(GRPC, Code::ResourceExhausted, "did not keep up");
    assert!(held < 100, "it held {held} of the 100 greetings");
    println!("the stalled watch held {held} of 100 greetings of about 2 KiB when it was dropped");

    // Shutdown: the watch still open ends with UNAVAILABLE, at once, not at the grace period's end.
    let started = std::time::Instant::now();
    let _ = stop.send(());
    let mut reading = reading;
    let ending = loop {
        match reading.next_within(PATIENCE).await {
            Some(Item::Message { .. }) => continue,
            Some(Item::End(ending)) => break ending,
            None => panic!("the open watch did not end at shutdown"),
        }
    };
    ending.assert(GRPC, Code::Unavailable, "shutting down");
    serving.await.unwrap().unwrap();
    println!("shutdown ended the open watch and stopped in {:?}", started.elapsed());
}
