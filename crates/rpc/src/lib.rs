//! The RPC runtime: gRPC, gRPC-Web and Connect on one port, in front of
//! tonic services, from the descriptor set the service hands it.
//!
//! A gRPC service builds an [`RpcRouter`] from its contracts' encoded
//! `FileDescriptorSet` and its generated tonic servers, and binds it with
//! [`RpcRouter::bind`], which returns the same [`platform::Server`] a REST
//! service runs. Around the handlers, outermost first:
//!
//! - [`platform::observe`]: one log line, span and metric per call, whatever
//!   answered it;
//! - [`connect`]: Connect unary calls (POST and GET, JSON and binary, gzip)
//!   translated to gRPC, and every request under a served service that no
//!   protocol here accepts refused in the terms of the protocol it used;
//! - `tonic-web`: gRPC-Web translated to gRPC;
//! - [`timeout`]: the client's deadline, which also covers reading the body;
//! - [`limits`]: messages larger than [`MAX_MESSAGE_BYTES`] refused as
//!   `resource_exhausted`, bodies that end inside a message as `invalid_argument`;
//! - the tonic services, with gzip both ways ([`configure!`]).
//!
//! Handlers answer with [`reply`], which leaves responses smaller than
//! [`COMPRESS_MIN_BYTES`] uncompressed.

pub mod compression;
pub mod connect;
pub mod details;
pub mod framing;
pub mod health;
pub mod limits;
pub mod pagination;
pub mod propagation;
mod router;
mod tap;
pub mod timeout;

pub use router::RpcRouter;
/// For [`configure!`]: the caller's crate need not name tonic itself.
#[doc(hidden)]
pub use tonic;

/// The largest message accepted or sent, after decompression (tonic's
/// default, and the same for every protocol).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Responses smaller than this are sent uncompressed, whatever the client
/// accepts: below about a kilobyte gzip's header and the CPU cost outweigh
/// what it saves.
pub const COMPRESS_MIN_BYTES: usize = 1024;

/// A handler's successful answer: `message`, compressed on the wire only
/// when it is at least [`COMPRESS_MIN_BYTES`] long (and the client accepts
/// gzip). tonic compresses every message once compression is on; this is
/// the size threshold it lacks.
pub fn reply<T: prost::Message>(message: T) -> tonic::Response<T> {
    let small = message.encoded_len() < COMPRESS_MIN_BYTES;
    let mut response = tonic::Response::new(message);
    if small {
        response.disable_compression();
    }
    response
}

/// Applies the platform's wire settings to a generated tonic server: gzip
/// accepted and sent (when the client accepts it), and
/// [`MAX_MESSAGE_BYTES`] both ways.
///
/// ```text
/// RpcRouter::new(platform_proto::FILE_DESCRIPTOR_SET)
///     .add_service(platform_rpc::configure!(GreeterServiceServer::new(greeter)))
/// ```
///
/// A macro because generated servers share no trait for these settings.
#[macro_export]
macro_rules! configure {
    ($server:expr) => {
        $server
            .accept_compressed($crate::tonic::codec::CompressionEncoding::Gzip)
            .send_compressed($crate::tonic::codec::CompressionEncoding::Gzip)
            .max_decoding_message_size($crate::MAX_MESSAGE_BYTES)
            .max_encoding_message_size($crate::MAX_MESSAGE_BYTES)
    };
}
