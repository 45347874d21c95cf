//! What the benchmark binaries share.

pub mod shop;

use std::time::Duration;

use anyhow::Context;

/// The `q` quantile (0.0–1.0) of sorted samples.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// The services' signing secret: `INTERNAL_AUTH_SECRET`, else the one `scripts/start.sh` made.
pub fn signing_key() -> anyhow::Result<common::identity::IdentityKey> {
    if let Ok(key) = common::identity::IdentityKey::from_env() {
        return Ok(key);
    }
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../.local/internal-auth-secret"
    );
    let secret = std::fs::read_to_string(file)
        .with_context(|| format!("INTERNAL_AUTH_SECRET is not set and {file} is missing"))?;
    Ok(common::identity::IdentityKey::new(
        secret.trim().to_owned().into(),
    )?)
}
