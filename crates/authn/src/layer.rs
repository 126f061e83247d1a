//! A tower layer that enforces a gRPC service's access table.
//!
//! It reads `authorization: Bearer …` metadata, verifies the token through
//! the service's [`Gate`], checks the called method's [`Access`](crate::Access) level
//! ([`Route::of_rpc`]: methods missing from the table need a user's token)
//! and inserts the caller's [`Identity`] into the request extensions, where
//! tonic handlers find it with `request.extensions().get::<Identity>()`.
//! Refusals are gRPC statuses: `UNAUTHENTICATED` for a missing or invalid
//! token, `PERMISSION_DENIED` for a valid one that does not grant the
//! method, `UNAVAILABLE` when the keys cannot be fetched. The wrapped
//! service keeps its gRPC name, so a layered generated server is routed like
//! the original.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use http::{Request, Response, header::AUTHORIZATION};
use tonic::{Status, server::NamedService};
use tower::{Layer, Service};

use crate::{
    Identity,
    access::{Denied, Gate, Route},
};

#[derive(Clone)]
pub struct AccessLayer {
    gate: Gate,
    routes: &'static [Route],
}

impl AccessLayer {
    pub fn new(gate: Gate, routes: &'static [Route]) -> Self {
        Self { gate, routes }
    }

    /// `inner` behind the layer (the same as [`Layer::layer`]).
    pub fn wrap<S>(&self, inner: S) -> Enforce<S> {
        self.layer(inner)
    }
}

impl<S> Layer<S> for AccessLayer {
    type Service = Enforce<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Enforce { inner, gate: self.gate.clone(), routes: self.routes }
    }
}

#[derive(Clone)]
pub struct Enforce<S> {
    inner: S,
    gate: Gate,
    routes: &'static [Route],
}

impl<S: NamedService> NamedService for Enforce<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B, RB> Service<Request<B>> for Enforce<S>
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
        let gate = self.gate.clone();
        let access = Route::of_rpc(self.routes, req.uri().path());
        Box::pin(async move {
            // Identity only ever comes from a verified token.
            req.extensions_mut().remove::<Identity>();
            match gate.admit(access, req.headers().get(AUTHORIZATION)).await {
                Ok(caller) => {
                    if let Some(caller) = caller {
                        req.extensions_mut().insert(caller);
                    }
                    inner.call(req).await
                }
                Err(denied) => {
                    tracing::debug!(?denied, path = %req.uri().path(), "call refused");
                    Ok(status(denied).into_http())
                }
            }
        })
    }
}

/// The gRPC status for a refusal.
pub fn status(denied: Denied) -> Status {
    match denied {
        Denied::Unauthenticated(m) => Status::unauthenticated(m),
        Denied::Forbidden(m) => Status::permission_denied(m),
        Denied::Unavailable(m) => Status::unavailable(m),
    }
}
