//! A real OTLP trace receiver on loopback, as a collector's port 4318 is:
//! `POST /v1/traces` with a protobuf `ExportTraceServiceRequest` (the
//! message `opentelemetry-proto` generates), answered with an
//! `ExportTraceServiceResponse`. It keeps every span it is sent so a test
//! can assert on whole traces across processes.
//!
//! OTLP/HTTP, not OTLP/gRPC, because that is what the services export: the
//! REST services build no gRPC stack at all (xtask's layering test), and
//! OTLP/HTTP with protobuf is the specification's default.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::StatusCode as Http, routing::post};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::{AnyValue, any_value::Value},
    trace::v1::status::StatusCode,
};
use prost::Message;

/// One received span, flattened.
#[derive(Debug, Clone)]
pub struct Span {
    /// The exporting process's `service.name`.
    pub service: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    /// OTLP's `SpanKind`: 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    pub kind: i32,
    pub attributes: HashMap<String, String>,
    pub error: bool,
}

#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<Span>>>);

/// `POST /v1/traces`: the spans of one export, kept.
async fn export(State(collected): State<Collected>, body: Bytes) -> (Http, [(&'static str, &'static str); 1], Vec<u8>) {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (Http::BAD_REQUEST, [("content-type", "text/plain")], b"not an ExportTraceServiceRequest".to_vec());
    };
    let mut spans = collected.0.lock().unwrap();
    for resource_spans in request.resource_spans {
        let resource = resource_spans.resource.map(|r| attributes(&r.attributes)).unwrap_or_default();
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for s in scope.spans {
                spans.push(Span {
                    service: service.clone(),
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: hex(&s.parent_span_id),
                    name: s.name,
                    kind: s.kind,
                    attributes: attributes(&s.attributes),
                    error: s.status.is_some_and(|st| st.code == StatusCode::Error as i32),
                });
            }
        }
    }
    let response = ExportTraceServiceResponse::default().encode_to_vec();
    (Http::OK, [("content-type", "application/x-protobuf")], response)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attributes(kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue]) -> HashMap<String, String> {
    kvs.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v: &AnyValue| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::BoolValue(b)) => b.to_string(),
                Some(Value::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

/// A receiver serving until the test ends.
pub struct Receiver {
    addr: SocketAddr,
    spans: Collected,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let spans = Collected::default();
        let app = Router::new().route("/v1/traces", post(export)).with_state(spans.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, spans }
    }

    /// `OTEL_EXPORTER_OTLP_ENDPOINT` for it.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.spans.0.lock().unwrap().clone()
    }

    /// The spans received once `found` picks something out of them, within `wait`.
    pub async fn wait_for<T>(&self, wait: Duration, mut found: impl FnMut(&[Span]) -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(t) = found(&self.spans()) {
                return Some(t);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
