//! A form's error, carried back to its page after a post without JavaScript.
//!
//! Without JavaScript a form is a plain post to its server function, which answers with a
//! redirect back to the page. Leptos would put the error into that address (`__err`), where
//! anyone could write a sentence of their own and send the link around; the gateway strips
//! those parameters (`server::edge`). Instead the error travels in a short-lived HttpOnly
//! cookie only this site sets, and the page that reads it clears it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{ACCEPT, SET_COOKIE};
use http::{HeaderValue, Method};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use super::Backends;
use crate::error::{AppError, SentBack};

/// The longest cookie value written; a longer error keeps its plain answer instead.
const MAX_COOKIE_BYTES: usize = 3_000;

/// The item a server function acts on ("Save", "Upload picture", a cart line…), so that its
/// error is shown beside that item's form only. Set by the server function.
#[derive(Debug, Clone)]
struct FormItem(String);

/// Says which item the server function being served acts on (see [`FormItem`]).
pub fn form_is_about(item_id: &wire::ItemId) {
    provide_context(FormItem(item_id.as_str().to_owned()));
}

/// Whether the request being served is a form posted without JavaScript: a POST to a server
/// function from a browser that asks for a page back (a fetch by the app asks for JSON).
pub fn is_plain_form_post() -> bool {
    with_context::<http::request::Parts, _>(|parts| {
        parts.method == Method::POST
            && parts.uri.path().starts_with("/api/")
            && parts
                .headers
                .get(ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
    })
    .unwrap_or(false)
}

/// Sends `error` back to the page of the form being served, in the cookie. False when it
/// could not be (no request, or an error too long for a cookie): the caller then answers
/// with the error itself.
pub fn send_back(error: &AppError) -> bool {
    let (Some(backends), Some(response)) =
        (use_context::<Backends>(), use_context::<ResponseOptions>())
    else {
        return false;
    };
    let Some(path) = with_context::<http::request::Parts, _>(|parts| parts.uri.path().to_owned())
    else {
        return false;
    };
    let sent = SentBack {
        path,
        item: use_context::<FormItem>().map(|FormItem(item)| item),
        error: error.clone(),
    };
    let Ok(json) = serde_json::to_vec(&sent) else {
        return false;
    };
    let value = URL_SAFE_NO_PAD.encode(json);
    if value.len() > MAX_COOKIE_BYTES {
        return false;
    }
    match HeaderValue::from_str(&backends.cookie.set_form_error(Some(&value))) {
        Ok(cookie) => {
            response.append_header(SET_COOKIE, cookie);
            true
        }
        Err(_) => false,
    }
}

/// The error sent back to this page, if the request carries one, and clears the cookie: it
/// is shown once. Anything that does not decode is ignored.
pub fn take_sent_back() -> Option<SentBack> {
    let backends = use_context::<Backends>()?;
    let raw =
        with_context::<http::request::Parts, _>(|parts| backends.cookie.form_error(&parts.headers))
            .flatten()?;
    if let (Some(response), Ok(clear)) = (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(&backends.cookie.set_form_error(None)),
    ) {
        response.append_header(SET_COOKIE, clear);
    }
    let json = URL_SAFE_NO_PAD.decode(raw.as_bytes()).ok()?;
    serde_json::from_slice(&json).ok()
}
