//! What the gateway does to every request before a page or server function sees it, and to
//! every response on its way out: it works out the client's address, refuses state-changing
//! requests from other sites (CSRF), and adds the security headers.

use std::net::SocketAddr;
use std::sync::Arc;

use app::ssr::{Backends, SessionCookie};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, ORIGIN,
    REFERER, REFERRER_POLICY, RETRY_AFTER, SET_COOKIE, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use common::client::{ClientAddress, TrustedProxies};

/// The per-response nonce that lets the page's own inline scripts (Leptos's hydration
/// script) run under the Content-Security-Policy, and nothing else inline.
#[derive(Debug, Clone)]
pub struct CspNonce(pub Arc<str>);

/// What the edge needs to know about the site.
#[derive(Debug, Clone)]
pub struct Edge {
    /// `scheme://host[:port]` of `PUBLIC_URL`, lower-cased: the only origin whose
    /// state-changing requests are accepted.
    origin: String,
    /// Served over https: HSTS, and the WebSocket is `wss:`.
    https: bool,
    trusted_proxies: TrustedProxies,
}

impl Edge {
    /// The edge of a site reached at `public_url`.
    pub fn new(public_url: &str, trusted_proxies: TrustedProxies) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(public_url)
            .map_err(|err| anyhow::anyhow!("PUBLIC_URL {public_url:?} is not a URL: {err}"))?;
        let origin = url.origin();
        if !origin.is_tuple() {
            anyhow::bail!("PUBLIC_URL {public_url:?} has no origin (scheme://host)");
        }
        Ok(Self {
            origin: origin.ascii_serialization().to_ascii_lowercase(),
            https: url.scheme() == "https",
            trusted_proxies,
        })
    }

    /// Whether a request came from a page of this site. Browsers send `Sec-Fetch-Site` (all
    /// current ones) and `Origin` (on every POST); `Referer` is the fallback for old ones. A
    /// request with none of them is not from a browser page of ours, and is refused too.
    fn is_same_origin(&self, headers: &HeaderMap) -> bool {
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        if header("sec-fetch-site").is_some_and(|site| site != "same-origin") {
            return false;
        }
        if let Some(origin) = header(ORIGIN.as_str()) {
            return origin
                .trim_end_matches('/')
                .eq_ignore_ascii_case(&self.origin);
        }
        match header(REFERER.as_str()).and_then(|r| reqwest::Url::parse(r).ok()) {
            Some(referer) => referer
                .origin()
                .ascii_serialization()
                .eq_ignore_ascii_case(&self.origin),
            None => false,
        }
    }

    /// The policy of a page whose inline scripts are allowed by `inline_scripts`: the page's
    /// nonce (`'nonce-…'`) or their hashes (`'sha256-…' …`).
    pub fn content_security_policy(&self, inline_scripts: &str) -> String {
        // The live socket is on this origin; older browsers do not count ws: as 'self'.
        let socket = if self.https {
            self.origin.replacen("https://", "wss://", 1)
        } else {
            self.origin.replacen("http://", "ws://", 1)
        };
        format!(
            "default-src 'self'; \
             script-src 'self' {inline_scripts} 'wasm-unsafe-eval'; \
             style-src 'self'; \
             img-src 'self' https: data:; \
             connect-src 'self' {socket}; \
             font-src 'self'; \
             object-src 'none'; \
             base-uri 'none'; \
             form-action 'self'; \
             frame-ancestors 'none'"
        )
    }
}

/// Puts the client's address ([`ClientAddress`]) into the request's extensions, reading
/// `X-Forwarded-For` only from `TRUSTED_PROXIES`.
pub async fn client_address(
    State(edge): State<Arc<Edge>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    if let Some(peer) = peer {
        let client = edge.trusted_proxies.client_of(peer, request.headers());
        request.extensions_mut().insert::<ClientAddress>(client);
    }
    next.run(request).await
}

/// Refuses, with 403, every request that could change something (anything but GET, HEAD and
/// OPTIONS: server functions, form posts, log in and log out) unless it comes from a page of
/// this site. Log-in CSRF included: another site cannot sign a visitor into its account.
pub async fn same_origin_only(
    State(edge): State<Arc<Edge>>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe || edge.is_same_origin(request.headers()) {
        return next.run(request).await;
    }
    tracing::warn!(
        method = %request.method(),
        path = request.uri().path(),
        origin = ?request.headers().get(ORIGIN),
        "refused a cross-site request"
    );
    (
        StatusCode::FORBIDDEN,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        "This request came from another site, so it was refused. Open the marketplace and try again from its own page.",
    )
        .into_response()
}

/// The largest request body the gateway reads, but for upload forms.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// The largest body of an upload form: a picture over the 5 MB bound still arrives whole,
/// so that the seller is told its size beside the field, not a bare 413.
pub const MAX_UPLOAD_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// Bounds every request body: [`MAX_UPLOAD_REQUEST_BYTES`] for the upload forms
/// (`app::api::UPLOAD_PATHS`), [`MAX_REQUEST_BYTES`] for everything else. A declared
/// length over the bound is refused (413) before anything is read; a body that grows past it
/// is cut off. An upload form must also come as `multipart/form-data` (415 otherwise): the
/// server function's reader assumes it does.
pub async fn limit_request_bodies(request: Request, next: Next) -> Response {
    let upload = app::api::UPLOAD_PATHS.contains(&request.uri().path());
    let limit = if upload {
        MAX_UPLOAD_REQUEST_BYTES
    } else {
        MAX_REQUEST_BYTES
    };
    let plain = |status: StatusCode, sentence: &'static str| {
        (
            status,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            sentence,
        )
            .into_response()
    };
    if upload && request.method() == Method::POST && !is_multipart_form(request.headers()) {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This form carries a picture: send it as multipart/form-data.",
        );
    }
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "This request is larger than any form of the site sends, so it was refused.",
        );
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::Body::new(http_body_util::Limited::new(body, limit));
    next.run(Request::from_parts(parts, body)).await
}

/// `multipart/form-data` with the boundary its parts are split on, read as the server
/// function's reader (multer) reads it.
fn is_multipart_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
                && multer::parse_boundary(ct).is_ok()
        })
}

/// Marks every answer rendered for one person `Cache-Control: private, no-store`: a page or
/// server function's answer to a request with a session, a guest cart or a form error in its
/// cookies, and any answer that sets a cookie. Such an answer names its visitor, their cart or
/// their error; no shared cache may keep it, nor the browser once they leave. Files (the
/// bundle, pictures) are the same for everyone and keep their own caching.
pub async fn private_answers(
    State(cookie): State<SessionCookie>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let personal = cookie.session_id(headers).is_some()
        || cookie.guest_cart(headers).is_some()
        || cookie.form_error(headers).is_some();
    let server_function = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let rendered = server_function
        || response
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if (personal && rendered) || response.headers().contains_key(SET_COOKIE) {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    }
    response
}

/// How many upload forms one gateway copy reads at once: each may hold up to
/// [`MAX_UPLOAD_REQUEST_BYTES`] in memory while it is read.
pub const UPLOADS_AT_ONCE: usize = 4;

/// What the gateway checks of an upload form before it reads a byte of its body: a live
/// session (an anonymous upload is refused at once, not after 8 MiB), and room among the
/// [`UPLOADS_AT_ONCE`] uploads this copy reads at a time (503 with `Retry-After` past it). The
/// same-origin rule runs before this ([`same_origin_only`]).
#[derive(Clone)]
pub struct Uploads {
    backends: Backends,
    reading: Arc<tokio::sync::Semaphore>,
}

impl Uploads {
    /// Upload admission for a gateway whose sessions `backends` looks up.
    pub fn new(backends: Backends) -> Arc<Self> {
        Arc::new(Self {
            backends,
            reading: Arc::new(tokio::sync::Semaphore::new(UPLOADS_AT_ONCE)),
        })
    }
}

/// See [`Uploads`]: every other request passes untouched.
pub async fn admit_uploads(
    State(uploads): State<Arc<Uploads>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || !app::api::UPLOAD_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let plain = |status: StatusCode, sentence: &'static str| {
        (
            status,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            sentence,
        )
            .into_response()
    };
    let Some(session_id) = uploads.backends.cookie.session_id(request.headers()) else {
        return plain(
            StatusCode::UNAUTHORIZED,
            "Please log in first: only a signed-in seller can upload a picture.",
        );
    };
    let context = clients::CallContext {
        request_id: request
            .headers()
            .get(common::serve::REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        client_address: request
            .extensions()
            .get::<ClientAddress>()
            .map(ToString::to_string),
    };
    match uploads
        .backends
        .user_of_session(&context, &session_id)
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => {
            return plain(
                StatusCode::UNAUTHORIZED,
                "Please log in again: your session has ended, so the picture was not read.",
            );
        }
        Err(err) => {
            tracing::warn!(%err, "an upload's session could not be checked");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(RETRY_AFTER, "5")],
                "The marketplace is having trouble right now; please try again shortly.",
            )
                .into_response();
        }
    }
    let Ok(_reading) = uploads.reading.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(RETRY_AFTER, "5")],
            "Many pictures are being uploaded right now; please try again in a few seconds.",
        )
            .into_response();
    };
    // Held until the answer is made: the body is read (and the picture stored) meanwhile.
    next.run(request).await
}

/// The query parameters in which Leptos carries a form's error back to its page (`__path`,
/// `__err`): anyone can write them into a link, so a page would show a stranger's sentence
/// as the site's own. The gateway takes them out of every request, and out of the redirect
/// after a form post; the error goes back in a cookie instead (`app::ssr::send_back`).
const ERROR_PARAMETERS: [&str; 2] = ["__path", "__err"];

/// `path_and_query` without [`ERROR_PARAMETERS`], or `None` when it has none of them. Each
/// key is compared as a form decoder reads it (Leptos decodes the query before it looks for
/// them), so `%5F%5Fpath`, `_%5Fpath` or `__pat%68` are taken out as `__path` is.
fn without_error_parameters(path_and_query: &str) -> Option<String> {
    let (path, query) = path_and_query.split_once('?')?;
    let is_error_parameter = |pair: &str| {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        url::form_urlencoded::parse(key.as_bytes())
            .next()
            .is_some_and(|(key, _)| ERROR_PARAMETERS.contains(&key.as_ref()))
    };
    if !query.split('&').any(is_error_parameter) {
        return None;
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !is_error_parameter(pair))
        .collect();
    Some(if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    })
}

/// Takes [`ERROR_PARAMETERS`] out of the request's address and out of a redirect's
/// `Location`.
pub async fn drop_error_parameters(mut request: Request, next: Next) -> Response {
    let cleaned = request
        .uri()
        .path_and_query()
        .and_then(|pq| without_error_parameters(pq.as_str()))
        .and_then(|pq| pq.parse::<axum::http::uri::PathAndQuery>().ok());
    if let Some(path_and_query) = cleaned {
        let mut parts = request.uri().clone().into_parts();
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    let mut response = next.run(request).await;
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(without_error_parameters)
        .and_then(|clean| HeaderValue::from_str(&clean).ok());
    if let Some(location) = location {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// A new random nonce (see [`CspNonce`]): 16 bytes, base64url.
pub fn fresh_nonce() -> Arc<str> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(rand::random::<[u8; 16]>())
        .into()
}

/// Makes a nonce for the page (see [`CspNonce`]) and adds the security headers to every
/// response: a Content-Security-Policy that runs only this site's scripts and styles (unless
/// the page brought its own, as kept pages do), no framing, no MIME sniffing, a strict
/// referrer policy, and HSTS over https.
pub async fn security_headers(
    State(edge): State<Arc<Edge>>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = fresh_nonce();
    request.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let has_policy = headers.contains_key(CONTENT_SECURITY_POLICY);
    let mut set = |name, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    if !has_policy {
        set(
            CONTENT_SECURITY_POLICY,
            &edge.content_security_policy(&format!("'nonce-{nonce}'")),
        );
    }
    set(X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(X_FRAME_OPTIONS, "DENY");
    set(REFERRER_POLICY, "strict-origin-when-cross-origin");
    if edge.https {
        set(
            STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_parameters_are_taken_out_and_nothing_else() {
        assert_eq!(
            without_error_parameters("/login?__path=%2Fapi%2Flog_in&__err=eyJ9"),
            Some("/login".to_owned())
        );
        assert_eq!(
            without_error_parameters("/?q=lamp&__err=x&page=2"),
            Some("/?q=lamp&page=2".to_owned())
        );
        assert_eq!(without_error_parameters("/?q=__err"), None);
        for spelling in ["%5F%5Fpath", "_%5fpath", "__pat%68", "%5F_err", "__er%72"] {
            assert_eq!(
                without_error_parameters(&format!("/login?{spelling}=x&q=1")),
                Some("/login?q=1".to_owned()),
                "{spelling}"
            );
        }
        assert_eq!(without_error_parameters("/?__paths=x"), None);
        assert_eq!(without_error_parameters("/seller"), None);
        assert_eq!(without_error_parameters("/items?itemId=abc"), None);
    }

    fn edge() -> Edge {
        Edge::new("https://shop.example/", TrustedProxies::default()).expect("valid")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().expect("a header value"));
        }
        headers
    }

    #[test]
    fn only_this_sites_pages_may_change_things() {
        let edge = edge();
        assert!(edge.is_same_origin(&headers(&[("origin", "https://shop.example")])));
        assert!(edge.is_same_origin(&headers(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://shop.example")
        ])));
        assert!(edge.is_same_origin(&headers(&[("referer", "https://shop.example/login")])));
        for refused in [
            headers(&[]),
            headers(&[("origin", "https://evil.example")]),
            headers(&[("origin", "http://shop.example")]),
            headers(&[("origin", "https://shop.example.evil.example")]),
            headers(&[("origin", "null")]),
            headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://shop.example"),
            ]),
            headers(&[("sec-fetch-site", "same-site")]),
            headers(&[("referer", "https://evil.example/?https://shop.example")]),
        ] {
            assert!(!edge.is_same_origin(&refused), "{refused:?}");
        }
    }

    #[test]
    fn the_policy_allows_the_nonce_and_the_socket_only() {
        let policy = edge().content_security_policy("'nonce-abc'");
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'"));
        assert!(policy.contains("connect-src 'self' wss://shop.example"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("unsafe-inline"));
    }
}
