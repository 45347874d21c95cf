use common::identity::Identity;
use common::infra::mongo::{self, MongoSettings};
use futures::TryStreamExt;
use mongodb::bson::{self, oid::ObjectId};
use testkit::Infra;
use wire::UserId;
use wire::transaction::{DailySales, PurchaseLine, PurchaseView, SalesReport};

use crate::Config;
use crate::ledger::{BulkPlaces, Ledgers};
use crate::transactions::{Status, TransactionDocument, Transactions};

impl Config {
    /// The service on a free port of 127.0.0.1 against the shared local servers of `infra`,
    /// in a database and with a purchases topic no other test uses, and the identity key every
    /// service under test shares ([`testkit::identity_key`]). Its inventory service is an
    /// address where nothing answers: a test that buys sets `inventory_url`. Purchases left
    /// pending are swept after the production bound (30 s); a sweeper test sets it shorter.
    pub fn for_tests(infra: &Infra) -> Self {
        Self {
            listen: Infra::free_local_port(),
            mongo: infra.mongo_settings("transactions"),
            redis_url: infra.redis_url.clone(),
            kafka_brokers: infra.kafka_brokers.clone(),
            purchases_topic: testkit::unique_name("purchases"),
            identity: testkit::identity_key(),
            inventory_url: "http://127.0.0.1:9".to_owned(),
            pending_bound: std::time::Duration::from_secs(30),
        }
    }
}

/// The purchases store as the service keeps it, for a benchmark that fills it directly
/// (through the store's bulk inserts) and reads pages the way the service does.
pub struct Store {
    transactions: Transactions,
    ledgers: Ledgers,
    raw: mongodb::Collection<TransactionDocument>,
    /// Where [`Self::load`] has got to.
    places: tokio::sync::Mutex<BulkPlaces>,
}

impl Store {
    /// The store in `settings`' database, with its indexes.
    pub async fn open(settings: &MongoSettings) -> anyhow::Result<Self> {
        let database = settings.database("transaction-bench").await?;
        let store = Self {
            transactions: Transactions::new(&database),
            ledgers: Ledgers::new(&database),
            raw: database.collection("transactions"),
            places: tokio::sync::Mutex::default(),
        };
        mongo::ensure_indexes(&store.transactions).await;
        mongo::ensure_indexes(&store.ledgers).await;
        Ok(store)
    }

    /// Stores `count` completed purchases of one line each, numbered from `first`: purchase
    /// `n` is buyer `n % buyers`'s, of seller `n % sellers`'s item, with `insert_many`, a
    /// thousand at a time, then moves the owners' counters once.
    pub async fn load(
        &self,
        first: u64,
        count: u64,
        buyers: u64,
        sellers: u64,
    ) -> anyhow::Result<()> {
        const BATCH: u64 = 1_000;
        let mut places = self.places.lock().await;
        let mut next = first;
        while next < first + count {
            let end = (next + BATCH).min(first + count);
            let purchases: Vec<TransactionDocument> = (next..end)
                .map(|n| completed_purchase(n, buyers, sellers))
                .collect();
            self.raw.insert_many(&purchases).await?;
            self.ledgers.record_many(&purchases, &mut places).await?;
            next = end;
        }
        self.ledgers.write_counters(&places).await?;
        Ok(())
    }

    /// Page `page` of buyer `n`'s history, as the service answers it.
    pub async fn history_page(&self, buyer: u64, page: u64) -> anyhow::Result<Vec<PurchaseView>> {
        let (ids, _) = self.ledgers.history_page(&user(buyer), page, 20).await?;
        Ok(self.transactions.completed(&ids).await?)
    }

    /// Page `page` of seller `n`'s sales, as the service answers it.
    pub async fn sales_page(&self, seller: u64, page: u64) -> anyhow::Result<SalesReport> {
        Ok(self.ledgers.sales(&seller_id(seller), page, 20).await?)
    }

    /// Seller `n`'s sales of each of the last 30 days, as the service answers them.
    pub async fn daily_sales(&self, seller: u64) -> anyhow::Result<DailySales> {
        let today = wire::calendar::day_of(bson::DateTime::now().timestamp_millis());
        Ok(self.ledgers.daily_sales(&seller_id(seller), today).await?)
    }
}

/// A made-up user id for buyer `n`.
pub fn user(n: u64) -> UserId {
    format!("{n:024x}").parse().expect("24 hexadecimal digits")
}

/// A made-up user id for seller `n`, apart from the buyers'.
pub fn seller_id(n: u64) -> UserId {
    format!("f{n:023x}").parse().expect("24 hexadecimal digits")
}

fn completed_purchase(n: u64, buyers: u64, sellers: u64) -> TransactionDocument {
    let buyer = Identity {
        user_id: user(n % buyers.max(1)),
        display_name: format!("Buyer {}", n % buyers.max(1)),
        email: format!("buyer-{}@bench.example", n % buyers.max(1)),
    };
    let line = PurchaseLine {
        item_id: format!("{:024x}", n % 1000).parse().expect("an id"),
        title: format!("Item {}", n % 1000),
        seller_id: seller_id(n % sellers.max(1)),
        seller_name: "Bench seller".into(),
        unit_price_cents: 100,
        quantity: 1,
        line_total_cents: 100,
    };
    TransactionDocument {
        id: ObjectId::new(),
        buyer_id: buyer.user_id,
        buyer_name: buyer.display_name,
        buyer_email: buyer.email,
        idempotency_key: format!("bench-{n}"),
        request_hash: String::new(),
        wanted: Vec::new(),
        status: Status::Completed,
        lines: vec![line],
        total_cents: 100,
        rejection: None,
        sweep_lease_until: None,
        sweep_claims: 0,
        created_at: bson::DateTime::now(),
    }
}

/// Moves the stored purchase `purchase_id` `days` back in time, as if it had been made then:
/// the purchase, and its sellers' sales, entered again in the order they were made (which is
/// what the sales per day are counted from). No service offers that; tests of the sales chart
/// need it.
pub async fn backdate(
    settings: &MongoSettings,
    purchase_id: &str,
    days: i64,
) -> anyhow::Result<()> {
    let database = settings.database("transaction-tests").await?;
    let id = ObjectId::parse_str(purchase_id)?;
    let then =
        bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() - days * 86_400_000);
    let raw = database.collection::<TransactionDocument>("transactions");
    let purchase = raw
        .find_one_and_update(
            mongodb::bson::doc! { "_id": id },
            mongodb::bson::doc! { "$set": { "created_at": then } },
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("no purchase {purchase_id}"))?;
    let ledgers = Ledgers::new(&database);
    for line in &purchase.lines {
        ledgers.forget_sales(&line.seller_id).await?;
    }
    let sellers: Vec<&str> = purchase
        .lines
        .iter()
        .map(|l| l.seller_id.as_str())
        .collect();
    let mut theirs: Vec<TransactionDocument> = raw
        .find(mongodb::bson::doc! {
            "lines.seller_id": { "$in": sellers },
            "status": bson::to_bson(&Status::Completed)?,
        })
        .await?
        .try_collect()
        .await?;
    theirs.sort_by_key(|purchase| (purchase.created_at, purchase.id));
    for purchase in &theirs {
        ledgers.record(purchase).await?;
    }
    Ok(())
}
