//! The Connect protocol (unary, JSON and binary) in front of tonic services.
//!
//! A Connect unary call is a plain HTTP POST whose body is the bare request
//! message. This layer translates such a call into the equivalent gRPC call,
//! hands it to the same tonic service that serves gRPC clients, and
//! translates the answer back, so every RPC is implemented once and
//! validated, observed and traced the same way whatever the protocol.
//!
//! JSON uses protobuf's canonical JSON mapping through `prost-reflect` and
//! the contracts' descriptors; binary (`application/proto`) passes through
//! untouched. Errors follow the Connect error format with the HTTP status the
//! Connect specification assigns to each code.
//!
//! Why not a library: `connectrpc-axum` needs `protoc` at build time and
//! replaces tonic's service traits with its own handlers, and `connectrpc`
//! (connect-rust) is built on its own protobuf runtime rather than prost.
//! The adapter below is the small remainder neither provides: HTTP framing
//! around tonic. Streaming Connect calls are not supported (the platform's
//! RPCs are unary); gRPC and gRPC-Web clients can stream.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll},
};

use axum::body::Body;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor, SerializeOptions};
use tonic::Code;
use tower::{Layer, Service, ServiceExt};

use crate::observe::Protocol;

/// Largest Connect request body accepted (the same as tonic's default
/// decoding limit for gRPC).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Adds [`Connect`] around a tonic router.
#[derive(Clone)]
pub struct ConnectLayer {
    pool: &'static DescriptorPool,
}

impl ConnectLayer {
    /// `pool` describes the services behind the layer; calls to methods it
    /// does not know pass through untouched.
    pub fn new(pool: &'static DescriptorPool) -> Self {
        Self { pool }
    }
}

impl<S> Layer<S> for ConnectLayer {
    type Service = Connect<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Connect { inner, pool: self.pool }
    }
}

#[derive(Clone)]
pub struct Connect<S> {
    inner: S,
    pool: &'static DescriptorPool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Json,
    Proto,
}

impl Codec {
    fn of(headers: &HeaderMap) -> Option<Self> {
        let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        let essence = ct.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => Some(Self::Json),
            "application/proto" => Some(Self::Proto),
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
        let inner = std::mem::replace(&mut self.inner, inner);
        match route(self.pool, &req) {
            Route::Unary(codec, method) => Box::pin(async move { Ok(unary_call(inner, req, codec, method).await) }),
            Route::Refuse(res) => Box::pin(std::future::ready(Ok(res))),
            Route::Pass => {
                let mut inner = inner;
                Box::pin(async move {
                    let res = inner.call(req).await?;
                    Ok(res.map(Body::new))
                })
            }
        }
    }
}

/// What the layer does with a request.
enum Route {
    /// A Connect unary call to translate.
    Unary(Codec, MethodDescriptor),
    /// Under a service's path but no call any protocol here can serve:
    /// answered as Connect says, rather than by tonic in gRPC's terms.
    Refuse(Response<Body>),
    /// gRPC, gRPC-Web, or a path under no known service: tonic's.
    Pass,
}

/// The media types a Connect unary POST may have (`Accept-Post` on a 415).
const ACCEPT_POST: &str = "application/json, application/proto";

fn route(pool: &DescriptorPool, req: &Request<Body>) -> Route {
    let path = req.uri().path();
    let Some(service) = path.strip_prefix('/').and_then(|p| p.split_once('/')).map(|(service, _)| service) else {
        return Route::Pass;
    };
    let grpc = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/grpc"));
    if grpc || pool.get_service_by_name(service).is_none() {
        return Route::Pass;
    }
    if req.method() != http::Method::POST {
        let mut res =
            error(Code::Unimplemented, &format!("{} {path}: Connect unary calls are POSTs", req.method()), None);
        *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Route::Refuse(res);
    }
    let Some(codec) = Codec::of(req.headers()) else {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        res.headers_mut().insert("accept-post", HeaderValue::from_static(ACCEPT_POST));
        return Route::Refuse(res);
    };
    match unary_method(pool, path) {
        Some(method) => Route::Unary(codec, method),
        None => {
            // 404, as the spec has it for a procedure the server does not know (501 is for known ones it does not implement).
            let mut res = error(Code::Unimplemented, &format!("{service} has no unary method at {path}"), None);
            *res.status_mut() = StatusCode::NOT_FOUND;
            Route::Refuse(res)
        }
    }
}

/// The unary method a `/package.Service/Method` path names, if any.
fn unary_method(pool: &DescriptorPool, path: &str) -> Option<MethodDescriptor> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    let m = pool.get_service_by_name(service)?.methods().find(|m| m.name() == method)?;
    (!m.is_client_streaming() && !m.is_server_streaming()).then_some(m)
}

async fn unary_call<S, RB>(inner: S, req: Request<Body>, codec: Codec, method: MethodDescriptor) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<RB>, Error = Infallible>,
    RB: http_body::Body<Data = Bytes>,
    RB::Error: Into<axum::BoxError>,
{
    match translate(inner, req, codec, &method).await {
        Ok(res) | Err(res) => res,
    }
}

async fn translate<S, RB>(
    inner: S,
    req: Request<Body>,
    codec: Codec,
    method: &MethodDescriptor,
) -> Result<Response<Body>, Response<Body>>
where
    S: Service<Request<Body>, Response = Response<RB>, Error = Infallible>,
    RB: http_body::Body<Data = Bytes>,
    RB::Error: Into<axum::BoxError>,
{
    let (parts, body) = req.into_parts();
    if let Some(v) = parts.headers.get("connect-protocol-version")
        && v != "1"
    {
        return Err(error(Code::InvalidArgument, "connect-protocol-version must be \"1\"", None));
    }
    if let Some(enc) = parts.headers.get(header::CONTENT_ENCODING)
        && enc != "identity"
    {
        return Err(error(
            Code::Unimplemented,
            &format!("content-encoding {enc:?} is not supported; send uncompressed requests"),
            None,
        ));
    }

    let body = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await.map_err(|_| {
        error(Code::ResourceExhausted, &format!("request body exceeds {MAX_REQUEST_BYTES} bytes"), None)
    })?;
    let message = match codec {
        Codec::Proto => body,
        Codec::Json => json_to_proto(&method.input(), &body).map_err(|e| error(Code::InvalidArgument, &e, None))?,
    };

    let mut grpc = Request::builder().method(http::Method::POST).uri(parts.uri).version(http::Version::HTTP_2);
    for (name, value) in &parts.headers {
        if forwardable_request_header(name) {
            grpc = grpc.header(name, value);
        }
    }
    grpc = grpc.header(header::CONTENT_TYPE, "application/grpc").header(header::TE, "trailers");
    if let Some(ms) = parts.headers.get("connect-timeout-ms").and_then(|v| v.to_str().ok()) {
        match ms.parse::<u64>() {
            Ok(ms) => grpc = grpc.header("grpc-timeout", format!("{}m", ms.min(99_999_999))),
            Err(_) => return Err(error(Code::InvalidArgument, "connect-timeout-ms must be an integer", None)),
        }
    }
    let mut grpc = grpc.body(Body::from(frame(&message))).expect("valid request parts");
    *grpc.extensions_mut() = parts.extensions;
    grpc.extensions_mut().insert(Protocol::Connect);

    let res = inner.oneshot(grpc).await.unwrap_or_else(|e| match e {});
    let (res_parts, res_body) = res.into_parts();
    let collected = res_body
        .collect()
        .await
        .map_err(|e| error(Code::Internal, &format!("reading response: {}", e.into()), None))?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let data = collected.to_bytes();

    let status = tonic::Status::from_header_map(&trailers)
        .or_else(|| tonic::Status::from_header_map(&res_parts.headers))
        .unwrap_or_else(|| tonic::Status::unknown("upstream response carried no grpc-status"));
    let metadata = response_metadata(&res_parts.headers, &trailers);
    if status.code() != Code::Ok {
        return Err(error(status.code(), status.message(), Some(metadata)));
    }

    let payload = unframe(&data).ok_or_else(|| error(Code::Internal, "malformed gRPC response frame", None))?;
    let body = match codec {
        Codec::Proto => payload,
        Codec::Json => proto_to_json(&method.output(), payload).map_err(|e| error(Code::Internal, &e, None))?,
    };
    let mut res = Response::new(Body::from(body));
    *res.headers_mut() = metadata;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(codec.content_type()));
    Ok(res)
}

fn forwardable_request_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    !(n.starts_with("connect-")
        || n.starts_with("grpc-")
        || matches!(
            n,
            "content-type" | "content-length" | "content-encoding" | "accept-encoding" | "te" | "connection" | "host"
        ))
}

/// Custom response metadata: gRPC headers as headers, gRPC trailers as
/// `trailer-` prefixed headers, as the Connect unary format requires.
fn response_metadata(headers: &HeaderMap, trailers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        if !(n.starts_with("grpc-") || matches!(n, "content-type" | "content-length" | "trailer" | "te")) {
            out.append(name.clone(), value.clone());
        }
    }
    for (name, value) in trailers {
        if name.as_str().starts_with("grpc-") {
            continue;
        }
        if let Ok(prefixed) = HeaderName::from_bytes(format!("trailer-{name}").as_bytes()) {
            out.append(prefixed, value.clone());
        }
    }
    out
}

/// A gRPC length-prefixed message: flag byte 0 (uncompressed), big-endian length, bytes.
fn frame(message: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(5 + message.len());
    buf.put_u8(0);
    buf.put_u32(message.len() as u32);
    buf.put_slice(message);
    buf.freeze()
}

fn unframe(data: &Bytes) -> Option<Bytes> {
    if data.len() < 5 || data[0] != 0 {
        return None;
    }
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    (data.len() == 5 + len).then(|| data.slice(5..))
}

fn json_to_proto(desc: &MessageDescriptor, body: &[u8]) -> Result<Bytes, String> {
    // An empty body is the empty message, as connect-go accepts it.
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    let mut de = serde_json::Deserializer::from_slice(body);
    let msg = DynamicMessage::deserialize(desc.clone(), &mut de)
        .and_then(|m| de.end().map(|()| m))
        .map_err(|e| format!("invalid JSON for {}: {e}", desc.full_name()))?;
    Ok(msg.encode_to_vec().into())
}

fn proto_to_json(desc: &MessageDescriptor, payload: Bytes) -> Result<Bytes, String> {
    let msg = DynamicMessage::decode(desc.clone(), payload).map_err(|e| format!("decoding response: {e}"))?;
    let mut out = serde_json::Serializer::new(Vec::new());
    msg.serialize_with_options(&mut out, &SerializeOptions::new())
        .map_err(|e| format!("encoding response as JSON: {e}"))?;
    Ok(out.into_inner().into())
}

/// A Connect error response: `{"code": "...", "message": "..."}`.
pub fn error(code: Code, message: &str, metadata: Option<HeaderMap>) -> Response<Body> {
    let mut body = serde_json::json!({ "code": code_name(code) });
    if !message.is_empty() {
        body["message"] = message.into();
    }
    let mut res = Response::new(Body::from(body.to_string()));
    *res.status_mut() = http_status(code);
    if let Some(metadata) = metadata {
        *res.headers_mut() = metadata;
    }
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// The Connect (and gRPC) name of a status code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
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
    fn frames_round_trip() {
        let f = frame(b"abc");
        assert_eq!(&f[..], &[0, 0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(unframe(&f).unwrap(), Bytes::from_static(b"abc"));
        assert!(unframe(&Bytes::from_static(&[0, 0, 0, 0, 9, 1])).is_none());
        assert!(unframe(&Bytes::from_static(&[1, 0, 0, 0, 0])).is_none());
    }

    #[test]
    fn finds_only_known_unary_methods() {
        let pool = platform_proto::descriptor_pool();
        assert!(unary_method(pool, "/greeter.v1.GreeterService/Greet").is_some());
        assert!(unary_method(pool, "/greeter.v1.GreeterService/Nope").is_none());
        assert!(unary_method(pool, "/nope.v1.X/Greet").is_none());
        assert!(unary_method(pool, "/healthz").is_none());
    }

    #[test]
    fn json_uses_canonical_mapping() {
        let pool = platform_proto::descriptor_pool();
        let m = unary_method(pool, "/greeter.v1.GreeterService/Greet").unwrap();
        let bytes = json_to_proto(&m.input(), br#"{"name":"Ada","url":"http://x"}"#).unwrap();
        let req = platform_proto::greeter::v1::GreetRequest::decode(bytes).unwrap();
        assert_eq!(req.name, "Ada");

        let err = json_to_proto(&m.input(), br#"{"nom":"Ada"}"#).unwrap_err();
        assert!(err.contains("nom"), "{err}");
        assert!(json_to_proto(&m.input(), b"{").is_err());

        let res = platform_proto::greeter::v1::GreetResponse {
            greeting: "Hello, Ada!".into(),
            greeting_id: 7,
            ..Default::default()
        };
        let json = proto_to_json(&m.output(), res.encode_to_vec().into()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        // int64 is a string and names are lowerCamelCase in proto3 JSON.
        assert_eq!(v, serde_json::json!({"greeting": "Hello, Ada!", "greetingId": "7"}));
    }

    #[test]
    fn status_mapping_follows_the_spec() {
        assert_eq!(http_status(Code::InvalidArgument), 400);
        assert_eq!(http_status(Code::Unauthenticated), 401);
        assert_eq!(http_status(Code::Unavailable), 503);
        assert_eq!(http_status(Code::ResourceExhausted), 429);
        assert_eq!(code_name(Code::Cancelled), "canceled");
    }
}
