//! The inventory service: items (seller, title, description, price in cents, stock, times
//! sold), their pictures (in GridFS), the public catalog, and cache-aside reads in Redis. `build` turns a [`Config`] into
//! a bound [`Service`].

mod cache;
mod domain;
mod error;
mod items;
mod limits;
mod pictures;
mod reservations;
mod routes;
mod unused_pictures;

/// How tests configure the service: [`Config::for_tests`].
#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

use axum::extract::FromRef;
use common::config::{self, ConfigError, env_parse, ports};
use common::identity::IdentityKey;
use common::infra::mongo::{self, MongoCheck, MongoSettings};
use common::infra::redis::{self, RedisCheck};
use common::{ReadinessCheck, Service};

const SERVICE: &str = "inventory-service";

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: std::net::SocketAddr,
    pub mongo: MongoSettings,
    /// The Redis of the cache entries (`CACHE_REDIS_URL`, else `REDIS_URL`). In production it
    /// is an instance of its own that evicts entries on purpose when full; sessions and
    /// presence live in another that never does.
    pub redis_url: String,
    /// The Redis of pub/sub (`REDIS_URL`): where item changes are announced to the gateways,
    /// and where picture uploads are counted (it never evicts, unlike the cache's).
    pub pubsub_redis_url: String,
    pub identity: IdentityKey,
    pub cache_ttl: Duration,
    /// How many pictures may come in, from whom (`PICTURES_PER_SELLER_PER_HOUR`,
    /// `PICTURES_PER_ADDRESS_PER_HOUR`, `PICTURES_PER_SELLER_STORED`): each is up to 5 MB of
    /// storage and a decode.
    pub picture_limits: PictureLimits,
    /// How much a seller may list and edit an hour (`LISTINGS_PER_SELLER_PER_HOUR`,
    /// `EDITS_PER_SELLER_PER_HOUR`).
    pub seller_limits: SellerLimits,
    /// How long a picture no item uses is kept (`UNUSED_PICTURES_KEPT_SECS`, a day).
    pub unused_pictures_kept: Duration,
    /// How often a copy looks for them (`UNUSED_PICTURES_SWEEP_SECS`, ten minutes).
    pub unused_pictures_sweep: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            listen: config::listen_addr(ports::INVENTORY)?,
            mongo: MongoSettings::from_env(),
            redis_url: config::env_or("CACHE_REDIS_URL", &redis::url_from_env()),
            pubsub_redis_url: redis::url_from_env(),
            identity: IdentityKey::from_env()?,
            cache_ttl: Duration::from_secs(env_parse("CACHE_TTL_SECS", 60)?),
            picture_limits: PictureLimits {
                per_seller_per_hour: env_parse("PICTURES_PER_SELLER_PER_HOUR", 60)?,
                per_address_per_hour: env_parse("PICTURES_PER_ADDRESS_PER_HOUR", 120)?,
                stored_per_seller: env_parse("PICTURES_PER_SELLER_STORED", 500)?,
            },
            seller_limits: SellerLimits {
                listings_per_hour: env_parse("LISTINGS_PER_SELLER_PER_HOUR", 60)?,
                edits_per_hour: env_parse("EDITS_PER_SELLER_PER_HOUR", 600)?,
            },
            unused_pictures_kept: Duration::from_secs(env_parse(
                "UNUSED_PICTURES_KEPT_SECS",
                24 * 3600,
            )?),
            unused_pictures_sweep: Duration::from_secs(env_parse(
                "UNUSED_PICTURES_SWEEP_SECS",
                600,
            )?)
            .max(Duration::from_secs(1)),
        })
    }
}

pub use limits::SellerLimits;
pub use pictures::PictureLimits;

/// What a change does to the catalog's pages, for the gateways that keep them rendered
/// ([`wire::events::InventoryChanged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Catalog {
    /// Items joined or left it, or a search finds them differently (a listing, on or off
    /// sale, a new title): every catalog page may list other items now.
    Membership,
    /// What the items' cards say changed (price, picture, "Only 3 left"): the catalog pages
    /// that show them are stale.
    Cards,
    /// No card shows the change (most sales): the catalog's pages stand.
    Untouched,
}

#[derive(Clone, FromRef)]
pub(crate) struct AppState {
    items: items::Items,
    reservations: reservations::Reservations,
    pictures: pictures::Pictures,
    /// Each seller's hourly listings and edits.
    allowance: limits::SellerAllowance,
    cache: cache::Cache,
    /// Announces item changes (see [`AppState::items_changed`]).
    pubsub: fred::prelude::Client,
    identity: IdentityKey,
}

impl AppState {
    /// After a write committed that changed these items: their cached reads and every cached
    /// catalog page here are stale, and so are the pages every gateway keeps rendered of them,
    /// and of the catalog as `catalog` says (see [`wire::events::InventoryChanged`]).
    async fn items_changed(&self, item_ids: &[mongodb::bson::oid::ObjectId], catalog: Catalog) {
        let generations: Vec<String> = item_ids
            .iter()
            .map(|id| cache::item_generation(&id.to_hex()))
            .chain([cache::CATALOG_GENERATION.to_owned()])
            .collect();
        let change = wire::events::InventoryChanged {
            item_ids: item_ids
                .iter()
                .map(|id| wire::ItemId::from_bytes(id.bytes()))
                .collect(),
            cards_changed: catalog != Catalog::Untouched,
            catalog_membership_changed: catalog == Catalog::Membership,
        };
        // Side by side, the bumps share round trips (fred pipelines concurrent commands).
        // They come before the announcement: a gateway that re-reads an item on hearing of
        // it must not find the old copy still cached.
        futures::future::join_all(generations.iter().map(|key| self.cache.invalidate(key))).await;
        // While Redis is away no gateway is subscribed (each keeps no pages then, and drops
        // all it kept when it subscribes again), so the write does not wait for it.
        if fred::prelude::ClientLike::is_connected(&self.pubsub) {
            redis::publish(
                &self.pubsub,
                wire::redis_channels::INVENTORY_CHANGES,
                &change,
            )
            .await;
        }
    }
}

pub async fn build(config: Config) -> anyhow::Result<Service> {
    let database = config.mongo.database(SERVICE).await?;
    let redis = redis::connect(&config.redis_url)?;
    let pubsub = if config.pubsub_redis_url == config.redis_url {
        redis.clone()
    } else {
        redis::connect(&config.pubsub_redis_url)?
    };
    let items = items::Items::new(&database);
    mongo::ensure_indexes(&items).await;
    // Counted in the Redis that never evicts (pub/sub's), not the cache's.
    let pictures = pictures::Pictures::new(&database, pubsub.clone(), config.picture_limits);
    tokio::spawn(
        unused_pictures::UnusedPictures::new(
            &database,
            pictures.clone(),
            items.clone(),
            config.unused_pictures_kept,
            config.unused_pictures_sweep,
        )
        .run(),
    );
    let state = AppState {
        reservations: reservations::Reservations::new(&database),
        pictures,
        allowance: limits::SellerAllowance::new(pubsub.clone(), config.seller_limits),
        items,
        cache: cache::Cache::new(redis.clone(), config.cache_ttl, &config.mongo.database),
        pubsub,
        identity: config.identity,
    };
    let checks: Vec<Box<dyn ReadinessCheck>> =
        vec![Box::new(MongoCheck(database)), Box::new(RedisCheck(redis))];
    Ok(Service::bind_with_readiness(SERVICE, config.listen, routes::router(state), checks).await?)
}
