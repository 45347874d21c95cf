//! Cache-aside for item and catalog reads in Redis.
//!
//! Keys carry a generation number that every write bumps (`item-gen:{id}`, `catalog-gen`), so a
//! write makes every older cached copy unreachable at once, and a slow reader that fetched the
//! old document before the write can only store it under the old, dead generation. Entries
//! also expire after a TTL. When Redis is down every cache call gives up within a few
//! milliseconds and the read goes straight to MongoDB; the client reconnects by itself. A write
//! made while Redis was away is remembered and invalidated before this copy uses the cache
//! again (other copies' entries end with the TTL at the latest).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fred::prelude::{Client, ClientLike, Expiration, KeysInterface};
use serde::Serialize;
use serde::de::DeserializeOwned;

const CALL_TIMEOUT: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub struct Cache {
    redis: Client,
    ttl: Duration,
    /// Keeps deployments (and test databases) that share one Redis apart.
    namespace: String,
    stats: Arc<CacheStats>,
    /// Generations whose bump failed while Redis was away; bumped before the cache is used again.
    pending: Arc<Mutex<HashSet<String>>>,
}

#[derive(Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl Cache {
    pub fn new(redis: Client, ttl: Duration, namespace: &str) -> Self {
        Self {
            redis,
            ttl,
            namespace: namespace.to_owned(),
            stats: Arc::default(),
            pending: Arc::default(),
        }
    }

    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.hits.load(Ordering::Relaxed),
            self.stats.misses.load(Ordering::Relaxed),
        )
    }

    /// Runs one Redis call unless Redis is known to be away, bounded by a short timeout.
    async fn call<T, F>(&self, call: F) -> Option<T>
    where
        F: Future<Output = Result<T, fred::error::Error>>,
    {
        if !self.redis.is_connected() {
            return None;
        }
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(err)) => {
                tracing::debug!(%err, "cache call failed; reading from MongoDB");
                None
            }
            Err(_) => None,
        }
    }

    async fn generation(&self, key: &str) -> Option<u64> {
        if !self.flush_pending().await {
            return None;
        }
        self.call(
            self.redis
                .get::<Option<u64>, _>(format!("{}:{key}", self.namespace)),
        )
        .await
        .map(Option::unwrap_or_default)
    }

    /// Bumps the generations a write could not bump while Redis was away; until that works the
    /// cache is not used, so no write is hidden behind an older cached copy.
    async fn flush_pending(&self) -> bool {
        let pending: Vec<String> = match self.pending.lock() {
            Ok(pending) if pending.is_empty() => return true,
            Ok(pending) => pending.iter().cloned().collect(),
            Err(_) => return false,
        };
        for key in pending {
            if self
                .call(
                    self.redis
                        .incr::<u64, _>(format!("{}:{key}", self.namespace)),
                )
                .await
                .is_none()
            {
                return false;
            }
            if let Ok(mut pending) = self.pending.lock() {
                pending.remove(&key);
            }
        }
        true
    }

    /// The cached value, or `load`'s answer stored for next time.
    pub async fn get_or_load<T, E, F>(
        &self,
        generation_key: &str,
        key: &str,
        load: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: Future<Output = Result<T, E>>,
    {
        let generation = self.generation(generation_key).await;
        let full_key = generation.map(|g| format!("{}:{key}@{g}", self.namespace));
        if let Some(full_key) = &full_key
            && let Some(Some(cached)) = self
                .call(self.redis.get::<Option<String>, _>(full_key))
                .await
            && let Ok(value) = serde_json::from_str::<T>(&cached)
        {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("cache_lookups_total", "result" => "hit").increment(1);
            return Ok(value);
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("cache_lookups_total", "result" => "miss").increment(1);
        let value = load.await?;
        if let Some(full_key) = full_key
            && let Ok(json) = serde_json::to_string(&value)
        {
            let ttl = Expiration::PX(self.ttl.as_millis().clamp(1, i64::MAX as u128) as i64);
            self.call(
                self.redis
                    .set::<(), _, _>(full_key, json, Some(ttl), None, false),
            )
            .await;
        }
        Ok(value)
    }

    /// Makes every cached copy under `generation_key` stale. A write calls this after it
    /// committed; if Redis is away, entries still end with their TTL.
    pub async fn invalidate(&self, generation_key: &str) {
        let key = format!("{}:{generation_key}", self.namespace);
        if self.call(self.redis.incr::<u64, _>(key)).await.is_none() {
            tracing::warn!(
                generation_key,
                "Redis is away; the cache stays unused until it is invalidated"
            );
            if let Ok(mut pending) = self.pending.lock() {
                pending.insert(generation_key.to_owned());
            }
        }
    }
}

pub fn item_generation(item_id: &str) -> String {
    format!("item-gen:{item_id}")
}

pub const CATALOG_GENERATION: &str = "catalog-gen";
