//! gRPC request framing checked as it streams in: a message larger than the
//! limit is `RESOURCE_EXHAUSTED`, a body that ends inside a message
//! `INVALID_ARGUMENT`, as connect-go and grpc-go answer them. Each message
//! is counted for the request log ([`platform::observe::RpcStatus`]).
//!
//! tonic refuses an oversized message as `OUT_OF_RANGE` and a truncated
//! body as `INTERNAL`. The layer reads each length prefix as it passes
//! (nothing is buffered) and, at the first bad one, ends the body with a
//! `tonic::Status` as its error, which tonic's decoder hands back to the
//! client as the call's status.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::Request;
use http_body::{Body, Frame};
use platform::observe::RpcStatus;
use tower::{Layer, Service};

use crate::framing::Prefixes;

/// Checks the framing of gRPC request bodies (`application/grpc*`; the
/// gRPC-Web and Connect adapters hand their calls on as gRPC).
#[derive(Debug, Clone, Copy)]
pub struct MessageLimitLayer {
    limit: usize,
}

impl MessageLimitLayer {
    pub fn new(limit: usize) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for MessageLimitLayer {
    type Service = MessageLimit<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MessageLimit { inner, limit: self.limit }
    }
}

#[derive(Debug, Clone)]
pub struct MessageLimit<S> {
    inner: S,
    limit: usize,
}

impl<S, B> Service<Request<B>> for MessageLimit<S>
where
    S: Service<Request<CheckedFrames<B>>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let grpc = platform::observe::Protocol::of(req.headers()) == platform::observe::Protocol::Grpc;
        let limit = self.limit;
        let status = req.extensions().get::<RpcStatus>().cloned();
        self.inner.call(req.map(|inner| CheckedFrames::new(inner, limit, grpc, status)))
    }
}

pin_project_lite::pin_project! {
    /// A request body whose gRPC framing is checked as it is read.
    pub struct CheckedFrames<B> {
        #[pin]
        inner: B,
        limit: usize,
        check: bool,
        prefixes: Prefixes,
        status: Option<RpcStatus>,
    }
}

impl<B> CheckedFrames<B> {
    fn new(inner: B, limit: usize, check: bool, status: Option<RpcStatus>) -> Self {
        Self { inner, limit, check, prefixes: Prefixes::default(), status }
    }
}

impl<B> Body for CheckedFrames<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        let polled = match this.inner.poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(polled) => polled,
        };
        if !*this.check {
            return Poll::Ready(polled.map(|r| r.map_err(Into::into)));
        }
        match polled {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let (limit, status) = (*this.limit, this.status.as_ref());
                    let checked = this.prefixes.feed(data, |_, len| {
                        if len > limit {
                            return Err(tonic::Status::resource_exhausted(format!(
                                "the request message is {len} bytes; at most {limit} are accepted"
                            )));
                        }
                        if let Some(status) = status {
                            status.received_one();
                        }
                        Ok(())
                    });
                    if let Err(refused) = checked {
                        *this.check = false;
                        return Poll::Ready(Some(Err(Box::new(refused))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
            None => match this.prefixes.unfinished() {
                None => Poll::Ready(None),
                Some(missing) => {
                    *this.check = false;
                    let message = match missing {
                        Some(n) => format!("the request body ends {n} bytes short of the end of its message"),
                        None => "the request body ends inside a message's 5-byte length prefix".to_owned(),
                    };
                    Poll::Ready(Some(Err(Box::new(tonic::Status::invalid_argument(message)))))
                }
            },
        }
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
    use http_body_util::{BodyExt, Full};

    use super::*;

    /// A body that yields `chunks` one frame at a time.
    struct Chunks(std::collections::VecDeque<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|c| Ok(Frame::data(c))))
        }
    }

    fn checked(chunks: Vec<&'static [u8]>, limit: usize) -> CheckedFrames<Chunks> {
        let chunks = Chunks(chunks.into_iter().map(Bytes::from_static).collect());
        CheckedFrames::new(chunks, limit, true, None)
    }

    async fn status_of(body: impl Body<Data = Bytes, Error = axum::BoxError>) -> Option<tonic::Status> {
        match body.collect().await {
            Ok(_) => None,
            Err(e) => Some(*e.downcast::<tonic::Status>().expect("a tonic::Status")),
        }
    }

    #[tokio::test]
    async fn messages_split_across_chunks_pass() {
        // Two messages of 3 and 0 bytes, split at awkward places.
        let body = checked(vec![&[0, 0], &[0, 0, 3, b'a'], &[b'b', b'c', 0, 0, 0], &[0, 0]], 3);
        assert!(status_of(body).await.is_none());
    }

    #[tokio::test]
    async fn an_oversized_message_is_resource_exhausted_before_its_bytes_arrive() {
        let body = checked(vec![&[0, 0, 0, 0, 4]], 3);
        let status = status_of(body).await.unwrap();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(status.message().contains("4 bytes"), "{}", status.message());
    }

    #[tokio::test]
    async fn a_truncated_body_is_invalid_argument() {
        let status = status_of(checked(vec![&[0, 0, 0, 0, 3, b'a']], 10)).await.unwrap();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("2 bytes short"), "{}", status.message());
        let status = status_of(checked(vec![&[0, 0]], 10)).await.unwrap();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
    }

    #[tokio::test]
    async fn other_bodies_pass_unchecked() {
        let body = CheckedFrames::new(Full::new(Bytes::from_static(b"{\"not\": \"grpc\"}")), 1, false, None);
        assert!(status_of(body).await.is_none());
    }
}
