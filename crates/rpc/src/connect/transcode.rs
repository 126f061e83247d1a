//! Proto3 JSON and protobuf bytes, through the contracts' descriptors.

use bytes::Bytes;
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor, SerializeOptions};

/// A message's protobuf bytes from its canonical JSON.
pub(crate) fn json_to_proto(desc: &MessageDescriptor, body: &[u8]) -> Result<Bytes, String> {
    // An empty body is the empty message, as connect-go accepts it.
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    let mut de = serde_json::Deserializer::from_slice(body);
    let msg = DynamicMessage::deserialize(desc.clone(), &mut de)
        .and_then(|m| de.end().map(|()| m))
        .map_err(|e| format!("invalid JSON for {}: {e}", desc.full_name()))?;
    Ok(msg.encode_to_vec().into())
}

/// A message's canonical JSON from its protobuf bytes.
pub(crate) fn proto_to_json(desc: &MessageDescriptor, payload: Bytes) -> Result<Bytes, String> {
    let msg = DynamicMessage::decode(desc.clone(), payload).map_err(|e| format!("decoding response: {e}"))?;
    let mut out = serde_json::Serializer::new(Vec::new());
    msg.serialize_with_options(&mut out, &SerializeOptions::new())
        .map_err(|e| format!("encoding response as JSON: {e}"))?;
    Ok(out.into_inner().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duration() -> MessageDescriptor {
        let pool = prost_reflect::DescriptorPool::decode(tonic_types::pb::FILE_DESCRIPTOR_SET).unwrap();
        pool.get_message_by_name("google.protobuf.Duration").expect("google.rpc imports Duration")
    }

    #[test]
    fn json_uses_canonical_mapping() {
        let bytes = json_to_proto(&duration(), br#""1.5s""#).unwrap();
        let d = prost_types::Duration::decode(bytes.clone()).unwrap();
        assert_eq!((d.seconds, d.nanos), (1, 500_000_000));
        assert_eq!(proto_to_json(&duration(), bytes).unwrap(), Bytes::from_static(br#""1.500s""#));
        assert!(json_to_proto(&duration(), b"{").is_err());
        let err = json_to_proto(&duration(), br#""1.5s" trailing"#).unwrap_err();
        assert!(err.contains("google.protobuf.Duration"), "{err}");
    }
}
