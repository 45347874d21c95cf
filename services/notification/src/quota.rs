//! At most so many live sockets per client address, counted across every instance.
//!
//! Like presence, each open socket is a member `<instance>:<socket>` of the Redis sorted set
//! `live-sockets:<address>`, scored with the time it stops counting; heartbeats push this
//! instance's members forward, so a crashed instance's sockets stop counting within the
//! presence TTL and never lock an address out for good. The address is the one the gateway
//! signed into the handshake, not the gateway's own.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use fred::prelude::{Client, KeysInterface, SortedSetsInterface, TransactionInterface};
use tokio::task::JoinHandle;

use crate::PresenceTiming;

/// Counts the sockets of each client address and refuses those past the cap.
pub struct SocketQuota {
    redis: Client,
    instance: String,
    timing: PresenceTiming,
    per_address: usize,
    /// Address → this instance's sockets from it.
    local: Mutex<HashMap<String, HashSet<u64>>>,
}

fn key(address: &str) -> String {
    format!("live-sockets:{address}")
}

fn now_millis() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or_default()
}

impl SocketQuota {
    /// A quota of `per_address` sockets, with members expiring after `timing.ttl`.
    pub fn new(redis: Client, timing: PresenceTiming, per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            redis,
            instance: format!("{:016x}", rand::random::<u64>()),
            timing,
            per_address,
            local: Mutex::default(),
        })
    }

    fn member(&self, socket: u64) -> String {
        format!("{}:{socket}", self.instance)
    }

    /// Counts `socket` for `address` if the address is under its cap. With Redis away the
    /// socket is let in: live updates are best effort, and so is this limit.
    pub async fn admit(&self, address: &str, socket: u64) -> bool {
        match self.try_admit(address, socket).await {
            Ok(admitted) => admitted,
            Err(err) => {
                tracing::warn!(%err, "could not count a live socket");
                true
            }
        }
    }

    async fn try_admit(&self, address: &str, socket: u64) -> Result<bool, fred::error::Error> {
        let key = key(address);
        let now = now_millis();
        let expiry = now + self.timing.ttl.as_millis() as f64;
        let member = self.member(socket);
        let transaction = self.redis.multi();
        transaction
            .zremrangebyscore::<(), _, _, _>(&key, f64::NEG_INFINITY, now)
            .await?;
        transaction
            .zadd::<(), _, _>(&key, None, None, false, false, (expiry, member.clone()))
            .await?;
        transaction.zcard::<(), _>(&key).await?;
        transaction
            .pexpire::<(), _>(&key, self.timing.ttl.as_millis() as i64, None)
            .await?;
        let replies: Vec<i64> = transaction.exec(true).await?;
        let count = replies.get(2).copied().unwrap_or_default();
        if count > self.per_address as i64 {
            self.redis.zrem::<(), _, _>(&key, member).await?;
            return Ok(false);
        }
        self.local
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(address.to_owned())
            .or_default()
            .insert(socket);
        Ok(true)
    }

    /// The socket closed.
    pub async fn release(&self, address: &str, socket: u64) {
        {
            let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(sockets) = local.get_mut(address) {
                sockets.remove(&socket);
                if sockets.is_empty() {
                    local.remove(address);
                }
            }
        }
        if let Err(err) = self
            .redis
            .zrem::<(), _, _>(key(address), self.member(socket))
            .await
        {
            tracing::warn!(%err, "could not uncount a live socket");
        }
    }

    /// This instance is stopping: its sockets stop counting now.
    pub async fn release_all(&self) {
        let open = std::mem::take(&mut *self.local.lock().unwrap_or_else(PoisonError::into_inner));
        for (address, sockets) in open {
            let members: Vec<String> = sockets.iter().map(|&s| self.member(s)).collect();
            if let Err(err) = self.redis.zrem::<(), _, _>(key(&address), members).await {
                tracing::warn!(%err, "could not uncount live sockets");
            }
        }
    }

    /// Every heartbeat: keeps this instance's sockets counted.
    pub fn spawn_heartbeat(self: &Arc<Self>) -> JoinHandle<()> {
        let quota = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(quota.timing.heartbeat);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                quota.refresh().await;
            }
        })
    }

    async fn refresh(&self) {
        let open: Vec<(String, Vec<u64>)> = self
            .local
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(address, sockets)| (address.clone(), sockets.iter().copied().collect()))
            .collect();
        let expiry = now_millis() + self.timing.ttl.as_millis() as f64;
        for (address, sockets) in open {
            let key = key(&address);
            let members: Vec<(f64, String)> = sockets
                .iter()
                .map(|&socket| (expiry, self.member(socket)))
                .collect();
            let refreshed: Result<(), fred::error::Error> = async {
                let transaction = self.redis.multi();
                transaction
                    .zadd::<(), _, _>(&key, None, None, false, false, members)
                    .await?;
                transaction
                    .pexpire::<(), _>(&key, self.timing.ttl.as_millis() as i64, None)
                    .await?;
                transaction.exec::<()>(true).await
            }
            .await;
            if let Err(err) = refreshed {
                tracing::warn!(%err, "live socket heartbeat failed");
            }
        }
    }
}
