//! The cart, kept by the transaction service in Redis: one per signed-in user (30 days after
//! its last change) and one per guest browser (7 days), merged into the user's at log in.
//!
//! | method and path | request | answer |
//! | --- | --- | --- |
//! | `GET /v1/cart` | | [`CartView`] |
//! | `POST /v1/cart/lines` | [`AddToCart`] | [`CartView`]; the quantity adds to the line's |
//! | `PUT /v1/cart/lines/{item_id}` | [`SetQuantity`] | [`CartView`] |
//! | `DELETE /v1/cart/lines/{item_id}` | | [`CartView`] |
//! | `POST /v1/cart/merge` | [`MergeGuestCart`] | [`CartView`]; the guest cart is gone after |
//! | `DELETE /v1/cart` | | [`CartView`], empty (after a checkout) |
//!
//! Those act for the signed-in user. A guest's cart has the same routes below
//! `/v1/guest-carts/{guest_cart_id}` (`GET …`, `POST …/lines`, `PUT` and `DELETE
//! …/lines/{item_id}`), which only the gateway may call: it holds the guest's cookie.
//! Past [`MAX_LINES`] lines or outside 1 to [`MAX_QUANTITY`] the answer is a 422 naming the
//! field.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{ItemId, NotAnId};

/// Lines a cart holds at most.
pub const MAX_LINES: usize = 50;

/// Units of one item a line holds at most.
pub const MAX_QUANTITY: i64 = 99;

/// A guest browser's cart: 32 random hexadecimal digits, made by the gateway and kept in the
/// guest's cookie. Only a well-formed id parses, so none can change a URL's path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GuestCartId(String);

impl GuestCartId {
    /// Reads an id sent by anyone; anything but 32 hexadecimal digits is refused.
    pub fn parse(raw: &str) -> Result<Self, NotAnId> {
        let text = raw.trim();
        if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(NotAnId {
                kind: "guest cart",
                digits: 32,
            })
        }
    }

    /// A new id from 16 random bytes.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The 32 lower-case hexadecimal digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GuestCartId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for GuestCartId {
    type Error = NotAnId;
    fn try_from(raw: String) -> Result<Self, NotAnId> {
        Self::parse(&raw)
    }
}

#[cfg(feature = "openapi")]
crate::openapi::text_schema!(
    GuestCartId,
    "A guest browser's cart: 32 hexadecimal digits.",
    "^[0-9a-fA-F]{32}$",
    "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
);

impl From<GuestCartId> for String {
    fn from(id: GuestCartId) -> String {
        id.0
    }
}

/// Puts `quantity` more of an item in the cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddToCart {
    /// The item.
    pub item_id: ItemId,
    /// 1 to [`MAX_QUANTITY`]; the line then holds at most [`MAX_QUANTITY`].
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 99))]
    pub quantity: i64,
}

/// A line's new quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    /// 1 to [`MAX_QUANTITY`] (removing a line is `DELETE`).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 99))]
    pub quantity: i64,
}

/// The guest cart to fold into the signed-in user's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MergeGuestCart {
    /// The cart the browser had before logging in.
    pub guest_cart_id: GuestCartId,
}

/// One line of a cart, with the item as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CartLineView {
    /// The item.
    pub item_id: ItemId,
    /// Its title now (or when added, if the item is gone).
    pub title: String,
    /// Units wanted.
    pub quantity: i64,
    /// The price of one unit now.
    pub unit_price_cents: i64,
    /// The price of one unit when it was put in the cart: different from
    /// `unit_price_cents` when the seller changed it since.
    pub price_when_added_cents: i64,
    /// Units left now.
    pub stock: i64,
    /// False when the seller took the item off sale, or it is gone.
    pub available: bool,
    /// `unit_price_cents × quantity`.
    pub line_total_cents: i64,
}

/// A cart: its lines in the order they were first added, and what they come to now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CartView {
    /// The lines.
    pub lines: Vec<CartLineView>,
    /// Units in all (the header's count).
    pub units: i64,
    /// The sum of the lines at today's prices.
    pub total_cents: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_thirty_two_hex_digits_are_a_guest_cart() {
        let id = GuestCartId::from_random([0xab; 16]);
        assert_eq!(GuestCartId::parse(id.as_str()), Ok(id));
        assert!(GuestCartId::parse("../../v1/cart").is_err());
        assert!(GuestCartId::parse(&"a".repeat(31)).is_err());
        assert_eq!(
            GuestCartId::parse("x").unwrap_err().to_string(),
            "must be a guest cart id (32 hexadecimal digits)"
        );
    }
}
