//! The contracts of the marketplace, written once and compiled by both ends of every call:
//! the services that answer, the typed clients and the gateway that ask, and the browser.
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`ids`] | `ItemId`, `UserId`, `PurchaseId`: only well-formed ids parse |
//! | [`money`] | integer cents, read from and shown to people |
//! | [`calendar`] | days on the UTC calendar, counted and written the same on both sides |
//! | [`error`] | [`error::ErrorBody`], the one shape of every error answer |
//! | [`user`] | the user service's requests and answers |
//! | [`inventory`] | the inventory service's requests and answers |
//! | [`transaction`] | the transaction service's requests and answers |
//! | [`picture`] | item pictures: accepted kinds, size bounds, the content-hash name |
//! | [`cart`] | the cart's requests and answers (kept by the transaction service) |
//! | [`receipt`] | the receipt workers' answers: a buyer's receipt status, operators' counts |
//! | [`events`] | what travels on Kafka and on Redis pub/sub |
//! | [`socket`] | what a browser and the notification service say over the live socket |
//! | [`kafka_topics`], [`redis_channels`], [`socket_topics`] | the three kinds of names, never mixed |
//!
//! Only `serde` is a dependency, so the browser's WebAssembly build uses the same types; the
//! `openapi` feature (services only) adds each type's JSON Schema for the OpenAPI documents.

#![warn(missing_docs)]

pub mod calendar;
pub mod cart;
pub mod error;
pub mod events;
pub mod ids;
pub mod inventory;
pub mod kafka_topics;
pub mod money;
#[cfg(feature = "openapi")]
mod openapi;
pub mod picture;
pub mod receipt;
pub mod redis_channels;
pub mod socket;
pub mod socket_topics;
pub mod transaction;
pub mod user;

pub use error::ErrorBody;
pub use ids::{ItemId, NotAnId, PurchaseId, UserId};
