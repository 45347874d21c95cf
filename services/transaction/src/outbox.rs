//! Relays completed purchases from the `transactions` collection to Kafka, a batch at a time
//! with every record of it in flight at once. Runs in every copy of the service; a lease on
//! each claimed purchase keeps copies from sending the same one at once. While Kafka is down
//! purchases wait in MongoDB and go out when it returns; a copy killed between sending and
//! marking "sent" means the purchase is sent again later, which the receipt workers recognise
//! by its transaction id.

use std::sync::Arc;
use std::time::Duration;
use wire::kafka_topics;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::Notify;

use mongodb::bson::oid::ObjectId;

use crate::transactions::{TransactionDocument, Transactions};

const LEASE: Duration = Duration::from_secs(30);
/// Purchases claimed and sent at once.
const BATCH: i64 = 100;
/// How long the relay lets purchases gather after a wake-up before it claims: under load a
/// claim (three reads of the collection on the local MongoDB-wire server) then carries many
/// purchases instead of one or two, and a receipt waits these few milliseconds longer.
const GATHER: Duration = Duration::from_millis(20);
/// How often an idle relay counts the backlog for the `outbox_backlog` gauge (a count reads
/// the whole collection on the local server, so not on every round).
const COUNT_EVERY: Duration = Duration::from_secs(5);

pub fn producer(brokers: &str) -> Result<FutureProducer, rdkafka::error::KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", "10000")
        .set("linger.ms", "2")
        .create()
}

pub async fn relay(
    transactions: Transactions,
    producer: FutureProducer,
    topic: String,
    wake: Arc<Notify>,
) {
    let mut backoff = Duration::from_millis(200);
    let mut counted: Option<tokio::time::Instant> = None;
    loop {
        match transactions.claim_outbox(LEASE, BATCH).await {
            Ok(batch) if batch.is_empty() => {
                if counted.is_none_or(|at| at.elapsed() >= COUNT_EVERY) {
                    record_backlog(&transactions).await;
                    counted = Some(tokio::time::Instant::now());
                }
                // Woken by a new purchase, or at least every second for other copies' work.
                let woken = tokio::time::timeout(Duration::from_secs(1), wake.notified())
                    .await
                    .is_ok();
                if woken {
                    tokio::time::sleep(GATHER).await;
                }
            }
            Ok(batch) => {
                // Every record of the batch in flight at once; Kafka acknowledges each.
                let sends = batch
                    .iter()
                    .map(|purchase| send(&producer, &topic, purchase));
                let (sent, refused): (Vec<_>, Vec<_>) = futures::future::join_all(sends)
                    .await
                    .into_iter()
                    .partition(|(_, delivered)| *delivered);
                let sent: Vec<ObjectId> = sent.into_iter().map(|(id, _)| id).collect();
                let refused: Vec<ObjectId> = refused.into_iter().map(|(id, _)| id).collect();
                if !sent.is_empty()
                    && let Err(err) = transactions.mark_sent(&sent).await
                {
                    tracing::warn!(%err, count = sent.len(), "sent to Kafka but not marked; they will be sent again");
                }
                if refused.is_empty() {
                    backoff = Duration::from_millis(200);
                } else {
                    record_backlog(&transactions).await;
                    let _ = transactions.release_claims(&refused).await;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
            Err(err) => {
                tracing::warn!(%err, "cannot read the outbox; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Sends one purchase, keyed by its id; says whether Kafka acknowledged it.
async fn send(
    producer: &FutureProducer,
    topic: &str,
    purchase: &TransactionDocument,
) -> (ObjectId, bool) {
    let key = purchase.id.to_hex();
    let Ok(payload) = serde_json::to_vec(&purchase.event()) else {
        return (purchase.id, false);
    };
    let record = FutureRecord::to(topic).key(&key).payload(&payload);
    match producer.send(record, Duration::from_secs(10)).await {
        Ok(_) => (purchase.id, true),
        Err((err, _)) => {
            tracing::warn!(%err, transaction_id = %key, "Kafka refused the purchase; retrying");
            (purchase.id, false)
        }
    }
}

/// `outbox_backlog`: purchases not yet on Kafka (all copies' view of the same collection).
async fn record_backlog(transactions: &Transactions) {
    match transactions.outbox_backlog().await {
        Ok(backlog) => metrics::gauge!("outbox_backlog").set(backlog as f64),
        Err(err) => tracing::debug!(%err, "cannot count the outbox"),
    }
}

pub fn default_topic() -> String {
    common::config::env_or("PURCHASES_TOPIC", kafka_topics::PURCHASES)
}
