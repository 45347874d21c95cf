//! The tab's one live-updates socket (the gateway's `/live`) and the signals it feeds.
//!
//! Pages say which topics they need with [`Live::follow`]: subscribed while they are mounted,
//! unsubscribed when they go. The socket reconnects with exponential backoff and jitter and
//! subscribes again; every (re)connect and every `resync` bumps [`Live::resynced`], and pages
//! re-read their durable numbers when it changes, so an event missed while away never leaves
//! a wrong number on screen.

// Only the browser receives events; the server renders the empty starting state.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

mod model;
mod socket;

pub use self::model::{Live, banner_text, time_ago};
