//! The cart's HTTP API (`wire::cart`): the signed-in user's cart at `/v1/cart…`, a guest's
//! at `/v1/guest-carts/{guest_cart_id}…` for the gateway alone. The same handlers serve both
//! (a guest route's handler is the user route's under its own name, so that each has its own
//! OpenAPI operation); [`Owner`] says whose cart a request is about.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use clients::CallContext;
use common::identity::{FromGateway, SignedIn};
use common::infra::redis::publish_live;
use common::input::{Body, FieldError};
use common::openapi::{BodyRefusals, SignedRefusals, Unavailable};
use wire::ErrorBody;
use wire::cart::{AddToCart, CartView, GuestCartId, MergeGuestCart, SetQuantity};
use wire::events::LiveEvent;
use wire::{ItemId, redis_channels};

use crate::AppState;
use crate::cart::{CartOwner, Carts};
use crate::error::ApiError;

/// The cart routes, for both kinds of owner.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/cart", get(show).delete(empty))
        .route("/v1/cart/lines", post(add))
        .route("/v1/cart/lines/{item_id}", put(set).delete(remove))
        .route("/v1/cart/merge", post(merge))
        .route("/v1/guest-carts/{guest_cart_id}", get(guest_show))
        .route("/v1/guest-carts/{guest_cart_id}/lines", post(guest_add))
        .route(
            "/v1/guest-carts/{guest_cart_id}/lines/{item_id}",
            put(guest_set).delete(guest_remove),
        )
}

/// Whose cart a request is about: the signed-in user's, or (for the gateway only) the guest
/// cart its path names.
pub struct Owner(CartOwner);

impl FromRequestParts<AppState> for Owner {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let guest = parts
            .uri
            .path()
            .strip_prefix("/v1/guest-carts/")
            .map(|rest| rest.split('/').next().unwrap_or_default().to_owned());
        match guest {
            Some(raw) => {
                FromGateway::from_request_parts(parts, state)
                    .await
                    .map_err(IntoResponse::into_response)?;
                let id = GuestCartId::parse(&raw).map_err(|err| {
                    ApiError::from(FieldError::new("guest_cart_id", err.to_string()))
                        .into_response()
                })?;
                Ok(Self(CartOwner::Guest(id)))
            }
            None => {
                let SignedIn(user) = SignedIn::from_request_parts(parts, state)
                    .await
                    .map_err(IntoResponse::into_response)?;
                Ok(Self(CartOwner::User(user.user_id)))
            }
        }
    }
}

/// The item id in the path, parsed.
fn item_in_path(params: &HashMap<String, String>) -> Result<ItemId, ApiError> {
    let raw = params
        .get("item_id")
        .map(String::as_str)
        .unwrap_or_default();
    ItemId::parse(raw).map_err(|err| FieldError::new("item_id", err.to_string()).into())
}

/// The cart with each item as the inventory has it now.
async fn current(state: &AppState, owner: &CartOwner) -> Result<CartView, ApiError> {
    let lines = state.carts.lines(owner).await?;
    let context = CallContext::default();
    let lookups = lines
        .iter()
        .map(|line| state.inventory.item(&context, &line.item_id));
    let mut items = HashMap::new();
    for found in futures::future::join_all(lookups).await {
        if let Some(item) = found.map_err(|err| ApiError::Unavailable(err.into()))? {
            items.insert(item.id.clone(), item);
        }
    }
    Ok(Carts::view(lines, &items))
}

/// After a change to a user's cart: their other tabs and devices read it again.
fn announce(state: &AppState, owner: &CartOwner) {
    if let CartOwner::User(user_id) = owner {
        let (redis, channel) = (state.redis.clone(), redis_channels::user(user_id));
        tokio::spawn(async move { publish_live(&redis, &channel, &LiveEvent::CartChanged).await });
    }
}

/// The signed-in user's cart, at today's prices.
#[utoipa::path(
    get,
    path = "/v1/cart",
    security(("signed_user" = [])),
    responses(
        (status = 200, description = "The cart.", body = CartView),
        SignedRefusals,
        Unavailable
    )
)]
async fn show(
    State(state): State<AppState>,
    Owner(owner): Owner,
) -> Result<Json<CartView>, ApiError> {
    Ok(Json(current(&state, &owner).await?))
}

/// Adds units of an item to the signed-in user's cart (to the line's, if it has one).
#[utoipa::path(
    post,
    path = "/v1/cart/lines",
    request_body = AddToCart,
    security(("signed_user" = [])),
    responses(
        (status = 200, description = "The cart after.", body = CartView),
        (status = 404, description = "There is no such item on sale.", body = ErrorBody),
        SignedRefusals,
        BodyRefusals,
        Unavailable
    )
)]
async fn add(
    State(state): State<AppState>,
    Owner(owner): Owner,
    Body(request): Body<AddToCart>,
) -> Result<Json<CartView>, ApiError> {
    let item = state
        .inventory
        .item(&CallContext::default(), &request.item_id)
        .await
        .map_err(|err| ApiError::Unavailable(err.into()))?
        .ok_or_else(|| FieldError::new("item_id", "There is no such item."))?;
    if !item.on_sale {
        return Err(
            FieldError::new("item_id", format!("{} is no longer for sale.", item.title)).into(),
        );
    }
    state
        .carts
        .add(&owner, &item, request.quantity, crate::now_ms())
        .await?;
    announce(&state, &owner);
    Ok(Json(current(&state, &owner).await?))
}

/// Sets how many units of an item the signed-in user's cart holds.
#[utoipa::path(
    put,
    path = "/v1/cart/lines/{item_id}",
    params(("item_id" = ItemId, Path, description = "The item.")),
    request_body = SetQuantity,
    security(("signed_user" = [])),
    responses(
        (status = 200, description = "The cart after.", body = CartView),
        (status = 404, description = "The item is not in the cart.", body = ErrorBody),
        SignedRefusals,
        BodyRefusals,
        Unavailable
    )
)]
async fn set(
    State(state): State<AppState>,
    Owner(owner): Owner,
    Path(params): Path<HashMap<String, String>>,
    Body(request): Body<SetQuantity>,
) -> Result<Json<CartView>, ApiError> {
    let item_id = item_in_path(&params)?;
    state.carts.set(&owner, &item_id, request.quantity).await?;
    announce(&state, &owner);
    Ok(Json(current(&state, &owner).await?))
}

/// Takes an item out of the signed-in user's cart (already out is fine).
#[utoipa::path(
    delete,
    path = "/v1/cart/lines/{item_id}",
    params(("item_id" = ItemId, Path, description = "The item.")),
    security(("signed_user" = [])),
    responses(
        (status = 200, description = "The cart after.", body = CartView),
        (status = 422, description = "`item_id` is not an item id.", body = ErrorBody),
        SignedRefusals,
        Unavailable
    )
)]
async fn remove(
    State(state): State<AppState>,
    Owner(owner): Owner,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<CartView>, ApiError> {
    let item_id = item_in_path(&params)?;
    state.carts.remove(&owner, &item_id).await?;
    announce(&state, &owner);
    Ok(Json(current(&state, &owner).await?))
}

/// After a checkout: the user's cart is emptied, in every tab.
/// Empties the signed-in user's cart (after a checkout).
#[utoipa::path(
    delete,
    path = "/v1/cart",
    security(("signed_user" = [])),
    responses(
        (status = 200, description = "The cart, empty.", body = CartView),
        SignedRefusals,
        Unavailable
    )
)]
async fn empty(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
) -> Result<Json<CartView>, ApiError> {
    let owner = CartOwner::User(user.user_id);
    state.carts.empty(&owner).await?;
    announce(&state, &owner);
    Ok(Json(CartView::default()))
}

/// At log in: the guest's cart joins the user's.
/// Moves a guest cart's lines into the signed-in user's cart (at sign-in); the guest cart is
/// gone after.
#[utoipa::path(
    post,
    path = "/v1/cart/merge",
    request_body = MergeGuestCart,
    security(("signed_user" = [])),
    responses(
        (status = 200, description = "The user's cart after.", body = CartView),
        SignedRefusals,
        BodyRefusals,
        Unavailable
    )
)]
async fn merge(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Body(request): Body<MergeGuestCart>,
) -> Result<Json<CartView>, ApiError> {
    let owner = CartOwner::User(user.user_id);
    state
        .carts
        .merge(&CartOwner::Guest(request.guest_cart_id), &owner)
        .await?;
    announce(&state, &owner);
    Ok(Json(current(&state, &owner).await?))
}

/// A guest's cart, for the gateway that holds the guest's cookie.
#[utoipa::path(
    get,
    path = "/v1/guest-carts/{guest_cart_id}",
    params(("guest_cart_id" = GuestCartId, Path, description = "The guest's cart.")),
    security(("signed_gateway" = [])),
    responses(
        (status = 200, description = "The cart (empty for a cart never used).", body = CartView),
        (status = 422, description = "`guest_cart_id` is not a guest cart id.", body = ErrorBody),
        SignedRefusals,
        Unavailable
    )
)]
async fn guest_show(state: State<AppState>, owner: Owner) -> Result<Json<CartView>, ApiError> {
    show(state, owner).await
}

/// Adds units of an item to a guest's cart.
#[utoipa::path(
    post,
    path = "/v1/guest-carts/{guest_cart_id}/lines",
    params(("guest_cart_id" = GuestCartId, Path, description = "The guest's cart.")),
    request_body = AddToCart,
    security(("signed_gateway" = [])),
    responses(
        (status = 200, description = "The cart after.", body = CartView),
        (status = 404, description = "There is no such item on sale.", body = ErrorBody),
        SignedRefusals,
        BodyRefusals,
        Unavailable
    )
)]
async fn guest_add(
    state: State<AppState>,
    owner: Owner,
    body: Body<AddToCart>,
) -> Result<Json<CartView>, ApiError> {
    add(state, owner, body).await
}

/// Sets how many units of an item a guest's cart holds.
#[utoipa::path(
    put,
    path = "/v1/guest-carts/{guest_cart_id}/lines/{item_id}",
    params(
        ("guest_cart_id" = GuestCartId, Path, description = "The guest's cart."),
        ("item_id" = ItemId, Path, description = "The item.")
    ),
    request_body = SetQuantity,
    security(("signed_gateway" = [])),
    responses(
        (status = 200, description = "The cart after.", body = CartView),
        (status = 404, description = "The item is not in the cart.", body = ErrorBody),
        SignedRefusals,
        BodyRefusals,
        Unavailable
    )
)]
async fn guest_set(
    state: State<AppState>,
    owner: Owner,
    params: Path<HashMap<String, String>>,
    body: Body<SetQuantity>,
) -> Result<Json<CartView>, ApiError> {
    set(state, owner, params, body).await
}

/// Takes an item out of a guest's cart.
#[utoipa::path(
    delete,
    path = "/v1/guest-carts/{guest_cart_id}/lines/{item_id}",
    params(
        ("guest_cart_id" = GuestCartId, Path, description = "The guest's cart."),
        ("item_id" = ItemId, Path, description = "The item.")
    ),
    security(("signed_gateway" = [])),
    responses(
        (status = 200, description = "The cart after.", body = CartView),
        (status = 422, description = "An id in the path is not one.", body = ErrorBody),
        SignedRefusals,
        Unavailable
    )
)]
async fn guest_remove(
    state: State<AppState>,
    owner: Owner,
    params: Path<HashMap<String, String>>,
) -> Result<Json<CartView>, ApiError> {
    remove(state, owner, params).await
}
