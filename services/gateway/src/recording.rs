//! A tower layer that records every RPC the gateway answers — refusals by
//! the authentication layer included — with its final gRPC status,
//! latency and the upstreams its handler called.
//!
//! It sits inside the platform's protocol adapters, so every call is native
//! gRPC here: the status is the `grpc-status` header of a trailers-only
//! response (errors) or the trailers at the end of the body (successes).
//! Handlers report the upstreams they call through [`Called`], found in the
//! request extensions. A call abandoned before it finishes (client gone,
//! deadline passed) is recorded as `canceled`.

use std::{
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Instant,
};

use chrono::Utc;
use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame};
use tonic::{Code, server::NamedService};
use tower::Service;

use crate::{recorder::Recorder, service::METHODS, store::Record};

/// The upstreams a handler called, shared with the layer.
#[derive(Debug, Clone, Default)]
pub struct Called(Arc<Mutex<Vec<&'static str>>>);

impl Called {
    /// The request's, or a detached one when no layer put it there.
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        request.extensions().get::<Self>().cloned().unwrap_or_default()
    }

    pub fn add(&self, upstream: &'static str) {
        let mut called = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !called.contains(&upstream) {
            called.push(upstream);
        }
    }

    /// Sorted and comma-separated, e.g. `auth,lang`.
    fn joined(&self) -> String {
        let mut called = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        called.sort_unstable();
        called.join(",")
    }
}

/// Records every call to `inner`.
#[derive(Clone)]
pub struct Recording<S> {
    inner: S,
    recorder: Recorder,
}

impl<S> Recording<S> {
    pub fn new(inner: S, recorder: Recorder) -> Self {
        Self { inner, recorder }
    }
}

impl<S: NamedService> NamedService for Recording<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B, RB> Service<Request<B>> for Recording<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = Response<RecordedBody<RB>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let path = req.uri().path();
        // Only known methods: a client cannot mint rows with made-up paths.
        let method = METHODS.iter().copied().find(|m| *m == path).unwrap_or("unknown");
        let called = Called::default();
        req.extensions_mut().insert(called.clone());
        let mut pending = Pending {
            recorder: self.recorder.clone(),
            method,
            called,
            start: Instant::now(),
            at: Utc::now(),
            done: false,
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await?;
            let (parts, body) = res.into_parts();
            let pending = match grpc_status(&parts.headers) {
                // Trailers-only response: the status is already known.
                Some(code) => {
                    pending.finish(code);
                    None
                }
                None => Some(pending),
            };
            Ok(Response::from_parts(parts, RecordedBody { inner: body, pending }))
        })
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    Some(value.parse::<i32>().map(Code::from_i32).unwrap_or(Code::Unknown))
}

/// A call not yet recorded; recorded as canceled if dropped unfinished.
struct Pending {
    recorder: Recorder,
    method: &'static str,
    called: Called,
    start: Instant,
    at: chrono::DateTime<Utc>,
    done: bool,
}

impl Pending {
    fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        self.recorder.record(Record {
            method: self.method,
            upstream: self.called.joined(),
            status: platform::observe::code_name(code as i32),
            latency_ms: self.start.elapsed().as_secs_f64() * 1000.0,
            at: self.at,
        });
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

pin_project_lite::pin_project! {
    /// A response body that records the call when its trailers pass.
    pub struct RecordedBody<B> {
        #[pin]
        inner: B,
        pending: Option<Pending>,
    }
}

impl<B: Body> Body for RecordedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        let code = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame.trailers_ref().map(|t| grpc_status(t).unwrap_or(Code::Unknown)),
            Poll::Ready(Some(Err(_))) => Some(Code::Internal),
            // A gRPC response that ends without trailers is malformed.
            Poll::Ready(None) => Some(Code::Unknown),
            Poll::Pending => None,
        };
        if let Some(code) = code
            && let Some(mut pending) = this.pending.take()
        {
            pending.finish(code);
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
