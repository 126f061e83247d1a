//! Reports the gRPC status a call ended with, and the messages it sent, to
//! the request log ([`platform::observe::RpcStatus`]), from inside the
//! gRPC-Web and Connect adapters: outside them, the status and the
//! messages are in forms of their own.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use http::{Request, Response};
use http_body::{Body, Frame};
use platform::observe::RpcStatus;
use tower::{Layer, Service};

use crate::framing::Prefixes;

#[derive(Debug, Clone, Copy)]
pub struct StatusTapLayer;

impl<S> Layer<S> for StatusTapLayer {
    type Service = StatusTap<S>;
    fn layer(&self, inner: S) -> Self::Service {
        StatusTap { inner }
    }
}

#[derive(Debug, Clone)]
pub struct StatusTap<S> {
    inner: S,
}

impl<S, B, RB> Service<Request<B>> for StatusTap<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = Response<TappedBody<RB>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let status = req.extensions().get::<RpcStatus>().cloned();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await?;
            // A trailers-only response: the status is in the headers.
            let trailers_only = status.as_ref().is_some_and(|s| s.set_from(res.headers()));
            Ok(res.map(|inner| TappedBody { inner, status, trailers_only, prefixes: Prefixes::default() }))
        })
    }
}

pin_project_lite::pin_project! {
    pub struct TappedBody<B> {
        #[pin]
        inner: B,
        status: Option<RpcStatus>,
        trailers_only: bool,
        prefixes: Prefixes,
    }
}

impl<B: Body<Data = bytes::Bytes>> Body for TappedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let (Poll::Ready(Some(Ok(frame))), Some(status)) = (&polled, this.status.as_ref()) {
            if let Some(data) = frame.data_ref() {
                let _ = this.prefixes.feed(data, |_, _| {
                    status.sent_one();
                    Ok::<_, ()>(())
                });
            } else if let Some(trailers) = frame.trailers_ref()
                && !*this.trailers_only
            {
                status.set_from(trailers);
            }
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
