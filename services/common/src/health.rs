//! `/healthz` says the process is alive; `/readyz` says every dependency of this service
//! answers right now. A load balancer routes only to ready copies.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use futures::future::{BoxFuture, join_all};
use serde::Serialize;

/// One dependency that must answer for the service to be ready.
pub trait ReadinessCheck: Send + Sync + 'static {
    /// Short name shown in `/readyz`, e.g. "mongo".
    fn name(&self) -> &'static str;
    /// Resolves to `Err(reason)` when the dependency does not answer.
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// The set of checks behind `/readyz`.
#[derive(Clone)]
pub struct Readiness {
    checks: Arc<Vec<Box<dyn ReadinessCheck>>>,
    timeout: Duration,
}

/// The body of `/readyz`.
#[derive(Debug, Serialize)]
pub struct ReadinessReport {
    /// True only when every check passed; `/readyz` answers 503 otherwise.
    pub ready: bool,
    /// Each dependency's outcome, without the failure reason (that goes to the log only).
    pub checks: Vec<CheckReport>,
}

/// One dependency's entry in `/readyz`.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// The check's short name, e.g. "mongo".
    pub name: &'static str,
    /// Whether it answered within the timeout.
    pub ok: bool,
}

impl Readiness {
    /// The checks `/readyz` runs, each given 2 s to answer.
    pub fn new(checks: Vec<Box<dyn ReadinessCheck>>) -> Self {
        Self {
            checks: Arc::new(checks),
            timeout: Duration::from_secs(2),
        }
    }

    /// Runs every check at once, each bounded by the timeout.
    pub async fn report(&self) -> ReadinessReport {
        let results = join_all(self.checks.iter().map(|check| async move {
            let outcome = match tokio::time::timeout(self.timeout, check.check()).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {:?}", self.timeout)),
            };
            if let Err(reason) = &outcome {
                // The reason may name hosts and errors: operators read it in the log, clients don't.
                tracing::warn!(dependency = check.name(), %reason, "readiness check failed");
            }
            CheckReport {
                name: check.name(),
                ok: outcome.is_ok(),
            }
        }))
        .await;
        ReadinessReport {
            ready: results.iter().all(|c| c.ok),
            checks: results,
        }
    }

    /// `/healthz` and `/readyz`.
    pub fn router(self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { (StatusCode::OK, "ok") }))
            .route("/readyz", get(readyz))
            .with_state(self)
    }
}

async fn readyz(State(readiness): State<Readiness>) -> (StatusCode, Json<ReadinessReport>) {
    let report = readiness.report().await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, bool);
    impl ReadinessCheck for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn check(&self) -> BoxFuture<'_, Result<(), String>> {
            let ok = self.1;
            Box::pin(async move { if ok { Ok(()) } else { Err("down".into()) } })
        }
    }

    struct Hangs;
    impl ReadinessCheck for Hangs {
        fn name(&self) -> &'static str {
            "hangs"
        }
        fn check(&self) -> BoxFuture<'_, Result<(), String>> {
            Box::pin(futures::future::pending())
        }
    }

    #[tokio::test]
    async fn one_failing_dependency_makes_the_service_unready() {
        let readiness = Readiness::new(vec![
            Box::new(Fixed("a", true)),
            Box::new(Fixed("b", false)),
        ]);
        let report = readiness.report().await;
        assert!(!report.ready);
        assert!(report.checks.iter().any(|c| c.name == "b" && !c.ok));
        assert!(report.checks.iter().any(|c| c.name == "a" && c.ok));
    }

    #[tokio::test]
    async fn a_hanging_dependency_counts_as_down_after_the_timeout() {
        let mut readiness = Readiness::new(vec![Box::new(Hangs)]);
        readiness.timeout = Duration::from_millis(50);
        let report = readiness.report().await;
        assert!(!report.ready);
    }
}
