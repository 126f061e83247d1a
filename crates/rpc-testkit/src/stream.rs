//! Streaming calls at the wire level: the request messages sent at once
//! (enough for client streaming and for bidi calls that answer at the
//! end), the answer read message by message, so a test can read a
//! never-ending stream as far as it needs and then drop it (which cancels
//! the call).

use std::{io::Read, time::Duration};

use base64::Engine;
use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Version, header};
use http_body_util::BodyExt;
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::Code;
use tonic_types::ErrorDetails;

use crate::{
    Client,
    wire::{Codec, Protocol, Wire, frame, gzip},
};

/// One thing read off a stream.
#[derive(Debug)]
pub enum Item<M> {
    Message { message: M, compressed: bool, size: usize },
    End(Ending),
}

/// How a stream ended: its status and trailing metadata (gRPC's trailers,
/// gRPC-Web's trailers frame, or the `metadata` of Connect's end-of-stream
/// message).
#[derive(Debug)]
pub struct Ending {
    pub code: Code,
    pub message: String,
    pub details: Box<ErrorDetails>,
    pub trailers: HeaderMap,
    /// Connect's end-of-stream message as JSON (`Null` for gRPC).
    pub json: serde_json::Value,
}

impl Ending {
    /// Checks the ending's code and that its message contains `needle`.
    #[track_caller]
    pub fn assert(&self, wire: Wire, code: Code, needle: &str) {
        assert_eq!(self.code, code, "{wire}: {:?}", self.message);
        assert!(self.message.contains(needle), "{wire}: {:?} does not mention {needle:?}", self.message);
    }
}

/// A stream being read.
pub struct Stream<M> {
    pub wire: Wire,
    pub http_status: StatusCode,
    pub headers: HeaderMap,
    body: hyper::body::Incoming,
    output: MessageDescriptor,
    buf: BytesMut,
    /// gRPC-Web text: base64 not yet decoded.
    text: String,
    ended: bool,
    _message: std::marker::PhantomData<M>,
}

/// What a finished stream carried.
#[derive(Debug)]
pub struct Finished<M> {
    pub messages: Vec<M>,
    /// For each message, whether it came compressed, and its size uncompressed.
    pub compressed: Vec<(bool, usize)>,
    pub ending: Ending,
    pub http_status: StatusCode,
    pub headers: HeaderMap,
}

impl Client {
    /// Opens a streaming call to `path` over `wire`, sending `requests`
    /// (all at once, then the end of the request stream).
    pub async fn stream<Req: Message, Res: Message + Default>(
        &self,
        wire: Wire,
        path: &str,
        requests: &[Req],
    ) -> Stream<Res> {
        let method = self.method(path);
        let encode = |r: &Req| match wire.codec() {
            Codec::Proto => Bytes::from(r.encode_to_vec()),
            Codec::Json => crate::wire::to_json(&method.input(), &r.encode_to_vec()),
        };
        let body: Vec<u8> = requests
            .iter()
            .flat_map(|r| {
                let message = encode(r);
                let envelope = if wire.gzip && !message.is_empty() {
                    frame(&gzip(&message), true)
                } else {
                    frame(&message, false)
                };
                envelope.to_vec()
            })
            .collect();
        let body = match wire.protocol {
            Protocol::GrpcWebText => Bytes::from(base64::engine::general_purpose::STANDARD.encode(&body)),
            _ => Bytes::from(body),
        };
        let request = self.stream_request(wire, path, body);
        let http = if wire.http2() { &self.http2 } else { &self.http1 };
        let res = http.open(request).await;
        let (parts, body) = res.into_parts();
        Stream {
            wire,
            http_status: parts.status,
            headers: parts.headers,
            body,
            output: method.output(),
            buf: BytesMut::new(),
            text: String::new(),
            ended: false,
            _message: std::marker::PhantomData,
        }
    }

    /// Sends `requests` and reads the whole answer.
    pub async fn stream_all<Req: Message, Res: Message + Default>(
        &self,
        wire: Wire,
        path: &str,
        requests: &[Req],
    ) -> Finished<Res> {
        self.stream(wire, path, requests).await.finish().await
    }

    fn stream_request(&self, wire: Wire, path: &str, body: Bytes) -> Request<Bytes> {
        let mut headers = self.metadata.clone();
        let gzip_headers = |h: &mut HeaderMap, encoding: &'static str, accept: &'static str| {
            if wire.gzip {
                h.insert(encoding, HeaderValue::from_static("gzip"));
                h.insert(accept, HeaderValue::from_static("gzip"));
            }
        };
        match wire.protocol {
            Protocol::Grpc => {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
                headers.insert(header::TE, HeaderValue::from_static("trailers"));
                gzip_headers(&mut headers, "grpc-encoding", "grpc-accept-encoding");
            }
            Protocol::GrpcWeb | Protocol::GrpcWebText => {
                let text = wire.protocol == Protocol::GrpcWebText;
                let ct = if text { "application/grpc-web-text+proto" } else { "application/grpc-web+proto" };
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
                headers.insert("x-grpc-web", HeaderValue::from_static("1"));
                if text {
                    headers.insert(header::ACCEPT, HeaderValue::from_static("application/grpc-web-text"));
                }
                gzip_headers(&mut headers, "grpc-encoding", "grpc-accept-encoding");
            }
            Protocol::ConnectStream(codec) => {
                let ct = if codec == Codec::Json { "application/connect+json" } else { "application/connect+proto" };
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
                headers.insert("connect-protocol-version", HeaderValue::from_static("1"));
                gzip_headers(&mut headers, "connect-content-encoding", "connect-accept-encoding");
            }
            Protocol::Connect(_) | Protocol::ConnectGet(_) => panic!("{wire} is unary: use Client::unary"),
        }
        if let Some(t) = self.timeout {
            let (name, value) = match wire.protocol {
                Protocol::ConnectStream(_) => ("connect-timeout-ms", t.as_millis().to_string()),
                _ => ("grpc-timeout", format!("{}m", t.as_millis())),
            };
            headers.insert(name, value.parse().unwrap());
        }
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.url(path))
            .version(if wire.http2() { Version::HTTP_2 } else { Version::HTTP_11 })
            .body(body)
            .unwrap();
        *req.headers_mut() = headers;
        req
    }
}

impl<M: Message + Default> Stream<M> {
    /// The next message, or how the stream ended (then `None` after that).
    pub async fn next(&mut self) -> Option<Item<M>> {
        if self.ended {
            return None;
        }
        loop {
            if let Some(item) = self.take() {
                return Some(item);
            }
            match self.body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.push(&data),
                    Err(frame) => {
                        let trailers = frame.into_trailers().unwrap_or_default();
                        self.ended = true;
                        return Some(Item::End(grpc_ending(&trailers)));
                    }
                },
                Some(Err(e)) => {
                    self.ended = true;
                    return Some(Item::End(Ending {
                        code: Code::Unavailable,
                        message: format!("the stream broke: {e}"),
                        details: Box::default(),
                        trailers: HeaderMap::new(),
                        json: serde_json::Value::Null,
                    }));
                }
                None => {
                    self.ended = true;
                    // A trailers-only answer: the status is in the headers.
                    let ending = if self.headers.contains_key("grpc-status") {
                        grpc_ending(&self.headers)
                    } else {
                        Ending {
                            code: Code::Unknown,
                            message: format!("the stream ended without a status (HTTP {})", self.http_status),
                            details: Box::default(),
                            trailers: HeaderMap::new(),
                            json: serde_json::Value::Null,
                        }
                    };
                    return Some(Item::End(ending));
                }
            }
        }
    }

    /// The next item, within `limit` (a safety net for a test that waits
    /// for something that should come; `None` when it does not).
    pub async fn next_within(&mut self, limit: Duration) -> Option<Item<M>> {
        tokio::time::timeout(limit, self.next()).await.ok().flatten()
    }

    /// Reads to the end.
    pub async fn finish(mut self) -> Finished<M> {
        let mut messages = Vec::new();
        let mut compressed = Vec::new();
        loop {
            match self.next().await.expect("a stream ends with an ending") {
                Item::Message { message, compressed: c, size } => {
                    messages.push(message);
                    compressed.push((c, size));
                }
                Item::End(ending) => {
                    return Finished {
                        messages,
                        compressed,
                        ending,
                        http_status: self.http_status,
                        headers: self.headers,
                    };
                }
            }
        }
    }

    fn push(&mut self, data: &[u8]) {
        if self.wire.protocol != Protocol::GrpcWebText {
            self.buf.extend_from_slice(data);
            return;
        }
        // Text: base64 chunks, each padded, one after another; every chunk is
        // whole 4-character groups, so decoding group by group is exact.
        self.text.push_str(std::str::from_utf8(data).expect("gRPC-Web text is ASCII"));
        let whole = self.text.len() / 4 * 4;
        let groups: String = self.text.drain(..whole).collect();
        for group in groups.as_bytes().chunks(4) {
            self.buf.extend(base64::engine::general_purpose::STANDARD.decode(group).expect("valid base64"));
        }
    }

    /// One whole message or ending from the buffer, if there is one.
    fn take(&mut self) -> Option<Item<M>> {
        if self.buf.len() < 5 {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if self.buf.len() < 5 + len {
            return None;
        }
        let flags = self.buf.get_u8();
        self.buf.advance(4);
        let payload = self.buf.split_to(len).freeze();
        let connect = matches!(self.wire.protocol, Protocol::ConnectStream(_));
        if connect && flags & 0b10 != 0 {
            self.ended = true;
            return Some(Item::End(connect_ending(&payload)));
        }
        if !connect && flags & 0x80 != 0 {
            self.ended = true;
            return Some(Item::End(grpc_ending(&crate::wire::parse_trailer_block(&payload))));
        }
        let compressed = flags & 1 == 1;
        let data = if compressed { gunzip(&payload) } else { payload };
        let size = data.len();
        let data = match self.wire.codec() {
            Codec::Proto => data,
            Codec::Json => {
                let mut de = serde_json::Deserializer::from_slice(&data);
                let msg = DynamicMessage::deserialize(self.output.clone(), &mut de)
                    .expect("a message of the method's output");
                Bytes::from(msg.encode_to_vec())
            }
        };
        Some(Item::Message { message: M::decode(data).expect("decodes as the output"), compressed, size })
    }
}

fn grpc_ending(h: &HeaderMap) -> Ending {
    let (code, message) = crate::wire::status_in(h).unwrap_or((Code::Unknown, "no grpc-status".into()));
    let details = crate::details_from_grpc(code, &message, h.get("grpc-status-details-bin"));
    let mut trailers = HeaderMap::new();
    for (name, value) in h {
        if !name.as_str().starts_with("grpc-") && name != header::CONTENT_TYPE {
            trailers.append(name.clone(), value.clone());
        }
    }
    Ending { code, message, details, trailers, json: serde_json::Value::Null }
}

fn connect_ending(payload: &[u8]) -> Ending {
    let json: serde_json::Value = serde_json::from_slice(payload).expect("the end-of-stream message is JSON");
    let (code, message) = match json.get("error") {
        None => (Code::Ok, String::new()),
        Some(error) => (
            error["code"].as_str().and_then(crate::code_of).unwrap_or(Code::Unknown),
            error["message"].as_str().unwrap_or("").to_owned(),
        ),
    };
    let details = crate::details_from_connect(code, &message, json.get("error").unwrap_or(&serde_json::Value::Null));
    let mut trailers = HeaderMap::new();
    if let Some(metadata) = json["metadata"].as_object() {
        for (name, values) in metadata {
            for value in values.as_array().into_iter().flatten() {
                trailers.append(
                    HeaderName::try_from(name.as_str()).unwrap(),
                    HeaderValue::try_from(value.as_str().unwrap()).unwrap(),
                );
            }
        }
    }
    Ending { code, message, details, trailers, json }
}

fn gunzip(data: &[u8]) -> Bytes {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).expect("valid gzip from the server");
    out.into()
}
