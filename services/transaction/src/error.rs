//! Every way a transaction-service request can fail, and its status. Internal details are
//! logged, never returned (see `common::error`).

use axum::http::StatusCode;
use common::error::ServiceError;
use common::input::FieldError;

/// A transaction-service request that failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field of the request at fault: 422.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// 422: one key, two different purchases.
    #[error("this Idempotency-Key was already used for a different purchase")]
    KeyReused,
    /// 404: the item is not in the cart.
    #[error("that item is not in your cart")]
    NotInCart,
    /// 404: no such purchase of the signed-in buyer.
    #[error("you have no purchase with this id")]
    PurchaseNotFound,
    /// Not enough stock or no such item; the same answer on every retry: 409.
    #[error("{0}")]
    Rejected(String),
    /// MongoDB or the inventory service failed: 503.
    #[error("purchases are unavailable right now; try again shortly (nothing was charged twice)")]
    Unavailable(#[source] anyhow::Error),
}

impl From<mongodb::error::Error> for ApiError {
    fn from(err: mongodb::error::Error) -> Self {
        Self::Unavailable(err.into())
    }
}

impl From<crate::cart::CartError> for ApiError {
    fn from(err: crate::cart::CartError) -> Self {
        use crate::cart::CartError;
        match err {
            CartError::Field(field) => Self::Field(field),
            CartError::NotInCart => Self::NotInCart,
            CartError::Unavailable(reason) => Self::Unavailable(anyhow::anyhow!(reason)),
        }
    }
}

impl ServiceError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Field(_) | Self::KeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Rejected(_) => StatusCode::CONFLICT,
            Self::PurchaseNotFound | Self::NotInCart => StatusCode::NOT_FOUND,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    common::field_error_in!(Field);

    fn field(&self) -> Option<&str> {
        match self {
            Self::Field(field) => Some(&field.field),
            Self::KeyReused => Some("Idempotency-Key"),
            _ => None,
        }
    }
}

common::answer_errors_with_error_body!(ApiError);
