//! What a buyer's history and a seller's sales pages are read from, at a cost that does not
//! grow with the store: each buyer's completed purchases and each seller's sold lines are
//! entries numbered 0, 1, 2… per owner, one document each with the `_id`
//! `<owner>:<position>`, so a page is one read of a handful of ids (`_id: {$in: […]}`, which
//! the local MongoDB-wire server, like MongoDB, answers from the `_id` index).
//!
//! A seller's sums come from the same entries: each sale entry carries the running totals of
//! its seller's sales up to and including itself, so the all-time totals are the newest
//! entry's, and a day's sum is the difference of two entries' (the first sale of each day is
//! marked in `sale_days`). Nothing is added to a counter, so nothing can be counted twice.
//!
//! Why not a query sorted by date: the local MongoDB-wire server uses no index but a unique
//! one whose keys are exactly the query's, and sorts by reading every document, so the
//! history and sales pages cost as much as the whole store (124–156 pages a second with
//! 10,000 purchases stored). MongoDB would use an index; these reads cost the same on both.
//!
//! Every write here may be repeated (a retried purchase, the sweeper): each entry has a key
//! (its purchase, and its line for a sale) that a unique index keeps once, and a repeat finds
//! the entry where the first attempt put it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use common::infra::mongo::{Indexed, is_duplicate_key, unique_index};
use futures::TryStreamExt;
use mongodb::bson::{self, doc, oid::ObjectId};
use mongodb::{Collection, Database};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wire::transaction::{DailySales, DaySales, SaleView, SalesReport};
use wire::{ItemId, PurchaseId, UserId, calendar};

use crate::transactions::TransactionDocument;

/// Positions past the one a counter says that a reader also looks at: a writer that died
/// between writing an entry and moving the counter left it that far behind.
const LOOK_AHEAD: i64 = 32;

/// One purchase in its buyer's history.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HistoryEntry {
    /// `<buyer>:<position>`.
    #[serde(rename = "_id")]
    id: String,
    /// `<buyer>:<purchase>`, kept once by a unique index.
    key: String,
    position: i64,
    purchase: ObjectId,
}

/// One line a seller sold, as their sales page shows it, with the running totals.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SaleEntry {
    /// `<seller>:<position>`.
    #[serde(rename = "_id")]
    id: String,
    /// `<seller>:<purchase>:<line>`, kept once by a unique index.
    key: String,
    position: i64,
    purchase: ObjectId,
    item_id: ItemId,
    title: String,
    buyer_name: String,
    quantity: i64,
    amount_cents: i64,
    at: bson::DateTime,
    /// The day (since 1970, UTC) the sale counts on: the day it was made, or its
    /// predecessor's if that is later (two sales a moment apart around midnight may be
    /// entered in the other order). So days never go back along a seller's entries, and each
    /// day's sales are one run of positions.
    day: i64,
    /// Whether this is the first entry of its day (its day is marked in `sale_days`).
    starts_day: bool,
    /// The quantity of this and every earlier entry of the seller.
    running_quantity: i64,
    /// The cents of this and every earlier entry of the seller.
    running_cents: i64,
}

impl SaleEntry {
    /// Line `n` of `purchase`, sold by `seller`, before it has a place.
    fn draft(purchase: &TransactionDocument, n: usize, seller: &str) -> Self {
        let line = &purchase.lines[n];
        Self {
            id: String::new(),
            key: sale_key(seller, purchase.id, n),
            position: 0,
            purchase: purchase.id,
            item_id: line.item_id.clone(),
            title: line.title.clone(),
            buyer_name: purchase.buyer_name.clone(),
            quantity: line.quantity,
            amount_cents: line.line_total_cents,
            at: purchase.created_at,
            day: 0,
            starts_day: false,
            running_quantity: 0,
            running_cents: 0,
        }
    }

    /// The running totals before this entry.
    fn before(&self) -> (i64, i64) {
        (
            self.running_quantity - self.quantity,
            self.running_cents - self.amount_cents,
        )
    }
}

/// Where entering in bulk ([`Ledgers::record_many`]) has got to: each buyer's next position
/// and each seller's newest sale, so that the next batch goes on without reading them.
#[derive(Default)]
pub struct BulkPlaces {
    next_history: HashMap<String, i64>,
    newest_sale: HashMap<String, SaleEntry>,
}

/// The first sale of a seller's day: `_id` `<seller>:<day>`.
#[derive(Debug, Serialize, Deserialize)]
struct DayStart {
    #[serde(rename = "_id")]
    id: String,
    first: i64,
}

/// An entry of a numbered list.
trait Entry: Clone + Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// Whether an entry is made from its predecessor (so that must be read first).
    const CHAINED: bool;
    fn position(&self) -> i64;
    /// What a unique index keeps once.
    fn key(&self) -> &str;
    /// Gives the entry of `owner` its `position`, after `previous` (read only when
    /// [`Self::CHAINED`]).
    fn place(&mut self, owner: &str, position: i64, previous: Option<&Self>);
}

impl Entry for HistoryEntry {
    const CHAINED: bool = false;
    fn position(&self) -> i64 {
        self.position
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn place(&mut self, owner: &str, position: i64, _: Option<&Self>) {
        self.id = entry_id(owner, position);
        self.position = position;
    }
}

impl Entry for SaleEntry {
    const CHAINED: bool = true;
    fn position(&self) -> i64 {
        self.position
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn place(&mut self, owner: &str, position: i64, previous: Option<&Self>) {
        let made_on = calendar::day_of(self.at.timestamp_millis());
        self.id = entry_id(owner, position);
        self.position = position;
        self.day = previous.map_or(made_on, |previous| previous.day.max(made_on));
        self.starts_day = previous.is_none_or(|previous| previous.day < self.day);
        self.running_quantity = previous.map_or(0, |p| p.running_quantity) + self.quantity;
        self.running_cents = previous.map_or(0, |p| p.running_cents) + self.amount_cents;
    }
}

/// Where the next entry of an owner goes (a hint: never ahead, at most a few behind).
#[derive(Debug, Serialize, Deserialize)]
struct Next {
    #[serde(rename = "_id")]
    owner: String,
    next: i64,
}

/// Entries numbered per owner, in `<name>_entries`, with their counters in `<name>_next`.
#[derive(Clone)]
struct Numbered<T: Entry> {
    entries: Collection<T>,
    next: Collection<Next>,
    /// The owners this process is appending to right now. Appends to one owner take turns,
    /// and whoever has the turn appends every entry waiting, up to [`BATCH`], with one write:
    /// a busy seller's sales go in a batch per write instead of all trying the same free
    /// position (a hundred sales a second to one seller made every attempt fail many times
    /// over, each failure a write). Copies of the service still race each other; the unique
    /// `_id` settles that.
    owners: Arc<Mutex<HashMap<String, Arc<Owner<T>>>>>,
}

/// The most entries appended with one write; at most [`LOOK_AHEAD`], since a writer that dies
/// before moving the counter leaves it that far behind.
const BATCH: usize = LOOK_AHEAD as usize;

/// What an append is answered with.
type Appended<T> = mongodb::error::Result<T>;

/// One owner being appended to by this process.
struct Owner<T> {
    /// Entries waiting for a place, each with where its answer goes.
    waiting: Mutex<Vec<(T, oneshot::Sender<Appended<T>>)>>,
    /// The turn to append, holding the newest entry this process knows of.
    turn: Arc<tokio::sync::Mutex<Option<T>>>,
}

impl<T> Default for Owner<T> {
    fn default() -> Self {
        Self {
            waiting: Mutex::default(),
            turn: Arc::default(),
        }
    }
}

/// The data behind `mutex`, also after a panic elsewhere (nothing here is left half-changed).
fn lock<V>(mutex: &Mutex<V>) -> MutexGuard<'_, V> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn entry_id(owner: &str, position: i64) -> String {
    format!("{owner}:{position}")
}

fn history_key(buyer: &str, purchase: ObjectId) -> String {
    format!("{buyer}:{purchase}")
}

fn sale_key(seller: &str, purchase: ObjectId, line: usize) -> String {
    format!("{seller}:{purchase}:{line}")
}

impl<T: Entry> Numbered<T> {
    fn new(database: &Database, name: &str) -> Self {
        Self {
            entries: database.collection(&format!("{name}_entries")),
            next: database.collection(&format!("{name}_next")),
            owners: Arc::default(),
        }
    }

    /// Puts `draft` among `owner`'s entries at the next free position, once: a repeat (the
    /// same key) finds it where it went.
    async fn append(&self, owner: &str, draft: T) -> Appended<T> {
        let state = self.owner(owner);
        let appended = self.append_in_turns(owner, &state, draft).await;
        self.forget_if_idle(owner, state);
        appended
    }

    async fn append_in_turns(&self, owner: &str, state: &Arc<Owner<T>>, draft: T) -> Appended<T> {
        loop {
            let (answer, mut answered) = oneshot::channel();
            lock(&state.waiting).push((draft.clone(), answer));
            loop {
                // An earlier turn may have taken ours; it answers before it ends. Looked at
                // before waiting for the turn as well as after, so an answer already there is
                // not held up by the next batch.
                match answered.try_recv() {
                    Ok(appended) => return appended,
                    Err(oneshot::error::TryRecvError::Closed) => break,
                    Err(oneshot::error::TryRecvError::Empty) => {}
                }
                let mut newest = state.turn.clone().lock_owned().await;
                match answered.try_recv() {
                    Ok(appended) => return appended,
                    Err(oneshot::error::TryRecvError::Closed) => break,
                    Err(oneshot::error::TryRecvError::Empty) => {}
                }
                let batch: Vec<_> = {
                    let mut waiting = lock(&state.waiting);
                    let take = waiting.len().min(BATCH);
                    waiting.drain(..take).collect()
                };
                match self.append_batch(owner, &mut newest, batch).await {
                    // The batch is answered; the counter moves before the next turn (so it is
                    // never more than a batch behind), but nobody waits for it.
                    Some(next) => {
                        let (numbered, owner) = (self.clone(), owner.to_owned());
                        let state = state.clone();
                        tokio::spawn(async move {
                            if let Err(err) = numbered.move_counter(&owner, next).await {
                                tracing::warn!(%err, owner, "cannot move an entry counter");
                            }
                            drop(newest);
                            numbered.forget_if_idle(&owner, state);
                        });
                    }
                    None => drop(newest),
                }
            }
            // The turn that had ours was dropped half-way (its caller went away): again.
        }
    }

    /// Appends `batch` after `newest`, with one write unless one of them is a repeat or
    /// another copy took a position meanwhile, answers each, and says where the counter
    /// goes now.
    async fn append_batch(
        &self,
        owner: &str,
        newest: &mut Option<T>,
        batch: Vec<(T, oneshot::Sender<Appended<T>>)>,
    ) -> Option<i64> {
        if batch.is_empty() {
            return None;
        }
        let placed = match self.after_newest(owner, newest.take()).await {
            Ok((position, previous)) => {
                let mut previous = previous;
                let mut placed = Vec::with_capacity(batch.len());
                for (offset, (draft, _)) in batch.iter().enumerate() {
                    let mut entry = draft.clone();
                    entry.place(owner, position + offset as i64, previous.as_ref());
                    previous = Some(entry.clone());
                    placed.push(entry);
                }
                self.entries.insert_many(&placed).await.map(|_| placed)
            }
            Err(err) => Err(err),
        };
        if let Ok(placed) = placed {
            let last = placed.last().map(Entry::position);
            *newest = placed.last().cloned();
            for ((_, answer), entry) in batch.into_iter().zip(placed) {
                let _ = answer.send(Ok(entry));
            }
            return last.map(|last| last + 1);
        }
        // A repeat, or a position another copy took: one at a time, each after what is there
        // (what went in before the conflict is found again by its key).
        let mut furthest = None;
        for (draft, answer) in batch {
            let appended = self.append_one(owner, newest, draft).await;
            if let Ok(entry) = &appended {
                furthest = furthest.max(Some(entry.position() + 1));
            }
            let _ = answer.send(appended);
        }
        furthest
    }

    /// Where the entry after `newest` goes, and the entry before it (for a chained one):
    /// after `newest` if this process knows it, else after what the counter says.
    async fn after_newest(
        &self,
        owner: &str,
        newest: Option<T>,
    ) -> mongodb::error::Result<(i64, Option<T>)> {
        if let Some(known) = newest {
            return Ok((known.position() + 1, Some(known)));
        }
        let mut position = self.counter(owner).await?;
        while T::CHAINED && position > 0 {
            match self.at(owner, position - 1).await? {
                Some(previous) => return Ok((position, Some(previous))),
                // Entries are made in order, so one is missing only below a counter that is
                // ahead of them (never so, but cheap to survive): step back.
                None => position -= 1,
            }
        }
        Ok((position, None))
    }

    /// Appends `draft` alone, trying position after position.
    async fn append_one(&self, owner: &str, newest: &mut Option<T>, draft: T) -> Appended<T> {
        let (mut position, mut previous) = self.after_newest(owner, newest.take()).await?;
        loop {
            let mut entry = draft.clone();
            entry.place(owner, position, previous.as_ref());
            match self.entries.insert_one(&entry).await {
                Ok(_) => {
                    *newest = Some(entry.clone());
                    return Ok(entry);
                }
                Err(err) if is_duplicate_key(&err) => {
                    let key = draft.key();
                    if let Some(existing) = self.entries.find_one(doc! { "key": key }).await? {
                        return Ok(existing);
                    }
                    // The position is another entry's: the next one, after it.
                    previous = self.at(owner, position).await?;
                    position += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// This process's state for appending to `owner`.
    fn owner(&self, owner: &str) -> Arc<Owner<T>> {
        lock(&self.owners)
            .entry(owner.to_owned())
            .or_default()
            .clone()
    }

    /// Forgets `owner`'s state when nobody else is appending to it, so the map holds only
    /// the owners being appended to (a later append reads the newest entry again).
    fn forget_if_idle(&self, owner: &str, state: Arc<Owner<T>>) {
        let mut owners = lock(&self.owners);
        // Ours and the map's, and no counter still moving: nobody else holds it, and nobody
        // can take it but from the map.
        if Arc::strong_count(&state) == 2 && Arc::strong_count(&state.turn) == 1 {
            owners.remove(owner);
        }
    }

    async fn at(&self, owner: &str, position: i64) -> mongodb::error::Result<Option<T>> {
        self.entries
            .find_one(doc! { "_id": entry_id(owner, position) })
            .await
    }

    async fn counter(&self, owner: &str) -> mongodb::error::Result<i64> {
        Ok(self
            .next
            .find_one(doc! { "_id": owner })
            .await?
            .map_or(0, |next| next.next))
    }

    /// Moves the counter to `next` unless it is further already.
    async fn move_counter(&self, owner: &str, next: i64) -> mongodb::error::Result<()> {
        let moved = self
            .next
            .update_one(doc! { "_id": owner }, doc! { "$max": { "next": next } })
            .upsert(true)
            .await;
        match moved {
            // Two first entries at once: the other one made the document; move it now.
            Err(err) if is_duplicate_key(&err) => self
                .next
                .update_one(doc! { "_id": owner }, doc! { "$max": { "next": next } })
                .await
                .map(drop),
            other => other.map(drop),
        }
    }

    /// `owner`'s newest entry: the one before the counter, or one a writer left it behind.
    async fn newest(&self, owner: &str) -> mongodb::error::Result<Option<T>> {
        let counted = self.counter(owner).await?;
        let near: Vec<String> = ((counted - 1).max(0)..counted + LOOK_AHEAD)
            .map(|position| entry_id(owner, position))
            .collect();
        let found: Vec<T> = self
            .entries
            .find(doc! { "_id": { "$in": near } })
            .await?
            .try_collect()
            .await?;
        Ok(found.into_iter().max_by_key(Entry::position))
    }

    /// Page `page` (from 1) of `owner`'s entries, newest first, and the newest of all.
    async fn page(
        &self,
        owner: &str,
        page: u64,
        per_page: u64,
    ) -> mongodb::error::Result<(Vec<T>, Option<T>)> {
        let newest = self.newest(owner).await?;
        let total = newest.as_ref().map_or(0, |entry| entry.position() + 1);
        let skip = (page.max(1) - 1).saturating_mul(per_page);
        let top = total - 1 - i64::try_from(skip).unwrap_or(i64::MAX);
        if top < 0 {
            return Ok((Vec::new(), newest));
        }
        let bottom = (top - i64::try_from(per_page).unwrap_or(i64::MAX) + 1).max(0);
        let mut entries = self.many(owner, bottom..=top).await?;
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.position()));
        Ok((entries, newest))
    }

    /// The entries of `owner` at `positions`, in no particular order.
    async fn many(
        &self,
        owner: &str,
        positions: impl IntoIterator<Item = i64>,
    ) -> mongodb::error::Result<Vec<T>> {
        let ids: Vec<String> = positions
            .into_iter()
            .map(|position| entry_id(owner, position))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.entries
            .find(doc! { "_id": { "$in": ids } })
            .await?
            .try_collect()
            .await
    }
}

/// The buyers' histories and the sellers' sales, with the first sale of each day marked.
#[derive(Clone)]
pub struct Ledgers {
    history: Numbered<HistoryEntry>,
    sales: Numbered<SaleEntry>,
    /// The first sale of each seller's day, by `<seller>:<day>`.
    days: Collection<DayStart>,
}

impl Ledgers {
    pub fn new(database: &Database) -> Self {
        Self {
            history: Numbered::new(database, "history"),
            sales: Numbered::new(database, "sale"),
            days: database.collection("sale_days"),
        }
    }

    /// Enters a completed purchase in its buyer's history and its lines in their sellers'
    /// sales, once however often it is called.
    pub async fn record(&self, purchase: &TransactionDocument) -> mongodb::error::Result<()> {
        let buyer = purchase.buyer_id.as_str();
        let key = history_key(buyer, purchase.id);
        let history = self.history.append(
            buyer,
            HistoryEntry {
                id: String::new(),
                key,
                position: 0,
                purchase: purchase.id,
            },
        );
        let lines = purchase
            .lines
            .iter()
            .enumerate()
            .map(|(n, line)| async move {
                let seller = line.seller_id.as_str();
                let entry = self
                    .sales
                    .append(seller, SaleEntry::draft(purchase, n, seller))
                    .await?;
                // Also on a repeat: the first attempt may have stopped before it.
                self.mark_day(seller, &entry).await
            });
        let (history, lines) = futures::join!(history, futures::future::try_join_all(lines));
        history?;
        lines.map(drop)
    }

    /// Marks `entry`'s day as starting with it, if it does.
    async fn mark_day(&self, seller: &str, entry: &SaleEntry) -> mongodb::error::Result<()> {
        if !entry.starts_day {
            return Ok(());
        }
        let start = DayStart {
            id: format!("{seller}:{}", entry.day),
            first: entry.position,
        };
        match self.days.insert_one(start).await {
            Err(err) if !is_duplicate_key(&err) => Err(err),
            _ => Ok(()),
        }
    }

    /// The ids of `buyer`'s purchases on history page `page` (from 1), newest first, and how
    /// many purchases they made in all.
    pub async fn history_page(
        &self,
        buyer: &UserId,
        page: u64,
        per_page: u64,
    ) -> mongodb::error::Result<(Vec<ObjectId>, u64)> {
        let (entries, newest) = self.history.page(buyer.as_str(), page, per_page).await?;
        let total = newest.map_or(0, |entry| entry.position + 1);
        Ok((
            entries.into_iter().map(|entry| entry.purchase).collect(),
            u64::try_from(total).unwrap_or_default(),
        ))
    }

    /// One page (from 1) of the lines `seller` sold, newest first, and the totals of all.
    pub async fn sales(
        &self,
        seller: &UserId,
        page: u64,
        per_page: u64,
    ) -> mongodb::error::Result<SalesReport> {
        let (entries, newest) = self.sales.page(seller.as_str(), page, per_page).await?;
        Ok(SalesReport {
            sales: entries
                .into_iter()
                .map(|entry| SaleView {
                    transaction_id: PurchaseId::from_bytes(entry.purchase.bytes()),
                    item_id: entry.item_id,
                    title: entry.title,
                    buyer_name: entry.buyer_name,
                    quantity: entry.quantity,
                    amount_cents: entry.amount_cents,
                    at: entry.at.timestamp_millis(),
                })
                .collect(),
            page,
            per_page,
            total_lines: newest.as_ref().map_or(0, |entry| {
                u64::try_from(entry.position + 1).unwrap_or_default()
            }),
            total_quantity: newest.as_ref().map_or(0, |entry| entry.running_quantity),
            total_cents: newest.as_ref().map_or(0, |entry| entry.running_cents),
        })
    }

    /// What `seller` sold on each of the [`DailySales::DAYS`] days up to and including
    /// `today` (UTC), oldest first: each day with sales runs from its marked first entry to
    /// the entry before the next marked day's (or the newest entry).
    pub async fn daily_sales(
        &self,
        seller: &UserId,
        today: i64,
    ) -> mongodb::error::Result<DailySales> {
        let owner = seller.as_str();
        let first_day = today - (DailySales::DAYS - 1);
        let ids: Vec<String> = (first_day..=today)
            .map(|day| format!("{owner}:{day}"))
            .collect();
        // Day -> first position, in day order.
        let starts: BTreeMap<i64, i64> = self
            .days
            .find(doc! { "_id": { "$in": ids } })
            .await?
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .filter_map(|start| {
                let day = start.id.rsplit(':').next()?.parse().ok()?;
                Some((day, start.first))
            })
            .collect();
        let mut sums: HashMap<i64, (i64, i64)> = HashMap::new();
        if let Some(newest) = self.sales.newest(owner).await? {
            // Each day's first entry, and the last one of each day, which is the one before the
            // next day's first, or the newest.
            let firsts: Vec<i64> = starts.values().copied().collect();
            let lasts: Vec<i64> = firsts
                .iter()
                .skip(1)
                .map(|first| first - 1)
                .chain([newest.position])
                .collect();
            let read: HashMap<i64, SaleEntry> = self
                .sales
                .many(owner, firsts.iter().chain(&lasts).copied())
                .await?
                .into_iter()
                .map(|entry| (entry.position, entry))
                .collect();
            for ((day, first), last) in starts.iter().zip(&lasts) {
                if let (Some(first), Some(last)) = (read.get(first), read.get(last)) {
                    let (quantity, cents) = first.before();
                    sums.insert(
                        *day,
                        (last.running_quantity - quantity, last.running_cents - cents),
                    );
                }
            }
        }
        Ok(DailySales {
            days: (first_day..=today)
                .map(|day| {
                    let (quantity, cents) = sums.get(&day).copied().unwrap_or_default();
                    DaySales {
                        day,
                        quantity,
                        cents,
                    }
                })
                .collect(),
        })
    }

    /// Enters `purchases` (completed, each seen once, oldest first) many at a time, for
    /// filling a store in bulk (benchmarks): positions continue from `places` (read from the
    /// store for an owner it does not know yet), and [`Self::write_counters`] writes the
    /// counters afterwards. Not for a store purchases are being made in meanwhile.
    pub async fn record_many(
        &self,
        purchases: &[TransactionDocument],
        places: &mut BulkPlaces,
    ) -> mongodb::error::Result<()> {
        let (mut history, mut sales, mut starts) = (Vec::new(), Vec::new(), Vec::new());
        for purchase in purchases {
            let buyer = purchase.buyer_id.as_str();
            let position = match places.next_history.get(buyer) {
                Some(position) => *position,
                None => self
                    .history
                    .newest(buyer)
                    .await?
                    .map_or(0, |e| e.position + 1),
            };
            places.next_history.insert(buyer.to_owned(), position + 1);
            history.push(HistoryEntry {
                id: entry_id(buyer, position),
                key: history_key(buyer, purchase.id),
                position,
                purchase: purchase.id,
            });
            for n in 0..purchase.lines.len() {
                let seller = purchase.lines[n].seller_id.as_str();
                let previous = match places.newest_sale.get(seller) {
                    Some(previous) => Some(previous.clone()),
                    None => self.sales.newest(seller).await?,
                };
                let position = previous.as_ref().map_or(0, |p| p.position + 1);
                let mut entry = SaleEntry::draft(purchase, n, seller);
                entry.place(seller, position, previous.as_ref());
                if entry.starts_day {
                    starts.push(DayStart {
                        id: format!("{seller}:{}", entry.day),
                        first: position,
                    });
                }
                sales.push(entry.clone());
                places.newest_sale.insert(seller.to_owned(), entry);
            }
        }
        if !history.is_empty() {
            self.history.entries.insert_many(history).await?;
        }
        if !sales.is_empty() {
            self.sales.entries.insert_many(sales).await?;
        }
        if !starts.is_empty() {
            self.days.insert_many(starts).await?;
        }
        Ok(())
    }

    /// Moves the counter of every owner [`Self::record_many`] entered entries for to after
    /// them.
    pub async fn write_counters(&self, places: &BulkPlaces) -> mongodb::error::Result<()> {
        for (owner, next) in &places.next_history {
            self.history.move_counter(owner, *next).await?;
        }
        for (owner, newest) in &places.newest_sale {
            self.sales.move_counter(owner, newest.position + 1).await?;
        }
        Ok(())
    }

    /// Forgets every sale of `seller`, to enter them again in another order (tests that move
    /// purchases back in time, through [`crate::testing::backdate`]).
    pub(crate) async fn forget_sales(&self, seller: &UserId) -> mongodb::error::Result<()> {
        let mine = bson::Regex {
            pattern: format!("^{}:", seller.as_str()),
            options: String::new(),
        };
        self.sales
            .entries
            .delete_many(doc! { "key": mine.clone() })
            .await?;
        self.sales
            .next
            .delete_one(doc! { "_id": seller.as_str() })
            .await?;
        self.days.delete_many(doc! { "_id": mine }).await.map(drop)
    }
}

impl Indexed for Ledgers {
    const COLLECTION: &'static str = "history_entries, sale_entries";

    async fn create_indexes(&self) -> mongodb::error::Result<()> {
        self.history
            .entries
            .create_indexes([unique_index(doc! { "key": 1 }, "one_entry_per_purchase")])
            .await?;
        self.sales
            .entries
            .create_indexes([unique_index(doc! { "key": 1 }, "one_entry_per_line")])
            .await
            .map(drop)
    }
}

/// Enters the purchases completed before the history and sales were kept here, once per
/// store: a document in `migrations` says it is done. Runs beside the service (a large store
/// takes a while; every entry may be made twice without harm, so copies doing it at once, or
/// one started again half-way, only repeat work).
pub async fn enter_earlier_purchases(
    database: Database,
    transactions: crate::transactions::Transactions,
    ledgers: Ledgers,
) {
    const MIGRATION: &str = "history-and-sales-entries";
    let migrations = database.collection::<bson::Document>("migrations");
    let done = |found: Option<bson::Document>| found.is_some();
    loop {
        let outcome: mongodb::error::Result<u64> = async {
            if done(migrations.find_one(doc! { "_id": MIGRATION }).await?) {
                return Ok(0);
            }
            let mut purchases = transactions.every_completed().await?;
            let mut entered = 0;
            while let Some(purchase) = purchases.try_next().await? {
                ledgers.record(&purchase).await?;
                entered += 1;
            }
            let marked = migrations
                .insert_one(doc! { "_id": MIGRATION, "at": bson::DateTime::now() })
                .await;
            match marked {
                Err(err) if !is_duplicate_key(&err) => Err(err),
                _ => Ok(entered),
            }
        }
        .await;
        match outcome {
            Ok(0) => return,
            Ok(entered) => {
                tracing::info!(entered, "earlier purchases entered in histories and sales");
                return;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot enter earlier purchases yet; trying again");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Against the real local MongoDB-wire server, in a database of each test's own.

    use super::*;
    use crate::transactions::Status;
    use wire::transaction::PurchaseLine;

    async fn ledgers() -> (Ledgers, Database) {
        let settings = testkit::Infra::from_env().mongo_settings("ledger");
        let database = settings.database("ledger-test").await.expect("MongoDB");
        let ledgers = Ledgers::new(&database);
        ledgers.create_indexes().await.expect("indexes");
        (ledgers, database)
    }

    fn id(n: u64) -> UserId {
        format!("{n:024x}").parse().expect("an id")
    }

    fn purchase(buyer: u64, seller: u64, quantity: i64) -> TransactionDocument {
        TransactionDocument {
            id: ObjectId::new(),
            buyer_id: id(buyer),
            buyer_name: format!("Buyer {buyer}"),
            buyer_email: format!("b{buyer}@example.com"),
            idempotency_key: ObjectId::new().to_hex(),
            request_hash: String::new(),
            wanted: Vec::new(),
            status: Status::Completed,
            lines: vec![PurchaseLine {
                item_id: format!("{:024x}", 7).parse().expect("an id"),
                title: "Lamp".into(),
                seller_id: id(1_000 + seller),
                seller_name: "Sal".into(),
                unit_price_cents: 250,
                quantity,
                line_total_cents: 250 * quantity,
            }],
            total_cents: 250 * quantity,
            rejection: None,
            sweep_lease_until: None,
            sweep_claims: 0,
            created_at: bson::DateTime::now(),
        }
    }

    #[tokio::test]
    async fn a_purchase_recorded_again_and_at_once_is_entered_once() {
        let (ledgers, _) = ledgers().await;
        let bought = purchase(1, 1, 3);
        let attempts = (0..5).map(|_| ledgers.record(&bought));
        futures::future::try_join_all(attempts)
            .await
            .expect("record");
        ledgers.record(&bought).await.expect("record again");

        let (ids, total) = ledgers.history_page(&id(1), 1, 20).await.expect("history");
        assert_eq!((ids, total), (vec![bought.id], 1));
        let sales = ledgers.sales(&id(1_001), 1, 20).await.expect("sales");
        assert_eq!(sales.sales.len(), 1);
        assert_eq!(
            (sales.total_lines, sales.total_quantity, sales.total_cents),
            (1, 3, 750)
        );
        let today = calendar::day_of(bought.created_at.timestamp_millis());
        let daily = ledgers.daily_sales(&id(1_001), today).await.expect("daily");
        let last = daily.days.last().expect("today");
        assert_eq!((last.day, last.quantity, last.cents), (today, 3, 750));
    }

    #[tokio::test]
    async fn many_sales_of_one_seller_at_once_get_a_place_each_and_exact_totals() {
        let (ledgers, database) = ledgers().await;
        // Two copies of the service, each with its own turns.
        let other_copy = Ledgers::new(&database);
        let purchases: Vec<TransactionDocument> = (0..40)
            .map(|buyer| purchase(buyer, 2, 1 + (buyer as i64 % 3)))
            .collect();
        futures::future::try_join_all(purchases.iter().enumerate().map(|(n, p)| {
            if n % 2 == 0 {
                ledgers.record(p)
            } else {
                other_copy.record(p)
            }
        }))
        .await
        .expect("record");
        let mut seen = Vec::new();
        for page in 1..=2 {
            let report = ledgers.sales(&id(1_002), page, 20).await.expect("sales");
            seen.extend(report.sales.iter().map(|sale| sale.transaction_id.clone()));
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 40, "every sale once, on two pages of 20");
        let report = ledgers.sales(&id(1_002), 1, 20).await.expect("sales");
        let quantity: i64 = purchases.iter().map(|p| p.lines[0].quantity).sum();
        assert_eq!(
            (
                report.total_lines,
                report.total_quantity,
                report.total_cents
            ),
            (40, quantity, 250 * quantity)
        );
    }

    #[tokio::test]
    async fn pages_run_newest_first_and_a_counter_left_behind_is_caught_up() {
        let (ledgers, database) = ledgers().await;
        let mut made = Vec::new();
        for _ in 0..25 {
            let bought = purchase(3, 3, 1);
            ledgers.record(&bought).await.expect("record");
            made.push(bought.id);
        }
        made.reverse();
        let (first, total) = ledgers.history_page(&id(3), 1, 20).await.expect("page 1");
        let (second, _) = ledgers.history_page(&id(3), 2, 20).await.expect("page 2");
        assert_eq!(total, 25);
        assert_eq!(first, made[..20]);
        assert_eq!(second, made[20..]);
        let (beyond, _) = ledgers.history_page(&id(3), 3, 20).await.expect("page 3");
        assert!(beyond.is_empty());

        // A writer that died between its entry and the counter left it behind.
        database
            .collection::<bson::Document>("history_next")
            .update_one(
                doc! { "_id": id(3).as_str() },
                doc! { "$set": { "next": 22_i64 } },
            )
            .await
            .expect("set the counter back");
        let (first, total) = ledgers.history_page(&id(3), 1, 20).await.expect("page 1");
        assert_eq!((first.len(), total), (20, 25));
        let next = purchase(3, 3, 1);
        ledgers.record(&next).await.expect("record after the lag");
        let (first, total) = ledgers.history_page(&id(3), 1, 20).await.expect("page 1");
        assert_eq!((first[0], total), (next.id, 26));
    }

    #[tokio::test]
    async fn each_day_sums_its_own_sales_and_a_repeat_marks_a_day_an_attempt_left_unmarked() {
        let (ledgers, database) = ledgers().await;
        let now = bson::DateTime::now().timestamp_millis();
        let today = calendar::day_of(now);
        let mut made = Vec::new();
        for (days_ago, quantity) in [(3, 2), (1, 1), (1, 4), (0, 3)] {
            let mut bought = purchase(4, 4, quantity);
            bought.created_at = bson::DateTime::from_millis(now - days_ago * 86_400_000);
            ledgers.record(&bought).await.expect("record");
            made.push(bought);
        }
        let quantities = |daily: DailySales| -> Vec<(i64, i64, i64)> {
            daily
                .days
                .iter()
                .filter(|day| day.quantity != 0)
                .map(|day| (today - day.day, day.quantity, day.cents))
                .collect()
        };
        let daily = ledgers.daily_sales(&id(1_004), today).await.expect("daily");
        assert_eq!(quantities(daily), [(3, 2, 500), (1, 5, 1_250), (0, 3, 750)]);

        // An attempt that stopped after today's first entry, before marking the day: until it
        // is repeated, yesterday runs on into today; the repeat (the sweeper's) mends it.
        database
            .collection::<bson::Document>("sale_days")
            .delete_one(doc! { "_id": format!("{}:{today}", id(1_004)) })
            .await
            .expect("unmark today");
        let daily = ledgers.daily_sales(&id(1_004), today).await.expect("daily");
        assert_eq!(quantities(daily), [(3, 2, 500), (1, 8, 2_000)]);
        ledgers.record(&made[3]).await.expect("record again");
        let daily = ledgers.daily_sales(&id(1_004), today).await.expect("daily");
        assert_eq!(quantities(daily), [(3, 2, 500), (1, 5, 1_250), (0, 3, 750)]);
        let totals = ledgers.sales(&id(1_004), 1, 20).await.expect("sales");
        assert_eq!(
            (
                totals.total_lines,
                totals.total_quantity,
                totals.total_cents
            ),
            (4, 10, 2_500)
        );
    }
}
