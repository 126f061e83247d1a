//! lang's `translation.changed`, through its outbox and relay to a real
//! nats-server: one per write or delete, none for a refused write.

mod support;

use std::time::Duration;

use events::{subjects, v1};
use prost::Message;
use serde_json::json;
use testkit::nats::Nats;

#[tokio::test]
async fn translation_writes_and_deletes_publish_translation_changed() {
    let nats = Nats::start();
    let url = nats.url();
    let lang = support::spawn_with(|c| c.events.nats_url = url.clone()).await;
    let (_, admin) = lang.auth.admin("root@example.com").await;
    let http = reqwest::Client::new();
    let at = format!("{}/lang/v1/translations/fr/greeting", lang.base);
    let put = http.put(&at).bearer_auth(&admin).json(&json!({ "template": "Salut, {name} !" })).send().await.unwrap();
    assert!(put.status().is_success());
    // Refused: an unknown language; a template without {name}.
    let unknown = format!("{}/lang/v1/translations/xx/greeting", lang.base);
    let refused = http.put(&unknown).bearer_auth(&admin).json(&json!({ "template": "Hi, {name}" })).send().await;
    assert_eq!(refused.unwrap().status(), 422);
    let bad = http.put(&at).bearer_auth(&admin).json(&json!({ "template": "no name" })).send().await.unwrap();
    assert_eq!(bad.status(), 422);
    assert_eq!(http.delete(&at).bearer_auth(&admin).send().await.unwrap().status(), 204);

    let wait = Duration::from_secs(20);
    events::inspect::wait_for(&url, "platform-lang", 2, wait).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let published = events::inspect::wait_for(&url, "platform-lang", 2, wait).await.unwrap();
    assert_eq!(published.len(), 2, "one event per change");
    let changes: Vec<(String, String, bool)> = published
        .iter()
        .map(|e| {
            assert_eq!((e.kind.as_str(), e.source.as_str()), (subjects::TRANSLATION_CHANGED, "/lang"));
            assert_eq!(e.subject.as_deref(), Some("fr/greeting"));
            let c = v1::TranslationChanged::decode(&e.data[..]).unwrap();
            (c.language, c.key, c.deleted)
        })
        .collect();
    assert_eq!(
        changes,
        [("fr".into(), "greeting".into(), false), ("fr".into(), "greeting".into(), true)],
        "the write, then the delete, in order"
    );
}

#[tokio::test]
async fn setting_a_preference_publishes_preference_changed() {
    let nats = Nats::start();
    let url = nats.url();
    let lang = support::spawn_with(|c| c.events.nats_url = url.clone()).await;
    let (ada, token) = lang.auth.user("ada@example.com").await;
    let http = reqwest::Client::new();
    let at = format!("{}/lang/v1/preferences/me", lang.base);
    for language in ["fr", "xx", "de"] {
        let res = http.put(&at).bearer_auth(&token).json(&json!({ "language": language })).send().await.unwrap();
        assert_eq!(res.status().is_success(), language != "xx", "{language}: {}", res.status());
    }

    let wait = Duration::from_secs(20);
    events::inspect::wait_for(&url, "platform-lang", 2, wait).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let published = events::inspect::wait_for(&url, "platform-lang", 2, wait).await.unwrap();
    let changes: Vec<(String, String)> = published
        .iter()
        .map(|e| {
            assert_eq!((e.kind.as_str(), e.subject.as_deref()), (subjects::PREFERENCE_CHANGED, Some(ada.as_str())));
            let c = v1::PreferenceChanged::decode(&e.data[..]).unwrap();
            (c.user_id, c.language)
        })
        .collect();
    assert_eq!(changes, [(ada.clone(), "fr".into()), (ada, "de".into())], "each change once, none for a refused one");
}
