//! A test client for the platform's RPC ports that speaks every protocol at
//! the wire level and keeps everything the wire carried: the HTTP status,
//! headers and trailers, whether the answer was compressed, and the
//! status, message and error details in whatever form the protocol gives
//! them.
//!
//! High-level clients (tonic's, tonic-web's, connect-es, buf curl) hide
//! exactly what a protocol test must see — where the status travelled, a
//! compression flag, a `trailer-` header — so the tests of each service
//! drive every RPC through this client over every [`Wire`], and keep a few
//! calls through the real clients besides. Messages are prost types; JSON
//! is made and read with the contracts' descriptors, as a Connect client
//! made from the same contracts would.

// A failure is read field by field by the test that got it; its size costs nothing here.
#![allow(clippy::result_large_err)]

mod stream;
mod wire;

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use prost::Message;
use prost_reflect::{DescriptorPool, MethodDescriptor};
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

pub use stream::{Ending, Finished, Item, Stream};
pub use wire::{Codec, Protocol, Wire};

/// What a successful call returned.
#[derive(Debug)]
pub struct Reply<M> {
    pub message: M,
    pub http_status: StatusCode,
    pub headers: HeaderMap,
    /// gRPC's and gRPC-Web's trailers; Connect's `trailer-` headers, unprefixed.
    pub trailers: HeaderMap,
    /// Whether the response message was compressed on the wire.
    pub compressed: bool,
    /// The size of the response message, uncompressed, in its codec.
    pub size: usize,
}

impl<M> Reply<M> {
    /// Checks the server's compression rule: the answer is compressed when
    /// the client accepts gzip and the message is at least 1 KiB.
    #[track_caller]
    pub fn assert_compression(&self, wire: Wire) {
        let expected = wire.gzip && self.size >= 1024;
        assert_eq!(self.compressed, expected, "{wire}: a {}-byte answer", self.size);
    }

    /// Checks what every success looks like on `wire`: HTTP 200, the
    /// protocol's content type, and the status where the protocol puts it
    /// (gRPC: in trailers, not headers; gRPC-Web: in the trailers frame;
    /// Connect: nowhere, and no gRPC header leaks).
    #[track_caller]
    pub fn assert_ok(&self, wire: Wire) {
        assert_eq!(self.http_status, StatusCode::OK, "{wire}");
        let content_type = self.headers.get(http::header::CONTENT_TYPE).map(|v| v.to_str().unwrap()).unwrap_or("");
        match wire.protocol {
            Protocol::Grpc | Protocol::GrpcWeb | Protocol::GrpcWebText => {
                let expected = match wire.protocol {
                    Protocol::Grpc => "application/grpc",
                    Protocol::GrpcWeb => "application/grpc-web",
                    _ => "application/grpc-web-text",
                };
                assert!(content_type.starts_with(expected), "{wire}: content-type {content_type}");
                assert_eq!(
                    self.trailers.get("grpc-status").map(|v| v.to_str().unwrap()),
                    Some("0"),
                    "{wire}: trailers {:?}",
                    self.trailers
                );
                assert!(self.headers.get("grpc-status").is_none(), "{wire}: a success is not trailers-only");
            }
            Protocol::Connect(codec) | Protocol::ConnectGet(codec) | Protocol::ConnectStream(codec) => {
                let expected = if codec == Codec::Json { "application/json" } else { "application/proto" };
                assert_eq!(content_type, expected, "{wire}");
                let leaked: Vec<_> = self.headers.keys().filter(|k| k.as_str().starts_with("grpc-")).collect();
                assert!(leaked.is_empty(), "{wire}: gRPC headers leak into Connect: {leaked:?}");
                assert_eq!(
                    self.headers.get(http::header::ACCEPT_ENCODING).map(|v| v.to_str().unwrap()),
                    Some("gzip"),
                    "{wire}"
                );
            }
        }
    }
}

/// What a failed call returned.
#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    pub message: String,
    /// The `google.rpc` details, read from `grpc-status-details-bin` or
    /// from a Connect error's `details` (boxed: it is large).
    pub details: Box<ErrorDetails>,
    pub http_status: StatusCode,
    pub headers: HeaderMap,
    pub trailers: HeaderMap,
    /// The Connect error body as JSON (`Null` for gRPC, or an empty body).
    pub body: serde_json::Value,
}

impl Failure {
    /// Checks a refusal on `wire`: its code, a message containing `needle`,
    /// and the protocol's form (gRPC: HTTP 200 with the status in trailers,
    /// or in the headers of a trailers-only answer; Connect: the code's HTTP
    /// status and a JSON error naming the code).
    #[track_caller]
    pub fn assert(&self, wire: Wire, code: Code, needle: &str) {
        assert_eq!(self.code, code, "{wire}: {} ({:?})", self.message, self.body);
        assert!(self.message.contains(needle), "{wire}: {:?} does not mention {needle:?}", self.message);
        if wire.is_connect() {
            assert_eq!(self.http_status.as_u16(), connect_http_status(code), "{wire}");
            assert_eq!(self.body["code"], connect_name(code), "{wire}: {}", self.body);
            assert_eq!(self.headers[http::header::CONTENT_TYPE], "application/json", "{wire}");
        } else {
            assert_eq!(self.http_status, StatusCode::OK, "{wire}");
            let status = self.trailers.get("grpc-status").or_else(|| self.headers.get("grpc-status"));
            assert_eq!(status.map(|v| v.to_str().unwrap().to_owned()), Some((code as i32).to_string()), "{wire}");
        }
    }

    /// The field of the first `google.rpc.BadRequest` violation, if any.
    pub fn bad_field(&self) -> Option<&str> {
        self.details.bad_request()?.field_violations.first().map(|v| v.field.as_str())
    }
}

/// A client of one server.
#[derive(Clone)]
pub struct Client {
    base: String,
    pool: DescriptorPool,
    http1: wire::Http,
    http2: wire::Http,
    metadata: HeaderMap,
    timeout: Option<Duration>,
}

impl Client {
    /// A client of the server at `addr`, whose contracts `pool` describes.
    pub fn new(addr: std::net::SocketAddr, pool: &DescriptorPool) -> Self {
        Self {
            base: format!("http://{addr}"),
            pool: pool.clone(),
            http1: wire::Http::new(false),
            http2: wire::Http::new(true),
            metadata: HeaderMap::new(),
            timeout: None,
        }
    }

    /// The same client, sending `authorization: Bearer <token>`.
    pub fn with_token(&self, token: &str) -> Self {
        self.with_header("authorization", &format!("Bearer {token}"))
    }

    /// The same client, sending one more header (metadata) with every call.
    pub fn with_header(&self, name: &str, value: &str) -> Self {
        let mut c = self.clone();
        c.metadata.append(HeaderName::try_from(name).unwrap(), HeaderValue::try_from(value).unwrap());
        c
    }

    /// The same client, its HTTP/2 streams given a receive window of only
    /// `bytes`: a stream it does not read stops the server after that much
    /// (HTTP/2 flow control), as a reader that never reads would.
    pub fn with_stream_window(&self, bytes: u32) -> Self {
        Self { http2: wire::Http::with_window(bytes), ..self.clone() }
    }

    /// The same client, with a deadline on every call (`grpc-timeout`, `connect-timeout-ms`).
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self { timeout: Some(timeout), ..self.clone() }
    }

    /// The method at `path` (`/<package>.<Service>/<Method>`) in the contracts.
    pub fn method(&self, path: &str) -> MethodDescriptor {
        let (service, method) = path.trim_start_matches('/').split_once('/').expect("/<service>/<method>");
        self.pool
            .get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == method))
            .unwrap_or_else(|| panic!("{path} is not in the contracts"))
    }

    /// Calls the unary method at `path` with `request` over `wire`.
    pub async fn unary<Req: Message, Res: Message + Default>(
        &self,
        wire: Wire,
        path: &str,
        request: &Req,
    ) -> Result<Reply<Res>, Failure> {
        let method = self.method(path);
        let body = match wire.codec() {
            Codec::Proto => Bytes::from(request.encode_to_vec()),
            Codec::Json => wire::to_json(&method.input(), &request.encode_to_vec()),
        };
        let raw = self.send(wire, path, body, HeaderMap::new()).await;
        raw.into_result(wire, &method)
    }

    /// Sends `body` (already encoded in `wire`'s codec, not yet framed or
    /// compressed) to `path` over `wire`, with `headers` added, and returns
    /// what came back, unread.
    pub async fn send(&self, wire: Wire, path: &str, body: Bytes, headers: HeaderMap) -> wire::Raw {
        let mut all = self.metadata.clone();
        all.extend(headers);
        let request = wire.request(&self.base, path, body, all, self.timeout);
        let http = if wire.http2() { &self.http2 } else { &self.http1 };
        http.send(request).await
    }

    /// Sends a request built by hand, over HTTP/2 or HTTP/1.1, and returns
    /// the response with its body read (trailers included).
    pub async fn send_raw(&self, http2: bool, request: http::Request<Bytes>) -> wire::RawResponse {
        let http = if http2 { &self.http2 } else { &self.http1 };
        http.send_raw(request).await
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The `google.rpc.Status` a Connect error's details make, as a gRPC client
/// would receive it in `grpc-status-details-bin`.
fn details_from_connect(code: Code, message: &str, body: &serde_json::Value) -> Box<ErrorDetails> {
    let details = body["details"]
        .as_array()
        .map(|details| {
            details
                .iter()
                .filter_map(|d| {
                    let name = d["type"].as_str()?;
                    let value = d["value"].as_str()?;
                    let value =
                        base64::engine::general_purpose::STANDARD_NO_PAD.decode(value.trim_end_matches('=')).ok()?;
                    Some(prost_types::Any { type_url: format!("type.googleapis.com/{name}"), value })
                })
                .collect()
        })
        .unwrap_or_default();
    let status = tonic_types::pb::Status { code: code as i32, message: message.to_owned(), details };
    Box::new(tonic::Status::with_details(code, message, status.encode_to_vec().into()).get_error_details())
}

/// The details of `grpc-status-details-bin` (padded or not).
fn details_from_grpc(code: Code, message: &str, value: Option<&HeaderValue>) -> Box<ErrorDetails> {
    let Some(bytes) = value.and_then(|v| {
        let v = v.to_str().ok()?.trim_end_matches('=');
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(v).ok()
    }) else {
        return Box::default();
    };
    Box::new(tonic::Status::with_details(code, message, bytes.into()).get_error_details())
}

/// Connect's code names.
pub fn code_of(name: &str) -> Option<Code> {
    (0..17).map(Code::from_i32).find(|c| connect_name(*c) == name)
}

/// The Connect name of a code.
pub fn connect_name(code: Code) -> &'static str {
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

/// The HTTP status Connect gives a code.
pub fn connect_http_status(code: Code) -> u16 {
    match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::PermissionDenied => 403,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::Unauthenticated => 401,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    }
}

/// `data` gzip-compressed, for hand-made requests.
pub fn gzip(data: &[u8]) -> Bytes {
    wire::gzip(data)
}

/// `data` as a gRPC frame (`compressed` sets the flag; the bytes are taken as they are).
pub fn frame(data: &[u8], compressed: bool) -> Bytes {
    wire::frame(data, compressed)
}

/// Base64 as gRPC-Web text uses it.
pub fn base64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Scrapes `/metrics` and returns the value of the sample whose line
/// starts with `series` (name and labels, exactly as rendered), or 0.
pub async fn metric(addr: std::net::SocketAddr, series: &str) -> f64 {
    let text = reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await.unwrap();
    text.lines().find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
}

/// `rpc_requests_total{…}` for one method, protocol and status, as rendered.
pub fn requests_series(method: &str, protocol: &str, status: &str) -> String {
    format!("rpc_requests_total{{method=\"{method}\",protocol=\"{protocol}\",status=\"{status}\"}}")
}
