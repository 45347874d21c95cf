//! The gateway side of the app: the typed clients of the services ([`Backends`]), the
//! session cookie, and the few functions that read the request being served or write its
//! response. Server functions in `crate::api` use this module; nothing here uses them.

mod kept_items;
mod personal_page;
mod sent_back;
mod session_cookie;
mod upload_form;

use std::time::SystemTime;

use clients::{
    CallContext, CallError, InventoryClient, ReceiptClient, TransactionClient, UserClient,
};
use common::client::ClientAddress;
use common::identity::{Caller, Identity, IdentityKey};
use common::serve::REQUEST_ID_HEADER;
use http::StatusCode;
use http::header::SET_COOKIE;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use wire::user::{SessionRequest, UserView};

use crate::error::AppError;

pub use crate::pages::fresh_form_key;
pub use kept_items::KeptItems;
pub use personal_page::{NotATemplate, PersonalTemplate, Placeholders, Visitor, placeholders};
pub use sent_back::{form_is_about, is_plain_form_post, send_back, take_sent_back};
pub use session_cookie::SessionCookie;
pub use upload_form::{PICTURE_FIELD, UploadForm};

/// Where the services are and how to call them, shared by every request the gateway serves.
/// Plain data and clients: no Leptos in it, so the live-socket proxy uses it too.
#[derive(Debug, Clone)]
pub struct Backends {
    /// Accounts and sessions.
    pub users: UserClient,
    /// Items and the catalog.
    pub inventory: InventoryClient,
    /// Purchases and sales.
    pub transactions: TransactionClient,
    /// Whether a buyer's receipt has been emailed.
    pub receipts: ReceiptClient,
    /// The connection pool the clients share, for readiness probes.
    http: reqwest::Client,
    /// Every service, for the status panel: (name, base URL).
    services: Vec<(&'static str, String)>,
    /// Signs identities for the services.
    identity: IdentityKey,
    /// How the session cookie is written.
    pub cookie: SessionCookie,
    /// The items pages showed lately, as long as they have not changed.
    pub kept_items: std::sync::Arc<KeptItems>,
}

/// The base URLs of the services the gateway calls.
#[derive(Debug, Clone)]
pub struct ServiceUrls {
    /// The user service.
    pub user: String,
    /// The inventory service.
    pub inventory: String,
    /// The transaction service.
    pub transaction: String,
    /// The receipt workers.
    pub receipt: String,
    /// The notification service (only probed for readiness).
    pub notification: String,
}

impl Backends {
    /// Clients of the services at `urls`; a URL that is not one is refused here, at start.
    pub fn new(
        urls: &ServiceUrls,
        identity: IdentityKey,
        cookie: SessionCookie,
    ) -> Result<Self, CallError> {
        let http = clients::http_client();
        Ok(Self {
            users: UserClient::new(http.clone(), &urls.user, identity.clone())?,
            inventory: InventoryClient::new(http.clone(), &urls.inventory, identity.clone())?,
            transactions: TransactionClient::new(
                http.clone(),
                &urls.transaction,
                identity.clone(),
            )?,
            receipts: ReceiptClient::new(http.clone(), &urls.receipt, identity.clone())?,
            http,
            services: vec![
                ("user", urls.user.clone()),
                ("inventory", urls.inventory.clone()),
                ("transaction", urls.transaction.clone()),
                ("receipt", urls.receipt.clone()),
                ("notification", urls.notification.clone()),
            ],
            identity,
            cookie,
            kept_items: std::sync::Arc::default(),
        })
    }

    /// Whether each service says it is ready: (name, ready).
    pub async fn readiness(&self) -> Vec<(&'static str, bool)> {
        let checks = self
            .services
            .iter()
            .map(|(name, base)| async move { (*name, clients::is_ready(&self.http, base).await) });
        futures::future::join_all(checks).await
    }

    /// The user of a live session, or `None` when it is unknown or over.
    pub async fn user_of_session(
        &self,
        context: &CallContext,
        session_id: &str,
    ) -> Result<Option<UserView>, CallError> {
        let request = SessionRequest {
            session_id: session_id.to_owned(),
        };
        self.users.current_session(context, &request).await
    }

    /// Whoever the session `session_id` belongs to, with their cart; `None` when the session
    /// is unknown or over.
    pub async fn visitor(
        &self,
        context: &CallContext,
        session_id: &str,
    ) -> Result<Option<Visitor>, CallError> {
        let Some(user) = self.user_of_session(context, session_id).await? else {
            return Ok(None);
        };
        let cart = self
            .transactions
            .cart(context, clients::CartOf::User(&identity_of(&user)))
            .await?;
        Ok(Some(Visitor { user, cart }))
    }

    /// `user`'s identity from the browser at `client_address`, signed for the services (the
    /// live socket's handshake carries it).
    pub fn signed_identity_from(&self, user: &UserView, client_address: &str) -> String {
        self.identity.sign_as(
            Caller::User,
            Some(&identity_of(user)),
            Some(client_address),
            SystemTime::now(),
        )
    }

    /// The gateway's own token for an anonymous live socket: no user, the client's address.
    pub fn gateway_token(&self, client_address: &str) -> String {
        self.identity.sign_as(
            Caller::Gateway,
            None,
            Some(client_address),
            SystemTime::now(),
        )
    }
}

/// Which items a catalog page being rendered shows: the gateway puts one in the request it
/// renders to keep (`server/src/page_cache.rs`), the catalog's server function notes the
/// items there, and a kept page is then dropped only when one of those items' cards changes
/// (or the catalog's membership does), not on every change anywhere.
#[derive(Debug, Clone, Default)]
pub struct ShownItems(std::sync::Arc<std::sync::Mutex<Vec<wire::ItemId>>>);

impl ShownItems {
    /// The items noted so far.
    pub fn items(&self) -> Vec<wire::ItemId> {
        self.0.lock().map(|items| items.clone()).unwrap_or_default()
    }
}

/// Notes `items` as shown by the page being rendered, if the gateway asked to know.
pub fn note_shown_items(items: impl IntoIterator<Item = wire::ItemId>) {
    with_context::<http::request::Parts, _>(|parts| {
        if let Some(ShownItems(shown)) = parts.extensions.get::<ShownItems>()
            && let Ok(mut shown) = shown.lock()
        {
            shown.extend(items);
        }
    });
}

/// The identity the services act for, from the user the session belongs to.
pub fn identity_of(user: &UserView) -> Identity {
    Identity {
        user_id: user.id.clone(),
        display_name: user.display_name.clone(),
        email: user.email.clone(),
    }
}

/// The gateway provides [`Backends`] as context to every server function and page render.
pub fn backends() -> Result<Backends, AppError> {
    use_context::<Backends>().ok_or_else(|| {
        tracing::error!("the gateway has no backends configured");
        AppError::unavailable()
    })
}

/// The request being served, as the services should hear of it: its id (set by the
/// gateway's middleware when the browser sent none) and the browser's address (as the
/// gateway's edge worked it out, see `TRUSTED_PROXIES`).
pub fn call_context() -> CallContext {
    // Borrowed, not cloned: the request's parts hold its whole header map.
    with_context::<http::request::Parts, _>(|parts| CallContext {
        request_id: parts
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        client_address: Some(
            parts
                .extensions
                .get::<ClientAddress>()
                .map_or_else(|| "unknown".to_owned(), ToString::to_string),
        ),
    })
    .unwrap_or_else(|| CallContext {
        request_id: None,
        client_address: Some("unknown".to_owned()),
    })
}

/// The session id from the request's cookie, if any.
pub fn session_id(backends: &Backends) -> Option<String> {
    with_context::<http::request::Parts, _>(|parts| backends.cookie.session_id(&parts.headers))
        .flatten()
}

/// Stores `session_id` in the browser's cookie, or (with `None`) removes it. Whoever was
/// signed in is no longer known for the rest of this request.
pub fn set_session_cookie(backends: &Backends, session_id: Option<&str>) {
    if use_context::<SessionUser>().is_some() {
        provide_context(SessionUser::default());
    }
    if let (Some(response), Ok(value)) = (
        use_context::<ResponseOptions>(),
        http::HeaderValue::from_str(&backends.cookie.set_cookie(session_id)),
    ) {
        response.append_header(SET_COOKIE, value);
    }
}

/// The guest cart this browser's cookie names, if any.
pub fn guest_cart(backends: &Backends) -> Option<wire::cart::GuestCartId> {
    with_context::<http::request::Parts, _>(|parts| backends.cookie.guest_cart(&parts.headers))
        .flatten()
}

/// Keeps a guest cart's id in the browser's cookie, or (with `None`) removes it.
pub fn set_guest_cart_cookie(backends: &Backends, cart: Option<&wire::cart::GuestCartId>) {
    if let (Some(response), Ok(value)) = (
        use_context::<ResponseOptions>(),
        http::HeaderValue::from_str(&backends.cookie.set_guest_cart(cart)),
    ) {
        response.append_header(SET_COOKIE, value);
    }
}

/// Who the request's session belongs to, asked of the user service at most once per request:
/// a page's header, cart and forms all want to know, and each answer would be the same.
/// Provided fresh for every request (see [`provide_request_context`]) and replaced when a
/// server function starts or ends the session.
#[derive(Clone, Default)]
struct SessionUser(std::sync::Arc<tokio::sync::OnceCell<Option<UserView>>>);

/// What a page render or server function of one request shares: the session's user, once
/// read. The gateway calls this for every request, beside providing [`Backends`].
pub fn provide_request_context() {
    provide_context(SessionUser::default());
}

/// The signed-in user, or `None` without a live session (the made-up visitor when a
/// personal page's template is being rendered).
pub async fn current_user(backends: &Backends) -> Result<Option<UserView>, AppError> {
    if let Some(placeholders) = placeholders() {
        return Ok(Some(placeholders.user().clone()));
    }
    let lookup = || async {
        match session_id(backends) {
            Some(session_id) => backends.user_of_session(&call_context(), &session_id).await,
            None => Ok(None),
        }
    };
    match use_context::<SessionUser>() {
        Some(SessionUser(user)) => Ok(user.get_or_try_init(lookup).await?.clone()),
        None => Ok(lookup().await?),
    }
}

/// The signed-in user, or a 401 "log in first" (`message`).
pub async fn require_user(backends: &Backends, message: &str) -> Result<UserView, AppError> {
    current_user(backends)
        .await?
        .ok_or_else(|| AppError::new(message).with_status(StatusCode::UNAUTHORIZED))
}

/// A page that is not there: 404.
pub fn answer_not_found() {
    if let Some(response) = use_context::<ResponseOptions>() {
        response.set_status(StatusCode::NOT_FOUND);
    }
}

impl From<CallError> for AppError {
    /// A service's 4xx becomes its sentence (and field) with the same status; anything else
    /// is logged and told as "having trouble" (503).
    fn from(err: CallError) -> Self {
        match err {
            CallError::Refused {
                status,
                body,
                retry_after,
            } if status.is_client_error() => {
                let mut error = match body.field {
                    Some(field) => AppError::for_field(field, capitalise(&body.error)),
                    None => AppError::new(capitalise(&body.error)),
                }
                .with_status(status);
                error.retry_after = retry_after;
                error
            }
            other => {
                tracing::error!(error = %other, "a service failed");
                AppError::unavailable()
            }
        }
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
