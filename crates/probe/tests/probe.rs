//! The probe against a real server on loopback, and the binary's exit codes.

use std::{process::Command, time::Duration};

use axum::{Router, http::StatusCode, routing::get};

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn app() -> Router {
    Router::new()
        .route("/readyz", get(|| async { "ready" }))
        .route("/down", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "not ready") }))
        .route("/slow", get(|| async { tokio::time::sleep(Duration::from_secs(5)).await }))
}

#[tokio::test]
async fn two_hundred_passes_and_anything_else_fails_with_a_reason() {
    let base = serve(app()).await;
    assert_eq!(probe::probe(&format!("{base}/readyz"), Duration::from_secs(2)).await, Ok(200));

    let down = probe::probe(&format!("{base}/down"), Duration::from_secs(2)).await.unwrap_err();
    assert!(down.0.contains("503"), "{down}");
    let missing = probe::probe(&format!("{base}/nope"), Duration::from_secs(2)).await.unwrap_err();
    assert!(missing.0.contains("404"), "{missing}");
    let slow = probe::probe(&format!("{base}/slow"), Duration::from_millis(200)).await.unwrap_err();
    assert!(slow.0.contains("no answer within"), "{slow}");

    // A port nobody listens on: refused, not hung.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let refused = probe::probe(&format!("http://{closed}/readyz"), Duration::from_secs(2)).await.unwrap_err();
    assert!(refused.0.contains("cannot connect"), "{refused}");
    let https = probe::probe("https://127.0.0.1:1/readyz", Duration::from_secs(1)).await.unwrap_err();
    assert!(https.0.contains("only http://"), "{https}");
}

#[tokio::test]
async fn the_binary_exits_zero_only_when_ready() {
    let base = serve(app()).await;
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || Command::new(env!("CARGO_BIN_EXE_probe")).args(args).output().unwrap())
    };
    let ok = run(vec![format!("{base}/readyz")]).await.unwrap();
    assert!(ok.status.success(), "{ok:?}");
    let down = run(vec![format!("{base}/down"), "2".into()]).await.unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("503"), "{down:?}");
    let usage = run(vec![]).await.unwrap();
    assert_eq!(usage.status.code(), Some(2));
    let bad_timeout = run(vec![format!("{base}/readyz"), "0".into()]).await.unwrap();
    assert_eq!(bad_timeout.status.code(), Some(2));
}
