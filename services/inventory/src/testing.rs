use std::time::Duration;

use testkit::Infra;

use crate::Config;

impl Config {
    /// The service on a free port of 127.0.0.1 against the shared local servers of `infra`
    /// (its cache in the main Redis), in a database no other test uses, with one-minute cache
    /// entries and the identity key every service under test shares
    /// ([`testkit::identity_key`]).
    pub fn for_tests(infra: &Infra) -> Self {
        Self {
            listen: Infra::free_local_port(),
            mongo: infra.mongo_settings("inventory"),
            redis_url: infra.redis_url.clone(),
            pubsub_redis_url: infra.redis_url.clone(),
            identity: testkit::identity_key(),
            cache_ttl: Duration::from_secs(60),
            picture_limits: crate::PictureLimits::default(),
            seller_limits: crate::SellerLimits::default(),
            unused_pictures_kept: Duration::from_secs(24 * 3600),
            unused_pictures_sweep: Duration::from_secs(600),
        }
    }
}
