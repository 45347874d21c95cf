//! The inventory service's contract. Reads are public; writes act for a signed-in seller;
//! reservations only for the transaction service.
//!
//! | method and path | request | answer |
//! | --- | --- | --- |
//! | `GET /v1/items` | query [`CatalogParams`] | [`CatalogPage`] |
//! | `GET /v1/items/{id}` | | [`ItemView`]; 404 unknown; 422 malformed id |
//! | `GET /v1/sellers/{seller_id}/items` | | [`ItemsBody`] |
//! | `POST /v1/items` | [`NewItem`] | 201 [`ItemView`] (200 when `request_id` was seen); 429 past the seller's hourly listings |
//! | `POST /v1/items/{id}` | [`ItemEdit`] | [`ItemView`]; 403 not the seller; 404; 429 past the seller's hourly edits |
//! | `POST /v1/reservations` | [`ReservationRequest`] | 201 [`Reserved`]; 409 [`ShortageBody`] |
//! | `POST /v1/reservations/{id}/release` | | 204 |
//! | `GET /v1/cache/stats` | | [`CacheStats`] |

use serde::{Deserialize, Serialize};

use crate::error::ErrorBody;
use crate::ids::{ItemId, PurchaseId, UserId};
use crate::picture::PictureUpload;
use crate::transaction::OrderLine;

/// One item for sale. Money in cents; times in Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemView {
    /// The item's id.
    pub id: ItemId,
    /// Who sells it.
    pub seller_id: UserId,
    /// The seller's display name when the item was listed.
    pub seller_name: String,
    /// 1 to 120 characters.
    pub title: String,
    /// Up to 5,000 characters; may be empty.
    pub description: String,
    /// The price of one unit.
    pub price_cents: i64,
    /// Units left to sell.
    pub stock: i64,
    /// Units sold so far.
    pub sold: i64,
    /// An https:// address or an `/images/` path, when the item has a picture.
    pub image_url: Option<String>,
    /// In the catalog and for sale. The seller can take it off sale (it leaves the catalog
    /// and cannot be bought; buyers' histories keep it) and put it back.
    pub on_sale: bool,
    /// When it was listed.
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

/// The catalog's query string, as typed: the service reads each value and names the one it
/// cannot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct CatalogParams {
    /// From 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// Items per page, 1 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_page: Option<String>,
    /// Words to find in titles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
}

/// One page of the catalog, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogPage {
    /// The items on this page.
    pub items: Vec<ItemView>,
    /// This page's number, from 1.
    pub page: u64,
    /// Items per page.
    pub per_page: u64,
    /// Items that match, on all pages.
    pub total: u64,
    /// The search this page answers, if any.
    pub search: Option<String>,
}

impl CatalogPage {
    /// How many pages the matching items fill (at least one, even when empty).
    pub fn page_count(&self) -> u64 {
        self.total.div_ceil(self.per_page.max(1)).max(1)
    }
}

/// A list of items: a seller's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemsBody {
    /// The items, newest first.
    pub items: Vec<ItemView>,
}

/// A new listing. `request_id` makes a retried post list the item once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    /// 1 to 120 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 120))]
    pub title: String,
    /// Up to 5,000 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// 1 cent to 1,000,000.00.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100_000_000))]
    pub price_cents: i64,
    /// 0 to 1,000,000 units.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1_000_000))]
    pub stock: i64,
    /// An https:// address or an `/images/` path; empty for none.
    #[serde(default)]
    pub image_url: Option<String>,
    /// A picture file for the item (instead of `image_url`): stored only once every other
    /// field is accepted and the seller may list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<PictureUpload>,
    /// 1 to 64 characters, the same for every retry of one listing.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Changes a seller makes to an item; a field left out stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ItemEdit {
    /// A new title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A new price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_cents: Option<i64>,
    /// A new stock count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<i64>,
    /// A new picture address; empty removes the picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// A new picture file (instead of `image_url`): stored only once the rest of the edit is
    /// accepted and the item is the seller's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<PictureUpload>,
    /// `false` takes the item off sale, `true` puts it back on sale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_sale: Option<bool>,
}

/// Stock to set aside for a purchase: every line or none. Retrying the same
/// `reservation_id` is safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReservationRequest {
    /// The purchase the stock is for.
    pub reservation_id: PurchaseId,
    /// What to reserve.
    pub lines: Vec<OrderLine>,
}

/// One reserved line, with what the item was at the moment it was reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReservedLine {
    /// The item.
    pub item_id: ItemId,
    /// Units reserved.
    pub quantity: i64,
    /// The item's title at that moment.
    pub title: String,
    /// Who sells it.
    pub seller_id: UserId,
    /// The seller's name.
    pub seller_name: String,
    /// The price of one unit at that moment.
    pub unit_price_cents: i64,
    /// The item's sold count right after this reservation, for live pages.
    pub sold_after: i64,
    /// The item's stock right after this reservation.
    pub stock_after: i64,
}

/// The stock is reserved: one line per item asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reserved {
    /// The reserved lines.
    pub lines: Vec<ReservedLine>,
}

/// The first line that could not be reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Shortage {
    /// The item.
    pub item_id: ItemId,
    /// `None` when the item does not exist.
    pub title: Option<String>,
    /// Units left.
    pub available: i64,
    /// Units asked for.
    pub wanted: i64,
    /// The seller has taken the item off sale (then `available` is 0).
    #[serde(default)]
    pub off_sale: bool,
}

/// 409 to a reservation: the sentence for the buyer and the line at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShortageBody {
    /// "only 2 of Lamp left", with `field` = "lines".
    #[serde(flatten)]
    pub error: ErrorBody,
    /// The line that fell short.
    pub shortage: Shortage,
}

/// How often this copy's cache answered (for operators and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CacheStats {
    /// Answers from the cache.
    pub hits: u64,
    /// Answers loaded from MongoDB.
    pub misses: u64,
}

/// Below this many units a catalog card counts them ("Only 3 left").
pub const FEW_LEFT: i64 = 10;

/// What a catalog card says about an item's stock: less than the item page, which shows the
/// exact count and keeps it live. So a sale changes the catalog only when it changes what a
/// card says (the last ten units, or sold out), and the pages the gateways keep of the catalog
/// outlive a steady stream of sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardStock {
    /// [`FEW_LEFT`] units or more.
    InStock,
    /// Fewer than [`FEW_LEFT`] units, but some.
    FewLeft(i64),
    /// None.
    SoldOut,
}

impl CardStock {
    /// What a card says of `stock` units.
    pub fn of(stock: i64) -> Self {
        match stock {
            ..=0 => Self::SoldOut,
            n if n < FEW_LEFT => Self::FewLeft(n),
            _ => Self::InStock,
        }
    }

    /// Whether a reservation of `line` changed what its item's card says.
    pub fn changed_by(line: &ReservedLine) -> bool {
        Self::of(line.stock_after.saturating_add(line.quantity)) != Self::of(line.stock_after)
    }
}

impl std::fmt::Display for CardStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InStock => f.write_str("In stock"),
            Self::FewLeft(n) => write!(f, "Only {n} left"),
            Self::SoldOut => f.write_str("Sold out"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_counts_only_the_last_units() {
        assert_eq!(CardStock::of(1_000_000).to_string(), "In stock");
        assert_eq!(CardStock::of(FEW_LEFT).to_string(), "In stock");
        assert_eq!(CardStock::of(FEW_LEFT - 1).to_string(), "Only 9 left");
        assert_eq!(CardStock::of(1).to_string(), "Only 1 left");
        assert_eq!(CardStock::of(0).to_string(), "Sold out");
        assert_eq!(CardStock::of(-3), CardStock::SoldOut);
    }

    #[test]
    fn only_a_sale_that_changes_the_card_changes_the_catalog() {
        let line = |quantity, stock_after| ReservedLine {
            item_id: ItemId::from_bytes([7; 12]),
            quantity,
            title: "Lamp".into(),
            seller_id: "5f0c2a9e1d3b4c5a6e7f8091".parse().expect("a user id"),
            seller_name: "Kim".into(),
            unit_price_cents: 2_500,
            sold_after: 1,
            stock_after,
        };
        assert!(
            !CardStock::changed_by(&line(1, 50)),
            "50 -> 49: still in stock"
        );
        assert!(
            !CardStock::changed_by(&line(1, FEW_LEFT)),
            "11 -> 10: still in stock"
        );
        assert!(
            CardStock::changed_by(&line(1, FEW_LEFT - 1)),
            "10 -> 9: the count appears"
        );
        assert!(CardStock::changed_by(&line(1, 4)), "5 -> 4 left");
        assert!(CardStock::changed_by(&line(3, 0)), "3 -> sold out");
        assert!(CardStock::changed_by(&line(20, 5)), "25 -> 5 left");
    }

    #[test]
    fn page_count_rounds_up() {
        let page = CatalogPage {
            items: vec![],
            page: 1,
            per_page: 24,
            total: 49,
            search: None,
        };
        assert_eq!(page.page_count(), 3);
        let empty = CatalogPage { total: 0, ..page };
        assert_eq!(empty.page_count(), 1);
    }
}
