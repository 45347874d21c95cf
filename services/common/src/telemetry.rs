//! Structured logs: JSON lines when `LOG_FORMAT=json` (containers), readable text otherwise.
//! The level comes from `RUST_LOG` (default `info`).
//!
//! Traces: when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, every span is also exported to that
//! OpenTelemetry collector over OTLP/HTTP (the exporter reads the other standard `OTEL_*`
//! variables itself). W3C trace context travels in `traceparent` headers from the gateway to
//! the services ([`trace_headers`], [`continue_trace`]), so one page view is one trace.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::HeaderMap;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, Tracer};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs logging, and trace export when configured, for `service`; call once at startup
/// (later calls in the same process change nothing).
pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_target(false)
            .boxed()
    } else {
        // Colours only for a person at a terminal, not in log files (and formatting them
        // showed in the gateway's profile).
        tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .boxed()
    };
    let traces =
        otlp_tracer(service).map(|tracer| tracing_opentelemetry::layer().with_tracer(tracer));
    // try_init: a test binary may start several services in one process.
    let result = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .with(filter)
        .try_init();
    if result.is_ok() {
        tracing::info!(
            service,
            traces = PROVIDER.get().is_some(),
            "telemetry ready"
        );
    }
}

fn otlp_tracer(service: &'static str) -> Option<Tracer> {
    std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|endpoint| !endpoint.trim().is_empty())?;
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => exporter,
        Err(err) => {
            eprintln!("{service}: traces are not exported: {err}");
            return None;
        }
    };
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer = provider.tracer(service);
    let _ = PROVIDER.set(provider);
    Some(tracer)
}

/// Sends the spans still buffered (on shutdown).
pub fn flush() {
    if let Some(provider) = PROVIDER.get()
        && let Err(err) = provider.force_flush()
    {
        tracing::warn!(%err, "could not export the last traces");
    }
}

/// The headers that carry the current span's trace to the next service (`traceparent`);
/// none when traces are not exported.
pub fn trace_headers() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut headers);
    });
    headers
}

/// Makes `span` part of the trace the caller's headers name, if any.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    let _ = span.set_parent(parent);
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}
