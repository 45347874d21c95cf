//! argon2id with the crate's defaults (m = 19 MiB, t = 2, p = 1: OWASP's recommendation),
//! always on a blocking thread so hashing never stalls the async workers.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::domain::Password;

pub async fn hash(password: Password) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await?
}

/// Whether `password` matches `stored`. With `stored = None` (unknown email) it checks
/// against a fixed dummy hash, so the answer takes as long as for a real account.
pub async fn verify(
    password: String,
    stored: Option<String>,
    dummy: &'static str,
) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let is_real = stored.is_some();
        let stored = stored.unwrap_or_else(|| dummy.to_owned());
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(is_real && matches)
    })
    .await?
}

/// A hash of a random password, made once at start-up, for `verify` of unknown emails.
pub async fn dummy_hash() -> anyhow::Result<&'static str> {
    let random: String = (0..32)
        .map(|_| char::from(b'a' + rand::random_range(0..26u8)))
        .collect();
    let hash = hash(Password::parse(random).map_err(|e| anyhow::anyhow!(e.to_string()))?).await?;
    Ok(Box::leak(hash.into_boxed_str()))
}
