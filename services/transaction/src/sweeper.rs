//! No purchase stays pending. A purchase whose process died between creating it and
//! settling it (after reserving stock, or before) is settled by a sweeper once it has been
//! pending for longer than `PENDING_PURCHASE_BOUND_SECS`: completed when its stock can be
//! had (the reservation under its id is reused if it was made), rejected otherwise. Every
//! copy of the service sweeps; a lease on each purchase lets only one copy settle it.

use std::time::Duration;

use common::identity::Identity;
use wire::transaction::OrderLine;

use crate::AppState;
use crate::error::ApiError;
use crate::settle::settle;
use crate::transactions::TransactionDocument;

/// How long one copy's claim on a pending purchase holds: longer than settling takes.
const LEASE: Duration = Duration::from_secs(30);

/// Sweeps for purchases pending longer than `bound`, for as long as the service runs.
pub async fn sweep(state: AppState, bound: Duration) {
    let mut ticks = tokio::time::interval(
        (bound / 2).clamp(Duration::from_millis(200), Duration::from_secs(5)),
    );
    loop {
        ticks.tick().await;
        loop {
            match state.transactions.claim_stale(bound, LEASE).await {
                Ok(Some(stale)) => settle_stale(&state, stale).await,
                Ok(None) => break,
                Err(err) => {
                    tracing::warn!(%err, "cannot look for pending purchases now");
                    break;
                }
            }
        }
    }
}

async fn settle_stale(state: &AppState, stale: TransactionDocument) {
    let buyer = Identity {
        user_id: stale.buyer_id.clone(),
        display_name: stale.buyer_name.clone(),
        email: stale.buyer_email.clone(),
    };
    let lines: Vec<OrderLine> = stale
        .wanted
        .iter()
        .map(|line| OrderLine {
            item_id: line.item_id.clone(),
            quantity: line.quantity,
        })
        .collect();
    let outcome = match settle(state, &stale, &buyer, &lines).await {
        Ok(_) => "completed",
        Err(ApiError::Rejected(_)) => "rejected",
        Err(ApiError::Field(err)) => {
            // Nothing was reserved for a malformed line: refuse the purchase for good.
            match state.transactions.reject(stale.id, &err.message).await {
                Ok(_) => "rejected",
                Err(err) => {
                    tracing::warn!(%err, transaction_id = %stale.id, "cannot reject a pending purchase yet");
                    return;
                }
            }
        }
        Err(err) => {
            // The claim runs out and the next sweep tries again.
            tracing::warn!(error = %err, transaction_id = %stale.id, "cannot settle a pending purchase yet");
            return;
        }
    };
    metrics::counter!("pending_purchases_swept_total", "outcome" => outcome).increment(1);
    tracing::info!(transaction_id = %stale.id, outcome, "settled a purchase left pending");
}
