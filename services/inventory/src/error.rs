//! Every way an inventory request can fail, and its status. Internal details are logged,
//! never returned (see `common::error`).

use axum::http::StatusCode;
use common::error::ServiceError;
use common::input::FieldError;

/// An inventory request that failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field of the request at fault: 422.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// 404.
    #[error("there is no item with this id")]
    ItemNotFound,
    /// 403: someone else's item.
    #[error("only the item's seller may change it")]
    NotTheSeller,
    /// 404: no stored picture has this name.
    #[error("there is no picture with this name")]
    PictureNotFound,
    /// A picture could not be decoded on time or stored: 503.
    #[error("the picture could not be saved right now; try again shortly")]
    PictureNotSaved,
    /// MongoDB failed: 503.
    #[error("the catalog is unavailable right now; try again shortly")]
    Unavailable(#[from] mongodb::error::Error),
}

impl ServiceError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Field(field) => field.status(),
            Self::ItemNotFound | Self::PictureNotFound => StatusCode::NOT_FOUND,
            Self::NotTheSeller => StatusCode::FORBIDDEN,
            Self::Unavailable(_) | Self::PictureNotSaved => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    common::field_error_in!(Field);
}

common::answer_errors_with_error_body!(ApiError);
