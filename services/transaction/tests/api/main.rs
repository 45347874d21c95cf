//! The transaction service's integration tests, in one binary: `--test api`.

mod health;
mod purchases;
