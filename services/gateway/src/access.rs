//! Who may call which RPC.
//!
//! Every gateway RPC needs a valid access token, verified locally against
//! auth's published keys by [`authn::AuthLayer`], except those listed in
//! [`ANONYMOUS`], which also answer callers without one (with less). A
//! token that is sent but invalid is refused everywhere. New RPCs are
//! protected unless deliberately listed.

use std::{
    convert::Infallible,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use authn::{AuthLayer, Jwks, Mode, layer::Authenticate};
use http::{Request, Response};
use tonic::server::NamedService;
use tower::{Layer, Service, ServiceExt};

use crate::service::OVERVIEW;

/// RPCs that serve callers without a token.
pub const ANONYMOUS: &[&str] = &[OVERVIEW];

/// `inner` behind [`Authenticate`], in [`Mode::Optional`] for the
/// [`ANONYMOUS`] methods and [`Mode::Required`] for every other.
#[derive(Clone)]
pub struct PerMethodAuth<S> {
    required: Authenticate<S>,
    optional: Authenticate<S>,
}

impl<S: Clone> PerMethodAuth<S> {
    pub fn new(inner: S, jwks: Arc<Jwks>) -> Self {
        Self {
            required: AuthLayer::new(jwks.clone(), Mode::Required).layer(inner.clone()),
            optional: AuthLayer::new(jwks, Mode::Optional).layer(inner),
        }
    }
}

impl<S: NamedService> NamedService for PerMethodAuth<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B, RB> Service<Request<B>> for PerMethodAuth<S>
where
    Authenticate<S>: Service<Request<B>, Response = Response<RB>, Error = Infallible> + Clone + Send + 'static,
    <Authenticate<S> as Service<Request<B>>>::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<RB>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<RB>, Infallible>> + Send>>;

    /// Readiness is checked per call, on the service the path selects.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let service = if ANONYMOUS.contains(&req.uri().path()) { self.optional.clone() } else { self.required.clone() };
        Box::pin(service.oneshot(req))
    }
}
