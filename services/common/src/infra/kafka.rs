//! Kafka: the broker list from the environment and a readiness check that asks the
//! brokers for cluster metadata.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::config::{defaults, env_or};
use crate::health::ReadinessCheck;

/// `KAFKA_BROKERS`: comma-separated host:port list.
pub fn brokers_from_env() -> String {
    env_or("KAFKA_BROKERS", defaults::KAFKA_BROKERS)
}

/// Asks the brokers for cluster metadata; they are reachable when it arrives.
pub struct KafkaCheck {
    client: Arc<BaseConsumer>,
}

impl KafkaCheck {
    /// A check against `brokers` (comma-separated host:port). Fails only on a bad client
    /// configuration: the brokers need not be up yet.
    pub fn new(brokers: &str) -> Result<Self, rdkafka::error::KafkaError> {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("client.id", "readiness-check")
            .set("socket.timeout.ms", "2000")
            .create()?;
        Ok(Self {
            client: Arc::new(client),
        })
    }
}

impl ReadinessCheck for KafkaCheck {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let client = Arc::clone(&self.client);
        Box::pin(async move {
            // librdkafka's metadata call blocks its thread.
            tokio::task::spawn_blocking(move || {
                let metadata = client
                    .fetch_metadata(None, Duration::from_millis(1500))
                    .map_err(|e| e.to_string())?;
                if metadata.brokers().is_empty() {
                    return Err("the cluster reported no brokers".to_owned());
                }
                Ok(())
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }
}
