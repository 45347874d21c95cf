//! Server functions: declared here for both sides, run only on the gateway, where they call
//! the services over HTTP.

use wire::inventory::CatalogPage;
use wire::inventory::ItemView;
use wire::user::UserView;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub name: String,
    pub ready: bool,
}

/// Whether each backend service says it is ready (its `/readyz`).
#[server]
pub async fn check_services() -> Result<Vec<ServiceStatus>, AppError> {
    Ok(crate::ssr::backends()?.readiness().await)
}

/// The signed-in user, if any.
#[server]
pub async fn current_user() -> Result<Option<UserView>, AppError> {
    crate::ssr::backends()?.current_user().await
}

#[server]
pub async fn register(
    email: String,
    password: String,
    display_name: String,
) -> Result<UserView, AppError> {
    let backends = crate::ssr::backends()?;
    let body =
        serde_json::json!({ "email": email, "password": password, "display_name": display_name });
    let _: serde_json::Value = backends
        .post_to_user_service(&["v1", "users"], &body)
        .await?;
    let user = start_session(&backends, &email, &password).await?;
    leptos_axum::redirect("/seller");
    Ok(user)
}

#[server]
pub async fn log_in(email: String, password: String) -> Result<UserView, AppError> {
    let backends = crate::ssr::backends()?;
    let user = start_session(&backends, &email, &password).await?;
    leptos_axum::redirect("/");
    Ok(user)
}

#[cfg(feature = "ssr")]
async fn start_session(
    backends: &crate::ssr::Backends,
    email: &str,
    password: &str,
) -> Result<UserView, AppError> {
    #[derive(Deserialize)]
    struct Session {
        session_id: String,
        user: UserView,
    }
    let body = serde_json::json!({ "email": email, "password": password });
    let session: Session = backends
        .post_to_user_service(&["v1", "sessions"], &body)
        .await?;
    // The session this browser had before (another account, or a fixed one) ends here.
    if let Some(previous) = backends.session_id() {
        backends.end_session(&previous).await;
    }
    backends.set_session_cookie(Some(&session.session_id));
    Ok(session.user)
}

#[server]
pub async fn log_out() -> Result<(), AppError> {
    let backends = crate::ssr::backends()?;
    if let Some(session_id) = backends.session_id() {
        backends.end_session(&session_id).await;
    }
    backends.set_session_cookie(None);
    leptos_axum::redirect("/");
    Ok(())
}

/// One page of the catalog; `page` from 1, `search` matches titles.
#[server]
pub async fn catalog(page: u64, search: String) -> Result<CatalogPage, AppError> {
    let backends = crate::ssr::backends()?;
    let url = reqwest::Url::parse_with_params(
        &format!("{}/v1/items", backends.inventory_url),
        &[("page", page.max(1).to_string()), ("q", search)],
    )
    .map_err(|_| crate::ssr::bad_field("q", "That search could not be read."))?;
    backends.get(url.to_string()).await
}

/// One item, or `None` (and a 404 status) when there is no such item.
#[server]
pub async fn item(item_id: String) -> Result<Option<ItemView>, AppError> {
    let backends = crate::ssr::backends()?;
    let Ok(item_id) = wire::ids::ItemId::parse(&item_id) else {
        crate::ssr::set_status(http::StatusCode::NOT_FOUND);
        return Ok(None);
    };
    let url = crate::ssr::endpoint(&backends.inventory_url, &["v1", "items", item_id.as_str()])?;
    backends.get_optional(url).await
}

/// The signed-in seller's own items.
#[server]
pub async fn my_items() -> Result<Vec<ItemView>, AppError> {
    #[derive(Deserialize)]
    struct Items {
        items: Vec<ItemView>,
    }
    let backends = crate::ssr::backends()?;
    let seller = backends.require_user().await?;
    let seller_id = wire::ids::UserId::parse(&seller.id).map_err(|_| {
        tracing::error!("the user service gave a malformed user id");
        crate::ssr::unavailable()
    })?;
    let url = crate::ssr::endpoint(
        &backends.inventory_url,
        &["v1", "sellers", seller_id.as_str(), "items"],
    )?;
    let items: Items = backends.get(url).await?;
    Ok(items.items)
}

/// Reads the price field as cents, naming the field when it is not an amount.
#[cfg(feature = "ssr")]
fn price_cents(price: &str) -> Result<i64, AppError> {
    wire::money::parse_money(price)
        .map_err(|reason| crate::ssr::bad_field("price", format!("Price {reason}")))
}

#[cfg(feature = "ssr")]
fn stock_units(stock: &str) -> Result<i64, AppError> {
    stock
        .trim()
        .parse::<i64>()
        .map_err(|_| crate::ssr::bad_field("stock", "Stock must be a whole number"))
}

/// The services name the price field `price_cents`; the form calls it `price`.
#[cfg(feature = "ssr")]
fn form_field(mut err: AppError) -> AppError {
    if err.field.as_deref() == Some("price_cents") {
        err.field = Some("price".to_owned());
    }
    err
}

#[server]
pub async fn add_item(
    title: String,
    description: String,
    price: String,
    stock: String,
    image_url: String,
    request_id: String,
) -> Result<ItemView, AppError> {
    let backends = crate::ssr::backends()?;
    let seller = backends.require_user().await?;
    let body = serde_json::json!({
        "title": title,
        "description": description,
        "price_cents": price_cents(&price)?,
        "stock": stock_units(&stock)?,
        "image_url": image_url,
        "request_id": request_id,
    });
    backends
        .post(
            format!("{}/v1/items", backends.inventory_url),
            &body,
            Some(&seller),
        )
        .await
        .map_err(form_field)
}

#[server]
pub async fn save_item(
    item_id: String,
    price: String,
    stock: String,
) -> Result<ItemView, AppError> {
    let backends = crate::ssr::backends()?;
    let item_id = wire::ids::ItemId::parse(&item_id)
        .map_err(|err| crate::ssr::bad_field("item_id", format!("The item {err}.")))?;
    let seller = backends.require_user().await?;
    let body =
        serde_json::json!({ "price_cents": price_cents(&price)?, "stock": stock_units(&stock)? });
    let url = crate::ssr::endpoint(&backends.inventory_url, &["v1", "items", item_id.as_str()])?;
    backends
        .post(url, &body, Some(&seller))
        .await
        .map_err(form_field)
}

/// Buys `lines` (JSON: `[{"item_id": "...", "quantity": 2}]`) for the signed-in user.
/// `key` is the form's idempotency key: the same key never buys twice.
#[server]
pub async fn buy(lines: String, key: String) -> Result<wire::transaction::PurchaseView, AppError> {
    let backends = crate::ssr::backends()?;
    let buyer = backends.current_user().await?.ok_or_else(|| {
        crate::ssr::set_status(http::StatusCode::UNAUTHORIZED);
        AppError::new("Please log in to buy.")
    })?;
    let lines = order_lines(&lines)?;
    let purchase = backends
        .purchase(&buyer, &key, &serde_json::json!({ "lines": lines }))
        .await?;
    leptos_axum::redirect("/purchases");
    Ok(purchase)
}

/// One line of an order as the page sends it; the id is checked here, where it enters.
#[cfg(feature = "ssr")]
#[derive(Debug, Serialize, Deserialize)]
struct OrderLineInput {
    item_id: wire::ids::ItemId,
    quantity: i64,
}

/// Reads the order the page sent (`[{"item_id": "...", "quantity": 2}]`).
#[cfg(feature = "ssr")]
fn order_lines(json: &str) -> Result<Vec<OrderLineInput>, AppError> {
    if json.len() > 16 * 1024 {
        return Err(crate::ssr::bad_field("lines", "That order is too long."));
    }
    let lines: Vec<OrderLineInput> = serde_json::from_str(json).map_err(|_| {
        crate::ssr::bad_field(
            "lines",
            "That order could not be read: it must list items and quantities.",
        )
    })?;
    if lines.is_empty() {
        return Err(crate::ssr::bad_field("lines", "The order is empty."));
    }
    Ok(lines)
}

/// The signed-in buyer's purchases, newest first.
#[server]
pub async fn my_purchases() -> Result<Vec<wire::transaction::PurchaseView>, AppError> {
    #[derive(Deserialize)]
    struct Page {
        purchases: Vec<wire::transaction::PurchaseView>,
    }
    let backends = crate::ssr::backends()?;
    let buyer = backends.require_user().await?;
    let page: Page = backends
        .get_as(format!("{}/v1/purchases", backends.transaction_url), &buyer)
        .await?;
    Ok(page.purchases)
}

/// What the signed-in seller sold.
#[server]
pub async fn my_sales() -> Result<wire::transaction::SalesReport, AppError> {
    let backends = crate::ssr::backends()?;
    let seller = backends.require_user().await?;
    backends
        .get_as(format!("{}/v1/sales", backends.transaction_url), &seller)
        .await
}
