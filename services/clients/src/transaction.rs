//! The transaction service: purchases, a buyer's history and a seller's sales, each for the
//! signed-in user.

use common::identity::{Caller, Identity, IdentityKey};
use http::StatusCode;
use reqwest::Method;
use wire::cart::{AddToCart, CartView, GuestCartId, MergeGuestCart, SetQuantity};
use wire::transaction::{
    DailySales, HistoryParams, IDEMPOTENCY_KEY_HEADER, OutboxBacklog, PurchaseHistory,
    PurchaseRequest, PurchaseView, SalesParams, SalesReport,
};
use wire::{ItemId, PurchaseId};

use crate::transport::{CallContext, CallError, Transport};

/// Whose cart a call is about.
#[derive(Debug, Clone, Copy)]
pub enum CartOf<'a> {
    /// The signed-in user's.
    User(&'a Identity),
    /// A guest browser's, by the id in its cookie.
    Guest(&'a GuestCartId),
}

/// Purchases, sales and carts (see `wire::transaction` and `wire::cart` for the endpoints).
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

    /// A request about `cart`: the user's own (signed for them) or a guest's (signed as the
    /// gateway, which keeps the guest's cookie).
    fn for_cart(
        &self,
        method: Method,
        cart: CartOf<'_>,
        rest: &[&str],
        context: &CallContext,
    ) -> reqwest::RequestBuilder {
        match cart {
            CartOf::User(user) => {
                let segments: Vec<&str> = ["v1", "cart"].iter().chain(rest).copied().collect();
                self.for_user(method, &segments, context, user)
            }
            CartOf::Guest(guest) => {
                let segments: Vec<&str> = ["v1", "guest-carts", guest.as_str()]
                    .iter()
                    .chain(rest)
                    .copied()
                    .collect();
                self.transport
                    .request(method, &segments, context, Caller::Gateway, None)
            }
        }
    }

    /// `GET /v1/cart` or `/v1/guest-carts/{id}`: the cart at today's prices.
    pub async fn cart(
        &self,
        context: &CallContext,
        cart: CartOf<'_>,
    ) -> Result<CartView, CallError> {
        Transport::call(self.for_cart(Method::GET, cart, &[], context)).await
    }

    /// `POST …/lines`: `quantity` more of an item.
    pub async fn add_to_cart(
        &self,
        context: &CallContext,
        cart: CartOf<'_>,
        add: &AddToCart,
    ) -> Result<CartView, CallError> {
        Transport::call(
            self.for_cart(Method::POST, cart, &["lines"], context)
                .json(add),
        )
        .await
    }

    /// `PUT …/lines/{item_id}`: a line's new quantity.
    pub async fn set_cart_quantity(
        &self,
        context: &CallContext,
        cart: CartOf<'_>,
        item_id: &ItemId,
        quantity: &SetQuantity,
    ) -> Result<CartView, CallError> {
        let request = self.for_cart(Method::PUT, cart, &["lines", item_id.as_str()], context);
        Transport::call(request.json(quantity)).await
    }

    /// `DELETE …/lines/{item_id}`: a line out of the cart.
    pub async fn remove_from_cart(
        &self,
        context: &CallContext,
        cart: CartOf<'_>,
        item_id: &ItemId,
    ) -> Result<CartView, CallError> {
        let request = self.for_cart(Method::DELETE, cart, &["lines", item_id.as_str()], context);
        Transport::call(request).await
    }

    /// `DELETE /v1/cart`: empties `user`'s cart (after a checkout).
    pub async fn empty_cart(
        &self,
        context: &CallContext,
        user: &Identity,
    ) -> Result<CartView, CallError> {
        Transport::call(self.for_user(Method::DELETE, &["v1", "cart"], context, user)).await
    }

    /// `POST /v1/cart/merge`: at log in, the guest's cart joins `user`'s.
    pub async fn merge_guest_cart(
        &self,
        context: &CallContext,
        user: &Identity,
        merge: &MergeGuestCart,
    ) -> Result<CartView, CallError> {
        let request = self.for_user(Method::POST, &["v1", "cart", "merge"], context, user);
        Transport::call(request.json(merge)).await
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
