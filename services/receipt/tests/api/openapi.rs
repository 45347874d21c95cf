//! The receipt service's OpenAPI document: served as the repository keeps it, and
//! Schemathesis, fuzzing the running service from it, finds no server error and no
//! undeclared answer.

use receipt_service::Config;
use testkit::{Infra, TestService};

async fn spawn_service() -> TestService {
    let config = Config::for_tests(&Infra::from_env());
    testkit::spawn(
        receipt_service::build(config)
            .await
            .expect("receipt service"),
    )
    .await
}

testkit::openapi_tests!("receipt", spawn_service());
