//! The notification service's integration tests, in one binary: `--test api`.

mod health;
mod openapi;
mod sockets;
