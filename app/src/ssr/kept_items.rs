//! The items that pages show, kept in this gateway copy between requests, so that a page
//! rendered for a signed-in visitor (whose page is never kept whole) asks the inventory
//! service only for items it has not seen since they last changed.
//!
//! The gateway's page cache (`server::page_cache`) follows the inventory's announcements of
//! changed items and tells this memory what to forget, and whether it may keep anything at
//! all: while that subscription is down, every item is asked for afresh. The page cache keeps
//! its pages by the same count of changes and the same switch.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use wire::ItemId;
use wire::inventory::ItemView;

/// How many items a copy keeps (an item is about a kilobyte).
const MAX_KEPT_ITEMS: u64 = 20_000;

/// The longest an item is kept: announcements normally drop it long before; this bounds how
/// long one lost while only the inventory's link to Redis was down could leave it stale.
const LONGEST_KEPT: std::time::Duration = std::time::Duration::from_secs(60);

/// Items as the inventory service last answered them, dropped when they change.
#[derive(Debug)]
pub struct KeptItems {
    items: moka::sync::Cache<ItemId, ItemView>,
    /// Grows with every change heard: an item read before a change is not kept.
    changes_heard: AtomicU64,
    /// Whether the announcements are being followed right now.
    keeping: AtomicBool,
}

/// Where a read (or a page's render) began, so that what it read is kept only if nothing
/// changed meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct ReadStart(u64);

impl Default for KeptItems {
    fn default() -> Self {
        Self {
            items: moka::sync::Cache::builder()
                .max_capacity(MAX_KEPT_ITEMS)
                .time_to_live(LONGEST_KEPT)
                .build(),
            changes_heard: AtomicU64::new(0),
            keeping: AtomicBool::new(false),
        }
    }
}

impl KeptItems {
    /// The kept copy of `item_id`, if this copy may serve one and has it.
    pub fn get(&self, item_id: &ItemId) -> Option<ItemView> {
        if self.is_keeping() {
            self.items.get(item_id)
        } else {
            None
        }
    }

    /// Call before asking the inventory service for an item; pass the answer to
    /// [`KeptItems::keep`].
    pub fn read_start(&self) -> ReadStart {
        ReadStart(self.changes_heard.load(Ordering::SeqCst))
    }

    /// Whether no change was heard since `start`.
    pub fn unchanged_since(&self, start: ReadStart) -> bool {
        self.changes_heard.load(Ordering::SeqCst) == start.0
    }

    /// Whether the announcements are being followed (see [`KeptItems::set_keeping`]).
    pub fn is_keeping(&self) -> bool {
        self.keeping.load(Ordering::SeqCst)
    }

    /// Keeps `item` as read since `start`, unless a change was heard meanwhile (the answer may
    /// predate it) or the announcements are not being followed.
    pub fn keep(&self, start: ReadStart, item: &ItemView) {
        if self.is_keeping() && self.unchanged_since(start) {
            self.items.insert(item.id.clone(), item.clone());
            // A change heard while inserting may have missed this entry: undo it then.
            if !self.unchanged_since(start) {
                self.items.invalidate(&item.id);
            }
        }
    }

    /// Those items changed.
    pub fn forget<'a>(&self, item_ids: impl IntoIterator<Item = &'a ItemId>) {
        self.changes_heard.fetch_add(1, Ordering::SeqCst);
        for item_id in item_ids {
            self.items.invalidate(item_id);
        }
    }

    /// Anything may have changed (an announcement was lost or did not decode).
    pub fn forget_everything(&self) {
        self.changes_heard.fetch_add(1, Ordering::SeqCst);
        self.items.invalidate_all();
    }

    /// Whether changes are being heard: only then is anything kept or served, and everything
    /// is dropped on each switch.
    pub fn set_keeping(&self, keeping: bool) {
        self.keeping.store(keeping, Ordering::SeqCst);
        self.forget_everything();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> ItemView {
        ItemView {
            id: ItemId::parse(id).expect("id"),
            seller_id: wire::UserId::parse("6b1328051665c57bad02dc00").expect("id"),
            seller_name: "Kim".into(),
            title: "Brass lamp".into(),
            description: String::new(),
            price_cents: 2_500,
            stock: 3,
            sold: 0,
            image_url: None,
            on_sale: true,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn an_item_read_before_a_change_is_not_kept_and_nothing_is_kept_unless_following() {
        let kept = KeptItems::default();
        let lamp = item("6b1328051665c57bad02dc95");
        kept.keep(kept.read_start(), &lamp);
        assert!(kept.get(&lamp.id).is_none(), "kept while not following");

        kept.set_keeping(true);
        let start = kept.read_start();
        kept.forget([&lamp.id]);
        kept.keep(start, &lamp);
        assert!(
            kept.get(&lamp.id).is_none(),
            "kept what was read before a change"
        );

        kept.keep(kept.read_start(), &lamp);
        assert_eq!(kept.get(&lamp.id).map(|i| i.id), Some(lamp.id.clone()));
        kept.forget([&lamp.id]);
        assert!(kept.get(&lamp.id).is_none(), "served after it changed");

        kept.keep(kept.read_start(), &lamp);
        kept.set_keeping(false);
        assert!(kept.get(&lamp.id).is_none(), "served while not following");
    }
}
