//! The transaction service's integration tests, in one binary: `--test api`.

mod carts;
mod health;
mod openapi;
mod purchases;
