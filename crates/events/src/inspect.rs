//! Reading a stream back: what it holds, in order. For tests and for
//! operators looking at a stream; consumers use durable consumers instead.

use std::time::Duration;

use async_nats::jetstream;

use crate::envelope::CloudEvent;

/// Why a stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("the broker: {0}")]
    Broker(String),
    #[error("{0} after {1:?}")]
    Timeout(String, Duration),
    #[error("message {0} is not a CloudEvent: {1}")]
    Envelope(u64, crate::envelope::EnvelopeError),
}

fn broker(e: impl std::fmt::Display) -> InspectError {
    InspectError::Broker(e.to_string())
}

/// The events of stream `name` at `url`, once it holds at least `want`
/// (waiting up to `wait` for the stream to exist and fill), in stream order.
pub async fn wait_for(url: &str, name: &str, want: u64, wait: Duration) -> Result<Vec<CloudEvent>, InspectError> {
    let deadline = tokio::time::Instant::now() + wait;
    let js = jetstream::new(crate::connect(url).await.map_err(broker)?);
    let mut stream = loop {
        match js.get_stream(name).await {
            Ok(stream) => break stream,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(InspectError::Timeout(format!("no stream {name}: {e}"), wait));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let state = loop {
        let state = stream.info().await.map_err(broker)?.state.clone();
        if state.messages >= want {
            break state;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(InspectError::Timeout(format!("{name} holds {} of {want} events", state.messages), wait));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut events = Vec::with_capacity(state.messages as usize);
    for seq in state.first_sequence..=state.last_sequence {
        let raw = stream.get_raw_message(seq).await.map_err(broker)?;
        events.push(
            CloudEvent::from_message(Some(&raw.headers), &raw.payload).map_err(|e| InspectError::Envelope(seq, e))?,
        );
    }
    Ok(events)
}
