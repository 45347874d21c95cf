//! The sweeper of pictures no item uses: one replaced by a newer picture, or one stored for a
//! listing that then failed. Every copy of the service runs it; a lease in MongoDB lets one
//! copy at a time sweep.

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use wire::picture::PictureName;

use crate::error::ApiError;
use crate::pictures::Pictures;

/// Removes the pictures no item uses, once they have gone unused for `grace` (a day by
/// default): one replaced by a new picture, one whose form was refused after it was stored
/// (a race at an allowance's end), one whose listing failed.
#[derive(Clone)]
pub struct UnusedPictures {
    pictures: Pictures,
    items: crate::items::Items,
    leases: mongodb::Collection<Document>,
    /// How long a picture may go unused (`UNUSED_PICTURES_KEPT_SECS`).
    pub grace: std::time::Duration,
    /// How often a copy looks (`UNUSED_PICTURES_SWEEP_SECS`).
    pub every: std::time::Duration,
}

/// The lease's document in `leases`.
const LEASE: &str = "unused-pictures";

/// How long one copy's sweep may take before another may start one.
const SWEEP_LEASE: std::time::Duration = std::time::Duration::from_secs(300);

/// The most pictures one sweep looks at; the next sweep goes on.
const SWEEP_BATCH: i64 = 500;

impl UnusedPictures {
    /// The sweeper of `pictures` no item of `items` uses, with its lease in `database`.
    pub fn new(
        database: &mongodb::Database,
        pictures: Pictures,
        items: crate::items::Items,
        grace: std::time::Duration,
        every: std::time::Duration,
    ) -> Self {
        Self {
            pictures,
            items,
            leases: database.collection("leases"),
            grace,
            every,
        }
    }

    /// Sweeps every `every` for as long as the service runs.
    pub async fn run(self) {
        let mut ticks = tokio::time::interval(self.every);
        loop {
            ticks.tick().await;
            let lease = match self.take_lease().await {
                Ok(Some(lease)) => lease,
                Ok(None) => continue,
                Err(err) => {
                    tracing::warn!(%err, "cannot take the unused pictures' lease now");
                    continue;
                }
            };
            let swept = self.sweep().await;
            // Given back at once, so that the next look (by any copy) need not wait for it
            // to run out; if this fails, it runs out by itself.
            if let Err(err) = self.give_back(lease).await {
                tracing::warn!(%err, "cannot give the unused pictures' lease back");
            }
            match swept {
                Ok(0) => {}
                Ok(removed) => {
                    metrics::counter!("unused_pictures_removed_total").increment(removed);
                    tracing::info!(removed, "removed pictures no item uses");
                }
                Err(err) => tracing::warn!(%err, "cannot sweep unused pictures now"),
            }
        }
    }

    /// Takes the sweep's lease for [`SWEEP_LEASE`] unless another copy holds it: a
    /// conditional upsert, which an existing lease that has not run out turns into a
    /// duplicate key (held). Answers the lease's end, by which this copy knows it.
    async fn take_lease(&self) -> mongodb::error::Result<Option<mongodb::bson::DateTime>> {
        let now = mongodb::bson::DateTime::now();
        let until = mongodb::bson::DateTime::from_millis(
            now.timestamp_millis() + SWEEP_LEASE.as_millis() as i64,
        );
        let taken = self
            .leases
            .update_one(
                doc! { "_id": LEASE, "until": { "$lt": now } },
                doc! { "$set": { "until": until } },
            )
            .upsert(true)
            .await;
        match taken {
            Ok(result) if result.matched_count == 1 || result.upserted_id.is_some() => {
                Ok(Some(until))
            }
            Ok(_) => Ok(None),
            Err(err) if common::infra::mongo::is_duplicate_key(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Ends the lease taken until `until`, unless another copy took it since (after it ran
    /// out).
    async fn give_back(&self, until: mongodb::bson::DateTime) -> mongodb::error::Result<()> {
        self.leases
            .update_one(
                doc! { "_id": LEASE, "until": until },
                doc! { "$set": { "until": mongodb::bson::DateTime::from_millis(0) } },
            )
            .await
            .map(drop)
    }

    /// One sweep: every stored copy dated before the grace began is removed unless an item
    /// uses its picture; a used one is dated now, so it is looked at again only after
    /// another grace. The removal is conditional on the date, so a picture stored again
    /// meanwhile (dated now by [`Pictures::store`]) stays. Answers how many files went.
    pub async fn sweep(&self) -> Result<u64, ApiError> {
        let now = mongodb::bson::DateTime::now().timestamp_millis();
        let cutoff = mongodb::bson::DateTime::from_millis(now - self.grace.as_millis() as i64);
        let old: Vec<Document> = self
            .pictures
            .files
            .find(doc! { "uploadDate": { "$lt": cutoff } })
            .projection(doc! { "_id": 1 })
            .limit(SWEEP_BATCH)
            .await?
            .try_collect()
            .await?;
        let mut removed = 0;
        for file in old {
            let Ok(id) = file.get_str("_id") else {
                continue;
            };
            let Ok(name) = PictureName::parse(id.strip_prefix("card/").unwrap_or(id)) else {
                continue;
            };
            let still_old = doc! { "_id": id, "uploadDate": { "$lt": cutoff } };
            if self.items.use_picture(&name.site_path()).await? {
                self.pictures
                    .files
                    .update_one(
                        still_old,
                        doc! { "$set": { "uploadDate": mongodb::bson::DateTime::now() } },
                    )
                    .await?;
                continue;
            }
            if self
                .pictures
                .files
                .delete_one(still_old)
                .await?
                .deleted_count
                == 1
            {
                self.pictures
                    .chunks
                    .delete_many(doc! { "files_id": id })
                    .await?;
                removed += 1;
                tracing::info!(picture = %name, file = id, "removed a picture no item uses");
            }
        }
        Ok(removed)
    }
}
