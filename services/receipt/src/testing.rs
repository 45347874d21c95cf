use std::net::{Ipv4Addr, SocketAddr};

use common::infra::mongo::MongoSettings;
use common::infra::smtp::SmtpSettings;

use crate::Config;

impl Config {
    /// A worker on a free port of 127.0.0.1 against the shared local servers of `infra`, in a
    /// database, on a purchases topic and in a consumer group no other test uses.
    pub fn for_tests(infra: &testkit::Infra) -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            mongo: MongoSettings {
                uri: infra.mongodb_uri.clone(),
                database: testkit::unique_name("receipts"),
            },
            kafka_brokers: infra.kafka_brokers.clone(),
            smtp: SmtpSettings {
                url: infra.smtp_url.clone().into(),
            },
            purchases_topic: testkit::unique_name("purchases"),
            group: testkit::unique_name("receipt-workers"),
            from: "Marketplace <receipts@marketplace.test>".to_owned(),
        }
    }
}
