//! Slows down password guessing and account spam, in Redis so that every copy of the service
//! counts together.
//!
//! - Failed logins are counted per account **and client address**: five in a row from one
//!   address lock that address out of that account for a time that doubles with each further
//!   failure. An attacker's failures never lock the owner out from their own address.
//! - Failures per account from all addresses together only *slow* it down: past
//!   `account_failures_before_slowdown`, every attempt on the account waits `slowdown` before
//!   the password is checked, so a botnet guesses slowly and the owner still gets in.
//! - Login attempts and registrations per client address are limited per minute and per hour.
//!
//! Accounts are counted by the email typed, whether or not it exists, so the lockout reveals
//! nothing about which accounts exist.

use std::time::Duration;

use fred::prelude::{Client, Expiration, KeysInterface};

/// How hard sign-in and registration are limited.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failures in a row from one address before that address is locked out of the account.
    pub failures_before_lock: i64,
    /// The first lock's length; each further failure doubles it, up to `max_lock`.
    pub first_lock: Duration,
    /// The longest lock.
    pub max_lock: Duration,
    /// Failures on one account from every address before each attempt is slowed down.
    pub account_failures_before_slowdown: i64,
    /// How long each attempt on such an account waits.
    pub slowdown: Duration,
    /// Login attempts per client address per minute.
    pub attempts_per_address_per_minute: i64,
    /// New accounts per client address per hour.
    pub registrations_per_address_per_hour: i64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            failures_before_lock: 5,
            first_lock: Duration::from_secs(30),
            max_lock: Duration::from_secs(15 * 60),
            account_failures_before_slowdown: 20,
            slowdown: Duration::from_secs(1),
            attempts_per_address_per_minute: 30,
            registrations_per_address_per_hour: 20,
        }
    }
}

/// Counts attempts in Redis and says whether the next one may go ahead.
#[derive(Clone)]
pub struct LoginGuard {
    redis: Client,
    limits: LoginLimits,
}

/// Why a login attempt may not even be checked, and for how long.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    /// When trying again makes sense.
    pub retry_after: Duration,
}

/// Failures are forgotten a day after the last one.
const FAILURE_MEMORY_SECS: i64 = 24 * 3600;

impl LoginGuard {
    /// A guard with these limits over `redis`.
    pub fn new(redis: Client, limits: LoginLimits) -> Self {
        Self { redis, limits }
    }

    /// Counts one event in the window of `window_secs` it falls in; the count so far and the
    /// seconds left in the window.
    async fn count_in_window(
        &self,
        prefix: &str,
        client_address: &str,
        window_secs: u64,
    ) -> Result<(i64, u64), fred::error::Error> {
        common::infra::redis::count_in_window(&self.redis, prefix, client_address, window_secs)
            .await
    }

    /// Whether one more account may be registered from `client_address` this hour.
    pub async fn admit_registration(
        &self,
        client_address: &str,
    ) -> Result<Result<(), Refused>, fred::error::Error> {
        let (count, left) = self
            .count_in_window("registrations", client_address, 3600)
            .await?;
        if count > self.limits.registrations_per_address_per_hour {
            return Ok(Err(Refused {
                retry_after: Duration::from_secs(left.max(1)),
            }));
        }
        Ok(Ok(()))
    }

    /// Whether a login attempt on `email_key` from `client_address` may be checked. Waits out
    /// the account's slowdown first when it is under attack.
    pub async fn admit(
        &self,
        email_key: &str,
        client_address: &str,
    ) -> Result<Result<(), Refused>, fred::error::Error> {
        let (attempts, left) = self
            .count_in_window("login-attempts", client_address, 60)
            .await?;
        if attempts > self.limits.attempts_per_address_per_minute {
            return Ok(Err(Refused {
                retry_after: Duration::from_secs(left.max(1)),
            }));
        }
        let locked_for_ms: i64 = self.redis.pttl(lock_key(email_key, client_address)).await?;
        if locked_for_ms > 0 {
            return Ok(Err(Refused {
                retry_after: Duration::from_millis(locked_for_ms as u64),
            }));
        }
        let account_failures: Option<i64> = self.redis.get(account_failures_key(email_key)).await?;
        if account_failures.unwrap_or(0) >= self.limits.account_failures_before_slowdown {
            tokio::time::sleep(self.limits.slowdown).await;
        }
        Ok(Ok(()))
    }

    /// Counts a wrong password for the account from this address (and for the account).
    pub async fn record_failure(
        &self,
        email_key: &str,
        client_address: &str,
    ) -> Result<(), fred::error::Error> {
        let account_key = account_failures_key(email_key);
        self.redis.incr::<i64, _>(&account_key).await?;
        self.redis
            .expire::<(), _>(&account_key, FAILURE_MEMORY_SECS, None)
            .await?;
        let pair_key = failures_key(email_key, client_address);
        let failures: i64 = self.redis.incr(&pair_key).await?;
        self.redis
            .expire::<(), _>(&pair_key, FAILURE_MEMORY_SECS, None)
            .await?;
        if let Some(lock) = lock_length(failures, &self.limits) {
            let ms = lock.as_millis().clamp(1, i64::MAX as u128) as i64;
            self.redis
                .set::<(), _, _>(
                    lock_key(email_key, client_address),
                    "1",
                    Some(Expiration::PX(ms)),
                    None,
                    false,
                )
                .await?;
        }
        Ok(())
    }

    /// The owner got in: their address starts afresh, and so does the account.
    pub async fn record_success(
        &self,
        email_key: &str,
        client_address: &str,
    ) -> Result<(), fred::error::Error> {
        self.redis
            .del::<(), _>(vec![
                failures_key(email_key, client_address),
                lock_key(email_key, client_address),
                account_failures_key(email_key),
            ])
            .await
    }
}

fn failures_key(email_key: &str, client_address: &str) -> String {
    format!("login-failures:{email_key}:{client_address}")
}

fn account_failures_key(email_key: &str) -> String {
    format!("login-account-failures:{email_key}")
}

fn lock_key(email_key: &str, client_address: &str) -> String {
    format!("login-lock:{email_key}:{client_address}")
}

/// How long the account locks after its `failures`-th failure in a row, if at all.
fn lock_length(failures: i64, limits: &LoginLimits) -> Option<Duration> {
    let beyond = failures - limits.failures_before_lock;
    if beyond < 0 {
        return None;
    }
    let factor = 1u32.checked_shl(beyond.min(20) as u32).unwrap_or(u32::MAX);
    Some(
        limits
            .first_lock
            .saturating_mul(factor)
            .min(limits.max_lock),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_starts_at_the_fifth_failure_and_doubles_up_to_the_cap() {
        let limits = LoginLimits::default();
        assert_eq!(lock_length(4, &limits), None);
        assert_eq!(lock_length(5, &limits), Some(Duration::from_secs(30)));
        assert_eq!(lock_length(6, &limits), Some(Duration::from_secs(60)));
        assert_eq!(lock_length(7, &limits), Some(Duration::from_secs(120)));
        assert_eq!(lock_length(40, &limits), Some(Duration::from_secs(900)));
    }
}
