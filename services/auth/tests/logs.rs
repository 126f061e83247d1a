//! Nothing a client sends as a secret reaches the logs: every log line
//! written while accounts are created, used and refused, at debug level and
//! including the database driver's, is captured and searched.

mod support;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn passwords_tokens_and_bodies_never_reach_the_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let auth = support::spawn().await;
    let email = "secret.person@example.com";
    let password = "Unmistakable-Passw0rd-4711";
    let body = auth.signup(email, password).await;
    let access = body["tokens"]["access_token"].as_str().unwrap().to_owned();
    let refresh = body["tokens"]["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(auth.login(email, "Wrong-But-Also-Secret-0815").await.status(), 401);
    let pair: Value = auth.login(email, password).await.json().await.unwrap();
    let rotated: Value = auth.post("/auth/refresh", json!({"refresh_token": refresh})).await.json().await.unwrap();
    auth.post("/auth/refresh", json!({"refresh_token": refresh})).await; // reuse
    auth.get("/auth/me", Some(&access)).await;
    auth.get("/auth/verify", Some(&format!("{access}tampered"))).await;
    auth.post("/auth/signup", json!({"email": email, "password": ["In-The-Wrong-Shape-99"]})).await;
    auth.post("/auth/signup", json!({"email": "weak@example.com", "password": "Password123!"})).await;
    auth.post("/auth/logout", json!({"refresh_token": pair["refresh_token"]})).await;
    // Forwarded headers from a peer that is not a trusted proxy: said once, however often.
    for _ in 0..3 {
        auth.http
            .post(auth.url("/auth/login"))
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
    }

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let warnings = logs.matches("X-Forwarded-For arrived from a peer that is not in AUTH_TRUSTED_PROXIES").count();
    assert_eq!(warnings, 1, "the untrusted-proxy warning is given once");
    assert!(logs.contains("POST /auth/login"), "the capture is not working:\n{logs}");
    assert!(logs.contains("INSERT INTO users"), "database statements are not captured:\n{logs}");
    let secrets = [
        password,
        "Wrong-But-Also-Secret-0815",
        "In-The-Wrong-Shape-99",
        "Password123!",
        &access,
        &access[access.len() - 20..],
        &refresh,
        pair["access_token"].as_str().unwrap(),
        pair["refresh_token"].as_str().unwrap(),
        rotated["refresh_token"].as_str().unwrap(),
        email,
    ];
    for secret in secrets {
        assert!(!logs.contains(secret), "{secret:?} was logged:\n{logs}");
    }
}
