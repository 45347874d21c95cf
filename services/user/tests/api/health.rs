//! The user service started for real on port 0 against the local servers, each reached through
//! a proxy the test can cut.

use std::time::Duration;

use testkit::health::Dependency::{Mongo, Redis};
use user_service::Config;

#[tokio::test]
async fn alive_and_ready_and_unready_while_a_dependency_is_away() {
    testkit::health::check(&[Mongo, Redis], Duration::from_secs(15), |infra| {
        user_service::build(Config::for_tests(infra))
    })
    .await;
}
