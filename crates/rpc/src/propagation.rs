//! W3C trace context on outbound gRPC calls.

use tonic::metadata::MetadataMap;

/// A tonic interceptor that propagates the current trace to the callee.
pub fn grpc_interceptor(mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    let mut headers = std::mem::take(req.metadata_mut()).into_headers();
    platform::propagation::inject(&mut headers);
    *req.metadata_mut() = MetadataMap::from_headers(headers);
    Ok(req)
}
