//! The user service's integration tests, in one binary: `--test api`.

mod accounts;
mod health;
mod openapi;
