//! The wire forms of a unary call: building the request, reading the answer.

use std::{fmt, io::Read, time::Duration};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Version, header};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client as HyperClient, rt::TokioExecutor};
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor, SerializeOptions};
use tonic::Code;

use crate::{Failure, Reply};

/// A message codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Json,
    Proto,
}

impl Codec {
    fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Proto => "proto",
        }
    }
}

/// A protocol a client may speak to a unary method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC over HTTP/2 (prior knowledge).
    Grpc,
    /// gRPC-Web, binary, over HTTP/1.1.
    GrpcWeb,
    /// gRPC-Web, base64 text (`application/grpc-web-text`), over HTTP/1.1.
    GrpcWebText,
    /// A Connect unary POST.
    Connect(Codec),
    /// A Connect unary GET (methods with no side effects only).
    ConnectGet(Codec),
    /// A Connect streaming call (`application/connect+json` or `+proto`).
    ConnectStream(Codec),
}

/// A protocol, with or without gzip both ways, over HTTP/1.1 or HTTP/2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wire {
    pub protocol: Protocol,
    pub gzip: bool,
    /// Connect over HTTP/2 (h2c), as Traefik forwards it; gRPC is always HTTP/2.
    pub h2: bool,
}

impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = match self.protocol {
            Protocol::Grpc => "grpc".to_owned(),
            Protocol::GrpcWeb => "grpc-web".to_owned(),
            Protocol::GrpcWebText => "grpc-web-text".to_owned(),
            Protocol::Connect(c) => format!("connect+{}", c.name()),
            Protocol::ConnectGet(c) => format!("connect-get+{}", c.name()),
            Protocol::ConnectStream(c) => format!("connect-stream+{}", c.name()),
        };
        let h = if self.http2() { "h2" } else { "h1" };
        write!(f, "{p}/{}/{h}", if self.gzip { "gzip" } else { "identity" })
    }
}

impl Wire {
    pub const fn new(protocol: Protocol) -> Self {
        Self { protocol, gzip: false, h2: false }
    }

    pub const fn gzip(self) -> Self {
        Self { gzip: true, ..self }
    }

    pub const fn h2(self) -> Self {
        Self { h2: true, ..self }
    }

    /// Every way to POST a unary call: gRPC, gRPC-Web (binary and text),
    /// Connect JSON and binary (over HTTP/1.1, and JSON over HTTP/2 too),
    /// each uncompressed and with gzip.
    pub fn posts() -> Vec<Wire> {
        let plain = [
            Wire::new(Protocol::Grpc),
            Wire::new(Protocol::GrpcWeb),
            Wire::new(Protocol::GrpcWebText),
            Wire::new(Protocol::Connect(Codec::Json)),
            Wire::new(Protocol::Connect(Codec::Proto)),
            Wire::new(Protocol::Connect(Codec::Json)).h2(),
        ];
        plain.into_iter().flat_map(|w| [w, w.gzip()]).collect()
    }

    /// Every way to GET a unary call: Connect JSON and binary, each with and without gzip.
    pub fn gets() -> Vec<Wire> {
        [Wire::new(Protocol::ConnectGet(Codec::Json)), Wire::new(Protocol::ConnectGet(Codec::Proto))]
            .into_iter()
            .flat_map(|w| [w, w.gzip()])
            .collect()
    }

    /// Every way to make a streaming call: gRPC; gRPC-Web binary over
    /// HTTP/1.1 and HTTP/2 and text over HTTP/1.1; Connect JSON and binary
    /// over HTTP/1.1 and HTTP/2; each plain and with gzip. A bidi call
    /// (`bidi`) leaves out HTTP/1.1, which cannot carry one.
    pub fn streams(bidi: bool) -> Vec<Wire> {
        let all = [
            Wire::new(Protocol::Grpc),
            Wire::new(Protocol::GrpcWeb),
            Wire::new(Protocol::GrpcWeb).h2(),
            Wire::new(Protocol::GrpcWebText),
            Wire::new(Protocol::ConnectStream(Codec::Json)),
            Wire::new(Protocol::ConnectStream(Codec::Proto)),
            Wire::new(Protocol::ConnectStream(Codec::Json)).h2(),
            Wire::new(Protocol::ConnectStream(Codec::Proto)).h2(),
        ];
        all.into_iter().filter(|w| !bidi || w.http2()).flat_map(|w| [w, w.gzip()]).collect()
    }

    /// [`Wire::posts`], and [`Wire::gets`] when the method may be called with GET.
    pub fn all(gettable: bool) -> Vec<Wire> {
        let mut all = Self::posts();
        if gettable {
            all.extend(Self::gets());
        }
        all
    }

    /// The `protocol` label the server's request metrics give it.
    pub fn observed(&self) -> &'static str {
        match self.protocol {
            Protocol::Grpc => "grpc",
            Protocol::GrpcWeb | Protocol::GrpcWebText => "grpc-web",
            Protocol::Connect(_) | Protocol::ConnectGet(_) | Protocol::ConnectStream(_) => "connect",
        }
    }

    pub fn is_connect(&self) -> bool {
        matches!(self.protocol, Protocol::Connect(_) | Protocol::ConnectGet(_) | Protocol::ConnectStream(_))
    }

    pub(crate) fn codec(&self) -> Codec {
        match self.protocol {
            Protocol::Connect(c) | Protocol::ConnectGet(c) | Protocol::ConnectStream(c) => c,
            _ => Codec::Proto,
        }
    }

    pub(crate) fn http2(&self) -> bool {
        self.protocol == Protocol::Grpc || self.h2
    }

    /// The request for `message` (encoded in the wire's codec) to `path`.
    pub(crate) fn request(
        &self,
        base: &str,
        path: &str,
        message: Bytes,
        metadata: HeaderMap,
        timeout: Option<Duration>,
    ) -> Request<Bytes> {
        let mut req = Request::builder().version(if self.http2() { Version::HTTP_2 } else { Version::HTTP_11 });
        let mut headers = metadata;
        let grpc_headers = |headers: &mut HeaderMap, content_type: &'static str| {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            if self.gzip {
                headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
                headers.insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
            }
            if let Some(t) = timeout {
                headers.insert("grpc-timeout", format!("{}m", t.as_millis()).parse().unwrap());
            }
        };
        let framed = || if self.gzip { frame(&gzip(&message), true) } else { frame(&message, false) };
        let (method, uri, body) = match self.protocol {
            Protocol::Grpc => {
                grpc_headers(&mut headers, "application/grpc");
                headers.insert(header::TE, HeaderValue::from_static("trailers"));
                (Method::POST, format!("{base}{path}"), framed())
            }
            Protocol::GrpcWeb => {
                grpc_headers(&mut headers, "application/grpc-web+proto");
                headers.insert("x-grpc-web", HeaderValue::from_static("1"));
                (Method::POST, format!("{base}{path}"), framed())
            }
            Protocol::GrpcWebText => {
                grpc_headers(&mut headers, "application/grpc-web-text+proto");
                headers.insert("x-grpc-web", HeaderValue::from_static("1"));
                // What the answer is encoded in (grpc-web's JavaScript client asks for text).
                headers.insert(header::ACCEPT, HeaderValue::from_static("application/grpc-web-text"));
                (Method::POST, format!("{base}{path}"), Bytes::from(STANDARD.encode(framed())))
            }
            Protocol::Connect(codec) => {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(codec)));
                headers.insert("connect-protocol-version", HeaderValue::from_static("1"));
                if let Some(t) = timeout {
                    headers.insert("connect-timeout-ms", t.as_millis().to_string().parse().unwrap());
                }
                let body = if self.gzip && !message.is_empty() {
                    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                    gzip(&message)
                } else {
                    message
                };
                if self.gzip {
                    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
                }
                (Method::POST, format!("{base}{path}"), body)
            }
            Protocol::ConnectStream(_) => panic!("{self} streams: use Client::stream"),
            Protocol::ConnectGet(codec) => {
                if let Some(t) = timeout {
                    headers.insert("connect-timeout-ms", t.as_millis().to_string().parse().unwrap());
                }
                // The order the spec recommends, for cache hits.
                let mut query = "connect=v1".to_owned();
                let binary = codec == Codec::Proto || self.gzip;
                if binary {
                    query.push_str("&base64=1");
                }
                let message = if self.gzip {
                    query.push_str("&compression=gzip");
                    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
                    gzip(&message)
                } else {
                    message
                };
                query.push_str(&format!("&encoding={}&message=", codec.name()));
                if binary {
                    query.push_str(&URL_SAFE_NO_PAD.encode(&message));
                } else {
                    let encoded = percent_encoding::percent_encode(&message, percent_encoding::NON_ALPHANUMERIC);
                    query.push_str(&encoded.to_string());
                }
                (Method::GET, format!("{base}{path}?{query}"), Bytes::new())
            }
        };
        req = req.method(method).uri(uri);
        *req.headers_mut().unwrap() = headers;
        req.body(body).unwrap()
    }
}

fn content_type(codec: Codec) -> &'static str {
    match codec {
        Codec::Json => "application/json",
        Codec::Proto => "application/proto",
    }
}

/// An HTTP client: HTTP/1.1, or HTTP/2 with prior knowledge.
#[derive(Clone)]
pub(crate) struct Http(HyperClient<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>);

impl Http {
    pub(crate) fn new(http2: bool) -> Self {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        Self(HyperClient::builder(TokioExecutor::new()).http2_only(http2).build(connector))
    }

    /// HTTP/2 with a fixed receive window of `bytes` per stream.
    pub(crate) fn with_window(bytes: u32) -> Self {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        let client = HyperClient::builder(TokioExecutor::new())
            .http2_only(true)
            .http2_adaptive_window(false)
            .http2_initial_stream_window_size(bytes)
            .build(connector);
        Self(client)
    }

    pub(crate) async fn send(&self, req: Request<Bytes>) -> Raw {
        Raw(self.send_raw(req).await)
    }

    /// Sends `req` and returns the answer with its body unread.
    pub(crate) async fn open(&self, req: Request<Bytes>) -> http::Response<hyper::body::Incoming> {
        self.0.request(req.map(Full::new)).await.expect("the server answers")
    }

    pub(crate) async fn send_raw(&self, req: Request<Bytes>) -> RawResponse {
        let res = self.0.request(req.map(Full::new)).await.expect("the server answers");
        let (parts, body) = res.into_parts();
        let collected = body.collect().await.expect("the response body is read");
        let trailers = collected.trailers().cloned().unwrap_or_default();
        RawResponse { status: parts.status, headers: parts.headers, body: collected.to_bytes(), trailers }
    }
}

/// A response as it came off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: HeaderMap,
}

impl RawResponse {
    /// The body as JSON (`Null` when it is empty or not JSON), uncompressed first if it says it is gzip.
    pub fn json(&self) -> serde_json::Value {
        let body = if self.headers.get(header::CONTENT_ENCODING).is_some_and(|v| v == "gzip") {
            gunzip(&self.body)
        } else {
            self.body.clone()
        };
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null)
    }

    /// The gRPC status of a gRPC response (trailers, or a trailers-only response's headers).
    pub fn grpc_status(&self) -> Option<(Code, String)> {
        status_in(&self.trailers).or_else(|| status_in(&self.headers))
    }
}

/// A response to a [`Wire`] call, not yet read.
#[derive(Debug)]
pub struct Raw(pub RawResponse);

impl Raw {
    /// Reads the response as `wire`'s answer to `method`.
    pub fn into_result<Res: Message + Default>(
        self,
        wire: Wire,
        method: &MethodDescriptor,
    ) -> Result<Reply<Res>, Failure> {
        let raw = self.0;
        match wire.protocol {
            Protocol::Connect(_) | Protocol::ConnectGet(_) => connect_result(raw, wire.codec(), method),
            Protocol::ConnectStream(_) => panic!("{wire} streams: use Client::stream"),
            Protocol::Grpc => {
                let frames = split_frames(&raw.body);
                grpc_result(raw.status, raw.headers, raw.trailers, frames)
            }
            Protocol::GrpcWeb | Protocol::GrpcWebText => {
                let body = if wire.protocol == Protocol::GrpcWebText { decode_text(&raw.body) } else { raw.body };
                let mut frames = split_frames(&body);
                // The trailers are the frame flagged 0x80.
                let trailers = match frames.iter().position(|(flag, _)| flag & 0x80 != 0) {
                    Some(i) => parse_trailer_block(&frames.remove(i).1),
                    None => HeaderMap::new(),
                };
                grpc_result(raw.status, raw.headers, trailers, frames)
            }
        }
    }
}

fn connect_result<Res: Message + Default>(
    raw: RawResponse,
    codec: Codec,
    method: &MethodDescriptor,
) -> Result<Reply<Res>, Failure> {
    let compressed = raw.headers.get(header::CONTENT_ENCODING).is_some_and(|v| v == "gzip");
    let body = if compressed && !raw.body.is_empty() { gunzip(&raw.body) } else { raw.body.clone() };
    let mut trailers = HeaderMap::new();
    for (name, value) in &raw.headers {
        if let Some(name) = name.as_str().strip_prefix("trailer-") {
            trailers.append(HeaderName::try_from(name).unwrap(), value.clone());
        }
    }
    if raw.status == StatusCode::OK {
        let size = body.len();
        let bytes = match codec {
            Codec::Proto => body,
            Codec::Json => from_json(&method.output(), &body),
        };
        let message = Res::decode(bytes).expect("the response decodes as the method's output");
        return Ok(Reply { message, http_status: raw.status, headers: raw.headers, trailers, compressed, size });
    }
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let code = json["code"].as_str().and_then(crate::code_of).unwrap_or_else(|| inferred(raw.status));
    let message = json["message"].as_str().unwrap_or("").to_owned();
    let details = crate::details_from_connect(code, &message, &json);
    Err(Failure { code, message, details, http_status: raw.status, headers: raw.headers, trailers, body: json })
}

/// The code a Connect client infers from an HTTP status without a Connect error body.
fn inferred(status: StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

fn grpc_result<Res: Message + Default>(
    http_status: StatusCode,
    headers: HeaderMap,
    trailers: HeaderMap,
    frames: Vec<(u8, Bytes)>,
) -> Result<Reply<Res>, Failure> {
    let (code, message, source) = match status_in(&trailers) {
        Some((c, m)) => (c, m, &trailers),
        None => match status_in(&headers) {
            Some((c, m)) => (c, m, &headers),
            None => (Code::Unknown, format!("no grpc-status (HTTP {http_status})"), &headers),
        },
    };
    if code != Code::Ok {
        let details = crate::details_from_grpc(code, &message, source.get("grpc-status-details-bin"));
        return Err(Failure { code, message, details, http_status, headers, trailers, body: serde_json::Value::Null });
    }
    let (flag, data) = frames.into_iter().next().expect("a successful unary call returns one message");
    let compressed = flag & 1 == 1;
    let data = if compressed {
        assert_eq!(
            headers.get("grpc-encoding").map(|v| v.to_str().unwrap()),
            Some("gzip"),
            "a compressed message names its coding"
        );
        gunzip(&data)
    } else {
        data
    };
    let size = data.len();
    let message = Res::decode(data).expect("the response decodes as the method's output");
    Ok(Reply { message, http_status, headers, trailers, compressed, size })
}

/// The `grpc-status` and (percent-decoded) `grpc-message` in `h`, if any.
pub(crate) fn status_in(h: &HeaderMap) -> Option<(Code, String)> {
    let code: i32 = h.get("grpc-status")?.to_str().ok()?.parse().ok()?;
    let message = h
        .get("grpc-message")
        .map(|m| percent_encoding::percent_decode(m.as_bytes()).decode_utf8_lossy().into_owned())
        .unwrap_or_default();
    Some((Code::from_i32(code), message))
}

/// The frames of a gRPC body: (flags, payload).
pub fn split_frames(body: &Bytes) -> Vec<(u8, Bytes)> {
    let mut body = body.clone();
    let mut frames = Vec::new();
    while body.len() >= 5 {
        let flag = body.get_u8();
        let len = body.get_u32() as usize;
        assert!(body.len() >= len, "a frame of {len} bytes with {} left", body.len());
        frames.push((flag, body.split_to(len)));
    }
    assert!(body.is_empty(), "{} bytes after the last frame", body.len());
    frames
}

/// gRPC-Web text: base64 chunks, each padded, one after another.
fn decode_text(body: &[u8]) -> Bytes {
    let text = std::str::from_utf8(body).expect("gRPC-Web text is ASCII");
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for i in 0..bytes.len() {
        let chunk_ends = bytes[i] == b'=' && bytes.get(i + 1).is_none_or(|b| *b != b'=');
        if chunk_ends || i + 1 == bytes.len() {
            out.extend(STANDARD.decode(&text[start..=i]).expect("valid base64"));
            start = i + 1;
        }
    }
    out.into()
}

/// The trailers frame of gRPC-Web: `name: value\r\n` lines.
pub(crate) fn parse_trailer_block(block: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in String::from_utf8_lossy(block).split("\r\n").filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').expect("name: value");
        map.append(
            HeaderName::try_from(name.trim().to_ascii_lowercase()).unwrap(),
            HeaderValue::try_from(value.trim()).unwrap(),
        );
    }
    map
}

pub(crate) fn frame(data: &[u8], compressed: bool) -> Bytes {
    let mut buf = BytesMut::with_capacity(5 + data.len());
    buf.put_u8(u8::from(compressed));
    buf.put_u32(data.len() as u32);
    buf.put_slice(data);
    buf.freeze()
}

pub(crate) fn gzip(data: &[u8]) -> Bytes {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap().into()
}

fn gunzip(data: &[u8]) -> Bytes {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).expect("valid gzip from the server");
    out.into()
}

/// A message's canonical JSON, from its protobuf bytes.
pub(crate) fn to_json(desc: &MessageDescriptor, bytes: &[u8]) -> Bytes {
    let msg = DynamicMessage::decode(desc.clone(), bytes).unwrap();
    let mut out = serde_json::Serializer::new(Vec::new());
    msg.serialize_with_options(&mut out, &SerializeOptions::new()).unwrap();
    out.into_inner().into()
}

/// A message's protobuf bytes, from its JSON.
fn from_json(desc: &MessageDescriptor, json: &[u8]) -> Bytes {
    let mut de = serde_json::Deserializer::from_slice(json);
    DynamicMessage::deserialize(desc.clone(), &mut de)
        .unwrap_or_else(|e| panic!("the response is {}: {e}", desc.full_name()))
        .encode_to_vec()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_chunks_decode_one_after_another() {
        let a = STANDARD.encode(b"ab");
        let b = STANDARD.encode(b"cde");
        assert_eq!(decode_text(format!("{a}{b}").as_bytes()), Bytes::from_static(b"abcde"));
        assert_eq!(decode_text(STANDARD.encode(b"abc").as_bytes()), Bytes::from_static(b"abc"));
    }

    #[test]
    fn frames_split() {
        let mut body = BytesMut::new();
        body.extend_from_slice(&frame(b"abc", false));
        body.extend_from_slice(&frame(b"grpc-status: 0\r\n", false));
        let frames = split_frames(&body.freeze());
        assert_eq!(frames.len(), 2);
        assert_eq!(parse_trailer_block(&frames[1].1)["grpc-status"], "0");
    }
}
