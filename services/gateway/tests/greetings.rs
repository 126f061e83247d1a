//! LocalizedGreeting: real lang and auth, a real tonic client and Connect
//! JSON; loopback stand-ins for a lang that fails, hangs or refuses.

mod support;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Json, Router, http::StatusCode, routing::get};
use platform_proto::gateway::v1::{LocalizedGreetingRequest, Source};
use serde_json::{Value, json};
use support::{Auth, Gateway, Neighbours, authorized};
use tonic::Code;

fn ask(name: &str, language: &str) -> LocalizedGreetingRequest {
    LocalizedGreetingRequest { name: name.into(), language: language.into() }
}

#[tokio::test]
async fn greets_in_several_languages_through_lang() {
    let auth = Auth::start().await;
    let gateway = Gateway::with(&Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None }).await;
    let token = auth.token("ada@example.com").await;
    let mut client = gateway.client().await;

    for (language, greeting, answered, fallback) in [
        ("fr", "Bonjour, Ada !", "fr", false),
        ("de", "Hallo, Ada!", "de", false),
        ("ja", "こんにちは、Adaさん!", "ja", false),
        ("pt-BR", "Olá, Ada!", "pt", true),
        ("", "Hello, Ada!", "en", false),
        ("xx", "Hello, Ada!", "en", true),
    ] {
        let r = client.localized_greeting(authorized(ask("  Ada ", language), &token)).await.unwrap().into_inner();
        assert_eq!(
            (r.greeting.as_str(), r.language.as_str(), r.fallback, r.source()),
            (greeting, answered, fallback, Source::Upstream),
            "{language:?}"
        );
    }

    // Connect JSON: the enum by name, camelCase fields.
    let (status, body) =
        gateway.connect("LocalizedGreeting", Some(&token), json!({"name": "Zoë 李", "language": "es"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"greeting": "¡Hola, Zoë 李!", "language": "es", "source": "SOURCE_UPSTREAM"}));
}

#[tokio::test]
async fn a_repeated_question_is_answered_from_the_cache() {
    let auth = Auth::start().await;
    let gateway = Gateway::with(&Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None }).await;
    let token = auth.token("ada@example.com").await;
    let mut client = gateway.client().await;

    let first = client.localized_greeting(authorized(ask("Grace", "it"), &token)).await.unwrap().into_inner();
    assert_eq!(first.source(), Source::Upstream);
    // Same name, language in another case: the same answer, from the cache.
    let again = client.localized_greeting(authorized(ask("Grace", "IT"), &token)).await.unwrap().into_inner();
    assert_eq!((again.greeting.as_str(), again.language.as_str()), ("Ciao, Grace!", "it"));
    assert_eq!(again.source(), Source::Cache);
    // Another name is another question.
    let other = client.localized_greeting(authorized(ask("Linus", "it"), &token)).await.unwrap().into_inner();
    assert_eq!(other.source(), Source::Upstream);
}

#[tokio::test]
async fn simultaneous_misses_for_one_question_share_one_call_to_lang() {
    let auth = Auth::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    // Slow enough that every request below arrives while the first is pending.
    let app = Router::new().route(
        "/lang/v1/greeting",
        get(move || {
            seen.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Json(json!({"greeting": "Hej, Ada!", "language": "sv", "fallback": false}))
            }
        }),
    );
    let lang = support::serve(app).await;
    let gateway = Gateway::with(&Neighbours { lang, auth: auth.addr, jwks: None }).await;
    let token = auth.token("ada@example.com").await;
    let client = gateway.client().await;

    let mut asks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let mut client = client.clone();
        let request = authorized(ask("Ada", "sv"), &token);
        asks.spawn(async move { client.localized_greeting(request).await.unwrap().into_inner() });
    }
    let answers = asks.join_all().await;
    assert!(answers.iter().all(|a| a.greeting == "Hej, Ada!"), "{answers:?}");
    assert_eq!(answers.iter().filter(|a| a.source() == Source::Upstream).count(), 1, "{answers:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one call to lang for eight simultaneous questions");
}

#[tokio::test]
async fn the_cache_can_be_turned_off() {
    let auth = Auth::start().await;
    let n = Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None };
    let gateway = Gateway::start(support::config(&n, &[("GATEWAY_CACHE_TTL_MS", "0")]).await).await;
    let token = auth.token("ada@example.com").await;
    let mut client = gateway.client().await;
    for _ in 0..2 {
        let r = client.localized_greeting(authorized(ask("Grace", "it"), &token)).await.unwrap().into_inner();
        assert_eq!(r.source(), Source::Upstream);
    }
}

#[tokio::test]
async fn lang_down_means_the_built_in_english_greeting() {
    let auth = Auth::start().await;
    let gateway = Gateway::with(&Neighbours { lang: support::dead_port(), auth: auth.addr, jwks: None }).await;
    let token = auth.token("ada@example.com").await;
    let mut client = gateway.client().await;
    let r = client.localized_greeting(authorized(ask("Ada", "fr"), &token)).await.unwrap().into_inner();
    assert_eq!(
        (r.greeting.as_str(), r.language.as_str(), r.fallback, r.source()),
        ("Hello, Ada!", "en", true, Source::Fallback)
    );
    let (status, body) = gateway.connect("LocalizedGreeting", Some(&token), json!({"name": "Ada"})).await;
    assert_eq!((status, &body["source"], &body["greeting"]), (200, &json!("SOURCE_FALLBACK"), &json!("Hello, Ada!")));
    assert_eq!(body.get("fallback"), None, "English was asked for: not a language fallback");
}

/// A lang stand-in: counts calls and answers with `status` and `body`.
async fn fake_lang(status: StatusCode, body: Value) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let app = Router::new().route(
        "/lang/v1/greeting",
        get(move || {
            let body = body.clone();
            seen.fetch_add(1, Ordering::SeqCst);
            async move { (status, Json(body)) }
        }),
    );
    (support::serve(app).await, calls)
}

#[tokio::test]
async fn lang_refusing_the_request_is_invalid_argument_not_a_fallback() {
    let auth = Auth::start().await;
    let refusal = json!({"error": {"code": "invalid_name", "message": "name contains a word lang will not say"}});
    let (lang, calls) = fake_lang(StatusCode::BAD_REQUEST, refusal).await;
    let gateway = Gateway::with(&Neighbours { lang, auth: auth.addr, jwks: None }).await;
    let token = auth.token("ada@example.com").await;
    let mut client = gateway.client().await;

    let err = client.localized_greeting(authorized(ask("Ada", "fr"), &token)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("lang will not say"), "{}", err.message());
    let (status, body) = gateway.connect("LocalizedGreeting", Some(&token), json!({"name": "Ada"})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_argument")), "{body}");
    // Bad input is not retried and does not open the breaker.
    for _ in 0..8 {
        let err = client.localized_greeting(authorized(ask("Ada", "fr"), &token)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn lang_failing_opens_the_breaker_and_greetings_fall_back_without_calling_it() {
    let auth = Auth::start().await;
    let (lang, calls) =
        fake_lang(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": {"code": "x", "message": "x"}})).await;
    let n = Neighbours { lang, auth: auth.addr, jwks: None };
    let config = support::config(&n, &[("LANG_BREAKER_FAILURES", "3"), ("LANG_BREAKER_COOLDOWN_MS", "600000")]).await;
    let gateway = Gateway::start(config).await;
    let token = auth.token("ada@example.com").await;
    let mut client = gateway.client().await;
    for i in 0..6 {
        let r = client.localized_greeting(authorized(ask("Ada", "fr"), &token)).await.unwrap().into_inner();
        assert_eq!(r.source(), Source::Fallback, "call {i}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3, "after 3 failures the breaker answers for lang");
}

#[tokio::test]
async fn an_intermittent_failure_is_retried() {
    let auth = Auth::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let app = Router::new().route(
        "/lang/v1/greeting",
        get(move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": {"code": "x", "message": "busy"}}))),
                    _ => {
                        (StatusCode::OK, Json(json!({"greeting": "Salut, Ada !", "language": "fr", "fallback": false})))
                    }
                }
            }
        }),
    );
    let n = Neighbours { lang: support::serve(app).await, auth: auth.addr, jwks: None };
    let gateway = Gateway::start(support::config(&n, &[("LANG_RETRIES", "2")]).await).await;
    let token = auth.token("ada@example.com").await;
    let r = gateway.client().await.localized_greeting(authorized(ask("Ada", "fr"), &token)).await.unwrap().into_inner();
    assert_eq!((r.greeting.as_str(), r.source()), ("Salut, Ada !", Source::Upstream));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_hanging_lang_still_gets_an_answer_within_the_callers_deadline() {
    let auth = Auth::start().await;
    let app = Router::new().route(
        "/lang/v1/greeting",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "late"
        }),
    );
    let n = Neighbours { lang: support::serve(app).await, auth: auth.addr, jwks: None };
    // lang may take 30 s per attempt; the client gives the whole call 1.5 s.
    let gateway = Gateway::start(support::config(&n, &[("LANG_TIMEOUT_MS", "30000")]).await).await;
    let token = auth.token("ada@example.com").await;
    let res = reqwest::Client::new()
        .post(gateway.url("/gateway.v1.GatewayService/LocalizedGreeting"))
        .header("content-type", "application/json")
        .header("connect-timeout-ms", "1500")
        .bearer_auth(&token)
        .body(r#"{"name":"Ada","language":"fr"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["source"], "SOURCE_FALLBACK", "{body}");
}

#[tokio::test]
async fn the_trace_continues_to_lang() {
    let auth = Auth::start().await;
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let record = seen.clone();
    let app = Router::new().route(
        "/lang/v1/greeting",
        get(move |headers: axum::http::HeaderMap| {
            let tp = headers.get("traceparent").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            record.lock().unwrap().push(tp);
            async { Json(json!({"greeting": "Hallo, Ada!", "language": "de", "fallback": false})) }
        }),
    );
    let gateway = Gateway::with(&Neighbours { lang: support::serve(app).await, auth: auth.addr, jwks: None }).await;
    let token = auth.token("ada@example.com").await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let res = reqwest::Client::new()
        .post(gateway.url("/gateway.v1.GatewayService/LocalizedGreeting"))
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .bearer_auth(&token)
        .body(r#"{"name":"Ada","language":"de"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let parts: Vec<&str> = seen[0].split('-').collect();
    assert_eq!(parts.len(), 4, "traceparent {:?}", seen[0]);
    assert_eq!(parts[1], trace_id);
}

#[tokio::test]
async fn bad_names_and_languages_are_invalid_argument() {
    let auth = Auth::start().await;
    let gateway = Gateway::with(&Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None }).await;
    let token = auth.token("ada@example.com").await;
    let mut client = gateway.client().await;
    for (name, language, needle) in [
        ("", "fr", "name is required"),
        ("   ", "", "name is required"),
        (&"x".repeat(101) as &str, "", "101 characters"),
        ("Ada\u{7}", "", "control character"),
        ("Ada", &"x".repeat(36), "language must be a language tag"),
    ] {
        let err = client.localized_greeting(authorized(ask(name, language), &token)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{name:?} {language:?}");
        assert!(err.message().contains(needle), "{}", err.message());
    }
    let (status, body) = gateway.connect("LocalizedGreeting", Some(&token), json!({"name": ""})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_argument")));
    assert!(body["message"].as_str().unwrap().contains("name is required"), "{body}");
}

/// `token` carrying `other`'s claims: the signature no longer matches.
fn swap_payload(token: &str, other: &str) -> String {
    let t: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", t[0], other.split('.').nth(1).unwrap(), t[2])
}

#[tokio::test]
async fn greetings_need_a_valid_access_token() {
    let auth = Auth::start().await;
    let gateway = Gateway::with(&Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None }).await;
    let token = auth.token("ada@example.com").await;
    let other = auth.token("mallory@example.com").await;
    // A token from another auth server, signed with another key.
    let stranger = Auth::start().await.token("ada@example.com").await;
    let mut client = gateway.client().await;

    let err = client.localized_greeting(ask("Ada", "fr")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("no bearer token"), "{}", err.message());
    for forged in [swap_payload(&token, &other), stranger, "not.a.jwt".into()] {
        let err = client.localized_greeting(authorized(ask("Ada", "fr"), &forged)).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{forged}");
    }
    let (status, body) = gateway.connect("LocalizedGreeting", None, json!({"name": "Ada"})).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")));
    let (status, _) = gateway.connect("Metrics", None, json!({})).await;
    assert_eq!(status, 401, "Metrics needs a token too");

    // The real token works.
    let r = client.localized_greeting(authorized(ask("Ada", "fr"), &token)).await.unwrap().into_inner();
    assert_eq!(r.greeting, "Bonjour, Ada !");
}

/// The cache fill is shared work: a client with a short deadline gets the
/// fallback itself, but the others waiting for the same greeting get lang's
/// answer (the fill ran under the first requester's deadline, and they all
/// got the fallback).
#[tokio::test]
async fn a_short_deadline_does_not_hand_waiters_the_fallback() {
    let auth = Auth::start().await;
    let app = Router::new().route(
        "/lang/v1/greeting",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            Json(json!({"greeting": "Hej, Ada!", "language": "sv", "fallback": false}))
        }),
    );
    let lang = support::serve(app).await;
    let gateway = Gateway::with(&Neighbours { lang, auth: auth.addr, jwks: None }).await;
    let token = auth.token("ada@example.com").await;
    let ask = |deadline: Option<&'static str>| {
        let mut req = reqwest::Client::new()
            .post(gateway.url("/gateway.v1.GatewayService/LocalizedGreeting"))
            .header("content-type", "application/json")
            .bearer_auth(&token)
            .body(r#"{"name":"Ada","language":"sv"}"#);
        if let Some(ms) = deadline {
            req = req.header("connect-timeout-ms", ms);
        }
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let hurried = tokio::spawn(ask(Some("100")));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let patient: Vec<_> = (0..4).map(|_| tokio::spawn(ask(None))).collect();
    assert_eq!(hurried.await.unwrap()["source"], "SOURCE_FALLBACK", "its own deadline passed");
    for answer in patient {
        let answer = answer.await.unwrap();
        assert_eq!(answer["greeting"], "Hej, Ada!", "{answer}");
    }
}
