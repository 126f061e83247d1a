//! Logs and traces.
//!
//! Logs are structured (`LOG_FORMAT=json` for one JSON object per line).
//! Every request gets an OpenTelemetry span; a tracer provider is always
//! installed so trace ids exist and are propagated, but spans leave the
//! process only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and non-empty.

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
        let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}
