//! Spans leave the process over OTLP/HTTP: a collector on loopback
//! receives them as protobuf at `/v1/traces` when the service stops.

use std::time::Duration;

use axum::{Router, body::Bytes, http::HeaderMap, routing::post};
use platform::telemetry::{LogFormat, init};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_to_the_collector_over_http() {
    let (sent, mut received) = tokio::sync::mpsc::channel::<(String, Bytes)>(8);
    let collector = Router::new().route(
        "/v1/traces",
        post(move |headers: HeaderMap, body: Bytes| {
            let sent = sent.clone();
            async move {
                let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                let _ = sent.send((content_type, body)).await;
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, collector).await.unwrap() });

    // OTEL_EXPORTER_OTLP_ENDPOINT names the collector's base URL.
    let telemetry = init("otlp-test-service", LogFormat::Text, Some(&format!("http://{addr}/"))).unwrap();
    tracing::info_span!("exported-span").in_scope(|| tracing::info!("inside the span"));
    // Stopping flushes the batch; it blocks until the export is done.
    tokio::task::spawn_blocking(move || drop(telemetry)).await.unwrap();

    let (content_type, body) =
        tokio::time::timeout(Duration::from_secs(10), received.recv()).await.expect("an export arrives").unwrap();
    assert_eq!(content_type, "application/x-protobuf");
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"otlp-test-service"), "the resource names the service");
    assert!(has(b"exported-span"), "the span is in the export");
}
