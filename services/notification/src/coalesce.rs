//! Coalescing busy topics, so that a socket gets a bounded number of frames however fast
//! things happen: while a channel is busy, its feed and item events wait for the channel's
//! next window and go out together in one frame ([`wire::socket::ServerMessage::Events`]).
//!
//! Nothing a page shows is lost: the feed's banner shows the latest purchases (the older ones
//! of a busy window are counted, not sent), and an item's numbers are absolute, so its latest
//! numbers replace earlier ones exactly. A user's own events are never held back.

use std::collections::VecDeque;
use std::time::Duration;

use wire::events::LiveEvent;

/// The shortest time between two frames of one busy channel: at most ten a second.
pub const WINDOW: Duration = Duration::from_millis(100);

/// Socket frames a second one instance can send while the machine still does other work:
/// each frame is a write on its own TCP connection, and the kernel's share of that is most of
/// the cost (`bench/src/fanout.rs` on a 2-core machine: 41,000 a second kept up, 75,000 fell
/// seconds behind). A channel with many sockets waits longer between frames to stay within it.
pub const FRAMES_PER_SECOND: f64 = 40_000.0;

/// How long a busy channel with `sockets` receivers waits between frames: [`WINDOW`], or
/// longer when ten frames a second to every socket would exceed [`FRAMES_PER_SECOND`].
pub fn window_for(sockets: usize) -> Duration {
    WINDOW.max(Duration::from_secs_f64(sockets as f64 / FRAMES_PER_SECOND))
}

/// The most purchases one feed frame carries: the banner shows only the latest few.
pub const LATEST_PURCHASES: usize = 5;

/// Whether `event` may wait for its channel's window: purchases on the feed and an item's
/// numbers and viewers, whose latest values say everything a page shows. A user's own events
/// (their purchases, receipts, cart, signing out) go at once.
pub fn may_wait(event: &LiveEvent) -> bool {
    matches!(
        event,
        LiveEvent::Purchase { .. } | LiveEvent::ItemChanged { .. } | LiveEvent::Viewers { .. }
    )
}

/// What one channel gathered since its last frame.
#[derive(Debug, Default)]
pub struct Gathered {
    events: VecDeque<LiveEvent>,
    folded: u64,
}

impl Gathered {
    /// Adds `event`: an item's numbers replace its earlier numbers, a viewer count replaces
    /// an older one (by its sequence number), and past [`LATEST_PURCHASES`] the oldest
    /// purchase is dropped. Whatever is dropped is counted in `folded`.
    pub fn push(&mut self, event: LiveEvent) {
        let replaced = match &event {
            LiveEvent::ItemChanged { item_id, .. } => self.events.iter().position(
                |e| matches!(e, LiveEvent::ItemChanged { item_id: id, .. } if id == item_id),
            ),
            LiveEvent::Viewers { item_id, seq, .. } => {
                let earlier = self.events.iter().position(
                    |e| matches!(e, LiveEvent::Viewers { item_id: id, .. } if id == item_id),
                );
                if let Some(index) = earlier
                    && matches!(&self.events[index], LiveEvent::Viewers { seq: kept, .. } if kept > seq)
                {
                    // A count that arrived late: the one kept is newer.
                    self.folded += 1;
                    return;
                }
                earlier
            }
            _ => None,
        };
        if let Some(index) = replaced {
            self.events.remove(index);
            self.folded += 1;
        }
        self.events.push_back(event);
        let purchases = self
            .events
            .iter()
            .filter(|e| matches!(e, LiveEvent::Purchase { .. }))
            .count();
        if purchases > LATEST_PURCHASES
            && let Some(oldest) = self
                .events
                .iter()
                .position(|e| matches!(e, LiveEvent::Purchase { .. }))
        {
            self.events.remove(oldest);
            self.folded += 1;
        }
    }

    /// Nothing gathered.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The events kept, oldest first, and how many were left out; starts again empty.
    pub fn take(&mut self) -> (Vec<LiveEvent>, u64) {
        let events = std::mem::take(&mut self.events).into();
        (events, std::mem::take(&mut self.folded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::ItemId;

    fn purchase(n: i64) -> LiveEvent {
        LiveEvent::Purchase {
            buyer_name: format!("Buyer {n}"),
            titles: vec!["Lamp".into()],
            at: n,
        }
    }

    fn numbers(item: &ItemId, sold: i64) -> LiveEvent {
        LiveEvent::ItemChanged {
            item_id: item.clone(),
            sold,
            stock: 100 - sold,
        }
    }

    fn viewers(item: &ItemId, count: u64, seq: u64) -> LiveEvent {
        LiveEvent::Viewers {
            item_id: item.clone(),
            count,
            seq,
        }
    }

    #[test]
    fn the_latest_purchases_are_kept_and_the_older_ones_counted() {
        let mut gathered = Gathered::default();
        for n in 1..=12 {
            gathered.push(purchase(n));
        }
        let (events, folded) = gathered.take();
        assert_eq!(events, (8..=12).map(purchase).collect::<Vec<_>>());
        assert_eq!(folded, 7);
        assert!(gathered.is_empty());
        assert_eq!(gathered.take(), (vec![], 0));
    }

    #[test]
    fn an_items_latest_numbers_replace_its_earlier_ones_and_other_items_stay() {
        let lamp: ItemId = "665f1c2e9b1d8a0012345678".parse().expect("an id");
        let vase: ItemId = "665f1c2e9b1d8a0012345679".parse().expect("an id");
        let mut gathered = Gathered::default();
        for sold in 1..=50 {
            gathered.push(numbers(&lamp, sold));
        }
        gathered.push(numbers(&vase, 3));
        gathered.push(viewers(&lamp, 4, 10));
        gathered.push(viewers(&lamp, 2, 9)); // late: the count of seq 10 stays
        gathered.push(viewers(&lamp, 5, 11));
        let (events, folded) = gathered.take();
        assert_eq!(
            events,
            vec![numbers(&lamp, 50), numbers(&vase, 3), viewers(&lamp, 5, 11)]
        );
        assert_eq!(folded, 49 + 2);
    }

    #[test]
    fn a_channel_with_many_sockets_waits_longer() {
        assert_eq!(window_for(1), WINDOW);
        assert_eq!(window_for(4_000), WINDOW);
        assert_eq!(window_for(10_000), Duration::from_millis(250));
    }

    #[test]
    fn only_feed_and_item_events_wait() {
        let item: ItemId = "665f1c2e9b1d8a0012345678".parse().expect("an id");
        assert!(may_wait(&purchase(1)));
        assert!(may_wait(&numbers(&item, 1)));
        assert!(may_wait(&viewers(&item, 1, 1)));
        assert!(!may_wait(&LiveEvent::CartChanged));
        assert!(!may_wait(&LiveEvent::SignedOut));
        assert!(!may_wait(&LiveEvent::PurchasesChanged {
            transaction_id: "665f1c2e9b1d8a00123456cc".parse().expect("an id"),
        }));
    }
}
