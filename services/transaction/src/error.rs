//! Every way a transaction-service request can fail, and its status. Internal details are
//! logged, never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::ErrorBody;
use common::input::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("this Idempotency-Key was already used for a different purchase")]
    KeyReused,
    /// Not enough stock or no such item; the same answer on every retry.
    #[error("{0}")]
    Rejected(String),
    #[error("purchases are unavailable right now; try again shortly (nothing was charged twice)")]
    Unavailable(#[source] anyhow::Error),
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
            Self::KeyReused => {
                return ErrorBody::for_field("Idempotency-Key", self.to_string())
                    .into_response_with(StatusCode::UNPROCESSABLE_ENTITY);
            }
            Self::Rejected(_) => StatusCode::CONFLICT,
            Self::Unavailable(source) => {
                tracing::error!(error = ?source, "a dependency failed");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        ErrorBody::new(self.to_string()).into_response_with(status)
    }
}
