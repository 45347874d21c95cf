//! The web gateway: the browser's only origin. It renders pages on the server, serves the
//! hydrate bundle, stylesheet and images, and runs the server functions, which call the
//! services.

use std::net::SocketAddr;

use std::sync::Arc;

use app::ssr::{Backends, ServiceUrls, SessionCookie};
use app::{App, SITE_NAME, shell};
pub mod edge;
mod live_proxy;
pub mod page_cache;
mod pictures;

use axum::Router;
use axum::http::{Extensions, HeaderMap, StatusCode, Version};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use common::client::TrustedProxies;
use common::config::{self, ConfigError, env_or, ports};
use common::identity::IdentityKey;
use common::infra::redis;
use common::{Readiness, Service};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower::ServiceBuilder;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::services::ServeDir;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where people reach the site; an `https://` address makes the session cookie
    /// `__Host-session` and Secure.
    pub public_url: String,
    /// Folder holding `pkg/` and `images/` (`scripts/build-site.sh` writes it).
    pub site_root: String,
    pub identity: IdentityKey,
    pub user_url: String,
    pub inventory_url: String,
    pub transaction_url: String,
    pub receipt_url: String,
    pub notification_url: String,
    /// The Redis of pub/sub (`REDIS_URL`), where the inventory announces changed items: the
    /// anonymous pages this copy keeps rendered are dropped on each announcement.
    pub redis_url: String,
    /// Where Prometheus scrapes `/metrics`: never the public port.
    pub metrics_listen: SocketAddr,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let local = |port: u16| format!("http://127.0.0.1:{port}");
        Ok(Self {
            listen: config::listen_addr(ports::GATEWAY)?,
            public_url: env_or("PUBLIC_URL", &local(ports::GATEWAY)),
            site_root: env_or("SITE_ROOT", "target/site"),
            identity: IdentityKey::from_env()?,
            user_url: env_or("USER_SERVICE_URL", &local(ports::USER)),
            inventory_url: env_or("INVENTORY_SERVICE_URL", &local(ports::INVENTORY)),
            transaction_url: env_or("TRANSACTION_SERVICE_URL", &local(ports::TRANSACTION)),
            receipt_url: env_or("RECEIPT_SERVICE_URL", &local(ports::RECEIPT)),
            notification_url: env_or("NOTIFICATION_SERVICE_URL", &local(ports::NOTIFICATION)),
            redis_url: redis::url_from_env(),
            metrics_listen: env_or("METRICS_LISTEN", "127.0.0.1:9300")
                .parse()
                .map_err(|_| ConfigError {
                    name: "METRICS_LISTEN".into(),
                    value: env_or("METRICS_LISTEN", ""),
                    reason: "must be an address and port such as 127.0.0.1:9300".into(),
                })?,
            trusted_proxies: TrustedProxies::from_env()?,
        })
    }

    fn session_cookie(&self) -> SessionCookie {
        SessionCookie::new(self.public_url.starts_with("https://"))
    }

    fn backends(&self) -> anyhow::Result<Backends> {
        let urls = ServiceUrls {
            user: self.user_url.clone(),
            inventory: self.inventory_url.clone(),
            transaction: self.transaction_url.clone(),
            receipt: self.receipt_url.clone(),
            notification: self.notification_url.clone(),
        };
        Backends::new(&urls, self.identity.clone(), self.session_cookie())
            .map_err(|err| anyhow::anyhow!("a service URL in the configuration: {err}"))
    }
}

/// The name the gateway's logs and metrics carry.
pub const SERVICE: &str = "gateway";

pub async fn build(config: Config) -> anyhow::Result<Service> {
    let leptos_options = LeptosOptions::builder()
        .output_name(SITE_NAME)
        .site_root(config.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build();
    let routes = route_list();
    let backends = config.backends()?;
    let edge = Arc::new(edge::Edge::new(
        &config.public_url,
        config.trusted_proxies.clone(),
    )?);
    let kept_pages = page_cache::PageCache::new(
        redis::connect(&config.redis_url)?,
        edge.clone(),
        backends.clone(),
    );
    kept_pages.listen();

    // Routing clones a route's handler, and so what these closures and the router's state
    // hold, for every request, kept pages included: they hold `Arc`s, and clone the contents
    // only to render.
    let shared_backends = Arc::new(backends.clone());
    let page_state = PageState(Arc::new(leptos_options));
    let pages = Router::new()
        .leptos_routes_with_context(
            &page_state,
            routes,
            {
                let backends = shared_backends.clone();
                move || page_context(&backends)
            },
            {
                let options = page_state.0.clone();
                move || shell(LeptosOptions::clone(&options))
            },
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            PageState,
            _,
        >(move || page_context(&shared_backends), shell))
        .with_state(page_state);

    let uploaded_pictures = Router::new()
        .route(
            &format!("{}/{{name}}", wire::picture::PICTURES_PATH),
            get(pictures::picture),
        )
        .route(
            &format!("{}/card/{{name}}", wire::picture::PICTURES_PATH),
            get(pictures::card),
        )
        .with_state(Arc::new(backends.clone()));

    let live_updates = Router::new()
        .route("/live", get(live_proxy::live))
        .with_state(live_proxy::LiveProxy::new(
            backends.clone(),
            &config.notification_url,
        )?);

    // The bundle and the images, served as files (precompressed copies where the browser takes
    // them; conditional and range requests answered): leptos_axum's fallback would pass on
    // only the path and `Accept-Encoding`, and render the app for anything but a 200.
    let site_files = |folder: &str| {
        ServeDir::new(std::path::Path::new(&config.site_root).join(folder))
            .precompressed_br()
            .precompressed_gzip()
    };
    let static_files = Router::new()
        .nest_service("/pkg", site_files("pkg"))
        .nest_service("/images", site_files("images"));

    // Each `Router::layer` boxes every route's service once more, and routing clones (and
    // drops) that whole chain of boxes for every request: the layers are joined with
    // `ServiceBuilder` so that each group is one box (perf, 2026-12-05: the chain's clones and
    // drops were ~13% of the gateway's time serving kept pages). Within a group the first
    // layer is the outermost.
    let rendered_pages = ServiceBuilder::new()
        // Pages are rendered for one visitor and sent once: a quick level, not the best.
        // (Kept pages are compressed once, well; the bundle is precompressed at build time;
        // a personal page that arrives in one round trip anyway is not compressed at all.)
        .layer(
            CompressionLayer::new()
                .quality(CompressionLevel::Precise(4))
                .compress_when(DefaultPredicate::new().and(
                    |_: StatusCode, _: Version, _: &HeaderMap, extensions: &Extensions| {
                        extensions.get::<page_cache::SendUncompressed>().is_none()
                    },
                )),
        )
        .layer(from_fn_with_state(
            kept_pages.clone(),
            page_cache::serve_personal_pages,
        ));
    // Before routing, so that a kept page costs no routing: the address first, then the
    // headers, then the origin check, so that refusals carry the headers too; kept pages last.
    let before_routing = ServiceBuilder::new()
        .layer(from_fn_with_state(edge.clone(), edge::client_address))
        .layer(from_fn_with_state(edge.clone(), edge::security_headers))
        .layer(from_fn_with_state(backends.cookie, edge::private_answers))
        .layer(axum::middleware::from_fn(edge::drop_error_parameters))
        .layer(from_fn_with_state(edge, edge::same_origin_only))
        // An upload's session is checked, and its turn taken, before its body is read.
        .layer(from_fn_with_state(
            edge::Uploads::new(backends.clone()),
            edge::admit_uploads,
        ))
        // No form of this site sends more; a larger body is refused (413) before anything
        // reads it.
        .layer(axum::middleware::from_fn(edge::limit_request_bodies))
        .layer(from_fn_with_state(kept_pages, page_cache::serve_kept_pages));
    // The gateway itself depends on nothing but the services, whose state /status shows.
    let router = pages
        .merge(static_files)
        .merge(uploaded_pictures)
        .merge(Readiness::new(vec![]).router())
        .layer(rendered_pages)
        // After compression: a WebSocket handshake has no body to compress.
        .merge(live_updates);
    Ok(Service::bind(SERVICE, config.listen, router)
        .await?
        .with_metrics_on(config.metrics_listen)
        .await?
        .before_routing(move |routed| {
            Router::new().fallback_service(before_routing.service(routed))
        }))
}

/// The pages' router state: the site's options behind one `Arc`. Leptos's page handlers hold
/// the state, and routing clones a handler for every request: cloning the options themselves
/// (a dozen shared strings) and dropping them again was 15% of the gateway's time serving
/// kept pages (perf, 2026-12-05).
#[derive(Clone)]
struct PageState(Arc<LeptosOptions>);

impl axum::extract::FromRef<PageState> for LeptosOptions {
    fn from_ref(state: &PageState) -> Self {
        LeptosOptions::clone(&state.0)
    }
}

/// The app's routes, listed once per process. Listing them runs the app with resource
/// loading suppressed for the whole process (leptos#4773): a page being rendered meanwhile,
/// by another gateway in the same process, had its resource never load and hung (the item
/// page time-outs the tests saw). Listed once, before any gateway serves, it never overlaps.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// What every page render and server function gets: the services, what one request shares
/// (see [`app::ssr::provide_request_context`]), and the page's CSP nonce
/// (made by [`edge::security_headers`]) for Leptos's inline hydration script.
fn page_context(backends: &Backends) {
    provide_context(backends.clone());
    app::ssr::provide_request_context();
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<edge::CspNonce>().cloned());
    if let Some(edge::CspNonce(nonce)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}
