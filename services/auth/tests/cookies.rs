//! Cookie mode (`Session-Mode: cookie`): the refresh token as an HttpOnly
//! cookie, spent only from allowed origins, rotated atomically.

mod support;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use support::{Auth, PASSWORD};

const SITE: &str = "http://localhost:30081";

async fn spawn() -> Auth {
    support::spawn_with(|c| c.cookie_origins = vec![SITE.parse().unwrap()]).await
}

/// A browser's request from `origin` in cookie mode, with `cookie` if given.
fn browser(auth: &Auth, path: &str, origin: Option<&str>, cookie: Option<&str>) -> RequestBuilder {
    let mut req = auth.http.post(auth.url(path)).header("session-mode", "cookie");
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    if let Some(c) = cookie {
        req = req.header("cookie", format!("refresh_token={c}"));
    }
    req
}

/// The refresh token the response set, after checking both cookies' attributes.
fn set_cookie(res: &Response) -> String {
    let set: Vec<&str> = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(set.len(), 2, "{set:?}");
    let mut tokens = Vec::new();
    for (value, path) in set.iter().zip(["/auth/refresh", "/auth/logout"]) {
        for part in ["HttpOnly", "Secure", "SameSite=Strict", &format!("Path={path}")] {
            assert!(value.contains(part), "{value} lacks {part}");
        }
        let token = value.split(';').next().unwrap().strip_prefix("refresh_token=").unwrap();
        tokens.push(token.to_owned());
    }
    assert_eq!(tokens[0], tokens[1]);
    tokens.remove(0)
}

fn clears_cookie(res: &Response) -> bool {
    let set: Vec<&str> = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    set.len() == 2 && set.iter().all(|v| v.starts_with("refresh_token=;") && v.contains("Max-Age=0"))
}

async fn login(auth: &Auth, email: &str) -> String {
    auth.signup(email, PASSWORD).await;
    let res = browser(auth, "/auth/login", Some(SITE), None)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = set_cookie(&res);
    let body: Value = res.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "page scripts must not see it: {body}");
    assert!(body["access_token"].is_string() && body["refresh_expires_in"].is_u64(), "{body}");
    cookie
}

#[tokio::test]
async fn the_cookie_rotates_and_the_spent_one_is_refused() {
    let auth = spawn().await;
    let first = login(&auth, "ada@example.com").await;

    // No body at all: the cookie is the credential.
    let res = browser(&auth, "/auth/refresh", Some(SITE), Some(&first)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let second = set_cookie(&res);
    assert_ne!(first, second);
    let body: Value = res.json().await.unwrap();
    assert!(body.get("refresh_token").is_none() && body["access_token"].is_string(), "{body}");
    let me = auth.get("/auth/me", body["access_token"].as_str()).await;
    assert_eq!(me.status(), StatusCode::OK);

    // Reuse of a spent cookie revokes the family (and tells the browser to drop it).
    let res = browser(&auth, "/auth/refresh", Some(SITE), Some(&first)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(clears_cookie(&res));
    let res = browser(&auth, "/auth/refresh", Some(SITE), Some(&second)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the whole family is revoked");

    // No cookie: 401, not a crash or a 400 about the body.
    let res = browser(&auth, "/auth/refresh", Some(SITE), None).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_refresh_token");
}

#[tokio::test]
async fn other_origins_cannot_spend_the_cookie() {
    let auth = spawn().await;
    let cookie = login(&auth, "bob@example.com").await;
    for origin in [Some("http://localhost:5174"), Some("http://evil.example"), Some("null"), None] {
        for path in ["/auth/refresh", "/auth/logout"] {
            let res = browser(&auth, path, origin, Some(&cookie)).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} from {origin:?}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"]["code"], "origin_not_allowed");
        }
    }
    // Logging in or signing up in cookie mode is refused there too.
    let res = browser(&auth, "/auth/login", Some("http://evil.example"), None)
        .json(&json!({"email": "bob@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // None of that touched the session: the cookie still works from the site.
    let res = browser(&auth, "/auth/refresh", Some(SITE), Some(&cookie)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn cookie_mode_is_refused_when_no_origin_is_configured() {
    let auth = support::spawn().await;
    auth.signup("cy@example.com", PASSWORD).await;
    let res = browser(&auth, "/auth/login", Some(SITE), None)
        .json(&json!({"email": "cy@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("AUTH_COOKIE_ORIGINS"), "{body}");
    // JSON mode is unaffected.
    let res = auth.post("/auth/login", json!({"email": "cy@example.com", "password": PASSWORD})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert!(body["refresh_token"].is_string(), "{body}");
}

#[tokio::test]
async fn a_typo_in_the_mode_is_an_error_not_json_mode() {
    let auth = spawn().await;
    let res = auth
        .http
        .post(auth.url("/auth/login"))
        .header("session-mode", "cookies")
        .header("origin", SITE)
        .json(&json!({"email": "x@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn signup_in_cookie_mode_sets_the_cookie() {
    let auth = spawn().await;
    let res = browser(&auth, "/auth/signup", Some(SITE), None)
        .json(&json!({"email": "dee@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = set_cookie(&res);
    let body: Value = res.json().await.unwrap();
    assert!(body["tokens"].get("refresh_token").is_none(), "{body}");
    let res = browser(&auth, "/auth/refresh", Some(SITE), Some(&cookie)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_revokes_the_session_and_clears_the_cookie() {
    let auth = spawn().await;
    let cookie = login(&auth, "eve@example.com").await;
    let res = browser(&auth, "/auth/logout", Some(SITE), Some(&cookie)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(clears_cookie(&res));
    let res = browser(&auth, "/auth/refresh", Some(SITE), Some(&cookie)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Logging out again, cookie or none, still answers 204 and clears.
    let res = browser(&auth, "/auth/logout", Some(SITE), None).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(clears_cookie(&res));
}

/// Many tabs refreshing with one cookie at once: exactly one rotation wins.
#[tokio::test]
async fn parallel_refreshes_with_one_cookie_rotate_once() {
    let auth = spawn().await;
    let cookie = login(&auth, "fay@example.com").await;
    let attempts = (0..16).map(|_| browser(&auth, "/auth/refresh", Some(SITE), Some(&cookie)).send());
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(attempts).await.into_iter().map(|r| r.unwrap().status()).collect();
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(won, 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
}
