//! The inventory service's OpenAPI document: served as the repository keeps it, and Schemathesis,
//! fuzzing the running service from it, finds no server error and no undeclared answer.

use common::identity::Identity;
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

#[tokio::test]
async fn serves_the_document_the_repository_keeps() {
    let service = spawn_service().await;
    testkit::openapi::assert_committed_document(&service, "inventory").await;
}

#[tokio::test]
async fn schemathesis_finds_no_fault_from_the_document() {
    let service = spawn_service().await;
    let user = Identity {
        user_id: "665f1c2e9b1d8a0012345678".parse().expect("an id"),
        display_name: "Fuzz".into(),
        email: "fuzz@example.com".into(),
    };
    testkit::openapi::assert_schemathesis_finds_nothing(&service, &user).await;
}
