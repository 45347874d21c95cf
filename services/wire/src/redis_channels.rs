//! Redis pub/sub channels: at-most-once, between service copies. All but
//! [`INVENTORY_CHANGES`] carry JSON [`crate::events::LiveEvent`]s, which the notification
//! service relays to socket topics; a page that reconnects re-reads the durable state first,
//! so a missed event never leaves a wrong number on screen.

use crate::ids::{ItemId, UserId};

/// Every purchase, for the news-feed banner.
pub const FEED: &str = "feed:purchases";

/// One item's sold count, stock and viewer count.
pub fn item(item_id: &ItemId) -> String {
    format!("item:{item_id}")
}

/// One user's own events: their purchases and sales changed, a receipt was emailed, a
/// session ended.
pub fn user(user_id: &UserId) -> String {
    format!("user:{user_id}")
}

/// Items whose page or catalog card changed ([`crate::events::InventoryChanged`]), from the
/// inventory service to every gateway copy, which drops the pages it keeps rendered. A
/// gateway that is not subscribed (Redis away) keeps no pages, so a lost message cannot leave
/// a stale one.
pub const INVENTORY_CHANGES: &str = "inventory:changes";
