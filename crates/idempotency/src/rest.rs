//! The `Idempotency-Key` header of REST writes, and the answers it leads to.

use http::{HeaderMap, HeaderValue, StatusCode, header};
use platform::rest::ApiError;

use crate::{HEADER, Key, Outcome, REPLAYED, Refused, Request, Scope};

/// The request's key, if it sent one; 400 when it is malformed or repeated.
pub fn key(headers: &HeaderMap) -> Result<Option<Key>, ApiError> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(bad_key("send one Idempotency-Key header, not several"));
    }
    let value = value.to_str().map_err(|_| bad_key("the Idempotency-Key header is not visible ASCII"))?;
    Key::parse(value).map(Some).map_err(|e| bad_key(e.to_string()))
}

/// The keyed request, if a key was sent: `scope`'s key over `method`,
/// `path` and `body` as parsed (re-serialised as JSON, so the sent bytes' spacing
/// does not matter).
pub fn request(
    headers: &HeaderMap,
    scope: &Scope,
    method: &http::Method,
    path: &str,
    body: &impl serde::Serialize,
) -> Result<Option<Request>, ApiError> {
    let Some(key) = key(headers)? else { return Ok(None) };
    let body = serde_json::to_vec(body).map_err(|e| ApiError::unavailable("the request's fingerprint", e))?;
    Ok(Some(key.request(scope, method.as_str(), path, &body)))
}

fn bad_key(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_idempotency_key", message)
}

/// The answer to a request that was not run: 422 for a key reused with
/// another request, 409 (with `Retry-After`) while the first still runs,
/// 503 when the store is down.
pub fn refused(refusal: Refused) -> ApiError {
    match refusal {
        Refused::Mismatch => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused", refusal.to_string())
        }
        Refused::InProgress => ApiError::new(StatusCode::CONFLICT, "idempotency_key_in_use", refusal.to_string())
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("1")),
        Refused::Store(e) => ApiError::unavailable("the idempotency store", e),
    }
}

/// An outcome that keeps a JSON answer.
pub fn json_outcome(status: StatusCode, body: &impl serde::Serialize) -> Outcome {
    Outcome { status: status.as_u16().into(), body: serde_json::to_vec(body).unwrap_or_default() }
}

/// Marks an answer as a replay (`Idempotent-Replayed: true`).
pub fn mark_replayed(response: &mut axum::response::Response) {
    response.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
}

/// The stored answer, replayed: its status, its JSON body (none when it
/// kept none), and `Idempotent-Replayed: true`.
pub fn replay(outcome: &Outcome) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = u16::try_from(outcome.status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = if outcome.body.is_empty() {
        status.into_response()
    } else {
        (status, [(header::CONTENT_TYPE, "application/json")], outcome.body.clone()).into_response()
    };
    mark_replayed(&mut response);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_headers() {
        let mut headers = HeaderMap::new();
        assert!(key(&headers).unwrap().is_none());
        headers.insert(HEADER, HeaderValue::from_static("\"8e03978e-40d5-43e8-bc93-6894a57f9324\""));
        assert!(key(&headers).unwrap().is_some());
        headers.append(HEADER, HeaderValue::from_static("8e03978e-40d5-43e8-bc93-6894a57f9325"));
        assert_eq!(key(&headers).unwrap_err().message, "send one Idempotency-Key header, not several");
        headers.insert(HEADER, HeaderValue::from_static("short"));
        let err = key(&headers).unwrap_err();
        assert_eq!(err.code, "invalid_idempotency_key");
        assert!(err.message.contains("16 to 255"), "{}", err.message);
    }

    #[test]
    fn refusals_map_to_the_drafts_statuses() {
        assert_eq!(refused(Refused::Mismatch).status, StatusCode::UNPROCESSABLE_ENTITY);
        let busy = refused(Refused::InProgress);
        assert_eq!(busy.status, StatusCode::CONFLICT);
        assert!(busy.headers.iter().any(|(name, value)| name == header::RETRY_AFTER && value == "1"));
    }

    #[test]
    fn replays_keep_status_and_body() {
        let r = replay(&json_outcome(StatusCode::CREATED, &serde_json::json!({"id": 1})));
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()[REPLAYED], "true");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let empty = replay(&Outcome { status: 204, body: vec![] });
        assert_eq!(empty.status(), StatusCode::NO_CONTENT);
        assert!(empty.headers().get(header::CONTENT_TYPE).is_none());
    }
}
