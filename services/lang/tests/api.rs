//! lang end to end: a real PostgreSQL, the service on a random port, and
//! reqwest over loopback.

mod support;

use auth::testing::Fixture;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

struct Lang {
    base: url::Url,
    /// Presents an admin's token: the translation writes below are admin routes.
    http: reqwest::Client,
    auth: Fixture,
}

/// An HTTP client presenting `token` on every request.
fn with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    reqwest::Client::builder().no_proxy().default_headers(headers).build().unwrap()
}

async fn spawn() -> Lang {
    let served = support::spawn_with(|_| {}).await;
    let (_, admin) = served.auth.admin("root@example.com").await;
    Lang { base: served.base.parse().unwrap(), http: with_token(&admin), auth: served.auth }
}

impl Lang {
    /// A URL from path segments, each percent-encoded as needed.
    fn url(&self, segments: &[&str]) -> url::Url {
        let mut u = self.base.clone();
        u.path_segments_mut().unwrap().extend(segments);
        u
    }

    async fn get(&self, segments: &[&str]) -> Response {
        self.http.get(self.url(segments)).send().await.unwrap()
    }

    async fn put(&self, segments: &[&str], body: Value) -> Response {
        self.http.put(self.url(segments)).json(&body).send().await.unwrap()
    }

    async fn delete(&self, segments: &[&str]) -> Response {
        self.http.delete(self.url(segments)).send().await.unwrap()
    }

    /// `/lang/v1/stats` as gateway reads it, with its service token.
    async fn stats(&self) -> Value {
        let gateway = with_token(&self.auth.service_token("gateway").await);
        let res = gateway.get(self.url(&["lang", "v1", "stats"])).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    async fn greet(&self, query: &[(&str, &str)]) -> Response {
        self.http.get(self.url(&["lang", "v1", "greeting"])).query(query).send().await.unwrap()
    }

    async fn greeting(&self, query: &[(&str, &str)]) -> Value {
        let res = self.greet(query).await;
        assert_eq!(res.status(), 200, "{query:?}");
        res.json().await.unwrap()
    }
}

/// Asserts the error shape; returns the code and message.
async fn error(res: Response, status: StatusCode) -> (String, String) {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    (body["error"]["code"].as_str().unwrap().to_owned(), body["error"]["message"].as_str().unwrap().to_owned())
}

const TRANSLATION: [&str; 3] = ["lang", "v1", "translations"];

fn translation<'a>(language: &'a str, key: &'a str) -> [&'a str; 5] {
    [TRANSLATION[0], TRANSLATION[1], TRANSLATION[2], language, key]
}

const MY_PREFERENCE: [&str; 4] = ["lang", "v1", "preferences", "me"];

#[tokio::test]
async fn greets_in_the_language_asked_for_or_falls_back_to_english() {
    let lang = spawn().await;
    assert_eq!(
        lang.greeting(&[("name", "Ada"), ("language", "fr")]).await,
        json!({"greeting": "Bonjour, Ada !", "language": "fr", "fallback": false})
    );
    assert_eq!(lang.greeting(&[("name", "Ada"), ("language", "FR")]).await["language"], "fr");
    assert_eq!(lang.greeting(&[("name", "Ada"), ("language", "ja")]).await["greeting"], "こんにちは、Adaさん!");
    assert_eq!(
        lang.greeting(&[("name", "Ada")]).await,
        json!({"greeting": "Hello, Ada!", "language": "en", "fallback": false})
    );
    for unknown in ["xx", "tlh", "fr'; DROP TABLE translations;--", "!!"] {
        assert_eq!(
            lang.greeting(&[("name", "Ada"), ("language", unknown)]).await,
            json!({"greeting": "Hello, Ada!", "language": "en", "fallback": true}),
            "{unknown}"
        );
    }
    // A regional tag falls back to its language before English.
    assert_eq!(
        lang.greeting(&[("name", "Ada"), ("language", "pt-BR")]).await,
        json!({"greeting": "Olá, Ada!", "language": "pt", "fallback": true})
    );
}

#[tokio::test]
async fn names_are_validated_and_returned_intact() {
    let lang = spawn().await;
    for (name, needle) in [("", "required"), ("   ", "required"), ("Ada\u{0}", "control"), ("A\nda", "control")] {
        let (code, message) = error(lang.greet(&[("name", name)]).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(code, "invalid_name");
        assert!(message.contains(needle), "{name:?}: {message}");
    }
    error(lang.greet(&[]).await, StatusCode::BAD_REQUEST).await;
    let long = "é".repeat(101);
    assert!(error(lang.greet(&[("name", &long)]).await, StatusCode::BAD_REQUEST).await.1.contains("101"));
    assert_eq!(lang.greeting(&[("name", &"é".repeat(100))]).await["greeting"], format!("Hello, {}!", "é".repeat(100)));

    for name in ["Robert'); DROP TABLE translations;--", "Zoë 李 🦀", "{name}", "%s %n $1", "Ada  "] {
        let g = lang.greeting(&[("name", name), ("language", "de")]).await;
        assert_eq!(g["greeting"], format!("Hallo, {}!", name.trim()), "{name}");
    }
    let stats = lang.stats().await;
    assert!(stats["translations"].as_i64().unwrap() >= 10, "translations survived: {stats}");
}

#[tokio::test]
async fn at_least_ten_languages_are_seeded() {
    let lang = spawn().await;
    let body: Value = lang.get(&["lang", "v1", "languages"]).await.json().await.unwrap();
    let languages = body["languages"].as_array().unwrap();
    assert!(languages.len() >= 10, "{body}");
    let codes: Vec<&str> = languages.iter().map(|l| l["code"].as_str().unwrap()).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(codes, sorted);
    assert!(languages.contains(&json!({"code": "fr", "name": "French", "native_name": "Français"})));
    // Every seeded language has a greeting in it.
    for code in codes {
        let g = lang.greeting(&[("name", "Ada"), ("language", code)]).await;
        assert_eq!((g["language"].as_str(), &g["fallback"]), (Some(code), &json!(false)), "{code}");
        assert!(g["greeting"].as_str().unwrap().contains("Ada"));
    }
}

#[tokio::test]
async fn translations_are_created_replaced_read_and_deleted() {
    let lang = spawn().await;
    let res = lang.get(&translation("fr", "greeting")).await;
    assert_eq!(res.status(), 200);
    let fr: Value = res.json().await.unwrap();
    assert_eq!(
        (&fr["language"], &fr["key"], &fr["template"]),
        (&json!("fr"), &json!("greeting"), &json!("Bonjour, {name} !"))
    );

    let res = lang.put(&translation("fr", "farewell"), json!({"template": "Au revoir, {name} !"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = lang.put(&translation("FR", "farewell"), json!({"template": "Adieu, {name} !"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = lang.get(&translation("fr", "farewell")).await.json().await.unwrap();
    assert_eq!(body["template"], "Adieu, {name} !");

    assert_eq!(lang.delete(&translation("fr", "farewell")).await.status(), StatusCode::NO_CONTENT);
    let (code, _) = error(lang.get(&translation("fr", "farewell")).await, StatusCode::NOT_FOUND).await;
    assert_eq!(code, "not_found");
    error(lang.delete(&translation("fr", "farewell")).await, StatusCode::NOT_FOUND).await;
    error(lang.get(&translation("xx", "greeting")).await, StatusCode::NOT_FOUND).await;

    // Without its greeting, French falls back to English.
    assert_eq!(lang.delete(&translation("fr", "greeting")).await.status(), 204);
    let g = lang.greeting(&[("name", "Ada"), ("language", "fr")]).await;
    assert_eq!(g, json!({"greeting": "Hello, Ada!", "language": "en", "fallback": true}));

    // Replacing the English greeting changes every fallback.
    let res = lang.put(&translation("en", "greeting"), json!({"template": "Hi there, {name}."})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(lang.greeting(&[("name", "Ada"), ("language", "xx")]).await["greeting"], "Hi there, Ada.");
}

#[tokio::test]
async fn invalid_templates_languages_and_keys_are_refused() {
    let lang = spawn().await;
    for (template, needle) in [
        (json!("Bonjour !"), "{name}"),
        (json!("Bonjour {Name} !"), "{name}"),
        (json!(format!("{}{{name}}", "é".repeat(495))), "501"),
        (json!("Hi {name}\u{1b}[31m"), "control"),
    ] {
        let res = lang.put(&translation("fr", "x"), json!({"template": template})).await;
        let (code, message) = error(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(code, "invalid_template");
        assert!(message.contains(needle), "{message}");
    }
    let at_limit = format!("{}{{name}}", "é".repeat(494));
    assert_eq!(lang.put(&translation("fr", "x"), json!({"template": at_limit})).await.status(), 201);

    let res = lang.put(&translation("xx", "greeting"), json!({"template": "Yo {name}"})).await;
    assert_eq!(error(res, StatusCode::UNPROCESSABLE_ENTITY).await.0, "unknown_language");
    for bad in ["english!", "e", "fr'--"] {
        let res = lang.put(&translation(bad, "greeting"), json!({"template": "Yo {name}"})).await;
        assert_eq!(error(res, StatusCode::BAD_REQUEST).await.0, "invalid_language", "{bad}");
    }
    let long_key = "k".repeat(65);
    for bad in ["Greeting", "a b", "-x", long_key.as_str(), "x'; DROP TABLE translations;--"] {
        let res = lang.put(&translation("fr", bad), json!({"template": "Yo {name}"})).await;
        assert_eq!(error(res, StatusCode::BAD_REQUEST).await.0, "invalid_key", "{bad}");
    }
    let (code, _) = error(lang.delete(&translation("en", "greeting")).await, StatusCode::CONFLICT).await;
    assert_eq!(code, "fallback_template");
    assert_eq!(lang.greeting(&[("name", "Ada")]).await["greeting"], "Hello, Ada!");
}

#[tokio::test]
async fn templates_with_sql_metacharacters_and_non_ascii_are_stored_intact() {
    let lang = spawn().await;
    let template = "'); DROP TABLE translations;-- «{name}» — 你好 🦀 \"quoted\" \\ {name}";
    let res = lang.put(&translation("zh", "weird.key_1-x"), json!({"template": template})).await;
    assert_eq!(res.status(), 201);
    let body: Value = lang.get(&translation("zh", "weird.key_1-x")).await.json().await.unwrap();
    assert_eq!(body["template"], template);
    let stats = lang.stats().await;
    assert!(stats["translations"].as_i64().unwrap() >= 11, "{stats}");
}

#[tokio::test]
async fn preferences_are_the_callers_own_and_used_only_with_their_token() {
    let lang = spawn().await;
    let (ada_id, ada) = lang.auth.user("ada@example.com").await;
    let (_, bob) = lang.auth.user("bob@example.com").await;
    let (ada, bob, anonymous) = (with_token(&ada), with_token(&bob), reqwest::Client::new());
    let url = lang.url(&MY_PREFERENCE);
    error(ada.get(url.clone()).send().await.unwrap(), StatusCode::NOT_FOUND).await;

    let res = ada.put(url.clone()).json(&json!({"language": "DE"})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!((&body["user_id"], &body["language"]), (&json!(ada_id), &json!("de")));
    let body: Value = ada.get(url.clone()).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["language"], "de");
    // Bob sees only his own (none), whatever Ada set.
    error(bob.get(url.clone()).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    // Nobody reads or sets a preference without a token.
    error(anonymous.get(url.clone()).send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    error(anonymous.put(url.clone()).json(&json!({"language": "fr"})).send().await.unwrap(), StatusCode::UNAUTHORIZED)
        .await;

    let greeting = |client: reqwest::Client, query: Vec<(&'static str, &'static str)>| {
        let url = lang.url(&["lang", "v1", "greeting"]);
        async move {
            let res = client.get(url).query(&query).send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    let g = greeting(ada.clone(), vec![("name", "Ada")]).await;
    assert_eq!(g, json!({"greeting": "Hallo, Ada!", "language": "de", "fallback": false}));
    // An explicit language wins over the preference.
    assert_eq!(greeting(ada.clone(), vec![("name", "Ada"), ("language", "es")]).await["language"], "es");
    // Without a token, or with another user's, Ada's preference is not used;
    // the old `user_id` parameter is ignored.
    assert_eq!(greeting(anonymous.clone(), vec![("name", "Ada")]).await["language"], "en");
    assert_eq!(greeting(bob.clone(), vec![("name", "Ada")]).await["language"], "en");
    let user_id: &'static str = Box::leak(ada_id.clone().into_boxed_str());
    assert_eq!(greeting(anonymous.clone(), vec![("name", "Ada"), ("user_id", user_id)]).await["language"], "en");
    // A token that is sent must be valid, even on a public route.
    let res = with_token("not.a.jwt").get(lang.url(&["lang", "v1", "greeting"])).query(&[("name", "Ada")]).send().await;
    error(res.unwrap(), StatusCode::UNAUTHORIZED).await;

    for bad in ["xx", "klingon", "", "fr'; --"] {
        let res = ada.put(url.clone()).json(&json!({"language": bad})).send().await.unwrap();
        let (code, _) = error(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(code, "unknown_language", "{bad:?}");
    }
    let body: Value = ada.get(url.clone()).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["language"], "de", "refused updates changed nothing");

    let stats = lang.stats().await;
    assert_eq!(stats["preferences"], 1);
    assert!(stats["languages"].as_i64().unwrap() >= 10);
}

#[tokio::test]
async fn translation_writes_need_an_admin_and_are_audited() {
    let lang = spawn().await;
    let (_, user) = lang.auth.user("ada@example.com").await;
    let (admin_id, _) = lang.auth.admin("root@example.com").await;
    let url = lang.url(&translation("en", "greeting"));
    let pwned = json!({"template": "pwned {name}"});
    let anonymous = reqwest::Client::new().put(url.clone()).json(&pwned).send().await.unwrap();
    error(anonymous, StatusCode::UNAUTHORIZED).await;
    error(with_token(&user).put(url.clone()).json(&pwned).send().await.unwrap(), StatusCode::FORBIDDEN).await;
    error(
        with_token(&user).delete(lang.url(&translation("fr", "greeting"))).send().await.unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(lang.greeting(&[("name", "Ada")]).await["greeting"], "Hello, Ada!", "refused writes changed nothing");

    let res = lang.put(&translation("en", "greeting"), json!({"template": "Hi, {name}!"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(lang.greeting(&[("name", "Ada")]).await["greeting"], "Hi, Ada!");
    assert_eq!(lang.delete(&translation("fr", "greeting")).await.status(), 204);

    let audit: Value = lang.get(&["lang", "v1", "audit"]).await.json().await.unwrap();
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{audit}");
    assert_eq!((&entries[0]["action"], &entries[0]["target"]), (&json!("translation.deleted"), &json!("fr/greeting")));
    assert_eq!(entries[1]["action"], "translation.put");
    assert_eq!(entries[1]["detail"], json!({"before": "Hello, {name}!", "after": "Hi, {name}!"}));
    assert!(entries.iter().all(|e| e["actor"] == json!(admin_id) || e["actor"].is_string()));
    error(with_token(&user).get(lang.url(&["lang", "v1", "audit"])).send().await.unwrap(), StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies_are_refused() {
    let lang = spawn().await;
    let url = lang.url(&translation("fr", "x"));
    let put = |body: Vec<u8>, ct: Option<&'static str>| {
        let mut req = lang.http.put(url.clone()).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let (code, _) =
        error(put(b"{\"template\": ".to_vec(), Some("application/json")).await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert_eq!(code, "invalid_json");
    let (code, message) =
        error(put(br#"{"template": 5}"#.to_vec(), Some("application/json")).await.unwrap(), StatusCode::BAD_REQUEST)
            .await;
    assert_eq!(code, "invalid_body");
    assert!(message.contains("template"), "{message}");
    error(put(b"[]".to_vec(), Some("application/json")).await.unwrap(), StatusCode::BAD_REQUEST).await;
    let big = json!({"template": format!("{{name}}{}", "x".repeat(20_000))}).to_string().into_bytes();
    assert_eq!(
        error(put(big, Some("application/json")).await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await.0,
        "payload_too_large"
    );
    for ct in [None, Some("text/plain")] {
        let res = put(br#"{"template": "Hi {name}"}"#.to_vec(), ct).await.unwrap();
        assert_eq!(error(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await.0, "unsupported_media_type");
    }
    // Nothing was stored by any of them.
    error(lang.get(&translation("fr", "x")).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let lang = spawn().await;
    assert_eq!(error(lang.get(&["lang", "v2", "greeting"]).await, StatusCode::NOT_FOUND).await.0, "not_found");
    let res = lang.http.post(lang.url(&["lang", "v1", "languages"])).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "GET,HEAD");
    assert_eq!(error(res, StatusCode::METHOD_NOT_ALLOWED).await.0, "method_not_allowed");
    let res = lang.http.post(lang.url(&translation("fr", "greeting"))).send().await.unwrap();
    error(res, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(lang.get(&["readyz"]).await.status(), 200);
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let lang = spawn().await;
    let doc: Value = lang.get(&["lang", "openapi.json"]).await.json().await.unwrap();
    for (path, methods) in [
        ("/lang/v1/greeting", &["get"][..]),
        ("/lang/v1/languages", &["get"]),
        ("/lang/v1/translations/{language}/{key}", &["get", "put", "delete"]),
        ("/lang/v1/preferences/me", &["get", "put"]),
        ("/lang/v1/audit", &["get"]),
        ("/lang/v1/stats", &["get"]),
    ] {
        for m in methods {
            assert!(doc["paths"][path][m].is_object(), "{m} {path} missing");
        }
    }
    let params: Vec<&str> = doc["paths"]["/lang/v1/greeting"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["name", "language"]);
    for s in ["Greeting", "Translation", "TemplateBody", "Preference", "ErrorBody"] {
        assert!(doc["components"]["schemas"][s].is_object(), "schema {s} missing");
    }
}

#[tokio::test]
async fn requests_are_measured_by_route_template() {
    let lang = spawn().await;
    lang.get(&translation("de", "greeting")).await;
    let metrics = lang.get(&["metrics"]).await.text().await.unwrap();
    let needle =
        r#"rpc_requests_total{method="GET /lang/v1/translations/{language}/{key}",protocol="http",status="200"}"#;
    assert!(metrics.contains(needle), "missing {needle} in:\n{metrics}");
}

/// Every answer carries a request id; error bodies name it, so a user can
/// quote it. A client's own plain id is kept, anything else replaced.
#[tokio::test]
async fn answers_and_error_bodies_carry_the_request_id() {
    let lang = spawn().await;
    let res = reqwest::get(lang.url(&["lang", "v2", "nothing"])).await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "{id}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["request_id"], json!(id), "{body}");
    assert_eq!(body["error"]["code"], "not_found");

    let ok = reqwest::get(lang.url(&["lang", "v1", "languages"])).await.unwrap();
    assert_eq!(ok.headers()["x-request-id"].len(), 32);
    let mine =
        reqwest::Client::new().get(lang.url(&["lang", "v1", "languages"])).header("x-request-id", "trace-me.42").send();
    assert_eq!(mine.await.unwrap().headers()["x-request-id"], "trace-me.42");
    let forged = reqwest::Client::new()
        .get(lang.url(&["lang", "v1", "languages"]))
        .header("x-request-id", "\"}, {\"forged\": true")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.headers()["x-request-id"].len(), 32, "an id that is not a plain token is replaced");
}
