//! The user service's OpenAPI document: served as the repository keeps it, and
//! Schemathesis, fuzzing the running service from it, finds no server error and no
//! undeclared answer.

use testkit::{Infra, TestService};
use user_service::Config;

async fn spawn_service() -> TestService {
    let config = Config::for_tests(&Infra::from_env());
    testkit::spawn(user_service::build(config).await.expect("user service")).await
}

testkit::openapi_tests!("user", spawn_service());
