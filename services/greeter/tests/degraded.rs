//! A slow or dead caller never fails a greeting.

mod support;

use std::time::{Duration, Instant};

use platform_proto::greeter::v1::{GreetRequest, ListGreetingsRequest};

#[tokio::test]
async fn caller_down_still_greets_and_records_the_error() {
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let greeter = support::greeter(&auth, support::dead_port(), Duration::from_secs(2)).await;
    let mut client = support::client(format!("http://{greeter}"), &token).await;
    let r = client
        .greet(GreetRequest { name: "Ada".into(), url: "https://example.com/".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.greeting, "Hello, Ada!");
    assert_eq!(r.external_status, 0);
    assert!(r.external_error.contains("unavailable"), "{}", r.external_error);
    let stored = client.list_greetings(ListGreetingsRequest::default()).await.unwrap().into_inner();
    assert_eq!(stored.greetings[0].external_error, r.external_error);
}

#[tokio::test]
async fn slow_external_call_is_cut_at_the_deadline() {
    let target = support::target().await;
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let caller = support::caller(&auth).await;
    let greeter = support::greeter(&auth, caller, Duration::from_millis(300)).await;
    let mut client = support::client(format!("http://{greeter}"), &token).await;
    let start = Instant::now();
    let r = client
        .greet(GreetRequest { name: "Ada".into(), url: format!("http://{target}/slow") })
        .await
        .unwrap()
        .into_inner();
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    assert_eq!(r.external_status, 0);
    // caller gave up in time to record the call and answer within greeter's budget.
    assert!(r.external_error.contains("caller's deadline left no more time"), "{}", r.external_error);
}

#[tokio::test]
async fn refused_destination_is_reported_not_fatal() {
    // caller's default policy refuses private addresses.
    let auth = support::auth().await;
    let (_, token) = auth.user("ada@example.com").await;
    let caller = support::caller(&auth).await;
    let greeter = support::greeter(&auth, caller, Duration::from_secs(2)).await;
    let mut client = support::client(format!("http://{greeter}"), &token).await;
    let r =
        client.greet(GreetRequest { name: "Ada".into(), url: "http://10.1.2.3/".into() }).await.unwrap().into_inner();
    assert_eq!(r.external_error, format!("caller: permission_denied: {}", caller::service::REFUSED));
}
