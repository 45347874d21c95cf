//! The carts, in Redis: one hash per cart (`cart:user:<id>` or `cart:guest:<id>`), with two
//! fields per item — `quantity:<item>`, changed with `HINCRBY` so two tabs adding at once both
//! count, and `line:<item>`, what the item was when first added. Every change pushes the
//! cart's expiry out again (30 days for a user's, 7 for a guest's).
//!
//! The transaction service keeps carts because checking a cart out is a purchase of its
//! lines, and it already reads prices and stock from the inventory for purchases.

use std::collections::HashMap;
use std::time::Duration;

use fred::prelude::{Client, HashesInterface, KeysInterface};
use serde::{Deserialize, Serialize};
use wire::cart::{CartLineView, CartView, GuestCartId, MAX_LINES, MAX_QUANTITY};
use wire::{ItemId, UserId};

use common::input::FieldError;

/// Whose cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartOwner {
    /// A signed-in user's.
    User(UserId),
    /// A guest browser's, by its cookie.
    Guest(GuestCartId),
}

impl CartOwner {
    fn key(&self) -> String {
        match self {
            Self::User(id) => format!("cart:user:{id}"),
            Self::Guest(id) => format!("cart:guest:{id}"),
        }
    }

    /// How long the cart lives after its last change.
    fn lifetime(&self) -> Duration {
        const DAY: u64 = 24 * 60 * 60;
        match self {
            Self::User(_) => Duration::from_secs(30 * DAY),
            Self::Guest(_) => Duration::from_secs(7 * DAY),
        }
    }
}

/// Why a cart could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum CartError {
    /// The request at fault: 422.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// 404: the item is not in this cart.
    #[error("that item is not in your cart")]
    NotInCart,
    /// Redis or the inventory failed: 503.
    #[error("carts are unavailable right now: {0}")]
    Unavailable(String),
}

impl From<fred::error::Error> for CartError {
    fn from(err: fred::error::Error) -> Self {
        Self::Unavailable(format!("Redis: {err}"))
    }
}

/// What a line remembers of its item from when it was first added.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FirstAdded {
    title: String,
    price_cents: i64,
    /// Unix milliseconds; lines are shown in the order they were first added.
    at: i64,
}

/// One stored line.
#[derive(Debug, Clone)]
pub struct StoredLine {
    pub item_id: ItemId,
    pub quantity: i64,
    title: String,
    price_when_added_cents: i64,
    added_at: i64,
}

fn quantity_field(item_id: &ItemId) -> String {
    format!("quantity:{item_id}")
}

fn line_field(item_id: &ItemId) -> String {
    format!("line:{item_id}")
}

/// 1 to [`MAX_QUANTITY`], or a 422 that says so.
pub fn check_quantity(quantity: i64) -> Result<i64, FieldError> {
    if (1..=MAX_QUANTITY).contains(&quantity) {
        Ok(quantity)
    } else {
        Err(FieldError::new(
            "quantity",
            format!("must be from 1 to {MAX_QUANTITY}"),
        ))
    }
}

/// The carts in Redis.
#[derive(Clone)]
pub struct Carts {
    redis: Client,
}

impl Carts {
    pub fn new(redis: Client) -> Self {
        Self { redis }
    }

    /// The cart's lines, in the order they were first added.
    pub async fn lines(&self, owner: &CartOwner) -> Result<Vec<StoredLine>, CartError> {
        let fields: HashMap<String, String> = self.redis.hgetall(owner.key()).await?;
        let mut lines: Vec<StoredLine> = fields
            .iter()
            .filter_map(|(field, value)| {
                let item_id = ItemId::parse(field.strip_prefix("line:")?).ok()?;
                let first: FirstAdded = serde_json::from_str(value).ok()?;
                let quantity = fields
                    .get(&quantity_field(&item_id))
                    .and_then(|q| q.parse::<i64>().ok())?
                    .clamp(1, MAX_QUANTITY);
                Some(StoredLine {
                    item_id,
                    quantity,
                    title: first.title,
                    price_when_added_cents: first.price_cents,
                    added_at: first.at,
                })
            })
            .collect();
        lines.sort_by(|a, b| (a.added_at, &a.item_id).cmp(&(b.added_at, &b.item_id)));
        Ok(lines)
    }

    /// Puts `quantity` more of `item` in the cart (a line holds at most [`MAX_QUANTITY`]); a
    /// new line past [`MAX_LINES`] is refused.
    pub async fn add(
        &self,
        owner: &CartOwner,
        item: &wire::inventory::ItemView,
        quantity: i64,
        now_ms: i64,
    ) -> Result<(), CartError> {
        let quantity = check_quantity(quantity)?;
        let key = owner.key();
        let field = quantity_field(&item.id);
        let new_total: i64 = self.redis.hincrby(&key, &field, quantity).await?;
        if new_total == quantity {
            // A new line: counted after its quantity is there, so of two tabs adding new lines
            // at once each counts the other's too, and the cart never passes the limit.
            let fields: Vec<String> = self.redis.hkeys(&key).await?;
            let lines = fields.iter().filter(|f| f.starts_with("quantity:")).count();
            if lines > MAX_LINES {
                let _: () = self.redis.hdel(&key, &field).await?;
                return Err(FieldError::new(
                    "item_id",
                    format!("A cart holds at most {MAX_LINES} different items; remove one first."),
                )
                .into());
            }
            let first = FirstAdded {
                title: item.title.clone(),
                price_cents: item.price_cents,
                at: now_ms,
            };
            self.remember_first(&key, &item.id, &first).await?;
        }
        if new_total > MAX_QUANTITY {
            let _: () = self.redis.hset(&key, (field, MAX_QUANTITY)).await?;
        }
        self.touch(owner).await
    }

    /// Sets a line's quantity (1 to [`MAX_QUANTITY`]).
    pub async fn set(
        &self,
        owner: &CartOwner,
        item_id: &ItemId,
        quantity: i64,
    ) -> Result<(), CartError> {
        let quantity = check_quantity(quantity)?;
        let key = owner.key();
        let there: bool = self.redis.hexists(&key, line_field(item_id)).await?;
        if !there {
            return Err(CartError::NotInCart);
        }
        let _: () = self
            .redis
            .hset(&key, (quantity_field(item_id), quantity))
            .await?;
        self.touch(owner).await
    }

    /// Takes a line out; taking out what is not there changes nothing.
    pub async fn remove(&self, owner: &CartOwner, item_id: &ItemId) -> Result<(), CartError> {
        let _: () = self
            .redis
            .hdel(
                owner.key(),
                vec![quantity_field(item_id), line_field(item_id)],
            )
            .await?;
        self.touch(owner).await
    }

    /// Folds the guest's cart into the user's (quantities add up, at most [`MAX_LINES`]
    /// lines) and deletes it.
    pub async fn merge(&self, guest: &CartOwner, user: &CartOwner) -> Result<(), CartError> {
        let guest_lines = self.lines(guest).await?;
        let mut room = MAX_LINES.saturating_sub(self.lines(user).await?.len());
        let key = user.key();
        for line in guest_lines {
            let field = quantity_field(&line.item_id);
            let there: bool = self.redis.hexists(&key, line_field(&line.item_id)).await?;
            if !there {
                if room == 0 {
                    continue;
                }
                room -= 1;
                let first = FirstAdded {
                    title: line.title.clone(),
                    price_cents: line.price_when_added_cents,
                    at: line.added_at,
                };
                self.remember_first(&key, &line.item_id, &first).await?;
            }
            let total: i64 = self.redis.hincrby(&key, &field, line.quantity).await?;
            if total > MAX_QUANTITY {
                let _: () = self.redis.hset(&key, (field, MAX_QUANTITY)).await?;
            }
        }
        let _: () = self.redis.del(guest.key()).await?;
        self.touch(user).await
    }

    /// Takes every line out.
    pub async fn empty(&self, owner: &CartOwner) -> Result<(), CartError> {
        let _: () = self.redis.del(owner.key()).await?;
        Ok(())
    }

    /// Keeps what a new line's item was; a line already there keeps its own.
    async fn remember_first(
        &self,
        key: &str,
        item_id: &ItemId,
        first: &FirstAdded,
    ) -> Result<(), CartError> {
        let json =
            serde_json::to_string(first).map_err(|err| CartError::Unavailable(err.to_string()))?;
        let _: bool = self.redis.hsetnx(key, line_field(item_id), json).await?;
        Ok(())
    }

    async fn touch(&self, owner: &CartOwner) -> Result<(), CartError> {
        let seconds = owner.lifetime().as_secs() as i64;
        let _: bool = self.redis.expire(owner.key(), seconds, None).await?;
        Ok(())
    }

    /// The cart as a person sees it: each line with its item as it is now (`items`, by id;
    /// a line whose item is gone shows what it was, unavailable).
    pub fn view(
        lines: Vec<StoredLine>,
        items: &HashMap<ItemId, wire::inventory::ItemView>,
    ) -> CartView {
        let lines: Vec<CartLineView> = lines
            .into_iter()
            .map(|line| {
                let now = items.get(&line.item_id);
                let unit_price_cents = now.map_or(line.price_when_added_cents, |i| i.price_cents);
                CartLineView {
                    title: now.map_or(line.title, |i| i.title.clone()),
                    unit_price_cents,
                    price_when_added_cents: line.price_when_added_cents,
                    stock: now.map_or(0, |i| i.stock),
                    available: now.is_some_and(|i| i.on_sale),
                    line_total_cents: unit_price_cents * line.quantity,
                    quantity: line.quantity,
                    item_id: line.item_id,
                }
            })
            .collect();
        CartView {
            units: lines.iter().map(|l| l.quantity).sum(),
            total_cents: lines.iter().map(|l| l.line_total_cents).sum(),
            lines,
        }
    }
}
