//! The transaction service's contract. Every route acts for a signed-in user.
//!
//! | method and path | request | answer |
//! | --- | --- | --- |
//! | `POST /v1/purchases` | header [`IDEMPOTENCY_KEY_HEADER`], [`PurchaseRequest`] | 201 [`PurchaseView`]; 409 not enough stock; the same key and body again give the first answer |
//! | `GET /v1/purchases` | query [`HistoryParams`] | [`PurchaseHistory`] |
//! | `GET /v1/purchases/{purchase_id}` | | [`PurchaseView`]; 404 unless the signed-in user bought it |
//! | `GET /v1/sales` | query [`SalesParams`] | [`SalesReport`] |
//! | `GET /v1/sales/daily` | | [`DailySales`] |
//! | `GET /v1/outbox` | | [`OutboxBacklog`] |

use serde::{Deserialize, Serialize};

use crate::ids::{ItemId, PurchaseId, UserId};

/// The header that makes a retried purchase buy once: a fresh random key per purchase.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// One item and how many of it a buyer wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    /// The item.
    pub item_id: ItemId,
    /// 1 to 1,000.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub quantity: i64,
}

/// A purchase of one or more items, all or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequest {
    /// 1 to 50 lines; the same item twice counts once with both quantities.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 50))]
    pub lines: Vec<OrderLine>,
}

/// One line of a purchase, as it was at the moment of buying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PurchaseLine {
    /// The item bought.
    pub item_id: ItemId,
    /// Its title then.
    pub title: String,
    /// Who sold it.
    pub seller_id: UserId,
    /// The seller's name then.
    pub seller_name: String,
    /// The price of one unit then.
    pub unit_price_cents: i64,
    /// Units bought.
    pub quantity: i64,
    /// `unit_price_cents × quantity`.
    pub line_total_cents: i64,
}

/// A buyer's purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PurchaseView {
    /// The purchase's id.
    pub id: PurchaseId,
    /// What was bought.
    pub lines: Vec<PurchaseLine>,
    /// The sum of the lines.
    pub total_cents: i64,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// The history's query string: `page` from 1, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct HistoryParams {
    /// 1 to 10,000; the first page when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// One page of a buyer's purchases, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PurchaseHistory {
    /// The purchases on this page.
    pub purchases: Vec<PurchaseView>,
    /// This page, from 1.
    pub page: u64,
    /// Purchases per page.
    pub per_page: u64,
    /// The buyer's purchases on all pages.
    pub total: u64,
}

/// The sales' query string: `page` from 1, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct SalesParams {
    /// 1 to 10,000; the first page when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// One line a seller sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SaleView {
    /// The purchase it was part of.
    pub transaction_id: PurchaseId,
    /// The item sold.
    pub item_id: ItemId,
    /// Its title then.
    pub title: String,
    /// Who bought it.
    pub buyer_name: String,
    /// Units sold.
    pub quantity: i64,
    /// What the line paid.
    pub amount_cents: i64,
    /// Unix milliseconds.
    pub at: i64,
}

/// One page of a seller's sales, newest first, with the totals of all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SalesReport {
    /// The lines sold on this page.
    pub sales: Vec<SaleView>,
    /// This page, from 1.
    pub page: u64,
    /// Lines per page.
    pub per_page: u64,
    /// Lines sold on all pages.
    pub total_lines: u64,
    /// Units sold in all.
    pub total_quantity: i64,
    /// Revenue in all.
    pub total_cents: i64,
}

/// What a seller sold on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DaySales {
    /// The day, counted from 1970-01-01 ([`crate::calendar`]).
    pub day: i64,
    /// Units sold that day.
    pub quantity: i64,
    /// Revenue that day.
    pub cents: i64,
}

/// A seller's sales per day over the last [`DailySales::DAYS`] days, oldest first, today
/// last; a day without sales is there with zeros.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DailySales {
    /// One entry per day.
    pub days: Vec<DaySales>,
}

impl DailySales {
    /// How many days the chart covers.
    pub const DAYS: i64 = 30;
}

/// Purchases accepted but not yet relayed to Kafka (for operators).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboxBacklog {
    /// How many.
    pub pending: u64,
}
