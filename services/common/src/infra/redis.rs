//! Redis: the URL from the environment, a client that reconnects by itself, the readiness
//! check, and publishing of live events.

use std::time::Duration;

use fred::prelude::{Builder, Client, ClientLike, Config, ReconnectPolicy};
use futures::future::BoxFuture;

use crate::config::{defaults, env_or};
use crate::health::ReadinessCheck;

/// `REDIS_URL`.
pub fn url_from_env() -> String {
    env_or("REDIS_URL", defaults::REDIS_URL)
}

/// A client that connects in the background and reconnects forever, so the service starts
/// while Redis is down and recovers by itself when it returns. Commands give up after 2 s.
pub fn connect(url: &str) -> Result<Client, fred::error::Error> {
    connect_with_backlog(url, 32)
}

/// Like [`connect`], for a pub/sub subscriber: its messages wait for the reader in a queue of
/// `backlog` (fred's default is 32, which a subscriber to a busy channel outruns in a few
/// milliseconds of a busy machine; a reader that falls behind the queue loses messages).
pub fn connect_subscriber(url: &str, backlog: usize) -> Result<Client, fred::error::Error> {
    connect_with_backlog(url, backlog)
}

fn connect_with_backlog(url: &str, backlog: usize) -> Result<Client, fred::error::Error> {
    let config = Config::from_url(url)?;
    let client = Builder::from_config(config)
        .with_connection_config(|c| {
            c.connection_timeout = Duration::from_secs(2);
            c.max_command_attempts = 2;
        })
        .with_performance_config(|p| {
            p.default_command_timeout = Duration::from_secs(2);
            p.broadcast_channel_capacity = backlog;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
        .build()?;
    // The handle finishes only when the client quits; nothing to join.
    drop(client.connect());
    Ok(client)
}

/// Sends `PING`; ready when Redis answers.
pub struct RedisCheck(pub Client);

impl ReadinessCheck for RedisCheck {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.0
                .ping::<String>(None)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }
}

/// Counts one event for `subject` in the current fixed window of `window_secs` (keys
/// `<prefix>:<subject>:<window>`, gone when the window ends), so that every copy of a service
/// counts together: the count so far in this window, and the seconds left in it.
pub async fn count_in_window(
    redis: &Client,
    prefix: &str,
    subject: &str,
    window_secs: u64,
) -> Result<(i64, u64), fred::error::Error> {
    use fred::prelude::KeysInterface;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let window = now / window_secs;
    let key = format!("{prefix}:{subject}:{window}");
    let count: i64 = redis.incr(&key).await?;
    if count == 1 {
        redis
            .expire::<(), _>(&key, window_secs as i64, None)
            .await?;
    }
    Ok((count, (window + 1) * window_secs - now))
}

/// Publishes a live event on a Redis pub/sub channel. At most once by design: a failure is
/// logged, and pages re-read the durable state when they reconnect.
pub async fn publish_live(redis: &Client, channel: &str, event: &wire::events::LiveEvent) {
    publish(redis, channel, event).await;
}

/// Publishes `message` as JSON on a Redis pub/sub channel, at most once: a failure is logged
/// (each channel's readers say how they recover from a lost message).
pub async fn publish(redis: &Client, channel: &str, message: &impl serde::Serialize) {
    use fred::prelude::PubsubInterface;
    let Ok(json) = serde_json::to_string(message) else {
        return;
    };
    if let Err(err) = redis.publish::<(), _, _>(channel, json).await {
        tracing::warn!(%err, channel, "could not publish a message");
    }
}
