//! One Connect unary call (POST or GET) translated to gRPC and back.
//!
//! The client's deadline (`connect-timeout-ms`) starts when the call does
//! and covers reading and decompressing the request as well as the handler.
//! Whatever the adapter refuses (a bad header, a body too large, JSON that
//! does not fit the message) becomes the Connect error of the matching code;
//! whatever the handler answers comes back with its metadata, trailers as
//! `trailer-` headers, and error details as Connect's JSON details.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, header, request::Parts};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use platform::observe::RpcStatus;
use prost_reflect::MethodDescriptor;
use tonic::{Code, Status};
use tower::{Service, ServiceExt};

use super::{
    Catalog, Codec, error,
    query::GetQuery,
    transcode::{json_to_proto, proto_to_json},
};
use crate::{
    MAX_MESSAGE_BYTES,
    compression::{self, Encoding, GunzipError},
    framing,
};

/// How the call arrived.
pub(super) enum Kind {
    /// A POST whose body is the message, in this codec.
    Post(Codec),
    /// A GET with the message in the query string.
    Get,
}

/// What a failed call answers: a status, and the metadata to send with it.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) status: Status,
    pub(super) headers: HeaderMap,
}

impl From<Status> for Failure {
    fn from(status: Status) -> Self {
        Self { status, headers: HeaderMap::new() }
    }
}

/// The negotiated parts of a call, known once its headers are read.
struct Call {
    codec: Codec,
    request_encoding: Encoding,
    response_encoding: Encoding,
    get: bool,
}

pub(super) async fn serve<S, RB>(
    inner: S,
    req: Request<Body>,
    catalog: &Catalog,
    method: MethodDescriptor,
    kind: Kind,
) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<RB>, Error = std::convert::Infallible>,
    RB: http_body::Body<Data = Bytes>,
    RB::Error: Into<axum::BoxError>,
{
    let observed = req.extensions().get::<RpcStatus>().cloned();
    let (parts, body) = req.into_parts();
    let query = matches!(kind, Kind::Get).then(|| GetQuery::parse(parts.uri.query().unwrap_or("")));
    let result = async {
        let call = negotiate(&parts.headers, &kind, query.as_ref())?;
        let deadline = deadline(&parts.headers)?;
        let work = call_handler(inner, parts, body, query, &call, &method);
        match deadline {
            None => work.await,
            Some((timeout, deadline)) => {
                match tokio::time::timeout_at(deadline, platform::deadline::scope(deadline, work)).await {
                    Ok(result) => result,
                    Err(_) => Err(Status::deadline_exceeded(format!("deadline of {timeout:?} exceeded")).into()),
                }
            }
        }
    }
    .await;
    match result {
        Ok(res) => res,
        Err(Failure { status, headers }) => {
            if let Some(observed) = observed {
                observed.set(status.code() as i32);
            }
            error::response(&status, headers, catalog.pool())
        }
    }
}

/// Reads the call's codec and codings, and checks its protocol version.
fn negotiate(headers: &HeaderMap, kind: &Kind, query: Option<&GetQuery>) -> Result<Call, Failure> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (codec, version, request_coding) = match (kind, query) {
        (Kind::Post(codec), _) => {
            (*codec, header("connect-protocol-version").map(|v| (v, "1")), header("content-encoding"))
        }
        (Kind::Get, Some(q)) => {
            let codec = match q.encoding.as_deref() {
                None => {
                    return Err(Status::invalid_argument(
                        "the encoding query parameter is required: encoding=json or encoding=proto",
                    )
                    .into());
                }
                Some(name) => Codec::parse(name).ok_or_else(|| {
                    Status::invalid_argument(format!("encoding={name} is not supported: use json or proto"))
                })?,
            };
            (codec, q.connect.as_deref().map(|v| (v, "v1")), q.compression.as_deref())
        }
        (Kind::Get, None) => unreachable!("a GET's query is parsed"),
    };
    if let Some((sent, expected)) = version
        && sent != expected
    {
        let what = if query.is_some() { "the connect query parameter" } else { "connect-protocol-version" };
        return Err(Status::invalid_argument(format!("{what} must be {expected:?}, not {sent:?}")).into());
    }
    let request_encoding = Encoding::parse(request_coding.unwrap_or("identity")).ok_or_else(|| {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(compression::ACCEPTED));
        Failure {
            status: Status::unimplemented(format!(
                "{:?} compression is not supported: send gzip or identity",
                request_coding.unwrap_or_default()
            )),
            headers,
        }
    })?;
    let response_encoding = compression::negotiate(header("accept-encoding"), request_encoding);
    Ok(Call { codec, request_encoding, response_encoding, get: query.is_some() })
}

/// The call's deadline from `connect-timeout-ms`: a positive integer of at
/// most ten digits. A deadline too far off to represent is none.
pub(super) fn deadline(headers: &HeaderMap) -> Result<Option<(Duration, tokio::time::Instant)>, Failure> {
    let Some(raw) = headers.get("connect-timeout-ms") else { return Ok(None) };
    let ms = raw
        .to_str()
        .ok()
        .filter(|v| !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            Status::invalid_argument("connect-timeout-ms must be a positive integer of at most 10 digits")
        })?;
    let timeout = Duration::from_millis(ms);
    Ok(tokio::time::Instant::now().checked_add(timeout).map(|at| (timeout, at)))
}

async fn call_handler<S, RB>(
    inner: S,
    parts: Parts,
    body: Body,
    query: Option<GetQuery>,
    call: &Call,
    method: &MethodDescriptor,
) -> Result<Response<Body>, Failure>
where
    S: Service<Request<Body>, Response = Response<RB>, Error = std::convert::Infallible>,
    RB: http_body::Body<Data = Bytes>,
    RB::Error: Into<axum::BoxError>,
{
    let raw = match &query {
        Some(q) => {
            let message = q.message().map_err(Status::invalid_argument)?;
            if message.len() > MAX_MESSAGE_BYTES {
                return Err(too_large(message.len()).into());
            }
            Bytes::from(message)
        }
        None => read_body(body).await?,
    };
    let message = match call.request_encoding {
        // Connect: a zero-length message is never decompressed.
        Encoding::Gzip if !raw.is_empty() => compression::gunzip(&raw, MAX_MESSAGE_BYTES).map_err(|e| match e {
            GunzipError::TooLarge { limit } => {
                Status::resource_exhausted(format!("the request message decompresses to more than {limit} bytes"))
            }
            GunzipError::Invalid(why) => Status::invalid_argument(format!("the request message is {why}")),
        })?,
        _ => raw,
    };
    let message = match call.codec {
        Codec::Proto => message,
        Codec::Json => json_to_proto(&method.input(), &message).map_err(Status::invalid_argument)?,
    };

    let grpc = grpc_request(parts, Body::from(framing::frame(0, &message)), call.get)?;
    let res = inner.oneshot(grpc).await.unwrap_or_else(|e| match e {});
    let (res_parts, res_body) = res.into_parts();
    let collected = res_body
        .collect()
        .await
        .map_err(|e| Status::internal(format!("reading the handler's response: {}", e.into())))?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let data = collected.to_bytes();

    let status = Status::from_header_map(&trailers)
        .or_else(|| Status::from_header_map(&res_parts.headers))
        .unwrap_or_else(|| Status::unknown("the handler's response carried no grpc-status"));
    let metadata = response_metadata(&res_parts.headers, &trailers);
    if status.code() != Code::Ok {
        return Err(Failure { status, headers: metadata });
    }

    let payload = unframe(&data).ok_or_else(|| Status::internal("malformed gRPC response frame"))?;
    let body = match call.codec {
        Codec::Proto => payload,
        Codec::Json => proto_to_json(&method.output(), payload).map_err(Status::internal)?,
    };
    let mut res = Response::new(Body::empty());
    *res.headers_mut() = metadata;
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(call.codec.content_type()));
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(compression::ACCEPTED));
    // What a cache stores depends on what the client accepted.
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let body = if call.response_encoding == Encoding::Gzip && body.len() >= crate::COMPRESS_MIN_BYTES {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        compression::gzip(&body)
    } else {
        body
    };
    *res.body_mut() = Body::from(body);
    Ok(res)
}

/// The one uncompressed message of a unary gRPC response.
fn unframe(data: &Bytes) -> Option<Bytes> {
    if data.len() < 5 || data[0] != 0 {
        return None;
    }
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    (data.len() == 5 + len).then(|| data.slice(5..))
}

fn too_large(len: usize) -> Status {
    Status::resource_exhausted(format!("the request message is {len} bytes; at most {MAX_MESSAGE_BYTES} are accepted"))
}

/// The request body, at most [`MAX_MESSAGE_BYTES`] of it.
async fn read_body(body: Body) -> Result<Bytes, Status> {
    match Limited::new(body, MAX_MESSAGE_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Status::resource_exhausted(format!("the request body is larger than {MAX_MESSAGE_BYTES} bytes")))
        }
        // The client stopped sending: nobody waits for the answer.
        Err(e) => Err(Status::cancelled(format!("reading the request body: {e}"))),
    }
}

/// The gRPC request the handler is called with: the client's metadata, its
/// remaining deadline, and `body`, gRPC frames, uncompressed.
pub(super) fn grpc_request(parts: Parts, body: Body, get: bool) -> Result<Request<Body>, Status> {
    // A GET's query is the message; the handler is routed by path alone.
    let uri = if get {
        http::Uri::try_from(parts.uri.path()).map_err(|e| Status::internal(e.to_string()))?
    } else {
        parts.uri
    };
    let mut grpc = Request::builder().method(http::Method::POST).uri(uri).version(http::Version::HTTP_2);
    for (name, value) in &parts.headers {
        if forwardable_request_header(name) {
            grpc = grpc.header(name, value);
        }
    }
    grpc = grpc.header(header::CONTENT_TYPE, "application/grpc").header(header::TE, "trailers");
    if let Some(remaining) = platform::deadline::remaining() {
        grpc = grpc.header("grpc-timeout", crate::timeout::format_grpc_timeout(remaining));
    }
    let mut grpc = grpc.body(body).map_err(|e| Status::internal(e.to_string()))?;
    *grpc.extensions_mut() = parts.extensions;
    Ok(grpc)
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
pub(super) fn response_metadata(headers: &HeaderMap, trailers: &HeaderMap) -> HeaderMap {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let f = framing::frame(0, b"abc");
        assert_eq!(&f[..], &[0, 0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(unframe(&f).unwrap(), Bytes::from_static(b"abc"));
        assert!(unframe(&Bytes::from_static(&[0, 0, 0, 0, 9, 1])).is_none());
        assert!(unframe(&Bytes::from_static(&[1, 0, 0, 0, 0])).is_none());
    }

    #[test]
    fn timeouts_are_ten_digits_at_most() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("connect-timeout-ms", v.parse().unwrap());
            deadline(&h).map(|d| d.map(|(t, _)| t)).map_err(|f| f.status.code())
        };
        assert_eq!(with("250"), Ok(Some(Duration::from_millis(250))));
        assert_eq!(with("9999999999"), Ok(Some(Duration::from_millis(9_999_999_999))));
        for bad in ["", "12345678901", "-1", "1.5", "ten"] {
            assert_eq!(with(bad), Err(Code::InvalidArgument), "{bad:?}");
        }
        assert!(deadline(&HeaderMap::new()).unwrap().is_none());
    }

    #[test]
    fn metadata_keeps_custom_headers_and_prefixes_trailers() {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-encoding", "gzip".parse().unwrap());
        headers.insert("x-shard", "7".parse().unwrap());
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        trailers.insert("x-cost", "12".parse().unwrap());
        let out = response_metadata(&headers, &trailers);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!((out["x-shard"].to_str().unwrap(), out["trailer-x-cost"].to_str().unwrap()), ("7", "12"));
    }
}
