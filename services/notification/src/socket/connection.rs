//! One socket's connection loop: subscriptions, forwarding, pings and closing.

use std::collections::HashSet;
use std::time::{Duration, Instant};
use wire::redis_channels;
use wire::{ItemId, UserId};

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use futures::StreamExt;
use tokio_stream::StreamMap;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use wire::socket::ClientMessage;
use wire::socket::ServerMessage;

use crate::hub::Outbound;

use super::AppState;
use super::limits::TokenBucket;
use super::topics::Topic;

/// A slow browser gets this long to take a message before its socket is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing socket waits for the browser to answer its close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) struct Connection {
    id: u64,
    state: AppState,
    /// The signed-in user's own channel: always listened to (sign-out closes the socket),
    /// forwarded only while the browser subscribes to `user`.
    user_channel: Option<String>,
    forward_user: bool,
    subscriptions: StreamMap<String, BroadcastStream<Outbound>>,
    viewing: HashSet<ItemId>,
    bucket: TokenBucket,
    last_heard: Instant,
    /// The last [`Outbound::Resync`] passed on, so that one loss makes one resync frame.
    last_resync: Option<u64>,
}

/// Why the loop ended: a close frame to send, or nothing when the browser is gone.
type Ending = Option<CloseFrame>;

fn close(code: u16, reason: &'static str) -> Ending {
    Some(CloseFrame {
        code,
        reason: reason.into(),
    })
}

impl Connection {
    pub(super) fn new(state: AppState, id: u64, user_id: Option<UserId>) -> Self {
        let bucket = TokenBucket::new(state.limits.messages_per_second, state.limits.burst);
        Self {
            id,
            state,
            user_channel: user_id.as_ref().map(redis_channels::user),
            forward_user: false,
            subscriptions: StreamMap::new(),
            viewing: HashSet::new(),
            bucket,
            last_heard: Instant::now(),
            last_resync: None,
        }
    }

    pub(super) async fn run(mut self, mut socket: WebSocket) {
        metrics::gauge!("live_open_sockets").increment(1);
        if let Some(channel) = self.user_channel.clone() {
            self.listen(&channel).await;
        }
        let ending = self.serve(&mut socket).await;
        if let Some(frame) = ending {
            // A clean closing handshake, so the browser sees the code and reason.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
                if socket.send(Message::Close(Some(frame))).await.is_ok() {
                    while let Some(Ok(_)) = socket.recv().await {}
                }
            })
            .await;
        }
        self.leave_everything().await;
        metrics::gauge!("live_open_sockets").decrement(1);
    }

    async fn serve(&mut self, socket: &mut WebSocket) -> Ending {
        let limits = self.state.limits;
        let mut pings = tokio::time::interval_at(
            tokio::time::Instant::now() + limits.ping_every,
            limits.ping_every,
        );
        loop {
            let reply = tokio::select! {
                // Subscriptions first: in a fan-out each wake-up is almost always a frame to
                // pass on, and polling the other branches first cost every frame their checks.
                // The browser is still heard whenever no frame is waiting.
                biased;
                Some((channel, outbound)) = self.subscriptions.next() => match outbound {
                    Ok(Outbound::Text(text)) => {
                        if Some(&channel) == self.user_channel.as_ref() && !self.forward_user {
                            continue;
                        }
                        if send(socket, Message::Text(text)).await.is_err() {
                            return None;
                        }
                        continue;
                    }
                    Ok(Outbound::SignedOut) => return close(close_code::NORMAL, "signed out"),
                    Ok(Outbound::Resync { generation }) => {
                        if self.last_resync == Some(generation) {
                            // The same loss, heard again on another of this socket's channels.
                            continue;
                        }
                        self.last_resync = Some(generation);
                        Some(ServerMessage::Resync)
                    }
                    Err(BroadcastStreamRecvError::Lagged(_)) => Some(ServerMessage::Resync),
                },
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(ending) = self.heard_message() {
                            return ending;
                        }
                        self.handle(text.as_str()).await
                    }
                    Some(Ok(Message::Binary(_))) => {
                        if let Some(ending) = self.heard_message() {
                            return ending;
                        }
                        Some(error("send JSON text messages"))
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        self.last_heard = Instant::now();
                        None
                    }
                    Some(Ok(Message::Close(_))) | None => return None,
                    Some(Err(err)) => {
                        tracing::debug!(%err, "live socket failed");
                        return close(close_code::POLICY, "message not accepted");
                    }
                },
                _ = pings.tick() => {
                    if self.last_heard.elapsed() > limits.idle_timeout {
                        return close(close_code::AWAY, "idle");
                    }
                    if send(socket, Message::Ping(Default::default())).await.is_err() {
                        return None;
                    }
                    None
                }
            };
            if let Some(reply) = reply {
                let Ok(text) = serde_json::to_string(&reply) else {
                    continue;
                };
                if send(socket, Message::Text(text.into())).await.is_err() {
                    return None;
                }
            }
        }
    }

    /// Counts a message against the rate limit; the ending when it is over.
    fn heard_message(&mut self) -> Option<Ending> {
        let now = Instant::now();
        self.last_heard = now;
        if self.bucket.take(now) {
            None
        } else {
            Some(close(close_code::POLICY, "too many messages"))
        }
    }

    async fn handle(&mut self, text: &str) -> Option<ServerMessage> {
        match serde_json::from_str::<ClientMessage>(text) {
            Ok(ClientMessage::Subscribe { topic }) => Some(self.subscribe(topic).await),
            Ok(ClientMessage::Unsubscribe { topic }) => {
                self.unsubscribe(&topic).await;
                None
            }
            Err(_) => Some(error(
                r#"expected {"op":"subscribe" or "unsubscribe","topic":"feed", "user" or "item:<id>"}"#,
            )),
        }
    }

    async fn subscribe(&mut self, topic: String) -> ServerMessage {
        let (channel, viewed_item) = match Topic::parse(&topic) {
            Err(reason) => return ServerMessage::Refused { topic, reason },
            Ok(Topic::User) => {
                if self.user_channel.is_none() {
                    return ServerMessage::Refused {
                        topic,
                        reason: "log in to receive your own updates".into(),
                    };
                }
                self.forward_user = true;
                return ServerMessage::Subscribed { topic };
            }
            Ok(Topic::Feed) => (redis_channels::FEED.to_owned(), None),
            Ok(Topic::Item(id)) => (redis_channels::item(&id), Some(id)),
        };
        if self.subscriptions.contains_key(&channel) {
            return ServerMessage::Subscribed { topic };
        }
        let cap = if self.user_channel.is_some() {
            self.state.limits.max_subscriptions
        } else {
            self.state.limits.max_anonymous_subscriptions
        };
        if self.subscriptions.len() >= cap {
            let reason = if self.user_channel.is_some() {
                format!("at most {cap} topics per connection")
            } else {
                format!("at most {cap} topics per connection; log in to follow more")
            };
            return ServerMessage::Refused { topic, reason };
        }
        if !self.listen(&channel).await {
            return ServerMessage::Refused {
                topic,
                reason: "live updates are unavailable right now".into(),
            };
        }
        if let Some(id) = viewed_item {
            self.state.presence.join(&id, self.id).await;
            self.viewing.insert(id);
        }
        ServerMessage::Subscribed { topic }
    }

    async fn listen(&mut self, channel: &str) -> bool {
        match self.state.hub.subscribe(channel).await {
            Ok(receiver) => {
                self.subscriptions
                    .insert(channel.to_owned(), BroadcastStream::new(receiver));
                true
            }
            Err(err) => {
                tracing::warn!(%err, "could not subscribe a live socket");
                false
            }
        }
    }

    async fn unsubscribe(&mut self, topic: &str) {
        match Topic::parse(topic) {
            Ok(Topic::User) => self.forward_user = false,
            Ok(Topic::Feed) => self.stop_listening(redis_channels::FEED).await,
            Ok(Topic::Item(id)) => {
                self.stop_listening(&redis_channels::item(&id)).await;
                if self.viewing.remove(&id) {
                    self.state.presence.leave(&id, self.id).await;
                }
            }
            Err(_) => {}
        }
    }

    async fn stop_listening(&mut self, channel: &str) {
        if self.subscriptions.remove(channel).is_some() {
            self.state.hub.release(channel).await;
        }
    }

    async fn leave_everything(&mut self) {
        let channels: Vec<String> = self.subscriptions.keys().cloned().collect();
        for channel in channels {
            self.stop_listening(&channel).await;
        }
        for id in std::mem::take(&mut self.viewing) {
            self.state.presence.leave(&id, self.id).await;
        }
    }
}

fn error(message: &str) -> ServerMessage {
    ServerMessage::Error {
        message: message.to_owned(),
    }
}

/// Sends `message`, giving up after [`SEND_TIMEOUT`] if the browser does not take it.
///
/// The timer is armed only when the first attempt cannot finish at once (the kernel's buffer
/// for this socket is full): almost every send completes on its first poll, and a timer for
/// each of ten thousand sends of one event was a measurable share of a fan-out.
async fn send(socket: &mut WebSocket, message: Message) -> Result<(), ()> {
    let mut sending = std::pin::pin!(socket.send(message));
    if let std::task::Poll::Ready(sent) = futures::poll!(sending.as_mut()) {
        return sent.map_err(drop);
    }
    match tokio::time::timeout(SEND_TIMEOUT, sending).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}
