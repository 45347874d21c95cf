//! The inventory service's HTTP API; its requests and answers are in `wire::inventory`.
//! Reads (items and pictures) are public; writes need a signed identity from the gateway
//! (`x-marketplace-identity`); reservations only the transaction service's.

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use mongodb::bson::{self, oid::ObjectId};

use common::identity::{ForTransaction, SignedInFrom};
use common::input::{Body, FieldError};
use common::openapi::{Binary, BodyRefusals, Shared, SignedRefusals, TooMany, Unavailable};
use wire::error::ErrorBody;
use wire::inventory::{
    CacheStats, CardStock, CatalogPage, CatalogParams, ItemEdit, ItemView, ItemsBody, NewItem,
    ReservationRequest, Reserved, ShortageBody,
};
use wire::picture::{PictureName, PictureSize};
use wire::{ItemId, PurchaseId, UserId};

use crate::cache::{CATALOG_GENERATION, item_generation};
use crate::domain::{CatalogQuery, Description, ImageUrl, PriceCents, Stock, Title, parse_item_id};
use crate::error::ApiError;
use crate::items::{EditOutcome, ItemChanges, ItemDocument};
use crate::limits::SellerAction;
use crate::reservations::{Outcome, WantedLine};
use crate::{AppState, Catalog};

/// The inventory service's OpenAPI document (`GET /openapi.json`, `docs/openapi/inventory.json`).
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "inventory service",
        description = "Items, their stock and pictures. Reads are public; a seller's writes come \
                       from the gateway for a signed-in user; stock reservations only from the \
                       transaction service."
    ),
    paths(
        catalog,
        item,
        seller_items,
        create_item,
        edit_item,
        picture,
        picture_card,
        cache_stats,
        reserve,
        release
    ),
    // Named by the picture paths' parameter, which does not bring its schema along.
    components(schemas(PictureName)),
    modifiers(&Shared)
)]
pub struct ApiDoc;

/// The largest listing or edit: a picture as large as the gateway reads one (8 MiB) in base64
/// (4 characters for 3 bytes), and room for the other fields (a description is 5,000
/// characters). A picture over the 5 MB bound still arrives, to be refused with its size.
const MAX_ITEM_BODY_BYTES: usize = 8 * 1024 * 1024 / 3 * 4 + 64 * 1024;

/// The routes, on the service's state, at most `mongo::POOL_SIZE` requests at a time.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        // A listing or edit may carry a picture file, base64 in its JSON.
        .route(
            "/v1/items",
            get(catalog).post(create_item.layer(DefaultBodyLimit::max(MAX_ITEM_BODY_BYTES))),
        )
        .route(
            "/v1/items/{id}",
            get(item).post(edit_item.layer(DefaultBodyLimit::max(MAX_ITEM_BODY_BYTES))),
        )
        .route("/v1/sellers/{seller_id}/items", get(seller_items))
        .route("/v1/reservations", post(reserve))
        .route("/v1/reservations/{id}/release", post(release))
        .route("/v1/pictures/{name}", get(picture))
        .route("/v1/pictures/{name}/card", get(picture_card))
        .route("/v1/cache/stats", get(cache_stats))
        .with_state(state)
        .merge(common::openapi::router(
            &<ApiDoc as utoipa::OpenApi>::openapi(),
        ));
    common::infra::mongo::limit_requests(routes)
}

/// One page of the catalog: items on sale, newest first, optionally matching a search.
#[utoipa::path(
    get,
    path = "/v1/items",
    params(CatalogParams),
    responses(
        (status = 200, description = "The page.", body = CatalogPage),
        (status = 422, description = "`page`, `per_page` or `q` is out of bounds; `field` names it.", body = ErrorBody),
        Unavailable
    )
)]
async fn catalog(
    State(state): State<AppState>,
    Query(params): Query<CatalogParams>,
) -> Result<Json<CatalogPage>, ApiError> {
    let query = CatalogQuery::parse(
        params.page.as_deref(),
        params.per_page.as_deref(),
        params.q.as_deref(),
    )?;
    let key = format!(
        "catalog:{}:{}:{}",
        query.page,
        query.per_page,
        query.search.as_deref().unwrap_or("")
    );
    let page = state
        .cache
        .get_or_load(CATALOG_GENERATION, &key, state.items.catalog(&query))
        .await?;
    Ok(Json(page))
}

/// One item, on sale or not.
#[utoipa::path(
    get,
    path = "/v1/items/{id}",
    params(("id" = ItemId, Path, description = "The item.")),
    responses(
        (status = 200, description = "The item.", body = ItemView),
        (status = 404, description = "There is no item with this id.", body = ErrorBody),
        (status = 422, description = "`id` is not an item id.", body = ErrorBody),
        Unavailable
    )
)]
async fn item(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ItemView>, ApiError> {
    let id = parse_item_id(&id)?;
    let key = format!("item:{id}");
    let load = async { Ok::<_, ApiError>(state.items.by_id(id).await?.map(|item| item.view())) };
    let item = state
        .cache
        .get_or_load(&item_generation(&id.to_hex()), &key, load)
        .await?;
    item.map(Json).ok_or(ApiError::ItemNotFound)
}

/// Every item a seller listed, newest first, on sale or not.
#[utoipa::path(
    get,
    path = "/v1/sellers/{seller_id}/items",
    params(("seller_id" = UserId, Path, description = "The seller.")),
    responses(
        (status = 200, description = "The seller's items.", body = ItemsBody),
        (status = 422, description = "`seller_id` is not a user id.", body = ErrorBody),
        Unavailable
    )
)]
async fn seller_items(
    State(state): State<AppState>,
    Path(seller_id): Path<String>,
) -> Result<Json<ItemsBody>, ApiError> {
    let seller_id = wire::UserId::parse(&seller_id)
        .map_err(|err| FieldError::new("seller_id", err.to_string()))?;
    let items = state.items.of_seller(&seller_id).await?;
    let items: Vec<ItemView> = items.iter().map(ItemDocument::view).collect();
    Ok(Json(ItemsBody { items }))
}

/// Lists a new item for the signed-in seller; the same `request_id` again answers the item
/// it listed (200), so a retried form lists one item. A picture file in the listing is stored
/// only after every other field is accepted and the seller may list another item.
#[utoipa::path(
    post,
    path = "/v1/items",
    request_body = NewItem,
    security(("signed_user" = [])),
    responses(
        (status = 201, description = "The item, listed.", body = ItemView),
        (status = 200, description = "This `request_id` already listed this item.", body = ItemView),
        (status = 409, description = "The seller keeps as many pictures as a seller may; `field` is `picture`.", body = ErrorBody),
        SignedRefusals,
        BodyRefusals,
        TooMany,
        Unavailable
    )
)]
async fn create_item(
    State(state): State<AppState>,
    SignedInFrom {
        user: seller,
        client_address,
    }: SignedInFrom,
    Body(new): Body<NewItem>,
) -> Result<(StatusCode, Json<ItemView>), ApiError> {
    let title = Title::parse(&new.title)?;
    let description = Description::parse(new.description.as_deref().unwrap_or_default())?;
    let price = PriceCents::parse(new.price_cents)?;
    let stock = Stock::parse(new.stock)?;
    let image_url = ImageUrl::parse(new.image_url.as_deref().unwrap_or_default())?;
    if new.picture.is_some() && image_url.is_some() {
        return Err(FieldError::new("image_url", BOTH_PICTURE_AND_ADDRESS).into());
    }
    let request_id = match new.request_id {
        Some(id) if !id.trim().is_empty() && id.len() <= 64 => id.trim().to_owned(),
        Some(_) => return Err(FieldError::new("request_id", "must be 1 to 64 characters").into()),
        None => ObjectId::new().to_hex(),
    };
    // A retried form: the item it listed, without counting or storing anything again.
    if let Some(item) = state.items.by_request(&seller.user_id, &request_id).await? {
        return Ok((StatusCode::OK, Json(item.view())));
    }
    state
        .allowance
        .admit(&seller.user_id, SellerAction::Listing)
        .await?;
    let image_url = match new.picture {
        Some(picture) => {
            let stored = state
                .pictures
                .store(picture.into_bytes(), &seller.user_id, &client_address)
                .await?;
            Some(stored.name.site_path())
        }
        None => image_url.map(ImageUrl::into_inner),
    };

    let now = bson::DateTime::now();
    let item = ItemDocument {
        id: ObjectId::new(),
        seller_id: seller.user_id,
        seller_name: seller.display_name,
        title: title.into_inner(),
        description: description.into_inner(),
        price_cents: price.get(),
        stock: stock.get(),
        sold: 0,
        image_url,
        on_sale: true,
        request_id,
        created_at: now,
        updated_at: now,
    };
    let (item, created) = state.items.create(item).await?;
    if created {
        state.items_changed(&[item.id], Catalog::Membership).await;
        tracing::info!(item_id = %item.id, seller_id = %item.seller_id, "item listed");
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(item.view())))
}

/// The refusal of a form that gives both a picture file and a picture's address.
const BOTH_PICTURE_AND_ADDRESS: &str = "Choose a picture or give its address, not both.";

/// Changes the fields sent of one of the signed-in seller's items. A picture file is stored
/// only after the rest of the edit is accepted, the item is found to be the seller's, and
/// the seller may edit once more this hour.
#[utoipa::path(
    post,
    path = "/v1/items/{id}",
    params(("id" = ItemId, Path, description = "The item.")),
    request_body = ItemEdit,
    security(("signed_user" = [])),
    responses(
        (status = 200, description = "The item as it is now.", body = ItemView),
        (status = 404, description = "There is no item with this id.", body = ErrorBody),
        (status = 409, description = "The seller keeps as many pictures as a seller may; `field` is `picture`.", body = ErrorBody),
        SignedRefusals,
        BodyRefusals,
        TooMany,
        Unavailable
    )
)]
async fn edit_item(
    State(state): State<AppState>,
    SignedInFrom {
        user: seller,
        client_address,
    }: SignedInFrom,
    Path(id): Path<String>,
    Body(edit): Body<ItemEdit>,
) -> Result<Json<ItemView>, ApiError> {
    let id = parse_item_id(&id)?;
    let mut changes = ItemChanges {
        title: edit
            .title
            .map(|t| Title::parse(&t))
            .transpose()?
            .map(Title::into_inner),
        description: edit
            .description
            .map(|d| Description::parse(&d))
            .transpose()?
            .map(Description::into_inner),
        price_cents: edit
            .price_cents
            .map(PriceCents::parse)
            .transpose()?
            .map(PriceCents::get),
        stock: edit.stock.map(Stock::parse).transpose()?.map(Stock::get),
        image_url: edit
            .image_url
            .map(|u| ImageUrl::parse(&u))
            .transpose()?
            .map(|u| u.map(ImageUrl::into_inner)),
        on_sale: edit.on_sale,
    };
    if edit.picture.is_some() && changes.image_url.is_some() {
        return Err(FieldError::new("image_url", BOTH_PICTURE_AND_ADDRESS).into());
    }
    if let Some(picture) = edit.picture {
        // Someone else's item is refused before its picture is stored, not after; the edit
        // below checks again in the same write.
        match state.items.by_id(id).await? {
            None => return Err(ApiError::ItemNotFound),
            Some(item) if item.seller_id != seller.user_id => return Err(ApiError::NotTheSeller),
            Some(_) => {}
        }
        state
            .allowance
            .admit(&seller.user_id, SellerAction::Edit)
            .await?;
        let stored = state
            .pictures
            .store(picture.into_bytes(), &seller.user_id, &client_address)
            .await?;
        changes.image_url = Some(Some(stored.name.site_path()));
    } else {
        state
            .allowance
            .admit(&seller.user_id, SellerAction::Edit)
            .await?;
    }
    // On or off sale, and a new title (searches find it differently), change which items a
    // catalog page lists; anything else only what the item's card says.
    let catalog = if changes.on_sale.is_some() || changes.title.is_some() {
        Catalog::Membership
    } else {
        Catalog::Cards
    };
    match state.items.edit(id, &seller.user_id, changes).await? {
        EditOutcome::Edited(item) => {
            state.items_changed(&[id], catalog).await;
            Ok(Json(item.view()))
        }
        EditOutcome::NotTheSeller => Err(ApiError::NotTheSeller),
        EditOutcome::NotFound => Err(ApiError::ItemNotFound),
    }
}

/// A stored picture's bytes, with its type; the name says which kind it is.
/// A stored picture (at most 1280 pixels a side).
#[utoipa::path(
    get,
    path = "/v1/pictures/{name}",
    params(("name" = PictureName, Path, description = "The picture.")),
    responses(
        (status = 200, description = "The picture's bytes; the name's extension says its kind.",
            content((Binary = "image/jpeg"), (Binary = "image/png"), (Binary = "image/webp"))),
        (status = 404, description = "There is no picture with this name.", body = ErrorBody),
        (status = 422, description = "`name` is not a picture name.", body = ErrorBody),
        Unavailable
    )
)]
async fn picture(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    serve_picture(&state, &name, PictureSize::Full).await
}

/// The smaller copy of a stored picture, for catalog cards.
/// A stored picture's smaller copy for catalog cards (at most 640 pixels a side).
#[utoipa::path(
    get,
    path = "/v1/pictures/{name}/card",
    params(("name" = PictureName, Path, description = "The picture.")),
    responses(
        (status = 200, description = "The picture's bytes; the name's extension says its kind.",
            content((Binary = "image/jpeg"), (Binary = "image/png"), (Binary = "image/webp"))),
        (status = 404, description = "There is no picture with this name.", body = ErrorBody),
        (status = 422, description = "`name` is not a picture name.", body = ErrorBody),
        Unavailable
    )
)]
async fn picture_card(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    serve_picture(&state, &name, PictureSize::Card).await
}

async fn serve_picture(
    state: &AppState,
    name: &str,
    size: PictureSize,
) -> Result<axum::response::Response, ApiError> {
    let name = PictureName::parse(name).map_err(|err| FieldError::new("name", err.to_string()))?;
    let bytes = state
        .pictures
        .load(&name, size)
        .await?
        .ok_or(ApiError::PictureNotFound)?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, name.kind().content_type())],
        bytes,
    )
        .into_response())
}

/// How often this copy's item cache answered without the database (for operators).
#[utoipa::path(
    get,
    path = "/v1/cache/stats",
    responses((status = 200, description = "Hits and misses since start.", body = CacheStats))
)]
async fn cache_stats(State(state): State<AppState>) -> Json<CacheStats> {
    let (hits, misses) = state.cache.stats();
    Json(CacheStats { hits, misses })
}

/// Reserves stock for a purchase, all lines or none; the same `reservation_id` again answers
/// the same reservation.
#[utoipa::path(
    post,
    path = "/v1/reservations",
    request_body = ReservationRequest,
    security(("signed_transaction" = [])),
    responses(
        (status = 201, description = "Every line reserved.", body = Reserved),
        (status = 409, description = "A line is short; nothing was reserved.", body = ShortageBody),
        SignedRefusals,
        BodyRefusals,
        Unavailable
    )
)]
async fn reserve(
    State(state): State<AppState>,
    ForTransaction(_buyer): ForTransaction,
    Body(request): Body<ReservationRequest>,
) -> Result<axum::response::Response, ApiError> {
    let reservation_id = request.reservation_id.as_str();
    let wanted = common::orders::normalise_lines(request.lines)?
        .into_iter()
        .map(|line| {
            Ok(WantedLine {
                item_id: parse_item_id(line.item_id.as_str())?,
                quantity: line.quantity,
            })
        })
        .collect::<Result<Vec<_>, FieldError>>()?;
    let touched: Vec<_> = wanted.iter().map(|line| line.item_id).collect();
    let outcome = state.reservations.reserve(reservation_id, wanted).await?;
    // Most sales leave every catalog card as it was ("In stock"), and the catalog pages the
    // gateways keep then stay; a shortage gave back whatever it took.
    let cards_changed = matches!(&outcome, Outcome::Reserved { lines }
        if lines.iter().any(CardStock::changed_by));
    let catalog = if cards_changed {
        Catalog::Cards
    } else {
        Catalog::Untouched
    };
    state.items_changed(&touched, catalog).await;
    match outcome {
        Outcome::Reserved { lines } => {
            Ok((StatusCode::CREATED, Json(Reserved { lines })).into_response())
        }
        Outcome::Short { shortage } => {
            let error = match (&shortage.title, shortage.available) {
                (None, _) => "one of the items is no longer for sale".to_owned(),
                (Some(title), _) if shortage.off_sale => format!("{title} is no longer for sale"),
                (Some(title), 0) => format!("{title} is sold out"),
                (Some(title), n) => format!("only {n} of {title} left"),
            };
            let body = ShortageBody {
                error: ErrorBody::for_field("lines", error),
                shortage,
            };
            Ok((StatusCode::CONFLICT, Json(body)).into_response())
        }
    }
}

/// Gives back the stock of a reservation that will not complete (at most once).
#[utoipa::path(
    post,
    path = "/v1/reservations/{id}/release",
    params(("id" = PurchaseId, Path, description = "The reservation (its purchase's id).")),
    security(("signed_transaction" = [])),
    responses(
        (status = 204, description = "Released, or nothing was held."),
        (status = 422, description = "`id` is not a purchase id.", body = ErrorBody),
        SignedRefusals,
        Unavailable
    )
)]
async fn release(
    State(state): State<AppState>,
    ForTransaction(_buyer): ForTransaction,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = PurchaseId::parse(&id).map_err(|err| FieldError::new("id", err.to_string()))?;
    let id = id.as_str();
    let released = state.reservations.release(id).await?;
    if !released.is_empty() {
        // Stock coming back may change a card ("Sold out" again in stock).
        state.items_changed(&released, Catalog::Cards).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod contract {
    //! Every answer of this service decodes, through the typed client, to what was sent.

    use super::*;
    use wire::inventory::ReservedLine;

    fn lamp() -> ItemView {
        ItemView {
            id: "665f1c2e9b1d8a0012345678".parse().expect("an id"),
            seller_id: "665f1c2e9b1d8a00123456aa".parse().expect("an id"),
            seller_name: "Sal".into(),
            title: "Lamp".into(),
            description: "Bright.".into(),
            price_cents: 2_500,
            stock: 3,
            sold: 1,
            image_url: Some("/images/demo/lamp.svg".into()),
            on_sale: true,
            created_at: 1_700_000_000_000,
            updated_at: 1_700_000_000_001,
        }
    }

    #[tokio::test]
    async fn answers_round_trip_through_the_client() {
        let item = lamp();
        testkit::contract::round_trip((StatusCode::CREATED, Json(item.clone())), &item).await;
        let page = CatalogPage {
            items: vec![lamp()],
            page: 1,
            per_page: 24,
            total: 1,
            search: Some("lamp".into()),
        };
        testkit::contract::round_trip(Json(page.clone()), &page).await;
        let items = ItemsBody {
            items: vec![lamp()],
        };
        testkit::contract::round_trip(Json(items.clone()), &items).await;
        let reserved = Reserved {
            lines: vec![ReservedLine {
                item_id: lamp().id,
                quantity: 2,
                title: "Lamp".into(),
                seller_id: lamp().seller_id,
                seller_name: "Sal".into(),
                unit_price_cents: 2_500,
                sold_after: 3,
                stock_after: 1,
            }],
        };
        testkit::contract::round_trip((StatusCode::CREATED, Json(reserved.clone())), &reserved)
            .await;
        let stats = CacheStats { hits: 3, misses: 1 };
        testkit::contract::round_trip(Json(stats), &stats).await;
    }

    #[tokio::test]
    async fn a_shortage_is_an_error_body_the_client_reads_too() {
        let body = ShortageBody {
            error: ErrorBody::for_field("lines", "only 1 of Lamp left"),
            shortage: wire::inventory::Shortage {
                item_id: lamp().id,
                title: Some("Lamp".into()),
                available: 1,
                wanted: 2,
                off_sale: false,
            },
        };
        // The client reads any error as an ErrorBody; the shortage rides along.
        let json = serde_json::to_vec(&body).expect("json");
        let error: ErrorBody = serde_json::from_slice(&json).expect("an ErrorBody");
        assert_eq!(error, body.error);
        let back: ShortageBody = serde_json::from_slice(&json).expect("a ShortageBody");
        assert_eq!(back, body);
    }
}
