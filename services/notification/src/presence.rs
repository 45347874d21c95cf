//! "N viewing now", counted across every instance.
//!
//! Each socket viewing an item is a member `<instance>:<socket>` of the Redis sorted set
//! `presence:item:<id>`, scored with the time it stops counting. Joining and leaving update
//! the set and publish the new count on the item's channel in one transaction; heartbeats push
//! the expiry of this instance's members forward and prune everyone's expired ones, so a
//! crashed instance's viewers drop out within `ttl + heartbeat`. Each count carries a sequence
//! number from the same transaction, so a browser can ignore a count that arrives late.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};
use wire::ItemId;
use wire::redis_channels;

use common::infra::redis::publish_live;
use fred::prelude::{Client, KeysInterface, SortedSetsInterface, TransactionInterface};
use tokio::task::JoinHandle;
use wire::events::LiveEvent;

use crate::PresenceTiming;

pub struct Presence {
    redis: Client,
    instance: String,
    timing: PresenceTiming,
    /// Item id → this instance's sockets viewing it.
    local: Mutex<HashMap<ItemId, HashSet<u64>>>,
}

enum Change {
    Join(String),
    Leave(String),
    Prune,
}

fn members_key(item_id: &ItemId) -> String {
    format!("presence:item:{item_id}")
}

fn sequence_key(item_id: &ItemId) -> String {
    format!("presence:item:{item_id}:seq")
}

fn now_millis() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or_default()
}

impl Presence {
    pub fn new(redis: Client, timing: PresenceTiming) -> Arc<Self> {
        Arc::new(Self {
            redis,
            instance: format!("{:016x}", rand::random::<u64>()),
            timing,
            local: Mutex::default(),
        })
    }

    fn member(&self, socket: u64) -> String {
        format!("{}:{socket}", self.instance)
    }

    pub async fn join(&self, item_id: &ItemId, socket: u64) {
        self.local
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(item_id.clone())
            .or_default()
            .insert(socket);
        self.update(item_id, Change::Join(self.member(socket)))
            .await;
    }

    pub async fn leave(&self, item_id: &ItemId, socket: u64) {
        {
            let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(sockets) = local.get_mut(item_id) {
                sockets.remove(&socket);
                if sockets.is_empty() {
                    local.remove(item_id);
                }
            }
        }
        self.update(item_id, Change::Leave(self.member(socket)))
            .await;
    }

    /// This instance is stopping: its viewers leave every count now, instead of when their
    /// entries expire. (Their browsers reconnect to another instance and join again.)
    pub async fn leave_all(&self) {
        let viewed: Vec<(ItemId, Vec<u64>)> =
            std::mem::take(&mut *self.local.lock().unwrap_or_else(PoisonError::into_inner))
                .into_iter()
                .map(|(item, sockets)| (item, sockets.into_iter().collect()))
                .collect();
        for (item_id, sockets) in viewed {
            for socket in sockets {
                self.update(&item_id, Change::Leave(self.member(socket)))
                    .await;
            }
        }
    }

    /// Applies the change, prunes expired viewers and publishes the count. Presence is
    /// best effort: with Redis away the count pauses, and the next heartbeat catches up.
    async fn update(&self, item_id: &ItemId, change: Change) {
        if let Err(err) = self.try_update(item_id, change).await {
            tracing::warn!(%err, %item_id, "could not update presence");
        }
    }

    async fn try_update(&self, item_id: &ItemId, change: Change) -> Result<(), fred::error::Error> {
        let key = members_key(item_id);
        let sequence = sequence_key(item_id);
        let now = now_millis();
        let transaction = self.redis.multi();
        match change {
            Change::Join(member) => {
                let expiry = now + self.timing.ttl.as_millis() as f64;
                transaction
                    .zadd::<(), _, _>(&key, None, None, false, false, (expiry, member))
                    .await?;
            }
            Change::Leave(member) => transaction.zrem::<(), _, _>(&key, member).await?,
            // Any one command, so the replies below sit at the same positions.
            Change::Prune => transaction.zcard::<(), _>(&key).await?,
        }
        transaction
            .zremrangebyscore::<(), _, _, _>(&key, f64::NEG_INFINITY, now)
            .await?;
        transaction.zcard::<(), _>(&key).await?;
        transaction.incr::<(), _>(&sequence).await?;
        transaction
            .pexpire::<(), _>(&key, self.key_lifetime(), None)
            .await?;
        transaction
            .pexpire::<(), _>(&sequence, self.key_lifetime(), None)
            .await?;
        let replies: Vec<i64> = transaction.exec(true).await?;
        let (Some(&count), Some(&seq)) = (replies.get(2), replies.get(3)) else {
            return Ok(());
        };
        let event = LiveEvent::Viewers {
            item_id: item_id.clone(),
            count: count.max(0) as u64,
            seq: seq.max(0) as u64,
        };
        publish_live(&self.redis, &redis_channels::item(item_id), &event).await;
        Ok(())
    }

    /// Keys nobody refreshes disappear by themselves after the presence TTL, so a made-up
    /// item id leaves nothing behind for long. While anyone watches, heartbeats keep both the
    /// set and its sequence number alive, so the sequence keeps growing.
    fn key_lifetime(&self) -> i64 {
        self.timing.ttl.as_millis() as i64
    }

    /// Every `heartbeat`: keeps this instance's viewers counted and publishes a new count
    /// for any item whose expired viewers (a crashed instance's) were just pruned.
    pub fn spawn_heartbeat(self: &Arc<Self>) -> JoinHandle<()> {
        let presence = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(presence.timing.heartbeat);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                presence.heartbeat().await;
            }
        })
    }

    async fn heartbeat(&self) {
        let viewed: Vec<(ItemId, Vec<u64>)> = self
            .local
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(item, sockets)| (item.clone(), sockets.iter().copied().collect()))
            .collect();
        for (item_id, sockets) in viewed {
            match self.refresh(&item_id, &sockets).await {
                Ok(pruned) if pruned > 0 => self.update(&item_id, Change::Prune).await,
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, %item_id, "presence heartbeat failed"),
            }
        }
    }

    /// Pushes this instance's members' expiry forward; returns how many expired ones it pruned.
    async fn refresh(&self, item_id: &ItemId, sockets: &[u64]) -> Result<i64, fred::error::Error> {
        let key = members_key(item_id);
        let now = now_millis();
        let expiry = now + self.timing.ttl.as_millis() as f64;
        let members: Vec<(f64, String)> = sockets
            .iter()
            .map(|&socket| (expiry, self.member(socket)))
            .collect();
        let transaction = self.redis.multi();
        transaction
            .zadd::<(), _, _>(&key, None, None, false, false, members)
            .await?;
        transaction
            .zremrangebyscore::<(), _, _, _>(&key, f64::NEG_INFINITY, now)
            .await?;
        transaction
            .pexpire::<(), _>(&key, self.key_lifetime(), None)
            .await?;
        transaction
            .pexpire::<(), _>(sequence_key(item_id), self.key_lifetime(), None)
            .await?;
        let replies: Vec<i64> = transaction.exec(true).await?;
        Ok(replies.get(1).copied().unwrap_or_default())
    }
}
