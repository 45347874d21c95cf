//! A bound service that serves its router until SIGTERM or Ctrl-C, letting requests in
//! flight finish. Binding is separate from running so tests can bind port 0 and ask which
//! port they got (zero2prod's `Application`).

use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::{metrics, telemetry};

/// Set by the gateway (or made here when missing), passed on to services, logged with every
/// request and returned in the response, so one request can be followed across services.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    /// The id of the request the current task is serving.
    static REQUEST_ID: HeaderValue;
}

/// Headers a service puts on its calls to other services while serving a request: the
/// request's id and, when traces are exported, its trace.
pub fn outgoing_headers() -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> =
        crate::telemetry::trace_headers().into_iter().collect();
    if let Ok(Some(id)) = REQUEST_ID.try_with(|id| id.to_str().ok().map(str::to_owned)) {
        headers.push((REQUEST_ID_HEADER.to_string(), id));
    }
    headers
}

/// Makes the request's id available to [`outgoing_headers`] while the handler runs.
async fn remember_request_id(request: axum::extract::Request, next: Next) -> Response {
    match request.headers().get(REQUEST_ID_HEADER).cloned() {
        Some(id) => REQUEST_ID.scope(id, next.run(request)).await,
        None => next.run(request).await,
    }
}

/// A service bound to its port with its router, ready to
/// [`run_until_stopped`](Self::run_until_stopped).
pub struct Service {
    name: &'static str,
    listener: TcpListener,
    router: Router,
    /// Work that lives as long as the service (a Kafka consumer, an outbox relay).
    background: Vec<AbortOnDrop>,
    /// Wraps the routed service in middleware that runs before routing.
    before_routing: Option<Box<dyn FnOnce(Router) -> Router + Send>>,
    /// Run after a graceful stop (not after a crash), e.g. to tell others this copy is gone.
    on_stop: Vec<futures::future::BoxFuture<'static, ()>>,
    /// Where `/metrics` is served when not on the main port (the gateway's main port is
    /// public; its metrics are not).
    metrics_listener: Option<TcpListener>,
}

/// How long the stop hooks may take together.
const STOP_HOOKS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Service {
    /// Binds `addr` now (port 0 picks a free one), so the caller can learn the port before
    /// serving; `name` labels the service's logs and metrics.
    pub async fn bind(
        name: &'static str,
        addr: SocketAddr,
        router: Router,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self {
            name,
            listener,
            router,
            background: Vec::new(),
            before_routing: None,
            on_stop: Vec::new(),
            metrics_listener: None,
        })
    }

    /// Binds `addr` for a service's API `router`, beside `/healthz` and `/readyz` answered
    /// by `checks` (each dependency the service needs to do its work).
    pub async fn bind_with_readiness(
        name: &'static str,
        addr: SocketAddr,
        router: Router,
        checks: Vec<Box<dyn crate::health::ReadinessCheck>>,
    ) -> std::io::Result<Self> {
        let router = router.merge(crate::health::Readiness::new(checks).router());
        Self::bind(name, addr, router).await
    }

    /// Serves `/metrics` on its own listener at `addr` instead of the main port.
    pub async fn with_metrics_on(mut self, addr: SocketAddr) -> std::io::Result<Self> {
        self.metrics_listener = Some(TcpListener::bind(addr).await?);
        Ok(self)
    }

    /// Where `/metrics` is served: the separate listener, or the main port.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
            .unwrap_or_else(|| self.local_addr())
    }

    /// Ties a background task to the service: it stops when the service stops.
    pub fn with_background(mut self, task: tokio::task::JoinHandle<()>) -> Self {
        self.background.push(AbortOnDrop(task));
        self
    }

    /// Middleware that must run before routing: `wrap` gets the router with every per-route
    /// layer applied (metrics, request-id scope) and returns what serves every request
    /// instead (inside the request-id and trace layers). Routing clones a route's whole
    /// stack of layers for each request, so answering some requests before it is cheaper;
    /// what `wrap` answers itself it counts itself ([`crate::metrics::RequestMetrics`]).
    pub fn before_routing(mut self, wrap: impl FnOnce(Router) -> Router + Send + 'static) -> Self {
        self.before_routing = Some(Box::new(wrap));
        self
    }

    /// Runs `hook` when the service stops gracefully (SIGTERM, Ctrl-C).
    pub fn on_stop(mut self, hook: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        self.on_stop.push(Box::pin(hook));
        self
    }

    /// The address actually bound, e.g. to learn the port that port 0 picked.
    pub fn local_addr(&self) -> SocketAddr {
        // A bound TCP listener always has a local address.
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until SIGTERM or Ctrl-C, lets requests in flight finish, then stops the background
    /// work and runs the stop hooks.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tracing::info!(service = self.name, addr = %self.local_addr(), "listening");
        metrics::install();
        let request_ids = ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get(REQUEST_ID_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let span = tracing::info_span!(
                        "request",
                        method = %request.method(),
                        uri = %request.uri(),
                        request_id,
                    );
                    telemetry::continue_trace(&span, request.headers());
                    span
                }),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER));
        let mut router = self
            .router
            .route_layer(axum::middleware::from_fn_with_state(
                self.name,
                metrics::record_request,
            ))
            .route_layer(axum::middleware::from_fn(remember_request_id));
        let metrics_server = match self.metrics_listener {
            Some(listener) => {
                let metrics_only = Router::new().route("/metrics", get(metrics::render));
                Some(AbortOnDrop(tokio::spawn(async move {
                    if let Err(err) = axum::serve(listener, metrics_only).await {
                        tracing::error!(%err, "the metrics listener failed");
                    }
                })))
            }
            None => {
                router = router.route("/metrics", get(metrics::render));
                None
            }
        };
        if let Some(wrap) = self.before_routing {
            router = wrap(router);
        }
        let router = router.layer(request_ids);
        axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await?;
        drop(self.background);
        drop(metrics_server);
        let hooks = futures::future::join_all(self.on_stop);
        if tokio::time::timeout(STOP_HOOKS_TIMEOUT, hooks)
            .await
            .is_err()
        {
            tracing::warn!(service = self.name, "stop hooks did not finish in time");
        }
        tracing::info!(service = self.name, "stopped");
        telemetry::flush();
        Ok(())
    }
}

/// Resolves on SIGTERM (how orchestrators stop a container) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            futures::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                futures::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = futures::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing requests in flight");
}

/// A service's whole `main`: telemetry for `name`, its configuration from the environment,
/// the service built from it, served until SIGTERM or Ctrl-C.
pub async fn main<C, E, Build, Built>(
    name: &'static str,
    config: impl FnOnce() -> Result<C, crate::config::ConfigError>,
    build: Build,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    Build: FnOnce(C) -> Built,
    Built: std::future::Future<Output = Result<Service, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    crate::telemetry::init(name);
    let config = config()?;
    build(config)
        .await
        .map_err(Into::into)?
        .run_until_stopped()
        .await?;
    Ok(())
}

/// The allocator of every service binary (see [`service_main!`]). Each request makes and frees
/// many small allocations across threads: under load glibc's allocator took a fifth to a third
/// of a service's own CPU (`_int_malloc`, `_int_free`, `malloc_consolidate`), mimalloc far less.
pub use mimalloc::MiMalloc as Allocator;

/// The whole `main.rs` of a service crate `$service` (which has `Config::from_env` and
/// `build`), named `$name` in logs, traces and metrics: see [`main`]. It also sets the
/// binary's [`Allocator`].
#[macro_export]
macro_rules! service_main {
    ($name:literal, $service:ident) => {
        #[global_allocator]
        static ALLOCATOR: $crate::serve::Allocator = $crate::serve::Allocator;

        #[tokio::main]
        async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            $crate::serve::main($name, $service::Config::from_env, $service::build).await
        }
    };
}
