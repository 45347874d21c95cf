//! The receipt service started for real on port 0: MongoDB and SMTP through proxies the test
//! can cut, Kafka as a private broker the test can stop.

use std::time::Duration;

use receipt_service::Config;
use testkit::health::Dependency::{Kafka, Mongo, Smtp};

#[tokio::test]
async fn alive_and_ready_and_unready_while_a_dependency_is_away() {
    testkit::health::check(&[Mongo, Smtp, Kafka], Duration::from_secs(60), |infra| {
        receipt_service::build(Config::for_tests(infra))
    })
    .await;
}
