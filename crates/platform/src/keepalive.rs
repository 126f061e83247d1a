//! HTTP/1.1 connections answered before their request body was read.
//!
//! Any layer may answer early — a refused token, an expired deadline, a body
//! that fails to decode — and leave the request body unread. Over HTTP/1.1
//! the connection then cannot carry another request and hyper closes it
//! without saying so; a client that reuses it (browsers, gRPC-Web and
//! Connect clients do) fails its next call with a broken pipe. Closing the
//! connection outright is no better: the client may still be writing the
//! body and then sees the reset instead of the answer.
//!
//! [`CloseUnreadLayer`] therefore reads and discards what is left of a body
//! its handler let go of (up to [`DRAIN_BYTES`], within [`DRAIN_TIME`]) before
//! the answer goes out, as web servers' discard-body handling does, so the
//! connection stays usable; a body too large or too slow to discard gets
//! `Connection: close`. A handler still holding the body (a stream) is left
//! alone. HTTP/2 streams are reset independently and need none of this.

use std::{
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use axum::body::Body;
use http::{HeaderValue, Request, Response, Version, header::CONNECTION};
use http_body::{Body as _, Frame, SizeHint};
use tower::{Layer, Service};

/// Most request bytes discarded to keep a connection open.
pub const DRAIN_BYTES: usize = 64 * 1024;
/// Longest wait for the rest of a body before closing instead.
pub const DRAIN_TIME: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy, Default)]
pub struct CloseUnreadLayer;

impl<S> Layer<S> for CloseUnreadLayer {
    type Service = CloseUnread<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CloseUnread { inner }
    }
}

#[derive(Debug, Clone)]
pub struct CloseUnread<S> {
    inner: S,
}

impl<S, RB> Service<Request<Body>> for CloseUnread<S>
where
    S: Service<Request<Body>, Response = Response<RB>>,
    S::Future: Send + 'static,
    RB: Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<RB>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // Nothing to do for HTTP/2, or for a request without a body (most GETs).
        if req.version() >= Version::HTTP_2 || req.body().is_end_stream() {
            return Box::pin(self.inner.call(req));
        }
        let shared = Arc::new(Mutex::new(Body::empty()));
        let req = req.map(|body| {
            *shared.lock().expect("not poisoned") = body;
            Body::new(Shared(shared.clone()))
        });
        let response = self.inner.call(req);
        Box::pin(async move {
            let mut response = response.await?;
            if !discard_rest(shared).await {
                response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response)
        })
    }
}

/// Whether the connection can carry another request: the body was read to
/// its end, by the handler or here.
async fn discard_rest(shared: Arc<Mutex<Body>>) -> bool {
    if shared.lock().expect("not poisoned").is_end_stream() {
        return true;
    }
    // The handler still holds the body (it streams): leave it be.
    if Arc::strong_count(&shared) > 1 {
        return false;
    }
    let mut left = DRAIN_BYTES;
    let drain = async {
        loop {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut *shared.lock().expect("not poisoned")).poll_frame(cx));
            match frame.await {
                None => return true,
                Some(Ok(frame)) => {
                    let len = frame.data_ref().map_or(0, |d| d.len());
                    if len > left {
                        return false;
                    }
                    left -= len;
                }
                Some(Err(_)) => return false,
            }
        }
    };
    tokio::time::timeout(DRAIN_TIME, drain).await.unwrap_or(false)
}

/// The request body, shared with [`CloseUnread`] so that what the handler
/// leaves unread can still be discarded.
struct Shared(Arc<Mutex<Body>>);

impl http_body::Body for Shared {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut *self.0.lock().expect("not poisoned")).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.lock().expect("not poisoned").is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.lock().expect("not poisoned").size_hint()
    }
}

#[cfg(test)]
mod tests {
    use axum::{
        Router,
        routing::{get, post},
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Sends one HTTP/1.1 request with a `body_len`-byte body; returns the
    /// response head, lower-cased.
    async fn head(addr: std::net::SocketAddr, method: &str, path: &str, body_len: usize) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        exchange(&mut stream, method, path, body_len).await
    }

    async fn exchange(stream: &mut tokio::net::TcpStream, method: &str, path: &str, body_len: usize) -> String {
        let request = format!("{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-length: {body_len}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.write_all(&vec![b'x'; body_len]).await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
        // Read the (short, sized) response body too, so the stream can be reused.
        let len = head.lines().find_map(|l| l.strip_prefix("content-length: ")?.trim().parse().ok()).unwrap_or(0);
        stream.read_exact(&mut vec![0u8; len]).await.unwrap();
        head
    }

    #[tokio::test]
    async fn unread_bodies_are_discarded_so_the_connection_stays_usable() {
        let app = Router::new()
            // Answers without looking at the body, as a refusal does.
            .route("/early", post(|| async { "refused" }))
            .route("/read", post(|body: String| async move { body.len().to_string() }))
            .route("/get", get(|| async { "ok" }))
            .layer(CloseUnreadLayer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        for (method, path, len) in [("POST", "/early", 16 * 1024), ("POST", "/read", 64 * 1024), ("GET", "/get", 0)] {
            let head = head(addr, method, path, len).await;
            assert!(head.starts_with("http/1.1 200"), "{head}");
            assert!(!head.contains("connection: close"), "{method} {path} with {len} bytes: {head}");
        }
        // More than is worth discarding: the client is told to reconnect.
        let early = head(addr, "POST", "/early", DRAIN_BYTES + 1).await;
        assert!(early.contains("connection: close"), "{early}");
    }

    #[tokio::test]
    async fn a_connection_answered_early_carries_the_next_request() {
        let app = Router::new()
            .route("/early", post(|| async { "refused" }))
            .route("/get", get(|| async { "ok" }))
            .layer(CloseUnreadLayer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        for _ in 0..3 {
            let early = exchange(&mut stream, "POST", "/early", 16 * 1024).await;
            assert!(early.starts_with("http/1.1 200"), "{early}");
            let next = exchange(&mut stream, "GET", "/get", 0).await;
            assert!(next.starts_with("http/1.1 200"), "{next}");
        }
    }
}
