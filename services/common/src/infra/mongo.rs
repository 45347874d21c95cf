//! MongoDB: settings from the environment, a client that starts while the server is away,
//! index creation that waits for it, and the readiness check.

use std::time::Duration;

use futures::future::BoxFuture;
use mongodb::bson::doc;
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};

use crate::config::{defaults, env_or};
use crate::health::ReadinessCheck;

/// `MONGODB_URI` and `MONGODB_DATABASE` (default "marketplace").
#[derive(Debug, Clone)]
pub struct MongoSettings {
    /// Connection string, credentials and options included.
    pub uri: String,
    /// The database that holds the service's collections.
    pub database: String,
}

impl MongoSettings {
    /// Reads both variables, falling back to the local server and "marketplace".
    pub fn from_env() -> Self {
        Self {
            uri: env_or("MONGODB_URI", defaults::MONGODB_URI),
            database: env_or("MONGODB_DATABASE", "marketplace"),
        }
    }

    /// Connects (lazily, see [`connect`]) and opens the configured database; `app_name` tells the
    /// server's logs which service is connected.
    pub async fn database(&self, app_name: &str) -> mongodb::error::Result<Database> {
        Ok(connect(&self.uri, app_name).await?.database(&self.database))
    }
}

/// Connections a service keeps to MongoDB at most, and requests a MongoDB-backed router
/// serves at once ([`limit_requests`]).
pub const POOL_SIZE: u32 = 64;

/// Lets at most [`POOL_SIZE`] requests into a MongoDB-backed `router` at once; the others wait
/// in a semaphore, which forgets a waiter the moment its caller gives up.
///
/// Why: the driver (mongodb 3.9) queues a checkout it cannot serve at once, its pool worker
/// takes one queued checkout per event it handles, and checkouts whose callers gave up stay
/// queued. At 1,000 purchases/s the inventory queued thousands; when the burst ended, every
/// later operation (readiness pings included) waited behind those dead checkouts, and the
/// service answered nothing for many minutes. Each request holds at most one connection at a
/// time, so with this limit the driver's queue never grows past the pool.
pub fn limit_requests(router: axum::Router) -> axum::Router {
    router.layer(tower::limit::GlobalConcurrencyLimitLayer::new(
        POOL_SIZE as usize,
    ))
}

/// Connects lazily: the service starts even while MongoDB is down, and `/readyz` says so.
pub async fn connect(uri: &str, app_name: &str) -> mongodb::error::Result<Client> {
    let mut options = ClientOptions::parse(uri).await?;
    options.app_name = Some(app_name.to_owned());
    options.max_pool_size = Some(POOL_SIZE);
    // Fail fast instead of the driver's 30 s, so callers get an error while MongoDB is away.
    options.server_selection_timeout = Some(Duration::from_secs(3));
    options.connect_timeout = Some(Duration::from_secs(2));
    // Said here, not left to the server's defaults, for every collection of every service
    // (README, "What survives what"): a write is acknowledged once a majority of the replica
    // set has it in its journal, so a failover or a crash of one member loses no write a
    // client was told about; reads see only what a majority has (never a write a failover
    // would roll back). The local MongoDB-wire server accepts both and keeps each write on
    // disk before it answers (scripts/mongo-java-server/Launcher.java).
    options.write_concern = Some(
        mongodb::options::WriteConcern::builder()
            .w(mongodb::options::Acknowledgment::Majority)
            .journal(true)
            .build(),
    );
    options.read_concern = Some(mongodb::options::ReadConcern::majority());
    Client::with_options(options)
}

/// Pings the database; ready when MongoDB answers.
pub struct MongoCheck(pub Database);

impl ReadinessCheck for MongoCheck {
    fn name(&self) -> &'static str {
        "mongo"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.0
                .run_command(doc! { "ping": 1 })
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }
}

/// An index on `keys` that refuses a second document with the same values, named `name`
/// (the name shows in duplicate-key errors).
pub fn unique_index(keys: mongodb::bson::Document, name: &str) -> mongodb::IndexModel {
    let options = mongodb::options::IndexOptions::builder()
        .unique(true)
        .name(name.to_owned())
        .build();
    mongodb::IndexModel::builder()
        .keys(keys)
        .options(options)
        .build()
}

/// An index on `keys`, for the queries that filter or sort by them.
pub fn index(keys: mongodb::bson::Document) -> mongodb::IndexModel {
    mongodb::IndexModel::builder().keys(keys).build()
}

/// A service's handle on one collection that knows the indexes the collection needs.
pub trait Indexed: Clone + Send + Sync + 'static {
    /// The collection's name, for logs.
    const COLLECTION: &'static str;

    /// Creates the collection's indexes; creating them again changes nothing.
    fn create_indexes(&self) -> impl Future<Output = mongodb::error::Result<()>> + Send;
}

/// Creates a collection's indexes now, or, while MongoDB is not answering, keeps trying in the
/// background so the service can start first.
pub async fn ensure_indexes<C: Indexed>(indexed: &C) {
    let collection = C::COLLECTION;
    if indexed.create_indexes().await.is_ok() {
        return;
    }
    let indexed = indexed.clone();
    tracing::warn!(
        collection,
        "MongoDB is not answering yet; creating indexes in the background"
    );
    tokio::spawn(async move {
        let mut wait = Duration::from_millis(200);
        while let Err(err) = indexed.create_indexes().await {
            tracing::warn!(collection, %err, "cannot create indexes yet; retrying");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(10));
        }
    });
}

/// Whether MongoDB refused a write because a unique index already holds the value (E11000).
pub fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == 11000,
        ErrorKind::Command(e) => e.code == 11000,
        _ => false,
    }
}
