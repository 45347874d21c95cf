//! The user service. `build` turns a [`Config`] into a bound [`Service`]; `main.rs` only runs it.

use axum::Router;
use common::config::{self, ConfigError, ports};
use common::infra::{
    mongo::{MongoCheck, MongoSettings},
    redis::{self, RedisCheck},
};
use common::{Readiness, Service};

const SERVICE: &str = "user-service";

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: std::net::SocketAddr,
    pub mongo: MongoSettings,
    pub redis_url: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            listen: config::listen_addr(ports::USER)?,
            mongo: MongoSettings::from_env(),
            redis_url: redis::url_from_env(),
        })
    }
}

pub async fn build(config: Config) -> anyhow::Result<Service> {
    let database = config.mongo.database(SERVICE).await?;
    let redis = redis::connect(&config.redis_url)?;
    let readiness = Readiness::new(vec![
        Box::new(MongoCheck(database.clone())),
        Box::new(RedisCheck(redis.clone())),
    ]);
    let router = Router::new().merge(readiness.router());
    Ok(Service::bind(SERVICE, config.listen, router).await?)
}
