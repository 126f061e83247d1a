//! One span, one log line and one set of metrics per request.
//!
//! For an RPC router the layer is the outermost one, so every answer is
//! observed, including those the protocol adapters give themselves (a 415,
//! a Connect `unimplemented`, a decompression refusal). It classifies the
//! request by what the client spoke, before any adapter rewrites it, and
//! learns the outcome from an [`RpcStatus`] the inner layers fill in: the
//! gRPC status a handler ended with, or the code an adapter answered with.
//! Plain HTTP requests report their HTTP status.

use std::{
    collections::HashSet,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicI32, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Instant,
};

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame};
use opentelemetry::trace::TraceContextExt;
use tower::{Layer, Service};
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The wire protocol a client used, for labels and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    GrpcWeb,
    Connect,
    Http,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::GrpcWeb => "grpc-web",
            Self::Connect => "connect",
            Self::Http => "http",
        }
    }

    /// Classifies a request by its content type alone: gRPC-Web, gRPC, or
    /// anything else (which an RPC router then treats as Connect when the
    /// path is one of its services').
    pub fn of(headers: &HeaderMap) -> Self {
        let ct = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let ct = ct.trim_start().to_ascii_lowercase();
        if ct.starts_with("application/grpc-web") {
            Self::GrpcWeb
        } else if ct.starts_with("application/grpc") {
            Self::Grpc
        } else {
            Self::Http
        }
    }
}

/// The names of the gRPC status codes, by number (`canceled` as Connect
/// and the gRPC documentation spell it).
pub const CODE_NAMES: [&str; 17] = [
    "ok",
    "canceled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal",
    "unavailable",
    "data_loss",
    "unauthenticated",
];

/// The name of a numeric gRPC status; numbers outside the table are `unknown`.
pub fn code_name(code: i32) -> &'static str {
    usize::try_from(code).ok().and_then(|i| CODE_NAMES.get(i)).copied().unwrap_or("unknown")
}

/// Where the layers inside an RPC router report how a call ended, as a
/// gRPC status number, and how many messages went each way. The last
/// status reported wins: an adapter that turns a handler's success into its
/// own error (a response it cannot encode, say) overwrites what the handler
/// said.
#[derive(Debug, Clone)]
pub struct RpcStatus(Arc<Outcome>);

#[derive(Debug)]
struct Outcome {
    code: AtomicI32,
    received: AtomicU64,
    sent: AtomicU64,
}

const UNSET: i32 = -1;

impl Default for RpcStatus {
    fn default() -> Self {
        Self(Arc::new(Outcome { code: AtomicI32::new(UNSET), received: AtomicU64::new(0), sent: AtomicU64::new(0) }))
    }
}

impl RpcStatus {
    pub fn set(&self, code: i32) {
        self.0.code.store(code, Ordering::Relaxed);
    }

    pub fn get(&self) -> Option<i32> {
        Some(self.0.code.load(Ordering::Relaxed)).filter(|&c| c != UNSET)
    }

    /// One more message read from the client.
    pub fn received_one(&self) {
        self.0.received.fetch_add(1, Ordering::Relaxed);
    }

    /// One more message sent to the client.
    pub fn sent_one(&self) {
        self.0.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Messages (received, sent) so far.
    pub fn messages(&self) -> (u64, u64) {
        (self.0.received.load(Ordering::Relaxed), self.0.sent.load(Ordering::Relaxed))
    }

    /// Records the `grpc-status` of `headers` (trailers, or a trailers-only
    /// response's headers), if they carry one.
    pub fn set_from(&self, headers: &HeaderMap) -> bool {
        match headers.get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()) {
            Some(code) => {
                self.set(code);
                true
            }
            None => false,
        }
    }
}

/// The label of RPC paths that no served method has.
pub const UNKNOWN_METHOD: &str = "unknown";

/// Adds [`Observe`] around a service. Labels stay bounded: RPCs are
/// labelled by the method paths the process serves (anything else is
/// [`UNKNOWN_METHOD`]), HTTP requests by method and matched route template.
#[derive(Debug, Clone, Default)]
pub struct ObserveLayer {
    rpc: Option<Arc<RpcPaths>>,
}

#[derive(Debug, Default)]
struct RpcPaths {
    /// `/<package>.<Service>/<Method>` of every served method.
    methods: HashSet<String>,
    /// `<package>.<Service>` of every served service.
    services: HashSet<String>,
}

impl ObserveLayer {
    /// For an RPC router serving exactly `methods` (`/<package>.<Service>/<Method>`).
    /// Requests to these services that are not gRPC or gRPC-Web are Connect.
    pub fn rpc(methods: impl IntoIterator<Item = String>) -> Self {
        let methods: HashSet<String> = methods.into_iter().collect();
        let services = methods.iter().filter_map(|m| service_of(m)).map(str::to_owned).collect();
        Self { rpc: Some(Arc::new(RpcPaths { methods, services })) }
    }
}

/// `greeter.v1.GreeterService` of `/greeter.v1.GreeterService/Greet`.
fn service_of(path: &str) -> Option<&str> {
    path.strip_prefix('/')?.split_once('/').map(|(service, _)| service)
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Observe { inner, rpc: self.rpc.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    rpc: Option<Arc<RpcPaths>>,
}

/// Whether a request's status is the server's failure, which marks its span
/// as an error: gRPC's server-side codes, as OpenTelemetry's conventions for
/// RPC server spans list them, and HTTP 5xx. A client's mistake (4xx,
/// `invalid_argument`, `not_found`, …) is not the server's error.
fn is_server_error(status: &str) -> bool {
    matches!(status, "unknown" | "deadline_exceeded" | "unimplemented" | "internal" | "unavailable" | "data_loss")
        || status.parse::<u16>().is_ok_and(|code| code >= 500)
}

/// A client's HTTP method as a label: the standard ones, or `OTHER`.
fn method_label(method: &http::Method) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
    KNOWN.into_iter().find(|k| *k == method.as_str()).unwrap_or("OTHER")
}

impl<S, B, RB> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Send,
    S::Future: Send + 'static,
    RB: Body,
{
    type Response = Response<ObservedBody<RB>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let path = req.uri().path();
        let protocol = match (&self.rpc, Protocol::of(req.headers())) {
            (Some(rpc), Protocol::Http) if service_of(path).is_some_and(|s| rpc.services.contains(s)) => {
                Protocol::Connect
            }
            (_, protocol) => protocol,
        };
        let method = match (&self.rpc, protocol) {
            (_, Protocol::Http) => format!("{} {}", method_label(req.method()), route_of(&req)),
            (Some(rpc), _) if rpc.methods.contains(path) => path.to_owned(),
            _ => UNKNOWN_METHOD.to_owned(),
        };
        let status = (protocol != Protocol::Http).then(|| {
            let status = RpcStatus::default();
            req.extensions_mut().insert(status.clone());
            status
        });
        let request_id =
            req.headers().get(crate::request_id::HEADER).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        // OpenTelemetry's semantic conventions for RPC and HTTP server spans.
        let span = tracing::info_span!(
            "request",
            otel.name = %method,
            request_id = %request_id,
            otel.kind = "server",
            rpc.protocol = protocol.as_str(),
            rpc.system = tracing::field::Empty,
            rpc.service = tracing::field::Empty,
            rpc.method = tracing::field::Empty,
            http.request.method = method_label(req.method()),
            http.route = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            status = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        match protocol {
            Protocol::Http => {
                span.record("http.route", route_of(&req));
            }
            _ => {
                span.record("rpc.system", if protocol == Protocol::Connect { "connect_rpc" } else { "grpc" });
                // Only served methods: anything else stays `unknown`, as in the metrics.
                if let Some((service, name)) = method.strip_prefix('/').and_then(|m| m.split_once('/')) {
                    span.record("rpc.service", service);
                    span.record("rpc.method", name);
                }
            }
        }
        let parent = crate::propagation::extract(req.headers());
        let _ = span.set_parent(parent);
        let record = Record { start: Instant::now(), method, protocol, span: span.clone(), request_id, http_status: 0 };
        let fut = self.inner.call(req).instrument(span);
        Box::pin(async move {
            let res = fut.await?;
            let (parts, body) = res.into_parts();
            let mut record = Some(Record { http_status: parts.status.as_u16(), ..record });
            match &status {
                None => record.take().expect("set above").finish(parts.status.as_str().to_owned(), None),
                // Answered already: a trailers-only gRPC response, a Connect unary call.
                Some(status) if status.get().is_some() || status.set_from(&parts.headers) => {
                    record.take().expect("set above").finish_rpc(status, "unknown")
                }
                Some(_) => {}
            }
            Ok(Response::from_parts(parts, ObservedBody { inner: body, record, status }))
        })
    }
}

/// The matched axum route (`/lang/v1/translations/{language}/{key}`) rather
/// than the raw path, so labels stay bounded.
fn route_of<B>(req: &Request<B>) -> String {
    req.extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned())
}

/// Converts a numeric gRPC status (as a header carries it) to its name.
pub fn grpc_code_name(code: &str) -> &'static str {
    code_name(code.parse().unwrap_or(2))
}

struct Record {
    start: Instant,
    method: String,
    protocol: Protocol,
    span: Span,
    request_id: String,
    http_status: u16,
}

impl Record {
    /// Finishes an RPC with the status reported, or `otherwise` when none
    /// was, and the messages it carried each way.
    fn finish_rpc(self, status: &RpcStatus, otherwise: &'static str) {
        let name = status.get().map(code_name).unwrap_or(otherwise);
        let (received, sent) = status.messages();
        let labels = [("method", self.method.clone()), ("protocol", self.protocol.as_str().to_owned())];
        metrics::counter!("rpc_messages_received_total", &labels).increment(received);
        metrics::counter!("rpc_messages_sent_total", &labels).increment(sent);
        self.finish(name.to_owned(), Some((received, sent)));
    }

    fn finish(self, status: String, messages: Option<(u64, u64)>) {
        let elapsed = self.start.elapsed();
        let labels = [
            ("method", self.method.clone()),
            ("protocol", self.protocol.as_str().to_owned()),
            ("status", status.clone()),
        ];
        metrics::counter!("rpc_requests_total", &labels).increment(1);
        metrics::histogram!("rpc_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
        self.span.record("status", &*status);
        self.span.record("http.response.status_code", self.http_status);
        if is_server_error(&status) {
            self.span.record("otel.status_code", "ERROR");
        }
        let trace_id = self.span.context().span().span_context().trace_id().to_string();
        let (messages_in, messages_out) = messages.unzip();
        tracing::info!(
            parent: &self.span,
            method = %self.method,
            protocol = self.protocol.as_str(),
            status = %status,
            http_status = self.http_status,
            messages_in,
            messages_out,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            trace_id = %trace_id,
            request_id = %self.request_id,
            "request"
        );
    }
}

pin_project_lite::pin_project! {
    /// A response body that reports the RPC's status once it is known: at
    /// its trailers, at its end, or when the client goes away first.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        record: Option<Record>,
        status: Option<RpcStatus>,
    }

    impl<B> PinnedDrop for ObservedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // The client went away before the end: cancelled, unless the
            // status was already reported inside.
            if let (Some(record), Some(status)) = (this.record.take(), this.status.as_ref()) {
                record.finish_rpc(status, "canceled");
            }
        }
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        let Some(status) = this.status.as_ref() else { return polled };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(record) = this.record.take()
                {
                    if status.get().is_none() {
                        status.set_from(trailers);
                    }
                    record.finish_rpc(status, "unknown");
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(record) = this.record.take() {
                    record.finish_rpc(status, "internal");
                }
            }
            // A gRPC response that ends without a status is malformed.
            Poll::Ready(None) => {
                if let Some(record) = this.record.take() {
                    record.finish_rpc(status, "unknown");
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_failures_mark_a_span_as_an_error() {
        for status in
            ["internal", "unavailable", "unimplemented", "unknown", "deadline_exceeded", "data_loss", "500", "503"]
        {
            assert!(is_server_error(status), "{status}");
        }
        for status in
            ["ok", "invalid_argument", "not_found", "permission_denied", "unauthenticated", "200", "404", "429"]
        {
            assert!(!is_server_error(status), "{status}");
        }
    }

    #[test]
    fn code_names_follow_the_numbers() {
        assert_eq!(code_name(0), "ok");
        assert_eq!(code_name(1), "canceled");
        assert_eq!(code_name(3), "invalid_argument");
        assert_eq!(code_name(16), "unauthenticated");
        assert_eq!(code_name(17), "unknown");
        assert_eq!(code_name(-4), "unknown");
        assert_eq!(grpc_code_name("8"), "resource_exhausted");
        assert_eq!(grpc_code_name("x"), "unknown");
    }

    #[test]
    fn the_last_report_wins() {
        let status = RpcStatus::default();
        assert_eq!(status.get(), None);
        let mut trailers = HeaderMap::new();
        assert!(!status.set_from(&trailers));
        trailers.insert("grpc-status", "0".parse().unwrap());
        assert!(status.set_from(&trailers));
        assert_eq!(status.get(), Some(0));
        status.set(13);
        assert_eq!(status.get(), Some(13));
    }
}
