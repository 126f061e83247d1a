//! The Connect protocol's unary calls, in front of tonic services.
//!
//! A Connect unary call is a plain HTTP POST whose body is the bare request
//! message, or, for methods marked `idempotency_level = NO_SIDE_EFFECTS`, a
//! GET with the message in the query string (`connect/unary.rs`); a
//! streaming call (client, server or bidi) carries enveloped messages and
//! ends with an end-of-stream envelope (`connect/stream.rs`). This layer
//! translates either into the equivalent gRPC call, hands it to the same
//! tonic service that serves gRPC clients, and translates the answer back,
//! so every RPC is implemented once and validated, observed and traced the
//! same way whatever the protocol.
//!
//! It also answers every request that reaches the RPC router and that no
//! protocol here accepts, in the terms of the protocol the client used: an
//! unknown service or method is Connect's `unimplemented` (404), a media
//! type no protocol here speaks is 415 with `Accept-Post`, a verb other than
//! POST (or GET where allowed) is 405 with `Allow`, a bidi call over
//! HTTP/1.1 is 505 (the protocols need HTTP/2 for it). gRPC and gRPC-Web
//! calls pass through to tonic-web and tonic, which answer in gRPC's terms.
//!
//! Why not a library: `connectrpc-axum` needs `protoc` at build time and
//! replaces tonic's service traits with its own handlers, and `connectrpc`
//! (connect-rust) is built on its own protobuf runtime rather than prost.
//! What is here is the remainder neither provides: Connect's HTTP framing
//! around tonic.

mod error;
mod query;
mod stream;
mod transcode;
mod unary;

use std::{
    collections::HashSet,
    convert::Infallible,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use platform::observe::RpcStatus;
use prost_reflect::{DescriptorPool, MethodDescriptor};
use tonic::Code;
use tower::{Layer, Service};

pub use error::http_status;

/// What the router serves, as its contracts describe it.
#[derive(Debug)]
pub struct Catalog {
    pool: DescriptorPool,
    served: HashSet<String>,
}

/// What a request's path names.
enum Lookup {
    Method(MethodDescriptor),
    UnknownMethod,
    /// A service not served here, or no `/<service>/<method>` path at all.
    Unknown,
}

impl Catalog {
    /// `pool` describes every service in `served` (and may describe more).
    pub fn new(pool: DescriptorPool, served: &[&str]) -> Self {
        Self { pool, served: served.iter().map(|s| (*s).to_owned()).collect() }
    }

    /// Every served method's path (`/<package>.<Service>/<Method>`).
    pub fn methods(&self) -> Vec<String> {
        self.served
            .iter()
            .filter_map(|name| self.pool.get_service_by_name(name))
            .flat_map(|s| {
                s.methods().map(|m| format!("/{}/{}", m.parent_service().full_name(), m.name())).collect::<Vec<_>>()
            })
            .collect()
    }

    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    fn lookup(&self, path: &str) -> Lookup {
        let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
            return Lookup::Unknown;
        };
        if !self.served.contains(service) {
            return Lookup::Unknown;
        }
        match self.pool.get_service_by_name(service).and_then(|s| s.methods().find(|m| m.name() == method)) {
            Some(m) => Lookup::Method(m),
            None => Lookup::UnknownMethod,
        }
    }
}

fn is_unary(m: &MethodDescriptor) -> bool {
    !m.is_client_streaming() && !m.is_server_streaming()
}

/// Whether the contract marks the method `idempotency_level = NO_SIDE_EFFECTS`,
/// which makes it callable with GET.
fn has_no_side_effects(m: &MethodDescriptor) -> bool {
    m.method_descriptor_proto().options.as_ref().and_then(|o| o.idempotency_level)
        == Some(prost_types::method_options::IdempotencyLevel::NoSideEffects as i32)
}

/// The message codec of a Connect unary call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Json,
    Proto,
}

impl Codec {
    /// `json` or `proto`, as `application/<codec>` and GET's `encoding=` name them.
    fn parse(name: &str) -> Option<Self> {
        match name {
            "json" => Some(Self::Json),
            "proto" => Some(Self::Proto),
            _ => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Proto => "application/proto",
        }
    }
}

/// A request's media type, as the protocols here see it.
#[derive(Debug, PartialEq, Eq)]
enum Media {
    /// gRPC with protobuf messages: tonic's.
    Grpc,
    /// gRPC-Web with protobuf messages: tonic-web's.
    GrpcWeb,
    /// A Connect unary body.
    Unary(Codec),
    /// Connect envelopes.
    Stream(Codec),
    /// Anything else, or none.
    Other,
}

fn media(headers: &HeaderMap) -> Media {
    let Some(ct) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return Media::Other };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/grpc" | "application/grpc+proto" => Media::Grpc,
        "application/grpc-web"
        | "application/grpc-web+proto"
        | "application/grpc-web-text"
        | "application/grpc-web-text+proto" => Media::GrpcWeb,
        _ => match essence.strip_prefix("application/connect+").and_then(Codec::parse) {
            Some(codec) => Media::Stream(codec),
            None => essence.strip_prefix("application/").and_then(Codec::parse).map_or(Media::Other, Media::Unary),
        },
    }
}

/// `Accept-Post` of a 415: what a POST to the method may carry.
fn accept_post(unary: bool) -> &'static str {
    const UNARY: &str = "application/grpc, application/grpc+proto, application/grpc-web, application/grpc-web+proto, \
                         application/grpc-web-text, application/grpc-web-text+proto, application/json, application/proto";
    const STREAM: &str = "application/grpc, application/grpc+proto, application/grpc-web, application/grpc-web+proto, \
                          application/grpc-web-text, application/grpc-web-text+proto, application/connect+json, \
                          application/connect+proto";
    if unary { UNARY } else { STREAM }
}

/// Adds [`Connect`] around the gRPC-Web and gRPC layers of a router.
#[derive(Clone)]
pub struct ConnectLayer {
    catalog: Arc<Catalog>,
}

impl ConnectLayer {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self { catalog }
    }
}

impl<S> Layer<S> for ConnectLayer {
    type Service = Connect<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Connect { inner, catalog: self.catalog.clone() }
    }
}

#[derive(Clone)]
pub struct Connect<S> {
    inner: S,
    catalog: Arc<Catalog>,
}

/// What the layer does with a request.
enum Route {
    /// A Connect unary call to translate: POST with its body's codec, or GET.
    Post(MethodDescriptor, Codec),
    Get(MethodDescriptor),
    /// A Connect streaming call to translate.
    Stream(MethodDescriptor, Codec),
    /// Answered here: the response and the gRPC code the request log records.
    Refuse(Response<Body>, Code),
    /// gRPC and gRPC-Web: tonic-web's and tonic's.
    Pass,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, RB> Service<Request<Body>> for Connect<S>
where
    S: Service<Request<Body>, Response = Response<RB>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // Take the service that was driven to readiness; leave a clone.
        let inner = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, inner);
        let catalog = self.catalog.clone();
        match route(&catalog, &req) {
            Route::Post(method, codec) => {
                Box::pin(async move { Ok(unary::serve(inner, req, &catalog, method, unary::Kind::Post(codec)).await) })
            }
            Route::Get(method) => {
                Box::pin(async move { Ok(unary::serve(inner, req, &catalog, method, unary::Kind::Get).await) })
            }
            Route::Stream(method, codec) => {
                Box::pin(async move { Ok(stream::serve(inner, req, catalog.pool(), method, codec).await) })
            }
            Route::Refuse(res, code) => {
                if let Some(status) = req.extensions().get::<RpcStatus>() {
                    status.set(code as i32);
                }
                Box::pin(std::future::ready(Ok(res)))
            }
            Route::Pass => Box::pin(async move { Ok(inner.call(req).await?.map(Body::new)) }),
        }
    }
}

fn route(catalog: &Catalog, req: &Request<Body>) -> Route {
    let path = req.uri().path();
    let media = media(req.headers());
    let grpc = matches!(media, Media::Grpc | Media::GrpcWeb);
    let method = match catalog.lookup(path) {
        Lookup::Method(m) => m,
        // tonic answers gRPC clients itself, `unimplemented` included.
        _ if grpc => return Route::Pass,
        Lookup::UnknownMethod => {
            // 404, as the spec has it for a procedure the server does not
            // know (501 is for known ones it does not implement).
            let message = format!("{path} is not a method of this service; see its contract or server reflection");
            return refuse(StatusCode::NOT_FOUND, Code::Unimplemented, &message);
        }
        Lookup::Unknown => {
            let message = format!("no RPC is served at {path}");
            return refuse(StatusCode::NOT_FOUND, Code::Unimplemented, &message);
        }
    };
    let unary = is_unary(&method);
    let bidi = method.is_client_streaming() && method.is_server_streaming();
    if bidi && req.version() < http::Version::HTTP_2 && matches!(media, Media::Stream(_) | Media::GrpcWeb) {
        // Both sides stream at once: HTTP/1.1 cannot carry that (connect-go refuses it the same way).
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::HTTP_VERSION_NOT_SUPPORTED;
        return Route::Refuse(res, Code::Unimplemented);
    }
    if media == Media::Grpc || (media == Media::GrpcWeb && *req.method() == Method::POST) {
        return Route::Pass;
    }
    let gettable = unary && has_no_side_effects(&method);
    match *req.method() {
        Method::POST => match media {
            Media::Unary(codec) if unary => Route::Post(method, codec),
            Media::Stream(codec) if !unary => Route::Stream(method, codec),
            _ => {
                let mut res = Response::new(Body::empty());
                *res.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
                res.headers_mut().insert("accept-post", HeaderValue::from_static(accept_post(unary)));
                // No code of Connect's fits: the request log files it under
                // the client's mistake, not the server's.
                Route::Refuse(res, Code::InvalidArgument)
            }
        },
        Method::GET if gettable => Route::Get(method),
        _ => {
            let allow = if gettable { "GET, POST" } else { "POST" };
            let message = if gettable {
                format!("{} {path}: call it with POST, or GET with the message in the query", req.method())
            } else {
                format!(
                    "{} {path}: Connect calls are POSTs (GET only for methods marked idempotency_level = NO_SIDE_EFFECTS)",
                    req.method()
                )
            };
            let Route::Refuse(mut res, code) = refuse(StatusCode::METHOD_NOT_ALLOWED, Code::Unimplemented, &message)
            else {
                unreachable!("refuse refuses")
            };
            res.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
            Route::Refuse(res, code)
        }
    }
}

/// A Connect error with its code, at `http` (rather than the code's own status).
fn refuse(http: StatusCode, code: Code, message: &str) -> Route {
    let mut res = error::plain(code, message);
    *res.status_mut() = http;
    Route::Refuse(res, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_are_read_as_the_protocols_name_them() {
        let of = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            media(&h)
        };
        assert_eq!(of("application/json"), Media::Unary(Codec::Json));
        assert_eq!(of("Application/JSON; charset=utf-8"), Media::Unary(Codec::Json));
        assert_eq!(of("application/proto"), Media::Unary(Codec::Proto));
        assert_eq!(of("application/grpc"), Media::Grpc);
        assert_eq!(of("application/grpc-web-text+proto"), Media::GrpcWeb);
        assert_eq!(of("application/connect+json"), Media::Stream(Codec::Json));
        assert_eq!(of("application/connect+proto"), Media::Stream(Codec::Proto));
        for other in ["application/grpc+json", "application/connect+xml", "text/plain", "application/xml", ""] {
            assert_eq!(of(other), Media::Other, "{other}");
        }
        assert_eq!(media(&HeaderMap::new()), Media::Other);
    }
}
