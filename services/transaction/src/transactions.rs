//! The `transactions` collection: every purchase, pending, completed or rejected. What is
//! still to be sent to Kafka waits in [`crate::outbox`].

use common::infra::mongo::is_duplicate_key;
use common::infra::mongo::{Indexed, index, unique_index};
use futures::TryStreamExt;
use mongodb::bson::{self, Bson, doc, oid::ObjectId};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

use common::identity::Identity;
use wire::events::PurchaseEvent;
use wire::transaction::OrderLine;
use wire::transaction::PurchaseLine;
use wire::transaction::PurchaseView;
use wire::{ItemId, PurchaseId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Completed,
    Rejected,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WantedLine {
    pub item_id: ItemId,
    pub quantity: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransactionDocument {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub buyer_id: UserId,
    pub buyer_name: String,
    pub buyer_email: String,
    pub idempotency_key: String,
    /// The order as first asked for under this key; a different order with the same key is refused.
    pub request_hash: String,
    pub wanted: Vec<WantedLine>,
    pub status: Status,
    pub lines: Vec<PurchaseLine>,
    pub total_cents: i64,
    pub rejection: Option<String>,
    /// While a sweeper settles this pending purchase, until when its claim holds.
    #[serde(default)]
    pub sweep_lease_until: Option<bson::DateTime>,
    /// How many times a sweeper claimed it (once, unless a claim ran out).
    #[serde(default)]
    pub sweep_claims: u32,
    pub created_at: bson::DateTime,
}

impl TransactionDocument {
    /// This purchase as it is once completed with `lines`.
    pub fn completed_with(self, lines: Vec<PurchaseLine>) -> Self {
        Self {
            status: Status::Completed,
            total_cents: lines.iter().map(|l| l.line_total_cents).sum(),
            lines,
            ..self
        }
    }

    pub fn view(&self) -> PurchaseView {
        PurchaseView {
            id: PurchaseId::from_bytes(self.id.bytes()),
            lines: self.lines.clone(),
            total_cents: self.total_cents,
            created_at: self.created_at.timestamp_millis(),
        }
    }

    pub fn event(&self) -> PurchaseEvent {
        PurchaseEvent {
            transaction_id: PurchaseId::from_bytes(self.id.bytes()),
            buyer_id: self.buyer_id.clone(),
            buyer_name: self.buyer_name.clone(),
            buyer_email: self.buyer_email.clone(),
            lines: self.lines.clone(),
            total_cents: self.total_cents,
            created_at: self.created_at.timestamp_millis(),
        }
    }
}

/// The same order written any way gives the same text.
pub fn request_hash(lines: &[OrderLine]) -> String {
    lines
        .iter()
        .map(|l| format!("{}x{}", l.item_id, l.quantity))
        .collect::<Vec<_>>()
        .join(",")
}

fn to_bson<T: Serialize>(value: &T) -> mongodb::error::Result<Bson> {
    bson::to_bson(value).map_err(mongodb::error::Error::custom)
}

/// A purchase not yet settled, in `pending_purchases`: the sweeper looks for stale ones
/// here, in a collection that holds only the purchases under way (a handful), not in
/// `transactions`, which holds every purchase ever made. (The local MongoDB-wire server reads
/// a whole collection for any filter but an exact unique key; a sweeper reading every
/// purchase every few seconds, under the collection's lock, slowed every purchase as the
/// store filled.)
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingMark {
    /// The purchase's id.
    #[serde(rename = "_id")]
    id: ObjectId,
    created_at: bson::DateTime,
    /// While a sweeper settles it, until when its claim holds.
    #[serde(default)]
    sweep_lease_until: Option<bson::DateTime>,
}

#[derive(Clone)]
pub struct Transactions {
    collection: Collection<TransactionDocument>,
    pending: Collection<PendingMark>,
}

impl Transactions {
    pub fn new(database: &Database) -> Self {
        Self {
            collection: database.collection("transactions"),
            pending: database.collection("pending_purchases"),
        }
    }

    /// Forgets that `id` is pending (it is settled, or was never stored); a mark already
    /// gone is fine.
    async fn settled(&self, id: ObjectId) -> mongodb::error::Result<()> {
        self.pending.delete_one(doc! { "_id": id }).await.map(drop)
    }

    /// The buyer's transaction for this key: a new pending one, or the one that exists.
    pub async fn start(
        &self,
        buyer: &Identity,
        key: &str,
        hash: &str,
        lines: &[OrderLine],
    ) -> mongodb::error::Result<TransactionDocument> {
        let fresh = TransactionDocument {
            id: ObjectId::new(),
            buyer_id: buyer.user_id.clone(),
            buyer_name: buyer.display_name.clone(),
            buyer_email: buyer.email.clone(),
            idempotency_key: key.to_owned(),
            request_hash: hash.to_owned(),
            wanted: lines
                .iter()
                .map(|l| WantedLine {
                    item_id: l.item_id.clone(),
                    quantity: l.quantity,
                })
                .collect(),
            status: Status::Pending,
            lines: Vec::new(),
            total_cents: 0,
            rejection: None,
            sweep_lease_until: None,
            sweep_claims: 0,
            created_at: bson::DateTime::now(),
        };
        // Marked pending first: a purchase stored without its mark would never be swept,
        // while a mark without its purchase (a crash in between, or the retry of a key already
        // used) is dropped by the sweeper.
        self.pending
            .insert_one(PendingMark {
                id: fresh.id,
                created_at: fresh.created_at,
                sweep_lease_until: None,
            })
            .await?;
        match self.collection.insert_one(&fresh).await {
            Ok(_) => Ok(fresh),
            Err(err) if is_duplicate_key(&err) => {
                self.settled(fresh.id).await?;
                let existing = self
                    .collection
                    .find_one(doc! { "buyer_id": buyer.user_id.as_str(), "idempotency_key": key })
                    .await?;
                existing.ok_or(err)
            }
            Err(err) => Err(err),
        }
    }

    /// Marks the purchase completed with these lines, once. Returns the stored document and
    /// whether this call was the one that completed it.
    ///
    /// The filter is the `_id` alone (the local MongoDB-wire server reads the whole collection
    /// for any other filter) and the document as it was before the update says whether this
    /// call completed it. Concurrent attempts carry the same lines (one reservation outcome per
    /// purchase), so writing them again changes nothing.
    pub async fn complete(
        &self,
        id: ObjectId,
        lines: Vec<PurchaseLine>,
    ) -> mongodb::error::Result<(TransactionDocument, bool)> {
        let total: i64 = lines.iter().map(|l| l.line_total_cents).sum();
        let before = self
            .collection
            .find_one_and_update(
                doc! { "_id": id },
                doc! {
                    "$set": {
                        "status": to_bson(&Status::Completed)?,
                        "lines": to_bson(&lines)?,
                        "total_cents": total,
                    },
                },
            )
            .return_document(ReturnDocument::Before)
            .await?
            .ok_or_else(|| mongodb::error::Error::custom("transaction vanished"))?;
        let completed_now = before.status == Status::Pending;
        self.settled(id).await?;
        Ok((before.completed_with(lines), completed_now))
    }

    /// Marks the purchase rejected for `reason`, unless it is already settled; returns the
    /// stored document. Filtered by `_id` alone, for the reason given at [`Self::complete`].
    pub async fn reject(
        &self,
        id: ObjectId,
        reason: &str,
    ) -> mongodb::error::Result<TransactionDocument> {
        let stored = self
            .collection
            .find_one(doc! { "_id": id })
            .await?
            .ok_or_else(|| mongodb::error::Error::custom("transaction vanished"))?;
        if stored.status != Status::Pending {
            self.settled(id).await?;
            return Ok(stored);
        }
        // A purchase's reservation has one outcome, so no attempt completes what another
        // rejects: the read above cannot be overtaken by a different verdict.
        self.collection
            .update_one(
                doc! { "_id": id },
                doc! { "$set": { "status": to_bson(&Status::Rejected)?, "rejection": reason } },
            )
            .await?;
        self.settled(id).await?;
        Ok(TransactionDocument {
            status: Status::Rejected,
            rejection: Some(reason.to_owned()),
            ..stored
        })
    }

    /// The completed purchases among `ids`, in the order of `ids` (one read by `_id`).
    pub async fn completed(&self, ids: &[ObjectId]) -> mongodb::error::Result<Vec<PurchaseView>> {
        let found: Vec<TransactionDocument> = self
            .collection
            .find(doc! { "_id": { "$in": ids } })
            .await?
            .try_collect()
            .await?;
        Ok(ids
            .iter()
            .filter_map(|id| found.iter().find(|purchase| purchase.id == *id))
            .filter(|purchase| purchase.status == Status::Completed)
            .map(TransactionDocument::view)
            .collect())
    }

    /// Every completed purchase, oldest first: what was bought before the history and sales
    /// were kept as numbered entries ([`crate::ledger`]). It reads the whole collection.
    pub async fn every_completed(
        &self,
    ) -> mongodb::error::Result<mongodb::Cursor<TransactionDocument>> {
        self.collection
            .find(doc! { "status": to_bson(&Status::Completed)? })
            .sort(doc! { "created_at": 1, "_id": 1 })
            .await
    }

    /// The purchase `id` if `buyer_id` bought it and it completed. Looked up by `_id` alone
    /// (see [`Self::complete`]); whose it is, is checked here.
    pub async fn completed_for_buyer(
        &self,
        id: &PurchaseId,
        buyer_id: &UserId,
    ) -> mongodb::error::Result<Option<PurchaseView>> {
        let id = ObjectId::from_bytes(id.to_bytes());
        let found = self.collection.find_one(doc! { "_id": id }).await?;
        Ok(found
            .filter(|tx| &tx.buyer_id == buyer_id && tx.status == Status::Completed)
            .map(|tx| tx.view()))
    }

    /// Claims one purchase that has been pending for longer than `older_than`, for `lease`,
    /// so that of several copies only one settles it and a crashed one's claim runs out.
    /// Looks only at the pending marks; a mark whose purchase is settled, or was never
    /// stored, is dropped on the way.
    pub async fn claim_stale(
        &self,
        older_than: std::time::Duration,
        lease: std::time::Duration,
    ) -> mongodb::error::Result<Option<TransactionDocument>> {
        loop {
            let now = bson::DateTime::now();
            let cutoff =
                bson::DateTime::from_millis(now.timestamp_millis() - older_than.as_millis() as i64);
            let until =
                bson::DateTime::from_millis(now.timestamp_millis() + lease.as_millis() as i64);
            let Some(mark) = self
                .pending
                .find_one_and_update(
                    doc! {
                        "created_at": { "$lt": cutoff },
                        "$or": [ { "sweep_lease_until": null }, { "sweep_lease_until": { "$lt": now } } ],
                    },
                    doc! { "$set": { "sweep_lease_until": until } },
                )
                .return_document(ReturnDocument::After)
                .await?
            else {
                return Ok(None);
            };
            // Counted on the purchase too, where operators (and a test) look.
            let claimed = self
                .collection
                .find_one_and_update(
                    doc! { "_id": mark.id },
                    doc! { "$set": { "sweep_lease_until": until }, "$inc": { "sweep_claims": 1 } },
                )
                .return_document(ReturnDocument::After)
                .await?;
            match claimed {
                Some(purchase) if purchase.status == Status::Pending => return Ok(Some(purchase)),
                _ => self.settled(mark.id).await?,
            }
        }
    }
}

impl Indexed for Transactions {
    const COLLECTION: &'static str = "transactions";

    async fn create_indexes(&self) -> mongodb::error::Result<()> {
        let indexes = vec![
            unique_index(
                doc! { "buyer_id": 1, "idempotency_key": 1 },
                "one_purchase_per_key",
            ),
            index(doc! { "buyer_id": 1, "created_at": -1 }),
            index(doc! { "lines.seller_id": 1, "created_at": -1 }),
        ];
        self.collection.create_indexes(indexes).await?;
        self.pending
            .create_indexes([index(doc! { "created_at": 1 })])
            .await
            .map(drop)
    }
}
