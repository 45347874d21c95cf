//! The receipt workers, as the gateway calls them for a signed-in buyer.

use common::identity::{Caller, Identity, IdentityKey};
use reqwest::Method;
use wire::PurchaseId;
use wire::receipt::ReceiptStatus;

use crate::transport::{CallContext, CallError, Transport};

/// A buyer's receipt status (see `wire::receipt` for the endpoints).
#[derive(Debug, Clone)]
pub struct ReceiptClient {
    transport: Transport,
}

impl ReceiptClient {
    /// A client of the receipt workers at `base_url`.
    pub fn new(http: reqwest::Client, base_url: &str, key: IdentityKey) -> Result<Self, CallError> {
        Transport::new(http, base_url, key).map(|transport| Self { transport })
    }

    /// `GET /v1/receipts/{purchase_id}`: whether `buyer`'s receipt for the purchase was
    /// emailed. Ask only for the buyer's own purchases: anyone else's reads as queued.
    pub async fn status(
        &self,
        context: &CallContext,
        buyer: &Identity,
        purchase_id: &PurchaseId,
    ) -> Result<ReceiptStatus, CallError> {
        let request = self.transport.request(
            Method::GET,
            &["v1", "receipts", purchase_id.as_str()],
            context,
            Caller::User,
            Some(buyer),
        );
        Transport::call(request).await
    }
}
