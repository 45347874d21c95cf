use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::infra::mongo::MongoSettings;

use crate::{Config, HashingLimits, LoginLimits, SessionPolicy};

impl Config {
    /// The service on a free port of 127.0.0.1 against the shared local servers of `infra`,
    /// in a database no other test uses, with one-hour sessions (two at most), the default
    /// sign-in and hashing limits, and the identity key every service under test shares
    /// ([`testkit::identity_key`]).
    pub fn for_tests(infra: &testkit::Infra) -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            mongo: MongoSettings {
                uri: infra.mongodb_uri.clone(),
                database: testkit::unique_name("users"),
            },
            redis_url: infra.redis_url.clone(),
            sessions: SessionPolicy {
                idle: Duration::from_secs(3600),
                absolute: Duration::from_secs(7200),
            },
            login_limits: LoginLimits::default(),
            hashing: HashingLimits::default(),
            identity: testkit::identity_key(),
        }
    }
}
