//! What a browser and the notification service say to each other over the live socket. The
//! topics are [`crate::socket_topics`].

use serde::{Deserialize, Serialize};

use crate::events::LiveEvent;

/// Browser → notification service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Start receiving a topic's events.
    Subscribe {
        /// A socket topic.
        topic: String,
    },
    /// Stop receiving them.
    Unsubscribe {
        /// A socket topic.
        topic: String,
    },
}

/// Notification service → browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Something happened on a topic the socket subscribed to.
    Event {
        /// The socket topic.
        topic: String,
        /// What happened.
        event: LiveEvent,
    },
    /// Several events on one topic in one frame: what a busy topic gathered within one
    /// coalescing window (see the notification service's hub), oldest first. Apply them in
    /// order, as if each had come as an [`ServerMessage::Event`].
    Events {
        /// The socket topic.
        topic: String,
        /// The events kept: the latest purchases on the feed, the latest numbers of an item.
        events: Vec<LiveEvent>,
        /// How many more events of the window were left out (older purchases on the feed;
        /// numbers an item's later numbers replace).
        folded: u64,
    },
    /// The subscription is active: events published from now on arrive.
    Subscribed {
        /// The socket topic.
        topic: String,
    },
    /// The subscription was not made, and why.
    Refused {
        /// The socket topic.
        topic: String,
        /// A sentence.
        reason: String,
    },
    /// Events may have been missed: re-read the durable state.
    Resync,
    /// The last message could not be understood.
    Error {
        /// A sentence.
        message: String,
    },
}
