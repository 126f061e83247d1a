//! The access levels as axum extractors, for REST services.
//!
//! A handler states its level by what it extracts: [`Anyone`] (public; the
//! identity when a valid token was sent), [`User`], [`Admin`] or
//! [`Service`]. The router's state provides the service's [`Gate`]. Refusals
//! are the platform's REST error shape: 401 with an RFC 6750 challenge, 403,
//! or 503 when the keys cannot be fetched.

use axum::extract::{FromRef, FromRequestParts};
use http::{HeaderValue, StatusCode, header, request::Parts};
use platform::rest::ApiError;

use crate::{
    Identity,
    access::{Access, Denied, Gate},
};

/// Public: anyone, with their identity when they sent a valid token.
pub struct Anyone(pub Option<Identity>);
/// A user's access token.
pub struct User(pub Identity);
/// A user's token with the admin role.
pub struct Admin(pub Identity);
/// A service's token from an allowed client.
pub struct Service(pub Identity);

async fn admit<S: Send + Sync>(parts: &Parts, state: &S, access: Access) -> Result<Option<Identity>, ApiError>
where
    Gate: FromRef<S>,
{
    let gate = Gate::from_ref(state);
    gate.admit(access, parts.headers.get(header::AUTHORIZATION)).await.map_err(refusal)
}

macro_rules! extractor {
    ($name:ident, $access:expr) => {
        impl<S: Send + Sync> FromRequestParts<S> for $name
        where
            Gate: FromRef<S>,
        {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                let caller = admit(parts, state, $access).await?;
                Ok($name(caller.expect("every level but public requires a caller")))
            }
        }
    };
}

extractor!(User, Access::User);
extractor!(Admin, Access::Admin);
extractor!(Service, Access::Service);

impl<S: Send + Sync> FromRequestParts<S> for Anyone
where
    Gate: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        admit(parts, state, Access::Public).await.map(Anyone)
    }
}

/// The REST answer for a refusal.
pub fn refusal(denied: Denied) -> ApiError {
    match denied {
        Denied::Unauthenticated(why) => unauthorized(Some(&why)),
        Denied::Forbidden(why) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", why),
        Denied::Unavailable(why) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", why),
    }
}

/// 401 with the RFC 6750 challenge: no error code when no token was sent,
/// `invalid_token` and a description when one was refused.
pub fn unauthorized(problem: Option<&str>) -> ApiError {
    let missing = crate::Rejected::Missing.to_string();
    let (challenge, message) = match problem.filter(|why| *why != missing) {
        None => ("Bearer realm=\"platform\"".to_owned(), "send an access token as Authorization: Bearer <token>"),
        Some(why) => {
            let description = why.replace(['"', '\\'], "'");
            (format!("Bearer realm=\"platform\", error=\"invalid_token\", error_description=\"{description}\""), why)
        }
    };
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message).with_header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).unwrap_or_else(|_| HeaderValue::from_static("Bearer realm=\"platform\"")),
    )
}
