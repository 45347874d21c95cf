//! The transaction service: purchases, a buyer's history and a seller's sales, each for the
//! signed-in user.

use common::identity::{Caller, Identity, IdentityKey};
use http::StatusCode;
use reqwest::Method;
use wire::PurchaseId;
use wire::transaction::{
    DailySales, HistoryParams, IDEMPOTENCY_KEY_HEADER, OutboxBacklog, PurchaseHistory,
    PurchaseRequest, PurchaseView, SalesParams, SalesReport,
};

use crate::transport::{CallContext, CallError, Transport};

/// Purchases and sales (see `wire::transaction` for the endpoints).
#[derive(Debug, Clone)]
pub struct TransactionClient {
    transport: Transport,
}

impl TransactionClient {
    /// A client of the transaction service at `base_url`.
    pub fn new(http: reqwest::Client, base_url: &str, key: IdentityKey) -> Result<Self, CallError> {
        Transport::new(http, base_url, key).map(|transport| Self { transport })
    }

    fn for_user(
        &self,
        method: Method,
        segments: &[&str],
        context: &CallContext,
        user: &Identity,
    ) -> reqwest::RequestBuilder {
        self.transport
            .request(method, segments, context, Caller::User, Some(user))
    }

    /// `POST /v1/purchases`: buys for `buyer`; the same `idempotency_key` never buys twice.
    pub async fn purchase(
        &self,
        context: &CallContext,
        buyer: &Identity,
        idempotency_key: &str,
        purchase: &PurchaseRequest,
    ) -> Result<PurchaseView, CallError> {
        let request = self
            .for_user(Method::POST, &["v1", "purchases"], context, buyer)
            .header(IDEMPOTENCY_KEY_HEADER, idempotency_key)
            .json(purchase);
        Transport::call(request).await
    }

    /// `GET /v1/purchases`: one page of `buyer`'s purchases, newest first.
    pub async fn history(
        &self,
        context: &CallContext,
        buyer: &Identity,
        params: &HistoryParams,
    ) -> Result<PurchaseHistory, CallError> {
        let request = self
            .for_user(Method::GET, &["v1", "purchases"], context, buyer)
            .query(params);
        Transport::call(request).await
    }

    /// `GET /v1/purchases/{purchase_id}`: one of `buyer`'s purchases; `None` when they made
    /// no such purchase.
    pub async fn purchase_of(
        &self,
        context: &CallContext,
        buyer: &Identity,
        purchase_id: &PurchaseId,
    ) -> Result<Option<PurchaseView>, CallError> {
        let request = self.for_user(
            Method::GET,
            &["v1", "purchases", purchase_id.as_str()],
            context,
            buyer,
        );
        Transport::call_optional(request, StatusCode::NOT_FOUND).await
    }

    /// `GET /v1/sales`: one page of what `seller` sold, newest first, and the totals.
    pub async fn sales(
        &self,
        context: &CallContext,
        seller: &Identity,
        params: &SalesParams,
    ) -> Result<SalesReport, CallError> {
        let request = self
            .for_user(Method::GET, &["v1", "sales"], context, seller)
            .query(params);
        Transport::call(request).await
    }

    /// `GET /v1/sales/daily`: what `seller` sold on each of the last 30 days.
    pub async fn daily_sales(
        &self,
        context: &CallContext,
        seller: &Identity,
    ) -> Result<DailySales, CallError> {
        let request = self.for_user(Method::GET, &["v1", "sales", "daily"], context, seller);
        Transport::call(request).await
    }

    /// `GET /v1/outbox`: purchases not yet relayed to Kafka.
    pub async fn outbox(&self, context: &CallContext) -> Result<OutboxBacklog, CallError> {
        let request = self.transport.request(
            Method::GET,
            &["v1", "outbox"],
            context,
            Caller::Gateway,
            None,
        );
        Transport::call(request).await
    }
}
