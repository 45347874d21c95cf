//! What travels on Kafka ([`PurchaseEvent`], on [`crate::kafka_topics::PURCHASES`]) and on
//! Redis pub/sub ([`LiveEvent`] on the [`crate::redis_channels`] pages follow,
//! [`InventoryChanged`] on [`crate::redis_channels::INVENTORY_CHANGES`]).

use serde::{Deserialize, Serialize};

use crate::ids::{ItemId, PurchaseId, UserId};
use crate::transaction::PurchaseLine;

/// A completed purchase as the receipt workers receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseEvent {
    /// The purchase; a receipt is sent once per id.
    pub transaction_id: PurchaseId,
    /// The buyer.
    pub buyer_id: UserId,
    /// The buyer's name, for the greeting.
    pub buyer_name: String,
    /// Where the receipt goes.
    pub buyer_email: String,
    /// What was bought.
    pub lines: Vec<PurchaseLine>,
    /// The sum of the lines, in cents.
    pub total_cents: i64,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Items whose stored state changed (listed, edited, bought, released), on
/// [`crate::redis_channels::INVENTORY_CHANGES`]: their pages are stale; so are the catalog
/// pages that show them when `cards_changed`, and every catalog page when
/// `catalog_membership_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryChanged {
    /// The items that changed.
    pub item_ids: Vec<ItemId>,
    /// Whether a catalog card shows the change: any listing or edit, and a sale or release
    /// that changed what a card says of the stock ([`crate::inventory::CardStock`]). Absent
    /// (a sender from before this field) counts as yes.
    #[serde(default = "yes")]
    pub cards_changed: bool,
    /// Whether items joined or left the catalog, or searches find them differently (a
    /// listing, on or off sale, a new title): every catalog page may list others now. Absent
    /// (a sender from before this field) counts as yes.
    #[serde(default = "yes")]
    pub catalog_membership_changed: bool,
}

fn yes() -> bool {
    true
}

/// Something live pages show, published on a Redis channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// On [`crate::redis_channels::FEED`]: someone bought something.
    Purchase {
        /// Who bought.
        buyer_name: String,
        /// The titles bought.
        titles: Vec<String>,
        /// Unix milliseconds.
        at: i64,
    },
    /// On an item's channel: its numbers changed.
    ItemChanged {
        /// The item.
        item_id: ItemId,
        /// Units sold now.
        sold: i64,
        /// Units left now.
        stock: i64,
    },
    /// On a user's channel: their purchases (and so their cart) changed.
    PurchasesChanged {
        /// The purchase that changed them.
        transaction_id: PurchaseId,
    },
    /// On a seller's channel: someone bought their items.
    SalesChanged {
        /// The purchase.
        transaction_id: PurchaseId,
    },
    /// On an item's channel: how many people have its page open, across every notification
    /// instance. `seq` grows with every count, so a count that arrives late is recognised.
    Viewers {
        /// The item.
        item_id: ItemId,
        /// Open pages.
        count: u64,
        /// Grows with every count.
        seq: u64,
    },
    /// On a buyer's channel: a purchase's receipt was emailed.
    ReceiptSent {
        /// The purchase.
        transaction_id: PurchaseId,
        /// The address, masked ([`crate::receipt::mask_email`]).
        to: String,
        /// Unix milliseconds.
        at: i64,
    },
    /// On a user's channel: their cart changed (in another tab or device); read it again.
    CartChanged,
    /// On a user's channel: one of their sessions ended; their live sockets are closed.
    SignedOut,
}
