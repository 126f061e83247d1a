//! greeter's `greeting.created`, through its outbox and relay to a real
//! nats-server: one per stored greeting, Greet and GreetMany alike, none for
//! a GreetMany stream that stores nothing.

mod support;

use std::time::Duration;

use events::{subjects, v1};
use platform_proto::greeter::v1::{GreetManyRequest, GreetRequest};
use prost::Message;
use testkit::nats::Nats;

#[tokio::test]
async fn stored_greetings_publish_greeting_created() {
    let nats = Nats::start();
    let url = nats.url();
    let auth = support::auth().await;
    let (ada_id, token) = auth.user("ada@example.com").await;
    let mut config = support::greeter_config(&auth, support::dead_port(), Duration::from_millis(200)).await;
    config.events.nats_url = url.clone();
    let server = greeter::build(config).await.unwrap();
    let base = format!("http://{}", server.local_addr());
    tokio::spawn(server.run_until(std::future::pending()));
    let mut client = support::client(&base, &token).await;

    let one = client.greet(GreetRequest { name: "Ada".into(), url: String::new() }).await.unwrap().into_inner();
    let names = ["Grace", "Alan"].map(|name| GreetManyRequest { name: name.into(), url: String::new() });
    client.greet_many(futures_util::stream::iter(names)).await.unwrap();
    // A stream with a bad name stores none, so publishes none.
    let bad = ["Edsger", ""].map(|name| GreetManyRequest { name: name.into(), url: String::new() });
    assert!(client.greet_many(futures_util::stream::iter(bad)).await.is_err());

    let wait = Duration::from_secs(20);
    events::inspect::wait_for(&url, "platform-greeter", 3, wait).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let published = events::inspect::wait_for(&url, "platform-greeter", 3, wait).await.unwrap();
    assert_eq!(published.len(), 3, "one event per stored greeting");
    let created: Vec<v1::GreetingCreated> = published
        .iter()
        .map(|e| {
            assert_eq!((e.kind.as_str(), e.source.as_str()), (subjects::GREETING_CREATED, "/greeter"));
            v1::GreetingCreated::decode(&e.data[..]).unwrap()
        })
        .collect();
    assert_eq!(created.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["Ada", "Grace", "Alan"]);
    assert_eq!(created[0].greeting_id, one.greeting_id);
    assert_eq!(published[0].subject.as_deref(), Some(one.greeting_id.to_string().as_str()));
    assert!(created.iter().all(|c| c.owner == ada_id));
}
