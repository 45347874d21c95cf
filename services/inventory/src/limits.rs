//! How much one seller may list and edit an hour, counted in Redis so every copy of the
//! service counts together. A listing or edit is a write and an announcement that makes every
//! gateway drop kept pages: without a bound one seller could keep the catalog uncached for
//! everyone, or fill the database.

use std::time::Duration;

use common::infra::redis::count_in_window;
use wire::UserId;

use crate::error::ApiError;

/// What a seller may do in an hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SellerLimits {
    /// New items an hour (`LISTINGS_PER_SELLER_PER_HOUR`).
    pub listings_per_hour: i64,
    /// Edits of their items an hour, a new price, stock, picture or on-sale switch each
    /// (`EDITS_PER_SELLER_PER_HOUR`).
    pub edits_per_hour: i64,
}

impl Default for SellerLimits {
    fn default() -> Self {
        Self {
            listings_per_hour: 60,
            edits_per_hour: 600,
        }
    }
}

/// What is being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SellerAction {
    /// A new item.
    Listing,
    /// A change to one.
    Edit,
}

/// Counts sellers' listings and edits.
#[derive(Clone)]
pub struct SellerAllowance {
    counts: fred::prelude::Client,
    limits: SellerLimits,
}

impl SellerAllowance {
    /// Counted in `counts` (a Redis that does not evict), bounded by `limits`.
    pub fn new(counts: fred::prelude::Client, limits: SellerLimits) -> Self {
        Self { counts, limits }
    }

    /// Counts one `action` of `seller`'s; 429 with the time until the hour ends past the
    /// allowance. When Redis cannot count it, the change is taken uncounted: items live in
    /// MongoDB and sellers may still change them; what the limit guards most, the gateways'
    /// kept pages, are not kept while Redis is away anyway.
    pub async fn admit(&self, seller: &UserId, action: SellerAction) -> Result<(), ApiError> {
        let (prefix, allowed) = match action {
            SellerAction::Listing => ("item-listings", self.limits.listings_per_hour),
            SellerAction::Edit => ("item-edits", self.limits.edits_per_hour),
        };
        match count_in_window(&self.counts, prefix, seller.as_str(), 3600).await {
            Ok((count, _)) if count <= allowed => Ok(()),
            Ok((_, seconds_left)) => {
                let retry_after = Duration::from_secs(seconds_left.max(1));
                Err(match action {
                    SellerAction::Listing => ApiError::TooManyListings {
                        allowed,
                        retry_after,
                    },
                    SellerAction::Edit => ApiError::TooManyEdits {
                        allowed,
                        retry_after,
                    },
                })
            }
            Err(err) => {
                tracing::warn!(%err, prefix, "a seller's change cannot be counted; taken uncounted");
                Ok(())
            }
        }
    }
}
