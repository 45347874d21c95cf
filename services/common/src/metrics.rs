//! Prometheus metrics at `/metrics` on every service (and the gateway).
//!
//! [`Service`](crate::Service) records every routed HTTP request as
//! `http_requests_total` and `http_request_duration_seconds`, labelled with the service, the
//! route template, the method and the status. Services add their own with the `metrics`
//! macros (purchases, outbox backlog, consumer lag, open sockets, cache hits); `/metrics` shows
//! everything the process recorded.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often the recorder's histograms are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The process's recorder, installed on first use (several services in one test process
/// share it).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // A recorder built rather than installed by the exporter has nobody folding its
        // histograms' samples into their buckets but a scrape: without one, every request's
        // duration stays in memory in a process nobody scrapes (the exporter's own advice).
        let upkeep = handle.clone();
        let started = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(err) = started {
            tracing::warn!(%err, "cannot start the metrics upkeep; histograms grow until scraped");
        }
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        handle
    })
}

/// Installs the recorder now, so metrics recorded before the first scrape are kept.
pub fn install() {
    handle();
}

/// `GET /metrics`: the Prometheus text format.
pub async fn render() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle().render(),
    )
}

/// Middleware (a route layer, so the route template is known) counting and timing requests.
pub async fn record_request(
    State(service): State<&'static str>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_default();
    let method = request.method().clone();
    let response = next.run(request).await;
    RequestMetrics::new(service, route, &method, response.status()).record(started);
    response
}

/// The request count and duration of one service, route (its template), method and status:
/// for middleware that answers before routing (see [`crate::Service::before_routing`]) and
/// counts what it answers itself. Looking the metrics up by their labels costs more than the
/// rest of such an answer, so it keeps them.
#[derive(Clone)]
pub struct RequestMetrics {
    count: metrics::Counter,
    duration: metrics::Histogram,
}

impl RequestMetrics {
    /// The metrics with these labels (installs the recorder first, if no one did).
    pub fn new(
        service: &'static str,
        route: String,
        method: &axum::http::Method,
        status: axum::http::StatusCode,
    ) -> Self {
        install();
        let labels = [
            ("service", service.to_owned()),
            ("route", route),
            ("method", method.as_str().to_owned()),
            ("status", status.as_u16().to_string()),
        ];
        Self {
            count: metrics::counter!("http_requests_total", &labels),
            duration: metrics::histogram!("http_request_duration_seconds", &labels),
        }
    }

    /// Counts one request, begun at `started`.
    pub fn record(&self, started: Instant) {
        self.count.increment(1);
        self.duration.record(started.elapsed().as_secs_f64());
    }
}
