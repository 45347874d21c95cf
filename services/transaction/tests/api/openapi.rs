//! The transaction service's OpenAPI document: served as the repository keeps it, and
//! Schemathesis, fuzzing the running service (with the real inventory service behind it)
//! from it, finds no server error and no undeclared answer.

use crate::purchases::{person, spawn_app};

#[tokio::test]
async fn serves_the_document_the_repository_keeps() {
    let app = spawn_app().await;
    testkit::openapi::assert_committed_document(&app.transactions, "transaction").await;
}

#[tokio::test]
async fn schemathesis_finds_no_fault_from_the_document() {
    let app = spawn_app().await;
    testkit::openapi::assert_schemathesis_finds_nothing(&app.transactions, &person("Fuzz")).await;
}
