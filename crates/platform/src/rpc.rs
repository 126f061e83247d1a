//! One port for gRPC, gRPC-Web and Connect.
//!
//! [`RpcRouter`] collects tonic services and turns them into an axum router
//! where gRPC goes straight to tonic, gRPC-Web through `tonic-web`, and
//! Connect unary calls through [`crate::connect`]; the standard health and
//! reflection services are added, and every call is observed once.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, body::Body};
use http::{Request, Response};
use tonic::server::NamedService;
use tower::{Layer, Service};

use crate::{
    connect::ConnectLayer,
    health::Readiness,
    observe::{ObserveLayer, Protocol},
};

/// The tonic services a process serves.
pub struct RpcRouter {
    routes: tonic::service::Routes,
    services: Vec<&'static str>,
}

impl Default for RpcRouter {
    fn default() -> Self {
        Self::new()
    }
}

impl RpcRouter {
    pub fn new() -> Self {
        Self { routes: tonic::service::Routes::default(), services: Vec::new() }
    }

    /// Adds a generated tonic server (`FooServiceServer::new(impl)`).
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: Service<Request<tonic::body::Body>, Error = Infallible> + NamedService + Clone + Send + Sync + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.services.push(S::NAME);
        self.routes = self.routes.add_service(service);
        self
    }

    /// The router serving every protocol, plus `grpc.health.v1.Health` (kept
    /// in step with `readiness` by a background task) and server reflection,
    /// so `grpcurl` and `buf curl` work without local `.proto` files.
    pub async fn into_router(self, readiness: Readiness) -> (Router, tokio::task::JoinHandle<()>) {
        let served = served_methods(&self.services);
        let (reporter, health) = tonic_health::server::health_reporter();
        let watcher = crate::health::watch_grpc(readiness, reporter, self.services).await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(platform_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .expect("contract descriptors are valid");
        let router = self
            .routes
            .add_service(health)
            .add_service(reflection)
            .into_axum_router()
            .layer(ObserveLayer::rpc(served))
            .layer(GrpcTimeoutLayer)
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(tower::util::MapRequestLayer::new(mark_grpc_web))
            .layer(ConnectLayer::new(platform_proto::descriptor_pool()));
        (router, watcher)
    }
}

/// Every RPC path the router serves: the methods of its services in the
/// contracts, and the standard health and reflection methods.
fn served_methods(services: &[&str]) -> Vec<String> {
    let pool = platform_proto::descriptor_pool();
    let mut methods: Vec<String> = services
        .iter()
        .filter_map(|name| pool.get_service_by_name(name))
        .flat_map(|s| {
            let service = s.full_name().to_owned();
            s.methods().map(move |m| format!("/{service}/{}", m.name())).collect::<Vec<_>>()
        })
        .collect();
    methods.extend(
        [
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ]
        .map(str::to_owned),
    );
    methods
}

/// tonic-web rewrites gRPC-Web requests into gRPC; remember what the client spoke.
fn mark_grpc_web(mut req: Request<Body>) -> Request<Body> {
    if Protocol::of(req.headers()) == Protocol::GrpcWeb {
        req.extensions_mut().insert(Protocol::GrpcWeb);
    }
    req
}

/// Enforces the client's deadline (`grpc-timeout`, which Connect's
/// `connect-timeout-ms` is translated to): a call still running when it
/// expires is cancelled and answered `DEADLINE_EXCEEDED`. tonic's own
/// transport does this, but the platform serves tonic through axum so that
/// one listener carries every protocol and the plain HTTP endpoints.
///
/// The handler runs inside [`crate::deadline::scope`], so the calls it makes
/// to other services see the same deadline ([`crate::deadline::remaining`]).
#[derive(Debug, Clone, Copy)]
pub struct GrpcTimeoutLayer;

impl<S> Layer<S> for GrpcTimeoutLayer {
    type Service = GrpcTimeout<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcTimeout { inner }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcTimeout<S> {
    inner: S,
}

impl<S, B, RB> Service<Request<B>> for GrpcTimeout<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    RB::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let timeout = req.headers().get("grpc-timeout").and_then(|v| v.to_str().ok()).and_then(parse_grpc_timeout);
        // A timeout too far away to represent is no deadline at all.
        let Some((timeout, deadline)) = timeout.and_then(|t| Some((t, tokio::time::Instant::now().checked_add(t)?)))
        else {
            let fut = self.inner.call(req);
            return Box::pin(async move { fut.await.map(|r| r.map(Body::new)) });
        };
        let fut = crate::deadline::sync_scope(deadline, || self.inner.call(req));
        Box::pin(crate::deadline::scope(deadline, async move {
            match tokio::time::timeout_at(deadline, fut).await {
                Ok(res) => res.map(|r| r.map(Body::new)),
                Err(_) => {
                    Ok(tonic::Status::deadline_exceeded(format!("deadline of {timeout:?} exceeded"))
                        .into_http::<Body>())
                }
            }
        }))
    }
}

/// Parses a `grpc-timeout` value: at most 8 digits and a unit
/// (`H`ours, `M`inutes, `S`econds, `m`illis, `u`micros, `n`anos).
pub fn parse_grpc_timeout(v: &str) -> Option<Duration> {
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grpc_timeouts() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("100n"), Some(Duration::from_nanos(100)));
        for bad in ["", "m", "123456789m", "12x", "-1S", "1.5S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
    }

    /// The handler sees the client's deadline as its remaining budget.
    #[tokio::test(start_paused = true)]
    async fn the_handler_runs_with_the_inbound_deadline() {
        use tower::ServiceExt;

        let handler = tower::service_fn(|_: Request<Body>| async {
            let budget = crate::deadline::remaining();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let text = format!("{:?} {:?}", budget, crate::deadline::remaining());
            Ok::<_, Infallible>(Response::new(Body::from(text)))
        });
        let svc = GrpcTimeoutLayer.layer(handler);
        let body = |res: Response<Body>| async {
            String::from_utf8(axum::body::to_bytes(res.into_body(), 1024).await.unwrap().to_vec()).unwrap()
        };

        let req = Request::builder().header("grpc-timeout", "300m").body(Body::empty()).unwrap();
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(body(res).await, "Some(300ms) Some(250ms)");

        let res = svc.clone().oneshot(Request::new(Body::empty())).await.unwrap();
        assert_eq!(body(res).await, "None None", "no grpc-timeout, no deadline");

        // Past the deadline the handler is cancelled and the client told so.
        let req = Request::builder().header("grpc-timeout", "20m").body(Body::empty()).unwrap();
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.headers()["grpc-status"], "4");
    }
}
