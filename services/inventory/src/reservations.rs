//! Stock reservations for purchases: all or nothing, never below zero, safe to retry.
//!
//! Each line is one conditional update of the item (`stock >= quantity`, then `$inc`), so
//! concurrent buyers can never oversell. While a reservation is in flight its id is kept on
//! every item it touched (`pending_reservations`) and the update refuses an item that already
//! carries it: a retried or resumed reservation never takes the same line twice, and finds
//! the lines an interrupted attempt took by that mark. If any line cannot be had, the lines
//! already taken are given back and the buyer is told which item is short. The outcome is
//! stored under the reservation id, so a retry gets the same answer; the marks are cleared
//! after the answer.
//!
//! Every write to a reservation is filtered by its `_id` alone: the local MongoDB-wire server
//! answers any other filter by reading the whole (ever-growing) collection under its lock.

use common::infra::mongo::is_duplicate_key;
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
            outcome: None,
            released: false,
            created_at: bson::DateTime::now(),
            locked_until: Some(lock_deadline()),
        };
        let reservation = match self.reservations.insert_one(&fresh).await {
            Ok(_) => fresh,
            Err(err) if is_duplicate_key(&err) => match self.wait_for_turn(id).await? {
                Turn::Decided(outcome) => return Ok(outcome),
                Turn::Mine(reservation) => *reservation,
            },
            Err(err) => return Err(err),
        };

        // New, or interrupted earlier (a crash, a concurrent retry): `take` refuses a line
        // already taken under this id and reports it as taken.
        let mut taken = Vec::with_capacity(reservation.wanted.len());
        for line in &reservation.wanted {
            match self.take(id, line).await? {
                Some(line) => taken.push(line),
                None => {
                    let shortage = self.shortage(line).await?;
                    self.give_back(id, &taken).await?;
                    return self.finish(id, Outcome::Short { shortage }, &taken).await;
                }
            }
        }
        let lines = taken.clone();
        self.finish(id, Outcome::Reserved { lines }, &taken).await
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
                doc! {
                    "_id": line.item_id,
                    "on_sale": { "$ne": false },
                    "stock": { "$gte": line.quantity },
                    "pending_reservations": { "$ne": id },
                },
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
        let off_sale = item.as_ref().is_some_and(|i| !i.on_sale);
        Ok(Shortage {
            item_id: ItemId::from_bytes(line.item_id.bytes()),
            title: item.as_ref().map(|i| i.title.clone()),
            available: if off_sale {
                0
            } else {
                item.map_or(0, |i| i.stock)
            },
            wanted: line.quantity,
            off_sale,
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

    /// Stores the outcome, unless an earlier attempt stored one (then that one stands and is
    /// returned), and clears this reservation's marks from the items it took, in the background.
    async fn finish(
        &self,
        id: &str,
        outcome: Outcome,
        taken: &[ReservedLine],
    ) -> mongodb::error::Result<Outcome> {
        let stored = bson::to_bson(&outcome).map_err(mongodb::error::Error::custom)?;
        let before = self
            .reservations
            .find_one_and_update(doc! { "_id": id }, doc! { "$set": { "outcome": stored } })
            .return_document(ReturnDocument::Before)
            .await?;
        let answer = match before.and_then(|r| r.outcome) {
            // Only an attempt that outlived its lock gets here: the first outcome stands.
            Some(earlier) if earlier != outcome => {
                let earlier_bson =
                    bson::to_bson(&earlier).map_err(mongodb::error::Error::custom)?;
                self.reservations
                    .update_one(
                        doc! { "_id": id },
                        doc! { "$set": { "outcome": earlier_bson } },
                    )
                    .await?;
                earlier
            }
            _ => outcome,
        };
        // The marks only guard against taking a line twice while the outcome is open; the
        // buyer need not wait for them to go.
        let items = self.items.clone();
        let marked: Vec<ObjectId> = taken
            .iter()
            .filter_map(|line| ObjectId::parse_str(line.item_id.as_str()).ok())
            .collect();
        let id = id.to_owned();
        tokio::spawn(async move {
            for item_id in marked {
                let cleared = items
                    .update_one(
                        doc! { "_id": item_id },
                        doc! { "$pull": { "pending_reservations": &id } },
                    )
                    .await;
                if let Err(err) = cleared {
                    tracing::warn!(%err, reservation = %id, "a settled reservation's mark stays on an item");
                }
            }
        });
        Ok(answer)
    }

    /// Gives a reserved purchase's stock back (the purchase could not be recorded), once.
    /// Returns the items whose stock came back (none if there was nothing to give back).
    pub async fn release(&self, id: &str) -> mongodb::error::Result<Vec<ObjectId>> {
        let claimed = self
            .reservations
            .find_one_and_update(
                doc! { "_id": id, "released": false, "outcome.outcome": "reserved" },
                doc! { "$set": { "released": true } },
            )
            .await?;
        let Some(ReservationDocument {
            outcome: Some(Outcome::Reserved { lines }),
            ..
        }) = claimed
        else {
            return Ok(Vec::new());
        };
        let mut released = Vec::with_capacity(lines.len());
        for line in lines {
            if let Ok(item_id) = ObjectId::parse_str(line.item_id.as_str()) {
                self.items
                    .update_one(
                        doc! { "_id": item_id },
                        doc! { "$inc": { "stock": line.quantity, "sold": -line.quantity } },
                    )
                    .await?;
                released.push(item_id);
            }
        }
        Ok(released)
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
