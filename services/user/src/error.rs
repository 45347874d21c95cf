//! Every way a user-service request can fail, and the status each maps to. Internal details
//! are logged, never returned.

use std::time::Duration;

use axum::http::StatusCode;
use common::error::ServiceError;
use common::input::FieldError;

/// A user-service request that failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field of the request at fault: 422.
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Deliberately the same for an unknown email and a wrong password.
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("too many sign-in attempts; try again in {} seconds", .0.as_secs_f64().ceil().max(1.0))]
    TooManyAttempts(Duration),
    #[error("too many new accounts from your address; try again in {} minutes", (.0.as_secs_f64() / 60.0).ceil().max(1.0))]
    TooManyRegistrations(Duration),
    /// Password hashing is at its limit: come back in a moment.
    #[error("the marketplace is busy right now; try again in a moment")]
    Busy,
    #[error("the session has ended; sign in again")]
    NoSession,
    #[error("signing in is unavailable right now; try again shortly")]
    Unavailable(#[source] anyhow::Error),
    #[error("something went wrong on our side")]
    Internal(#[from] anyhow::Error),
}

impl ServiceError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Field(field) => field.status(),
            Self::EmailTaken => StatusCode::CONFLICT,
            Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            // Not 401: that is the answer to a token that is not the gateway's, and the
            // gateway must tell "signed out" from "cannot tell right now".
            Self::NoSession => StatusCode::NOT_FOUND,
            Self::TooManyAttempts(_) | Self::TooManyRegistrations(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Busy | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    common::field_error_in!(Field);

    fn field(&self) -> Option<&str> {
        match self {
            Self::Field(field) => Some(&field.field),
            Self::EmailTaken => Some("email"),
            _ => None,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::TooManyAttempts(wait) | Self::TooManyRegistrations(wait) => Some(*wait),
            Self::Busy => Some(Duration::from_secs(1)),
            Self::Unavailable(_) => Some(Duration::from_secs(5)),
            _ => None,
        }
    }
}

common::answer_errors_with_error_body!(ApiError);

impl From<crate::passwords::HashError> for ApiError {
    fn from(err: crate::passwords::HashError) -> Self {
        match err {
            crate::passwords::HashError::Busy(_) => Self::Busy,
            crate::passwords::HashError::Failed(err) => Self::Internal(err),
        }
    }
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
