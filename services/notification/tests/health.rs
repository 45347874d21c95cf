//! The notification service started for real on port 0 against the local servers, each reached through
//! a proxy the test can cut.

use std::time::Duration;
use testkit::{Infra, TcpProxy};

#[tokio::test]
async fn alive_and_ready_and_unready_while_a_dependency_is_away() {
    let infra = Infra::from_env();
    let redis = TcpProxy::start(&infra.redis_addr()).await;
    let config = notification_service::Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        redis_url: redis.url("redis"),
        identity: common::identity::IdentityKey::new(
            "notification-tests-secret-0123456789".to_owned().into(),
        )
        .expect("secret"),
        allowed_origins: vec!["http://shop.test".to_owned()],
        limits: notification_service::Limits::default(),
        presence: notification_service::PresenceTiming::default(),
    };
    let app = testkit::spawn(
        notification_service::build(config)
            .await
            .expect("service builds"),
    )
    .await;

    app.assert_alive().await;
    app.wait_until_ready(Duration::from_secs(15)).await;
    app.assert_readiness_follows(&redis, "redis").await;
}
