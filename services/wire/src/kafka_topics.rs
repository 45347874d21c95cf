//! Kafka topics: durable logs that consumer groups read. The receipt workers read
//! [`PURCHASES`]; the transaction service's outbox relay writes it.

/// One [`crate::events::PurchaseEvent`] per accepted purchase, keyed by the purchase id so one
/// purchase's records stay in one partition, in order.
pub const PURCHASES: &str = "purchases";
