//! Typed clients of the marketplace's HTTP services: each method takes the request type of
//! one endpoint from the `wire` crate and returns its answer type, or one [`CallError`].
//! Every call carries the request id, the trace context and an identity signed for what the
//! endpoint serves (the gateway, a user, or the transaction service).
//!
//! Used by the gateway, the transaction service (for inventory), `seed-demo`, the benches and
//! the tests; nothing here knows about Leptos.

#![warn(missing_docs)]

mod inventory;
mod receipt;
mod transaction;
mod transport;
mod user;

pub use inventory::InventoryClient;
pub use receipt::ReceiptClient;
pub use transaction::{CartOf, TransactionClient};
pub use transport::{CallContext, CallError, decode_answer, http_client, is_ready};
pub use user::UserClient;
