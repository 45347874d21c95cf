//! Every way a user-service request can fail, and the status each maps to. Internal details
//! are logged, never returned.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::ErrorBody;
use common::input::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Deliberately the same for an unknown email and a wrong password.
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("too many sign-in attempts; try again in {} seconds", .0.as_secs_f64().ceil().max(1.0))]
    TooManyAttempts(Duration),
    #[error("the session has ended; sign in again")]
    NoSession,
    #[error("signing in is unavailable right now; try again shortly")]
    Unavailable(#[source] anyhow::Error),
    #[error("something went wrong on our side")]
    Internal(#[from] anyhow::Error),
}

impl From<fred::error::Error> for ApiError {
    fn from(err: fred::error::Error) -> Self {
        Self::Unavailable(err.into())
    }
}

impl From<mongodb::error::Error> for ApiError {
    fn from(err: mongodb::error::Error) -> Self {
        Self::Unavailable(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Field(field) => return field.clone().into_response(),
            Self::EmailTaken => {
                return ErrorBody::for_field("email", self.to_string())
                    .into_response_with(StatusCode::CONFLICT);
            }
            Self::InvalidCredentials | Self::NoSession => StatusCode::UNAUTHORIZED,
            Self::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(source) => {
                tracing::error!(error = ?source, "a dependency failed");
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(source) => {
                tracing::error!(error = ?source, "internal error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut response = ErrorBody::new(self.to_string()).into_response_with(status);
        if let Self::TooManyAttempts(wait) = &self
            && let Ok(value) = (wait.as_secs_f64().ceil().max(1.0) as u64)
                .to_string()
                .parse()
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}
