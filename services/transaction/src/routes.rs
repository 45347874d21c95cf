//! The transaction service's HTTP API; its requests and answers are in
//! `wire::transaction`. Every route needs a signed identity: a user's, or the gateway's own
//! for the operators' outbox count.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};

use common::identity::{FromGateway, SignedIn};
use common::input::{Body, FieldError};
use common::openapi::{Shared, SignedRefusals, Unavailable};
use common::orders;
use wire::ErrorBody;
use wire::PurchaseId;
use wire::calendar;
use wire::transaction::PurchaseView;
use wire::transaction::{DailySales, SalesParams, SalesReport};
use wire::transaction::{
    HistoryParams, IDEMPOTENCY_KEY_HEADER, OutboxBacklog, PurchaseHistory, PurchaseRequest,
};

use crate::AppState;
use crate::error::ApiError;
use crate::transactions::{Status, request_hash};

const PAGE_SIZE: u64 = 20;

/// The transaction service's OpenAPI document (`GET /openapi.json`,
/// `docs/openapi/transaction.json`).
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "transaction service",
        description = "Purchases, purchase history, sales and carts. Called by the gateway, for a \
                       signed-in user or, for guests' carts and operators, on its own account."
    ),
    paths(
        purchase,
        history,
        one_purchase,
        sales,
        daily_sales,
        outbox,
        crate::cart_routes::show,
        crate::cart_routes::add,
        crate::cart_routes::set,
        crate::cart_routes::remove,
        crate::cart_routes::empty,
        crate::cart_routes::merge,
        crate::cart_routes::guest_show,
        crate::cart_routes::guest_add,
        crate::cart_routes::guest_set,
        crate::cart_routes::guest_remove
    ),
    modifiers(&Shared)
)]
pub struct ApiDoc;

/// The routes, on the service's state, at most `mongo::POOL_SIZE` requests at a time.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/v1/purchases", post(purchase).get(history))
        .route("/v1/purchases/{purchase_id}", get(one_purchase))
        .route("/v1/sales", get(sales))
        .route("/v1/sales/daily", get(daily_sales))
        .route("/v1/outbox", get(outbox))
        .merge(crate::cart_routes::router())
        .with_state(state)
        .merge(common::openapi::router(
            &<ApiDoc as utoipa::OpenApi>::openapi(),
        ));
    common::infra::mongo::limit_requests(routes)
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, FieldError> {
    let key = headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .ok_or_else(|| {
            FieldError::new(
                "Idempotency-Key",
                "is required: a fresh random key per purchase",
            )
        })?;
    if !(8..=100).contains(&key.len()) {
        return Err(FieldError::new(
            "Idempotency-Key",
            "must be 8 to 100 characters",
        ));
    }
    Ok(key.to_owned())
}

/// Buys the lines for the signed-in user, all or none. The same `Idempotency-Key` with the
/// same lines answers the same purchase, however often it is sent.
#[utoipa::path(
    post,
    path = "/v1/purchases",
    params((
        "Idempotency-Key" = String,
        Header,
        description = "A fresh random key per purchase (8 to 100 characters); a retry sends the same one."
    )),
    request_body = PurchaseRequest,
    security(("signed_user" = [])),
    responses(
        (status = 201, description = "The purchase, completed.", body = PurchaseView),
        (status = 409, description = "A line is sold out, short or off sale; nothing was bought.", body = ErrorBody),
        (status = 422, description = "A line or the `Idempotency-Key` is wrong, or the key was used for other lines; `field` names it.", body = ErrorBody),
        (status = 400, description = "The body is not a JSON object (or not sent as `application/json`).", body = ErrorBody),
        SignedRefusals,
        Unavailable
    )
)]
async fn purchase(
    State(state): State<AppState>,
    SignedIn(buyer): SignedIn,
    headers: HeaderMap,
    Body(request): Body<PurchaseRequest>,
) -> Result<(StatusCode, Json<PurchaseView>), ApiError> {
    let key = idempotency_key(&headers)?;
    let lines = orders::normalise_lines(request.lines)?;
    let hash = request_hash(&lines);

    let transaction = state
        .transactions
        .start(&buyer, &key, &hash, &lines)
        .await?;
    if transaction.request_hash != hash {
        return Err(ApiError::KeyReused);
    }
    match transaction.status {
        Status::Completed => return Ok((StatusCode::CREATED, Json(transaction.view()))),
        Status::Rejected => {
            return Err(ApiError::Rejected(
                transaction.rejection.unwrap_or_default(),
            ));
        }
        // New, or an earlier attempt stopped half-way: reserving again under the same id is safe.
        Status::Pending => {}
    }

    let purchase = crate::settle::settle(&state, &transaction, &buyer, &lines).await?;
    Ok((StatusCode::CREATED, Json(purchase)))
}

/// `page` from a query string: 1 when left out, else a whole number from 1 to 10,000.
fn page_number(page: Option<&str>) -> Result<u64, FieldError> {
    match page.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(1),
        Some(p) => p
            .parse::<u64>()
            .ok()
            .filter(|p| (1..=10_000).contains(p))
            .ok_or_else(|| FieldError::new("page", "must be a whole number from 1 to 10,000")),
    }
}

/// The signed-in user's purchases, newest first, a page of 20 at a time.
#[utoipa::path(
    get,
    path = "/v1/purchases",
    params(HistoryParams),
    security(("signed_user" = [])),
    responses(
        (status = 200, description = "One page of purchases.", body = PurchaseHistory),
        (status = 422, description = "`page` is not a whole number from 1 to 10,000.", body = ErrorBody),
        SignedRefusals,
        Unavailable
    )
)]
async fn history(
    State(state): State<AppState>,
    SignedIn(buyer): SignedIn,
    Query(params): Query<HistoryParams>,
) -> Result<Json<PurchaseHistory>, ApiError> {
    let page = page_number(params.page.as_deref())?;
    let (ids, total) = state
        .ledgers
        .history_page(&buyer.user_id, page, PAGE_SIZE)
        .await?;
    let purchases = state.transactions.completed(&ids).await?;
    Ok(Json(PurchaseHistory {
        purchases,
        page,
        per_page: PAGE_SIZE,
        total,
    }))
}

/// One of the signed-in buyer's completed purchases; anyone else's, or none, is 404 alike, so
/// an id says nothing about whether it exists.
/// One of the signed-in user's purchases.
#[utoipa::path(
    get,
    path = "/v1/purchases/{purchase_id}",
    params(("purchase_id" = PurchaseId, Path, description = "The purchase.")),
    security(("signed_user" = [])),
    responses(
        (status = 200, description = "The purchase.", body = PurchaseView),
        (status = 404, description = "The user has no purchase with this id.", body = ErrorBody),
        (status = 422, description = "`purchase_id` is not a purchase id.", body = ErrorBody),
        SignedRefusals,
        Unavailable
    )
)]
async fn one_purchase(
    State(state): State<AppState>,
    SignedIn(buyer): SignedIn,
    Path(purchase_id): Path<String>,
) -> Result<Json<PurchaseView>, ApiError> {
    let purchase_id = PurchaseId::parse(&purchase_id)
        .map_err(|err| FieldError::new("purchase_id", err.to_string()))?;
    state
        .transactions
        .completed_for_buyer(&purchase_id, &buyer.user_id)
        .await?
        .map(Json)
        .ok_or(ApiError::PurchaseNotFound)
}

/// What the signed-in seller sold, newest first, with the totals of all of it.
#[utoipa::path(
    get,
    path = "/v1/sales",
    params(SalesParams),
    security(("signed_user" = [])),
    responses(
        (status = 200, description = "One page of sales and the totals.", body = SalesReport),
        (status = 422, description = "`page` is not a whole number from 1 to 10,000.", body = ErrorBody),
        SignedRefusals,
        Unavailable
    )
)]
async fn sales(
    State(state): State<AppState>,
    SignedIn(seller): SignedIn,
    Query(params): Query<SalesParams>,
) -> Result<Json<SalesReport>, ApiError> {
    let page = page_number(params.page.as_deref())?;
    Ok(Json(
        state
            .ledgers
            .sales(&seller.user_id, page, PAGE_SIZE)
            .await?,
    ))
}

/// The signed-in seller's sales per day over the last 30 days (UTC), oldest first.
#[utoipa::path(
    get,
    path = "/v1/sales/daily",
    security(("signed_user" = [])),
    responses(
        (status = 200, description = "One entry per day.", body = DailySales),
        SignedRefusals,
        Unavailable
    )
)]
async fn daily_sales(
    State(state): State<AppState>,
    SignedIn(seller): SignedIn,
) -> Result<Json<DailySales>, ApiError> {
    Ok(Json(
        state
            .ledgers
            .daily_sales(&seller.user_id, calendar::day_of(crate::now_ms()))
            .await?,
    ))
}

/// For operators, who call it with the gateway's signature (the typed client does).
/// How many purchases wait to be relayed to Kafka (for operators, through the gateway).
#[utoipa::path(
    get,
    path = "/v1/outbox",
    security(("signed_gateway" = [])),
    responses(
        (status = 200, description = "The backlog.", body = OutboxBacklog),
        SignedRefusals,
        Unavailable
    )
)]
async fn outbox(
    State(state): State<AppState>,
    _operator: FromGateway,
) -> Result<Json<OutboxBacklog>, ApiError> {
    Ok(Json(OutboxBacklog {
        pending: state.outbox.backlog().await?,
    }))
}

#[cfg(test)]
mod contract {
    //! Every answer of this service decodes, through the typed client, to what was sent.

    use super::*;
    use wire::transaction::{PurchaseLine, SaleView};

    fn purchase() -> PurchaseView {
        PurchaseView {
            id: "665f1c2e9b1d8a0012345678".parse().expect("an id"),
            lines: vec![PurchaseLine {
                item_id: "665f1c2e9b1d8a00123456bb".parse().expect("an id"),
                title: "Lamp".into(),
                seller_id: "665f1c2e9b1d8a00123456aa".parse().expect("an id"),
                seller_name: "Sal".into(),
                unit_price_cents: 2_500,
                quantity: 2,
                line_total_cents: 5_000,
            }],
            total_cents: 5_000,
            created_at: 1_700_000_000_000,
        }
    }

    #[tokio::test]
    async fn answers_round_trip_through_the_client() {
        let bought = purchase();
        testkit::contract::round_trip((StatusCode::CREATED, Json(bought.clone())), &bought).await;
        let history = PurchaseHistory {
            purchases: vec![purchase()],
            page: 1,
            per_page: PAGE_SIZE,
            total: 1,
        };
        testkit::contract::round_trip(Json(history.clone()), &history).await;
        let sales = SalesReport {
            sales: vec![SaleView {
                transaction_id: purchase().id,
                item_id: "665f1c2e9b1d8a00123456bb".parse().expect("an id"),
                title: "Lamp".into(),
                buyer_name: "Bo".into(),
                quantity: 2,
                amount_cents: 5_000,
                at: 1_700_000_000_000,
            }],
            page: 1,
            per_page: PAGE_SIZE,
            total_lines: 1,
            total_quantity: 2,
            total_cents: 5_000,
        };
        testkit::contract::round_trip(Json(sales.clone()), &sales).await;
        let daily = DailySales {
            days: vec![wire::transaction::DaySales {
                day: 20_000,
                quantity: 3,
                cents: 7_500,
            }],
        };
        testkit::contract::round_trip(Json(daily.clone()), &daily).await;
        let cart = wire::cart::CartView {
            lines: vec![wire::cart::CartLineView {
                item_id: "665f1c2e9b1d8a00123456bb".parse().expect("an id"),
                title: "Lamp".into(),
                quantity: 2,
                unit_price_cents: 2_600,
                price_when_added_cents: 2_500,
                stock: 4,
                available: true,
                line_total_cents: 5_200,
            }],
            units: 2,
            total_cents: 5_200,
        };
        testkit::contract::round_trip(Json(cart.clone()), &cart).await;
        let backlog = OutboxBacklog { pending: 4 };
        testkit::contract::round_trip(Json(backlog), &backlog).await;
    }
}
