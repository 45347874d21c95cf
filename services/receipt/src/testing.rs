use common::infra::smtp::SmtpSettings;
use testkit::Infra;

use crate::Config;

impl Config {
    /// A worker on a free port of 127.0.0.1 against the shared local servers of `infra`, in a
    /// database, on a purchases topic and in a consumer group no other test uses, with the identity
    /// key every service under test shares.
    pub fn for_tests(infra: &Infra) -> Self {
        Self {
            listen: Infra::free_local_port(),
            mongo: infra.mongo_settings("receipts"),
            kafka_brokers: infra.kafka_brokers.clone(),
            smtp: SmtpSettings {
                url: infra.smtp_url.clone().into(),
            },
            purchases_topic: testkit::unique_name("purchases"),
            group: testkit::unique_name("receipt-workers"),
            from: "Marketplace <receipts@marketplace.test>".to_owned(),
            redis_url: infra.redis_url.clone(),
            identity: testkit::identity_key(),
        }
    }
}
