//! What every marketplace service shares, so that no service writes it again:
//! configuration from the environment, telemetry, `/healthz` + `/readyz`, serving with
//! graceful shutdown, one error trait and answer, signed identities, request bodies decoded
//! into their contract types, and clients for the infrastructure. The contracts themselves
//! are in the `wire` crate.
//!
//! Everything is behind the default "server" feature.

#![warn(missing_docs)]

#[cfg(feature = "server")]
pub mod client;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
pub mod health;
#[cfg(feature = "server")]
pub mod identity;
#[cfg(feature = "server")]
pub mod infra;
#[cfg(feature = "server")]
pub mod input;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod openapi;
#[cfg(feature = "server")]
pub mod orders;
#[cfg(feature = "server")]
pub mod serve;
#[cfg(feature = "server")]
pub mod telemetry;

#[cfg(feature = "server")]
pub use error::ErrorBody;
#[cfg(feature = "server")]
pub use health::{Readiness, ReadinessCheck};
#[cfg(feature = "server")]
pub use serve::Service;
