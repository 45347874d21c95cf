//! The rules of an order, shared by the transaction service (which takes it) and the
//! inventory service (which reserves its stock): 1 to 50 lines, quantities 1 to 1,000.

use wire::transaction::OrderLine;

use crate::input::FieldError;

/// The most lines one purchase may have.
pub const MAX_LINES: usize = 50;
/// The most units of one item one purchase may take.
pub const MAX_QUANTITY: i64 = 1_000;

/// Checks `lines` against the rules, counts an item asked for twice once with both
/// quantities, and sorts by item id, so equal orders compare equal however they were written.
pub fn normalise_lines(raw: Vec<OrderLine>) -> Result<Vec<OrderLine>, FieldError> {
    if raw.is_empty() || raw.len() > MAX_LINES {
        return Err(FieldError::new("lines", "must hold between 1 and 50 items"));
    }
    let mut lines: Vec<OrderLine> = Vec::with_capacity(raw.len());
    for line in raw {
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            return Err(FieldError::new("quantity", "must be between 1 and 1,000"));
        }
        match lines.iter_mut().find(|l| l.item_id == line.item_id) {
            Some(existing) => {
                existing.quantity = (existing.quantity + line.quantity).min(MAX_QUANTITY)
            }
            None => lines.push(line),
        }
    }
    lines.sort_by(|a, b| a.item_id.cmp(&b.item_id));
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{BodyRejection, decode};
    use wire::transaction::PurchaseRequest;

    fn parse(json: serde_json::Value) -> Result<Vec<OrderLine>, FieldError> {
        match decode::<PurchaseRequest>(json.to_string().as_bytes()) {
            Ok(request) => normalise_lines(request.lines),
            Err(BodyRejection::Field(err)) => Err(err),
            Err(BodyRejection::NotAnObject(_)) => Err(FieldError::new("body", "not an object")),
        }
    }

    fn line(item_id: &str, quantity: i64) -> OrderLine {
        OrderLine {
            item_id: item_id.parse().expect("an id"),
            quantity,
        }
    }

    #[test]
    fn lines_are_merged_and_sorted() {
        let a = "bbbbbbbbbbbbbbbbbbbbbbbb";
        let b = "aaaaaaaaaaaaaaaaaaaaaaaa";
        let lines = parse(serde_json::json!({ "lines": [
            { "item_id": a, "quantity": 1 }, { "item_id": b, "quantity": 2 }, { "item_id": a, "quantity": 3 }
        ] }))
        .expect("valid lines");
        assert_eq!(lines, vec![line(b, 2), line(a, 4)]);
    }

    #[test]
    fn bad_lines_name_the_field() {
        use serde_json::json;
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
                parse(value.clone()).expect_err("refused").field,
                field,
                "{value}"
            );
        }
    }
}
