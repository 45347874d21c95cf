//! Signed-in visitors' item pages, filled in from one template per item
//! ([`app::ssr::PersonalTemplate`]) with what this copy remembers of the visitor (their user
//! and cart, [`Visitors`]): no render and no service call for a visitor seen lately.
//!
//! Both are forgotten on the same announcements as kept pages, and only kept while this copy
//! follows them: a template when its item changes; a visitor when their user's channel says
//! their session ended or their cart or purchases changed (whichever copy served the
//! change), when an item in their cart changes, and when they post anything to this copy.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use app::ssr::{PersonalTemplate, Visitor};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use clients::CallContext;
use common::client::ClientAddress;
use common::serve::REQUEST_ID_HEADER;
use wire::events::LiveEvent;
use wire::{ItemId, UserId};

use super::{MAX_PAGE_BYTES, PAGE_CACHE_HEADER, PageCache, item_page_of};
use crate::edge::CspNonce;

/// The most visitors a copy remembers (a user and a cart: a kilobyte or so each).
const MAX_VISITORS: u64 = 20_000;

/// The longest a visitor is remembered. Their session's idle timeout is renewed when the
/// user service is asked, so at least this often while they browse; and a session that
/// reached its absolute end shows its name at most this much longer (anything it posts is
/// checked by the services).
const LONGEST_REMEMBERED: std::time::Duration = std::time::Duration::from_secs(30);

/// Pages up to this size reach the browser in the first round trip of a new connection
/// (ten segments of 1,460 bytes, the initial congestion window of RFC 6928) compressed or
/// not; compressing each visitor's copy would cost more time than it saves.
const ONE_ROUND_TRIP: usize = 14_000;

/// On a response: send it as it is (see [`ONE_ROUND_TRIP`]); the gateway's compression
/// layer leaves such responses alone.
#[derive(Debug, Clone, Copy)]
pub struct SendUncompressed;

/// The visitors this copy served lately, by session id.
pub(super) struct Visitors {
    by_session: moka::sync::Cache<String, Arc<Visitor>>,
    /// Grows with everything forgotten: a visitor read before is not remembered.
    changes: AtomicU64,
}

impl Visitors {
    pub(super) fn new() -> Self {
        Self {
            by_session: moka::sync::Cache::builder()
                .max_capacity(MAX_VISITORS)
                .time_to_live(LONGEST_REMEMBERED)
                .support_invalidation_closures()
                .build(),
            changes: AtomicU64::new(0),
        }
    }

    /// What a user's channel said: a session that ended, or a cart or purchases that changed,
    /// make this copy forget the user's sessions.
    pub(super) fn heard(&self, user_id: UserId, payload: Option<&str>) {
        match payload.map(serde_json::from_str::<LiveEvent>) {
            Some(Ok(
                LiveEvent::SignedOut | LiveEvent::CartChanged | LiveEvent::PurchasesChanged { .. },
            ))
            | Some(Err(_))
            | None => self.forget_user(user_id),
            Some(Ok(_)) => {}
        }
    }

    fn forget_user(&self, user_id: UserId) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        self.forget_if(move |visitor| visitor.user.id == user_id);
    }

    /// The items changed: their prices, stock and availability in carts are stale.
    pub(super) fn forget_carts_with(&self, item_ids: &[ItemId]) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        let item_ids = item_ids.to_vec();
        self.forget_if(move |visitor| {
            visitor
                .cart
                .lines
                .iter()
                .any(|line| item_ids.contains(&line.item_id))
        });
    }

    fn forget_if(&self, stale: impl Fn(&Visitor) -> bool + Send + Sync + 'static) {
        if self
            .by_session
            .invalidate_entries_if(move |_, visitor| stale(visitor))
            .is_err()
        {
            self.by_session.invalidate_all();
        }
    }

    /// Lets the cache apply and then drop the rules [`Self::forget_if`] left: it does so only
    /// when it is read or written, and a gateway whose signed-in visitors only post (buy,
    /// change carts) kept every rule, two a purchase (its memory grew 3.5 MiB a minute at 100
    /// purchases a second).
    pub(super) fn tidy(&self) {
        self.by_session.run_pending_tasks();
    }

    pub(super) fn forget_session(&self, session_id: &str) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        self.by_session.invalidate(session_id);
    }

    pub(super) fn forget_everyone(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        self.by_session.invalidate_all();
    }
}

/// A signed-in visitor's GET of an item page: answered from the item's template with their
/// own values. Any other request of theirs (a form post: a cart change, logging out...) makes
/// this copy forget them, before and after it runs. Everything else, and anything this
/// cannot answer (no template, a form error to show, a session the user service does not
/// know), passes on to be rendered.
pub async fn serve_personal_pages(
    State(cache): State<Arc<PageCache>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(session_id) = cache.backends.cookie.session_id(request.headers()) else {
        return next.run(request).await;
    };
    if request.method() != Method::GET {
        cache.visitors.forget_session(&session_id);
        let response = next.run(request).await;
        cache.visitors.forget_session(&session_id);
        return response;
    }
    let item_id = item_page_of(request.uri())
        .filter(|_| {
            cache
                .backends
                .cookie
                .form_error(request.headers())
                .is_none()
        })
        .filter(|_| cache.is_keeping());
    let nonce = request.extensions().get::<CspNonce>().cloned();
    let (Some(item_id), Some(CspNonce(nonce))) = (item_id, nonce) else {
        return next.run(request).await;
    };
    let asking = Asking::from(&request);
    let Some(visitor) = cache.visitor(&asking, &session_id).await else {
        return next.run(request).await;
    };
    let Some(template) = cache
        .personal_template(&asking, item_id, next.clone())
        .await
    else {
        return next.run(request).await;
    };
    let page = template.fill(&visitor, &nonce, &app::ssr::fresh_form_key());
    let small = page.len() <= ONE_ROUND_TRIP;
    let mut response = Response::new(Body::from(page));
    if small {
        response.extensions_mut().insert(SendUncompressed);
    }
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Theirs alone: not for shared caches, nor for the browser's once they leave.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(PAGE_CACHE_HEADER, HeaderValue::from_static("personal"));
    response
}

/// What of the visitor's request the services and the template's render are told: the
/// request (a body is not `Sync`) cannot be held across a call.
struct Asking {
    uri: axum::http::Uri,
    request_id: Option<HeaderValue>,
    client_address: Option<ClientAddress>,
}

impl From<&Request> for Asking {
    fn from(request: &Request) -> Self {
        Self {
            uri: request.uri().clone(),
            request_id: request.headers().get(REQUEST_ID_HEADER).cloned(),
            client_address: request.extensions().get::<ClientAddress>().cloned(),
        }
    }
}

impl PageCache {
    /// The session's visitor, remembered or asked of the services; `None` when the session
    /// is over or a service failed (the render that follows says so).
    async fn visitor(&self, asking: &Asking, session_id: &str) -> Option<Arc<Visitor>> {
        if let Some(visitor) = self.visitors.by_session.get(session_id) {
            return Some(visitor);
        }
        let start = self.visitors.changes.load(Ordering::SeqCst);
        let context = CallContext {
            request_id: asking
                .request_id
                .as_ref()
                .and_then(|id| id.to_str().ok())
                .map(str::to_owned),
            client_address: asking.client_address.as_ref().map(ToString::to_string),
        };
        let visitor = Arc::new(
            self.backends
                .visitor(&context, session_id)
                .await
                .ok()
                .flatten()?,
        );
        // Remembered only if nothing was forgotten while it was read (it may predate that).
        if self.visitors.changes.load(Ordering::SeqCst) == start && self.is_keeping() {
            self.visitors
                .by_session
                .insert(session_id.to_owned(), Arc::clone(&visitor));
        }
        Some(visitor)
    }

    /// The item page's template, kept or rendered now through `next` for the made-up
    /// visitor; `None` when the page is not one (an unknown item: the render says so).
    async fn personal_template(
        &self,
        asking: &Asking,
        item_id: ItemId,
        next: Next,
    ) -> Option<Arc<PersonalTemplate>> {
        if let Some(template) = self.personal.get(&item_id) {
            return Some(template);
        }
        let render_start = self.backends.kept_items.read_start();
        let nonce = crate::edge::fresh_nonce();
        let mut render = Request::get(asking.uri.clone()).body(Body::empty()).ok()?;
        render
            .extensions_mut()
            .insert(Arc::clone(&self.placeholders));
        render.extensions_mut().insert(CspNonce(nonce.clone()));
        if let Some(address) = &asking.client_address {
            render.extensions_mut().insert(address.clone());
        }
        if let Some(id) = &asking.request_id {
            render.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
        }
        let response = next.run(render).await;
        let headers = response.headers();
        if response.status() != StatusCode::OK
            || headers.contains_key(SET_COOKIE)
            || headers.contains_key(CONTENT_ENCODING)
        {
            return None;
        }
        let html = axum::body::to_bytes(response.into_body(), MAX_PAGE_BYTES)
            .await
            .ok()?;
        let html = String::from_utf8(html.to_vec()).ok()?;
        let template = match PersonalTemplate::new(html, &self.placeholders, &nonce) {
            Ok(template) => Arc::new(template),
            Err(err) => {
                tracing::warn!(%err, "an item page cannot be a personal template; rendered for each visitor");
                return None;
            }
        };
        if self.backends.kept_items.unchanged_since(render_start) && self.is_keeping() {
            self.personal.insert(item_id, Arc::clone(&template));
        }
        Some(template)
    }
}
