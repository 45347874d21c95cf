//! Gateway-side state the server functions use: where the services are, and one shared
//! HTTP client to reach them.

use std::time::Duration;

use leptos::prelude::*;

use crate::api::ServiceStatus;

#[derive(Debug, Clone)]
pub struct Backends {
    pub http: reqwest::Client,
    pub services: Vec<(&'static str, String)>,
}

impl Backends {
    /// `services`: (name, base URL) pairs.
    pub fn new(services: Vec<(&'static str, String)>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .unwrap_or_default();
        Self { http, services }
    }

    pub async fn readiness(&self) -> Vec<ServiceStatus> {
        let checks = self.services.iter().map(|(name, base)| async move {
            let ready = match self.http.get(format!("{base}/readyz")).send().await {
                Ok(response) => response.status().is_success(),
                Err(err) => {
                    tracing::warn!(service = name, %err, "service unreachable");
                    false
                }
            };
            ServiceStatus {
                name: (*name).to_owned(),
                ready,
            }
        });
        futures::future::join_all(checks).await
    }
}

/// The gateway provides `Backends` as context to every server function and page render.
pub fn backends() -> Result<Backends, ServerFnError> {
    use_context::<Backends>()
        .ok_or_else(|| ServerFnError::new("the gateway has no backends configured"))
}
