//! The notification service's OpenAPI document: served as the repository keeps it, and
//! Schemathesis, fuzzing the running service from it, finds no server error and no
//! undeclared answer.

use notification_service::Config;
use testkit::{Infra, TestService};

async fn spawn_service() -> TestService {
    let config = Config::for_tests(&Infra::from_env());
    testkit::spawn(
        notification_service::build(config)
            .await
            .expect("notification service"),
    )
    .await
}

testkit::openapi_tests!("notification", spawn_service());
