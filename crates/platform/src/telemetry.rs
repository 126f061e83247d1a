//! Logs and traces.
//!
//! Logs are structured (`LOG_FORMAT=json` for one JSON object per line).
//! Every request gets an OpenTelemetry span; a tracer provider is always
//! installed so trace ids exist and are propagated, but spans leave the
//! process only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and non-empty.
//! They are exported over OTLP/HTTP with protobuf bodies, the OpenTelemetry
//! default, to `<endpoint>/v1/traces` (a collector's port 4318), in batches
//! sent from a tokio task.

use std::str::FromStr;

use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("expected text or json".into()),
        }
    }
}

/// Flushes and stops trace export when dropped.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("trace provider shutdown: {e}");
        }
    }
}

/// Installs the global logger, tracer provider and W3C trace-context
/// propagator. Call once, from `main`.
pub fn init(service: &str, format: LogFormat, otlp_endpoint: Option<&str>) -> anyhow::Result<Telemetry> {
    install(service, format, otlp_endpoint, false)
}

/// Like [`init`], for test binaries: logs go through the test harness's
/// capture, so they show only for failing tests (or with `--nocapture`).
pub fn init_for_tests() -> anyhow::Result<Telemetry> {
    install("test", LogFormat::Text, None, true)
}

fn install(service: &str, format: LogFormat, otlp_endpoint: Option<&str>, test: bool) -> anyhow::Result<Telemetry> {
    let provider = tracer_provider(service, otlp_endpoint)?;
    global::set_text_map_propagator(TraceContextPropagator::new());
    global::set_tracer_provider(provider.clone());
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer(service.to_owned()));

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false),
            )
            .try_init()?,
        LogFormat::Text if test => registry.with(tracing_subscriber::fmt::layer().with_test_writer()).try_init()?,
        LogFormat::Text => registry.with(tracing_subscriber::fmt::layer()).try_init()?,
    }
    match otlp_endpoint {
        Some(endpoint) => tracing::info!(endpoint, "exporting traces over OTLP"),
        None => tracing::info!("OTEL_EXPORTER_OTLP_ENDPOINT is empty; trace export disabled"),
    }
    Ok(Telemetry { provider })
}

fn tracer_provider(service: &str, otlp_endpoint: Option<&str>) -> anyhow::Result<SdkTracerProvider> {
    let resource = Resource::builder().with_service_name(service.to_owned()).build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(traces_url(endpoint))
            .build()?;
        // The SDK's default batch processor exports from a plain thread; the
        // hyper client must run on the runtime instead.
        let batch = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
        builder = builder.with_span_processor(batch);
    }
    Ok(builder.build())
}

/// The traces URL for `OTEL_EXPORTER_OTLP_ENDPOINT`, which names the
/// collector's base URL: the signal's path is appended, as the
/// specification says.
fn traces_url(endpoint: &str) -> String {
    format!("{}/v1/traces", endpoint.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_signal_path_is_appended_to_the_endpoint() {
        assert_eq!(super::traces_url("http://tempo:4318"), "http://tempo:4318/v1/traces");
        assert_eq!(super::traces_url("http://tempo:4318/"), "http://tempo:4318/v1/traces");
        assert_eq!(super::traces_url("http://c/otlp"), "http://c/otlp/v1/traces");
    }
}
