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
    format!("{USER_PREFIX}{user_id}")
}

const USER_PREFIX: &str = "user:";

/// Every user's channel ([`user`]), as a pattern: gateway copies follow them all, to forget
/// what they remembered of a visitor whose cart or session changed.
pub const EVERY_USER: &str = "user:*";

/// The user whose channel ([`user`]) `channel` is, if it is one.
pub fn user_of(channel: &str) -> Option<UserId> {
    channel
        .strip_prefix(USER_PREFIX)
        .and_then(|id| UserId::parse(id).ok())
}

/// Items whose page or catalog card changed ([`crate::events::InventoryChanged`]), from the
/// inventory service to every gateway copy, which drops the pages it keeps rendered. A
/// gateway that is not subscribed (Redis away) keeps no pages, so a lost message cannot leave
/// a stale one.
pub const INVENTORY_CHANGES: &str = "inventory:changes";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_channel_names_the_user_and_matches_the_pattern() {
        let id = UserId::parse("665f1c2e9b1d8a0012345678").expect("an id");
        let channel = user(&id);
        assert_eq!(user_of(&channel), Some(id));
        assert!(channel.starts_with(EVERY_USER.trim_end_matches('*')));
        assert_eq!(user_of(FEED), None);
        assert_eq!(user_of("user:../x"), None);
    }
}
