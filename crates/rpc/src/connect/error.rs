//! Connect's error format: `{"code", "message", "details"}` with the HTTP
//! status the specification assigns to the code.

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use prost_reflect::DescriptorPool;
use tonic::Code;

use crate::compression;

/// A Connect error answering `status`, with `headers` (the call's metadata)
/// and its details in Connect's JSON form. Errors go uncompressed, which
/// the spec allows: they are small, and the request id is added to them
/// on the way out (`platform::request_id`).
pub(crate) fn response(status: &tonic::Status, headers: HeaderMap, pool: &DescriptorPool) -> Response<Body> {
    let details = crate::details::to_connect(pool, status.details());
    let mut res = Response::new(Body::from(body(status.code(), status.message(), details)));
    *res.headers_mut() = headers;
    *res.status_mut() = http_status(status.code());
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut().insert(header::ACCEPT_ENCODING, HeaderValue::from_static(compression::ACCEPTED));
    res
}

/// A Connect error without details or metadata, uncompressed.
pub(crate) fn plain(code: Code, message: &str) -> Response<Body> {
    let mut res = Response::new(Body::from(body(code, message, Vec::new())));
    *res.status_mut() = http_status(code);
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

fn body(code: Code, message: &str, details: Vec<serde_json::Value>) -> Vec<u8> {
    let mut body = serde_json::json!({ "code": platform::observe::code_name(code as i32) });
    if !message.is_empty() {
        body["message"] = message.into();
    }
    if !details.is_empty() {
        body["details"] = details.into();
    }
    body.to_string().into_bytes()
}

/// The HTTP status the Connect specification assigns to a code.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).expect("valid status"),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_follows_the_spec() {
        assert_eq!(http_status(Code::InvalidArgument), 400);
        assert_eq!(http_status(Code::Unauthenticated), 401);
        assert_eq!(http_status(Code::Unavailable), 503);
        assert_eq!(http_status(Code::ResourceExhausted), 429);
        assert_eq!(http_status(Code::Cancelled), 499);
    }

    #[test]
    fn the_body_leaves_out_what_is_empty() {
        let v: serde_json::Value = serde_json::from_slice(&body(Code::Unavailable, "", Vec::new())).unwrap();
        assert_eq!(v, serde_json::json!({"code": "unavailable"}));
        let v: serde_json::Value =
            serde_json::from_slice(&body(Code::Cancelled, "gone", vec![serde_json::json!({"type": "t"})])).unwrap();
        assert_eq!(v, serde_json::json!({"code": "canceled", "message": "gone", "details": [{"type": "t"}]}));
    }
}
