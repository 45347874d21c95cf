//! The receipt workers' endpoints: a buyer's receipt status, and what operators read.
//!
//! | method and path | answer |
//! | --- | --- |
//! | `GET /v1/receipts/{purchase_id}` (for the signed-in buyer) | [`ReceiptStatus`] |
//! | `GET /v1/stats` | [`WorkerStats`] |
//! | `GET /v1/set-aside` | [`SetAsideRecords`] |

use serde::{Deserialize, Serialize};

/// What one worker did since it started, and which partitions it holds now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerStats {
    /// Receipts emailed.
    pub sent: u64,
    /// Records skipped because their receipt had already gone out.
    pub duplicates_skipped: u64,
    /// Records that can never be sent, set aside.
    pub set_aside: u64,
    /// The Kafka partitions assigned to this worker.
    pub partitions: Vec<i32>,
}

/// A record that can never be sent, kept for an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetAsideRecord {
    /// The Kafka topic it came from.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The record as received.
    pub payload: String,
    /// Why it cannot be sent.
    pub reason: String,
    /// When it was set aside, Unix milliseconds.
    pub at: i64,
}

/// The newest 100 set-aside records, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetAsideRecords {
    /// The records.
    pub records: Vec<SetAsideRecord>,
}

/// Where one purchase's receipt is, as its buyer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// Not emailed yet: the purchase waits in the outbox or in Kafka.
    Queued,
    /// Emailed.
    Emailed {
        /// The address, masked as [`mask_email`] does.
        to: String,
        /// When it was handed to the mail server, Unix milliseconds.
        at: i64,
    },
}

/// "a…@example.com" for "alice@example.com": enough for the buyer to recognise the address,
/// not enough for someone reading over their shoulder.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => match local.chars().next() {
            Some(first) => format!("{first}…@{domain}"),
            None => format!("…@{domain}"),
        },
        None => "…".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_address_keeps_the_first_letter_and_the_domain() {
        assert_eq!(mask_email("alice@example.com"), "a…@example.com");
        assert_eq!(mask_email("émile@exemple.fr"), "é…@exemple.fr");
        assert_eq!(mask_email("@example.com"), "…@example.com");
        assert_eq!(mask_email("no-at-sign"), "…");
    }
}
