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
