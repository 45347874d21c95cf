//! The health test every service has: `/healthz` answers, `/readyz` turns ready, names each
//! dependency while the test keeps it away and turns ready again by itself once it is back.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::{Infra, KafkaBroker, TcpProxy, TestService};

/// A server a service depends on, as its `/readyz` check is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    /// The shared MongoDB ("mongo"), reached through a proxy the test can cut.
    Mongo,
    /// The shared Redis ("redis"), reached through a proxy the test can cut.
    Redis,
    /// The shared SMTP server ("smtp"), reached through a proxy the test can cut.
    Smtp,
    /// Kafka ("kafka"): a private broker the test can stop and restart.
    Kafka,
}

impl Dependency {
    /// The name `/readyz` gives its check.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mongo => "mongo",
            Self::Redis => "redis",
            Self::Smtp => "smtp",
            Self::Kafka => "kafka",
        }
    }
}

/// How the test takes one dependency away.
enum Away {
    /// A proxy in front of the shared server, to cut and restore.
    Proxy(Dependency, Arc<TcpProxy>),
    /// A private broker, to stop and restart.
    Broker(Box<KafkaBroker>),
}

/// The shared local servers, with the dependencies under test swapped for ones the test can
/// take away: see [`start`](Self::start).
pub struct Dependencies {
    infra: Infra,
    away: Vec<Away>,
}

impl Dependencies {
    /// Starts a proxy in front of each shared server named in `dependencies` (a private broker
    /// for Kafka); the others stay the shared ones.
    pub async fn start(dependencies: &[Dependency]) -> Self {
        let mut infra = Infra::from_env();
        let mut away = Vec::with_capacity(dependencies.len());
        for &dependency in dependencies {
            let target = match dependency {
                Dependency::Mongo => infra.mongo_addr(),
                Dependency::Redis => infra.redis_addr(),
                Dependency::Smtp => infra.smtp_addr(),
                Dependency::Kafka => {
                    let broker = KafkaBroker::start().await;
                    infra.kafka_brokers = broker.brokers();
                    away.push(Away::Broker(Box::new(broker)));
                    continue;
                }
            };
            let proxy = TcpProxy::start(&target).await;
            match dependency {
                // Straight to the proxy: the server's own address would lead the driver past it.
                Dependency::Mongo => {
                    infra.mongodb_uri = format!("{}/?directConnection=true", proxy.url("mongodb"));
                }
                Dependency::Redis => infra.redis_url = proxy.url("redis"),
                Dependency::Smtp => infra.smtp_url = proxy.url("smtp"),
                Dependency::Kafka => unreachable!("a private broker, not a proxy"),
            }
            away.push(Away::Proxy(dependency, proxy));
        }
        Self { infra, away }
    }

    /// The servers a service under test is to use (for its `Config::for_tests`): the proxies
    /// and the private broker in place of the shared servers they stand for.
    pub fn infra(&self) -> &Infra {
        &self.infra
    }

    /// Asserts that `app` is alive and ready within `ready_within`, then, for each dependency
    /// in the order [`start`](Self::start) was given them, that `/readyz` turns unready naming
    /// it while it is away and ready again once it is back.
    pub async fn assert_health(&mut self, app: &TestService, ready_within: Duration) {
        app.assert_alive().await;
        app.wait_until_ready(ready_within).await;
        for away in &mut self.away {
            match away {
                Away::Proxy(dependency, proxy) => {
                    app.assert_readiness_follows(proxy, dependency.name()).await;
                }
                Away::Broker(kafka) => {
                    kafka.stop().await;
                    app.wait_until_unready_because_of(
                        Dependency::Kafka.name(),
                        Duration::from_secs(20),
                    )
                    .await;
                    kafka.restart().await;
                    app.wait_until_ready(Duration::from_secs(60)).await;
                }
            }
        }
    }
}

/// The whole health test of a service: starts `dependencies`, builds the service with `build`
/// against [`Dependencies::infra`], runs it and checks it with
/// [`Dependencies::assert_health`].
pub async fn check<F, Fut, E>(dependencies: &[Dependency], ready_within: Duration, build: F)
where
    F: FnOnce(&Infra) -> Fut,
    Fut: Future<Output = Result<common::Service, E>>,
    E: std::fmt::Debug,
{
    let mut away = Dependencies::start(dependencies).await;
    let service = build(away.infra()).await.expect("service builds");
    let app = crate::spawn(service).await;
    away.assert_health(&app, ready_within).await;
}
