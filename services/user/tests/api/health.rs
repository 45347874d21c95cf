//! The user service started for real on port 0 against the local servers, each reached through
//! a proxy the test can cut.

use common::infra::mongo::MongoSettings;
use std::time::Duration;
use testkit::{Infra, TcpProxy};
use user_service::Config;

#[tokio::test]
async fn alive_and_ready_and_unready_while_a_dependency_is_away() {
    let infra = Infra::from_env();
    let mongo = TcpProxy::start(&infra.mongo_addr()).await;
    let redis = TcpProxy::start(&infra.redis_addr()).await;
    let config = Config {
        mongo: MongoSettings {
            uri: format!("{}/?directConnection=true", mongo.url("mongodb")),
            database: testkit::unique_name("user"),
        },
        redis_url: redis.url("redis"),
        ..Config::for_tests(&infra)
    };
    let app = testkit::spawn(user_service::build(config).await.expect("service builds")).await;

    app.assert_alive().await;
    app.wait_until_ready(Duration::from_secs(15)).await;
    app.assert_readiness_follows(&mongo, "mongo").await;
    app.assert_readiness_follows(&redis, "redis").await;
}
