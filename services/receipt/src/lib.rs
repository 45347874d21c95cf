//! The receipt service. `build` turns a [`Config`] into a bound [`Service`]; `main.rs` only runs it.

use axum::Router;
use common::config::{self, ConfigError, ports};
use common::infra::{
    kafka::{self, KafkaCheck},
    mongo::{MongoCheck, MongoSettings},
    smtp::{SmtpCheck, SmtpSettings},
};
use common::{Readiness, Service};

const SERVICE: &str = "receipt-service";

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: std::net::SocketAddr,
    pub mongo: MongoSettings,
    pub kafka_brokers: String,
    pub smtp: SmtpSettings,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            listen: config::listen_addr(ports::RECEIPT)?,
            mongo: MongoSettings::from_env(),
            kafka_brokers: kafka::brokers_from_env(),
            smtp: SmtpSettings::from_env(),
        })
    }
}

pub async fn build(config: Config) -> anyhow::Result<Service> {
    let database = config.mongo.database(SERVICE).await?;
    let kafka_check = KafkaCheck::new(&config.kafka_brokers)?;
    let mailer = config.smtp.transport()?;
    let readiness = Readiness::new(vec![
        Box::new(MongoCheck(database.clone())),
        Box::new(kafka_check),
        Box::new(SmtpCheck(mailer.clone())),
    ]);
    let router = Router::new().merge(readiness.router());
    Ok(Service::bind(SERVICE, config.listen, router).await?)
}
