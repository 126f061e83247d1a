//! Who may call greeter, sent straight to the service (no edge): every RPC
//! against its declared level, and greetings that belong to their makers.

mod support;

use std::time::Duration;

use platform_proto::greeter::v1::{GreetRequest, ListGreetingsRequest};
use tonic::Code;

#[tokio::test]
async fn every_rpc_enforces_its_declared_level() {
    let auth = support::auth().await;
    let caller = support::caller(&auth).await;
    let greeter = support::greeter(&auth, caller, Duration::from_secs(2)).await;
    let checked = auth.walk(&format!("http://{greeter}"), greeter::service::ACCESS, "gateway").await;
    assert_eq!(checked, greeter::service::ACCESS.len() * 5);
}

#[tokio::test]
async fn users_list_only_their_own_greetings_and_admins_list_all() {
    let auth = support::auth().await;
    let target = support::target().await;
    let caller = support::caller(&auth).await;
    let greeter = support::greeter(&auth, caller, Duration::from_secs(2)).await;
    let base = format!("http://{greeter}");
    let (_, ada) = auth.user("ada@example.com").await;
    let (_, bob) = auth.user("bob@example.com").await;
    let (_, admin) = auth.admin("root@example.com").await;
    let mut ada = support::client(&base, &ada).await;
    let mut bob = support::client(&base, &bob).await;
    let mut admin = support::client(&base, &admin).await;

    let secret_url = format!("http://{target}/ok?ada-only");
    let made = ada.greet(GreetRequest { name: "Ada".into(), url: secret_url.clone() }).await.unwrap().into_inner();
    assert_eq!(made.external_status, 200, "greeter's service token got it through caller");
    bob.greet(GreetRequest { name: "Bob".into(), url: String::new() }).await.unwrap();

    let names = |list: platform_proto::greeter::v1::ListGreetingsResponse| {
        list.greetings.into_iter().map(|g| g.name).collect::<Vec<_>>()
    };
    assert_eq!(names(ada.list_greetings(ListGreetingsRequest::default()).await.unwrap().into_inner()), ["Ada"]);
    let bobs = bob.list_greetings(ListGreetingsRequest::default()).await.unwrap().into_inner();
    assert!(bobs.greetings.iter().all(|g| g.url != secret_url), "Bob never sees Ada's greetings or URLs");
    assert_eq!(names(bobs), ["Bob"]);
    assert_eq!(
        names(admin.list_greetings(ListGreetingsRequest::default()).await.unwrap().into_inner()),
        ["Bob", "Ada"]
    );

    // Neither a missing nor a service token makes or lists greetings.
    let mut anonymous = support::client(&base, "").await;
    let err = anonymous.list_greetings(ListGreetingsRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut service = support::client(&base, &auth.service_token("gateway").await).await;
    let err = service.greet(GreetRequest { name: "Eve".into(), url: String::new() }).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// Credentials and query strings in a URL are used for the call but never
/// stored, listed or logged.
#[tokio::test]
async fn url_secrets_are_neither_stored_nor_returned() {
    let auth = support::auth().await;
    let target = support::target().await;
    let caller = support::caller(&auth).await;
    let greeter = support::greeter(&auth, caller, Duration::from_secs(2)).await;
    let (_, token) = auth.user("ada@example.com").await;
    let mut client = support::client(format!("http://{greeter}"), &token).await;
    let url = format!("http://alice:S3cretPw@{target}/ok?token=abc123#frag");
    let made = client.greet(GreetRequest { name: "Ada".into(), url }).await.unwrap().into_inner();
    assert_eq!(made.external_status, 200, "the call itself used the URL as given");
    let listed = client.list_greetings(ListGreetingsRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.greetings[0].url, format!("http://{target}/ok"));
    let text = format!("{listed:?}");
    assert!(!text.contains("S3cretPw") && !text.contains("abc123") && !text.contains("alice"), "{text}");
}
