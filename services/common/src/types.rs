//! What services, the gateway and the browser send each other, defined once.
//! Money is integer cents; times are Unix milliseconds.

use serde::{Deserialize, Serialize};

/// A signed-in user as others may see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub display_name: String,
}

/// One item for sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemView {
    pub id: String,
    pub seller_id: String,
    pub seller_name: String,
    pub title: String,
    pub description: String,
    pub price_cents: i64,
    pub stock: i64,
    pub sold: i64,
    pub image_url: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One page of the catalog, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogPage {
    pub items: Vec<ItemView>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
    pub search: Option<String>,
}

impl CatalogPage {
    pub fn page_count(&self) -> u64 {
        self.total.div_ceil(self.per_page.max(1)).max(1)
    }
}

/// One line of a purchase, as it was at the moment of buying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseLine {
    pub item_id: String,
    pub title: String,
    pub seller_id: String,
    pub seller_name: String,
    pub unit_price_cents: i64,
    pub quantity: i64,
    pub line_total_cents: i64,
}

/// A buyer's purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseView {
    pub id: String,
    pub lines: Vec<PurchaseLine>,
    pub total_cents: i64,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// One line a seller sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleView {
    pub transaction_id: String,
    pub item_id: String,
    pub title: String,
    pub buyer_name: String,
    pub quantity: i64,
    pub amount_cents: i64,
    /// Unix milliseconds.
    pub at: i64,
}

/// A seller's sales, newest first, with totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesReport {
    pub sales: Vec<SaleView>,
    pub total_quantity: i64,
    pub total_cents: i64,
}

/// "12.50" for 1250 cents; a currency sign is the page's business.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}.{:02}", cents % 100)
}

/// Reads an amount typed by a person ("12", "12.5", "1,299.99") as integer cents, without
/// ever going through floating point.
pub fn parse_money(text: &str) -> Result<i64, &'static str> {
    const HINT: &str = "must be an amount like 12.50";
    let text = text.trim().trim_start_matches('$').replace(',', "");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(HINT);
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return Err(HINT);
    }
    if fraction.len() > 2 {
        return Err("must have at most two decimals");
    }
    if whole.len() > 12 {
        return Err("is too large");
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| HINT)?
    };
    let cents: i64 = format!("{fraction:0<2}").parse().map_err(|_| HINT)?;
    Ok(whole * 100 + cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_amounts_become_exact_cents() {
        assert_eq!(parse_money("12"), Ok(1200));
        assert_eq!(parse_money("12.5"), Ok(1250));
        assert_eq!(parse_money(" $1,299.99 "), Ok(129_999));
        assert_eq!(parse_money(".05"), Ok(5));
        assert_eq!(parse_money("0.10"), Ok(10));
        for bad in [
            "",
            ".",
            "abc",
            "-5",
            "1.234",
            "1e3",
            "12.5.0",
            "9999999999999",
        ] {
            assert!(parse_money(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cents_are_shown_with_two_decimals_and_grouped_thousands() {
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(1250), "12.50");
        assert_eq!(format_cents(100_000_000), "1,000,000.00");
        assert_eq!(format_cents(-1999), "-19.99");
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
