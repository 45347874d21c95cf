//! Server functions: declared here for both sides, run only on the gateway. Each reads its
//! input into typed values, calls a typed client from `crate::ssr`, and lets `?` turn a
//! service's refusal into an [`AppError`] with its status.

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};
use serde::{Deserialize, Serialize};
use wire::cart::CartView;
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
    merge_guest_cart(backends, &session.user).await;
    Ok(session.user)
}

/// What this browser put in its cart before signing in joins the user's cart. A failure is
/// logged and the guest cart kept (its cookie too), so nothing is lost; the sign-in stands.
#[cfg(feature = "ssr")]
async fn merge_guest_cart(backends: &ssr::Backends, user: &UserView) {
    let Some(guest_cart_id) = ssr::guest_cart(backends) else {
        return;
    };
    let merge = wire::cart::MergeGuestCart { guest_cart_id };
    match backends
        .transactions
        .merge_guest_cart(&call_context(), &identity_of(user), &merge)
        .await
    {
        Ok(_) => ssr::set_guest_cart_cookie(backends, None),
        Err(err) => tracing::warn!(%err, "could not fold the guest cart into the user's"),
    }
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
    let page = backends()?
        .inventory
        .catalog(&call_context(), &params)
        .await?;
    ssr::note_shown_items(page.items.iter().map(|item| item.id.clone()));
    Ok(page)
}

/// One item, or `None` (and a 404 status) when there is no such item. Read from this gateway
/// copy's [`ssr::KeptItems`] when it has the item since its last change.
#[server]
pub async fn item(item_id: String) -> Result<Option<ItemView>, AppError> {
    let backends = backends()?;
    let item = match wire::ItemId::parse(&item_id) {
        Ok(item_id) => match backends.kept_items.get(&item_id) {
            Some(item) => Some(item),
            None => {
                let start = backends.kept_items.read_start();
                let item = backends.inventory.item(&call_context(), &item_id).await?;
                if let Some(item) = &item {
                    backends.kept_items.keep(start, item);
                }
                item
            }
        },
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

/// The server functions whose forms carry a picture: the gateway lets their requests be
/// larger, and only as `multipart/form-data`.
pub const UPLOAD_PATHS: [&str; 2] = [
    <AddItem as leptos::server_fn::ServerFn>::PATH,
    <SetPicture as leptos::server_fn::ServerFn>::PATH,
];

/// Lists a new item for the signed-in seller, from the "Add an item" form (title,
/// description, price, stock, and a `picture` file or an `image_url`); `request_id` makes a
/// resubmitted form list it once. The picture goes to the inventory service with the rest of
/// the form, which stores it only once everything else is accepted.
#[server(input = MultipartFormData)]
pub async fn add_item(form: MultipartData) -> Result<ItemView, AppError> {
    let backends = backends()?;
    let form = ssr::UploadForm::read(form).await?;
    let seller = require_user(&backends, "Please log in first.").await?;
    let price_cents = price_cents(form.text("price"))?;
    let stock = stock_units(form.text("stock"))?;
    let picture = form.picture()?;
    let image_url = form.text("image_url").trim();
    if picture.is_some() && !image_url.is_empty() {
        return Err(AppError::for_field(
            "image_url",
            "Choose a picture or give its address, not both.",
        ));
    }
    let item = wire::inventory::NewItem {
        title: form.text("title").to_owned(),
        description: Some(form.text("description").to_owned()),
        price_cents,
        stock,
        image_url: Some(image_url.to_owned()),
        picture: picture.map(|bytes| wire::picture::PictureUpload::new(bytes.to_vec())),
        request_id: Some(form.text("request_id").to_owned()),
    };
    backends
        .inventory
        .create_item(&call_context(), &identity_of(&seller), &item)
        .await
        .map_err(form_field)
}

/// Gives one of the signed-in seller's items a new picture (form fields `item_id` and the
/// `picture` file). The inventory service refuses someone else's item before it stores the
/// picture.
#[server(input = MultipartFormData)]
pub async fn set_picture(form: MultipartData) -> Result<ItemView, AppError> {
    let backends = backends()?;
    let form = ssr::UploadForm::read(form).await?;
    let item_id = item_id_field(form.text("item_id"))?;
    ssr::form_is_about(&item_id);
    let seller = require_user(&backends, "Please log in first.").await?;
    let picture = form
        .picture()?
        .ok_or_else(|| AppError::for_field(ssr::PICTURE_FIELD, "Choose a picture to upload."))?;
    let edit = wire::inventory::ItemEdit {
        picture: Some(wire::picture::PictureUpload::new(picture.to_vec())),
        ..Default::default()
    };
    backends
        .inventory
        .edit_item(&call_context(), &identity_of(&seller), &item_id, &edit)
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
    let item_id = item_id_field(&item_id)?;
    ssr::form_is_about(&item_id);
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
    let item_id = item_id_field(&item_id)?;
    ssr::form_is_about(&item_id);
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

/// Who is shopping: the signed-in user, or this browser as a guest (with a new guest cart
/// when `make_guest_cart` and the browser has none yet).
#[cfg(feature = "ssr")]
enum Shopper {
    User(common::identity::Identity),
    Guest(wire::cart::GuestCartId),
    Nobody,
}

#[cfg(feature = "ssr")]
impl Shopper {
    async fn now(backends: &ssr::Backends, make_guest_cart: bool) -> Result<Self, AppError> {
        if let Some(user) = ssr::current_user(backends).await? {
            return Ok(Self::User(identity_of(&user)));
        }
        Ok(match ssr::guest_cart(backends) {
            Some(guest) => Self::Guest(guest),
            None if make_guest_cart => {
                let guest = wire::cart::GuestCartId::from_random(rand::random());
                ssr::set_guest_cart_cookie(backends, Some(&guest));
                Self::Guest(guest)
            }
            None => Self::Nobody,
        })
    }

    fn cart(&self) -> Option<clients::CartOf<'_>> {
        match self {
            Self::User(user) => Some(clients::CartOf::User(user)),
            Self::Guest(guest) => Some(clients::CartOf::Guest(guest)),
            Self::Nobody => None,
        }
    }
}

/// Reads an item id a form sent, naming the field when it is not one.
#[cfg(feature = "ssr")]
fn item_id_field(item_id: &str) -> Result<wire::ItemId, AppError> {
    wire::ItemId::parse(item_id)
        .map_err(|err| AppError::for_field("item_id", format!("The item {err}.")))
}

/// Reads a quantity a form sent: a whole number (the cart service checks the range).
#[cfg(feature = "ssr")]
fn quantity_field(quantity: &str) -> Result<i64, AppError> {
    quantity.trim().parse::<i64>().map_err(|_| {
        AppError::for_field("quantity", "Quantity must be a whole number from 1 to 99.")
    })
}

/// The cart of whoever is browsing, at today's prices (empty for a browser without one).
#[server]
pub async fn my_cart() -> Result<CartView, AppError> {
    if let Some(placeholders) = ssr::placeholders() {
        return Ok(placeholders.cart().clone());
    }
    let backends = backends()?;
    let shopper = Shopper::now(&backends, false).await?;
    match shopper.cart() {
        Some(cart) => Ok(backends.transactions.cart(&call_context(), cart).await?),
        None => Ok(CartView::default()),
    }
}

/// Puts `quantity` of an item in the cart ("Add to cart"); a browser that is not signed in
/// gets a guest cart.
#[server]
pub async fn add_to_cart(item_id: String, quantity: String) -> Result<CartView, AppError> {
    let backends = backends()?;
    let add = wire::cart::AddToCart {
        item_id: item_id_field(&item_id)?,
        quantity: quantity_field(&quantity)?,
    };
    ssr::form_is_about(&add.item_id);
    let shopper = Shopper::now(&backends, true).await?;
    let cart = shopper.cart().ok_or_else(AppError::unavailable)?;
    backends
        .transactions
        .add_to_cart(&call_context(), cart, &add)
        .await
        .map_err(AppError::from)
        .map_err(quantity_errors_to_the_field)
}

/// Changes how many of an item the cart holds.
#[server]
pub async fn set_cart_quantity(item_id: String, quantity: String) -> Result<CartView, AppError> {
    let backends = backends()?;
    let item_id = item_id_field(&item_id)?;
    let quantity = wire::cart::SetQuantity {
        quantity: quantity_field(&quantity)?,
    };
    let shopper = Shopper::now(&backends, false).await?;
    let cart = shopper
        .cart()
        .ok_or_else(|| AppError::for_field("item_id", "Your cart is empty."))?;
    backends
        .transactions
        .set_cart_quantity(&call_context(), cart, &item_id, &quantity)
        .await
        .map_err(AppError::from)
        .map_err(quantity_errors_to_the_field)
}

/// Takes an item out of the cart.
#[server]
pub async fn remove_from_cart(item_id: String) -> Result<CartView, AppError> {
    let backends = backends()?;
    let item_id = item_id_field(&item_id)?;
    let shopper = Shopper::now(&backends, false).await?;
    match shopper.cart() {
        Some(cart) => Ok(backends
            .transactions
            .remove_from_cart(&call_context(), cart, &item_id)
            .await?),
        None => Ok(CartView::default()),
    }
}

/// The cart service says "must be from 1 to 99"; the page shows it under the field.
#[cfg(feature = "ssr")]
fn quantity_errors_to_the_field(mut err: AppError) -> AppError {
    if err.field.as_deref() == Some("quantity") {
        let mut reason = err.message.trim_end_matches('.').chars();
        let first = reason.next().map(|c| c.to_lowercase().to_string());
        err.message = format!("Quantity {}{}.", first.unwrap_or_default(), reason.as_str());
    }
    err
}

/// What the cart page showed of each line when "Checkout" was pressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownLine {
    /// The item.
    pub item_id: String,
    /// Units shown.
    pub quantity: i64,
    /// The unit price shown.
    pub unit_price_cents: i64,
}

/// Checks the signed-in user's cart out: it must still be what the page showed (same lines,
/// quantities and prices) and every line must be for sale with the stock for it; otherwise
/// nothing is bought and the error says what changed. `key` makes a resubmitted form buy
/// once; the cart is emptied in every tab afterwards.
#[server]
pub async fn checkout(shown: String, key: String) -> Result<PurchaseView, AppError> {
    let backends = backends()?;
    let buyer = require_user(&backends, "Please log in to check out.").await?;
    let buyer = identity_of(&buyer);
    let context = call_context();
    let shown: Vec<ShownLine> = serde_json::from_str(&shown).map_err(|_| {
        AppError::new("The cart could not be read; reload the page and try again.")
            .with_status(http::StatusCode::UNPROCESSABLE_ENTITY)
    })?;
    let cart = backends
        .transactions
        .cart(&context, clients::CartOf::User(&buyer))
        .await?;
    if cart.lines.is_empty() {
        return Err(AppError::new("Your cart is empty."));
    }
    let problems = cart_problems(&cart, &shown);
    if !problems.is_empty() {
        return Err(
            AppError::new(format!("Nothing was bought. {}", problems.join(" ")))
                .with_status(http::StatusCode::CONFLICT),
        );
    }
    let purchase = wire::transaction::PurchaseRequest {
        lines: cart
            .lines
            .iter()
            .map(|line| wire::transaction::OrderLine {
                item_id: line.item_id.clone(),
                quantity: line.quantity,
            })
            .collect(),
    };
    let purchase = backends
        .transactions
        .purchase(&context, &buyer, &key, &purchase)
        .await?;
    if let Err(err) = backends.transactions.empty_cart(&context, &buyer).await {
        tracing::warn!(%err, "bought, but the cart could not be emptied");
    }
    leptos_axum::redirect(&format!("/purchases/{}", purchase.id));
    Ok(purchase)
}

/// Why a cart cannot be checked out as it was shown: each sentence names a line.
#[cfg(feature = "ssr")]
fn cart_problems(cart: &CartView, shown: &[ShownLine]) -> Vec<String> {
    let mut problems = Vec::new();
    for line in &cart.lines {
        let seen = shown.iter().find(|s| s.item_id == line.item_id.as_str());
        match seen {
            None => problems.push(format!("{} was added to your cart elsewhere.", line.title)),
            Some(seen) if seen.unit_price_cents != line.unit_price_cents => {
                problems.push(format!(
                    "The price of {} changed from ${} to ${}.",
                    line.title,
                    wire::money::format_cents(seen.unit_price_cents),
                    wire::money::format_cents(line.unit_price_cents)
                ));
            }
            Some(seen) if seen.quantity != line.quantity => problems.push(format!(
                "You now have {} of {} in your cart.",
                line.quantity, line.title
            )),
            Some(_) => {}
        }
        if !line.available {
            problems.push(format!(
                "{} is no longer for sale; remove it to check out.",
                line.title
            ));
        } else if line.stock < line.quantity {
            problems.push(match line.stock {
                0 => format!("{} sold out; remove it to check out.", line.title),
                n => format!(
                    "Only {n} of {} left; lower the quantity to check out.",
                    line.title
                ),
            });
        }
    }
    for seen in shown {
        if !cart
            .lines
            .iter()
            .any(|l| l.item_id.as_str() == seen.item_id)
        {
            problems.push("A line was taken out of your cart elsewhere.".to_owned());
        }
    }
    problems
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
