//! The services' HTTP answers as the tests read them: a status and a JSON body.

use serde_json::Value;

/// Sends `request` and returns the status and the JSON body (`Value::Null` when the body is
/// not JSON).
pub async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the request was sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Asserts that an answer is a 422 naming `field` as the one at fault (the body is shown
/// otherwise).
pub fn assert_invalid(status: u16, answer: &Value, field: &str) {
    assert_eq!(
        (status, answer["field"].as_str()),
        (422, Some(field)),
        "{answer}"
    );
}

/// The string `field` of each element of the JSON array `list`, e.g. the titles of a page of
/// items; panics when `list` is not an array.
pub fn strings<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap_or_else(|| panic!("a JSON array: {list}"))
        .iter()
        .filter_map(|element| element[field].as_str())
        .collect()
}

/// Asserts the outcome of concurrent attempts to buy (or reserve) one unit each of an item
/// that had `in_stock` units left, more attempts than that: exactly `in_stock` succeeded
/// (201), every other one was told with a 409 that the item is sold out, and `item`, read
/// afterwards, has none left and `in_stock` more sold (it had sold none before).
pub fn assert_sold_out(answers: &[(u16, Value)], item: &Value, in_stock: usize) {
    let succeeded = answers.iter().filter(|(status, _)| *status == 201).count();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 409)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(succeeded, in_stock);
    assert_eq!(
        refused.len(),
        answers.len() - in_stock,
        "every other buyer gets a clear answer"
    );
    let title = item["title"].as_str().expect("the item's title");
    let sold_out = format!("{title} is sold out");
    assert!(
        refused.iter().all(|body| body["error"] == sold_out),
        "{:?}",
        refused.first()
    );
    let sold = i64::try_from(in_stock).expect("a stock count");
    assert_eq!(
        (item["stock"].as_i64(), item["sold"].as_i64()),
        (Some(0), Some(sold))
    );
}
