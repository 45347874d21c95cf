//! Stock reservations for purchases: all or nothing, never below zero, safe to retry.
//!
//! Each line is one conditional update of the item (`stock >= quantity`, then `$inc`), so
//! concurrent buyers can never oversell. While a reservation is in flight its id is kept on
//! every item it touched (`pending_reservations`) and the update refuses an item that already
//! carries it: a retried or resumed reservation never takes the same line twice. If any line
//! cannot be had, the lines already taken are given back and the buyer is told which item is
//! short. The outcome is stored under the reservation id, so a retry gets the same answer.

use common::infra::mongo::is_duplicate_key;
use futures::TryStreamExt;
use mongodb::bson::{self, doc, oid::ObjectId};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

use wire::ItemId;
use wire::inventory::{ReservedLine, Shortage};

use crate::items::ItemDocument;

/// One line of a purchase as asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantedLine {
    pub item_id: ObjectId,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Reserved { lines: Vec<ReservedLine> },
    Short { shortage: Shortage },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ReservationDocument {
    #[serde(rename = "_id")]
    id: String,
    wanted: Vec<WantedLine>,
    taken: Vec<ReservedLine>,
    outcome: Option<Outcome>,
    released: bool,
    created_at: bson::DateTime,
    /// While set and in the future, one attempt is working on this reservation; concurrent
    /// retries wait for its outcome instead of taking stock alongside it.
    #[serde(default)]
    locked_until: Option<bson::DateTime>,
}

/// How long one attempt may hold a reservation before a retry may take over (a crashed copy).
const LOCK: std::time::Duration = std::time::Duration::from_secs(10);

fn lock_deadline() -> bson::DateTime {
    bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() + LOCK.as_millis() as i64)
}

enum Turn {
    Decided(Outcome),
    Mine(Box<ReservationDocument>),
}

#[derive(Clone)]
pub struct Reservations {
    reservations: Collection<ReservationDocument>,
    items: Collection<ItemDocument>,
}

impl Reservations {
    pub fn new(database: &Database) -> Self {
        Self {
            reservations: database.collection("reservations"),
            items: database.collection("items"),
        }
    }

    /// Reserves every line or none. The same id always gets the same outcome.
    pub async fn reserve(
        &self,
        id: &str,
        wanted: Vec<WantedLine>,
    ) -> mongodb::error::Result<Outcome> {
        let fresh = ReservationDocument {
            id: id.to_owned(),
            wanted: wanted.clone(),
            taken: Vec::new(),
            outcome: None,
            released: false,
            created_at: bson::DateTime::now(),
            locked_until: Some(lock_deadline()),
        };
        let mut reservation = match self.reservations.insert_one(&fresh).await {
            Ok(_) => fresh,
            Err(err) if is_duplicate_key(&err) => match self.wait_for_turn(id).await? {
                Turn::Decided(outcome) => return Ok(outcome),
                Turn::Mine(reservation) => *reservation,
            },
            Err(err) => return Err(err),
        };

        // New, or interrupted earlier (a crash, a concurrent retry): take what is not taken yet.
        for line in &reservation.wanted {
            let item_id = line.item_id.to_hex();
            if reservation
                .taken
                .iter()
                .any(|t| t.item_id.as_str() == item_id)
            {
                continue;
            }
            match self.take(id, line).await? {
                Some(taken) => {
                    self.reservations
                        .update_one(
                            doc! { "_id": id, "taken.item_id": { "$ne": &item_id } },
                            doc! { "$push": { "taken": bson::to_bson(&taken).map_err(mongodb::error::Error::custom)? } },
                        )
                        .await?;
                    reservation.taken.push(taken);
                }
                None => {
                    let shortage = self.shortage(line).await?;
                    self.give_back(id, &reservation.taken).await?;
                    return self
                        .finish(id, Outcome::Short { shortage }, &reservation.taken)
                        .await;
                }
            }
        }
        let lines = reservation.taken.clone();
        self.finish(id, Outcome::Reserved { lines }, &reservation.taken)
            .await
    }

    /// Waits until no other attempt holds the reservation, then either returns its outcome or
    /// takes the lock to finish it (an earlier attempt crashed or gave up).
    async fn wait_for_turn(&self, id: &str) -> mongodb::error::Result<Turn> {
        let started = std::time::Instant::now();
        loop {
            let now = bson::DateTime::now();
            let claimed = self
                .reservations
                .find_one_and_update(
                    doc! {
                        "_id": id,
                        "outcome": null,
                        "$or": [ { "locked_until": null }, { "locked_until": { "$lt": now } } ],
                    },
                    doc! { "$set": { "locked_until": lock_deadline() } },
                )
                .return_document(ReturnDocument::After)
                .await?;
            if let Some(reservation) = claimed {
                return Ok(Turn::Mine(Box::new(reservation)));
            }
            let current = self.reservations.find_one(doc! { "_id": id }).await?;
            if let Some(outcome) = current.and_then(|r| r.outcome) {
                return Ok(Turn::Decided(outcome));
            }
            if started.elapsed() > LOCK * 2 {
                return Err(mongodb::error::Error::custom(
                    "the reservation stayed locked",
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Takes one line from the item unless stock is short or this reservation already took it.
    async fn take(
        &self,
        id: &str,
        line: &WantedLine,
    ) -> mongodb::error::Result<Option<ReservedLine>> {
        let updated = self
            .items
            .find_one_and_update(
                doc! { "_id": line.item_id, "stock": { "$gte": line.quantity }, "pending_reservations": { "$ne": id } },
                doc! {
                    "$inc": { "stock": -line.quantity, "sold": line.quantity },
                    "$push": { "pending_reservations": id },
                    "$set": { "updated_at": bson::DateTime::now() },
                },
            )
            .return_document(ReturnDocument::After)
            .await?;
        if let Some(item) = updated {
            return Ok(Some(reserved_line(&item, line.quantity)));
        }
        // Already taken by an earlier, interrupted attempt of this same reservation?
        let earlier = self
            .items
            .find_one(doc! { "_id": line.item_id, "pending_reservations": id })
            .await?;
        Ok(earlier.map(|item| reserved_line(&item, line.quantity)))
    }

    async fn shortage(&self, line: &WantedLine) -> mongodb::error::Result<Shortage> {
        let item = self.items.find_one(doc! { "_id": line.item_id }).await?;
        Ok(Shortage {
            item_id: ItemId::from_bytes(line.item_id.bytes()),
            title: item.as_ref().map(|i| i.title.clone()),
            available: item.map_or(0, |i| i.stock),
            wanted: line.quantity,
        })
    }

    async fn give_back(&self, id: &str, taken: &[ReservedLine]) -> mongodb::error::Result<()> {
        for line in taken {
            let Ok(item_id) = ObjectId::parse_str(line.item_id.as_str()) else {
                continue;
            };
            // Only an item still marked with this reservation gives back, so this runs once.
            self.items
                .update_one(
                    doc! { "_id": item_id, "pending_reservations": id },
                    doc! {
                        "$inc": { "stock": line.quantity, "sold": -line.quantity },
                        "$pull": { "pending_reservations": id },
                        "$set": { "updated_at": bson::DateTime::now() },
                    },
                )
                .await?;
        }
        Ok(())
    }

    async fn finish(
        &self,
        id: &str,
        outcome: Outcome,
        taken: &[ReservedLine],
    ) -> mongodb::error::Result<Outcome> {
        let stored = bson::to_bson(&outcome).map_err(mongodb::error::Error::custom)?;
        let finished = self
            .reservations
            .find_one_and_update(
                doc! { "_id": id, "outcome": null },
                doc! { "$set": { "outcome": stored } },
            )
            .return_document(ReturnDocument::After)
            .await?;
        // The in-flight marks are no longer needed once the outcome is stored.
        for line in taken {
            if let Ok(item_id) = ObjectId::parse_str(line.item_id.as_str()) {
                self.items
                    .update_one(
                        doc! { "_id": item_id },
                        doc! { "$pull": { "pending_reservations": id } },
                    )
                    .await?;
            }
        }
        match finished.and_then(|r| r.outcome) {
            Some(outcome) => Ok(outcome),
            // A concurrent attempt stored its outcome first; that one is the answer.
            None => Ok(self
                .reservations
                .find_one(doc! { "_id": id })
                .await?
                .and_then(|r| r.outcome)
                .unwrap_or(outcome)),
        }
    }

    /// Gives a reserved purchase's stock back (the purchase could not be recorded). Runs once.
    pub async fn release(&self, id: &str) -> mongodb::error::Result<bool> {
        let claimed = self
            .reservations
            .find_one_and_update(
                doc! { "_id": id, "released": false, "outcome.outcome": "reserved" },
                doc! { "$set": { "released": true } },
            )
            .await?;
        let Some(reservation) = claimed else {
            return Ok(false);
        };
        let Some(Outcome::Reserved { lines }) = reservation.outcome else {
            return Ok(false);
        };
        for line in lines {
            if let Ok(item_id) = ObjectId::parse_str(line.item_id.as_str()) {
                self.items
                    .update_one(
                        doc! { "_id": item_id },
                        doc! { "$inc": { "stock": line.quantity, "sold": -line.quantity } },
                    )
                    .await?;
            }
        }
        Ok(true)
    }

    /// Item ids a reservation touched, for cache invalidation.
    pub async fn item_ids(&self, id: &str) -> mongodb::error::Result<Vec<ObjectId>> {
        let reservation: Vec<ReservationDocument> = self
            .reservations
            .find(doc! { "_id": id })
            .await?
            .try_collect()
            .await?;
        Ok(reservation
            .into_iter()
            .flat_map(|r| r.wanted.into_iter().map(|w| w.item_id))
            .collect())
    }
}

fn reserved_line(item: &ItemDocument, quantity: i64) -> ReservedLine {
    ReservedLine {
        item_id: ItemId::from_bytes(item.id.bytes()),
        quantity,
        title: item.title.clone(),
        seller_id: item.seller_id.clone(),
        seller_name: item.seller_name.clone(),
        unit_price_cents: item.price_cents,
        sold_after: item.sold,
        stock_after: item.stock,
    }
}
