//! greeter's part in deleting an account, as far as watches go: when a
//! user's greetings are deleted, every replica ends that user's
//! `WatchGreetings` streams with PERMISSION_DENIED, on commit, and nobody
//! else's. (The saga itself, with every participant, is in gateway's
//! tests/saga.rs.)

mod support;

use std::time::Duration;

use platform_proto::greeter::v1::{WatchGreetingsRequest, WatchGreetingsResponse, watch_greetings_response::Event};
use rpc_testkit::{Client, Item, Protocol, Stream, Wire};
use sqlx::{Connection, PgConnection};
use tonic::Code;

const WATCH: &str = "/greeter.v1.GreeterService/WatchGreetings";
const GRPC: Wire = Wire::new(Protocol::Grpc);
const PATIENCE: Duration = Duration::from_secs(10);

async fn open(client: &Client) -> Stream<WatchGreetingsResponse> {
    let mut watch: Stream<WatchGreetingsResponse> =
        client.stream(GRPC, WATCH, &[WatchGreetingsRequest::default()]).await;
    match watch.next_within(PATIENCE).await {
        Some(Item::Message { message, .. }) => assert!(matches!(message.event, Some(Event::Heartbeat(_)))),
        other => panic!("expected the first heartbeat, got {other:?}"),
    }
    watch
}

async fn ending(watch: &mut Stream<WatchGreetingsResponse>) -> rpc_testkit::Ending {
    loop {
        match watch.next_within(PATIENCE).await {
            Some(Item::Message { .. }) => continue,
            Some(Item::End(ending)) => return ending,
            None => panic!("the watch did not end"),
        }
    }
}

#[tokio::test]
async fn deleting_a_users_greetings_ends_their_watches_on_every_replica() {
    let auth = support::auth().await;
    let (ada_id, ada) = auth.user("ada@example.com").await;
    let (_, bob) = auth.user("bob@example.com").await;
    // Two replicas of greeter on one database.
    let config = support::greeter_config(&auth, support::dead_port(), Duration::from_millis(50)).await;
    let db = config.common.database.clone();
    let mut second = support::greeter_config(&auth, support::dead_port(), Duration::from_millis(50)).await;
    second.common.database = db.clone();
    let mut replicas = Vec::new();
    for config in [config, second] {
        let server = greeter::build(config).await.unwrap();
        replicas.push(server.local_addr());
        tokio::spawn(server.run_until(std::future::pending()));
    }
    let descriptors = platform_proto::descriptor_pool();
    let client = |replica, token| Client::new(replica, descriptors).with_token(token);
    let mut ada_first = open(&client(replicas[0], &ada)).await;
    let mut ada_second = open(&client(replicas[1], &ada)).await;
    let mut bob_first = open(&client(replicas[0], &bob)).await;

    // What greeter's deletion consumer does, in a transaction of its own.
    let mut conn = PgConnection::connect_with(&db.url.options).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    greeter::store::delete_owner(&mut tx, &ada_id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx.commit().await.unwrap();

    for watch in [&mut ada_first, &mut ada_second] {
        ending(watch).await.assert(GRPC, Code::PermissionDenied, "being deleted");
    }
    // bob's watch is still open: it gets the next heartbeat-free greeting or
    // nothing, but does not end.
    assert!(
        !matches!(bob_first.next_within(Duration::from_millis(500)).await, Some(Item::End(_))),
        "another user's watch stays open"
    );
}
