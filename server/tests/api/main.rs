//! The gateway's integration tests, in one binary: `--test api`.

mod abuse;
mod accessibility;
mod browser;
mod cart;
mod deployment;
mod durability;
mod helpers;
mod hostile_text;
mod live_updates;
mod operations;
mod pages;
mod pictures;
mod security;
mod sessions;
mod shopping;
mod tracing;
