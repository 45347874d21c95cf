//! The test harness. Every test talks to real servers over real sockets: the shared local
//! servers that `scripts/infra.sh up` starts, private instances a test owns, and cuttable TCP
//! proxies that let a test take a dependency away from one service without disturbing others.

#![warn(missing_docs)]

pub mod answers;
pub mod browser;
pub mod contract;
pub mod health;
mod identity;
mod kafka;
mod live_socket;
mod mailbox;
pub mod openapi;
mod process;
mod proxy;
mod redis;
mod service;

pub use identity::{IDENTITY_SECRET, identity_key};
pub use kafka::{KafkaBroker, produce, read_topic};
pub use live_socket::{Ending, LiveSocket};
pub use mailbox::{Email, EmailBody, Mailbox};
pub use process::{free_port, wait_until_process_ready};
pub use proxy::TcpProxy;
pub use redis::{PrivateRedis, STATE_REDIS_PERSISTENCE};
pub use service::{TestService, spawn};

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use common::infra::mongo::MongoSettings;

/// The repository's root, where the files tests compare with live (`docs/openapi/…`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Addresses of the shared local servers (same variables and defaults as the services).
#[derive(Debug, Clone)]
pub struct Infra {
    /// The shared MongoDB (`MONGODB_URI`).
    pub mongodb_uri: String,
    /// The shared Redis (`REDIS_URL`).
    pub redis_url: String,
    /// The shared Kafka's bootstrap list (`KAFKA_BROKERS`).
    pub kafka_brokers: String,
    /// The shared SMTP server the services send mail to (`SMTP_URL`).
    pub smtp_url: String,
    /// The HTTP API that reads that server's mail back, for [`Mailbox`] (`MAIL_API_URL`).
    pub mail_api_url: String,
}

impl Infra {
    /// Reads the same variables as the services, falling back to the local servers that
    /// `scripts/infra.sh up` starts.
    pub fn from_env() -> Self {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Self {
            mongodb_uri: var("MONGODB_URI", "mongodb://127.0.0.1:27017"),
            redis_url: var("REDIS_URL", "redis://127.0.0.1:6379"),
            kafka_brokers: var("KAFKA_BROKERS", "127.0.0.1:9092"),
            smtp_url: var("SMTP_URL", "smtp://127.0.0.1:1025"),
            mail_api_url: var("MAIL_API_URL", "http://127.0.0.1:8025"),
        }
    }

    /// `host:port` of the shared MongoDB, e.g. for a [`TcpProxy`] to stand in front of.
    pub fn mongo_addr(&self) -> String {
        host_port(&self.mongodb_uri)
    }

    /// `host:port` of the shared Redis, e.g. for a [`TcpProxy`] to stand in front of.
    pub fn redis_addr(&self) -> String {
        host_port(&self.redis_url)
    }

    /// `host:port` of the shared SMTP server, e.g. for a [`TcpProxy`] to stand in front of.
    pub fn smtp_addr(&self) -> String {
        host_port(&self.smtp_url)
    }

    /// `127.0.0.1:0`, where a service under test listens: binding it takes a free port.
    pub fn free_local_port() -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
    }

    /// The shared MongoDB, in a database named after `prefix` that no other test uses.
    pub fn mongo_settings(&self, prefix: &str) -> MongoSettings {
        MongoSettings {
            uri: self.mongodb_uri.clone(),
            database: unique_name(prefix),
        }
    }
}

/// `scheme://[user@]host:port/...` → `host:port`.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    authority.rsplit('@').next().unwrap_or(authority).to_owned()
}

/// A name no other test run uses, for databases, topics and users.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}_{}_{}_{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Logs of the services under test, shown when a test fails (`RUST_LOG` to change the level).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_strips_scheme_credentials_and_path() {
        assert_eq!(
            host_port("mongodb://127.0.0.1:27017/?directConnection=true"),
            "127.0.0.1:27017"
        );
        assert_eq!(
            host_port("smtps://me%40x.com:pw@smtp.example.com:465"),
            "smtp.example.com:465"
        );
        assert_eq!(host_port("127.0.0.1:9092"), "127.0.0.1:9092");
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("db"), unique_name("db"));
    }
}
