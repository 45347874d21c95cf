//! The inventory service: public reads, writes for a signed-in seller, and reservations for
//! the transaction service.

use common::identity::{Caller, Identity, IdentityKey};
use http::StatusCode;
use reqwest::Method;
use wire::ids::{ItemId, PurchaseId, UserId};
use wire::inventory::{
    CacheStats, CatalogPage, CatalogParams, ItemEdit, ItemView, ItemsBody, NewItem,
    ReservationRequest, Reserved,
};
use wire::picture::{PictureName, PictureSize};

use crate::transport::{CallContext, CallError, Transport};

/// Items, the catalog and stock reservations (see `wire::inventory` for the endpoints).
#[derive(Debug, Clone)]
pub struct InventoryClient {
    transport: Transport,
}

impl InventoryClient {
    /// A client of the inventory service at `base_url`.
    pub fn new(http: reqwest::Client, base_url: &str, key: IdentityKey) -> Result<Self, CallError> {
        Transport::new(http, base_url, key).map(|transport| Self { transport })
    }

    fn public(
        &self,
        method: Method,
        segments: &[&str],
        context: &CallContext,
    ) -> reqwest::RequestBuilder {
        self.transport
            .request(method, segments, context, Caller::Gateway, None)
    }

    /// `GET /v1/items`: one page of the catalog.
    pub async fn catalog(
        &self,
        context: &CallContext,
        params: &CatalogParams,
    ) -> Result<CatalogPage, CallError> {
        Transport::call(
            self.public(Method::GET, &["v1", "items"], context)
                .query(params),
        )
        .await
    }

    /// `GET /v1/items/{id}`: one item, or `None` when there is no such item.
    pub async fn item(
        &self,
        context: &CallContext,
        item_id: &ItemId,
    ) -> Result<Option<ItemView>, CallError> {
        let request = self.public(Method::GET, &["v1", "items", item_id.as_str()], context);
        Transport::call_optional(request, StatusCode::NOT_FOUND).await
    }

    /// `GET /v1/sellers/{seller_id}/items`: a seller's items.
    pub async fn seller_items(
        &self,
        context: &CallContext,
        seller_id: &UserId,
    ) -> Result<ItemsBody, CallError> {
        let segments = ["v1", "sellers", seller_id.as_str(), "items"];
        Transport::call(self.public(Method::GET, &segments, context)).await
    }

    /// `POST /v1/items`: lists a new item for `seller`.
    pub async fn create_item(
        &self,
        context: &CallContext,
        seller: &Identity,
        item: &NewItem,
    ) -> Result<ItemView, CallError> {
        let request = self.transport.request(
            Method::POST,
            &["v1", "items"],
            context,
            Caller::User,
            Some(seller),
        );
        Transport::call(request.json(item)).await
    }

    /// `POST /v1/items/{id}`: `seller` changes their item.
    pub async fn edit_item(
        &self,
        context: &CallContext,
        seller: &Identity,
        item_id: &ItemId,
        edit: &ItemEdit,
    ) -> Result<ItemView, CallError> {
        let request = self.transport.request(
            Method::POST,
            &["v1", "items", item_id.as_str()],
            context,
            Caller::User,
            Some(seller),
        );
        Transport::call(request.json(edit)).await
    }

    /// `GET /v1/pictures/{name}` (or `.../card` for the smaller copy): a stored picture's
    /// bytes, or `None` when there is none.
    pub async fn picture(
        &self,
        context: &CallContext,
        name: &PictureName,
        size: PictureSize,
    ) -> Result<Option<bytes::Bytes>, CallError> {
        let request = match size {
            PictureSize::Full => {
                self.public(Method::GET, &["v1", "pictures", name.as_str()], context)
            }
            PictureSize::Card => self.public(
                Method::GET,
                &["v1", "pictures", name.as_str(), "card"],
                context,
            ),
        };
        Transport::call_for_bytes(request, StatusCode::NOT_FOUND).await
    }

    /// `POST /v1/reservations`: the transaction service sets stock aside for `buyer`'s
    /// purchase. A 409 (not enough stock) comes back as [`CallError::Refused`].
    pub async fn reserve(
        &self,
        context: &CallContext,
        buyer: &Identity,
        reservation: &ReservationRequest,
    ) -> Result<Reserved, CallError> {
        let request = self.transport.request(
            Method::POST,
            &["v1", "reservations"],
            context,
            Caller::Transaction,
            Some(buyer),
        );
        Transport::call(request.json(reservation)).await
    }

    /// `POST /v1/reservations/{id}/release`: gives a reservation's stock back.
    pub async fn release(
        &self,
        context: &CallContext,
        buyer: &Identity,
        reservation_id: &PurchaseId,
    ) -> Result<(), CallError> {
        let request = self.transport.request(
            Method::POST,
            &["v1", "reservations", reservation_id.as_str(), "release"],
            context,
            Caller::Transaction,
            Some(buyer),
        );
        Transport::call_empty(request).await
    }

    /// `GET /v1/cache/stats`: this copy's cache hits and misses.
    pub async fn cache_stats(&self, context: &CallContext) -> Result<CacheStats, CallError> {
        Transport::call(self.public(Method::GET, &["v1", "cache", "stats"], context)).await
    }
}
