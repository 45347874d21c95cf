//! Slows down password guessing, in Redis so that every copy of the service counts together:
//! failed logins per account lock it for a time that doubles with each further failure, and
//! login attempts per client address are limited per minute. Accounts are counted by the
//! email typed, whether or not it exists, so the lockout reveals nothing about accounts.

use std::time::Duration;

use fred::prelude::{Client, Expiration, KeysInterface};

#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failures in a row before the account locks.
    pub failures_before_lock: i64,
    /// The first lock's length; each further failure doubles it, up to `max_lock`.
    pub first_lock: Duration,
    pub max_lock: Duration,
    /// Login attempts per client address per minute.
    pub attempts_per_address_per_minute: i64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            failures_before_lock: 5,
            first_lock: Duration::from_secs(30),
            max_lock: Duration::from_secs(15 * 60),
            attempts_per_address_per_minute: 30,
        }
    }
}

#[derive(Clone)]
pub struct LoginGuard {
    redis: Client,
    limits: LoginLimits,
}

/// Why a login attempt may not even be checked, and for how long.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: Duration,
}

impl LoginGuard {
    pub fn new(redis: Client, limits: LoginLimits) -> Self {
        Self { redis, limits }
    }

    pub async fn admit(
        &self,
        email_key: &str,
        client_address: &str,
    ) -> Result<Result<(), Refused>, fred::error::Error> {
        let minute = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() / 60)
            .unwrap_or_default();
        let address_key = format!("login-attempts:{client_address}:{minute}");
        let attempts: i64 = self.redis.incr(&address_key).await?;
        if attempts == 1 {
            self.redis.expire::<(), _>(&address_key, 60, None).await?;
        }
        if attempts > self.limits.attempts_per_address_per_minute {
            return Ok(Err(Refused {
                retry_after: Duration::from_secs(60),
            }));
        }
        let locked_for_ms: i64 = self.redis.pttl(lock_key(email_key)).await?;
        if locked_for_ms > 0 {
            return Ok(Err(Refused {
                retry_after: Duration::from_millis(locked_for_ms as u64),
            }));
        }
        Ok(Ok(()))
    }

    pub async fn record_failure(&self, email_key: &str) -> Result<(), fred::error::Error> {
        let failures_key = failures_key(email_key);
        let failures: i64 = self.redis.incr(&failures_key).await?;
        // Failures are forgotten a day after the last one.
        self.redis
            .expire::<(), _>(&failures_key, 24 * 3600, None)
            .await?;
        if let Some(lock) = lock_length(failures, &self.limits) {
            let ms = lock.as_millis().clamp(1, i64::MAX as u128) as i64;
            self.redis
                .set::<(), _, _>(
                    lock_key(email_key),
                    "1",
                    Some(Expiration::PX(ms)),
                    None,
                    false,
                )
                .await?;
        }
        Ok(())
    }

    pub async fn record_success(&self, email_key: &str) -> Result<(), fred::error::Error> {
        self.redis
            .del::<(), _>(vec![failures_key(email_key), lock_key(email_key)])
            .await
    }
}

fn failures_key(email_key: &str) -> String {
    format!("login-failures:{email_key}")
}

fn lock_key(email_key: &str) -> String {
    format!("login-lock:{email_key}")
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
