//! One Connect streaming call (client, server or bidi) translated to gRPC
//! message by message, and back.
//!
//! Both bodies are rewritten as they flow, never collected: each Connect
//! envelope the client sends becomes a gRPC frame (decompressed with
//! `connect-content-encoding`, JSON turned into protobuf), and each gRPC
//! frame the handler sends becomes an envelope (protobuf turned into JSON,
//! compressed with the coding `connect-accept-encoding` chose when it is at
//! least [`crate::COMPRESS_MIN_BYTES`]). The handler's status and trailers
//! become the end-of-stream envelope. The answer is always HTTP 200, as the
//! protocol has it; an error the adapter finds itself (a bad coding, a
//! message too large) is also told in the end-of-stream envelope.
//!
//! Deadlines and cancellation are the gRPC side's: `connect-timeout-ms`
//! becomes `grpc-timeout`, and a client that goes away drops the answer's
//! body, which drops the handler's stream.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Request, Response, header};
use http_body::Frame;
use platform::observe::RpcStatus;
use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor};
use tonic::{Code, Status};
use tower::{Service, ServiceExt};

use super::{
    Codec,
    transcode::{json_to_proto, proto_to_json},
    unary::{Failure, deadline, grpc_request, response_metadata},
};
use crate::{
    COMPRESS_MIN_BYTES, MAX_MESSAGE_BYTES,
    compression::{self, Encoding, GunzipError},
    framing::{self, Messages, TooLarge},
};

/// Envelope flags.
const COMPRESSED: u8 = 0b01;
const END_STREAM: u8 = 0b10;

pub(super) async fn serve<S, RB>(
    inner: S,
    req: Request<Body>,
    pool: &DescriptorPool,
    method: MethodDescriptor,
    codec: Codec,
) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<RB>, Error = std::convert::Infallible>,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<axum::BoxError>,
{
    let observed = req.extensions().get::<RpcStatus>().cloned();
    let (parts, body) = req.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(codec)));
    headers.insert("connect-accept-encoding", HeaderValue::from_static(compression::ACCEPTED));

    // Refused before the handler is called: told in the end of the stream.
    let refuse = |status: Status, headers: HeaderMap| {
        if let Some(observed) = &observed {
            observed.set(status.code() as i32);
        }
        let mut res = Response::new(Body::from(end_stream(Some(&status), &HeaderMap::new(), pool)));
        *res.headers_mut() = headers;
        res
    };
    if let Some(v) = header("connect-protocol-version")
        && v != "1"
    {
        let status = Status::invalid_argument(format!("connect-protocol-version must be \"1\", not {v:?}"));
        return refuse(status, headers);
    }
    let Some(request_encoding) = Encoding::parse(header("connect-content-encoding").unwrap_or("identity")) else {
        let status = Status::unimplemented(format!(
            "{:?} compression is not supported: send gzip or identity",
            header("connect-content-encoding").unwrap_or_default()
        ));
        return refuse(status, headers);
    };
    let response_encoding = compression::negotiate(header("connect-accept-encoding"), request_encoding);
    let deadline = match deadline(&parts.headers) {
        Ok(deadline) => deadline,
        Err(Failure { status, .. }) => return refuse(status, headers),
    };

    let messages_in = EnvelopesIn {
        inner: body,
        messages: Messages::default(),
        input: method.input(),
        codec,
        encoding: request_encoding,
        failed: false,
    };
    // The deadline goes on as `grpc-timeout`, which the gRPC side enforces
    // on the call and its answer's stream.
    let grpc = match deadline {
        Some((_, at)) => platform::deadline::sync_scope(at, || grpc_request(parts, Body::new(messages_in), false)),
        None => grpc_request(parts, Body::new(messages_in), false),
    };
    let grpc = match grpc {
        Ok(grpc) => grpc,
        Err(status) => return refuse(status, headers),
    };
    let res = inner.oneshot(grpc).await.unwrap_or_else(|e| match e {});
    let (res_parts, res_body) = res.into_parts();
    headers.extend(response_metadata(&res_parts.headers, &HeaderMap::new()));
    if response_encoding == Encoding::Gzip {
        headers.insert("connect-content-encoding", HeaderValue::from_static("gzip"));
    }
    // A trailers-only answer (the handler failed at once): its status is in the headers.
    let trailers_only = Status::from_header_map(&res_parts.headers);
    let messages_out = EnvelopesOut {
        inner: res_body,
        messages: Messages::default(),
        output: method.output(),
        codec,
        encoding: response_encoding,
        pool: pool.clone(),
        observed,
        pending: trailers_only.map(|status| {
            let ok = status.code() == Code::Ok;
            end_stream((!ok).then_some(&status), &HeaderMap::new(), pool)
        }),
        ended: false,
    };
    let mut res = Response::new(Body::new(messages_out));
    *res.headers_mut() = headers;
    res
}

fn content_type(codec: Codec) -> &'static str {
    match codec {
        Codec::Json => "application/connect+json",
        Codec::Proto => "application/connect+proto",
    }
}

/// The end-of-stream envelope: the error, if the call failed, and the
/// trailing metadata (gRPC's own trailers left out).
fn end_stream(error: Option<&Status>, trailers: &HeaderMap, pool: &DescriptorPool) -> Bytes {
    let mut end = serde_json::Map::new();
    if let Some(status) = error {
        let mut error = serde_json::json!({ "code": platform::observe::code_name(status.code() as i32) });
        if !status.message().is_empty() {
            error["message"] = status.message().into();
        }
        let details = crate::details::to_connect(pool, status.details());
        if !details.is_empty() {
            error["details"] = details.into();
        }
        end.insert("error".into(), error);
    }
    let mut metadata = serde_json::Map::new();
    for (name, value) in trailers {
        if name.as_str().starts_with("grpc-") {
            continue;
        }
        let values = metadata.entry(name.as_str()).or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let (serde_json::Value::Array(values), Ok(value)) = (values, value.to_str()) {
            values.push(value.into());
        }
    }
    if !metadata.is_empty() {
        end.insert("metadata".into(), metadata.into());
    }
    framing::frame(END_STREAM, serde_json::Value::Object(end).to_string().as_bytes())
}

pin_project_lite::pin_project! {
    /// The client's envelopes as gRPC frames.
    struct EnvelopesIn<B> {
        #[pin]
        inner: B,
        messages: Messages,
        input: MessageDescriptor,
        codec: Codec,
        encoding: Encoding,
        failed: bool,
    }
}

impl<B> http_body::Body for EnvelopesIn<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        loop {
            let this = self.as_mut().project();
            if *this.failed {
                return Poll::Ready(None);
            }
            let mut out = BytesMut::new();
            loop {
                match this.messages.next(MAX_MESSAGE_BYTES) {
                    Ok(Some((flags, payload))) => {
                        match request_message(flags, payload, this.input, *this.codec, *this.encoding) {
                            Ok(message) => out.extend_from_slice(&framing::frame(0, &message)),
                            Err(status) => {
                                *this.failed = true;
                                return Poll::Ready(Some(Err(Box::new(status))));
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(TooLarge { len, limit }) => {
                        *this.failed = true;
                        let status = Status::resource_exhausted(format!(
                            "a request message is {len} bytes; at most {limit} are accepted"
                        ));
                        return Poll::Ready(Some(Err(Box::new(status))));
                    }
                }
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(out.freeze()))));
            }
            match this.inner.poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        this.messages.push(data);
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(None) => {
                    if this.messages.leftover() > 0 {
                        *this.failed = true;
                        let status = Status::invalid_argument("the request body ends inside an envelope");
                        return Poll::Ready(Some(Err(Box::new(status))));
                    }
                    return Poll::Ready(None);
                }
            }
        }
    }
}

/// One request envelope's message, as protobuf bytes.
fn request_message(
    flags: u8,
    payload: Bytes,
    input: &MessageDescriptor,
    codec: Codec,
    encoding: Encoding,
) -> Result<Bytes, Status> {
    if flags & END_STREAM != 0 {
        return Err(Status::invalid_argument(
            "a request envelope has the end-of-stream flag, which only responses use",
        ));
    }
    let payload = if flags & COMPRESSED != 0 {
        if encoding == Encoding::Identity {
            return Err(Status::invalid_argument(
                "a request envelope is flagged compressed but no connect-content-encoding was sent",
            ));
        }
        compression::gunzip(&payload, MAX_MESSAGE_BYTES).map_err(|e| match e {
            GunzipError::TooLarge { limit } => {
                Status::resource_exhausted(format!("a request message decompresses to more than {limit} bytes"))
            }
            GunzipError::Invalid(why) => Status::invalid_argument(format!("a request message is {why}")),
        })?
    } else {
        payload
    };
    match codec {
        Codec::Proto => Ok(payload),
        Codec::Json => json_to_proto(input, &payload).map_err(Status::invalid_argument),
    }
}

pin_project_lite::pin_project! {
    /// The handler's gRPC frames and trailers as Connect envelopes.
    struct EnvelopesOut<B> {
        #[pin]
        inner: B,
        messages: Messages,
        output: MessageDescriptor,
        codec: Codec,
        encoding: Encoding,
        pool: DescriptorPool,
        observed: Option<RpcStatus>,
        // An end-of-stream envelope ready to go (a trailers-only answer).
        pending: Option<Bytes>,
        ended: bool,
    }
}

impl<B> http_body::Body for EnvelopesOut<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        loop {
            let this = self.as_mut().project();
            if let Some(end) = this.pending.take() {
                *this.ended = true;
                return Poll::Ready(Some(Ok(Frame::data(end))));
            }
            if *this.ended {
                return Poll::Ready(None);
            }
            let mut out = BytesMut::new();
            loop {
                match this.messages.next(usize::MAX) {
                    Ok(Some((_, payload))) => {
                        let message = match this.codec {
                            Codec::Proto => payload,
                            Codec::Json => match proto_to_json(this.output, payload) {
                                Ok(json) => json,
                                Err(e) => return failed(Status::internal(e), this.observed, this.pool, this.ended),
                            },
                        };
                        let envelope = if *this.encoding == Encoding::Gzip && message.len() >= COMPRESS_MIN_BYTES {
                            framing::frame(COMPRESSED, &compression::gzip(&message))
                        } else {
                            framing::frame(0, &message)
                        };
                        out.extend_from_slice(&envelope);
                    }
                    Ok(None) => break,
                    Err(_) => unreachable!("no limit"),
                }
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(out.freeze()))));
            }
            match this.inner.poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => this.messages.push(&data),
                    Err(frame) => {
                        let Ok(trailers) = frame.into_trailers() else { continue };
                        let status = Status::from_header_map(&trailers)
                            .unwrap_or_else(|| Status::unknown("the handler's trailers carried no grpc-status"));
                        *this.ended = true;
                        let error = (status.code() != Code::Ok).then_some(&status);
                        return Poll::Ready(Some(Ok(Frame::data(end_stream(error, &trailers, this.pool)))));
                    }
                },
                Poll::Ready(Some(Err(e))) => {
                    return failed(Status::from_error(e.into()), this.observed, this.pool, this.ended);
                }
                Poll::Ready(None) => {
                    let status = Status::unknown("the handler's response ended without a status");
                    return failed(status, this.observed, this.pool, this.ended);
                }
            }
        }
    }
}

/// Ends the answer with `status`, a failure of the adapter's own.
fn failed(
    status: Status,
    observed: &Option<RpcStatus>,
    pool: &DescriptorPool,
    ended: &mut bool,
) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
    if let Some(observed) = observed {
        observed.set(status.code() as i32);
    }
    *ended = true;
    Poll::Ready(Some(Ok(Frame::data(end_stream(Some(&status), &HeaderMap::new(), pool)))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_a_stream_carries_error_and_trailers() {
        let pool = DescriptorPool::decode(tonic_types::pb::FILE_DESCRIPTOR_SET).unwrap();
        let ok = end_stream(None, &HeaderMap::new(), &pool);
        assert_eq!(&ok[..], &framing::frame(END_STREAM, b"{}")[..]);

        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "14".parse().unwrap());
        trailers.append("x-cost", "1".parse().unwrap());
        trailers.append("x-cost", "2".parse().unwrap());
        let status = Status::unavailable("overloaded");
        let end = end_stream(Some(&status), &trailers, &pool);
        assert_eq!(end[0], END_STREAM);
        let json: serde_json::Value = serde_json::from_slice(&end[5..]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "unavailable", "message": "overloaded"}, "metadata": {"x-cost": ["1", "2"]}})
        );
    }

    #[test]
    fn request_envelopes_are_checked() {
        let pool = DescriptorPool::decode(tonic_types::pb::FILE_DESCRIPTOR_SET).unwrap();
        let input = pool.get_message_by_name("google.rpc.RetryInfo").unwrap();
        let json = Bytes::from_static(br#"{"retryDelay": "2s"}"#);
        let proto = request_message(0, json.clone(), &input, Codec::Json, Encoding::Identity).unwrap();
        assert_eq!(&proto[..], &[0x0a, 0x02, 0x08, 0x02]);
        let packed = compression::gzip(&json);
        assert_eq!(request_message(COMPRESSED, packed.clone(), &input, Codec::Json, Encoding::Gzip).unwrap(), proto);
        let code = |r: Result<Bytes, Status>| r.unwrap_err().code();
        assert_eq!(
            code(request_message(COMPRESSED, packed, &input, Codec::Json, Encoding::Identity)),
            Code::InvalidArgument
        );
        assert_eq!(
            code(request_message(END_STREAM, json, &input, Codec::Json, Encoding::Identity)),
            Code::InvalidArgument
        );
        let bomb = compression::gzip(&vec![b' '; MAX_MESSAGE_BYTES + 1]);
        assert_eq!(
            code(request_message(COMPRESSED, bomb, &input, Codec::Json, Encoding::Gzip)),
            Code::ResourceExhausted
        );
    }
}
