//! The session cookie: its name, the `Set-Cookie` that starts or ends it, and reading it
//! back. Only the gateway sees it; the services get a signed identity instead.

use http::HeaderMap;
use http::header::COOKIE;

/// How this gateway writes its session cookie: `__Host-session` and `Secure` when served
/// over https, plain `session` on http (local runs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCookie {
    secure: bool,
}

impl SessionCookie {
    /// The cookie for a site served over https (`secure`) or plain http.
    pub fn new(secure: bool) -> Self {
        Self { secure }
    }

    /// The cookie's name.
    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-session"
        } else {
            "session"
        }
    }

    /// The `Set-Cookie` value that stores `session_id`, or (with `None`) removes the cookie.
    /// HttpOnly and SameSite=Lax always; Secure over https.
    pub fn set_cookie(&self, session_id: Option<&str>) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        match session_id {
            Some(id) => format!(
                "{}={id}; Path=/; HttpOnly; SameSite=Lax{secure}",
                self.name()
            ),
            None => format!(
                "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
                self.name()
            ),
        }
    }

    /// The session id in the request's `Cookie` headers, if any.
    pub fn session_id(&self, headers: &HeaderMap) -> Option<String> {
        cookie_value(headers, self.name())
    }

    /// The guest cart cookie's name: a browser that is not signed in keeps its cart's id
    /// there (see `wire::cart`).
    pub fn guest_cart_name(&self) -> &'static str {
        if self.secure { "__Host-cart" } else { "cart" }
    }

    /// The `Set-Cookie` value that keeps a guest cart's id for 7 days (its life in Redis),
    /// or (with `None`) removes it.
    pub fn set_guest_cart(&self, cart: Option<&wire::cart::GuestCartId>) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        let name = self.guest_cart_name();
        match cart {
            Some(id) => {
                format!("{name}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=604800{secure}")
            }
            None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
        }
    }

    /// The name of the cookie that carries a form's error back to its page after a post
    /// without JavaScript (see `crate::ssr::sent_back`).
    pub fn form_error_name(&self) -> &'static str {
        if self.secure {
            "__Host-form-error"
        } else {
            "form-error"
        }
    }

    /// The `Set-Cookie` value that carries `value` for a minute (the redirect back reads it
    /// at once), or (with `None`) removes it.
    pub fn set_form_error(&self, value: Option<&str>) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        let name = self.form_error_name();
        match value {
            Some(value) => {
                format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60{secure}")
            }
            None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
        }
    }

    /// The form error the request's cookie carries, as it was written, if any.
    pub fn form_error(&self, headers: &HeaderMap) -> Option<String> {
        cookie_value(headers, self.form_error_name())
    }

    /// The guest cart named by the request's cookie, if it holds a well-formed id.
    pub fn guest_cart(&self, headers: &HeaderMap) -> Option<wire::cart::GuestCartId> {
        cookie_value(headers, self.guest_cart_name())
            .and_then(|raw| wire::cart::GuestCartId::parse(&raw).ok())
    }
}

/// The value of the cookie `name` in the request's `Cookie` headers, if set.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|header| {
            header.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                (key == name && !value.is_empty()).then(|| value.to_owned())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_read_back_by_its_own_name_only() {
        let cookie = SessionCookie::new(true);
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            "session=plain; __Host-session=abc".parse().expect("header"),
        );
        assert_eq!(cookie.session_id(&headers).as_deref(), Some("abc"));
        assert_eq!(
            SessionCookie::new(false).session_id(&headers).as_deref(),
            Some("plain")
        );
        assert!(
            cookie
                .set_cookie(Some("abc"))
                .contains("HttpOnly; SameSite=Lax; Secure")
        );
        assert!(cookie.set_cookie(None).contains("Max-Age=0"));
    }
}
