//! The transaction service started for real on port 0: MongoDB and Redis through proxies the
//! test can cut, Kafka as a private broker the test can stop.

use std::time::Duration;

use common::infra::mongo::MongoSettings;
use testkit::{Infra, KafkaBroker, TcpProxy};
use transaction_service::Config;

#[tokio::test]
async fn alive_and_ready_and_unready_while_a_dependency_is_away() {
    let infra = Infra::from_env();
    let mongo = TcpProxy::start(&infra.mongo_addr()).await;
    let redis = TcpProxy::start(&infra.redis_addr()).await;
    let mut kafka = KafkaBroker::start().await;
    let config = Config {
        mongo: MongoSettings {
            uri: format!("{}/?directConnection=true", mongo.url("mongodb")),
            database: testkit::unique_name("transaction"),
        },
        redis_url: redis.url("redis"),
        kafka_brokers: kafka.brokers(),
        ..Config::for_tests(&infra)
    };
    let app = testkit::spawn(
        transaction_service::build(config)
            .await
            .expect("service builds"),
    )
    .await;

    app.assert_alive().await;
    app.wait_until_ready(Duration::from_secs(60)).await;
    app.assert_readiness_follows(&mongo, "mongo").await;
    app.assert_readiness_follows(&redis, "redis").await;

    kafka.stop().await;
    app.wait_until_unready_because_of("kafka", Duration::from_secs(20))
        .await;
    kafka.restart().await;
    app.wait_until_ready(Duration::from_secs(60)).await;
}
