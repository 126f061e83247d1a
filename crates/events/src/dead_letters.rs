//! The dead-letter stream, for operators: what is in it, and putting a
//! consumer's dead letters back on their original subjects once the cause
//! is fixed (`events dead-letters replay <consumer>`).
//!
//! A replayed event is a new message in its producer's stream, so the
//! durable consumer is delivered it again; its inbox has no row for it (a
//! dead letter was never applied), so it applies once. It gets a fresh
//! `Nats-Msg-Id`, or the stream's duplicate window could drop it; the
//! event's own id (`ce-id`) is unchanged, so a replay of something that did
//! apply meanwhile is a duplicate the inbox absorbs.

use std::time::Duration;

use async_nats::{
    HeaderMap,
    jetstream::{self, consumer::pull},
};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::consumer::{DEAD_LETTERS, FAILURE_HEADER, ORIGINAL_SUBJECT_HEADER};

/// One dead letter, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its sequence in the dead-letter stream.
    pub sequence: u64,
    /// The consumer it died in.
    pub consumer: String,
    pub event_id: String,
    pub original_subject: String,
    pub failure: String,
}

/// What went wrong talking to the broker.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

fn err(e: impl std::fmt::Display) -> Error {
    Error(e.to_string())
}

/// The dead letters of `consumer` (every consumer's when `None`), oldest first.
pub async fn list(url: &str, consumer: Option<&str>) -> Result<Vec<DeadLetter>, Error> {
    let js = jetstream::new(crate::connect(url).await.map_err(err)?);
    Ok(read(&js, consumer).await?.into_iter().map(|(letter, ..)| letter).collect())
}

/// Publishes `consumer`'s dead letters again on their original subjects and
/// removes them from the dead-letter stream; how many were replayed.
pub async fn replay(url: &str, consumer: &str) -> Result<usize, Error> {
    let js = jetstream::new(crate::connect(url).await.map_err(err)?);
    let letters = read(&js, Some(consumer)).await?;
    let stream = js.get_stream(DEAD_LETTERS).await.map_err(err)?;
    for (letter, original, payload) in &letters {
        // The event's own headers (CloudEvents, trace), not the dead letter's.
        let mut headers = HeaderMap::new();
        for (name, values) in original.iter() {
            let dropped = [FAILURE_HEADER, ORIGINAL_SUBJECT_HEADER, "Nats-Msg-Id"];
            if dropped.iter().any(|d| d.eq_ignore_ascii_case(name.as_ref())) {
                continue;
            }
            for value in values {
                headers.append(name.clone(), value.clone());
            }
        }
        headers.insert("Nats-Msg-Id", format!("{}-replay-{}", letter.event_id, letter.sequence));
        js.publish_with_headers(letter.original_subject.clone(), headers, payload.clone())
            .await
            .map_err(err)?
            .await
            .map_err(err)?;
        stream.delete_message(letter.sequence).await.map_err(err)?;
        tracing::info!(consumer, event_id = %letter.event_id, subject = %letter.original_subject, "dead letter replayed");
    }
    Ok(letters.len())
}

/// Every dead letter of `consumer` in the stream now, with its headers and payload.
async fn read(js: &jetstream::Context, consumer: Option<&str>) -> Result<Vec<(DeadLetter, HeaderMap, Bytes)>, Error> {
    let Ok(stream) = js.get_stream(DEAD_LETTERS).await else {
        return Ok(Vec::new());
    };
    let filter = format!("platform.dead-letter.{}", consumer.unwrap_or(">"));
    // An ephemeral consumer that only reads: the letters stay until replayed.
    let mut reader: jetstream::consumer::PullConsumer = stream
        .create_consumer(pull::Config {
            filter_subject: filter,
            ack_policy: jetstream::consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await
        .map_err(err)?;
    let mut letters = Vec::new();
    let mut pending = reader.info().await.map_err(err)?.num_pending;
    while pending > 0 {
        let mut batch =
            reader.fetch().max_messages(100).expires(Duration::from_secs(2)).messages().await.map_err(err)?;
        let mut got = 0;
        while let Some(message) = batch.next().await {
            let message = message.map_err(err)?;
            let info = message.info().map_err(err)?;
            let sequence = info.stream_sequence;
            pending = info.pending;
            got += 1;
            let headers = message.headers.clone().unwrap_or_default();
            let header = |name: &str| headers.get(name).map(|v| v.as_str().to_owned()).unwrap_or_default();
            let letter = DeadLetter {
                sequence,
                consumer: message.subject.trim_start_matches("platform.dead-letter.").to_owned(),
                event_id: header("ce-id"),
                original_subject: header(ORIGINAL_SUBJECT_HEADER),
                failure: header(FAILURE_HEADER),
            };
            letters.push((letter, headers, message.payload.clone()));
        }
        if got == 0 {
            break;
        }
    }
    Ok(letters)
}
