use testkit::Infra;

use crate::{Config, Limits, PresenceTiming};

impl Config {
    /// An instance on a free port of 127.0.0.1 against the shared Redis of `infra`, allowing
    /// pages of `http://shop.test`, with the default limits and presence timing and the
    /// identity key every service under test shares ([`testkit::identity_key`]).
    pub fn for_tests(infra: &Infra) -> Self {
        Self {
            listen: Infra::free_local_port(),
            redis_url: infra.redis_url.clone(),
            identity: testkit::identity_key(),
            allowed_origins: vec!["http://shop.test".to_owned()],
            limits: Limits::default(),
            presence: PresenceTiming::default(),
        }
    }
}
