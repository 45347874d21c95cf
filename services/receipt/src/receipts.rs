//! What the workers remember durably: which purchases' receipts were sent (to whom and when,
//! which their buyers read), and the records that can never be sent (set aside for an
//! operator).

use futures::TryStreamExt;
use mongodb::bson::{self, doc};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};
use wire::events::PurchaseEvent;
use wire::receipt::{ReceiptStatus, mask_email};
use wire::{PurchaseId, UserId};

#[derive(Debug, Serialize, Deserialize)]
struct SentReceipt {
    #[serde(rename = "_id")]
    transaction_id: String,
    sent_at: bson::DateTime,
    /// Receipts recorded before buyers could read their status have neither of these; they
    /// read as queued to everyone, which errs on the side of saying less.
    #[serde(default)]
    buyer_id: Option<String>,
    #[serde(default)]
    sent_to: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetAside {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub payload: String,
    pub reason: String,
    pub at: bson::DateTime,
}

impl SetAside {
    /// What an operator sees of it.
    pub fn view(self) -> wire::receipt::SetAsideRecord {
        wire::receipt::SetAsideRecord {
            topic: self.topic,
            partition: self.partition,
            offset: self.offset,
            payload: self.payload,
            reason: self.reason,
            at: self.at.timestamp_millis(),
        }
    }
}

#[derive(Clone)]
pub struct Receipts {
    sent: Collection<SentReceipt>,
    set_aside: Collection<SetAside>,
}

impl Receipts {
    pub fn new(database: &Database) -> Self {
        Self {
            sent: database.collection("receipts_sent"),
            set_aside: database.collection("receipts_set_aside"),
        }
    }

    pub async fn was_sent(&self, transaction_id: &str) -> mongodb::error::Result<bool> {
        Ok(self
            .sent
            .find_one(doc! { "_id": transaction_id })
            .await?
            .is_some())
    }

    /// Records that the receipt of `event` went to its buyer's address; a second call
    /// changes nothing. Returns when it was first recorded.
    pub async fn mark_sent(&self, event: &PurchaseEvent) -> mongodb::error::Result<bson::DateTime> {
        let now = bson::DateTime::now();
        let stored = self
            .sent
            .find_one_and_update(
                doc! { "_id": event.transaction_id.as_str() },
                doc! { "$setOnInsert": {
                    "sent_at": now,
                    "buyer_id": event.buyer_id.as_str(),
                    "sent_to": &event.buyer_email,
                } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await?;
        Ok(stored.map_or(now, |receipt| receipt.sent_at))
    }

    /// Where the receipt of `transaction_id` is, as `buyer_id` may see it: another buyer's
    /// receipt reads as queued (the gateway asks only for the buyer's own purchases).
    pub async fn status(
        &self,
        transaction_id: &PurchaseId,
        buyer_id: &UserId,
    ) -> mongodb::error::Result<ReceiptStatus> {
        let found = self
            .sent
            .find_one(doc! { "_id": transaction_id.as_str() })
            .await?;
        Ok(match found {
            Some(SentReceipt {
                buyer_id: Some(owner),
                sent_to: Some(to),
                sent_at,
                ..
            }) if owner == buyer_id.as_str() => ReceiptStatus::Emailed {
                to: mask_email(&to),
                at: sent_at.timestamp_millis(),
            },
            _ => ReceiptStatus::Queued,
        })
    }

    pub async fn set_aside(&self, record: SetAside) -> mongodb::error::Result<()> {
        self.set_aside.insert_one(record).await.map(drop)
    }

    pub async fn list_set_aside(&self) -> mongodb::error::Result<Vec<SetAside>> {
        self.set_aside
            .find(doc! {})
            .sort(doc! { "at": -1 })
            .limit(100)
            .await?
            .try_collect()
            .await
    }
}
