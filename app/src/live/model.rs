//! The live signals and how the socket's messages update them; the same on server and browser.

use std::collections::HashMap;

use leptos::prelude::*;
use wire::events::LiveEvent;
use wire::socket::ServerMessage;

/// How long a purchase banner stays unless dismissed.
const BANNER_LIFETIME_MS: u64 = 60_000;
/// Banners shown at once; older ones make room.
const MAX_BANNERS: usize = 3;

/// The latest live numbers of one item; `None` until an event says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemNumbers {
    /// (count, sequence number): a count with a lower number arrived late and is ignored.
    pub viewers: Option<(u64, u64)>,
    pub sold: Option<i64>,
    pub stock: Option<i64>,
}

/// "Alex bought Red Lamp".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    pub id: u64,
    pub buyer_name: String,
    pub titles: Vec<String>,
    /// Unix milliseconds.
    pub at: i64,
}

#[derive(Clone, Copy)]
pub struct Live {
    pub banners: RwSignal<Vec<Banner>>,
    /// Bumped on every (re)connect and `resync`: durable state should be read again.
    pub resynced: RwSignal<u64>,
    /// Bumped when the signed-in user's purchases changed, in any tab or browser.
    pub purchases_changed: RwSignal<u64>,
    /// Bumped when someone bought the signed-in seller's items.
    pub sales_changed: RwSignal<u64>,
    /// Bumped when one of the signed-in buyer's receipts was emailed.
    pub receipt_sent: RwSignal<u64>,
    /// Bumped when the signed-in user's cart changed, in any tab or device.
    pub cart_changed: RwSignal<u64>,
    pub items: RwSignal<HashMap<String, ItemNumbers>>,
    /// Whether the socket is open right now.
    pub connected: RwSignal<bool>,
    next_banner: StoredValue<u64>,
}

impl Live {
    pub fn new() -> Self {
        Self {
            banners: RwSignal::new(Vec::new()),
            resynced: RwSignal::new(0),
            purchases_changed: RwSignal::new(0),
            sales_changed: RwSignal::new(0),
            receipt_sent: RwSignal::new(0),
            cart_changed: RwSignal::new(0),
            items: RwSignal::new(HashMap::new()),
            connected: RwSignal::new(false),
            next_banner: StoredValue::new(0),
        }
    }

    pub fn dismiss(self, id: u64) {
        self.banners
            .update(|banners| banners.retain(|b| b.id != id));
    }

    pub fn numbers(self, item_id: &str) -> ItemNumbers {
        self.items
            .with(|items| items.get(item_id).cloned())
            .unwrap_or_default()
    }

    /// A (re)connected socket knows nothing it missed: forget the live numbers and let
    /// pages read the durable ones again.
    pub(super) fn opened(self) {
        self.items.update(HashMap::clear);
        self.resynced.update(|n| *n += 1);
        self.connected.set(true);
    }

    pub(super) fn apply(self, message: ServerMessage) {
        match message {
            ServerMessage::Event { event, .. } => self.apply_event(event),
            // A busy topic's window: the latest purchases and numbers, oldest first.
            ServerMessage::Events { events, .. } => {
                for event in events {
                    self.apply_event(event);
                }
            }
            ServerMessage::Resync => {
                self.items.update(|items| {
                    for numbers in items.values_mut() {
                        numbers.sold = None;
                        numbers.stock = None;
                    }
                });
                self.resynced.update(|n| *n += 1);
            }
            ServerMessage::Subscribed { .. }
            | ServerMessage::Refused { .. }
            | ServerMessage::Error { .. } => {}
        }
    }

    fn apply_event(self, event: LiveEvent) {
        match event {
            LiveEvent::Purchase {
                buyer_name,
                titles,
                at,
            } => {
                let id = self.next_banner.get_value();
                self.next_banner.set_value(id + 1);
                self.banners.update(|banners| {
                    banners.insert(
                        0,
                        Banner {
                            id,
                            buyer_name,
                            titles,
                            at,
                        },
                    );
                    banners.truncate(MAX_BANNERS);
                });
                set_timeout(
                    move || self.dismiss(id),
                    std::time::Duration::from_millis(BANNER_LIFETIME_MS),
                );
            }
            LiveEvent::ItemChanged {
                item_id,
                sold,
                stock,
            } => self.items.update(|items| {
                let numbers = items.entry(item_id.to_string()).or_default();
                numbers.sold = Some(sold);
                numbers.stock = Some(stock);
            }),
            LiveEvent::Viewers {
                item_id,
                count,
                seq,
            } => self.items.update(|items| {
                let numbers = items.entry(item_id.to_string()).or_default();
                if numbers.viewers.is_none_or(|(_, latest)| seq > latest) {
                    numbers.viewers = Some((count, seq));
                }
            }),
            LiveEvent::PurchasesChanged { .. } => self.purchases_changed.update(|n| *n += 1),
            LiveEvent::SalesChanged { .. } => self.sales_changed.update(|n| *n += 1),
            LiveEvent::ReceiptSent { .. } => self.receipt_sent.update(|n| *n += 1),
            LiveEvent::CartChanged => self.cart_changed.update(|n| *n += 1),
            LiveEvent::SignedOut => {}
        }
    }
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

/// "Alex bought Red Lamp", "Alex bought Red Lamp and 2 more".
pub fn banner_text(banner: &Banner) -> String {
    match banner.titles.as_slice() {
        [] => format!("{} bought something", banner.buyer_name),
        [title] => format!("{} bought {title}", banner.buyer_name),
        [title, rest @ ..] => format!(
            "{} bought {title} and {} more",
            banner.buyer_name,
            rest.len()
        ),
    }
}

/// "just now", "2 min ago", "3 h ago".
pub fn time_ago(at_ms: i64, now_ms: i64) -> String {
    let seconds = (now_ms - at_ms).max(0) / 1000;
    match seconds {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", seconds / 60),
        _ => format!("{} h ago", seconds / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_read_like_a_sentence() {
        let banner = |titles: &[&str]| Banner {
            id: 0,
            buyer_name: "Alex".into(),
            titles: titles.iter().map(|t| (*t).to_owned()).collect(),
            at: 0,
        };
        assert_eq!(banner_text(&banner(&["Red Lamp"])), "Alex bought Red Lamp");
        assert_eq!(
            banner_text(&banner(&["Red Lamp", "Chair", "Rug"])),
            "Alex bought Red Lamp and 2 more"
        );
    }

    #[test]
    fn times_are_told_in_plain_words() {
        assert_eq!(time_ago(0, 59_000), "just now");
        assert_eq!(time_ago(0, 120_000), "2 min ago");
        assert_eq!(time_ago(0, 3 * 3_600_000 + 5), "3 h ago");
        assert_eq!(time_ago(10_000, 0), "just now");
    }
}
