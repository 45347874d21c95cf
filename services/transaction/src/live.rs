//! Small events on Redis pub/sub for live pages. At most once: pages re-read the durable
//! state when they (re)connect, so a lost event only delays a number, never falsifies it.

use common::events::{FEED_CHANNEL, LiveEvent, item_channel, user_channel};
use common::infra::redis::publish_live;
use fred::prelude::Client;

use crate::transactions::TransactionDocument;

pub async fn publish_purchase(
    redis: &Client,
    purchase: &TransactionDocument,
    items: &[(String, i64, i64)],
) {
    let mut events = vec![
        (
            FEED_CHANNEL.to_owned(),
            LiveEvent::Purchase {
                buyer_name: purchase.buyer_name.clone(),
                titles: purchase.lines.iter().map(|l| l.title.clone()).collect(),
                at: purchase.created_at.timestamp_millis(),
            },
        ),
        (
            user_channel(&purchase.buyer_id),
            LiveEvent::PurchasesChanged {
                transaction_id: purchase.id.to_hex(),
            },
        ),
    ];
    let mut sellers: Vec<&str> = purchase
        .lines
        .iter()
        .map(|l| l.seller_id.as_str())
        .collect();
    sellers.sort_unstable();
    sellers.dedup();
    for seller in sellers {
        events.push((
            user_channel(seller),
            LiveEvent::SalesChanged {
                transaction_id: purchase.id.to_hex(),
            },
        ));
    }
    for (item_id, sold, stock) in items {
        events.push((
            item_channel(item_id),
            LiveEvent::ItemChanged {
                item_id: item_id.clone(),
                sold: *sold,
                stock: *stock,
            },
        ));
    }
    for (channel, event) in events {
        publish_live(redis, &channel, &event).await;
    }
}
