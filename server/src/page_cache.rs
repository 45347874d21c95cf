//! The catalog and item pages as anonymous visitors see them, kept rendered in this gateway
//! copy, so that browsing costs no render and no service call.
//!
//! A page is kept only while this copy is subscribed to
//! [`wire::redis_channels::INVENTORY_CHANGES`]: the inventory service announces there every
//! item it changed (listed, edited, bought, released) after the change is stored, and every
//! copy drops those items' pages and all catalog pages. While Redis is away nothing is kept or
//! served from here (a lost announcement could otherwise leave a stale page), and everything
//! kept is dropped when the subscription comes back.
//!
//! Signed-in visitors (a session cookie) and guests with a cart (a cart cookie) never get a
//! kept page: their header and forms are their own. A signed-in visitor's item page is filled
//! in from a template instead ([`personal`]). Kept pages carry a Content-Security-Policy that
//! allows their inline scripts by hash, since a nonce shared by every visitor would be no
//! nonce: only the scripts that carry the nonce of the render that made the page, which only
//! the app's own scripts do (the nonce is random per render, so text a person typed before the
//! render cannot carry it). Hashing every inline script would allow one that came in through
//! user text, exactly the script the policy is there to stop.

mod personal;

pub use personal::{SendUncompressed, serve_personal_pages};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use app::ssr::{Backends, PersonalTemplate, Placeholders, ShownItems};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, SET_COOKIE, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use common::metrics::RequestMetrics;
use fred::prelude::{Client, ClientLike, EventInterface, PubsubInterface};
use tokio::sync::broadcast::error::RecvError;
use wire::ItemId;
use wire::events::InventoryChanged;
use wire::redis_channels::{self, EVERY_USER, INVENTORY_CHANGES};

use crate::edge::{CspNonce, Edge};

/// The most a copy keeps, in bytes of HTML (compressed copies are made on demand and not
/// counted): every distinct search and page of the catalog is a page of its own.
const MAX_KEPT_BYTES: u64 = 64 * 1024 * 1024;

/// The largest page this copy keeps; a larger one is served and forgotten.
const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// The longest a page is kept. Announcements normally drop it long before; this bounds how
/// long one lost while only the inventory's link to Redis was down could leave it stale.
const LONGEST_KEPT: std::time::Duration = std::time::Duration::from_secs(60);

/// Header that says whether a page came from here (`hit`) or was rendered (`miss`), for
/// operators and tests.
pub const PAGE_CACHE_HEADER: &str = "x-page-cache";

/// The rendered pages of one gateway copy: anonymous pages whole, signed-in item pages as
/// templates, and the visitors those are filled in for.
pub struct PageCache {
    /// Catalog pages, by query string (page and search).
    catalog: moka::sync::Cache<String, Arc<KeptPage>>,
    /// Item pages, by item.
    items: moka::sync::Cache<ItemId, Arc<KeptPage>>,
    /// Signed-in visitors' item pages, rendered for [`PersonalTemplate`]'s made-up visitor.
    personal: moka::sync::Cache<ItemId, Arc<PersonalTemplate>>,
    /// The made-up visitor those are rendered for.
    placeholders: Arc<Placeholders>,
    /// The signed-in visitors this copy served lately.
    visitors: personal::Visitors,
    redis: Client,
    edge: Arc<Edge>,
    /// The services (for a visitor's user and cart), the session cookie, and the item data
    /// signed-in pages are rendered from (`kept_items`: told of the same changes; it also
    /// counts the changes heard, so that a page whose render began before one is not kept,
    /// and knows whether this copy is subscribed: only then are pages kept and served).
    backends: Backends,
    /// Changes heard of which items the catalog lists (and drops of everything): a catalog
    /// page whose render began before one is not kept. Item pages go by `kept_items`' count of
    /// every change, which under steady sales would seldom let a catalog page be kept.
    catalog_changes: AtomicU64,
    /// Changes heard of what items' cards say: a catalog page whose render began before one
    /// is not kept if it shows one of those items.
    card_changes: CardChanges,
    /// `page_cache_lookups_total` by result, each looked up once: finding a counter by name
    /// and labels for every request showed in the profile. Made at the first request, when
    /// the metrics recorder is installed.
    hits: OnceLock<metrics::Counter>,
    misses: OnceLock<metrics::Counter>,
    /// `http_requests_total` and its duration for the pages answered from here, which no
    /// route counts: by route (catalog, item) and status (200, 304).
    answered: [[OnceLock<RequestMetrics>; 2]; 2],
}

/// One rendered page, and its compressed copies made the first time a browser asks.
struct KeptPage {
    html: Bytes,
    brotli: OnceLock<Bytes>,
    gzip: OnceLock<Bytes>,
    /// The page's inline scripts allowed by hash.
    content_security_policy: HeaderValue,
    etag: HeaderValue,
    /// The items a catalog page shows (none noted for an item page).
    shows: Vec<ItemId>,
}

/// The card changes heard lately (see [`PageCache::card_changes`]), numbered in the order
/// heard.
#[derive(Default)]
struct CardChanges {
    /// The latest [`REMEMBERED_CARD_CHANGES`], each with its number.
    heard: std::sync::Mutex<std::collections::VecDeque<(u64, Vec<ItemId>)>>,
    /// How many were heard.
    count: AtomicU64,
}

/// How often the signed-in visitors' cache applies the forgetting it was told of.
const TIDY_VISITORS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// How many card changes a copy remembers for renders under way; a render that began before
/// the oldest of them is not kept.
const REMEMBERED_CARD_CHANGES: usize = 1024;

impl CardChanges {
    /// How many were heard so far: where a render's look at them begins.
    fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    fn heard(&self, item_ids: &[ItemId]) {
        let Ok(mut heard) = self.heard.lock() else {
            return;
        };
        let number = self.count.fetch_add(1, Ordering::SeqCst);
        heard.push_back((number, item_ids.to_vec()));
        if heard.len() > REMEMBERED_CARD_CHANGES {
            heard.pop_front();
        }
    }

    /// Whether a change heard since `start` (see [`Self::count`]) touched any of `shown`;
    /// also when some of those changes are no longer remembered.
    fn any_since(&self, start: u64, shown: &[ItemId]) -> bool {
        let Ok(heard) = self.heard.lock() else {
            return true;
        };
        if self.count.load(Ordering::SeqCst) == start {
            return false;
        }
        match heard.front() {
            Some((oldest, _)) if *oldest <= start => heard
                .iter()
                .filter(|(number, _)| *number >= start)
                .any(|(_, ids)| ids.iter().any(|id| shown.contains(id))),
            _ => true,
        }
    }
}

/// Which kept page a request asks for.
enum PageKey {
    Catalog(String),
    Item(ItemId),
}

impl PageKey {
    /// The route template that renders it.
    fn route(&self) -> &'static str {
        match self {
            Self::Catalog(_) => "/",
            Self::Item(_) => "/items",
        }
    }
}

impl PageCache {
    /// An empty cache that keeps pages once [`PageCache::listen`] has subscribed on `redis`.
    /// The item data `backends` keeps hears of every change too.
    pub fn new(redis: Client, edge: Arc<Edge>, backends: Backends) -> Arc<Self> {
        fn weigh<K>(_: &K, page: &Arc<KeptPage>) -> u32 {
            u32::try_from(page.html.len()).unwrap_or(u32::MAX)
        }
        Arc::new(Self {
            catalog: moka::sync::Cache::builder()
                .weigher(weigh)
                .max_capacity(MAX_KEPT_BYTES / 4)
                .time_to_live(LONGEST_KEPT)
                .build(),
            items: moka::sync::Cache::builder()
                .weigher(weigh)
                .max_capacity(MAX_KEPT_BYTES)
                .time_to_live(LONGEST_KEPT)
                .build(),
            personal: moka::sync::Cache::builder()
                .weigher(|_, template: &Arc<PersonalTemplate>| {
                    u32::try_from(template.len()).unwrap_or(u32::MAX)
                })
                .max_capacity(MAX_KEPT_BYTES)
                .time_to_live(LONGEST_KEPT)
                .build(),
            placeholders: Placeholders::new(),
            visitors: personal::Visitors::new(),
            redis,
            edge,
            backends,
            catalog_changes: AtomicU64::new(0),
            card_changes: CardChanges::default(),
            hits: OnceLock::new(),
            misses: OnceLock::new(),
            answered: Default::default(),
        })
    }

    /// Follows the inventory's announcements for as long as the process runs: subscribes
    /// (again after every reconnection, dropping everything kept) and drops the pages of
    /// every changed item.
    pub fn listen(self: &Arc<Self>) {
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            let mut messages = cache.redis.message_rx();
            let mut reconnects = cache.redis.reconnect_rx();
            let mut errors = cache.redis.error_rx();
            let mut tidy = tokio::time::interval(TIDY_VISITORS_EVERY);
            loop {
                cache.subscribe().await;
                // Until the connection is lost or made again: a new connection has no
                // subscription, and what was announced meanwhile is gone.
                let reason = loop {
                    tokio::select! {
                        message = messages.recv() => match message {
                            Ok(message) if message.channel == INVENTORY_CHANGES => {
                                cache.heard(message.value.as_str().as_deref());
                            }
                            Ok(message) => {
                                if let Some(user_id) = redis_channels::user_of(&message.channel) {
                                    cache
                                        .visitors
                                        .heard(user_id, message.value.as_str().as_deref());
                                }
                            }
                            Err(RecvError::Lagged(_)) => cache.forget_everything(),
                            Err(RecvError::Closed) => return,
                        },
                        reconnect = reconnects.recv() => match reconnect {
                            Ok(_) | Err(RecvError::Lagged(_)) => break "connected to Redis again",
                            Err(RecvError::Closed) => return,
                        },
                        error = errors.recv() => match error {
                            Ok(_) | Err(RecvError::Lagged(_)) => break "a Redis connection error",
                            Err(RecvError::Closed) => return,
                        },
                        _ = tidy.tick() => cache.visitors.tidy(),
                    }
                };
                cache.stop_keeping(reason);
            }
        });
    }

    /// Subscribes, retrying until Redis answers; pages are kept from then on.
    async fn subscribe(&self) {
        loop {
            if self.redis.wait_for_connect().await.is_ok()
                && self.redis.subscribe(INVENTORY_CHANGES).await.is_ok()
                && self.redis.psubscribe(EVERY_USER).await.is_ok()
            {
                self.forget_everything();
                self.backends.kept_items.set_keeping(true);
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Stops keeping pages and drops those kept, until [`PageCache::subscribe`] succeeds.
    fn stop_keeping(&self, reason: &str) {
        self.backends.kept_items.set_keeping(false);
        self.forget_everything();
        tracing::info!(
            reason,
            "subscribing to inventory changes again; kept pages dropped"
        );
    }

    fn forget_everything(&self) {
        // Counted first (by the item memory, and for the catalog), so that a render already
        // under way is not kept after the drop.
        self.backends.kept_items.forget_everything();
        self.catalog_changes.fetch_add(1, Ordering::SeqCst);
        self.catalog.invalidate_all();
        self.items.invalidate_all();
        self.personal.invalidate_all();
        self.visitors.forget_everyone();
    }

    /// An announcement: those items' pages are stale, and every catalog page too when a
    /// card changed (most sales change none).
    fn heard(&self, payload: Option<&str>) {
        match payload.map(serde_json::from_str::<InventoryChanged>) {
            Some(Ok(change)) => {
                // Counted first (by the item memory), so that a render already under way is
                // not kept after the drop.
                self.backends.kept_items.forget(&change.item_ids);
                for item_id in &change.item_ids {
                    self.items.invalidate(item_id);
                    self.personal.invalidate(item_id);
                }
                if change.catalog_membership_changed {
                    self.catalog_changes.fetch_add(1, Ordering::SeqCst);
                    self.catalog.invalidate_all();
                } else if change.cards_changed {
                    // Only the pages that show them: noted first, so that a render under way
                    // that shows one is not kept either.
                    self.card_changes.heard(&change.item_ids);
                    self.forget_catalog_pages_showing(&change.item_ids);
                }
                self.visitors.forget_carts_with(&change.item_ids);
            }
            _ => {
                tracing::warn!("an inventory change that does not decode: dropping every page");
                self.forget_everything();
            }
        }
    }

    /// Drops the kept catalog pages that show any of `item_ids`.
    fn forget_catalog_pages_showing(&self, item_ids: &[ItemId]) {
        for (query, page) in self.catalog.iter() {
            if page.shows.iter().any(|shown| item_ids.contains(shown)) {
                self.catalog.invalidate(query.as_ref());
            }
        }
    }

    fn is_keeping(&self) -> bool {
        self.backends.kept_items.is_keeping() && self.redis.is_connected()
    }

    /// The kept page a request could be answered with: a GET of the catalog or of an item
    /// page, from a visitor who is not signed in, has no cart (whose header counts it) and
    /// brings no form error back.
    fn key_of(&self, request: &Request) -> Option<PageKey> {
        if request.method() != Method::GET
            || self.backends.cookie.session_id(request.headers()).is_some()
            || self.backends.cookie.guest_cart(request.headers()).is_some()
            || self.backends.cookie.form_error(request.headers()).is_some()
        {
            return None;
        }
        match request.uri().path() {
            "/" => Some(PageKey::Catalog(
                request.uri().query().unwrap_or_default().to_owned(),
            )),
            _ => item_page_of(request.uri()).map(PageKey::Item),
        }
    }

    /// The request metrics of a kept page answered with `status` (200 or 304).
    fn request_metrics(&self, key: &PageKey, status: StatusCode) -> &RequestMetrics {
        let route = match key {
            PageKey::Catalog(_) => 0,
            PageKey::Item(_) => 1,
        };
        let unchanged = usize::from(status == StatusCode::NOT_MODIFIED);
        self.answered[route][unchanged].get_or_init(|| {
            RequestMetrics::new(crate::SERVICE, key.route().to_owned(), &Method::GET, status)
        })
    }

    fn get(&self, key: &PageKey) -> Option<Arc<KeptPage>> {
        match key {
            PageKey::Catalog(query) => self.catalog.get(query),
            PageKey::Item(id) => self.items.get(id),
        }
    }

    fn keep(&self, key: PageKey, page: Arc<KeptPage>) {
        match key {
            PageKey::Catalog(query) => self.catalog.insert(query, page),
            PageKey::Item(id) => self.items.insert(id, page),
        }
    }
}

/// Answers anonymous catalog and item pages from the cache, renders and keeps them on a miss,
/// and passes every other request on untouched. It runs before routing
/// (`common::Service::before_routing`), so that a kept page costs no route's stack of layers.
pub async fn serve_kept_pages(
    State(cache): State<Arc<PageCache>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(key) = cache.key_of(&request).filter(|_| cache.is_keeping()) else {
        return next.run(request).await;
    };
    let started = std::time::Instant::now();
    let encoding = Encoding::preferred(request.headers());
    let revalidating = request.headers().get(IF_NONE_MATCH).cloned();
    if let Some(page) = cache.get(&key) {
        cache
            .hits
            .get_or_init(|| metrics::counter!("page_cache_lookups_total", "result" => "hit"))
            .increment(1);
        let response = page.answer(encoding, revalidating.as_ref(), "hit");
        // Answered before routing: counted here as the route would have counted it.
        cache
            .request_metrics(&key, response.status())
            .record(started);
        return response;
    }
    cache
        .misses
        .get_or_init(|| metrics::counter!("page_cache_lookups_total", "result" => "miss"))
        .increment(1);

    // The render's own nonce: only the scripts that carry it are the app's.
    let Some(CspNonce(nonce)) = request.extensions().get::<CspNonce>().cloned() else {
        return next.run(request).await;
    };
    let render_start = cache.backends.kept_items.read_start();
    let catalog_start = cache.catalog_changes.load(Ordering::SeqCst);
    let cards_start = cache.card_changes.count();
    let shown = ShownItems::default();
    if matches!(key, PageKey::Catalog(_)) {
        request.extensions_mut().insert(shown.clone());
    }
    // Rendered uncompressed: each compressed copy is made once, from the kept page.
    request.headers_mut().remove(ACCEPT_ENCODING);
    let response = next.run(request).await;
    let keepable = response.status() == StatusCode::OK
        && !response.headers().contains_key(SET_COOKIE)
        && !response.headers().contains_key(CONTENT_ENCODING)
        && response
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if !keepable {
        return response;
    }
    let (parts, body) = response.into_parts();
    // The render is already whole in memory (every page waits for its data), so reading it
    // fails only if rendering itself did.
    let html = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(html) => html,
        Err(err) => {
            tracing::error!(%err, "a page failed while it was rendered");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "This page could not be shown. Please try again in a moment.",
            )
                .into_response();
        }
    };
    if html.len() > MAX_PAGE_BYTES {
        return Response::from_parts(parts, Body::from(html));
    }
    let shows = shown.items();
    let Some(page) = KeptPage::new(html.clone(), &cache.edge, &nonce, shows) else {
        // Not valid UTF-8 or a policy that is not a header: serve it as rendered.
        return Response::from_parts(parts, Body::from(html));
    };
    let page = Arc::new(page);
    // Kept only if no change was heard while it rendered (it may show the older state), and
    // only while still subscribed.
    let unchanged = |cache: &PageCache| match &key {
        PageKey::Catalog(_) => {
            cache.catalog_changes.load(Ordering::SeqCst) == catalog_start
                && !cache.card_changes.any_since(cards_start, &page.shows)
        }
        PageKey::Item(_) => cache.backends.kept_items.unchanged_since(render_start),
    };
    if unchanged(&cache) && cache.is_keeping() {
        let catalog = matches!(key, PageKey::Catalog(_));
        cache.keep(key, Arc::clone(&page));
        // A card change heard between the look above and the keeping: its drop may have
        // come before the page was kept.
        if catalog && cache.card_changes.any_since(cards_start, &page.shows) {
            cache.forget_catalog_pages_showing(&page.shows);
        }
    }
    page.answer(encoding, revalidating.as_ref(), "miss")
}

/// The item an item page's address names, when it is written as the app writes it
/// (`/items?itemId=` and the id's 24 lower-case hexadecimal digits, nothing else).
fn item_page_of(uri: &axum::http::Uri) -> Option<ItemId> {
    if uri.path() != "/items" {
        return None;
    }
    let id = uri.query()?.strip_prefix("itemId=")?;
    ItemId::parse(id).ok().filter(|parsed| parsed == id)
}

impl KeptPage {
    /// A page rendered with `nonce`: its policy allows the inline scripts that carry it.
    fn new(html: Bytes, edge: &Edge, nonce: &str, shows: Vec<ItemId>) -> Option<Self> {
        use base64::Engine;
        use sha2::{Digest, Sha256};
        let text = std::str::from_utf8(&html).ok()?;
        let hashes: Vec<String> = scripts_with_nonce(text, nonce)
            .map(|script| {
                let digest = Sha256::digest(script.as_bytes());
                format!(
                    "'sha256-{}'",
                    base64::engine::general_purpose::STANDARD.encode(digest)
                )
            })
            .collect();
        let policy = edge.content_security_policy(&hashes.join(" "));
        let digest = Sha256::digest(&html);
        let etag = format!(
            "\"{}\"",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
        );
        Some(Self {
            content_security_policy: HeaderValue::from_str(&policy).ok()?,
            etag: HeaderValue::from_str(&etag).ok()?,
            html,
            brotli: OnceLock::new(),
            gzip: OnceLock::new(),
            shows,
        })
    }

    fn answer(
        &self,
        encoding: Encoding,
        if_none_match: Option<&HeaderValue>,
        how: &'static str,
    ) -> Response {
        let unchanged = if_none_match.is_some_and(|tags| {
            tags.to_str()
                .is_ok_and(|tags| tags.split(',').any(|tag| tag.trim() == self.etag))
        });
        let mut response = if unchanged {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let body = match encoding {
                Encoding::Brotli => self.brotli.get_or_init(|| brotli(&self.html)).clone(),
                Encoding::Gzip => self.gzip.get_or_init(|| gzip(&self.html)).clone(),
                Encoding::Identity => self.html.clone(),
            };
            let mut response = Response::new(Body::from(body));
            if let Some(name) = encoding.name() {
                response
                    .headers_mut()
                    .insert(CONTENT_ENCODING, HeaderValue::from_static(name));
            }
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        };
        let headers = response.headers_mut();
        headers.insert(ETAG, self.etag.clone());
        headers.insert(
            CONTENT_SECURITY_POLICY,
            self.content_security_policy.clone(),
        );
        // Browsers and proxies may keep it, but ask each time whether it is still current:
        // the answer is a 304 when it is.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(VARY, HeaderValue::from_static("accept-encoding, cookie"));
        headers.insert(PAGE_CACHE_HEADER, HeaderValue::from_static(how));
        response
    }
}

/// The contents of the inline `<script>` elements of a page rendered by this app that carry
/// `nonce` (Leptos puts the render's nonce on every script it writes; the page's scripts
/// never contain `</script>`: Leptos escapes what it serialises into them). A script without
/// the nonce, or with another one, is not the app's and is left out.
fn scripts_with_nonce<'a>(html: &'a str, nonce: &str) -> impl Iterator<Item = &'a str> {
    let mark = format!(" nonce=\"{nonce}\"");
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find("<script")?;
            let tag_end = start + rest[start..].find('>')?;
            let body_start = tag_end + 1;
            let body_end = body_start + rest[body_start..].find("</script>")?;
            let tag = &rest[start..tag_end];
            let body = &rest[body_start..body_end];
            rest = &rest[body_end..];
            if !tag.contains(" src=") && !nonce.is_empty() && tag.contains(&mark) {
                return Some(body);
            }
        }
    })
}

/// The content coding a kept page is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    /// Brotli if the client takes it, else gzip, else none (`q=0` refuses a coding).
    fn preferred(headers: &HeaderMap) -> Self {
        let mut takes_brotli = false;
        let mut takes_gzip = false;
        for value in headers.get_all(ACCEPT_ENCODING) {
            let Ok(value) = value.to_str() else { continue };
            for coding in value.split(',') {
                let mut parts = coding.split(';');
                let name = parts.next().unwrap_or_default().trim();
                let refused = parts.any(|param| {
                    param
                        .trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                if refused {
                    continue;
                }
                takes_brotli |= name.eq_ignore_ascii_case("br");
                takes_gzip |= name.eq_ignore_ascii_case("gzip");
            }
        }
        if takes_brotli {
            Self::Brotli
        } else if takes_gzip {
            Self::Gzip
        } else {
            Self::Identity
        }
    }

    fn name(self) -> Option<&'static str> {
        match self {
            Self::Brotli => Some("br"),
            Self::Gzip => Some("gzip"),
            Self::Identity => None,
        }
    }
}

/// Made once per kept page, so it can afford a high quality.
fn brotli(html: &[u8]) -> Bytes {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 9,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(html.len() / 4);
    match brotli::BrotliCompress(&mut &html[..], &mut out, &params) {
        Ok(_) => out.into(),
        Err(_) => Bytes::new(),
    }
}

fn gzip(html: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(html.len() / 4),
        flate2::Compression::best(),
    );
    match encoder.write_all(html).and_then(|()| encoder.finish()) {
        Ok(out) => out.into(),
        Err(_) => Bytes::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, value.parse().expect("a header value"));
        headers
    }

    #[test]
    fn the_best_coding_the_client_takes_is_chosen() {
        assert_eq!(
            Encoding::preferred(&accepting("gzip, deflate, br, zstd")),
            Encoding::Brotli
        );
        assert_eq!(
            Encoding::preferred(&accepting("gzip, br;q=0")),
            Encoding::Gzip
        );
        assert_eq!(
            Encoding::preferred(&accepting("identity")),
            Encoding::Identity
        );
        assert_eq!(Encoding::preferred(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn only_inline_scripts_with_the_renders_nonce_are_hashed() {
        let html = r#"<head><script type="module" nonce="n0nce">import('/pkg/a.js')</script><script src="/x.js" nonce="n0nce"></script></head><body><script>alert(1)</script><script nonce="guess">alert(2)</script><script nonce="n0nce">window.x=1</script></body>"#;
        let scripts: Vec<&str> = scripts_with_nonce(html, "n0nce").collect();
        assert_eq!(scripts, ["import('/pkg/a.js')", "window.x=1"]);
        assert_eq!(scripts_with_nonce(html, "").count(), 0);
    }

    #[test]
    fn a_render_is_kept_unless_a_card_it_shows_changed_meanwhile() {
        let lamp: ItemId = "665f1c2e9b1d8a0012345678".parse().expect("an id");
        let vase: ItemId = "665f1c2e9b1d8a0012345679".parse().expect("an id");
        let changes = CardChanges::default();
        let start = changes.count();
        assert!(!changes.any_since(start, std::slice::from_ref(&lamp)));
        changes.heard(std::slice::from_ref(&vase));
        assert!(!changes.any_since(start, std::slice::from_ref(&lamp)));
        assert!(changes.any_since(start, std::slice::from_ref(&vase)));
        // A render that began after the change does not care about it.
        assert!(!changes.any_since(changes.count(), std::slice::from_ref(&vase)));
        // One that began before changes it no longer remembers is not kept.
        for _ in 0..REMEMBERED_CARD_CHANGES {
            changes.heard(std::slice::from_ref(&vase));
        }
        assert!(changes.any_since(start, std::slice::from_ref(&lamp)));
    }

    #[test]
    fn compressed_copies_decode_to_the_page() {
        use std::io::Read;
        let html = "<p>lamp</p>".repeat(100);
        let mut unbrotli = String::new();
        brotli::Decompressor::new(&brotli(html.as_bytes())[..], 4096)
            .read_to_string(&mut unbrotli)
            .expect("brotli");
        assert_eq!(unbrotli, html);
        let mut ungzip = String::new();
        flate2::read::GzDecoder::new(&gzip(html.as_bytes())[..])
            .read_to_string(&mut ungzip)
            .expect("gzip");
        assert_eq!(ungzip, html);
    }
}
