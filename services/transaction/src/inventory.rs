//! Reserving stock at the inventory service for a purchase, through the typed
//! [`clients::InventoryClient`], and what its answer means for the purchase.

use clients::{CallContext, CallError, InventoryClient};
use common::identity::Identity;
use common::input::FieldError;
use http::StatusCode;
use wire::PurchaseId;
use wire::inventory::ReservationRequest;
use wire::transaction::{OrderLine, PurchaseLine};

/// An item's numbers right after a reservation, for live pages: (id, sold, stock).
pub type ItemNumbers = (wire::ItemId, i64, i64);

/// What the inventory service did with a reservation.
pub enum Reservation {
    /// The lines, and each item's numbers right after.
    Reserved(Vec<PurchaseLine>, Vec<ItemNumbers>),
    /// Not enough stock (or no such item): the sentence says which.
    Short(String),
    /// A line the inventory service refused as malformed.
    Invalid(FieldError),
}

/// Reserves every line or none, under `reservation_id` (retrying it is safe). An error is
/// an inventory service that could not be used.
pub async fn reserve(
    inventory: &InventoryClient,
    reservation_id: &PurchaseId,
    buyer: &Identity,
    lines: &[OrderLine],
) -> anyhow::Result<Reservation> {
    let request = ReservationRequest {
        reservation_id: reservation_id.clone(),
        lines: lines.to_vec(),
    };
    match inventory
        .reserve(&CallContext::default(), buyer, &request)
        .await
    {
        Ok(reserved) => {
            let numbers = reserved
                .lines
                .iter()
                .map(|l| (l.item_id.clone(), l.sold_after, l.stock_after))
                .collect();
            let lines = reserved
                .lines
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
                .collect();
            Ok(Reservation::Reserved(lines, numbers))
        }
        Err(CallError::Refused { status, body, .. }) if status == StatusCode::CONFLICT => {
            Ok(Reservation::Short(body.error))
        }
        Err(CallError::Refused { status, body, .. })
            if status == StatusCode::UNPROCESSABLE_ENTITY && body.field.is_some() =>
        {
            let field = body.field.unwrap_or_default();
            Ok(Reservation::Invalid(FieldError::new(field, body.error)))
        }
        Err(err) => anyhow::bail!("a reservation failed: {err}"),
    }
}
