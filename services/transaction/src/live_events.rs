//! Small events on Redis pub/sub for live pages. At most once: pages re-read the durable
//! state when they (re)connect, so a lost event only delays a number, never falsifies it.

use common::infra::redis::publish_live;
use fred::prelude::Client;
use wire::events::LiveEvent;
use wire::redis_channels;

use wire::{PurchaseId, UserId};

use crate::inventory::ItemNumbers;
use crate::transactions::TransactionDocument;

/// Tells the feed, the buyer's tabs, each seller's tabs and each item's page about a
/// completed purchase, in the background: the buyer's answer does not wait for it.
pub fn publish_purchase(redis: &Client, purchase: &TransactionDocument, items: &[ItemNumbers]) {
    let events = purchase_events(purchase, items);
    let redis = redis.clone();
    tokio::spawn(async move {
        // Side by side, they share round trips (fred pipelines concurrent commands).
        let published = events
            .iter()
            .map(|(channel, event)| publish_live(&redis, channel, event));
        futures::future::join_all(published).await;
    });
}

/// The events a completed purchase makes: one per channel that cares.
fn purchase_events(
    purchase: &TransactionDocument,
    items: &[ItemNumbers],
) -> Vec<(String, LiveEvent)> {
    let purchase_id = PurchaseId::from_bytes(purchase.id.bytes());
    let mut events = vec![
        (
            redis_channels::FEED.to_owned(),
            LiveEvent::Purchase {
                buyer_name: purchase.buyer_name.clone(),
                titles: purchase.lines.iter().map(|l| l.title.clone()).collect(),
                at: purchase.created_at.timestamp_millis(),
            },
        ),
        (
            redis_channels::user(&purchase.buyer_id),
            LiveEvent::PurchasesChanged {
                transaction_id: purchase_id.clone(),
            },
        ),
    ];
    let mut sellers: Vec<&UserId> = purchase.lines.iter().map(|l| &l.seller_id).collect();
    sellers.sort_unstable();
    sellers.dedup();
    for seller in sellers {
        events.push((
            redis_channels::user(seller),
            LiveEvent::SalesChanged {
                transaction_id: purchase_id.clone(),
            },
        ));
    }
    for (item_id, sold, stock) in items {
        events.push((
            redis_channels::item(item_id),
            LiveEvent::ItemChanged {
                item_id: item_id.clone(),
                sold: *sold,
                stock: *stock,
            },
        ));
    }
    events
}
