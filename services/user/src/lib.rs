//! The user service: accounts (argon2id), sessions (Redis, idle + absolute timeouts) and
//! sign-in protection. `build` turns a [`Config`] into a bound [`Service`].

mod domain;
mod error;
mod login_guard;
mod passwords;
mod routes;
mod sessions;
mod users;

/// How tests configure the service: [`Config::for_tests`].
#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

use axum::extract::FromRef;
use common::config::{self, ConfigError, env_parse, ports};
use common::identity::IdentityKey;
use common::infra::mongo::{self, MongoCheck, MongoSettings};
use common::infra::redis::{self, RedisCheck};
use common::{ReadinessCheck, Service};

pub use login_guard::LoginLimits;
pub use passwords::HashingLimits;
pub use sessions::SessionPolicy;

const SERVICE: &str = "user-service";

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: std::net::SocketAddr,
    pub mongo: MongoSettings,
    pub redis_url: String,
    pub sessions: SessionPolicy,
    pub login_limits: LoginLimits,
    pub hashing: HashingLimits,
    /// Verifies that requests come from the gateway.
    pub identity: IdentityKey,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            listen: config::listen_addr(ports::USER)?,
            mongo: MongoSettings::from_env(),
            redis_url: redis::url_from_env(),
            sessions: SessionPolicy {
                idle: Duration::from_secs(env_parse("SESSION_IDLE_SECS", 12 * 3600)?),
                absolute: Duration::from_secs(env_parse("SESSION_ABSOLUTE_SECS", 7 * 24 * 3600)?),
            },
            login_limits: LoginLimits {
                registrations_per_address_per_hour: env_parse(
                    "REGISTRATIONS_PER_ADDRESS_PER_HOUR",
                    LoginLimits::default().registrations_per_address_per_hour,
                )?,
                ..LoginLimits::default()
            },
            hashing: HashingLimits::default(),
            identity: IdentityKey::from_env()?,
        })
    }
}

#[derive(Clone, FromRef)]
pub(crate) struct AppState {
    users: users::Users,
    sessions: sessions::Sessions,
    login_guard: login_guard::LoginGuard,
    hasher: passwords::Hasher,
    dummy_hash: &'static str,
    identity: IdentityKey,
}

pub async fn build(config: Config) -> anyhow::Result<Service> {
    let database = config.mongo.database(SERVICE).await?;
    let redis = redis::connect(&config.redis_url)?;
    let users = users::Users::new(&database);
    mongo::ensure_indexes(&users).await;

    let hasher = passwords::Hasher::new(config.hashing);
    let state = AppState {
        users,
        sessions: sessions::Sessions::new(redis.clone(), config.sessions),
        login_guard: login_guard::LoginGuard::new(redis.clone(), config.login_limits),
        dummy_hash: hasher.dummy_hash().await?,
        hasher,
        identity: config.identity,
    };
    let checks: Vec<Box<dyn ReadinessCheck>> =
        vec![Box::new(MongoCheck(database)), Box::new(RedisCheck(redis))];
    Ok(Service::bind_with_readiness(SERVICE, config.listen, routes::router(state), checks).await?)
}
