//! SMTP: the server's URL from the environment (kept secret), a transport to send with, and
//! the readiness check.

use std::time::Duration;

use futures::future::BoxFuture;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::config::defaults;
use crate::health::ReadinessCheck;

/// `SMTP_URL`, e.g. `smtp://127.0.0.1:1025` locally or
/// `smtps://user%40gmail.com:app-password@smtp.gmail.com:465` for Gmail over implicit TLS.
/// It may carry a password, so it is kept secret and never logged.
#[derive(Clone)]
pub struct SmtpSettings {
    /// The server's URL, credentials included.
    pub url: SecretString,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("url", &"[redacted]")
            .finish()
    }
}

impl SmtpSettings {
    /// Reads `SMTP_URL`, falling back to the local server.
    pub fn from_env() -> Self {
        let url = std::env::var("SMTP_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| defaults::SMTP_URL.to_owned());
        Self {
            url: SecretString::from(url),
        }
    }

    /// A transport that sends mail to the configured server over at most `connections`
    /// sessions at once (each message takes several round trips, so a sender that has many
    /// messages in flight needs as many sessions), each step giving up after 5 s.
    pub fn transport(
        &self,
        connections: u32,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
        Ok(
            AsyncSmtpTransport::<Tokio1Executor>::from_url(self.url.expose_secret())?
                .timeout(Some(Duration::from_secs(5)))
                .pool_config(PoolConfig::new().max_size(connections))
                .build(),
        )
    }
}

/// Opens an SMTP session and waits for the server's greeting.
pub struct SmtpCheck(pub AsyncSmtpTransport<Tokio1Executor>);

impl ReadinessCheck for SmtpCheck {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            match self.0.test_connection().await {
                Ok(true) => Ok(()),
                Ok(false) => Err("the server did not greet".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        })
    }
}
