//! The inventory service as the transaction service sees it: reserve stock for a purchase.

use std::time::{Duration, SystemTime};

use common::identity::{Caller, IDENTITY_HEADER, Identity, IdentityKey};
use common::input::FieldError;
use common::orders::OrderLine;
use common::types::PurchaseLine;
use serde::Deserialize;
use serde_json::json;

#[derive(Clone)]
pub struct InventoryClient {
    http: reqwest::Client,
    base_url: String,
    identity: IdentityKey,
}

pub enum Reservation {
    /// The lines, and each item's (id, sold, stock) right after.
    Reserved(Vec<PurchaseLine>, Vec<(String, i64, i64)>),
    /// Not enough stock (or no such item): the sentence says which.
    Short(String),
    Invalid(FieldError),
}

#[derive(Deserialize)]
struct ReservedLine {
    item_id: String,
    quantity: i64,
    title: String,
    seller_id: String,
    seller_name: String,
    unit_price_cents: i64,
    sold_after: i64,
    stock_after: i64,
}

#[derive(Deserialize)]
struct Answer {
    lines: Option<Vec<ReservedLine>>,
    error: Option<String>,
    field: Option<String>,
}

impl InventoryClient {
    pub fn new(base_url: String, identity: IdentityKey) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .unwrap_or_default();
        Self {
            http,
            base_url,
            identity,
        }
    }

    /// Reserves every line or none, under `reservation_id` (retrying it is safe).
    pub async fn reserve(
        &self,
        reservation_id: &str,
        buyer: &Identity,
        lines: &[OrderLine],
    ) -> anyhow::Result<Reservation> {
        let body = json!({
            "reservation_id": reservation_id,
            "lines": lines.iter().map(|l| json!({ "item_id": l.item_id, "quantity": l.quantity })).collect::<Vec<_>>(),
        });
        let request = self
            .http
            .post(format!("{}/v1/reservations", self.base_url))
            .header(
                IDENTITY_HEADER,
                self.identity
                    .sign_as(Caller::Transaction, Some(buyer), None, SystemTime::now()),
            )
            .json(&body);
        let response = common::serve::outgoing_headers()
            .into_iter()
            .fold(request, |request, (name, value)| {
                request.header(name, value)
            })
            .send()
            .await?;
        let status = response.status();
        let answer: Answer = response.json().await?;
        match (status.as_u16(), answer) {
            (
                201,
                Answer {
                    lines: Some(lines), ..
                },
            ) => {
                let numbers = lines
                    .iter()
                    .map(|l| (l.item_id.clone(), l.sold_after, l.stock_after))
                    .collect();
                Ok(Reservation::Reserved(
                    lines
                        .into_iter()
                        .map(|l| PurchaseLine {
                            line_total_cents: l.unit_price_cents * l.quantity,
                            item_id: l.item_id,
                            title: l.title,
                            seller_id: l.seller_id,
                            seller_name: l.seller_name,
                            unit_price_cents: l.unit_price_cents,
                            quantity: l.quantity,
                        })
                        .collect(),
                    numbers,
                ))
            }
            (
                409,
                Answer {
                    error: Some(error), ..
                },
            ) => Ok(Reservation::Short(error)),
            (
                422,
                Answer {
                    error: Some(error),
                    field: Some(field),
                    ..
                },
            ) => Ok(Reservation::Invalid(FieldError::new(field, error))),
            (status, _) => anyhow::bail!("inventory answered {status} to a reservation"),
        }
    }
}
