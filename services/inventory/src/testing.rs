use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::infra::mongo::MongoSettings;

use crate::Config;

impl Config {
    /// The service on a free port of 127.0.0.1 against the shared local servers of `infra`
    /// (its cache in the main Redis), in a database no other test uses, with one-minute cache
    /// entries and the identity key every service under test shares
    /// ([`testkit::identity_key`]).
    pub fn for_tests(infra: &testkit::Infra) -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            mongo: MongoSettings {
                uri: infra.mongodb_uri.clone(),
                database: testkit::unique_name("inventory"),
            },
            redis_url: infra.redis_url.clone(),
            identity: testkit::identity_key(),
            cache_ttl: Duration::from_secs(60),
        }
    }
}
