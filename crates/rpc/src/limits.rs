//! gRPC request framing checked as it streams in: a message larger than the
//! limit is `RESOURCE_EXHAUSTED`, a body that ends inside a message
//! `INVALID_ARGUMENT`, as connect-go and grpc-go answer them.
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

use bytes::{Buf, Bytes};
use http::Request;
use http_body::{Body, Frame};
use tower::{Layer, Service};

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
        self.inner.call(req.map(|inner| CheckedFrames { inner, limit, check: grpc, header: Vec::new(), remaining: 0 }))
    }
}

pin_project_lite::pin_project! {
    /// A request body whose gRPC framing is checked as it is read.
    pub struct CheckedFrames<B> {
        #[pin]
        inner: B,
        limit: usize,
        check: bool,
        // The length prefix read so far (up to 5 bytes).
        header: Vec<u8>,
        // Bytes of the current message still to come.
        remaining: usize,
    }
}

const HEADER: usize = 5;

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
                    let mut data = data.clone();
                    while data.has_remaining() {
                        if *this.remaining > 0 {
                            let n = (*this.remaining).min(data.remaining());
                            data.advance(n);
                            *this.remaining -= n;
                            continue;
                        }
                        let n = (HEADER - this.header.len()).min(data.remaining());
                        this.header.extend_from_slice(&data[..n]);
                        data.advance(n);
                        if this.header.len() == HEADER {
                            let len =
                                u32::from_be_bytes([this.header[1], this.header[2], this.header[3], this.header[4]])
                                    as usize;
                            this.header.clear();
                            if len > *this.limit {
                                *this.check = false;
                                return Poll::Ready(Some(Err(Box::new(tonic::Status::resource_exhausted(format!(
                                    "the request message is {len} bytes; at most {} are accepted",
                                    this.limit
                                ))))));
                            }
                            *this.remaining = len;
                        }
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
            None => {
                if !this.header.is_empty() || *this.remaining > 0 {
                    *this.check = false;
                    let message = if this.header.is_empty() {
                        format!("the request body ends {} bytes short of the end of its message", this.remaining)
                    } else {
                        "the request body ends inside a message's 5-byte length prefix".to_owned()
                    };
                    return Poll::Ready(Some(Err(Box::new(tonic::Status::invalid_argument(message)))));
                }
                Poll::Ready(None)
            }
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
        CheckedFrames { inner: chunks, limit, check: true, header: Vec::new(), remaining: 0 }
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
        let body = CheckedFrames {
            inner: Full::new(Bytes::from_static(b"{\"not\": \"grpc\"}")),
            limit: 1,
            check: false,
            header: Vec::new(),
            remaining: 0,
        };
        assert!(status_of(body).await.is_none());
    }
}
