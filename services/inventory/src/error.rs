//! Every way an inventory request can fail, and its status. Internal details are logged,
//! never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::ErrorBody;
use common::input::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("there is no item with this id")]
    ItemNotFound,
    #[error("only the item's seller may change it")]
    NotTheSeller,
    #[error("the catalog is unavailable right now; try again shortly")]
    Unavailable(#[from] mongodb::error::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Field(field) => return field.clone().into_response(),
            Self::ItemNotFound => StatusCode::NOT_FOUND,
            Self::NotTheSeller => StatusCode::FORBIDDEN,
            Self::Unavailable(source) => {
                tracing::error!(error = ?source, "MongoDB failed");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        ErrorBody::new(self.to_string()).into_response_with(status)
    }
}
