//! The Kafka consumer: one receipt per purchase. Workers share the purchases topic through a
//! consumer group (start another one and the partitions are split, stop one and the others
//! take its partitions). Records are handled side by side; a partition's offset is committed
//! only up to its oldest record whose receipt is not yet recorded as sent (or set aside), so
//! a crash means those records come again, and the record "sent for transaction X" makes the
//! second delivery send nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::infra::redis::publish_live;
use futures::stream::FuturesUnordered;
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
use rdkafka::{ClientConfig, ClientContext, Offset, Statistics, TopicPartitionList};

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
    /// The outcome of a commit, which the worker does not wait for.
    fn commit_callback(&self, result: rdkafka::error::KafkaResult<()>, _: &TopicPartitionList) {
        if let Err(err) = result {
            tracing::warn!(%err, "offsets were not committed; the next commit covers them");
        }
    }

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
        // The broker answers a fetch once it has 64 KiB or after 20 ms: fewer, fuller fetches
        // (a purchase event is ~0.5 KiB) for at most 20 ms more before a receipt goes out.
        .set("fetch.min.bytes", "65536")
        .set("fetch.wait.max.ms", "20")
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
    /// The one topic the consumer reads (its offsets are committed under this name).
    pub topic: String,
    pub receipts: Receipts,
    pub mailer: AsyncSmtpTransport<Tokio1Executor>,
    pub from: Mailbox,
    pub stats: Arc<Stats>,
    /// Where "receipt sent" is announced to the buyer's pages.
    pub redis: fred::prelude::Client,
}

/// Records handled side by side: a receipt waits mostly on the mail server and MongoDB, so
/// one at a time left the worker at about 30 receipts/s. Also the number of SMTP sessions.
pub(crate) const IN_FLIGHT: usize = 64;

/// How often the offsets of the records done with are committed.
const COMMIT_EVERY: Duration = Duration::from_millis(100);

impl Worker {
    /// Reads records and keeps up to [`IN_FLIGHT`] of them being handled, taking the next as
    /// soon as any one is done (waiting for a whole batch had the worker idle behind its
    /// slowest receipt). Every [`COMMIT_EVERY`], each partition's offset is committed up to
    /// its oldest record still being handled: a crash means the records after that come
    /// again, and receipts recorded as sent are not sent twice.
    pub async fn run(self) {
        let worker = &self;
        let mut handling = FuturesUnordered::new();
        let mut progress = Progress::new(&self.topic);
        // Records of one purchase (the outbox may send one twice) handled at the same time
        // would both find the receipt not sent yet: a copy of one in hand is done at once.
        let mut in_hand: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut commits = tokio::time::interval(COMMIT_EVERY);
        commits.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = self.consumer.recv(), if handling.len() < IN_FLIGHT => match received {
                    Ok(message) => {
                        let place = Place::of(&message);
                        let payload = message.payload().unwrap_or_default().to_vec();
                        let copies = in_hand.entry(payload.clone()).or_default();
                        *copies += 1;
                        progress.started(&place);
                        if *copies > 1 {
                            self.skipped_as_duplicates(1);
                            handling.push(async move { (place, payload) }.boxed());
                        } else {
                            handling.push(async move {
                                worker.handle(&message).await;
                                (place, payload)
                            }.boxed());
                        }
                    }
                    Err(err) => {
                        tracing::warn!(%err, "cannot read from Kafka; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                },
                Some((place, payload)) = handling.next() => {
                    progress.finished(&place);
                    if let Some(copies) = in_hand.get_mut(&payload) {
                        *copies -= 1;
                        if *copies == 0 {
                            in_hand.remove(&payload);
                        }
                    }
                }
                _ = commits.tick() => {
                    if let Some(offsets) = progress.moved_since_last_commit()
                        && let Err(err) = self.consumer.commit(&offsets, CommitMode::Async)
                    {
                        tracing::warn!(%err, "cannot commit the offsets; the next commit will");
                    }
                }
            }
        }
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

/// A record's partition and offset (in the worker's one topic).
struct Place {
    partition: i32,
    offset: i64,
}

impl Place {
    fn of(message: &BorrowedMessage<'_>) -> Self {
        Self {
            partition: message.partition(),
            offset: message.offset(),
        }
    }
}

/// Per partition of the topic, the records being handled and where reading would resume once
/// they are done: what may be committed.
struct Progress {
    topic: String,
    partitions: HashMap<i32, PartitionProgress>,
}

#[derive(Default)]
struct PartitionProgress {
    /// Offsets being handled, each with how many times (a partition taken away and given back
    /// can deliver a record again while its first delivery is still in hand).
    being_handled: BTreeMap<i64, u32>,
    /// One past the newest record started (records of a partition come in order).
    after_newest: i64,
    /// What was last committed, so an unchanged partition is not committed again.
    committed: Option<i64>,
}

impl Progress {
    fn new(topic: &str) -> Self {
        Self {
            topic: topic.to_owned(),
            partitions: HashMap::new(),
        }
    }

    fn started(&mut self, place: &Place) {
        let partition = self.partitions.entry(place.partition).or_default();
        *partition.being_handled.entry(place.offset).or_default() += 1;
        partition.after_newest = partition.after_newest.max(place.offset + 1);
    }

    fn finished(&mut self, place: &Place) {
        if let Some(partition) = self.partitions.get_mut(&place.partition)
            && let Some(times) = partition.being_handled.get_mut(&place.offset)
        {
            *times -= 1;
            if *times == 0 {
                partition.being_handled.remove(&place.offset);
            }
        }
    }

    /// Each partition's offset up to which every record is done with, where it moved since
    /// the last commit; `None` when none moved.
    fn moved_since_last_commit(&mut self) -> Option<TopicPartitionList> {
        let mut offsets = TopicPartitionList::new();
        for (number, partition) in &mut self.partitions {
            let done_until = partition
                .being_handled
                .first_key_value()
                .map(|(offset, _)| *offset)
                .unwrap_or(partition.after_newest);
            if partition.committed == Some(done_until) {
                continue;
            }
            match offsets.add_partition_offset(&self.topic, *number, Offset::Offset(done_until)) {
                Ok(()) => partition.committed = Some(done_until),
                Err(err) => tracing::warn!(%err, "cannot note a partition's offset"),
            }
        }
        (offsets.count() > 0).then_some(offsets)
    }
}

enum Failure {
    Permanent(String),
    Transient(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(partition: i32, offset: i64) -> Place {
        Place { partition, offset }
    }

    fn committed(progress: &mut Progress) -> Vec<(i32, i64)> {
        let mut offsets: Vec<(i32, i64)> = progress
            .moved_since_last_commit()
            .map(|list| {
                list.elements()
                    .iter()
                    .filter_map(|e| e.offset().to_raw().map(|o| (e.partition(), o)))
                    .collect()
            })
            .unwrap_or_default();
        offsets.sort_unstable();
        offsets
    }

    #[test]
    fn a_partition_is_committed_only_up_to_its_oldest_record_still_being_handled() {
        let mut progress = Progress::new("purchases");
        for offset in [5, 6, 7] {
            progress.started(&place(0, offset));
        }
        progress.started(&place(1, 40));
        assert_eq!(committed(&mut progress), vec![(0, 5), (1, 40)]);

        // A later record done first moves nothing: record 5 would be lost by a crash.
        progress.finished(&place(0, 6));
        assert_eq!(committed(&mut progress), vec![]);
        progress.finished(&place(0, 5));
        progress.finished(&place(1, 40));
        assert_eq!(committed(&mut progress), vec![(0, 7), (1, 41)]);
        progress.finished(&place(0, 7));
        assert_eq!(committed(&mut progress), vec![(0, 8)]);
        assert_eq!(committed(&mut progress), vec![], "nothing moved since");
    }

    #[test]
    fn a_record_delivered_again_while_in_hand_holds_the_offset_until_both_are_done() {
        let mut progress = Progress::new("purchases");
        progress.started(&place(0, 9));
        progress.started(&place(0, 9));
        progress.finished(&place(0, 9));
        assert_eq!(committed(&mut progress), vec![(0, 9)]);
        progress.finished(&place(0, 9));
        assert_eq!(committed(&mut progress), vec![(0, 10)]);
    }
}
