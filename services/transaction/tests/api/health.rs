//! The transaction service started for real on port 0: MongoDB and Redis through proxies the
//! test can cut, Kafka as a private broker the test can stop.

use std::time::Duration;

use testkit::health::Dependency::{Kafka, Mongo, Redis};
use transaction_service::Config;

#[tokio::test]
async fn alive_and_ready_and_unready_while_a_dependency_is_away() {
    testkit::health::check(&[Mongo, Redis, Kafka], Duration::from_secs(60), |infra| {
        transaction_service::build(Config::for_tests(infra))
    })
    .await;
}
