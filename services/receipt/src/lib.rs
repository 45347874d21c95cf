//! The receipt service: Kafka consumer of purchases that sends one receipt email per
//! purchase over SMTP. `build` turns a [`Config`] into a bound [`Service`] whose background
//! task is the consumer.

mod email;
mod receipts;
mod worker;

/// How tests configure the service: [`Config::for_tests`].
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::config::{self, ConfigError, env_or, ports};
use common::error::ServiceError;
use common::infra::kafka::{self, KafkaCheck};
use common::infra::mongo::{MongoCheck, MongoSettings};
use common::infra::smtp::{SmtpCheck, SmtpSettings};
use common::{Readiness, Service};
use wire::receipt::{SetAsideRecords, WorkerStats};

const SERVICE: &str = "receipt-service";

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: std::net::SocketAddr,
    pub mongo: MongoSettings,
    pub kafka_brokers: String,
    pub smtp: SmtpSettings,
    pub purchases_topic: String,
    /// Workers with the same group share the topic's partitions.
    pub group: String,
    /// The receipts' sender, e.g. `Marketplace <receipts@example.com>`.
    pub from: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            listen: config::listen_addr(ports::RECEIPT)?,
            mongo: MongoSettings::from_env(),
            kafka_brokers: kafka::brokers_from_env(),
            smtp: SmtpSettings::from_env(),
            purchases_topic: env_or("PURCHASES_TOPIC", wire::kafka_topics::PURCHASES),
            group: env_or("RECEIPT_GROUP", "receipt-workers"),
            from: env_or("RECEIPT_FROM", "Marketplace <receipts@marketplace.test>"),
        })
    }
}

#[derive(Clone)]
struct AppState {
    receipts: receipts::Receipts,
    stats: Arc<worker::Stats>,
}

pub async fn build(config: Config) -> anyhow::Result<Service> {
    let database = config.mongo.database(SERVICE).await?;
    let kafka_check = KafkaCheck::new(&config.kafka_brokers)?;
    let mailer = config.smtp.transport()?;
    let from = config.from.parse().map_err(|e| {
        anyhow::anyhow!(
            "RECEIPT_FROM {:?} is not an email address: {e}",
            config.from
        )
    })?;
    let stats = Arc::new(worker::Stats::default());
    let consumer = worker::consumer(
        &config.kafka_brokers,
        &config.group,
        &config.purchases_topic,
        stats.clone(),
    )?;
    let receipts = receipts::Receipts::new(&database);

    let worker = worker::Worker {
        consumer,
        receipts: receipts.clone(),
        mailer: mailer.clone(),
        from,
        stats: stats.clone(),
    };
    let consuming = tokio::spawn(worker.run());
    let readiness = Readiness::new(vec![
        Box::new(MongoCheck(database)),
        Box::new(kafka_check),
        Box::new(SmtpCheck(mailer)),
    ]);
    let state = AppState { receipts, stats };
    let router = Router::new()
        .route("/v1/stats", get(stats_route))
        .route("/v1/set-aside", get(set_aside_route))
        .with_state(state)
        .merge(readiness.router());
    Ok(Service::bind(SERVICE, config.listen, router)
        .await?
        .with_background(consuming))
}

/// What this worker did, and which partitions it holds now.
async fn stats_route(State(state): State<AppState>) -> Json<WorkerStats> {
    let partitions = state
        .stats
        .partitions
        .lock()
        .map(|p| p.clone())
        .unwrap_or_default();
    Json(WorkerStats {
        sent: state.stats.sent.load(Ordering::Relaxed),
        duplicates_skipped: state.stats.duplicates_skipped.load(Ordering::Relaxed),
        set_aside: state.stats.set_aside.load(Ordering::Relaxed),
        partitions,
    })
}

/// Why an operator endpoint failed.
#[derive(Debug, thiserror::Error)]
enum ApiError {
    /// MongoDB failed: 503.
    #[error("MongoDB is unavailable")]
    Unavailable(#[from] mongodb::error::Error),
}

impl ServiceError for ApiError {
    fn status(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

common::answer_errors_with_error_body!(ApiError);

/// Records that can never be sent, newest first, for an operator.
async fn set_aside_route(State(state): State<AppState>) -> Result<Json<SetAsideRecords>, ApiError> {
    let records = state.receipts.list_set_aside().await?;
    Ok(Json(SetAsideRecords {
        records: records.into_iter().map(receipts::SetAside::view).collect(),
    }))
}

#[cfg(test)]
mod contract {
    //! Every answer of the operator endpoints decodes, as a client reads answers, to what was
    //! sent.

    use super::*;
    use wire::receipt::SetAsideRecord;

    #[tokio::test]
    async fn answers_round_trip_through_the_client() {
        let stats = WorkerStats {
            sent: 5,
            duplicates_skipped: 1,
            set_aside: 1,
            partitions: vec![0, 2],
        };
        testkit::contract::round_trip(Json(stats.clone()), &stats).await;
        let records = SetAsideRecords {
            records: vec![SetAsideRecord {
                topic: "purchases".into(),
                partition: 0,
                offset: 7,
                payload: "{ not json".into(),
                reason: "not a purchase event".into(),
                at: 1_700_000_000_000,
            }],
        };
        testkit::contract::round_trip(Json(records.clone()), &records).await;
    }
}
