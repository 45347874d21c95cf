//! The error every server function returns: a sentence for a person, and the form field it
//! belongs next to when there is one.

use leptos::server_fn::Bytes;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What a page says where it would say who is signed in, when the services cannot tell right
/// now (the session store is away, loading or full): never "Log in", which would tell a
/// signed-in user they were signed out.
pub const CANNOT_TELL_WHO: &str =
    "We cannot tell right now whether you are signed in; please try again in a moment.";

/// What went wrong, for a person, and (on the gateway) the HTTP status to answer with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    /// A sentence a person can read.
    pub message: String,
    /// The form field it belongs next to, when one.
    pub field: Option<String>,
    /// The status the gateway answers with; the browser never needs it (not sent).
    #[serde(skip, default = "bad_request")]
    pub status: u16,
    /// `Retry-After` in seconds, for 429 and 503 (not sent).
    #[serde(skip)]
    pub retry_after: Option<String>,
}

fn bad_request() -> u16 {
    400
}

/// What a person is told when a service fails or cannot be reached.
pub const UNAVAILABLE: &str =
    "The marketplace is having trouble right now; please try again shortly.";

impl AppError {
    /// An error about the request as a whole (400 unless [`Self::with_status`] says else).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field: None,
            status: bad_request(),
            retry_after: None,
        }
    }

    /// An error about one form field: 422.
    pub fn for_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            status: 422,
            ..Self::new(message)
        }
    }

    /// A service failed or cannot be reached: 503 with `Retry-After`, and one plain sentence.
    pub fn unavailable() -> Self {
        Self {
            status: 503,
            retry_after: Some("5".to_owned()),
            ..Self::new(UNAVAILABLE)
        }
    }

    /// The same error, answered with `status`.
    #[cfg(feature = "ssr")]
    pub fn with_status(mut self, status: http::StatusCode) -> Self {
        self.status = status.as_u16();
        self
    }

    /// The one place an error sets the response's status (and `Retry-After`): called when
    /// a server function answers with it (`ser`) and when a page shows it (`ErrorMessage`).
    /// A form posted without JavaScript is instead sent back to its page with the error
    /// (`crate::ssr::send_back`), so the person sees it beside the field, not as an answer.
    #[cfg(feature = "ssr")]
    pub fn answer(&self) {
        use leptos::prelude::use_context;
        if crate::ssr::is_plain_form_post() && crate::ssr::send_back(self) {
            return;
        }
        let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
            return;
        };
        if let Ok(status) = http::StatusCode::from_u16(self.status) {
            response.set_status(status);
        }
        if let Some(wait) = &self.retry_after
            && let Ok(value) = http::HeaderValue::from_str(wait)
        {
            response.insert_header(http::header::RETRY_AFTER, value);
        }
    }

    /// The message when it belongs to `field`.
    pub fn message_for(&self, field: &str) -> Option<String> {
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }

    /// The message when it belongs to no field (shown at the top of a form).
    pub fn general_message(&self) -> Option<String> {
        self.field.is_none().then(|| self.message.clone())
    }
}

/// A form's error carried back to its page after a post without JavaScript (see
/// `crate::ssr::send_back`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentBack {
    /// The server function the form posted to.
    pub path: String,
    /// The item the form acts on, when the page shows one such form per item.
    pub item: Option<String>,
    /// What went wrong.
    pub error: AppError,
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// Errors from the server-function machinery itself, not from our code. On the server
    /// they are bad input (400 with a plain sentence, never serde's words); in the browser,
    /// a network failure.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => {
                Self::new("The marketplace cannot be reached; check your connection and try again.")
            }
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::MissingArg(detail) => Self {
                status: 400,
                ..unreadable_form(&detail)
            },
            ServerFnErrorErr::UnsupportedRequestMethod(_) => Self {
                status: 405,
                ..Self::new("That request cannot be made this way.")
            },
            other => {
                #[cfg(feature = "ssr")]
                tracing::warn!(error = %other, "a server function call failed");
                #[cfg(not(feature = "ssr"))]
                let _ = other;
                Self::new(
                    "That request could not be handled; please reload the page and try again.",
                )
            }
        }
    }

    /// The error as the server function's answer; on the gateway this is also where the
    /// answer's status is set from the error (see [`AppError::answer`]).
    fn ser(&self) -> Bytes {
        #[cfg(feature = "ssr")]
        self.answer();
        serde_json::to_vec(self)
            .map(Bytes::from)
            .unwrap_or_default()
    }
}

/// A sentence for a form that could not be read, naming the field when the decoder said
/// which one (only plain field names are repeated, nothing else of the decoder's text).
fn unreadable_form(detail: &str) -> AppError {
    let named = |marker: &str| {
        let rest = &detail[detail.find(marker)? + marker.len()..];
        let field = &rest[..rest.find('`')?];
        let plain = !field.is_empty()
            && field.len() <= 40
            && field
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        plain.then(|| field.to_owned())
    };
    if let Some(field) = named("missing field `") {
        let label = field.replace('_', " ");
        return AppError::for_field(field, format!("Please fill in the {label}."));
    }
    if let Some(field) = named("unknown field `") {
        let message = format!("The form has a field it should not have ({field}).");
        return AppError::for_field(field, message);
    }
    AppError::new("The form could not be read: a value is missing or not of the right kind.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_text_becomes_a_plain_sentence() {
        let missing = unreadable_form("missing field `description`");
        assert_eq!(missing.field.as_deref(), Some("description"));
        assert_eq!(missing.message, "Please fill in the description.");
        let odd = unreadable_form("missing field `a<b>`");
        assert_eq!(odd.field, None);
        assert!(!odd.message.contains("a<b>"));
        let other = unreadable_form("invalid digit found in string");
        assert!(!other.message.contains("digit"));
    }
}
