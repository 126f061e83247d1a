//! CloudEvents 1.0 over NATS in binary content mode: the attributes are
//! `ce-` headers, the data is the message body (protobuf), and
//! `Nats-Msg-Id` is the event id, for JetStream's duplicate window.

use async_nats::HeaderMap;
use chrono::{DateTime, SecondsFormat, Utc};

/// The media type of every event's data: a protobuf message from
/// `proto/events/v1/`.
pub const DATA_CONTENT_TYPE: &str = "application/protobuf";

/// One event's attributes and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudEvent {
    pub id: String,
    /// `/<service>`, the producer.
    pub source: String,
    /// The event's type, which is also its NATS subject
    /// (`platform.<service>.<entity>.<verb>`).
    pub kind: String,
    pub time: DateTime<Utc>,
    /// What it is about (a user id, a greeting id), if anything.
    pub subject: Option<String>,
    /// W3C trace context of the request that wrote it.
    pub traceparent: Option<String>,
    pub data: Vec<u8>,
}

/// Why a message is not a CloudEvent of this platform.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("the message has no {0} header")]
    Missing(&'static str),
    #[error("ce-specversion is {0:?}; only 1.0 is understood")]
    SpecVersion(String),
    #[error("ce-time {0:?} is not an RFC 3339 time")]
    Time(String),
    #[error("the data is {0:?}, not {DATA_CONTENT_TYPE}")]
    ContentType(String),
}

impl CloudEvent {
    /// The NATS headers that carry it.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", self.id.as_str());
        headers.insert("ce-specversion", "1.0");
        headers.insert("ce-id", self.id.as_str());
        headers.insert("ce-source", self.source.as_str());
        headers.insert("ce-type", self.kind.as_str());
        headers.insert("ce-time", self.time.to_rfc3339_opts(SecondsFormat::Micros, true).as_str());
        if let Some(subject) = &self.subject {
            headers.insert("ce-subject", subject.as_str());
        }
        headers.insert("content-type", DATA_CONTENT_TYPE);
        if let Some(traceparent) = &self.traceparent {
            headers.insert("traceparent", traceparent.as_str());
        }
        headers
    }

    /// Reads one back from a message's headers and body.
    pub fn from_message(headers: Option<&HeaderMap>, data: &[u8]) -> Result<CloudEvent, EnvelopeError> {
        let get = |name: &'static str| headers.and_then(|h| h.get(name)).map(|v| v.as_str().to_owned());
        let need = |name: &'static str| get(name).ok_or(EnvelopeError::Missing(name));
        let version = need("ce-specversion")?;
        if version != "1.0" {
            return Err(EnvelopeError::SpecVersion(version));
        }
        let content_type = need("content-type")?;
        if content_type != DATA_CONTENT_TYPE {
            return Err(EnvelopeError::ContentType(content_type));
        }
        let time = need("ce-time")?;
        let time = DateTime::parse_from_rfc3339(&time).map_err(|_| EnvelopeError::Time(time))?.with_timezone(&Utc);
        Ok(CloudEvent {
            id: need("ce-id")?,
            source: need("ce-source")?,
            kind: need("ce-type")?,
            time,
            subject: get("ce-subject"),
            traceparent: get("traceparent"),
            data: data.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> CloudEvent {
        CloudEvent {
            id: "0b6f4a35-5f6b-4a55-9a37-7f0d2a0f8c11".into(),
            source: "/auth".into(),
            kind: "platform.auth.user.registered".into(),
            time: "2026-12-03T15:00:00.123456Z".parse().unwrap(),
            subject: Some("user-1".into()),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            data: vec![8, 1],
        }
    }

    #[test]
    fn attributes_round_trip_through_headers() {
        let e = event();
        let headers = e.headers();
        assert_eq!(headers.get("Nats-Msg-Id").unwrap().as_str(), e.id);
        assert_eq!(CloudEvent::from_message(Some(&headers), &e.data), Ok(e.clone()));
        let bare = CloudEvent { subject: None, traceparent: None, ..e };
        assert_eq!(CloudEvent::from_message(Some(&bare.headers()), &bare.data), Ok(bare));
    }

    #[test]
    fn foreign_messages_are_refused_with_the_reason() {
        assert_eq!(CloudEvent::from_message(None, b""), Err(EnvelopeError::Missing("ce-specversion")));
        let mut headers = event().headers();
        headers.insert("ce-specversion", "0.3");
        assert_eq!(CloudEvent::from_message(Some(&headers), b""), Err(EnvelopeError::SpecVersion("0.3".into())));
        let mut headers = event().headers();
        headers.insert("content-type", "application/json");
        assert!(matches!(CloudEvent::from_message(Some(&headers), b""), Err(EnvelopeError::ContentType(_))));
    }
}
