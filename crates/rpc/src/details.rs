//! Error details clients can act on (the `google.rpc` messages, through
//! `tonic-types`), and their Connect form.
//!
//! gRPC and gRPC-Web carry details as a `google.rpc.Status` in the
//! `grpc-status-details-bin` trailer, which tonic writes and reads; Connect
//! carries them in the error's JSON as `{"type", "value", "debug"}`
//! objects. The adapter converts one into the other, so a detail a handler
//! attaches reaches a client whatever protocol it speaks.

use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// `INVALID_ARGUMENT` naming the offending request field, with a
/// `google.rpc.BadRequest` detail, so a form can point at the field.
pub fn invalid_field(field: &str, description: impl Into<String>) -> tonic::Status {
    let description = description.into();
    tonic::Status::with_error_details(
        Code::InvalidArgument,
        description.clone(),
        ErrorDetails::with_bad_request_violation(field, description),
    )
}

/// Connect's JSON details for a status's `grpc-status-details-bin` payload
/// (an encoded `google.rpc.Status`): the type's full name, the message as
/// unpadded base64, and, for types `pool` describes, the message as JSON
/// under `debug` for people reading the wire.
pub fn to_connect(pool: &DescriptorPool, encoded_status: &[u8]) -> Vec<serde_json::Value> {
    let Ok(status) = tonic_types::pb::Status::decode(encoded_status) else { return Vec::new() };
    status
        .details
        .iter()
        .map(|any| {
            let name = any.type_url.rsplit_once('/').map_or(any.type_url.as_str(), |(_, name)| name);
            let mut detail = serde_json::json!({ "type": name, "value": STANDARD_NO_PAD.encode(&any.value) });
            if let Some(debug) = pool
                .get_message_by_name(name)
                .and_then(|desc| DynamicMessage::decode(desc, any.value.as_slice()).ok())
                .and_then(|msg| serde_json::to_value(&msg).ok())
            {
                detail["debug"] = debug;
            }
            detail
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> DescriptorPool {
        DescriptorPool::decode(tonic_types::pb::FILE_DESCRIPTOR_SET).unwrap()
    }

    #[test]
    fn a_bad_request_reaches_connect_with_its_json() {
        let status = invalid_field("name", "name is required");
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = to_connect(&pool(), status.details());
        assert_eq!(details.len(), 1);
        assert_eq!(details[0]["type"], "google.rpc.BadRequest");
        assert!(!details[0]["value"].as_str().unwrap().ends_with('='), "unpadded");
        assert_eq!(
            details[0]["debug"],
            serde_json::json!({"fieldViolations": [{"field": "name", "description": "name is required"}]})
        );
    }

    #[test]
    fn unknown_types_have_no_debug_and_garbage_has_no_details() {
        let status = tonic_types::pb::Status {
            code: 3,
            message: String::new(),
            details: vec![prost_types::Any { type_url: "type.googleapis.com/acme.Thing".into(), value: vec![1, 2] }],
        };
        let details = to_connect(&pool(), &status.encode_to_vec());
        assert_eq!(details, [serde_json::json!({"type": "acme.Thing", "value": "AQI"})]);
        assert!(to_connect(&pool(), b"\xff\xff\xff").is_empty());
    }
}
