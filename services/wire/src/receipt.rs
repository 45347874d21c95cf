//! The receipt workers' operator endpoints.
//!
//! | method and path | answer |
//! | --- | --- |
//! | `GET /v1/stats` | [`WorkerStats`] |
//! | `GET /v1/set-aside` | [`SetAsideRecords`] |

use serde::{Deserialize, Serialize};

/// What one worker did since it started, and which partitions it holds now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct SetAsideRecords {
    /// The records.
    pub records: Vec<SetAsideRecord>,
}
