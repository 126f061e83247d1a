//! One span, one log line and one set of metrics per request.
//!
//! The layer sits directly around the handlers, where every RPC is native
//! gRPC (the gRPC-Web and Connect adapters translate before it), so an RPC's
//! status is read the same way whatever protocol the client spoke: from the
//! `grpc-status` header of a trailers-only response or from the trailers at
//! the end of the body. Plain HTTP requests report their HTTP status.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame};
use opentelemetry::trace::TraceContextExt;
use tower::{Layer, Service};
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The wire protocol a client used, for labels and logs. Adapters that
/// translate a request into gRPC record it as a request extension.
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

    /// Classifies a request by its content type.
    pub fn of(headers: &HeaderMap) -> Self {
        let ct = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if ct.starts_with("application/grpc-web") {
            Self::GrpcWeb
        } else if ct.starts_with("application/grpc") {
            Self::Grpc
        } else {
            Self::Http
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
    /// The RPC paths served (`/<package>.<Service>/<Method>`).
    rpc_methods: std::sync::Arc<std::collections::HashSet<String>>,
}

impl ObserveLayer {
    /// For a router serving exactly `methods` as RPCs.
    pub fn rpc(methods: impl IntoIterator<Item = String>) -> Self {
        Self { rpc_methods: std::sync::Arc::new(methods.into_iter().collect()) }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Observe { inner, rpc_methods: self.rpc_methods.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    rpc_methods: std::sync::Arc<std::collections::HashSet<String>>,
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

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let protocol = req.extensions().get::<Protocol>().copied().unwrap_or_else(|| Protocol::of(req.headers()));
        let method = match protocol {
            Protocol::Http => format!("{} {}", method_label(req.method()), route_of(&req)),
            _ if self.rpc_methods.contains(req.uri().path()) => req.uri().path().to_owned(),
            _ => UNKNOWN_METHOD.to_owned(),
        };
        let request_id =
            req.headers().get(crate::request_id::HEADER).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let span = tracing::info_span!(
            "request",
            otel.name = %method,
            request_id = %request_id,
            otel.kind = "server",
            rpc.protocol = protocol.as_str(),
            status = tracing::field::Empty,
        );
        let parent = crate::propagation::extract(req.headers());
        let _ = span.set_parent(parent);
        let record = Record { start: Instant::now(), method, protocol, span: span.clone(), request_id };
        let fut = self.inner.call(req).instrument(span);
        Box::pin(async move {
            let res = fut.await?;
            let (parts, body) = res.into_parts();
            let mut record = Some(record);
            if protocol == Protocol::Http {
                record.take().unwrap().finish(parts.status.as_str());
            } else if let Some(code) = grpc_status(&parts.headers) {
                // Trailers-only response: the status is already known.
                record.take().unwrap().finish(code);
            }
            Ok(Response::from_parts(parts, ObservedBody { inner: body, record }))
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

fn grpc_status(headers: &HeaderMap) -> Option<&str> {
    headers.get("grpc-status").and_then(|v| v.to_str().ok())
}

/// Converts a numeric gRPC status to its canonical name.
pub fn grpc_code_name(code: &str) -> &'static str {
    let n: i32 = code.parse().unwrap_or(2);
    crate::connect::code_name(tonic::Code::from_i32(n))
}

struct Record {
    start: Instant,
    method: String,
    protocol: Protocol,
    span: Span,
    request_id: String,
}

impl Record {
    fn finish(self, status: &str) {
        let elapsed = self.start.elapsed();
        let status: std::borrow::Cow<'static, str> = match self.protocol {
            Protocol::Http => status.to_owned().into(),
            _ => grpc_code_name(status).into(),
        };
        let labels = [
            ("method", self.method.clone()),
            ("protocol", self.protocol.as_str().to_owned()),
            ("status", status.to_string()),
        ];
        metrics::counter!("rpc_requests_total", &labels).increment(1);
        metrics::histogram!("rpc_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
        self.span.record("status", &*status);
        let trace_id = self.span.context().span().span_context().trace_id().to_string();
        tracing::info!(
            parent: &self.span,
            method = %self.method,
            protocol = self.protocol.as_str(),
            status = %status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            trace_id = %trace_id,
            request_id = %self.request_id,
            "request"
        );
    }
}

pin_project_lite::pin_project! {
    /// A response body that reports the gRPC status found in its trailers.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        record: Option<Record>,
    }

    impl<B> PinnedDrop for ObservedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            // The client went away before the trailers were sent.
            if let Some(record) = this.project().record.take() {
                record.finish("1");
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
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(record) = this.record.take()
                {
                    record.finish(grpc_status(trailers).unwrap_or("2"));
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(record) = this.record.take() {
                    record.finish("13");
                }
            }
            Poll::Ready(None) => {
                // A gRPC response that ends without trailers is malformed.
                if let Some(record) = this.record.take() {
                    record.finish("2");
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
