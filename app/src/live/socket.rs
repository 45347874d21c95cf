//! The browser's socket to the gateway's `/live`: following topics, reconnecting with backoff.

use leptos::prelude::*;

use super::Live;

impl Live {
    /// Keeps the topic `topic()` subscribed while the calling component is mounted, following
    /// it when it changes (`None`: nothing). Does nothing on the server.
    pub fn follow(self, topic: impl Fn() -> Option<String> + Send + Sync + 'static) {
        let current: StoredValue<Option<String>> = StoredValue::new(None);
        // Not before the page is hydrated: what the socket brings (and the re-reads when it
        // opens) would change the page's data under HTML that is still being hydrated.
        let page = crate::pages::PageHydrated::get();
        Effect::new(move |_| {
            if page.is_some_and(|page| !page.is_hydrated()) {
                return;
            }
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

    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;
    use web_sys::{MessageEvent, WebSocket};
    use wire::socket::ClientMessage;
    use wire::socket::ServerMessage;

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
