//! Relays completed purchases from the `transactions` collection to Kafka. Runs in every
//! copy of the service; a lease on each claimed purchase keeps copies from sending the same
//! one at once. While Kafka is down purchases wait in MongoDB and go out when it returns;
//! a copy killed between sending and marking "sent" means the purchase is sent again later,
//! which the receipt workers recognise by its transaction id.

use std::sync::Arc;
use std::time::Duration;
use wire::kafka_topics;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::Notify;

use crate::transactions::Transactions;

const LEASE: Duration = Duration::from_secs(30);

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
    loop {
        match transactions.claim_outbox(LEASE).await {
            Ok(Some(purchase)) => {
                let key = purchase.id.to_hex();
                let Ok(payload) = serde_json::to_vec(&purchase.event()) else {
                    continue;
                };
                let record = FutureRecord::to(&topic).key(&key).payload(&payload);
                match producer.send(record, Duration::from_secs(10)).await {
                    Ok(_) => {
                        backoff = Duration::from_millis(200);
                        if let Err(err) = transactions.mark_sent(purchase.id).await {
                            tracing::warn!(%err, transaction_id = %key, "sent to Kafka but not marked; it will be sent again");
                        }
                    }
                    Err((err, _)) => {
                        record_backlog(&transactions).await;
                        tracing::warn!(%err, transaction_id = %key, "Kafka refused the purchase; retrying");
                        let _ = transactions.release_claim(purchase.id).await;
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
            Ok(None) => {
                record_backlog(&transactions).await;
                // Woken by a new purchase, or at least every second for other copies' work.
                let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot read the outbox; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
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
