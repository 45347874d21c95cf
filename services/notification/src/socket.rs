//! One browser's live socket.
//!
//! Protocol (JSON text frames, types in `common::events`): the browser sends
//! `{"op":"subscribe","topic":…}` / `{"op":"unsubscribe","topic":…}` for the topics `feed`,
//! `item:<id>` and `user`; the service answers `subscribed` or `refused` (with the reason) and
//! then sends `event`s, and `resync` when events may have been lost.
//!
//! Guards: the `Origin` must be on the allowlist (cross-site WebSocket hijacking); every
//! handshake carries the gateway's signed token (a signed-in user's, or the gateway's own for
//! an anonymous visitor), which names the client's address; each address may hold only so
//! many sockets across all instances ([`crate::quota`]); `user` needs a signed-in user;
//! anonymous sockets may hold only a few topics; messages are size-limited and rate-limited
//! per socket; the service pings and closes sockets that stop answering; a user's sockets
//! close when they sign out.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::{HeaderMap, StatusCode, header::ORIGIN};
use axum::response::{IntoResponse, Response};
use common::ErrorBody;
use common::events::{
    ClientMessage, FEED_CHANNEL, FEED_TOPIC, ServerMessage, USER_TOPIC, item_channel, user_channel,
};
use common::identity::{Caller, IDENTITY_HEADER, IdentityKey};
use futures::StreamExt;
use tokio_stream::StreamMap;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::hub::{Hub, Outbound};
use crate::presence::Presence;
use crate::quota::SocketQuota;

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

const READ_BUFFER_BYTES: usize = 4 * 1024;

/// A slow browser gets this long to take a message before its socket is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing socket waits for the browser to answer its close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct AppState {
    hub: Arc<Hub>,
    presence: Arc<Presence>,
    quota: Arc<SocketQuota>,
    identity: IdentityKey,
    allowed_origins: Arc<[String]>,
    limits: Limits,
    next_socket: Arc<AtomicU64>,
}

impl AppState {
    pub fn new(
        hub: Arc<Hub>,
        presence: Arc<Presence>,
        quota: Arc<SocketQuota>,
        identity: IdentityKey,
        allowed_origins: Vec<String>,
        limits: Limits,
    ) -> Self {
        let allowed_origins = allowed_origins
            .iter()
            .map(|origin| normalise_origin(origin))
            .collect();
        Self {
            hub,
            presence,
            quota,
            identity,
            allowed_origins,
            limits,
            next_socket: Arc::default(),
        }
    }

    fn check_origin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let origin = headers
            .get(ORIGIN)
            .and_then(|v| v.to_str().ok())
            .ok_or(Refusal::NoOrigin)?;
        if self.allowed_origins.contains(&normalise_origin(origin)) {
            Ok(())
        } else {
            Err(Refusal::OriginNotAllowed(origin.to_owned()))
        }
    }
}

/// Why a handshake was refused; the browser gets the message.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("live updates need the page's Origin header")]
    NoOrigin,
    #[error("pages from {0} may not open live updates")]
    OriginNotAllowed(String),
    #[error("the signed identity is not valid")]
    BadIdentity,
    #[error("live updates are opened through the marketplace's own address")]
    NotFromGateway,
    #[error("too many live connections from your address; close some tabs")]
    TooManySockets,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        tracing::warn!(refusal = %self, "refused a live socket");
        let status = match self {
            Self::NoOrigin | Self::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::BadIdentity | Self::NotFromGateway => StatusCode::UNAUTHORIZED,
            Self::TooManySockets => StatusCode::TOO_MANY_REQUESTS,
        };
        ErrorBody::new(self.to_string()).into_response_with(status)
    }
}

fn normalise_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// `GET /v1/live`: the WebSocket handshake.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, Refusal> {
    state.check_origin(&headers)?;
    // Only through the gateway, which signs either the user or itself (an anonymous visitor);
    // a bad token means someone is forging, so no socket at all.
    let token = headers
        .get(IDENTITY_HEADER)
        .ok_or(Refusal::NotFromGateway)?
        .to_str()
        .map_err(|_| Refusal::BadIdentity)?;
    let signed = state
        .identity
        .verify(token, SystemTime::now())
        .map_err(|_| Refusal::BadIdentity)?;
    let user = match (signed.caller, signed.user) {
        (Caller::User, Some(user)) => Some(user.user_id),
        (Caller::Gateway, None) => None,
        _ => return Err(Refusal::BadIdentity),
    };
    let address = signed
        .client_address
        .unwrap_or_else(|| "unknown".to_owned());
    let socket = state.next_socket.fetch_add(1, Ordering::Relaxed);
    if !state.quota.admit(&address, socket).await {
        return Err(Refusal::TooManySockets);
    }
    let limits = state.limits;
    Ok(upgrade
        // The default 128 KiB read buffer per socket would dwarf every other cost of a
        // connection; browsers send only small subscribe messages.
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(limits.max_message_bytes)
        .max_frame_size(limits.max_message_bytes)
        .on_failed_upgrade({
            let (quota, address) = (state.quota.clone(), address.clone());
            move |_| {
                tokio::spawn(async move { quota.release(&address, socket).await });
            }
        })
        .on_upgrade(move |ws| async move {
            let quota = state.quota.clone();
            Connection::new(state, socket, user).run(ws).await;
            quota.release(&address, socket).await;
        }))
}

/// What one socket may be subscribed to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Topic {
    Feed,
    Item(String),
    User,
}

impl Topic {
    fn parse(topic: &str) -> Result<Self, String> {
        match topic {
            FEED_TOPIC => Ok(Self::Feed),
            USER_TOPIC => Ok(Self::User),
            _ => match topic.strip_prefix("item:") {
                Some(id) if id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    Ok(Self::Item(id.to_ascii_lowercase()))
                }
                Some(_) => Err("an item topic is item:<24 hex digit id>".into()),
                None => Err(format!(
                    "unknown topic {topic:?}: expected {FEED_TOPIC}, {USER_TOPIC} or item:<id>"
                )),
            },
        }
    }
}

/// Allows `burst` messages at once and `per_second` sustained.
#[derive(Debug)]
struct TokenBucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    refilled: Instant,
}

impl TokenBucket {
    fn new(per_second: u32, burst: u32) -> Self {
        Self {
            tokens: f64::from(burst),
            capacity: f64::from(burst),
            per_second: f64::from(per_second),
            refilled: Instant::now(),
        }
    }

    fn take(&mut self, now: Instant) -> bool {
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

struct Connection {
    id: u64,
    state: AppState,
    /// The signed-in user's own channel: always listened to (sign-out closes the socket),
    /// forwarded only while the browser subscribes to `user`.
    user_channel: Option<String>,
    forward_user: bool,
    subscriptions: StreamMap<String, BroadcastStream<Outbound>>,
    viewing: HashSet<String>,
    bucket: TokenBucket,
    last_heard: Instant,
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
    fn new(state: AppState, id: u64, user_id: Option<String>) -> Self {
        let bucket = TokenBucket::new(state.limits.messages_per_second, state.limits.burst);
        Self {
            id,
            state,
            user_channel: user_id.as_deref().map(user_channel),
            forward_user: false,
            subscriptions: StreamMap::new(),
            viewing: HashSet::new(),
            bucket,
            last_heard: Instant::now(),
        }
    }

    async fn run(mut self, mut socket: WebSocket) {
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
        let mut everyone = BroadcastStream::new(self.state.hub.everyone());
        let mut pings = tokio::time::interval_at(
            tokio::time::Instant::now() + limits.ping_every,
            limits.ping_every,
        );
        loop {
            let reply = tokio::select! {
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
                    Ok(Outbound::Resync) | Err(BroadcastStreamRecvError::Lagged(_)) => {
                        Some(ServerMessage::Resync)
                    }
                },
                Some(_) = everyone.next() => Some(ServerMessage::Resync),
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
            Ok(Topic::Feed) => (FEED_CHANNEL.to_owned(), None),
            Ok(Topic::Item(id)) => (item_channel(&id), Some(id)),
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
            Ok(Topic::Feed) => self.stop_listening(FEED_CHANNEL).await,
            Ok(Topic::Item(id)) => {
                self.stop_listening(&item_channel(&id)).await;
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

async fn send(socket: &mut WebSocket, message: Message) -> Result<(), ()> {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_parse_once() {
        assert_eq!(Topic::parse("feed"), Ok(Topic::Feed));
        assert_eq!(Topic::parse("user"), Ok(Topic::User));
        assert_eq!(
            Topic::parse("item:665F1C2E9B1D8A0012345678"),
            Ok(Topic::Item("665f1c2e9b1d8a0012345678".into()))
        );
        assert!(Topic::parse("item:nope").is_err());
        assert!(Topic::parse("user:665f1c2e9b1d8a0012345678").is_err());
        assert!(Topic::parse("").is_err());
    }

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
