//! A request id on every request, response, log line and error body.
//!
//! tower-http's request-id layers set `x-request-id` on the request (a
//! client's own id is kept when it is a plain token of at most 64
//! characters; anything else is replaced, so logs cannot be injected into)
//! and copy it onto the response. The observe layer logs it, and
//! [`ErrorBodyLayer`] adds it to JSON error bodies — the REST shape's
//! `error.request_id` and the Connect error's `request_id` — so a user can
//! quote it and an operator find the request's log line.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use axum::body::Body;
use http::{HeaderValue, Request, Response, header::CONTENT_TYPE};
use tower::{Layer, Service};
use tower_http::request_id::{MakeRequestId, RequestId};

pub const HEADER: &str = "x-request-id";
/// Longest id taken from a client.
const MAX_CLIENT_ID: usize = 64;
/// Largest error body the id is added to.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// New ids: 16 random bytes, hex.
#[derive(Debug, Clone, Copy, Default)]
pub struct Random;

impl MakeRequestId for Random {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).ok()?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        HeaderValue::from_str(&hex).ok().map(RequestId::new)
    }
}

/// Whether a client's id is kept: 1–64 characters of `A-Za-z0-9._-`.
pub fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_CLIENT_ID).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Drops a client's `x-request-id` that is not [`acceptable`], so the
/// set-request-id layer after it makes a new one.
pub fn drop_unacceptable<B>(mut req: Request<B>) -> Request<B> {
    if req.headers().get(HEADER).is_some_and(|v| !acceptable(v)) {
        req.headers_mut().remove(HEADER);
    }
    req
}

/// Adds the request's `x-request-id` to JSON error bodies.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorBodyLayer;

impl<S> Layer<S> for ErrorBodyLayer {
    type Service = ErrorBody<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ErrorBody { inner }
    }
}

#[derive(Debug, Clone)]
pub struct ErrorBody<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for ErrorBody<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The set-request-id layer outside this one has put it on the request.
        let id = req.headers().get(HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await?;
            let is_json_error = res.status().as_u16() >= 400
                && res.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            let Some(id) = id else { return Ok(res) };
            if !is_json_error {
                return Ok(res);
            }
            let (mut parts, body) = res.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
                // Too large or broken to be one of ours: answered without a body rather than half of one.
                parts.headers.remove(http::header::CONTENT_LENGTH);
                return Ok(Response::from_parts(parts, Body::empty()));
            };
            let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(mut value) => {
                    with_id(&mut value, id);
                    serde_json::to_vec(&value).map(Body::from).unwrap_or_else(|_| Body::from(bytes))
                }
                Err(_) => Body::from(bytes),
            };
            parts.headers.remove(http::header::CONTENT_LENGTH);
            Ok(Response::from_parts(parts, body))
        })
    }
}

/// `{"error": {...}}` (REST) gets `error.request_id`; a Connect error
/// (`{"code": ..., "message": ...}`) gets `request_id`.
fn with_id(value: &mut serde_json::Value, id: String) {
    if let Some(error) = value.get_mut("error").and_then(|e| e.as_object_mut()) {
        error.insert("request_id".into(), id.into());
    } else if let Some(object) = value.as_object_mut().filter(|o| o.contains_key("code")) {
        object.insert("request_id".into(), id.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_short_client_ids_are_kept() {
        for ok in ["abc", "0f3a-17.x_Y", &"a".repeat(64)] {
            assert!(acceptable(&HeaderValue::from_str(ok).unwrap()), "{ok}");
        }
        for bad in ["", "a b", "x\\ny", "{\"json\":1}", &"a".repeat(65)] {
            assert!(HeaderValue::from_str(bad).map_or(true, |v| !acceptable(&v)), "{bad:?}");
        }
    }

    #[test]
    fn ids_go_into_both_error_shapes() {
        let mut rest = serde_json::json!({"error": {"code": "not_found", "message": "no such route"}});
        with_id(&mut rest, "r1".into());
        assert_eq!(rest["error"]["request_id"], "r1");
        let mut connect = serde_json::json!({"code": "invalid_argument", "message": "name is required"});
        with_id(&mut connect, "r2".into());
        assert_eq!(connect["request_id"], "r2");
        let mut other = serde_json::json!([1, 2]);
        with_id(&mut other, "r3".into());
        assert_eq!(other, serde_json::json!([1, 2]));
    }
}
