//! Settling a pending purchase: reserve its stock at the inventory service (safe to repeat
//! under the purchase's id), then complete it or reject it, once. The purchase route does it
//! while the buyer waits; the sweeper does it for purchases whose process died half-way.

use common::identity::Identity;
use wire::PurchaseId;
use wire::transaction::{OrderLine, PurchaseView};

use crate::AppState;
use crate::error::ApiError;
use crate::inventory::{self, Reservation};
use crate::live_events;
use crate::transactions::TransactionDocument;

/// Reserves `lines` for `buyer` under `transaction`'s id and records the outcome: the
/// completed purchase (queued for Kafka), or why it was refused (not enough stock: rejected for good; a line
/// the inventory service finds malformed: the field error).
pub async fn settle(
    state: &AppState,
    transaction: &TransactionDocument,
    buyer: &Identity,
    lines: &[OrderLine],
) -> Result<PurchaseView, ApiError> {
    let reservation_id = PurchaseId::from_bytes(transaction.id.bytes());
    let reservation = inventory::reserve(&state.inventory, &reservation_id, buyer, lines)
        .await
        .map_err(ApiError::Unavailable)?;
    match reservation {
        Reservation::Reserved(purchased, numbers) => {
            // Queued and entered in the history and sales first (both at once; each may be
            // repeated): a purchase completed but never queued would never get its receipt,
            // while one queued but not yet completed is completed by a retry or the sweeper
            // (its reservation's outcome stands), which queues and enters it again harmlessly.
            let completed = transaction.clone().completed_with(purchased.clone());
            futures::try_join!(
                state.outbox.queue(transaction.id, completed.event()),
                state.ledgers.record(&completed),
            )?;
            let (stored, completed_now) = state
                .transactions
                .complete(transaction.id, purchased)
                .await?;
            if completed_now {
                metrics::counter!("purchases_total", "outcome" => "completed").increment(1);
                metrics::counter!("purchase_revenue_cents_total")
                    .increment(stored.total_cents.max(0) as u64);
                state.relay_wake.notify_one();
                tracing::info!(transaction_id = %stored.id, total_cents = stored.total_cents, "purchase completed");
                live_events::publish_purchase(&state.redis, &stored, &numbers);
            }
            Ok(stored.view())
        }
        Reservation::Short(reason) => {
            metrics::counter!("purchases_total", "outcome" => "rejected").increment(1);
            let stored = state.transactions.reject(transaction.id, &reason).await?;
            Err(ApiError::Rejected(stored.rejection.unwrap_or(reason)))
        }
        Reservation::Invalid(field) => Err(field.into()),
    }
}
