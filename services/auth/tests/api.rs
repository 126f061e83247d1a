//! auth end to end: a real PostgreSQL, the service on a random port, and
//! reqwest over loopback.

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{PASSWORD, error};

#[tokio::test]
async fn signup_returns_the_user_and_a_working_token_pair() {
    let auth = support::spawn().await;
    let body = auth.signup("  Ada.Lovelace@Example.COM ", PASSWORD).await;
    let user = &body["user"];
    assert_eq!(user["email"], "ada.lovelace@example.com");
    assert_eq!(user["id"].as_str().unwrap().len(), 36);
    assert!(user["created_at"].as_str().is_some());
    let tokens = &body["tokens"];
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert_eq!(tokens["refresh_token"].as_str().unwrap().len(), 43);

    let me = auth.get("/auth/me", tokens["access_token"].as_str()).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(&me, user);

    let stats: Value = auth.stats().await;
    assert_eq!(stats, json!({"users": 1, "active_sessions": 1}));
}

#[tokio::test]
async fn token_responses_are_not_cacheable() {
    let auth = support::spawn().await;
    let res = auth.post("/auth/signup", json!({"email": "c@example.com", "password": PASSWORD})).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(auth.login("c@example.com", PASSWORD).await.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn duplicate_emails_are_refused_whatever_their_case() {
    let auth = support::spawn().await;
    auth.signup("grace@example.com", PASSWORD).await;
    for dup in ["grace@example.com", "GRACE@Example.com", "  Grace@EXAMPLE.com\t"] {
        let res = auth.post("/auth/signup", json!({"email": dup, "password": "another fine password"})).await;
        let (code, _) = error(res, StatusCode::CONFLICT).await;
        assert_eq!(code, "email_taken");
    }
    let stats: Value = auth.stats().await;
    assert_eq!(stats["users"], 1);
    // The first password still logs in; the duplicates changed nothing.
    assert_eq!(auth.login("Grace@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn weak_passwords_are_refused_with_what_is_missing() {
    let auth = support::spawn().await;
    let too_long = "x1y2z3".repeat(13);
    for (password, needle) in [
        ("short", "at least 10 bytes"),
        ("Password123!", "common"),
        ("qwertyuiop", "common"),
        ("aaaaaaaaaaaaaaa", "different characters"),
        ("abcdefghijklm", "sequence"),
        ("hopper-rules-ok", "email"),
        (too_long.as_str(), "at most 72 bytes"),
    ] {
        let res = auth.post("/auth/signup", json!({"email": "hopper@example.com", "password": password})).await;
        let (code, message) = error(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(code, "weak_password", "{password}");
        assert!(message.contains(needle), "{password}: {message}");
        assert!(!message.contains(password), "the password was echoed: {message}");
    }
    let stats: Value = auth.stats().await;
    assert_eq!(stats["users"], 0);
}

#[tokio::test]
async fn invalid_emails_are_refused() {
    let auth = support::spawn().await;
    for email in ["", "no-at-sign", "a@b", "two words@example.com", "a@@example.com"] {
        let res = auth.post("/auth/signup", json!({"email": email, "password": PASSWORD})).await;
        let (code, _) = error(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(code, "invalid_email", "{email:?}");
    }
}

#[tokio::test]
async fn sql_metacharacters_and_non_ascii_are_stored_and_returned_intact() {
    let auth = support::spawn().await;
    for email in ["robert');drop-table-users;--@example.com", "o'brien\"+x@example.com", "zoë.李@exämple.org"] {
        let body = auth.signup(email, PASSWORD).await;
        assert_eq!(body["user"]["email"], email);
        let token = body["tokens"]["access_token"].as_str().unwrap();
        let me: Value = auth.get("/auth/me", Some(token)).await.json().await.unwrap();
        assert_eq!(me["email"], email);
        let verified = auth.get("/auth/verify", Some(token)).await;
        assert_eq!(verified.status(), 200);
        assert_eq!(verified.headers()["x-user-email"].as_bytes(), email.as_bytes());
        assert_eq!(auth.login(&email.to_uppercase(), PASSWORD).await.status(), 200, "{email}");
    }
    let stats: Value = auth.stats().await;
    assert_eq!(stats["users"], 3, "the users table survived");
}

#[tokio::test]
async fn login_failures_are_one_generic_answer() {
    let auth = support::spawn().await;
    auth.signup("ada@example.com", PASSWORD).await;
    assert_eq!(auth.login("ADA@example.com", PASSWORD).await.status(), 200);

    let wrong_password = auth.login("ada@example.com", "not the password at all").await;
    let unknown_user = auth.login("nobody@example.com", PASSWORD).await;
    let malformed = auth.login("not an email", PASSWORD).await;
    let a = error(wrong_password, StatusCode::UNAUTHORIZED).await;
    let b = error(unknown_user, StatusCode::UNAUTHORIZED).await;
    let c = error(malformed, StatusCode::UNAUTHORIZED).await;
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.0, "invalid_credentials");

    // bcrypt reads 72 bytes; what follows a 72-byte password must not be ignored.
    let long = "correct horse battery staple, and then some more words to reach 72 bytes";
    let long = &long[..72];
    auth.signup("grace@example.com", long).await;
    assert_eq!(auth.login("grace@example.com", long).await.status(), 200);
    error(auth.login("grace@example.com", &format!("{long}!")).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let auth = support::spawn().await;
    auth.signup("ada@example.com", PASSWORD).await;
    let first: Value = auth.login("ada@example.com", PASSWORD).await.json().await.unwrap();
    let other: Value = auth.login("ada@example.com", PASSWORD).await.json().await.unwrap();
    let r1 = first["refresh_token"].as_str().unwrap();

    let res = auth.post("/auth/refresh", json!({"refresh_token": r1})).await;
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.unwrap();
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_eq!(auth.get("/auth/me", second["access_token"].as_str()).await.status(), 200);

    // r1 again: reuse. Refused, and r2 (same family) dies with it.
    let (code, _) =
        error(auth.post("/auth/refresh", json!({"refresh_token": r1})).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(code, "invalid_refresh_token");
    let res = auth.post("/auth/refresh", json!({"refresh_token": r2})).await;
    error(res, StatusCode::UNAUTHORIZED).await;

    // The other login is another family and is untouched.
    let res = auth.post("/auth/refresh", json!({"refresh_token": other["refresh_token"]})).await;
    assert_eq!(res.status(), 200);

    let long = "A".repeat(43);
    for bogus in ["", "nope", long.as_str()] {
        let res = auth.post("/auth/refresh", json!({"refresh_token": bogus})).await;
        error(res, StatusCode::UNAUTHORIZED).await;
    }
}

#[tokio::test]
async fn concurrent_redemptions_of_one_token_let_exactly_one_through() {
    let auth = support::spawn().await;
    auth.signup("ada@example.com", PASSWORD).await;
    let pair: Value = auth.login("ada@example.com", PASSWORD).await.json().await.unwrap();
    let body = json!({"refresh_token": pair["refresh_token"]});
    let (a, b) = tokio::join!(auth.post("/auth/refresh", body.clone()), auth.post("/auth/refresh", body.clone()));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 401]);
}

#[tokio::test]
async fn expired_refresh_tokens_are_refused() {
    let auth = support::spawn_with(|c| c.tokens.refresh_ttl = Duration::from_secs(1)).await;
    let body = auth.signup("ada@example.com", PASSWORD).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let res = auth.post("/auth/refresh", json!({"refresh_token": body["tokens"]["refresh_token"]})).await;
    error(res, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let auth = support::spawn().await;
    let body = auth.signup("ada@example.com", PASSWORD).await;
    let refresh_token = &body["tokens"]["refresh_token"];
    let res = auth.post("/auth/logout", json!({"refresh_token": refresh_token})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    error(auth.post("/auth/refresh", json!({"refresh_token": refresh_token})).await, StatusCode::UNAUTHORIZED).await;
    // Idempotent, and says nothing about whether a token existed.
    assert_eq!(auth.post("/auth/logout", json!({"refresh_token": refresh_token})).await.status(), 204);
    assert_eq!(auth.post("/auth/logout", json!({"refresh_token": "never issued"})).await.status(), 204);
    let stats: Value = auth.stats().await;
    assert_eq!(stats["active_sessions"], 0);
}

// --- access tokens -------------------------------------------------------

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

struct Forge {
    kid: String,
    key: EncodingKey,
    /// The public key's raw bytes, as published.
    public: Vec<u8>,
    claims: Value,
}

impl Forge {
    async fn new(auth: &support::Auth, user: &Value) -> Self {
        let jwks: Value = auth.get("/auth/.well-known/jwks.json", None).await.json().await.unwrap();
        let jwk = &jwks["keys"][0];
        let t = now();
        Self {
            kid: jwk["kid"].as_str().unwrap().to_owned(),
            key: EncodingKey::from_ed_pem(auth.pem.as_bytes()).unwrap(),
            public: URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap(),
            claims: json!({
                "sub": user["id"], "email": user["email"], "iat": t, "exp": t + 600,
                "iss": "auth", "aud": "platform", "jti": "forged",
            }),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    fn with(&self, field: &str, value: Value) -> Value {
        let mut c = self.claims.clone();
        c[field] = value;
        c
    }
}

#[tokio::test]
async fn forged_and_invalid_access_tokens_are_refused() {
    let auth = support::spawn().await;
    let user = auth.signup("ada@example.com", PASSWORD).await["user"].clone();
    let forge = Forge::new(&auth, &user).await;

    // Control: a token made like the server's is accepted, so each refusal
    // below is down to the one thing that was changed.
    let good = forge.sign(&forge.claims);
    assert_eq!(auth.get("/auth/me", Some(&good)).await.status(), 200);

    let [header, payload, signature]: [&str; 3] = good.split('.').collect::<Vec<_>>().try_into().unwrap();
    let none_header = b64(&json!({"alg": "none", "typ": "JWT", "kid": forge.kid}));
    let hs256 = |secret: &[u8]| {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(forge.kid.clone());
        jsonwebtoken::encode(&h, &forge.claims, &EncodingKey::from_secret(secret)).unwrap()
    };
    let public_pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(
            [&[0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00][..], &forge.public].concat()
        )
    );
    let mut flipped = URL_SAFE_NO_PAD.decode(signature).unwrap();
    flipped[10] ^= 1;
    let other_key = EncodingKey::from_ed_pem(auth::keys::generate_pem().unwrap().as_bytes()).unwrap();
    let mut other_header = Header::new(Algorithm::EdDSA);
    other_header.kid = Some(forge.kid.clone());

    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", format!("{none_header}.{payload}."), "well-formed"),
        ("alg none with the real signature", format!("{none_header}.{payload}.{signature}"), "well-formed"),
        ("HS256 keyed with the raw public key", hs256(&forge.public), "algorithm"),
        ("HS256 keyed with the public key PEM", hs256(public_pem.as_bytes()), "algorithm"),
        ("flipped signature bit", format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(&flipped)), "signature"),
        (
            "payload swapped",
            format!("{header}.{}.{signature}", b64(&forge.with("email", json!("mallory@example.com")))),
            "signature",
        ),
        ("signature stripped", format!("{header}.{payload}."), "signature"),
        (
            "another key under the real kid",
            jsonwebtoken::encode(&other_header, &forge.claims, &other_key).unwrap(),
            "signature",
        ),
        (
            "unknown kid",
            {
                let mut h = Header::new(Algorithm::EdDSA);
                h.kid = Some("other".into());
                jsonwebtoken::encode(&h, &forge.claims, &forge.key).unwrap()
            },
            "unknown key",
        ),
        (
            "no kid",
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &forge.claims, &forge.key).unwrap(),
            "unknown key",
        ),
        ("wrong audience", forge.sign(&forge.with("aud", json!("elsewhere"))), "audience"),
        ("wrong issuer", forge.sign(&forge.with("iss", json!("https://evil.example"))), "issuer"),
        ("expired", forge.sign(&forge.with("exp", json!(now() - 120))), "expired"),
        (
            "no exp",
            forge.sign(&{
                let mut c = forge.claims.clone();
                c.as_object_mut().unwrap().remove("exp");
                c
            }),
            "claims",
        ),
        ("sub of the wrong type", forge.sign(&forge.with("sub", json!(42))), "claims"),
        ("garbage", "not.a.jwt".into(), "well-formed"),
        ("empty segments", "..".into(), "well-formed"),
    ];
    for (name, token, needle) in &cases {
        for path in ["/auth/me", "/auth/verify"] {
            let res = auth.get(path, Some(token)).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{name} on {path}");
            let challenge = res.headers()["www-authenticate"].to_str().unwrap().to_owned();
            assert!(challenge.starts_with("Bearer realm=\"platform\", error=\"invalid_token\""), "{name}: {challenge}");
            assert!(res.headers().get("x-user-id").is_none(), "{name}");
            let (code, message) = error(res, StatusCode::UNAUTHORIZED).await;
            assert_eq!(code, "unauthenticated");
            assert!(message.contains(needle), "{name} on {path}: {message}");
        }
    }
}

#[tokio::test]
async fn verify_is_forward_auth_for_the_edge() {
    let auth = support::spawn().await;
    let body = auth.signup("ada@example.com", PASSWORD).await;
    let res = auth.get("/auth/verify", body["tokens"]["access_token"].as_str()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-user-id"], body["user"]["id"].as_str().unwrap());
    assert_eq!(res.headers()["x-user-email"], "ada@example.com");

    let res = auth.get("/auth/verify", None).await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"platform\"");
    error(res, StatusCode::UNAUTHORIZED).await;
    let res = auth.http.get(auth.url("/auth/verify")).basic_auth("ada", Some("pw")).send().await.unwrap();
    // A well-formed challenge: the description carries no quotes of its own.
    let challenge = res.headers()["www-authenticate"].to_str().unwrap().to_owned();
    let description = challenge.split("error_description=\"").nth(1).unwrap();
    assert_eq!(description.matches('"').count(), 1, "{challenge}");
    error(res, StatusCode::UNAUTHORIZED).await;
    // HEAD, as some proxies probe with it.
    let res = auth
        .http
        .head(auth.url("/auth/verify"))
        .bearer_auth(body["tokens"]["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn jwks_publishes_the_key_that_signs_tokens() {
    let auth = support::spawn().await;
    let body = auth.signup("ada@example.com", PASSWORD).await;
    let res = auth.get("/auth/.well-known/jwks.json", None).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    let jwks: Value = res.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"), &json!("sig"))
    );
    assert!(key.get("d").is_none());
    let header = jsonwebtoken::decode_header(body["tokens"]["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD.decode(body["tokens"]["access_token"].as_str().unwrap().split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    for claim in ["sub", "email", "iat", "exp", "iss", "aud", "jti"] {
        assert!(claims.get(claim).is_some(), "{claim} missing from {claims}");
    }
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
}

// --- throttling ---------------------------------------------------------

#[tokio::test]
async fn repeated_failures_on_one_account_are_throttled() {
    let auth = support::spawn_with(|c| {
        c.throttle.max_per_account = 3;
        c.throttle.max_per_address = 100;
        c.throttle.window = Duration::from_secs(60);
    })
    .await;
    auth.signup("ada@example.com", PASSWORD).await;
    auth.signup("grace@example.com", PASSWORD).await;
    for _ in 0..3 {
        error(auth.login("ada@example.com", "wrong password!!").await, StatusCode::UNAUTHORIZED).await;
    }
    for password in ["wrong password!!", PASSWORD] {
        let res = auth.login("Ada@example.com", password).await;
        let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        let (code, _) = error(res, StatusCode::TOO_MANY_REQUESTS).await;
        assert_eq!(code, "too_many_requests");
    }
    // Other accounts are not affected.
    assert_eq!(auth.login("grace@example.com", PASSWORD).await.status(), 200);
    // Unknown accounts are counted too, so 429 does not reveal which exist.
    for _ in 0..3 {
        auth.login("ghost@example.com", "wrong password!!").await;
    }
    assert_eq!(auth.login("ghost@example.com", PASSWORD).await.status(), 429);
}

#[tokio::test]
async fn a_success_resets_the_account_count_and_windows_expire() {
    let auth = support::spawn_with(|c| {
        c.throttle.max_per_account = 2;
        c.throttle.window = Duration::from_secs(2);
    })
    .await;
    auth.signup("ada@example.com", PASSWORD).await;
    auth.login("ada@example.com", "wrong password!!").await;
    assert_eq!(auth.login("ada@example.com", PASSWORD).await.status(), 200);
    auth.login("ada@example.com", "wrong password!!").await;
    assert_eq!(auth.login("ada@example.com", PASSWORD).await.status(), 200, "the success reset the count");
    auth.login("ada@example.com", "wrong password!!").await;
    auth.login("ada@example.com", "wrong password!!").await;
    assert_eq!(auth.login("ada@example.com", PASSWORD).await.status(), 429);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(auth.login("ada@example.com", PASSWORD).await.status(), 200, "the window passed");
}

#[tokio::test]
async fn repeated_failures_from_one_address_are_throttled() {
    let auth = support::spawn_with(|c| {
        c.throttle.max_per_account = 100;
        c.throttle.max_per_address = 4;
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    auth.signup("ada@example.com", PASSWORD).await;
    let login_from = |addr: &'static str, email: String, password: &'static str| {
        auth.http
            .post(auth.url("/auth/login"))
            .header("x-forwarded-for", addr)
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    for i in 0..4 {
        let res = login_from("203.0.113.7", format!("user{i}@example.com"), "wrong password!!").await.unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = login_from("203.0.113.7", "ada@example.com".into(), PASSWORD).await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    // Another client behind the same proxy is not affected.
    assert_eq!(login_from("203.0.113.8", "ada@example.com".into(), PASSWORD).await.unwrap().status(), 200);
}

#[tokio::test]
async fn forwarded_for_is_ignored_from_untrusted_peers() {
    let auth = support::spawn_with(|c| {
        c.throttle.max_per_account = 100;
        c.throttle.max_per_address = 3;
    })
    .await;
    // Rotating X-Forwarded-For does not dodge the per-address count.
    for i in 0..3 {
        let res = auth
            .http
            .post(auth.url("/auth/login"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({"email": format!("u{i}@example.com"), "password": "wrong password!!"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = auth
        .http
        .post(auth.url("/auth/login"))
        .header("x-forwarded-for", "198.51.100.99")
        .json(&json!({"email": "u9@example.com", "password": "wrong password!!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
}

// --- request bodies and routing -----------------------------------------

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies_are_refused() {
    let auth = support::spawn().await;
    let post_raw = |body: Vec<u8>, content_type: Option<&'static str>| {
        let mut req = auth.http.post(auth.url("/auth/signup")).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let (code, _) =
        error(post_raw(b"{\"email\": ".to_vec(), Some("application/json")).await.unwrap(), StatusCode::BAD_REQUEST)
            .await;
    assert_eq!(code, "invalid_json");

    let secret = "s3cret-typed-in-the-wrong-place";
    let body = json!({"email": ["ada@example.com"], "password": secret});
    let (code, message) = error(
        post_raw(body.to_string().into_bytes(), Some("application/json")).await.unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(code, "invalid_body");
    assert!(message.contains("email"), "{message}");
    let body = json!({"email": "ada@example.com", "password": {"value": secret}});
    let (_, message) = error(
        post_raw(body.to_string().into_bytes(), Some("application/json")).await.unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(!message.contains(secret), "{message}");
    let (_, message) = error(
        post_raw(br#"{"email": "ada@example.com"}"#.to_vec(), Some("application/json")).await.unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("password"), "{message}");

    let big = json!({"email": "ada@example.com", "password": "x".repeat(20_000)}).to_string().into_bytes();
    let (code, _) = error(post_raw(big, Some("application/json")).await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(code, "payload_too_large");
    // Without a Content-Length (chunked), the limit still holds.
    let chunks = tokio_stream::iter([Ok::<_, std::io::Error>(vec![b' '; 10_000]), Ok(vec![b' '; 10_000])]);
    let res = auth
        .http
        .post(auth.url("/auth/signup"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    error(res, StatusCode::PAYLOAD_TOO_LARGE).await;

    let json = json!({"email": "ada@example.com", "password": PASSWORD}).to_string().into_bytes();
    for ct in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let (code, _) = error(post_raw(json.clone(), ct).await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        assert_eq!(code, "unsupported_media_type");
    }
    assert_eq!(post_raw(json, Some("application/json; charset=utf-8")).await.unwrap().status(), 201);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let auth = support::spawn().await;
    let (code, _) = error(auth.get("/auth/nope", None).await, StatusCode::NOT_FOUND).await;
    assert_eq!(code, "not_found");
    let res = auth.get("/auth/login", None).await;
    assert_eq!(res.headers()["allow"], "POST");
    let (code, _) = error(res, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(code, "method_not_allowed");
    // The platform's endpoints are still there.
    assert_eq!(auth.get("/healthz", None).await.status(), 200);
    assert_eq!(auth.get("/readyz", None).await.status(), 200);
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let auth = support::spawn().await;
    let doc: Value = auth.get("/auth/openapi.json", None).await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/auth/signup", "post"),
        ("/auth/login", "post"),
        ("/auth/refresh", "post"),
        ("/auth/logout", "post"),
        ("/auth/me", "get"),
        ("/auth/verify", "get"),
        ("/auth/.well-known/jwks.json", "get"),
        ("/auth/stats", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} missing");
    }
    let schemas = &doc["components"]["schemas"];
    for s in ["Credentials", "TokenPair", "User", "ErrorBody", "Jwks"] {
        assert!(schemas[s].is_object(), "schema {s} missing");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

#[tokio::test]
async fn requests_are_measured_by_route_template() {
    let auth = support::spawn().await;
    auth.login("x@example.com", "wrong password!!").await;
    let metrics = auth.get("/metrics", None).await.text().await.unwrap();
    let needle = r#"rpc_requests_total{method="POST /auth/login",protocol="http",status="401"}"#;
    assert!(metrics.contains(needle), "missing {needle} in:\n{metrics}");
}

// --- password hashing at the real cost ----------------------------------

#[tokio::test]
async fn the_configured_cost_is_used_and_old_hashes_are_upgraded() {
    let (mut config, pem) = support::config().await;
    config.passwords.bcrypt_cost = 10;
    config.passwords.concurrency = 2;
    let auth = support::start(config, pem).await;
    auth.signup("ada@example.com", PASSWORD).await;
    assert!(stored_hash(&auth, "ada@example.com").await.starts_with("$2b$10$"));

    // Login takes as long for an unknown email as for a wrong password.
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(auth.login("ada@example.com", "wrong password!!").await.status(), 401);
        known.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(auth.login("nobody@example.com", "wrong password!!").await.status(), 401);
        unknown.push(t.elapsed());
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[2].as_secs_f64(), unknown[2].as_secs_f64());
    eprintln!("median login latency at cost 10: wrong password {:.1} ms, unknown email {:.1} ms", k * 1e3, u * 1e3);
    assert!(u > k * 0.5 && u < k * 2.0, "wrong password {k:.4}s vs unknown email {u:.4}s");

    // A hash made at cost 4 is redone at 10 on the next login.
    let (mut config, pem) = support::config().await;
    config.common.database = auth.db.clone();
    let cheap = support::start(config, pem).await;
    cheap.signup("grace@example.com", PASSWORD).await;
    assert!(stored_hash(&auth, "grace@example.com").await.starts_with("$2b$04$"));
    assert_eq!(auth.login("grace@example.com", PASSWORD).await.status(), 200);
    assert!(stored_hash(&auth, "grace@example.com").await.starts_with("$2b$10$"));
}

async fn stored_hash(auth: &support::Auth, email: &str) -> String {
    let pool = sqlx::PgPool::connect_with(auth.db.url.options.clone()).await.unwrap();
    sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1").bind(email).fetch_one(&pool).await.unwrap()
}

#[tokio::test]
async fn a_login_flood_does_not_stall_other_requests() {
    let (mut config, pem) = support::config().await;
    config.passwords.bcrypt_cost = 10;
    config.passwords.concurrency = 1;
    // Attempts in flight count against the account's limit; this test is about stalls, not limits.
    config.throttle.max_per_account = 100;
    let auth = support::start(config, pem).await;
    auth.signup("ada@example.com", PASSWORD).await;
    let started = Instant::now();
    let flood: Vec<_> = (0..8)
        .map(|_| {
            let (http, url) = (auth.http.clone(), auth.url("/auth/login"));
            tokio::spawn(async move {
                http.post(url)
                    .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t = Instant::now();
    assert_eq!(auth.get("/auth/.well-known/jwks.json", None).await.status(), 200);
    let quick = t.elapsed();
    for f in flood {
        assert_eq!(f.await.unwrap(), 200);
    }
    let flood_took = started.elapsed();
    eprintln!("8 logins at cost 10 took {flood_took:?}; a JWKS request meanwhile took {quick:?}");
    assert!(quick * 4 < flood_took, "JWKS took {quick:?} during a flood of {flood_took:?}");
}

/// The throttle reserves each attempt atomically before the hash: of many
/// parallel guesses at one account, no more than the limit are judged.
#[tokio::test]
async fn parallel_guesses_are_judged_at_most_the_limit() {
    let auth = support::spawn_with(|c| {
        c.throttle.max_per_account = 5;
        c.throttle.max_per_address = 1000;
    })
    .await;
    auth.signup("ada@example.com", PASSWORD).await;
    let guesses = (0..60).map(|i| {
        let (http, url) = (auth.http.clone(), auth.url("/auth/login"));
        tokio::spawn(async move {
            let body = json!({"email": "ada@example.com", "password": format!("wrong guess number {i}")});
            http.post(url).json(&body).send().await.unwrap().status().as_u16()
        })
    });
    let mut statuses = Vec::new();
    for guess in guesses.collect::<Vec<_>>() {
        statuses.push(guess.await.unwrap());
    }
    let judged = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(judged + throttled, 60, "{statuses:?}");
    assert!(judged <= 5, "{judged} of 60 parallel guesses were judged: {statuses:?}");
    assert_eq!(auth.login("ada@example.com", PASSWORD).await.status(), 429, "the account stays locked");
}

#[tokio::test]
async fn sign_ups_are_throttled_per_address() {
    let auth = support::spawn_with(|c| c.throttle.max_signups_per_address = 3).await;
    let attempts = (0..20).map(|i| {
        let (http, url) = (auth.http.clone(), auth.url("/auth/signup"));
        tokio::spawn(async move {
            let body = json!({"email": format!("user{i}@example.com"), "password": PASSWORD});
            http.post(url).json(&body).send().await.unwrap().status().as_u16()
        })
    });
    let mut statuses = Vec::new();
    for attempt in attempts.collect::<Vec<_>>() {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 17, "{statuses:?}");
    assert_eq!(auth.stats().await["users"], 3);
}

/// A refresh racing a logout of the same session: whichever wins, no token
/// of the family works afterwards (under READ COMMITTED the logout's one
/// UPDATE could miss the token the refresh was inserting).
#[tokio::test]
async fn refresh_raced_against_logout_never_leaves_a_live_token() {
    let auth = support::spawn().await;
    auth.signup("ada@example.com", PASSWORD).await;
    let mut refreshed = 0;
    for round in 0..40 {
        let res = auth.login("ada@example.com", PASSWORD).await;
        let token = res.json::<serde_json::Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned();
        let refresh = {
            let (http, url, token) = (auth.http.clone(), auth.url("/auth/refresh"), token.clone());
            tokio::spawn(async move { http.post(url).json(&json!({"refresh_token": token})).send().await.unwrap() })
        };
        let logout = {
            let (http, url) = (auth.http.clone(), auth.url("/auth/logout"));
            tokio::spawn(async move { http.post(url).json(&json!({"refresh_token": token})).send().await.unwrap() })
        };
        let (refresh, logout) = (refresh.await.unwrap(), logout.await.unwrap());
        assert_eq!(logout.status(), StatusCode::NO_CONTENT);
        if refresh.status() == StatusCode::OK {
            refreshed += 1;
            let next = refresh.json::<serde_json::Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned();
            let again = auth.post("/auth/refresh", json!({"refresh_token": next})).await;
            assert_eq!(again.status(), StatusCode::UNAUTHORIZED, "round {round}: a token survived the logout");
        } else {
            assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
        }
    }
    eprintln!("{refreshed} of 40 refreshes won the race; none of their tokens survived");
}

/// Decided: a refresh token presented twice is reuse even a moment later
/// (a client that lost the answer and retries cannot be told from a thief);
/// the family is revoked and the client logs in again.
#[tokio::test]
async fn a_refresh_retried_after_a_lost_answer_counts_as_reuse() {
    let auth = support::spawn().await;
    let body = auth.signup("ada@example.com", PASSWORD).await;
    let token = body["tokens"]["refresh_token"].as_str().unwrap().to_owned();
    let first = auth.post("/auth/refresh", json!({"refresh_token": token})).await;
    assert_eq!(first.status(), StatusCode::OK);
    let lost = first.json::<serde_json::Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned();
    let retry = auth.post("/auth/refresh", json!({"refresh_token": token})).await;
    assert_eq!(retry.status(), StatusCode::UNAUTHORIZED);
    let after = auth.post("/auth/refresh", json!({"refresh_token": lost})).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "the whole family is revoked");
}
