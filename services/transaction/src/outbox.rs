//! The outbox: completed purchases on their way to Kafka, in an `outbox` collection of their
//! own, and the relay that sends them a batch at a time with every record of it in flight at
//! once.
//!
//! A purchase's event is queued *before* the purchase is marked completed (see
//! [`crate::settle`]): its reservation has one outcome for good, so a queued purchase is
//! completed by this attempt, a retry or the sweeper, and no completed purchase is ever
//! missing from the outbox. An entry leaves the collection once Kafka has it, so the relay
//! reads a collection as small as the backlog instead of every purchase ever made (the local
//! MongoDB-wire server reads a whole collection for any filter but `_id`).
//!
//! The relay runs in every copy of the service; a lease on each claimed entry keeps copies
//! from sending the same one at once. While Kafka is down purchases wait in MongoDB and go out
//! when it returns; a copy killed between sending and deleting means the purchase is sent
//! again later, which the receipt workers recognise by its transaction id.

use std::sync::Arc;
use std::time::Duration;
use wire::events::PurchaseEvent;
use wire::kafka_topics;

use common::infra::mongo::{Indexed, index, is_duplicate_key};
use futures::TryStreamExt;
use mongodb::bson::{self, Bson, doc, oid::ObjectId};
use mongodb::{Collection, Database};
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// One purchase still to be sent to Kafka.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The purchase's own id: queuing it again is a no-op.
    #[serde(rename = "_id")]
    pub id: ObjectId,
    /// What goes on Kafka.
    pub event: PurchaseEvent,
    /// While a relay sends it, until when that relay's claim holds.
    pub lease_until: Option<bson::DateTime>,
    pub queued_at: bson::DateTime,
}

/// The `outbox` collection.
#[derive(Clone)]
pub struct Outbox {
    collection: Collection<OutboxEntry>,
}

impl Outbox {
    pub fn new(database: &Database) -> Self {
        Self {
            collection: database.collection("outbox"),
        }
    }

    /// Queues a completed purchase's event under the purchase's id, once.
    pub async fn queue(&self, id: ObjectId, event: PurchaseEvent) -> mongodb::error::Result<()> {
        let entry = OutboxEntry {
            id,
            event,
            lease_until: None,
            queued_at: bson::DateTime::now(),
        };
        match self.collection.insert_one(&entry).await {
            Ok(_) => Ok(()),
            // Queued by an earlier attempt of the same purchase.
            Err(err) if is_duplicate_key(&err) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Claims up to `limit` of the oldest entries for `lease`, so that of several copies only
    /// one sends each, and a crashed one's claims run out.
    pub async fn claim(
        &self,
        lease: Duration,
        limit: i64,
    ) -> mongodb::error::Result<Vec<OutboxEntry>> {
        let now = bson::DateTime::now();
        let until = bson::DateTime::from_millis(now.timestamp_millis() + lease.as_millis() as i64);
        let mut claimable =
            doc! { "$or": [ { "lease_until": null }, { "lease_until": { "$lt": now } } ] };
        let oldest: Vec<Bson> = self
            .collection
            .clone_with_type::<bson::Document>()
            .find(claimable.clone())
            .sort(doc! { "queued_at": 1, "_id": 1 })
            .limit(limit)
            .projection(doc! { "_id": 1 })
            .await?
            .try_filter_map(|found| async move { Ok(found.get("_id").cloned()) })
            .try_collect()
            .await?;
        if oldest.is_empty() {
            return Ok(Vec::new());
        }
        // The claim's own id tells which of them this call got: another copy may have claimed
        // some between the read above and this update.
        let claim = ObjectId::new();
        claimable.insert("_id", doc! { "$in": oldest.clone() });
        self.collection
            .update_many(
                claimable,
                doc! { "$set": { "lease_until": until, "claim": claim } },
            )
            .await?;
        self.collection
            .find(doc! { "_id": { "$in": oldest }, "claim": claim })
            .sort(doc! { "queued_at": 1, "_id": 1 })
            .await?
            .try_collect()
            .await
    }

    /// Forgets these entries: Kafka has them.
    pub async fn remove(&self, ids: &[ObjectId]) -> mongodb::error::Result<()> {
        self.collection
            .delete_many(doc! { "_id": { "$in": ids } })
            .await
            .map(drop)
    }

    /// Gives up claims at once (Kafka refused), so the next attempt need not wait for the lease.
    pub async fn release_claims(&self, ids: &[ObjectId]) -> mongodb::error::Result<()> {
        self.collection
            .update_many(
                doc! { "_id": { "$in": ids } },
                doc! { "$set": { "lease_until": null } },
            )
            .await
            .map(drop)
    }

    /// Purchases not yet on Kafka.
    pub async fn backlog(&self) -> mongodb::error::Result<u64> {
        self.collection.count_documents(doc! {}).await
    }
}

impl Indexed for Outbox {
    const COLLECTION: &'static str = "outbox";

    async fn create_indexes(&self) -> mongodb::error::Result<()> {
        self.collection
            .create_index(index(doc! { "queued_at": 1 }))
            .await
            .map(drop)
    }
}

const LEASE: Duration = Duration::from_secs(30);
/// Purchases claimed and sent at once.
const BATCH: i64 = 100;
/// How long the relay lets purchases gather after a wake-up before it claims: under load a
/// claim (three operations) then carries many purchases instead of one or two, and a receipt
/// waits these few milliseconds longer.
const GATHER: Duration = Duration::from_millis(20);
/// How often an idle relay counts the backlog for the `outbox_backlog` gauge.
const COUNT_EVERY: Duration = Duration::from_secs(5);

pub fn producer(brokers: &str) -> Result<FutureProducer, rdkafka::error::KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", "10000")
        // Events wait up to 20 ms to share a produce request: each request costs the broker
        // far more than its records do, and no buyer waits on the relay.
        .set("linger.ms", "20")
        .create()
}

/// Sends queued purchases to Kafka for as long as the service runs; `wake` says one was queued.
pub async fn relay(outbox: Outbox, producer: FutureProducer, topic: String, wake: Arc<Notify>) {
    let mut backoff = Duration::from_millis(200);
    let mut counted: Option<tokio::time::Instant> = None;
    loop {
        match outbox.claim(LEASE, BATCH).await {
            Ok(batch) if batch.is_empty() => {
                if counted.is_none_or(|at| at.elapsed() >= COUNT_EVERY) {
                    record_backlog(&outbox).await;
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
                    && let Err(err) = outbox.remove(&sent).await
                {
                    tracing::warn!(%err, count = sent.len(), "sent to Kafka but still queued; they will be sent again");
                }
                if refused.is_empty() {
                    backoff = Duration::from_millis(200);
                } else {
                    record_backlog(&outbox).await;
                    let _ = outbox.release_claims(&refused).await;
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
async fn send(producer: &FutureProducer, topic: &str, purchase: &OutboxEntry) -> (ObjectId, bool) {
    let key = purchase.id.to_hex();
    let Ok(payload) = serde_json::to_vec(&purchase.event) else {
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
async fn record_backlog(outbox: &Outbox) {
    match outbox.backlog().await {
        Ok(backlog) => metrics::gauge!("outbox_backlog").set(backlog as f64),
        Err(err) => tracing::debug!(%err, "cannot count the outbox"),
    }
}

pub fn default_topic() -> String {
    common::config::env_or("PURCHASES_TOPIC", kafka_topics::PURCHASES)
}
