//! The limits a socket is held to: the configured [`Limits`] and the per-socket rate limit.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Larger messages close the socket.
    pub max_message_bytes: usize,
    /// Sustained messages per second a browser may send, and how many it may send at once.
    pub messages_per_second: u32,
    pub burst: u32,
    /// Topics one socket of a signed-in user may hold.
    pub max_subscriptions: usize,
    /// Topics one anonymous socket may hold (the feed and a few item pages).
    pub max_anonymous_subscriptions: usize,
    /// Open sockets per client address, across every instance.
    pub max_sockets_per_address: usize,
    pub ping_every: Duration,
    /// A socket that sends nothing (not even a pong) for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024,
            messages_per_second: 10,
            burst: 30,
            max_subscriptions: 64,
            max_anonymous_subscriptions: 8,
            max_sockets_per_address: 32,
            ping_every: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Allows `burst` messages at once and `per_second` sustained.
#[derive(Debug)]
pub(super) struct TokenBucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    refilled: Instant,
}

impl TokenBucket {
    pub(super) fn new(per_second: u32, burst: u32) -> Self {
        Self {
            tokens: f64::from(burst),
            capacity: f64::from(burst),
            per_second: f64::from(per_second),
            refilled: Instant::now(),
        }
    }

    pub(super) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_sustained_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(2, 3);
        assert!((0..3).all(|_| bucket.take(start)));
        assert!(!bucket.take(start));
        assert!(bucket.take(start + Duration::from_millis(500)));
        assert!(!bucket.take(start + Duration::from_millis(600)));
    }
}
