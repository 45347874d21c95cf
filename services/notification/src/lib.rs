//! The notification service: a WebSocket hub with no business logic. It relays what arrives
//! on Redis pub/sub to the sockets subscribed to that topic ([`hub`]) and keeps cluster-wide
//! "N viewing now" presence in Redis ([`presence`]). Any number of copies run side by side:
//! Redis is the only state they share. `build` turns a [`Config`] into a bound [`Service`];
//! `main.rs` only runs it.
//!
//! The browser reaches it through the gateway's `/live`, which resolves the session cookie
//! and passes the user on as a signed identity; see [`socket`] for the protocol and limits.

mod coalesce;
mod hub;
mod presence;
mod quota;
mod socket;

/// How tests configure the service: [`Config::for_tests`].
#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::config::{self, ConfigError, env_or, env_parse, ports};
use common::identity::IdentityKey;
use common::infra::redis::{self, RedisCheck};
use common::openapi::Shared;
use common::{Readiness, Service};

pub use socket::Limits;

const SERVICE: &str = "notification-service";

/// Redis messages that may wait for the relay: four seconds of a feed at 1,000 purchases a
/// second, so a busy moment of the machine does not lose messages (and send every socket a
/// `resync`).
const SUBSCRIBER_BACKLOG: usize = 4096;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: std::net::SocketAddr,
    pub redis_url: String,
    /// Verifies the identity the gateway signs for a signed-in browser.
    pub identity: IdentityKey,
    /// Pages allowed to open a live socket (`scheme://host[:port]`), against cross-site
    /// WebSocket hijacking.
    pub allowed_origins: Vec<String>,
    pub limits: Limits,
    pub presence: PresenceTiming,
}

/// How long a viewer counts without a heartbeat, and how often heartbeats refresh it. A
/// crashed instance's viewers leave the count within `ttl + heartbeat`.
#[derive(Debug, Clone, Copy)]
pub struct PresenceTiming {
    pub ttl: Duration,
    pub heartbeat: Duration,
}

impl Default for PresenceTiming {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(15),
            heartbeat: Duration::from_secs(5),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let public_url = env_or(
            "PUBLIC_URL",
            &format!("http://127.0.0.1:{}", ports::GATEWAY),
        );
        let origins = env_or("ALLOWED_ORIGINS", &public_url);
        let defaults = Limits::default();
        let presence = PresenceTiming::default();
        let secs = |name: &str, default: Duration| {
            env_parse(name, default.as_secs()).map(Duration::from_secs)
        };
        Ok(Self {
            listen: config::listen_addr(ports::NOTIFICATION)?,
            redis_url: redis::url_from_env(),
            identity: IdentityKey::from_env()?,
            allowed_origins: origins
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect(),
            limits: Limits {
                max_message_bytes: env_parse("WS_MAX_MESSAGE_BYTES", defaults.max_message_bytes)?,
                messages_per_second: env_parse(
                    "WS_MESSAGES_PER_SECOND",
                    defaults.messages_per_second,
                )?,
                burst: env_parse("WS_MESSAGE_BURST", defaults.burst)?,
                max_subscriptions: env_parse("WS_MAX_SUBSCRIPTIONS", defaults.max_subscriptions)?,
                max_anonymous_subscriptions: env_parse(
                    "WS_MAX_ANONYMOUS_SUBSCRIPTIONS",
                    defaults.max_anonymous_subscriptions,
                )?,
                max_sockets_per_address: env_parse(
                    "WS_MAX_SOCKETS_PER_ADDRESS",
                    defaults.max_sockets_per_address,
                )?,
                ping_every: secs("WS_PING_SECS", defaults.ping_every)?,
                idle_timeout: secs("WS_IDLE_SECS", defaults.idle_timeout)?,
            },
            presence: PresenceTiming {
                ttl: secs("PRESENCE_TTL_SECS", presence.ttl)?,
                heartbeat: secs("PRESENCE_HEARTBEAT_SECS", presence.heartbeat)?,
            },
        })
    }
}

/// The notification service's OpenAPI document (`GET /openapi.json`,
/// `docs/openapi/notification.json`): one route, the live socket's handshake.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "notification service",
        description = "The live-update hub: browsers' WebSockets, relayed by the gateway, fed from \
                       Redis pub/sub. No business logic."
    ),
    paths(socket::upgrade),
    modifiers(&Shared)
)]
pub struct ApiDoc;

pub async fn build(config: Config) -> anyhow::Result<Service> {
    let redis = redis::connect(&config.redis_url)?;
    // A connection in subscriber mode runs no other commands, so pub/sub gets its own.
    let subscriber = redis::connect_subscriber(&config.redis_url, SUBSCRIBER_BACKLOG)?;
    let hub = hub::Hub::new(subscriber);
    let relay = hub.spawn_relay();
    let presence = presence::Presence::new(redis.clone(), config.presence);
    let heartbeat = presence.spawn_heartbeat();
    let stopping = presence.clone();
    let quota = quota::SocketQuota::new(
        redis.clone(),
        config.presence,
        config.limits.max_sockets_per_address,
    );
    let quota_heartbeat = quota.spawn_heartbeat();
    let closing = quota.clone();

    let state = socket::AppState::new(
        hub,
        presence,
        quota,
        config.identity,
        config.allowed_origins,
        config.limits,
    );
    let readiness = Readiness::new(vec![Box::new(RedisCheck(redis))]);
    let router = Router::new()
        .route("/v1/live", get(socket::upgrade))
        .with_state(state)
        .merge(common::openapi::router(
            &<ApiDoc as utoipa::OpenApi>::openapi(),
        ))
        .merge(readiness.router());
    Ok(Service::bind(SERVICE, config.listen, router)
        .await?
        .with_background(relay)
        .with_background(heartbeat)
        .with_background(quota_heartbeat)
        .on_stop(async move {
            stopping.leave_all().await;
            closing.release_all().await;
        }))
}
