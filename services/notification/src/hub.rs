//! Redis pub/sub → sockets. One Redis subscription per channel per instance, however many
//! sockets want it; each message is parsed and serialised once and handed to every socket
//! through a broadcast channel. A busy channel's feed and item events are coalesced
//! ([`crate::coalesce`]): the first goes at once, later ones within the channel's window
//! ([`window_for`]) go together at the window's end, so a socket gets at most ten frames a
//! second per topic (fewer on a channel with very many sockets).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use wire::{redis_channels, socket_topics};

use axum::extract::ws::Utf8Bytes;
use fred::prelude::{Client, EventInterface, PubsubInterface};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::JoinHandle;
use wire::events::LiveEvent;
use wire::socket::ServerMessage;

use crate::coalesce::{Gathered, may_wait, window_for};

/// What a socket receives from a channel.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A ready-to-send [`ServerMessage`], serialised once for every socket.
    Text(Utf8Bytes),
    /// The user signed out: close their sockets.
    SignedOut,
    /// Messages may have been lost: the browser should re-read the durable state. Sent on
    /// every channel at once, so a socket on several channels receives it once per channel:
    /// `generation` (one per loss) tells a repeat from a new loss.
    Resync { generation: u64 },
}

/// How far a socket may fall behind a channel before it is told to resync instead.
const CHANNEL_BUFFER: usize = 256;

#[derive(Debug, thiserror::Error)]
#[error("could not subscribe to {channel}: {source}")]
pub struct SubscribeError {
    channel: String,
    source: fred::error::Error,
}

pub struct Hub {
    redis: Client,
    channels: Mutex<HashMap<String, broadcast::Sender<Outbound>>>,
    /// Serialises Redis SUBSCRIBE/UNSUBSCRIBE so a channel is never left subscribed with no
    /// socket, or unsubscribed with one.
    membership: tokio::sync::Mutex<()>,
    /// Counts the times messages may have been lost (see [`Outbound::Resync`]).
    resyncs: AtomicU64,
    /// Per channel: when its last frame went, and what waits for its next one.
    pacing: Mutex<HashMap<String, Pacing>>,
}

/// One channel's coalescing state.
#[derive(Debug, Default)]
struct Pacing {
    last_frame: Option<Instant>,
    gathered: Gathered,
    /// A task will send what is gathered at the end of the window.
    flush_due: bool,
}

impl Hub {
    pub fn new(redis: Client) -> Arc<Self> {
        Arc::new(Self {
            redis,
            channels: Mutex::default(),
            membership: tokio::sync::Mutex::default(),
            resyncs: AtomicU64::new(0),
            pacing: Mutex::default(),
        })
    }

    /// Relays every Redis message to its channel's sockets until the client quits.
    pub fn spawn_relay(self: &Arc<Self>) -> JoinHandle<()> {
        let hub = Arc::clone(self);
        let mut messages = hub.redis.message_rx();
        let mut reconnects = hub.redis.reconnect_rx();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    message = messages.recv() => match message {
                        Ok(message) => match message.value.convert::<String>() {
                            Ok(payload) => hub.relay(&message.channel, &payload),
                            Err(err) => tracing::warn!(%err, "dropped a non-text message"),
                        },
                        Err(RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "the relay fell behind Redis");
                            hub.resync_every_channel();
                        }
                        Err(RecvError::Closed) => break,
                    },
                    reconnect = reconnects.recv() => match reconnect {
                        Ok(_) | Err(RecvError::Lagged(_)) => {
                            // A new connection has no subscriptions, and messages sent while
                            // we were away are gone.
                            hub.resubscribe().await;
                            hub.resync_every_channel();
                        }
                        Err(RecvError::Closed) => break,
                    },
                }
            }
        })
    }

    fn relay(self: &Arc<Self>, channel: &str, payload: &str) {
        // Looked up once per message: the sockets' sender, and how many they are.
        let Some(sender) = self.sender(channel) else {
            return;
        };
        let event: LiveEvent = match serde_json::from_str(payload) {
            Ok(event) => event,
            Err(err) => {
                tracing::warn!(%err, channel, "dropped a message that is not a live event");
                return;
            }
        };
        if event == LiveEvent::SignedOut {
            send(&sender, Outbound::SignedOut);
        } else if !may_wait(&event) || self.goes_now(channel, sender.receiver_count(), &event) {
            send_events(&sender, channel, vec![event], 0);
        }
    }

    /// Whether `event` may go at once: its channel sent no frame within its window and
    /// nothing waits. Otherwise it waits with what the channel gathered, and a task sends
    /// them all at the window's end.
    fn goes_now(self: &Arc<Self>, channel: &str, sockets: usize, event: &LiveEvent) -> bool {
        let window = window_for(sockets);
        let now = Instant::now();
        let mut pacing = self.pacing.lock().unwrap_or_else(PoisonError::into_inner);
        let state = pacing.entry(channel.to_owned()).or_default();
        let window_open = state
            .last_frame
            .is_none_or(|last| now.duration_since(last) >= window);
        if window_open && !state.flush_due {
            state.last_frame = Some(now);
            return true;
        }
        state.gathered.push(event.clone());
        if !state.flush_due {
            state.flush_due = true;
            let due = state.last_frame.map_or(now, |last| last + window);
            let (hub, channel) = (Arc::clone(self), channel.to_owned());
            tokio::spawn(async move {
                tokio::time::sleep_until(due.into()).await;
                hub.flush(&channel);
            });
        }
        false
    }

    /// Sends what `channel` gathered during its window, in one frame.
    fn flush(&self, channel: &str) {
        let (events, folded) = {
            let mut pacing = self.pacing.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(state) = pacing.get_mut(channel) else {
                return;
            };
            state.flush_due = false;
            if state.gathered.is_empty() {
                return;
            }
            state.last_frame = Some(Instant::now());
            state.gathered.take()
        };
        if folded > 0 {
            metrics::counter!("live_events_folded_total").increment(folded);
        }
        if let Some(sender) = self.sender(channel) {
            send_events(&sender, channel, events, folded);
        }
    }

    fn sender(&self, channel: &str) -> Option<broadcast::Sender<Outbound>> {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(channel)
            .cloned()
    }

    /// Tells every socket to re-read the durable state (Redis came back, or the relay fell
    /// behind: anything may have been missed). Through the channels the sockets already
    /// listen to, rather than one more channel that every socket would poll after every frame.
    /// A socket on no channel follows nothing that could have been missed.
    pub fn resync_every_channel(&self) {
        let generation = self.resyncs.fetch_add(1, Ordering::Relaxed) + 1;
        let channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        for sender in channels.values() {
            let _ = sender.send(Outbound::Resync { generation });
        }
    }

    /// A receiver for `channel`, subscribing this instance to it in Redis if it is the first.
    pub async fn subscribe(
        &self,
        channel: &str,
    ) -> Result<broadcast::Receiver<Outbound>, SubscribeError> {
        let _membership = self.membership.lock().await;
        let (receiver, first) = {
            let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
            match channels.get(channel) {
                Some(sender) => (sender.subscribe(), false),
                None => {
                    let (sender, receiver) = broadcast::channel(CHANNEL_BUFFER);
                    channels.insert(channel.to_owned(), sender);
                    (receiver, true)
                }
            }
        };
        if first && let Err(source) = self.redis.subscribe(channel).await {
            self.channels
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(channel);
            return Err(SubscribeError {
                channel: channel.to_owned(),
                source,
            });
        }
        Ok(receiver)
    }

    /// Call after dropping a receiver: unsubscribes from Redis when no socket is left.
    pub async fn release(&self, channel: &str) {
        let _membership = self.membership.lock().await;
        let unused = {
            let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
            let unused = channels
                .get(channel)
                .is_some_and(|sender| sender.receiver_count() == 0);
            if unused {
                channels.remove(channel);
                self.pacing
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(channel);
            }
            unused
        };
        if unused && let Err(err) = self.redis.unsubscribe(channel).await {
            tracing::warn!(%err, channel, "could not unsubscribe");
        }
    }

    async fn resubscribe(&self) {
        let _membership = self.membership.lock().await;
        let channels: Vec<String> = self
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        if channels.is_empty() {
            return;
        }
        if let Err(err) = self.redis.subscribe(channels).await {
            tracing::warn!(%err, "could not resubscribe after reconnecting to Redis");
        }
    }
}

/// Sends `events` (one frame, whatever their number) to the sockets of `channel`.
fn send_events(
    sender: &broadcast::Sender<Outbound>,
    channel: &str,
    events: Vec<LiveEvent>,
    folded: u64,
) {
    match frame(channel, events, folded) {
        Ok(text) => send(sender, Outbound::Text(text.into())),
        Err(err) => tracing::error!(%err, "could not serialise a live event"),
    }
}

fn send(sender: &broadcast::Sender<Outbound>, outbound: Outbound) {
    // No receiver left is fine: the last socket is unsubscribing.
    if let Ok(sockets) = sender.send(outbound) {
        metrics::counter!("live_messages_relayed_total").increment(1);
        metrics::counter!("live_deliveries_total").increment(sockets as u64);
    }
}

/// The text frame that tells the sockets on `channel`'s topic about `events`: one
/// [`ServerMessage::Event`], or [`ServerMessage::Events`] for what a window gathered.
fn frame(channel: &str, mut events: Vec<LiveEvent>, folded: u64) -> serde_json::Result<String> {
    let topic = topic_of(channel).to_owned();
    let message = match (events.len(), folded) {
        (1, 0) => ServerMessage::Event {
            topic,
            event: events.remove(0),
        },
        _ => ServerMessage::Events {
            topic,
            events,
            folded,
        },
    };
    serde_json::to_string(&message)
}

/// The browser-facing topic name of a Redis channel.
fn topic_of(channel: &str) -> &str {
    if channel == redis_channels::FEED {
        socket_topics::FEED
    } else if channel.starts_with("user:") {
        socket_topics::USER
    } else {
        channel
    }
}

#[cfg(test)]
mod contract {
    //! The frames the hub sends decode, as the browser and testkit read them, to the event
    //! on the socket topic the browser subscribed to.

    use super::*;
    use wire::{ItemId, UserId};

    #[test]
    fn frames_decode_to_the_event_on_its_socket_topic() {
        let item: ItemId = "665f1c2e9b1d8a0012345678".parse().expect("an id");
        let user: UserId = "665f1c2e9b1d8a00123456aa".parse().expect("an id");
        let cases = [
            (
                redis_channels::FEED.to_owned(),
                socket_topics::FEED.to_owned(),
                LiveEvent::Purchase {
                    buyer_name: "Bo".into(),
                    titles: vec!["Lamp".into()],
                    at: 1,
                },
            ),
            (
                redis_channels::item(&item),
                socket_topics::item(&item),
                LiveEvent::ItemChanged {
                    item_id: item.clone(),
                    sold: 2,
                    stock: 1,
                },
            ),
            (
                redis_channels::user(&user),
                socket_topics::USER.to_owned(),
                LiveEvent::PurchasesChanged {
                    transaction_id: "665f1c2e9b1d8a00123456cc".parse().expect("an id"),
                },
            ),
        ];
        for (channel, topic, event) in cases {
            let single = frame(&channel, vec![event.clone()], 0).expect("a frame");
            let decoded: ServerMessage = serde_json::from_str(&single).expect("a server message");
            assert_eq!(
                decoded,
                ServerMessage::Event {
                    topic: topic.clone(),
                    event: event.clone()
                }
            );
            let window = frame(&channel, vec![event.clone(), event.clone()], 7).expect("a frame");
            let decoded: ServerMessage = serde_json::from_str(&window).expect("a server message");
            assert_eq!(
                decoded,
                ServerMessage::Events {
                    topic,
                    events: vec![event.clone(), event],
                    folded: 7
                }
            );
        }
    }
}
