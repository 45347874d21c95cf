//! The inventory service's OpenAPI document: served as the repository keeps it, and
//! Schemathesis, fuzzing the running service from it, finds no server error and no
//! undeclared answer.

use inventory_service::Config;
use testkit::{Infra, TestService};

async fn spawn_service() -> TestService {
    let config = Config::for_tests(&Infra::from_env());
    testkit::spawn(
        inventory_service::build(config)
            .await
            .expect("inventory service"),
    )
    .await
}

testkit::openapi_tests!("inventory", spawn_service());
