//! One way for every service to fail: a service's error enum implements [`ServiceError`]
//! (status, field, message), and [`respond`] turns it into the one answer shape,
//! [`ErrorBody`], logging what went wrong on our side without ever sending it.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub use wire::ErrorBody;

use crate::input::FieldError;

/// What a service's error says about itself; [`respond`] does the rest.
pub trait ServiceError: std::error::Error + Sized {
    /// The HTTP status of the answer.
    fn status(&self) -> StatusCode;

    /// The request field that failed to parse, when that is the error (its field and
    /// message are then the answer's).
    fn field_error(&self) -> Option<&FieldError> {
        None
    }

    /// The input field at fault, when one is.
    fn field(&self) -> Option<&str> {
        self.field_error().map(|err| err.field.as_str())
    }

    /// The sentence for the caller; by default the error's `Display`.
    fn message(&self) -> String {
        match self.field_error() {
            Some(err) => err.message.clone(),
            None => self.to_string(),
        }
    }

    /// When the caller may try again (`Retry-After`), for 429 and 503.
    fn retry_after(&self) -> Option<Duration> {
        match self.status() {
            StatusCode::SERVICE_UNAVAILABLE => Some(Duration::from_secs(5)),
            _ => None,
        }
    }
}

/// The answer for `err`: its status, `Retry-After` when it has one, and an [`ErrorBody`]
/// with its sentence. A 5xx is logged with its cause chain; the caller sees the sentence.
pub fn respond<E: ServiceError>(err: E) -> Response {
    let status = err.status();
    if status.is_server_error() {
        tracing::error!(error = ?err, "request failed on our side");
    }
    let body = ErrorBody {
        error: err.message(),
        field: err.field().map(str::to_owned),
    };
    let mut response = error_response(status, body);
    if let Some(wait) = err.retry_after()
        && let Ok(value) =
            HeaderValue::from_str(&(wait.as_secs_f64().ceil().max(1.0) as u64).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// `body` as JSON with `status`.
pub fn error_response(status: StatusCode, body: ErrorBody) -> Response {
    (status, Json(body)).into_response()
}

/// `impl IntoResponse` for a service's error enum, answering through [`respond`].
#[macro_export]
macro_rules! answer_errors_with_error_body {
    ($error:ty) => {
        impl ::axum::response::IntoResponse for $error {
            fn into_response(self) -> ::axum::response::Response {
                $crate::error::respond(self)
            }
        }
    };
}

/// [`ServiceError::field_error`] for an error enum whose `$variant(FieldError)` is a request
/// field that failed to parse; written inside the enum's `impl ServiceError`.
#[macro_export]
macro_rules! field_error_in {
    ($variant:ident) => {
        fn field_error(&self) -> Option<&$crate::input::FieldError> {
            match self {
                Self::$variant(err) => Some(err),
                #[allow(unreachable_patterns)]
                _ => None,
            }
        }
    };
}
