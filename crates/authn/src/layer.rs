//! A tower layer that authenticates gRPC calls.
//!
//! It reads `authorization: Bearer …` metadata, verifies the token with a
//! [`Jwks`] and inserts the caller's [`Identity`] into the request
//! extensions, where tonic handlers find it with
//! `request.extensions().get::<Identity>()`. Refusals are gRPC statuses:
//! `UNAUTHENTICATED` for a missing (when required) or invalid token,
//! `UNAVAILABLE` when the keys cannot be fetched. The wrapped service keeps
//! its gRPC name, so a layered generated server can be routed like the
//! original.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response, header::AUTHORIZATION};
use tonic::{Status, server::NamedService};
use tower::{Layer, Service};

use crate::{Identity, Jwks, Rejected, claims::bearer};

/// Whether a call without a token is let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Calls without a valid token are refused.
    Required,
    /// Calls without a token pass, without an [`Identity`]; a token that is
    /// present but invalid is still refused, so a client never silently
    /// loses its identity.
    Optional,
}

#[derive(Clone)]
pub struct AuthLayer {
    jwks: Arc<Jwks>,
    mode: Mode,
}

impl AuthLayer {
    pub fn new(jwks: Arc<Jwks>, mode: Mode) -> Self {
        Self { jwks, mode }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticate<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Authenticate { inner, jwks: self.jwks.clone(), mode: self.mode }
    }
}

#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
    jwks: Arc<Jwks>,
    mode: Mode,
}

impl<S: NamedService> NamedService for Authenticate<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B, RB> Service<Request<B>> for Authenticate<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<RB>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // Use the service that was driven to readiness; leave a clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let jwks = self.jwks.clone();
        let mode = self.mode;
        Box::pin(async move {
            // Identity only ever comes from a verified token.
            req.extensions_mut().remove::<Identity>();
            let header = req.headers().get(AUTHORIZATION).map(|v| v.to_str().ok().and_then(bearer));
            let token = match (header, mode) {
                (None, Mode::Optional) => return inner.call(req).await,
                (None, Mode::Required) => return Ok(refuse(Rejected::Missing)),
                (Some(None), _) => {
                    return Ok(Status::unauthenticated("authorization must be \"Bearer <access token>\"").into_http());
                }
                (Some(Some(token)), _) => token.to_owned(),
            };
            match jwks.verify(&token).await {
                Ok(claims) => {
                    req.extensions_mut().insert(Identity::from(claims));
                    inner.call(req).await
                }
                Err(rejected) => {
                    tracing::debug!(reason = %rejected, "call refused");
                    Ok(refuse(rejected))
                }
            }
        })
    }
}

fn refuse<RB: Default>(rejected: Rejected) -> Response<RB> {
    match rejected {
        Rejected::KeysUnavailable => Status::unavailable(rejected.to_string()),
        other => Status::unauthenticated(other.to_string()),
    }
    .into_http()
}
