//! Sessions live in Redis: a random 256-bit id → the user, with an idle timeout (renewed on
//! every use) and an absolute timeout (never renewed). Every copy of the service sees the same
//! sessions, and a session ends by itself when its key expires.
//!
//! Redis holds only the SHA-256 of each id: a copy of Redis's data yields no cookie that
//! works. (A fast hash is enough: the id is 256 random bits, not a password.)

use common::infra::redis::publish_live;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wire::UserId;
use wire::events::LiveEvent;
use wire::redis_channels;

use fred::prelude::{Client, Expiration, KeysInterface, SetsInterface};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

#[derive(Serialize, Deserialize)]
struct SessionRecord {
    user_id: UserId,
    /// Unix time in milliseconds.
    created_at: u64,
}

#[derive(Clone)]
pub struct Sessions {
    redis: Client,
    policy: SessionPolicy,
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis().try_into().unwrap_or(u64::MAX)
}

/// What Redis stores in place of the id itself.
fn fingerprint(id: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn session_key(id: &str) -> String {
    format!("session:{}", fingerprint(id))
}

fn user_sessions_key(user_id: &UserId) -> String {
    format!("user-sessions:{user_id}")
}

/// Session ids are 64 lowercase hex digits; anything else is not looked up at all.
fn is_well_formed(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Sessions {
    pub fn new(redis: Client, policy: SessionPolicy) -> Self {
        Self { redis, policy }
    }

    /// A new session for `user_id` (a fresh id at every login, so an id known before login
    /// is worth nothing after it).
    pub async fn create(&self, user_id: &UserId) -> Result<String, fred::error::Error> {
        let id: String = rand::random::<[u8; 32]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let record = serde_json::to_string(&SessionRecord {
            user_id: user_id.clone(),
            created_at: now_millis(),
        })
        .unwrap_or_default();
        let idle = millis(self.policy.idle.min(self.policy.absolute)).max(1) as i64;
        self.redis
            .set::<(), _, _>(
                session_key(&id),
                record,
                Some(Expiration::PX(idle)),
                None,
                false,
            )
            .await?;
        let index = user_sessions_key(user_id);
        self.redis
            .sadd::<(), _, _>(&index, fingerprint(&id))
            .await?;
        self.redis
            .expire::<(), _>(&index, self.policy.absolute.as_secs().max(1) as i64, None)
            .await?;
        Ok(id)
    }

    /// The user of a live session, renewing its idle timeout; `None` when unknown or expired.
    pub async fn resolve(&self, id: &str) -> Result<Option<UserId>, fred::error::Error> {
        if !is_well_formed(id) {
            return Ok(None);
        }
        let key = session_key(id);
        // The read and the usual renewal in one round trip; a renewal of a missing key does
        // nothing, and one past the absolute limit is corrected below.
        let idle = i64::try_from(millis(self.policy.idle))
            .unwrap_or(i64::MAX)
            .max(1);
        let both = self.redis.pipeline();
        both.get::<(), _>(&key).await?;
        both.pexpire::<(), _>(&key, idle, None).await?;
        let (raw, _renewed): (Option<String>, i64) = both.all().await?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        let Ok(record) = serde_json::from_str::<SessionRecord>(&raw) else {
            return Ok(None);
        };
        let age = now_millis().saturating_sub(record.created_at);
        let absolute = millis(self.policy.absolute);
        if age >= absolute {
            self.redis.del::<(), _>(&key).await?;
            return Ok(None);
        }
        let left = i64::try_from(absolute - age).unwrap_or(i64::MAX).max(1);
        if left < idle {
            self.redis.pexpire::<(), _>(&key, left, None).await?;
        }
        Ok(Some(record.user_id))
    }

    /// Ends the session; returns whose it was. Ending an unknown session is not an error.
    pub async fn end(&self, id: &str) -> Result<Option<UserId>, fred::error::Error> {
        if !is_well_formed(id) {
            return Ok(None);
        }
        let key = session_key(id);
        let user_id = self
            .redis
            .get::<Option<String>, _>(&key)
            .await?
            .and_then(|raw| serde_json::from_str::<SessionRecord>(&raw).ok())
            .map(|record| record.user_id);
        self.redis.del::<(), _>(&key).await?;
        if let Some(user_id) = &user_id {
            self.redis
                .srem::<(), _, _>(user_sessions_key(user_id), fingerprint(id))
                .await?;
            // The notification service closes the user's live sockets; those of their other
            // sessions reconnect by themselves and are let in again.
            publish_live(
                &self.redis,
                &redis_channels::user(user_id),
                &LiveEvent::SignedOut,
            )
            .await;
        }
        Ok(user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::{fingerprint, is_well_formed, session_key};

    #[test]
    fn only_64_hex_digits_are_session_ids() {
        assert!(is_well_formed(&"a1".repeat(32)));
        assert!(!is_well_formed("abc"));
        assert!(!is_well_formed(&"A1".repeat(32)));
        assert!(!is_well_formed(&format!("{}*", "a".repeat(63))));
    }

    #[test]
    fn redis_keys_hold_no_session_id() {
        let id = "a1".repeat(32);
        assert!(!session_key(&id).contains(&id));
        assert_eq!(fingerprint(&id).len(), 64);
        assert_ne!(fingerprint(&id), fingerprint(&"b2".repeat(32)));
    }
}
