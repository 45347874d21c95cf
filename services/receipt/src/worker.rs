//! The Kafka consumer: one receipt per purchase. Workers share the purchases topic through a
//! consumer group (start another one and the partitions are split, stop one and the others
//! take its partitions). Records are handled in batches, side by side; a batch's offsets are
//! committed only after every receipt in it is recorded as sent (or set aside), so a crash
//! means the batch comes again, and the record "sent for transaction X" makes the second
//! delivery send nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::infra::redis::publish_live;
use futures::{FutureExt, StreamExt};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::sync::Mutex;
use wire::events::{LiveEvent, PurchaseEvent};
use wire::receipt::mask_email;
use wire::redis_channels;

use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{ClientConfig, ClientContext, Statistics};

use crate::email;
use crate::receipts::{Receipts, SetAside};

/// Keeps the worker's current partitions in its stats after every rebalance.
pub struct WorkerContext {
    stats: Arc<Stats>,
}

impl ClientContext for WorkerContext {
    /// librdkafka's statistics (every `statistics.interval.ms`): the lag of each partition
    /// this worker holds, as `kafka_consumer_lag`.
    fn stats(&self, statistics: Statistics) {
        for (topic, details) in &statistics.topics {
            for (partition, numbers) in &details.partitions {
                // -1: the internal "unassigned" partition, or a lag not known yet.
                if *partition < 0 || numbers.consumer_lag < 0 {
                    continue;
                }
                metrics::gauge!(
                    "kafka_consumer_lag",
                    "topic" => topic.clone(),
                    "partition" => partition.to_string()
                )
                .set(numbers.consumer_lag as f64);
            }
        }
    }
}

impl ConsumerContext for WorkerContext {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let partitions: Vec<i32> = consumer
            .assignment()
            .map(|list| list.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default();
        tracing::info!(?partitions, kind = ?std::mem::discriminant(rebalance), "partitions rebalanced");
        if let Ok(mut held) = self.stats.partitions.lock() {
            *held = partitions;
        }
    }
}

pub type WorkerConsumer = StreamConsumer<WorkerContext>;

pub fn consumer(
    brokers: &str,
    group: &str,
    topic: &str,
    stats: Arc<Stats>,
) -> Result<WorkerConsumer, rdkafka::error::KafkaError> {
    let consumer: WorkerConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        // A stopped worker's partitions move to the others within seconds.
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1000")
        .set("partition.assignment.strategy", "cooperative-sticky")
        // The topic may not exist before the first purchase: create it, and notice it soon.
        .set("allow.auto.create.topics", "true")
        .set("topic.metadata.refresh.interval.ms", "5000")
        // Feeds the consumer-lag metric.
        .set("statistics.interval.ms", "5000")
        .create_with_context(WorkerContext { stats })?;
    consumer.subscribe(&[topic])?;
    Ok(consumer)
}

#[derive(Default)]
pub struct Stats {
    pub sent: AtomicU64,
    pub duplicates_skipped: AtomicU64,
    pub set_aside: AtomicU64,
    pub partitions: Mutex<Vec<i32>>,
}

/// Owns the consumer: when the worker stops, the consumer is closed and leaves the group,
/// so the other workers take its partitions at once.
pub struct Worker {
    pub consumer: WorkerConsumer,
    pub receipts: Receipts,
    pub mailer: AsyncSmtpTransport<Tokio1Executor>,
    pub from: Mailbox,
    pub stats: Arc<Stats>,
    /// Where "receipt sent" is announced to the buyer's pages.
    pub redis: fred::prelude::Client,
}

/// Records read at once and handled side by side: a receipt waits mostly on the mail server
/// and MongoDB, so one at a time left the worker at about 30 receipts/s.
const BATCH: usize = 64;

impl Worker {
    pub async fn run(self) {
        loop {
            let batch = self.next_batch().await;
            // The same record delivered twice in one batch is handled once: side by side, both
            // copies would find the receipt not sent yet.
            let mut seen = HashSet::new();
            let firsts: Vec<&BorrowedMessage<'_>> = batch
                .iter()
                .filter(|message| seen.insert(message.payload().unwrap_or_default()))
                .collect();
            self.skipped_as_duplicates((batch.len() - firsts.len()) as u64);
            futures::stream::iter(firsts)
                .for_each_concurrent(BATCH, |message| self.handle(message))
                .await;
            // Sync, and only once the whole batch is done with: a crash before this means the
            // batch comes again, and receipts recorded as sent are not sent twice.
            for message in last_of_each_partition(&batch) {
                while let Err(err) = self.consumer.commit_message(message, CommitMode::Sync) {
                    tracing::warn!(%err, "cannot commit the offset; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// Waits for one record, then takes up to [`BATCH`] in all of those already fetched.
    async fn next_batch(&self) -> Vec<BorrowedMessage<'_>> {
        let mut batch = Vec::with_capacity(BATCH);
        while batch.is_empty() {
            match self.consumer.recv().await {
                Ok(message) => batch.push(message),
                Err(err) => {
                    tracing::warn!(%err, "cannot read from Kafka; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        while batch.len() < BATCH {
            match self.consumer.recv().now_or_never() {
                Some(Ok(message)) => batch.push(message),
                // An error is met again, and logged, by the next wait above.
                Some(Err(_)) | None => break,
            }
        }
        batch
    }

    fn skipped_as_duplicates(&self, count: u64) {
        if count > 0 {
            self.stats
                .duplicates_skipped
                .fetch_add(count, Ordering::Relaxed);
            metrics::counter!("receipts_duplicates_skipped_total").increment(count);
        }
    }

    /// Returns once the record is done with: sent, found sent before, or set aside.
    async fn handle(&self, message: &BorrowedMessage<'_>) {
        let payload = message.payload().unwrap_or_default();
        let event: PurchaseEvent = match serde_json::from_slice(payload) {
            Ok(event) => event,
            Err(err) => {
                return self
                    .set_aside(message, format!("not a purchase event: {err}"))
                    .await;
            }
        };
        let mut wait = Duration::from_millis(200);
        loop {
            match self.send_once(&event).await {
                Ok(()) => return,
                Err(Failure::Permanent(reason)) => return self.set_aside(message, reason).await,
                Err(Failure::Transient(reason)) => {
                    tracing::warn!(transaction_id = %event.transaction_id, %reason, "receipt not sent yet; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    async fn send_once(&self, event: &PurchaseEvent) -> Result<(), Failure> {
        let transient = |e: mongodb::error::Error| Failure::Transient(format!("MongoDB: {e}"));
        if self
            .receipts
            .was_sent(event.transaction_id.as_str())
            .await
            .map_err(transient)?
        {
            self.skipped_as_duplicates(1);
            tracing::info!(transaction_id = %event.transaction_id, "receipt already sent; record delivered again");
            return Ok(());
        }
        let email = email::receipt(event, &self.from).map_err(Failure::Permanent)?;
        match self.mailer.send(email).await {
            Ok(_) => {}
            Err(err) if err.is_permanent() => {
                return Err(Failure::Permanent(format!(
                    "the mail server refused: {err}"
                )));
            }
            Err(err) => return Err(Failure::Transient(format!("SMTP: {err}"))),
        }
        // Until this is recorded a crash would send the receipt again; keep the gap short.
        let mut wait = Duration::from_millis(50);
        let sent_at = loop {
            match self.receipts.mark_sent(event).await {
                Ok(sent_at) => break sent_at,
                Err(err) => {
                    tracing::warn!(%err, "receipt sent but not yet recorded; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        };
        self.tell_the_buyer(event, sent_at);
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("receipts_sent_total").increment(1);
        tracing::info!(transaction_id = %event.transaction_id, "receipt sent");
        Ok(())
    }

    /// Tells the buyer's open pages that the receipt went out, in the background: at most
    /// once, and a Redis that is away must not hold up the batch (a page that reconnects
    /// reads the status again).
    fn tell_the_buyer(&self, event: &PurchaseEvent, sent_at: mongodb::bson::DateTime) {
        let redis = self.redis.clone();
        let channel = redis_channels::user(&event.buyer_id);
        let sent = LiveEvent::ReceiptSent {
            transaction_id: event.transaction_id.clone(),
            to: mask_email(&event.buyer_email),
            at: sent_at.timestamp_millis(),
        };
        tokio::spawn(async move { publish_live(&redis, &channel, &sent).await });
    }

    async fn set_aside(&self, message: &BorrowedMessage<'_>, reason: String) {
        tracing::error!(topic = message.topic(), partition = message.partition(), offset = message.offset(), %reason, "record set aside");
        let record = SetAside {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            payload: String::from_utf8_lossy(message.payload().unwrap_or_default())
                .chars()
                .take(10_000)
                .collect(),
            reason,
            at: mongodb::bson::DateTime::now(),
        };
        while let Err(err) = self.receipts.set_aside(record.clone()).await {
            tracing::warn!(%err, "cannot set the record aside yet; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        self.stats.set_aside.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("receipts_set_aside_total").increment(1);
    }
}

/// The last record of each partition in `batch` (records of one partition come in order):
/// committing it commits the partition's records before it too.
fn last_of_each_partition<'a, 'b>(
    batch: &'b [BorrowedMessage<'a>],
) -> Vec<&'b BorrowedMessage<'a>> {
    let mut last: Vec<&BorrowedMessage<'a>> = Vec::new();
    for message in batch {
        match last
            .iter_mut()
            .find(|m| m.partition() == message.partition())
        {
            Some(seen) => *seen = message,
            None => last.push(message),
        }
    }
    last
}

enum Failure {
    Permanent(String),
    Transient(String),
}
