//! The tab's one live-updates socket (the gateway's `/live`) and the signals it feeds.
//!
//! Pages say which topics they need with [`Live::follow`]: subscribed while they are mounted,
//! unsubscribed when they go. The socket reconnects with exponential backoff and jitter and
//! subscribes again; every (re)connect and every `resync` bumps [`Live::resynced`], and pages
//! re-read their durable numbers when it changes, so an event missed while away never leaves
//! a wrong number on screen.

// Only the browser receives events; the server renders the empty starting state.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

use std::collections::HashMap;

use common::events::{LiveEvent, ServerMessage};
use leptos::prelude::*;

/// How long a purchase banner stays unless dismissed.
const BANNER_LIFETIME_MS: u64 = 60_000;
/// Banners shown at once; older ones make room.
const MAX_BANNERS: usize = 3;

/// The latest live numbers of one item; `None` until an event says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemNumbers {
    /// (count, sequence number): a count with a lower number arrived late and is ignored.
    pub viewers: Option<(u64, u64)>,
    pub sold: Option<i64>,
    pub stock: Option<i64>,
}

/// "Alex bought Red Lamp".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    pub id: u64,
    pub buyer_name: String,
    pub titles: Vec<String>,
    /// Unix milliseconds.
    pub at: i64,
}

#[derive(Clone, Copy)]
pub struct Live {
    pub banners: RwSignal<Vec<Banner>>,
    /// Bumped on every (re)connect and `resync`: durable state should be read again.
    pub resynced: RwSignal<u64>,
    /// Bumped when the signed-in user's purchases changed, in any tab or browser.
    pub purchases_changed: RwSignal<u64>,
    /// Bumped when someone bought the signed-in seller's items.
    pub sales_changed: RwSignal<u64>,
    pub items: RwSignal<HashMap<String, ItemNumbers>>,
    /// Whether the socket is open right now.
    pub connected: RwSignal<bool>,
    next_banner: StoredValue<u64>,
}

impl Live {
    pub fn new() -> Self {
        Self {
            banners: RwSignal::new(Vec::new()),
            resynced: RwSignal::new(0),
            purchases_changed: RwSignal::new(0),
            sales_changed: RwSignal::new(0),
            items: RwSignal::new(HashMap::new()),
            connected: RwSignal::new(false),
            next_banner: StoredValue::new(0),
        }
    }

    /// Keeps the topic `topic()` subscribed while the calling component is mounted, following
    /// it when it changes (`None`: nothing). Does nothing on the server.
    pub fn follow(self, topic: impl Fn() -> Option<String> + Send + Sync + 'static) {
        let current: StoredValue<Option<String>> = StoredValue::new(None);
        Effect::new(move |_| {
            let next = topic();
            let previous = current.get_value();
            if previous == next {
                return;
            }
            if let Some(previous) = previous {
                browser::unsubscribe(self, &previous);
            }
            if let Some(next) = &next {
                browser::subscribe(self, next);
            }
            current.set_value(next);
        });
        on_cleanup(move || {
            if let Some(topic) = current.try_get_value().flatten() {
                browser::unsubscribe(self, &topic);
            }
        });
    }

    /// Opens a fresh socket at once, e.g. because the user logged in or out and the socket
    /// should carry the new identity.
    pub fn reconnect(self) {
        browser::reconnect(self);
    }

    pub fn dismiss(self, id: u64) {
        self.banners
            .update(|banners| banners.retain(|b| b.id != id));
    }

    pub fn numbers(self, item_id: &str) -> ItemNumbers {
        self.items
            .with(|items| items.get(item_id).cloned())
            .unwrap_or_default()
    }

    /// A (re)connected socket knows nothing it missed: forget the live numbers and let
    /// pages read the durable ones again.
    fn opened(self) {
        self.items.update(HashMap::clear);
        self.resynced.update(|n| *n += 1);
        self.connected.set(true);
    }

    fn apply(self, message: ServerMessage) {
        match message {
            ServerMessage::Event { event, .. } => self.apply_event(event),
            ServerMessage::Resync => {
                self.items.update(|items| {
                    for numbers in items.values_mut() {
                        numbers.sold = None;
                        numbers.stock = None;
                    }
                });
                self.resynced.update(|n| *n += 1);
            }
            ServerMessage::Subscribed { .. }
            | ServerMessage::Refused { .. }
            | ServerMessage::Error { .. } => {}
        }
    }

    fn apply_event(self, event: LiveEvent) {
        match event {
            LiveEvent::Purchase {
                buyer_name,
                titles,
                at,
            } => {
                let id = self.next_banner.get_value();
                self.next_banner.set_value(id + 1);
                self.banners.update(|banners| {
                    banners.insert(
                        0,
                        Banner {
                            id,
                            buyer_name,
                            titles,
                            at,
                        },
                    );
                    banners.truncate(MAX_BANNERS);
                });
                set_timeout(
                    move || self.dismiss(id),
                    std::time::Duration::from_millis(BANNER_LIFETIME_MS),
                );
            }
            LiveEvent::ItemChanged {
                item_id,
                sold,
                stock,
            } => self.items.update(|items| {
                let numbers = items.entry(item_id).or_default();
                numbers.sold = Some(sold);
                numbers.stock = Some(stock);
            }),
            LiveEvent::Viewers {
                item_id,
                count,
                seq,
            } => self.items.update(|items| {
                let numbers = items.entry(item_id).or_default();
                if numbers.viewers.is_none_or(|(_, latest)| seq > latest) {
                    numbers.viewers = Some((count, seq));
                }
            }),
            LiveEvent::PurchasesChanged { .. } => self.purchases_changed.update(|n| *n += 1),
            LiveEvent::SalesChanged { .. } => self.sales_changed.update(|n| *n += 1),
            LiveEvent::SignedOut => {}
        }
    }
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

/// "Alex bought Red Lamp", "Alex bought Red Lamp and 2 more".
pub fn banner_text(banner: &Banner) -> String {
    match banner.titles.as_slice() {
        [] => format!("{} bought something", banner.buyer_name),
        [title] => format!("{} bought {title}", banner.buyer_name),
        [title, rest @ ..] => format!(
            "{} bought {title} and {} more",
            banner.buyer_name,
            rest.len()
        ),
    }
}

/// "just now", "2 min ago", "3 h ago".
pub fn time_ago(at_ms: i64, now_ms: i64) -> String {
    let seconds = (now_ms - at_ms).max(0) / 1000;
    match seconds {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", seconds / 60),
        _ => format!("{} h ago", seconds / 3600),
    }
}

#[cfg(not(feature = "hydrate"))]
mod browser {
    //! On the server there is no socket.
    use super::Live;

    pub fn subscribe(_: Live, _: &str) {}
    pub fn unsubscribe(_: Live, _: &str) {}
    pub fn reconnect(_: Live) {}
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::time::Duration;

    use common::events::{ClientMessage, ServerMessage};
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;
    use web_sys::{MessageEvent, WebSocket};

    use super::Live;

    const FIRST_RETRY_MS: f64 = 500.0;
    const LONGEST_RETRY_MS: f64 = 30_000.0;

    /// The tab's socket. The browser is single-threaded, so it lives in a thread-local
    /// beside the signals it feeds.
    #[derive(Default)]
    struct Connection {
        socket: Option<WebSocket>,
        /// Topic → how many mounted components follow it.
        topics: HashMap<String, usize>,
        failures: u32,
        retry_pending: bool,
        /// Dropping a handler while the socket can still call it would be an error, so
        /// they live as long as their socket.
        handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    }

    thread_local! {
        static CONNECTION: RefCell<Connection> = RefCell::default();
    }

    fn send(socket: &WebSocket, message: &ClientMessage) {
        if socket.ready_state() == WebSocket::OPEN
            && let Ok(text) = serde_json::to_string(message)
        {
            let _ = socket.send_with_str(&text);
        }
    }

    pub fn subscribe(live: Live, topic: &str) {
        let socket = CONNECTION.with_borrow_mut(|connection| {
            let followers = connection.topics.entry(topic.to_owned()).or_default();
            *followers += 1;
            (*followers == 1)
                .then(|| connection.socket.clone())
                .flatten()
        });
        match socket {
            Some(socket) => send(
                &socket,
                &ClientMessage::Subscribe {
                    topic: topic.to_owned(),
                },
            ),
            None => ensure_open(live),
        }
    }

    pub fn unsubscribe(_live: Live, topic: &str) {
        let socket = CONNECTION.with_borrow_mut(|connection| {
            let followers = connection.topics.get_mut(topic)?;
            *followers -= 1;
            if *followers > 0 {
                return None;
            }
            connection.topics.remove(topic);
            connection.socket.clone()
        });
        if let Some(socket) = socket {
            send(
                &socket,
                &ClientMessage::Unsubscribe {
                    topic: topic.to_owned(),
                },
            );
        }
    }

    pub fn reconnect(live: Live) {
        live.connected.set(false);
        let old = CONNECTION.with_borrow_mut(|connection| {
            connection.failures = 0;
            connection.socket.take()
        });
        if let Some(old) = old {
            old.set_onopen(None);
            old.set_onmessage(None);
            old.set_onclose(None);
            let _ = old.close();
        }
        ensure_open(live);
    }

    fn ensure_open(live: Live) {
        let idle = CONNECTION.with_borrow(|c| c.socket.is_none() && !c.retry_pending);
        if idle {
            open(live);
        }
    }

    fn live_url() -> Option<String> {
        let location = window().location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}/live", location.host().ok()?))
    }

    fn open(live: Live) {
        let Some(socket) = live_url().and_then(|url| WebSocket::new(&url).ok()) else {
            return;
        };
        let on_open = {
            let socket = socket.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                let topics: Vec<String> = CONNECTION.with_borrow_mut(|connection| {
                    connection.failures = 0;
                    connection.topics.keys().cloned().collect()
                });
                for topic in topics {
                    send(&socket, &ClientMessage::Subscribe { topic });
                }
                live.opened();
            })
        };
        let on_message = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let Some(text) = event
                .dyn_ref::<MessageEvent>()
                .and_then(|message| message.data().as_string())
            else {
                return;
            };
            if let Ok(message) = serde_json::from_str::<ServerMessage>(&text) {
                live.apply(message);
            }
        });
        let on_close = {
            let socket = socket.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                let current = CONNECTION.with_borrow(|c| c.socket.as_ref() == Some(&socket));
                if current {
                    retry_later(live);
                }
            })
        };
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        CONNECTION.with_borrow_mut(|connection| {
            connection.socket = Some(socket);
            connection.handlers = vec![on_open, on_message, on_close];
        });
    }

    /// Exponential backoff with jitter, so a restarted server is not hit by every tab at once.
    fn retry_later(live: Live) {
        live.connected.set(false);
        let failures = CONNECTION.with_borrow_mut(|connection| {
            connection.socket = None;
            connection.retry_pending = true;
            connection.failures += 1;
            connection.failures
        });
        let ceiling = (FIRST_RETRY_MS * 2f64.powi(failures as i32 - 1)).min(LONGEST_RETRY_MS);
        let delay = ceiling * (0.5 + js_sys::Math::random() / 2.0);
        set_timeout(
            move || {
                CONNECTION.with_borrow_mut(|connection| connection.retry_pending = false);
                ensure_open(live);
            },
            Duration::from_millis(delay as u64),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_read_like_a_sentence() {
        let banner = |titles: &[&str]| Banner {
            id: 0,
            buyer_name: "Alex".into(),
            titles: titles.iter().map(|t| (*t).to_owned()).collect(),
            at: 0,
        };
        assert_eq!(banner_text(&banner(&["Red Lamp"])), "Alex bought Red Lamp");
        assert_eq!(
            banner_text(&banner(&["Red Lamp", "Chair", "Rug"])),
            "Alex bought Red Lamp and 2 more"
        );
    }

    #[test]
    fn times_are_told_in_plain_words() {
        assert_eq!(time_ago(0, 59_000), "just now");
        assert_eq!(time_ago(0, 120_000), "2 min ago");
        assert_eq!(time_ago(0, 3 * 3_600_000 + 5), "3 h ago");
        assert_eq!(time_ago(10_000, 0), "just now");
    }
}
