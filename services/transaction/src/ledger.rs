//! What a buyer's history and a seller's sales pages are read from, at a cost that does not
//! grow with the store: each buyer's completed purchases and each seller's sold lines are
//! entries numbered 0, 1, 2… per owner, one document each with the `_id`
//! `<owner>:<position>`, so a page is one read of a handful of ids (`_id: {$in: […]}`, which
//! the local MongoDB-wire server, like MongoDB, answers from the `_id` index). A seller's totals
//! and sales per day are sums kept beside them.
//!
//! Why not a query sorted by date: the local MongoDB-wire server uses no index but a unique
//! one whose keys are exactly the query's, and sorts by reading every document, so the
//! history and sales pages cost as much as the whole store (124–156 pages a second with
//! 10,000 purchases stored). MongoDB would use an index; these reads cost the same on both.
//!
//! Every write here may be repeated (a retried purchase, the sweeper): each entry has a key
//! (its purchase, and its line for a sale) that a unique index keeps once, and the sums skip
//! a key they already counted among the latest [`COUNTED_KEYS`] of their document.

use std::collections::HashMap;

use common::infra::mongo::{Indexed, is_duplicate_key, unique_index};
use futures::TryStreamExt;
use mongodb::bson::{self, doc, oid::ObjectId};
use mongodb::{Collection, Database};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wire::transaction::{DailySales, DaySales, SaleView, SalesReport};
use wire::{ItemId, PurchaseId, UserId, calendar};

use crate::transactions::TransactionDocument;

/// How many of the latest keys a sums document remembers, to count each once: a repeat comes
/// within seconds of its first write, long before so many others.
const COUNTED_KEYS: i32 = 1_000;

/// Positions past the one a counter says that a reader also looks at: a writer that died
/// between writing an entry and moving the counter left it that far behind.
const LOOK_AHEAD: i64 = 8;

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

/// One line a seller sold, as their sales page shows it.
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
}

/// An entry of a numbered list.
trait Entry: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    fn position(&self) -> i64;
}

impl Entry for HistoryEntry {
    fn position(&self) -> i64 {
        self.position
    }
}

impl Entry for SaleEntry {
    fn position(&self) -> i64 {
        self.position
    }
}

/// Where the next entry of an owner goes (a hint: never ahead, at most a few behind).
#[derive(Debug, Serialize, Deserialize)]
struct Next {
    #[serde(rename = "_id")]
    owner: String,
    next: i64,
}

/// Sums of sold lines: a seller's all-time totals, or one day's.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Sums {
    #[serde(default)]
    lines: i64,
    #[serde(default)]
    quantity: i64,
    #[serde(default)]
    cents: i64,
}

/// Entries numbered per owner, in `<name>_entries`, with their counters in `<name>_next`.
#[derive(Clone)]
struct Numbered<T: Entry> {
    entries: Collection<T>,
    next: Collection<Next>,
}

fn entry_id(owner: &str, position: i64) -> String {
    format!("{owner}:{position}")
}

impl<T: Entry> Numbered<T> {
    fn new(database: &Database, name: &str) -> Self {
        Self {
            entries: database.collection(&format!("{name}_entries")),
            next: database.collection(&format!("{name}_next")),
        }
    }

    /// Puts the entry `key` of `owner` at the next free position, once: a repeat finds it
    /// where it went. `make` builds it for a position.
    async fn append(
        &self,
        owner: &str,
        key: &str,
        make: impl Fn(i64) -> T,
    ) -> mongodb::error::Result<i64> {
        let mut position = self.counter(owner).await?;
        loop {
            match self.entries.insert_one(make(position)).await {
                Ok(_) => {
                    self.move_counter(owner, position + 1).await?;
                    return Ok(position);
                }
                Err(err) if is_duplicate_key(&err) => {
                    if let Some(existing) = self
                        .entries
                        .clone_with_type::<bson::Document>()
                        .find_one(doc! { "key": key })
                        .projection(doc! { "position": 1 })
                        .await?
                    {
                        return Ok(existing.get_i64("position").unwrap_or(position));
                    }
                    // The position is another entry's: the next one, then.
                    position += 1;
                }
                Err(err) => return Err(err),
            }
        }
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

    /// How many entries `owner` has: the counter, and any a writer left it behind.
    async fn len(&self, owner: &str) -> mongodb::error::Result<i64> {
        let counted = self.counter(owner).await?;
        let ahead: Vec<String> = (counted..counted + LOOK_AHEAD)
            .map(|position| entry_id(owner, position))
            .collect();
        let found: Vec<bson::Document> = self
            .entries
            .clone_with_type::<bson::Document>()
            .find(doc! { "_id": { "$in": ahead } })
            .projection(doc! { "position": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(found
            .iter()
            .filter_map(|entry| entry.get_i64("position").ok())
            .map(|position| position + 1)
            .fold(counted, i64::max))
    }

    /// Page `page` (from 1) of `owner`'s entries, newest first, and how many there are.
    async fn page(
        &self,
        owner: &str,
        page: u64,
        per_page: u64,
    ) -> mongodb::error::Result<(Vec<T>, i64)> {
        let total = self.len(owner).await?;
        let skip = (page.max(1) - 1).saturating_mul(per_page);
        let newest = total - 1 - i64::try_from(skip).unwrap_or(i64::MAX);
        if newest < 0 {
            return Ok((Vec::new(), total));
        }
        let oldest = (newest - per_page as i64 + 1).max(0);
        let ids: Vec<String> = (oldest..=newest)
            .map(|position| entry_id(owner, position))
            .collect();
        let mut entries: Vec<T> = self
            .entries
            .find(doc! { "_id": { "$in": ids } })
            .await?
            .try_collect()
            .await?;
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.position()));
        Ok((entries, total))
    }
}

/// The buyers' histories and the sellers' sales, with the sums beside them.
#[derive(Clone)]
pub struct Ledgers {
    history: Numbered<HistoryEntry>,
    sales: Numbered<SaleEntry>,
    /// Each seller's all-time [`Sums`], by seller.
    totals: Collection<bson::Document>,
    /// Each seller's [`Sums`] of one day, by `<seller>:<day>` (days since 1970, UTC).
    days: Collection<bson::Document>,
}

impl Ledgers {
    pub fn new(database: &Database) -> Self {
        Self {
            history: Numbered::new(database, "history"),
            sales: Numbered::new(database, "sale"),
            totals: database.collection("sale_totals"),
            days: database.collection("sale_days"),
        }
    }

    /// Enters a completed purchase in its buyer's history and its lines in their sellers'
    /// sales, once however often it is called.
    pub async fn record(&self, purchase: &TransactionDocument) -> mongodb::error::Result<()> {
        let buyer = purchase.buyer_id.as_str();
        let history_key = format!("{buyer}:{}", purchase.id);
        let history = self
            .history
            .append(buyer, &history_key, |position| HistoryEntry {
                id: entry_id(buyer, position),
                key: history_key.clone(),
                position,
                purchase: purchase.id,
            });
        let lines = purchase
            .lines
            .iter()
            .enumerate()
            .map(|(n, line)| async move {
                let seller = line.seller_id.as_str();
                let key = format!("{seller}:{}:{n}", purchase.id);
                self.sales
                    .append(seller, &key, |position| SaleEntry {
                        id: entry_id(seller, position),
                        key: key.clone(),
                        position,
                        purchase: purchase.id,
                        item_id: line.item_id.clone(),
                        title: line.title.clone(),
                        buyer_name: purchase.buyer_name.clone(),
                        quantity: line.quantity,
                        amount_cents: line.line_total_cents,
                        at: purchase.created_at,
                    })
                    .await?;
                let day = calendar::day_of(purchase.created_at.timestamp_millis());
                let sums = (line.quantity, line.line_total_cents);
                add_once(&self.totals, seller, &key, sums).await?;
                add_once(&self.days, &format!("{seller}:{day}"), &key, sums).await
            });
        let (history, lines) = futures::join!(history, futures::future::try_join_all(lines));
        history?;
        lines.map(drop)
    }

    /// The ids of `buyer`'s purchases on history page `page` (from 1), newest first, and how
    /// many purchases they made in all.
    pub async fn history_page(
        &self,
        buyer: &UserId,
        page: u64,
        per_page: u64,
    ) -> mongodb::error::Result<(Vec<ObjectId>, u64)> {
        let (entries, total) = self.history.page(buyer.as_str(), page, per_page).await?;
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
        let (entries, _) = self.sales.page(seller.as_str(), page, per_page).await?;
        let totals = sums_of(
            self.totals
                .find_one(doc! { "_id": seller.as_str() })
                .await?,
        );
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
            total_lines: u64::try_from(totals.lines).unwrap_or_default(),
            total_quantity: totals.quantity,
            total_cents: totals.cents,
        })
    }

    /// What `seller` sold on each of the [`DailySales::DAYS`] days up to and including
    /// `today` (UTC), oldest first.
    pub async fn daily_sales(
        &self,
        seller: &UserId,
        today: i64,
    ) -> mongodb::error::Result<DailySales> {
        let first_day = today - (DailySales::DAYS - 1);
        let ids: Vec<String> = (first_day..=today)
            .map(|day| format!("{seller}:{day}"))
            .collect();
        let found: HashMap<String, Sums> = self
            .days
            .find(doc! { "_id": { "$in": ids } })
            .await?
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .filter_map(|day| {
                let id = day.get_str("_id").ok()?.to_owned();
                Some((id, sums_of(Some(day))))
            })
            .collect();
        Ok(DailySales {
            days: (first_day..=today)
                .map(|day| {
                    let sums = found.get(&format!("{seller}:{day}"));
                    DaySales {
                        day,
                        quantity: sums.map_or(0, |s| s.quantity),
                        cents: sums.map_or(0, |s| s.cents),
                    }
                })
                .collect(),
        })
    }
}

impl Ledgers {
    /// Enters `purchases` (completed, each seen once) many at a time, for filling a store in
    /// bulk (benchmarks): positions continue from the counters, and the counters and sums are
    /// written once at the end. Not for a store purchases are being made in meanwhile.
    pub async fn record_many(
        &self,
        purchases: &[TransactionDocument],
    ) -> mongodb::error::Result<()> {
        let mut next: HashMap<String, i64> = HashMap::new();
        let mut history = Vec::with_capacity(purchases.len());
        let mut sales = Vec::with_capacity(purchases.len());
        let mut totals: HashMap<String, Sums> = HashMap::new();
        let mut days: HashMap<String, Sums> = HashMap::new();
        for purchase in purchases {
            let buyer = purchase.buyer_id.as_str();
            let position = self
                .claim_in_memory(&self.history, &mut next, "h", buyer)
                .await?;
            history.push(HistoryEntry {
                id: entry_id(buyer, position),
                key: format!("{buyer}:{}", purchase.id),
                position,
                purchase: purchase.id,
            });
            for (n, line) in purchase.lines.iter().enumerate() {
                let seller = line.seller_id.as_str();
                let position = self
                    .claim_in_memory(&self.sales, &mut next, "s", seller)
                    .await?;
                sales.push(SaleEntry {
                    id: entry_id(seller, position),
                    key: format!("{seller}:{}:{n}", purchase.id),
                    position,
                    purchase: purchase.id,
                    item_id: line.item_id.clone(),
                    title: line.title.clone(),
                    buyer_name: purchase.buyer_name.clone(),
                    quantity: line.quantity,
                    amount_cents: line.line_total_cents,
                    at: purchase.created_at,
                });
                let day = calendar::day_of(purchase.created_at.timestamp_millis());
                for sums in [
                    totals.entry(seller.to_owned()).or_default(),
                    days.entry(format!("{seller}:{day}")).or_default(),
                ] {
                    sums.lines += 1;
                    sums.quantity += line.quantity;
                    sums.cents += line.line_total_cents;
                }
            }
        }
        if !history.is_empty() {
            self.history.entries.insert_many(history).await?;
        }
        if !sales.is_empty() {
            self.sales.entries.insert_many(sales).await?;
        }
        for (key, position) in next {
            let (kind, owner) = key.split_at(1);
            let counter = if kind == "h" {
                &self.history.next
            } else {
                &self.sales.next
            };
            counter
                .update_one(doc! { "_id": owner }, doc! { "$set": { "next": position } })
                .upsert(true)
                .await?;
        }
        for (collection, sums) in [(&self.totals, totals), (&self.days, days)] {
            for (id, sums) in sums {
                collection
                    .update_one(
                        doc! { "_id": id },
                        doc! { "$inc": { "lines": sums.lines, "quantity": sums.quantity, "cents": sums.cents } },
                    )
                    .upsert(true)
                    .await?;
            }
        }
        Ok(())
    }

    /// The next position of `owner` in `numbered` for [`Self::record_many`], counted in
    /// `next` (keyed by `kind` and owner) from the stored counter.
    async fn claim_in_memory<T: Entry>(
        &self,
        numbered: &Numbered<T>,
        next: &mut HashMap<String, i64>,
        kind: &str,
        owner: &str,
    ) -> mongodb::error::Result<i64> {
        let key = format!("{kind}{owner}");
        let position = match next.get(&key) {
            Some(position) => *position,
            None => numbered.counter(owner).await?,
        };
        next.insert(key, position + 1);
        Ok(position)
    }
}

impl Ledgers {
    /// Moves `purchase`'s sales from the day it was made to the day of `then` (tests of the
    /// chart, through [`crate::testing::backdate`]).
    pub(crate) async fn move_to(
        &self,
        purchase: &TransactionDocument,
        then: bson::DateTime,
    ) -> mongodb::error::Result<()> {
        let from = calendar::day_of(purchase.created_at.timestamp_millis());
        let to = calendar::day_of(then.timestamp_millis());
        for line in &purchase.lines {
            let seller = line.seller_id.as_str();
            let (quantity, cents) = (line.quantity, line.line_total_cents);
            self.days
                .update_one(
                    doc! { "_id": format!("{seller}:{from}") },
                    doc! { "$inc": { "lines": -1_i64, "quantity": -quantity, "cents": -cents } },
                )
                .await?;
            self.days
                .update_one(
                    doc! { "_id": format!("{seller}:{to}") },
                    doc! { "$inc": { "lines": 1_i64, "quantity": quantity, "cents": cents } },
                )
                .upsert(true)
                .await?;
        }
        self.sales
            .entries
            .update_many(
                doc! { "purchase": purchase.id },
                doc! { "$set": { "at": then } },
            )
            .await
            .map(drop)
    }
}

/// Adds one line's `(quantity, cents)` to the sums `id`, unless the line `key` was counted
/// there already (among the latest [`COUNTED_KEYS`]): one conditional update, whose
/// condition and change a concurrent repeat cannot slip between.
async fn add_once(
    sums: &Collection<bson::Document>,
    id: &str,
    key: &str,
    (quantity, cents): (i64, i64),
) -> mongodb::error::Result<()> {
    let filter = doc! { "_id": id, "counted": { "$ne": key } };
    let update = doc! {
        "$inc": { "lines": 1_i64, "quantity": quantity, "cents": cents },
        "$push": { "counted": { "$each": [key], "$slice": -COUNTED_KEYS } },
    };
    match sums
        .update_one(filter.clone(), update.clone())
        .upsert(true)
        .await
    {
        // The document is there: either it counted this key already, or another first line
        // made it meanwhile; the update without the insert tells which (no match: counted).
        Err(err) if is_duplicate_key(&err) => sums.update_one(filter, update).await.map(drop),
        other => other.map(drop),
    }
}

fn sums_of(document: Option<bson::Document>) -> Sums {
    document
        .and_then(|document| bson::from_document(document).ok())
        .unwrap_or_default()
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
        let (ledgers, _) = ledgers().await;
        let purchases: Vec<TransactionDocument> = (0..40)
            .map(|buyer| purchase(buyer, 2, 1 + (buyer as i64 % 3)))
            .collect();
        futures::future::try_join_all(purchases.iter().map(|p| ledgers.record(p)))
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
}
