//! Server functions: declared here for both sides, run only on the gateway. Each reads its
//! input into typed values, calls a typed client from `crate::ssr`, and lets `?` turn a
//! service's refusal into an [`AppError`] with its status.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use wire::inventory::{CatalogPage, ItemView};
use wire::receipt::ReceiptStatus;
use wire::transaction::{DailySales, PurchaseHistory, PurchaseView, SalesReport};
use wire::user::UserView;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr::{self, backends, call_context, identity_of, require_user};

/// One service's answer to its readiness probe, for the status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// The service's name.
    pub name: String,
    /// Whether its `/readyz` answered 2xx.
    pub ready: bool,
}

/// Whether each backend service says it is ready (its `/readyz`).
#[server]
pub async fn check_services() -> Result<Vec<ServiceStatus>, AppError> {
    let statuses = backends()?.readiness().await;
    Ok(statuses
        .into_iter()
        .map(|(name, ready)| ServiceStatus {
            name: name.to_owned(),
            ready,
        })
        .collect())
}

/// The signed-in user, if any.
#[server]
pub async fn current_user() -> Result<Option<UserView>, AppError> {
    ssr::current_user(&backends()?).await
}

/// Opens an account and signs it in.
#[server]
pub async fn register(
    email: String,
    password: String,
    display_name: String,
) -> Result<UserView, AppError> {
    let backends = backends()?;
    let request = wire::user::RegisterRequest {
        email: email.clone(),
        password: password.clone(),
        display_name,
    };
    backends.users.register(&call_context(), &request).await?;
    let user = start_session(&backends, email, password).await?;
    leptos_axum::redirect("/seller");
    Ok(user)
}

/// Signs in.
#[server]
pub async fn log_in(email: String, password: String) -> Result<UserView, AppError> {
    let user = start_session(&backends()?, email, password).await?;
    leptos_axum::redirect("/");
    Ok(user)
}

/// A new session in the cookie; the session this browser had before (another account, or
/// a fixed one) ends here.
#[cfg(feature = "ssr")]
async fn start_session(
    backends: &ssr::Backends,
    email: String,
    password: String,
) -> Result<UserView, AppError> {
    let request = wire::user::LogInRequest { email, password };
    let session = backends.users.log_in(&call_context(), &request).await?;
    if let Some(previous) = ssr::session_id(backends) {
        end_session(backends, previous).await;
    }
    ssr::set_session_cookie(backends, Some(&session.session_id));
    Ok(session.user)
}

/// Ends a session at the user service; a failure is logged, the browser is not bothered.
#[cfg(feature = "ssr")]
async fn end_session(backends: &ssr::Backends, session_id: String) {
    let request = wire::user::SessionRequest { session_id };
    if let Err(err) = backends.users.end_session(&call_context(), &request).await {
        tracing::warn!(%err, "could not end the session at the user service");
    }
}

/// Signs out.
#[server]
pub async fn log_out() -> Result<(), AppError> {
    let backends = backends()?;
    if let Some(session_id) = ssr::session_id(&backends) {
        end_session(&backends, session_id).await;
    }
    ssr::set_session_cookie(&backends, None);
    leptos_axum::redirect("/");
    Ok(())
}

/// One page of the catalog; `page` from 1, `search` matches titles.
#[server]
pub async fn catalog(page: u64, search: String) -> Result<CatalogPage, AppError> {
    let params = wire::inventory::CatalogParams {
        page: Some(page.max(1).to_string()),
        per_page: None,
        q: Some(search),
    };
    Ok(backends()?
        .inventory
        .catalog(&call_context(), &params)
        .await?)
}

/// One item, or `None` (and a 404 status) when there is no such item.
#[server]
pub async fn item(item_id: String) -> Result<Option<ItemView>, AppError> {
    let backends = backends()?;
    let item = match wire::ItemId::parse(&item_id) {
        Ok(item_id) => backends.inventory.item(&call_context(), &item_id).await?,
        Err(_) => None,
    };
    if item.is_none() {
        ssr::answer_not_found();
    }
    Ok(item)
}

/// The signed-in seller's own items.
#[server]
pub async fn my_items() -> Result<Vec<ItemView>, AppError> {
    let backends = backends()?;
    let seller = require_user(&backends, "Please log in first.").await?;
    let items = backends
        .inventory
        .seller_items(&call_context(), &seller.id)
        .await?;
    Ok(items.items)
}

/// Reads the price field as cents, naming the field when it is not an amount.
#[cfg(feature = "ssr")]
fn price_cents(price: &str) -> Result<i64, AppError> {
    wire::money::parse_money(price)
        .map_err(|reason| AppError::for_field("price", format!("Price {reason}")))
}

/// Reads the stock field as a whole number of units.
#[cfg(feature = "ssr")]
fn stock_units(stock: &str) -> Result<i64, AppError> {
    stock
        .trim()
        .parse::<i64>()
        .map_err(|_| AppError::for_field("stock", "Stock must be a whole number"))
}

/// The services name the price field `price_cents`; the form calls it `price`.
#[cfg(feature = "ssr")]
fn form_field(err: clients::CallError) -> AppError {
    let mut err = AppError::from(err);
    if err.field.as_deref() == Some("price_cents") {
        err.field = Some("price".to_owned());
    }
    err
}

/// Lists a new item for the signed-in seller; `request_id` makes a resubmitted form list
/// it once.
#[server]
pub async fn add_item(
    title: String,
    description: String,
    price: String,
    stock: String,
    image_url: String,
    request_id: String,
) -> Result<ItemView, AppError> {
    let backends = backends()?;
    let seller = require_user(&backends, "Please log in first.").await?;
    let item = wire::inventory::NewItem {
        title,
        description: Some(description),
        price_cents: price_cents(&price)?,
        stock: stock_units(&stock)?,
        image_url: Some(image_url),
        request_id: Some(request_id),
    };
    backends
        .inventory
        .create_item(&call_context(), &identity_of(&seller), &item)
        .await
        .map_err(form_field)
}

/// Changes an item's price and stock, for its seller.
#[server]
pub async fn save_item(
    item_id: String,
    price: String,
    stock: String,
) -> Result<ItemView, AppError> {
    let backends = backends()?;
    let item_id = wire::ItemId::parse(&item_id)
        .map_err(|err| AppError::for_field("item_id", format!("The item {err}.")))?;
    let seller = require_user(&backends, "Please log in first.").await?;
    let edit = wire::inventory::ItemEdit {
        price_cents: Some(price_cents(&price)?),
        stock: Some(stock_units(&stock)?),
        ..Default::default()
    };
    backends
        .inventory
        .edit_item(&call_context(), &identity_of(&seller), &item_id, &edit)
        .await
        .map_err(form_field)
}

/// Takes one of the signed-in seller's items off sale (`on_sale` = "false": it leaves the
/// catalog and cannot be bought) or puts it back on sale ("true").
#[server]
pub async fn set_on_sale(item_id: String, on_sale: String) -> Result<ItemView, AppError> {
    let backends = backends()?;
    let item_id = wire::ItemId::parse(&item_id)
        .map_err(|err| AppError::for_field("item_id", format!("The item {err}.")))?;
    let on_sale = match on_sale.trim() {
        "true" => true,
        "false" => false,
        _ => {
            return Err(AppError::for_field(
                "on_sale",
                "Say \"true\" to put the item on sale or \"false\" to take it off.",
            ));
        }
    };
    let seller = require_user(&backends, "Please log in first.").await?;
    let edit = wire::inventory::ItemEdit {
        on_sale: Some(on_sale),
        ..Default::default()
    };
    Ok(backends
        .inventory
        .edit_item(&call_context(), &identity_of(&seller), &item_id, &edit)
        .await?)
}

/// Buys `lines` (JSON: `[{"item_id": "...", "quantity": 2}]`) for the signed-in user.
/// `key` is the form's idempotency key: the same key never buys twice.
#[server]
pub async fn buy(lines: String, key: String) -> Result<PurchaseView, AppError> {
    let backends = backends()?;
    let buyer = require_user(&backends, "Please log in to buy.").await?;
    let purchase = wire::transaction::PurchaseRequest {
        lines: order_lines(&lines)?,
    };
    let purchase = backends
        .transactions
        .purchase(&call_context(), &identity_of(&buyer), &key, &purchase)
        .await?;
    leptos_axum::redirect(&format!("/purchases/{}", purchase.id));
    Ok(purchase)
}

/// Reads the order the page sent (`[{"item_id": "...", "quantity": 2}]`); the ids are
/// checked here, where they enter.
#[cfg(feature = "ssr")]
fn order_lines(json: &str) -> Result<Vec<wire::transaction::OrderLine>, AppError> {
    if json.len() > 16 * 1024 {
        return Err(AppError::for_field("lines", "That order is too long."));
    }
    let lines: Vec<wire::transaction::OrderLine> = serde_json::from_str(json).map_err(|_| {
        AppError::for_field(
            "lines",
            "That order could not be read: it must list items and quantities.",
        )
    })?;
    if lines.is_empty() {
        return Err(AppError::for_field("lines", "The order is empty."));
    }
    Ok(lines)
}

/// One page of the signed-in buyer's purchases, newest first; `page` from 1.
#[server]
pub async fn my_purchases(page: u64) -> Result<PurchaseHistory, AppError> {
    let backends = backends()?;
    let buyer = require_user(&backends, "Please log in first.").await?;
    let params = wire::transaction::HistoryParams {
        page: Some(page.max(1).to_string()),
    };
    Ok(backends
        .transactions
        .history(&call_context(), &identity_of(&buyer), &params)
        .await?)
}

/// One purchase as its buyer sees it after buying: what was bought and where the receipt is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAndReceipt {
    /// The purchase.
    pub purchase: PurchaseView,
    /// `None` when the receipt workers could not be asked just now.
    pub receipt: Option<ReceiptStatus>,
}

/// One of the signed-in buyer's purchases, or `None` (and a 404 status) when they made no
/// such purchase: someone else's reads the same as one that never was.
#[server]
pub async fn order_details(purchase_id: String) -> Result<Option<OrderAndReceipt>, AppError> {
    let backends = backends()?;
    let buyer = require_user(&backends, "Please log in to see your purchase.").await?;
    let Ok(purchase_id) = wire::PurchaseId::parse(&purchase_id) else {
        ssr::answer_not_found();
        return Ok(None);
    };
    let (context, buyer) = (call_context(), identity_of(&buyer));
    let Some(purchase) = backends
        .transactions
        .purchase_of(&context, &buyer, &purchase_id)
        .await?
    else {
        ssr::answer_not_found();
        return Ok(None);
    };
    // The purchase stands on its own: a receipt service that is away leaves only the status
    // unknown.
    let receipt = match backends
        .receipts
        .status(&context, &buyer, &purchase_id)
        .await
    {
        Ok(status) => Some(status),
        Err(err) => {
            tracing::warn!(%err, "could not ask the receipt workers for a receipt's status");
            None
        }
    };
    Ok(Some(OrderAndReceipt { purchase, receipt }))
}

/// What the signed-in seller sold on each of the last 30 days (UTC), oldest first.
#[server]
pub async fn my_daily_sales() -> Result<DailySales, AppError> {
    let backends = backends()?;
    let seller = require_user(&backends, "Please log in first.").await?;
    Ok(backends
        .transactions
        .daily_sales(&call_context(), &identity_of(&seller))
        .await?)
}

/// One page of what the signed-in seller sold, newest first, with the totals; `page` from 1.
#[server]
pub async fn my_sales(page: u64) -> Result<SalesReport, AppError> {
    let backends = backends()?;
    let seller = require_user(&backends, "Please log in first.").await?;
    let params = wire::transaction::SalesParams {
        page: Some(page.max(1).to_string()),
    };
    Ok(backends
        .transactions
        .sales(&call_context(), &identity_of(&seller), &params)
        .await?)
}
