//! Browser sessions ("cookie mode"): the refresh token travels as an
//! `HttpOnly; Secure; SameSite=Strict` cookie that page scripts cannot read,
//! scoped to the two routes that take it, instead of in the JSON body.
//!
//! A client asks for it with `Session-Mode: cookie` on sign-up, login,
//! refresh and logout. Every cookie-mode request must come from an origin on
//! `AUTH_COOKIE_ORIGINS`: SameSite alone treats every port of `localhost` as
//! the same site, so another local app could otherwise spend the cookie.

use std::{fmt, str::FromStr};

use axum::{
    extract::{FromRef, FromRequest, Request},
    http::{HeaderMap, HeaderValue, StatusCode, header},
};
use cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use platform::rest::{ApiError, Json};

use crate::service::RefreshRequest;

/// The request header that asks for cookie mode, and its one value.
pub const MODE_HEADER: &str = "session-mode";
const MODE: &str = "cookie";
/// The cookie's name.
pub const NAME: &str = "refresh_token";
/// Where the browser sends it: nowhere else, so no other route sees it.
pub const PATHS: [&str; 2] = ["/auth/refresh", "/auth/logout"];

/// A browser origin, `scheme://host[:port]`, as the `Origin` header carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl FromStr for Origin {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let url = url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err("an origin is http(s)://host[:port]".into());
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err("an origin has no path, query or credentials: http(s)://host[:port]".into());
        }
        // `ascii_serialization` drops default ports and lowercases, as browsers send it.
        Ok(Self(url.origin().ascii_serialization()))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The origins whose pages may use cookie mode (`AUTH_COOKIE_ORIGINS`). Empty
/// refuses cookie mode altogether.
#[derive(Debug, Clone, Default)]
pub struct Origins(pub Vec<Origin>);

impl Origins {
    /// Cookie mode's gate: the request's `Origin` must be listed. A missing
    /// `Origin` is refused too: browsers send it on every cross-origin and
    /// same-origin POST (Fetch standard), so only non-browsers omit it.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        match origin {
            Some(o) if self.0.iter().any(|allowed| allowed.0.eq_ignore_ascii_case(o)) => Ok(()),
            _ if self.0.is_empty() => Err(forbidden(
                "cookie sessions are not enabled on this server (AUTH_COOKIE_ORIGINS is empty); use the JSON refresh_token",
            )),
            Some(o) => Err(forbidden(format!("cookie sessions are not allowed from the origin {o}"))),
            None => Err(forbidden("cookie sessions need an Origin header; browsers send one")),
        }
    }
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "origin_not_allowed", message)
}

/// Whether the client asked for cookie mode. Any other value of the header
/// is refused, so a typo does not silently fall back to tokens in the body.
pub fn requested(headers: &HeaderMap) -> Result<bool, ApiError> {
    match headers.get(MODE_HEADER).map(|v| v.to_str().map(str::trim)) {
        None => Ok(false),
        Some(Ok(v)) if v.eq_ignore_ascii_case(MODE) => Ok(true),
        Some(_) => Err(ApiError::bad_request("Session-Mode takes one value, `cookie`; leave it out for JSON tokens")),
    }
}

/// `Set-Cookie` values that hold `token` for `max_age`, one per path.
pub fn set(token: &str, max_age: std::time::Duration) -> Vec<HeaderValue> {
    let age = CookieDuration::seconds(i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX));
    PATHS.iter().map(|path| header_value(token, path, age)).collect()
}

/// `Set-Cookie` values that make the browser drop the cookie.
pub fn clear() -> Vec<HeaderValue> {
    PATHS.iter().map(|path| header_value("", path, CookieDuration::ZERO)).collect()
}

fn header_value(value: &str, path: &'static str, max_age: CookieDuration) -> HeaderValue {
    let cookie = Cookie::build((NAME, value))
        .path(path)
        .max_age(max_age)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .build();
    // A refresh token is URL-safe base64, and paths are constants: always a valid header.
    HeaderValue::from_str(&cookie.to_string()).expect("a cookie of visible ASCII")
}

/// The refresh token from the request's cookies, if it sent one.
pub fn read(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == NAME && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

/// The refresh token a refresh or logout presents: in the JSON body, or in
/// cookie mode from the cookie (no body needed), after the origin check.
pub enum Presented {
    Body(String),
    Cookie(Option<String>),
}

impl Presented {
    pub fn cookie_mode(&self) -> bool {
        matches!(self, Self::Cookie(_))
    }
}

impl<S> FromRequest<S> for Presented
where
    Origins: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if requested(req.headers())? {
            Origins::from_ref(state).check(req.headers())?;
            return Ok(Self::Cookie(read(req.headers())));
        }
        let Json(body) = Json::<RefreshRequest>::from_request(req, state).await?;
        Ok(Self::Body(body.refresh_token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(list: &[&str]) -> Origins {
        Origins(list.iter().map(|o| o.parse().unwrap()).collect())
    }

    fn with(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn origins_parse_as_browsers_send_them() {
        assert_eq!("HTTP://LocalHost:30081".parse::<Origin>().unwrap().to_string(), "http://localhost:30081");
        assert_eq!("https://example.com:443".parse::<Origin>().unwrap().to_string(), "https://example.com");
        for bad in ["localhost:30081", "ftp://x", "http://x/path", "http://u:p@x", "http://x?q"] {
            assert!(bad.parse::<Origin>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_listed_origins_pass() {
        let list = origins(&["http://localhost:30081"]);
        assert!(list.check(&with("origin", "http://localhost:30081")).is_ok());
        for (headers, says) in [
            (with("origin", "http://localhost:5174"), "origin http://localhost:5174"),
            (with("origin", "null"), "origin null"),
            (HeaderMap::new(), "need an Origin"),
        ] {
            let err = list.check(&headers).unwrap_err();
            assert_eq!((err.status, err.code.as_ref()), (StatusCode::FORBIDDEN, "origin_not_allowed"));
            assert!(err.message.contains(says), "{}", err.message);
        }
        let err = Origins::default().check(&with("origin", "http://localhost:30081")).unwrap_err();
        assert!(err.message.contains("AUTH_COOKIE_ORIGINS"), "{}", err.message);
    }

    #[test]
    fn the_cookie_is_http_only_secure_strict_and_scoped() {
        let set = set("tok", std::time::Duration::from_secs(60));
        let set: Vec<&str> = set.iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(set.len(), 2);
        for (value, path) in set.iter().zip(PATHS) {
            for part in ["refresh_token=tok", "HttpOnly", "Secure", "SameSite=Strict", "Max-Age=60"] {
                assert!(value.contains(part), "{value} lacks {part}");
            }
            assert!(value.contains(&format!("Path={path}")), "{value}");
        }
        for value in clear() {
            assert!(value.to_str().unwrap().contains("Max-Age=0"), "{value:?}");
        }
    }

    #[test]
    fn the_token_is_read_from_among_other_cookies() {
        assert_eq!(read(&with("cookie", "a=1; refresh_token=xyz; b=2")).as_deref(), Some("xyz"));
        assert_eq!(read(&with("cookie", "refresh_token=")), None);
        assert_eq!(read(&HeaderMap::new()), None);
    }

    #[test]
    fn the_mode_header_takes_one_value() {
        assert!(!requested(&HeaderMap::new()).unwrap());
        assert!(requested(&with("session-mode", "Cookie")).unwrap());
        assert_eq!(requested(&with("session-mode", "cookies")).unwrap_err().status, StatusCode::BAD_REQUEST);
    }
}
