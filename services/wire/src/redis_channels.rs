//! Redis pub/sub channels: at-most-once, between service copies. Each carries JSON
//! [`crate::events::LiveEvent`]s; the notification service relays them to socket topics. A
//! page that reconnects re-reads the durable state first, so a missed event never leaves a
//! wrong number on screen.

use crate::ids::{ItemId, UserId};

/// Every purchase, for the news-feed banner.
pub const FEED: &str = "feed:purchases";

/// One item's sold count, stock and viewer count.
pub fn item(item_id: &ItemId) -> String {
    format!("item:{item_id}")
}

/// One user's own events: their purchases and sales changed, a session ended.
pub fn user(user_id: &UserId) -> String {
    format!("user:{user_id}")
}
