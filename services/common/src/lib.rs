//! What every marketplace service shares, so that no service writes it again:
//! configuration from the environment, telemetry, `/healthz` + `/readyz`, serving with
//! graceful shutdown, the JSON error shape, and clients for the infrastructure.

pub mod config;
pub mod error;
pub mod health;
pub mod infra;
pub mod serve;
pub mod telemetry;

pub use error::ErrorBody;
pub use health::{Readiness, ReadinessCheck};
pub use serve::Service;
