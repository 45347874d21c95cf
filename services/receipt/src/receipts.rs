//! What the workers remember durably: which purchases' receipts were sent, and the records
//! that can never be sent (set aside for an operator).

use futures::TryStreamExt;
use mongodb::bson::{self, doc};
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct SentReceipt {
    #[serde(rename = "_id")]
    transaction_id: String,
    sent_at: bson::DateTime,
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

    pub async fn mark_sent(&self, transaction_id: &str) -> mongodb::error::Result<()> {
        self.sent
            .update_one(
                doc! { "_id": transaction_id },
                doc! { "$setOnInsert": { "sent_at": bson::DateTime::now() } },
            )
            .upsert(true)
            .await
            .map(drop)
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
