//! The receipt service's integration tests, in one binary: `--test api`.

mod crash;
mod health;
mod openapi;
mod receipts;
