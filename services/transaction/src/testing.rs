use testkit::Infra;

use crate::Config;

impl Config {
    /// The service on a free port of 127.0.0.1 against the shared local servers of `infra`,
    /// in a database and with a purchases topic no other test uses, and the identity key every
    /// service under test shares ([`testkit::identity_key`]). Its inventory service is an
    /// address where nothing answers: a test that buys sets `inventory_url`. Purchases left
    /// pending are swept after the production bound (30 s); a sweeper test sets it shorter.
    pub fn for_tests(infra: &Infra) -> Self {
        Self {
            listen: Infra::free_local_port(),
            mongo: infra.mongo_settings("transactions"),
            redis_url: infra.redis_url.clone(),
            kafka_brokers: infra.kafka_brokers.clone(),
            purchases_topic: testkit::unique_name("purchases"),
            identity: testkit::identity_key(),
            inventory_url: "http://127.0.0.1:9".to_owned(),
            pending_bound: std::time::Duration::from_secs(30),
        }
    }
}
