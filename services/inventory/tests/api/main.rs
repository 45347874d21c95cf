//! The inventory service's integration tests, in one binary: `--test api`.

mod catalog;
mod health;
mod openapi;
mod pictures;
mod reservations;
