//! The transaction service's OpenAPI document: served as the repository keeps it, and
//! Schemathesis, fuzzing the running service (with the real inventory service behind it)
//! from it, finds no server error and no undeclared answer.

use testkit::TestService;

use crate::purchases::{App, spawn_app};

/// The transaction service of an app whose inventory service keeps running beside it.
struct Transactions(App);

impl std::ops::Deref for Transactions {
    type Target = TestService;
    fn deref(&self) -> &TestService {
        &self.0.transactions
    }
}

testkit::openapi_tests!("transaction", async { Transactions(spawn_app().await) });
