//! Event schemas and where they travel, defined once for every producer and consumer.
//!
//! Kafka (durable, for the receipt workers): topic [`PURCHASES_TOPIC`], one
//! [`PurchaseEvent`] per accepted purchase, keyed by the transaction id so one purchase's
//! records stay in one partition, in order.
//!
//! Redis pub/sub (at-most-once, for live pages): the channels below carry small JSON
//! [`LiveEvent`]s. A page that reconnects re-reads the durable state first, so a missed
//! event never leaves a wrong number on screen.

use serde::{Deserialize, Serialize};

pub use crate::types::PurchaseLine;

pub const PURCHASES_TOPIC: &str = "purchases";

/// Every purchase, for the news-feed banner.
pub const FEED_CHANNEL: &str = "feed:purchases";

/// One item's sold count and stock.
pub fn item_channel(item_id: &str) -> String {
    format!("item:{item_id}")
}

/// One user's own events (their purchases changed).
pub fn user_channel(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// A completed purchase as the receipt workers receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseEvent {
    pub transaction_id: String,
    pub buyer_id: String,
    pub buyer_name: String,
    pub buyer_email: String,
    pub lines: Vec<PurchaseLine>,
    pub total_cents: i64,
    /// Unix milliseconds.
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// On [`FEED_CHANNEL`]: someone bought something.
    Purchase {
        buyer_name: String,
        titles: Vec<String>,
        at: i64,
    },
    /// On an item's channel: its numbers changed.
    ItemChanged {
        item_id: String,
        sold: i64,
        stock: i64,
    },
    /// On a user's channel: their purchases (and so their cart) changed.
    PurchasesChanged { transaction_id: String },
    /// On a seller's channel: someone bought their items.
    SalesChanged { transaction_id: String },
    /// On an item's channel: how many people have its page open, across every notification
    /// instance. `seq` grows with every count, so a count that arrives late is recognised.
    Viewers {
        item_id: String,
        count: u64,
        seq: u64,
    },
    /// On a user's channel: one of their sessions ended; their live sockets are closed.
    SignedOut,
}

/// The topics a browser can subscribe to over the live socket.
pub const FEED_TOPIC: &str = "feed";
/// The signed-in user's own events; needs a session.
pub const USER_TOPIC: &str = "user";

/// One item's topic, `item:<id>`: its numbers and how many are viewing it.
pub fn item_topic(item_id: &str) -> String {
    format!("item:{item_id}")
}

/// Browser → notification service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ClientMessage {
    Subscribe { topic: String },
    Unsubscribe { topic: String },
}

/// Notification service → browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Something happened on a topic the socket subscribed to.
    Event { topic: String, event: LiveEvent },
    /// The subscription is active: events published from now on arrive.
    Subscribed { topic: String },
    /// The subscription was not made, and why.
    Refused { topic: String, reason: String },
    /// Events may have been missed: re-read the durable state.
    Resync,
    /// The last message could not be understood.
    Error { message: String },
}
