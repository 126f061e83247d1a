//! W3C trace context across the broker: the writing request's span is the
//! parent of the relay's publish span, whose context travels in the
//! message's `traceparent` header and is the parent of the consumer's
//! process span. One trace: request → publish → process.

use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Makes `span` a child of `traceparent`'s span, when there is one.
pub(crate) fn continue_from(span: &Span, traceparent: Option<&str>) {
    let Some(value) = traceparent.and_then(|t| http::HeaderValue::from_str(t).ok()) else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    headers.insert("traceparent", value);
    let _ = span.set_parent(platform::propagation::extract(&headers));
}

/// `span`'s own `traceparent`, for the next hop; `None` when not traced.
pub(crate) fn traceparent_of(span: &Span) -> Option<String> {
    let mut headers = http::HeaderMap::new();
    span.in_scope(|| platform::propagation::inject(&mut headers));
    headers.get("traceparent").and_then(|v| v.to_str().ok()).map(str::to_owned)
}
