use std::time::Duration;

use testkit::Infra;

use crate::{Config, HashingLimits, LoginLimits, SessionPolicy};

impl Config {
    /// The service on a free port of 127.0.0.1 against the shared local servers of `infra`,
    /// in a database no other test uses, with one-hour sessions (two at most), the default
    /// sign-in and hashing limits, and the identity key every service under test shares
    /// ([`testkit::identity_key`]).
    pub fn for_tests(infra: &Infra) -> Self {
        Self {
            listen: Infra::free_local_port(),
            mongo: infra.mongo_settings("users"),
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
