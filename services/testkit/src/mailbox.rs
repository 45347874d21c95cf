//! The local SMTP server's mailbox (Mailpit's HTTP API), read back by tests.

use std::time::{Duration, Instant};

use serde::Deserialize;

/// One message in the mailbox, as a search lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Email {
    /// The mailbox's id for it, to fetch its content with [`Mailbox::body`].
    #[serde(rename = "ID")]
    pub id: String,
    /// The subject line, enough to tell which email it is.
    #[serde(rename = "Subject")]
    pub subject: String,
    /// When the mailbox received it (RFC 3339), to time delivery.
    #[serde(rename = "Created")]
    pub created: String,
}

/// A message's content, to check what the recipient reads.
#[derive(Debug, Clone, Deserialize)]
pub struct EmailBody {
    /// The subject line.
    #[serde(rename = "Subject")]
    pub subject: String,
    /// The plain-text part.
    #[serde(rename = "Text")]
    pub text: String,
    /// The HTML part.
    #[serde(rename = "HTML")]
    pub html: String,
}

#[derive(Deserialize)]
struct Search {
    messages: Vec<Email>,
}

/// Reads back what the services sent to the shared SMTP server; `Mailbox::default()` finds it
/// through `MAIL_API_URL`.
pub struct Mailbox {
    api: String,
    http: reqwest::Client,
}

impl Default for Mailbox {
    fn default() -> Self {
        Self {
            api: crate::Infra::from_env().mail_api_url,
            http: reqwest::Client::new(),
        }
    }
}

impl Mailbox {
    /// Every email sent to `address`.
    pub async fn to(&self, address: &str) -> Vec<Email> {
        let response = self
            .http
            .get(format!("{}/api/v1/search", self.api))
            .query(&[
                ("query", format!("to:\"{address}\"")),
                ("limit", "500".to_owned()),
            ])
            .send()
            .await
            .expect("the mail API answers (scripts/infra.sh up smtp)");
        response
            .json::<Search>()
            .await
            .expect("a message list")
            .messages
    }

    /// Waits until at least `count` emails to `address` arrived, then a little longer so that
    /// a duplicate would show; returns them all.
    pub async fn wait_for(&self, address: &str, count: usize, within: Duration) -> Vec<Email> {
        let started = Instant::now();
        loop {
            let emails = self.to(address).await;
            if emails.len() >= count {
                tokio::time::sleep(Duration::from_millis(500)).await;
                return self.to(address).await;
            }
            if started.elapsed() > within {
                return emails;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Fetches the full content of an email that [`to`](Self::to) listed.
    pub async fn body(&self, email: &Email) -> EmailBody {
        self.http
            .get(format!("{}/api/v1/message/{}", self.api, email.id))
            .send()
            .await
            .expect("GET message")
            .json()
            .await
            .expect("a message")
    }
}
