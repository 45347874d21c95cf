//! Socket topics: what a browser subscribes to over its live socket (see [`crate::socket`]).
//! The notification service maps each to the Redis channel that feeds it.

use crate::ids::ItemId;

/// Every purchase, for the banner; anyone may subscribe.
pub const FEED: &str = "feed";

/// The signed-in user's own events; needs a session, and means that user's channel.
pub const USER: &str = "user";

/// The prefix of an item's topic, `item:<id>`.
pub const ITEM_PREFIX: &str = "item:";

/// One item's topic, `item:<id>`: its numbers and how many are viewing it.
pub fn item(item_id: &ItemId) -> String {
    format!("{ITEM_PREFIX}{item_id}")
}
