//! `idempotency-key` metadata of gRPC and Connect writes (the Connect
//! adapter hands its headers to the service as metadata).

use tonic::{Status, metadata::MetadataMap};

use crate::{HEADER, Key, Refused};

/// The request's key, if it sent one; `INVALID_ARGUMENT` when malformed.
pub fn key(metadata: &MetadataMap) -> Result<Option<Key>, Status> {
    let mut values = metadata.get_all(HEADER).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(Status::invalid_argument("send one idempotency-key, not several"));
    }
    let value = value.to_str().map_err(|_| Status::invalid_argument("the idempotency-key is not visible ASCII"))?;
    Key::parse(value).map(Some).map_err(|e| Status::invalid_argument(e.to_string()))
}

/// The status of a request that was not run: `INVALID_ARGUMENT` for a key
/// reused with another request (HTTP 422 has no gRPC code of its own),
/// `ABORTED` while the first still runs (Connect's HTTP 409), `UNAVAILABLE`
/// when the store is down.
pub fn refused(refusal: Refused) -> Status {
    match refusal {
        Refused::Mismatch => Status::invalid_argument(refusal.to_string()),
        Refused::InProgress => Status::aborted(refusal.to_string()),
        Refused::Store(e) => {
            tracing::warn!(error = %e, "idempotency store unavailable");
            Status::unavailable("the idempotency store is unavailable; retry with the same key")
        }
    }
}

/// Marks a replayed answer (`idempotent-replayed: true`).
pub fn mark_replayed<T>(response: &mut tonic::Response<T>) {
    response.metadata_mut().insert(crate::REPLAYED, tonic::metadata::MetadataValue::from_static("true"));
}
