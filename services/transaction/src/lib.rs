//! The transaction service: purchases (one item or a cart) that never oversell, are never
//! taken twice, and are never lost on the way to Kafka. `build` turns a [`Config`] into a
//! bound [`Service`].

mod cart;
mod cart_routes;
mod error;
mod inventory;
mod ledger;
mod live_events;
mod outbox;
mod routes;
mod settle;
mod sweeper;
mod transactions;

/// How tests configure the service: [`Config::for_tests`].
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use common::config::{self, ConfigError, env_or, env_parse, ports};
use common::identity::IdentityKey;
use common::infra::kafka::{self, KafkaCheck};
use common::infra::mongo::{self, MongoCheck, MongoSettings};
use common::infra::redis::{self, RedisCheck};
use common::{Readiness, Service};
use tokio::sync::Notify;

const SERVICE: &str = "transaction-service";

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: std::net::SocketAddr,
    pub mongo: MongoSettings,
    pub redis_url: String,
    pub kafka_brokers: String,
    pub purchases_topic: String,
    pub identity: IdentityKey,
    pub inventory_url: String,
    /// How long a purchase may stay pending before a sweeper settles it
    /// (`PENDING_PURCHASE_BOUND_SECS`, 30).
    pub pending_bound: std::time::Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            listen: config::listen_addr(ports::TRANSACTION)?,
            mongo: MongoSettings::from_env(),
            redis_url: redis::url_from_env(),
            kafka_brokers: kafka::brokers_from_env(),
            purchases_topic: outbox::default_topic(),
            identity: IdentityKey::from_env()?,
            inventory_url: env_or(
                "INVENTORY_SERVICE_URL",
                &format!("http://127.0.0.1:{}", ports::INVENTORY),
            ),
            pending_bound: std::time::Duration::from_secs(env_parse(
                "PENDING_PURCHASE_BOUND_SECS",
                30,
            )?),
        })
    }
}

/// Unix milliseconds now: when a cart line was added, which day the sales chart ends on.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

#[derive(Clone, FromRef)]
pub(crate) struct AppState {
    transactions: transactions::Transactions,
    /// The buyers' histories and the sellers' sales, read page by page.
    ledgers: ledger::Ledgers,
    outbox: outbox::Outbox,
    inventory: clients::InventoryClient,
    redis: fred::prelude::Client,
    carts: cart::Carts,
    identity: IdentityKey,
    relay_wake: Arc<Notify>,
}

pub async fn build(config: Config) -> anyhow::Result<Service> {
    let database = config.mongo.database(SERVICE).await?;
    let redis = redis::connect(&config.redis_url)?;
    let kafka_check = KafkaCheck::new(&config.kafka_brokers)?;
    let transactions = transactions::Transactions::new(&database);
    let outbox = outbox::Outbox::new(&database);
    let ledgers = ledger::Ledgers::new(&database);
    mongo::ensure_indexes(&transactions).await;
    mongo::ensure_indexes(&outbox).await;
    mongo::ensure_indexes(&ledgers).await;
    tokio::spawn(ledger::enter_earlier_purchases(
        database.clone(),
        transactions.clone(),
        ledgers.clone(),
    ));

    let relay_wake = Arc::new(Notify::new());
    let relay = tokio::spawn(outbox::relay(
        outbox.clone(),
        outbox::producer(&config.kafka_brokers)?,
        config.purchases_topic.clone(),
        relay_wake.clone(),
    ));
    let state = AppState {
        transactions,
        ledgers,
        outbox,
        inventory: clients::InventoryClient::new(
            clients::http_client(),
            &config.inventory_url,
            config.identity.clone(),
        )
        .map_err(|err| anyhow::anyhow!("INVENTORY_URL: {err}"))?,
        redis: redis.clone(),
        carts: cart::Carts::new(redis.clone()),
        identity: config.identity,
        relay_wake,
    };
    let readiness = Readiness::new(vec![
        Box::new(MongoCheck(database)),
        Box::new(RedisCheck(redis)),
        Box::new(kafka_check),
    ]);
    let sweeper = tokio::spawn(sweeper::sweep(state.clone(), config.pending_bound));
    let router = Router::new()
        .merge(routes::router(state))
        .merge(readiness.router());
    Ok(Service::bind(SERVICE, config.listen, router)
        .await?
        .with_background(relay)
        .with_background(sweeper))
}
