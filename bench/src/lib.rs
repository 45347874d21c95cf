//! What the benchmark binaries share.

pub mod shop;

use std::time::Duration;

/// The `q` quantile (0.0–1.0) of sorted samples.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}
