//! Server functions: declared here for both sides, run only on the gateway, where they call
//! the services over HTTP.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub name: String,
    pub ready: bool,
}

/// Whether each backend service says it is ready (its `/readyz`).
#[server]
pub async fn check_services() -> Result<Vec<ServiceStatus>, ServerFnError> {
    let backends = crate::ssr::backends()?;
    Ok(backends.readiness().await)
}
