//! What every marketplace service shares, so that no service writes it again:
//! configuration from the environment, telemetry, `/healthz` + `/readyz`, serving with
//! graceful shutdown, the JSON error shape, signed identities, input parsing, clients for the
//! infrastructure, and the wire types that services, gateway and browser exchange.
//!
//! Without the default "server" feature only [`types`] is built (the browser uses that).

pub mod events;
pub mod ids;
pub mod types;

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
