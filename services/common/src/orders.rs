//! What a buyer asks for: item ids and quantities, parsed once and shared by the transaction
//! service (which takes the order) and the inventory service (which reserves the stock).

use crate::input::{FieldError, JsonObject};

pub const MAX_LINES: usize = 50;
pub const MAX_QUANTITY: i64 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// 24 hexadecimal digits (a MongoDB ObjectId).
    pub item_id: String,
    pub quantity: i64,
}

/// Reads `lines: [{item_id, quantity}]`: 1 to 50 lines, quantities 1 to 1,000, the same item
/// asked for twice counted once with both quantities. Sorted by item id, so equal orders
/// compare equal however they were written.
pub fn parse_lines(body: &JsonObject) -> Result<Vec<OrderLine>, FieldError> {
    let raw = body.objects("lines")?;
    if raw.is_empty() || raw.len() > MAX_LINES {
        return Err(FieldError::new("lines", "must hold between 1 and 50 items"));
    }
    let mut lines: Vec<OrderLine> = Vec::with_capacity(raw.len());
    for line in raw {
        line.allow_only(&["item_id", "quantity"])?;
        let item_id = line.text("item_id")?.trim().to_ascii_lowercase();
        if item_id.len() != 24 || !item_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FieldError::new(
                "item_id",
                "must be an item id (24 hexadecimal digits)",
            ));
        }
        let quantity = line.whole_number("quantity")?;
        if !(1..=MAX_QUANTITY).contains(&quantity) {
            return Err(FieldError::new("quantity", "must be between 1 and 1,000"));
        }
        match lines.iter_mut().find(|l| l.item_id == item_id) {
            Some(existing) => existing.quantity = (existing.quantity + quantity).min(MAX_QUANTITY),
            None => lines.push(OrderLine { item_id, quantity }),
        }
    }
    lines.sort_by(|a, b| a.item_id.cmp(&b.item_id));
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: serde_json::Value) -> JsonObject {
        match value {
            serde_json::Value::Object(map) => JsonObject(map),
            _ => unreachable!("test bodies are objects"),
        }
    }

    #[test]
    fn lines_are_merged_and_sorted() {
        let a = "bbbbbbbbbbbbbbbbbbbbbbbb";
        let b = "aaaaaaaaaaaaaaaaaaaaaaaa";
        let lines = parse_lines(&body(json!({ "lines": [
            { "item_id": a, "quantity": 1 }, { "item_id": b, "quantity": 2 }, { "item_id": a, "quantity": 3 }
        ] })))
        .unwrap();
        assert_eq!(
            lines,
            vec![
                OrderLine {
                    item_id: b.into(),
                    quantity: 2
                },
                OrderLine {
                    item_id: a.into(),
                    quantity: 4
                },
            ]
        );
    }

    #[test]
    fn bad_lines_name_the_field() {
        let id = "aaaaaaaaaaaaaaaaaaaaaaaa";
        for (value, field) in [
            (json!({}), "lines"),
            (json!({ "lines": [] }), "lines"),
            (json!({ "lines": "x" }), "lines"),
            (
                json!({ "lines": [{ "item_id": "x", "quantity": 1 }] }),
                "item_id",
            ),
            (
                json!({ "lines": [{ "item_id": id, "quantity": 0 }] }),
                "quantity",
            ),
            (
                json!({ "lines": [{ "item_id": id, "quantity": 1001 }] }),
                "quantity",
            ),
            (
                json!({ "lines": [{ "item_id": id, "quantity": 1, "price": 1 }] }),
                "price",
            ),
        ] {
            assert_eq!(
                parse_lines(&body(value.clone())).unwrap_err().field,
                field,
                "{value}"
            );
        }
    }
}
