//! A live-updates socket as a browser tab holds one: connect with an `Origin` (and, through
//! the gateway, a session cookie), subscribe to topics, read what arrives.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wire::events::LiveEvent;
use wire::socket::ClientMessage;
use wire::socket::ServerMessage;

/// One live-updates WebSocket, held as a browser tab holds it.
pub struct LiveSocket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Read while waiting for something else; handed out by `next` in order.
    pending: VecDeque<ServerMessage>,
    /// The rest of a coalesced frame's events, read before the next frame.
    unbatched: VecDeque<ServerMessage>,
    /// Text frames received so far.
    frames: usize,
}

/// How a socket ended, as seen from the browser side.
#[derive(Debug)]
pub enum Ending {
    /// The server sent a close frame (with its code and reason, if any).
    Closed(Option<CloseFrame>),
    /// The connection ended or failed without a close frame.
    Dropped,
}

impl LiveSocket {
    /// Opens `url` (`ws://…`) with the given `Origin` and extra headers. A refused handshake
    /// is `Err(status)`.
    pub async fn connect(
        url: &str,
        origin: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Self, u16> {
        let mut request = url.into_client_request().expect("a ws:// URL");
        if let Some(origin) = origin {
            request.headers_mut().insert(
                "origin",
                HeaderValue::from_str(origin).expect("origin header"),
            );
        }
        for (name, value) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(Self {
                stream,
                pending: VecDeque::new(),
                unbatched: VecDeque::new(),
                frames: 0,
            }),
            Err(Error::Http(response)) => Err(response.status().as_u16()),
            Err(err) => panic!("could not reach {url}: {err}"),
        }
    }

    /// How many text frames the server has sent so far (a coalesced frame counts once,
    /// however many events it holds).
    pub fn frames_received(&self) -> usize {
        self.frames
    }

    /// Sends a raw text frame, e.g. a malformed message the server must answer with an error.
    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.stream
            .send(Message::text(text.into()))
            .await
            .expect("send on the live socket");
    }

    async fn send(&mut self, message: &ClientMessage) {
        self.send_text(serde_json::to_string(message).expect("serialise"))
            .await;
    }

    /// Subscribes and returns the answer (`Subscribed` or `Refused`).
    pub async fn subscribe(&mut self, topic: &str) -> ServerMessage {
        self.send(&ClientMessage::Subscribe {
            topic: topic.to_owned(),
        })
        .await;
        self.take(Duration::from_secs(10), |message| match message {
            ServerMessage::Subscribed { topic: t } | ServerMessage::Refused { topic: t, .. } => {
                t == topic
            }
            _ => false,
        })
        .await
        .unwrap_or_else(|| panic!("no answer to subscribing to {topic}"))
    }

    /// Subscribes and expects it to be accepted.
    pub async fn subscribed(mut self, topic: &str) -> Self {
        let answer = self.subscribe(topic).await;
        assert_eq!(
            answer,
            ServerMessage::Subscribed {
                topic: topic.to_owned()
            }
        );
        self
    }

    /// Stops receiving `topic`; the server sends no answer to wait for.
    pub async fn unsubscribe(&mut self, topic: &str) {
        self.send(&ClientMessage::Unsubscribe {
            topic: topic.to_owned(),
        })
        .await;
    }

    /// The next message within `within`, or `None`.
    pub async fn next(&mut self, within: Duration) -> Option<ServerMessage> {
        if let Some(message) = self.pending.pop_front() {
            return Some(message);
        }
        self.read(within).await
    }

    async fn read(&mut self, within: Duration) -> Option<ServerMessage> {
        if let Some(message) = self.unbatched.pop_front() {
            return Some(message);
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = tokio::time::timeout(left, self.stream.next())
                .await
                .ok()??;
            match frame {
                Ok(Message::Text(text)) => {
                    self.frames += 1;
                    let message: ServerMessage = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|err| panic!("not a server message ({err}): {text}"));
                    // A coalesced frame reads as its events, one after another.
                    if let ServerMessage::Events { topic, events, .. } = message {
                        self.unbatched.extend(events.into_iter().map(|event| {
                            ServerMessage::Event {
                                topic: topic.clone(),
                                event,
                            }
                        }));
                        match self.unbatched.pop_front() {
                            Some(first) => return Some(first),
                            None => continue,
                        }
                    }
                    return Some(message);
                }
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// The first message matching `wanted` within `within`; others are kept for `next`.
    pub async fn take(
        &mut self,
        within: Duration,
        wanted: impl Fn(&ServerMessage) -> bool,
    ) -> Option<ServerMessage> {
        if let Some(index) = self.pending.iter().position(&wanted) {
            return self.pending.remove(index);
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self.read(left).await?;
            if wanted(&message) {
                return Some(message);
            }
            self.pending.push_back(message);
        }
    }

    /// Every live event on `topic` that arrives within `within` (reads for the whole time).
    pub async fn events_during(&mut self, topic: &str, within: Duration) -> Vec<LiveEvent> {
        let deadline = Instant::now() + within;
        let mut events = Vec::new();
        while let Some(message) = self
            .take(
                deadline.saturating_duration_since(Instant::now()),
                |m| matches!(m, ServerMessage::Event { topic: t, .. } if t == topic),
            )
            .await
        {
            if let ServerMessage::Event { event, .. } = message {
                events.push(event);
            }
        }
        events
    }

    /// Waits until the latest viewer count for `item_id` is `count` (counts that arrive out of
    /// order are judged by their sequence number); panics with the last count otherwise.
    pub async fn wait_for_viewers(&mut self, item_id: &str, count: u64, within: Duration) {
        let deadline = Instant::now() + within;
        let mut latest: Option<(u64, u64)> = None;
        loop {
            if latest.is_some_and(|(_, c)| c == count) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .take(left, |m| {
                    matches!(m, ServerMessage::Event { event: LiveEvent::Viewers { item_id: id, .. }, .. } if id == item_id)
                })
                .await;
            match message {
                Some(ServerMessage::Event {
                    event: LiveEvent::Viewers { count: c, seq, .. },
                    ..
                }) => {
                    if latest.is_none_or(|(s, _)| seq > s) {
                        latest = Some((seq, c));
                    }
                }
                _ => panic!(
                    "viewers of {item_id} did not become {count} within {within:?}; last count {:?}",
                    latest.map(|(_, c)| c)
                ),
            }
        }
    }

    /// Reads until the server ends the socket, within `within`.
    pub async fn ending(&mut self, within: Duration) -> Option<Ending> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.next()).await {
                Err(_) => return None,
                Ok(None) => return Some(Ending::Dropped),
                Ok(Some(Ok(Message::Close(frame)))) => return Some(Ending::Closed(frame)),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_))) => return Some(Ending::Dropped),
            }
        }
    }

    /// Closes the socket cleanly, as closing the tab does.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}
