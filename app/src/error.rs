//! The error every server function returns: a sentence for a person, and the form field it
//! belongs next to when there is one.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    pub message: String,
    pub field: Option<String>,
}

impl AppError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field: None,
        }
    }

    pub fn for_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field: Some(field.into()),
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
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::MissingArg(detail) => {
                #[cfg(feature = "ssr")]
                crate::ssr::set_status(http::StatusCode::BAD_REQUEST);
                unreadable_form(&detail)
            }
            ServerFnErrorErr::UnsupportedRequestMethod(_) => {
                #[cfg(feature = "ssr")]
                crate::ssr::set_status(http::StatusCode::METHOD_NOT_ALLOWED);
                Self::new("That request cannot be made this way.")
            }
            other => {
                #[cfg(feature = "ssr")]
                {
                    tracing::warn!(error = %other, "a server function call failed");
                    crate::ssr::set_status(http::StatusCode::BAD_REQUEST);
                }
                #[cfg(not(feature = "ssr"))]
                let _ = other;
                Self::new(
                    "That request could not be handled; please reload the page and try again.",
                )
            }
        }
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
