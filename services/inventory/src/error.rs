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
    /// 429: the seller uploaded their hourly allowance of pictures.
    #[error("You have uploaded {allowed} pictures this hour, the most there may be; try again in {} minutes.", (.retry_after.as_secs_f64() / 60.0).ceil().max(1.0))]
    TooManyPictures {
        /// Pictures a seller may upload an hour.
        allowed: i64,
        /// When the hour is over.
        retry_after: std::time::Duration,
    },
    /// 429: the client's address uploaded its hourly allowance of pictures (every seller
    /// behind it together).
    #[error("{allowed} pictures were uploaded from your address this hour, the most there may be; try again in {} minutes.", (.retry_after.as_secs_f64() / 60.0).ceil().max(1.0))]
    TooManyPicturesFromAddress {
        /// Pictures one address may upload an hour.
        allowed: i64,
        /// When the hour is over.
        retry_after: std::time::Duration,
    },
    /// 409: the seller keeps as many pictures as a seller may.
    #[error(
        "You have {allowed} pictures stored, the most a seller may keep. Use a picture you uploaded before, or give a picture's address; pictures no item uses are removed after a day."
    )]
    TooManyPicturesStored {
        /// Pictures a seller may keep.
        allowed: u64,
    },
    /// 429: the seller listed as many items as an hour allows.
    #[error("You have listed {allowed} items this hour, the most there may be; try again in {} minutes.", minutes(*.retry_after))]
    TooManyListings {
        /// New items an hour.
        allowed: i64,
        /// When the hour is over.
        retry_after: std::time::Duration,
    },
    /// 429: the seller changed their items as often as an hour allows.
    #[error("You have changed your items {allowed} times this hour, the most there may be; try again in {} minutes.", minutes(*.retry_after))]
    TooManyEdits {
        /// Edits an hour.
        allowed: i64,
        /// When the hour is over.
        retry_after: std::time::Duration,
    },
    /// A picture could not be decoded on time or stored: 503.
    #[error("the picture could not be saved right now; try again shortly")]
    PictureNotSaved,
    /// MongoDB failed: 503.
    #[error("the catalog is unavailable right now; try again shortly")]
    Unavailable(#[from] mongodb::error::Error),
}

/// Whole minutes until `retry_after` is over, at least one.
fn minutes(retry_after: std::time::Duration) -> f64 {
    (retry_after.as_secs_f64() / 60.0).ceil().max(1.0)
}

impl ServiceError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Field(field) => field.status(),
            Self::ItemNotFound | Self::PictureNotFound => StatusCode::NOT_FOUND,
            Self::NotTheSeller => StatusCode::FORBIDDEN,
            Self::Unavailable(_) | Self::PictureNotSaved => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyPictures { .. }
            | Self::TooManyPicturesFromAddress { .. }
            | Self::TooManyListings { .. }
            | Self::TooManyEdits { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TooManyPicturesStored { .. } => StatusCode::CONFLICT,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::TooManyPictures { .. }
            | Self::TooManyPicturesFromAddress { .. }
            | Self::TooManyPicturesStored { .. } => Some("picture"),
            other => other.field_error().map(|err| err.field.as_str()),
        }
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::TooManyPictures { retry_after, .. }
            | Self::TooManyPicturesFromAddress { retry_after, .. }
            | Self::TooManyListings { retry_after, .. }
            | Self::TooManyEdits { retry_after, .. } => Some(*retry_after),
            Self::Unavailable(_) | Self::PictureNotSaved => Some(std::time::Duration::from_secs(5)),
            _ => None,
        }
    }

    common::field_error_in!(Field);
}

common::answer_errors_with_error_body!(ApiError);
