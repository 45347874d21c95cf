//! The receipt service: Kafka consumer of purchases that sends one receipt email per
//! purchase over SMTP, tells the buyer's pages when it went (Redis), and answers the buyer's
//! "where is my receipt?". `build` turns a [`Config`] into a bound [`Service`] whose
//! background task is the consumer.

mod email;
mod receipts;
mod worker;

/// How tests configure the service: [`Config::for_tests`].
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::config::{self, ConfigError, env_or, ports};
use common::error::ServiceError;
use common::identity::{FromGateway, IdentityKey, SignedIn};
use common::infra::kafka::{self, KafkaCheck};
use common::infra::mongo::{MongoCheck, MongoSettings};
use common::infra::redis;
use common::infra::smtp::{SmtpCheck, SmtpSettings};
use common::input::FieldError;
use common::openapi::{Shared, SignedRefusals, Unavailable};
use common::{Readiness, Service};
use wire::receipt::{ReceiptStatus, SetAsideRecords, WorkerStats};
use wire::{ErrorBody, PurchaseId};

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
    /// Where "receipt sent" is published for the buyer's pages.
    pub redis_url: String,
    /// Verifies who asks for a receipt's status.
    pub identity: IdentityKey,
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
            redis_url: redis::url_from_env(),
            identity: IdentityKey::from_env()?,
        })
    }
}

#[derive(Clone, FromRef)]
struct AppState {
    receipts: receipts::Receipts,
    stats: Arc<worker::Stats>,
    identity: IdentityKey,
}

pub async fn build(config: Config) -> anyhow::Result<Service> {
    let database = config.mongo.database(SERVICE).await?;
    let kafka_check = KafkaCheck::new(&config.kafka_brokers)?;
    // One SMTP session per receipt the worker handles side by side.
    let mailer = config.smtp.transport(worker::IN_FLIGHT as u32)?;
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
    // Not a readiness check: receipts go out while Redis is away, only the live status waits.
    let redis = redis::connect(&config.redis_url)?;

    let worker = worker::Worker {
        consumer,
        topic: config.purchases_topic.clone(),
        receipts: receipts.clone(),
        mailer: mailer.clone(),
        from,
        stats: stats.clone(),
        redis,
    };
    let consuming = tokio::spawn(worker.run());
    let readiness = Readiness::new(vec![
        Box::new(MongoCheck(database)),
        Box::new(kafka_check),
        Box::new(SmtpCheck(mailer)),
    ]);
    let state = AppState {
        receipts,
        stats,
        identity: config.identity,
    };
    let router = Router::new()
        .route("/v1/receipts/{purchase_id}", get(receipt_status))
        .route("/v1/stats", get(stats_route))
        .route("/v1/set-aside", get(set_aside_route))
        .with_state(state)
        .merge(common::openapi::router(
            &<ApiDoc as utoipa::OpenApi>::openapi(),
        ))
        .merge(readiness.router());
    Ok(Service::bind(SERVICE, config.listen, router)
        .await?
        .with_background(consuming))
}

/// The receipt service's OpenAPI document (`GET /openapi.json`, `docs/openapi/receipt.json`).
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "receipt service",
        description = "Receipt workers: they email a receipt for every purchase event on Kafka, \
                       once. Over HTTP they answer a buyer's receipt status and operators' counts."
    ),
    paths(receipt_status, stats_route, set_aside_route),
    components(schemas(PurchaseId)),
    modifiers(&Shared)
)]
pub struct ApiDoc;

/// What this worker did, and which partitions it holds now; for operators, who call it with
/// the gateway's signature.
#[utoipa::path(
    get,
    path = "/v1/stats",
    security(("signed_gateway" = [])),
    responses(
        (status = 200, description = "This worker's counts and partitions.", body = WorkerStats),
        SignedRefusals
    )
)]
async fn stats_route(State(state): State<AppState>, _operator: FromGateway) -> Json<WorkerStats> {
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

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
enum ApiError {
    /// The id in the path: 422.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// MongoDB failed: 503.
    #[error("receipts are unavailable right now; try again shortly")]
    Unavailable(#[from] mongodb::error::Error),
}

impl ServiceError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Field(field) => field.status(),
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    common::field_error_in!(Field);
}

common::answer_errors_with_error_body!(ApiError);

/// Whether the signed-in buyer's receipt for this purchase has been emailed.
#[utoipa::path(
    get,
    path = "/v1/receipts/{purchase_id}",
    params(("purchase_id" = PurchaseId, Path, description = "The purchase.")),
    security(("signed_user" = [])),
    responses(
        (status = 200, description = "Queued, or emailed (to a masked address, at a time).", body = ReceiptStatus),
        (status = 422, description = "`purchase_id` is not a purchase id.", body = ErrorBody),
        SignedRefusals,
        Unavailable
    )
)]
async fn receipt_status(
    State(state): State<AppState>,
    SignedIn(buyer): SignedIn,
    Path(purchase_id): Path<String>,
) -> Result<Json<ReceiptStatus>, ApiError> {
    let purchase_id = PurchaseId::parse(&purchase_id)
        .map_err(|err| FieldError::new("purchase_id", err.to_string()))?;
    Ok(Json(
        state.receipts.status(&purchase_id, &buyer.user_id).await?,
    ))
}

/// Records that can never be sent, newest first, for an operator (they hold buyers' names and
/// addresses, so only a caller with the gateway's signature reads them).
#[utoipa::path(
    get,
    path = "/v1/set-aside",
    security(("signed_gateway" = [])),
    responses(
        (status = 200, description = "The records set aside.", body = SetAsideRecords),
        SignedRefusals,
        Unavailable
    )
)]
async fn set_aside_route(
    State(state): State<AppState>,
    _operator: FromGateway,
) -> Result<Json<SetAsideRecords>, ApiError> {
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
        for status in [
            ReceiptStatus::Queued,
            ReceiptStatus::Emailed {
                to: "a…@example.com".into(),
                at: 1_700_000_000_000,
            },
        ] {
            testkit::contract::round_trip(Json(status.clone()), &status).await;
        }
    }
}
