//! A changed translation is served at once, not after the cache's 30 s
//! TTL: lang's `translation.changed` reaches every gateway through a real
//! nats-server and drops its cached greetings.

mod support;

use std::time::{Duration, Instant};

use platform_proto::gateway::v1::{LocalizedGreetingRequest, Source};
use serde_json::json;
use support::{Auth, Gateway, Neighbours, authorized};
use testkit::nats::Nats;

#[tokio::test]
async fn a_changed_translation_is_served_well_inside_the_cache_ttl() {
    let nats = Nats::start();
    let auth = Auth::start().await;
    let lang = support::lang_with_events(&auth, &nats.url()).await;
    let n = Neighbours { lang, auth: auth.addr, jwks: None };
    // Two replicas, each with its own cache: both must hear the change.
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let mut config = support::config(&n, &[]).await;
        config.events.nats_url = nats.url();
        assert_eq!(config.cache.ttl, Duration::from_secs(30), "the default TTL, unchanged");
        replicas.push(Gateway::start(config).await);
    }
    let token = auth.token("ada@example.com").await;
    let (_, admin) = auth.fixture.admin("root@example.com").await;
    let ask = || LocalizedGreetingRequest { name: "Ada".into(), language: "fr".into() };

    for gateway in &replicas {
        let mut client = gateway.client().await;
        let first = client.localized_greeting(authorized(ask(), &token)).await.unwrap().into_inner();
        let again = client.localized_greeting(authorized(ask(), &token)).await.unwrap().into_inner();
        assert_eq!((first.greeting.as_str(), again.source()), ("Bonjour, Ada !", Source::Cache));
    }
    // The subscriptions are made at start-up; give them a moment before the change.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let put = reqwest::Client::new()
        .put(format!("http://{lang}/lang/v1/translations/fr/greeting"))
        .bearer_auth(&admin)
        .json(&json!({ "template": "Salut, {name} !" }))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let changed = Instant::now();
    for (i, gateway) in replicas.iter().enumerate() {
        let mut client = gateway.client().await;
        let answer = support::eventually(|| {
            let mut client = client.clone();
            let token = token.clone();
            async move {
                let r = client.localized_greeting(authorized(ask(), &token)).await.unwrap().into_inner();
                (r.greeting == "Salut, Ada !").then_some(r)
            }
        })
        .await;
        let delay = changed.elapsed();
        eprintln!("replica {i}: the changed translation was served {delay:?} after the write (cache TTL 30 s)");
        assert!(delay < Duration::from_secs(15), "{delay:?}: not evicted, only expired");
        assert_eq!(answer.source(), Source::Upstream, "asked lang again");
        let cached = client.localized_greeting(authorized(ask(), &token)).await.unwrap().into_inner();
        assert_eq!((cached.greeting.as_str(), cached.source()), ("Salut, Ada !", Source::Cache));
    }
}
