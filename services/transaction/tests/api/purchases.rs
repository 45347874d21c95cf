//! Purchases through the transaction service's HTTP API, with the real inventory service,
//! MongoDB, Redis and Kafka.

use std::time::{Duration, SystemTime};

use common::identity::{IDENTITY_HEADER, Identity, IdentityKey};
use serde_json::{Value, json};
use testkit::answers::{assert_invalid, assert_sold_out, strings};
use testkit::{Infra, KafkaBroker, TestService, read_topic, unique_name};

pub(crate) struct App {
    pub(crate) transactions: TestService,
    pub(crate) inventory: TestService,
    pub(crate) key: IdentityKey,
    topic: String,
    kafka_brokers: String,
    mongo: common::infra::mongo::MongoSettings,
}

pub(crate) fn person(name: &str) -> Identity {
    let id = unique_name("");
    let hex: String = id.bytes().map(|b| format!("{:x}", b % 16)).collect();
    Identity {
        user_id: format!("{:0>24}", &hex[hex.len().saturating_sub(24)..])
            .parse()
            .expect("an id"),
        display_name: name.to_owned(),
        email: format!("{}@example.com", unique_name(name)),
    }
}

async fn spawn_app_with_kafka(kafka_brokers: &str) -> App {
    let infra = Infra::from_env();
    let inventory_config = inventory_service::Config::for_tests(&infra);
    // Both services in one database, as in a deployment.
    let mongo = inventory_config.mongo.clone();
    let inventory = testkit::spawn(
        inventory_service::build(inventory_config)
            .await
            .expect("inventory"),
    )
    .await;
    let config = transaction_service::Config {
        mongo: mongo.clone(),
        kafka_brokers: kafka_brokers.to_owned(),
        inventory_url: inventory.base_url.clone(),
        ..transaction_service::Config::for_tests(&infra)
    };
    let (key, topic) = (config.identity.clone(), config.purchases_topic.clone());
    let transactions = testkit::spawn(
        transaction_service::build(config)
            .await
            .expect("transaction service"),
    )
    .await;
    App {
        transactions,
        inventory,
        key,
        topic,
        kafka_brokers: kafka_brokers.to_owned(),
        mongo,
    }
}

pub(crate) async fn spawn_app() -> App {
    spawn_app_with_kafka(&Infra::from_env().kafka_brokers).await
}

impl App {
    /// Another copy of the transaction service on this app's database and topic, reaching
    /// the inventory service at `inventory_url` and settling purchases left pending for
    /// longer than `bound`.
    async fn transaction_copy(&self, inventory_url: &str, bound: Duration) -> TestService {
        let config = transaction_service::Config {
            mongo: self.mongo.clone(),
            kafka_brokers: self.kafka_brokers.clone(),
            purchases_topic: self.topic.clone(),
            inventory_url: inventory_url.to_owned(),
            pending_bound: bound,
            ..transaction_service::Config::for_tests(&Infra::from_env())
        };
        testkit::spawn(
            transaction_service::build(config)
                .await
                .expect("a transaction copy"),
        )
        .await
    }

    /// The purchases as MongoDB holds them.
    async fn stored_purchases(&self) -> Vec<mongodb::bson::Document> {
        use futures::TryStreamExt;
        let client = mongodb::Client::with_uri_str(&self.mongo.uri)
            .await
            .expect("MongoDB");
        client
            .database(&self.mongo.database)
            .collection::<mongodb::bson::Document>("transactions")
            .find(mongodb::bson::doc! {})
            .await
            .expect("find")
            .try_collect()
            .await
            .expect("documents")
    }

    /// Waits until MongoDB holds `count` completed purchases and no pending one.
    async fn wait_until_settled(
        &self,
        count: usize,
        within: Duration,
    ) -> Vec<mongodb::bson::Document> {
        let started = std::time::Instant::now();
        loop {
            let stored = self.stored_purchases().await;
            let completed = stored
                .iter()
                .filter(|p| p.get_str("status") == Ok("completed"))
                .count();
            if completed == count && stored.len() == count {
                return stored;
            }
            assert!(
                started.elapsed() < within,
                "not settled in time: {stored:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A receipt worker on this app's broker and topic, mailing to the local SMTP server.
    async fn receipt_worker(&self) -> TestService {
        let config = receipt_service::Config {
            kafka_brokers: self.kafka_brokers.clone(),
            purchases_topic: self.topic.clone(),
            ..receipt_service::Config::for_tests(&Infra::from_env())
        };
        testkit::spawn(
            receipt_service::build(config)
                .await
                .expect("receipt worker"),
        )
        .await
    }

    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        who: &Identity,
    ) -> (u16, Value) {
        let token = self.key.sign(who, SystemTime::now());
        testkit::answers::send(request.header(IDENTITY_HEADER, token)).await
    }

    pub(crate) async fn list(
        &self,
        seller: &Identity,
        title: &str,
        price_cents: i64,
        stock: i64,
    ) -> String {
        let request = self
            .inventory
            .post("/v1/items")
            .json(&json!({ "title": title, "price_cents": price_cents, "stock": stock }));
        let (status, item) = self.send(request, seller).await;
        assert_eq!(status, 201, "{item}");
        item["id"].as_str().expect("id").to_owned()
    }

    pub(crate) async fn item(&self, id: &str) -> Value {
        self.inventory.get_json(&format!("/v1/items/{id}")).await
    }

    async fn buy(&self, buyer: &Identity, key: &str, lines: Value) -> (u16, Value) {
        let request = self
            .transactions
            .post("/v1/purchases")
            .header("Idempotency-Key", key)
            .json(&json!({ "lines": lines }));
        self.send(request, buyer).await
    }

    pub(crate) async fn get(&self, path: &str, who: &Identity) -> (u16, Value) {
        self.send(self.transactions.get(path), who).await
    }

    async fn outbox_backlog(&self) -> u64 {
        let outbox = self.transactions.get_json_as_gateway("/v1/outbox").await;
        outbox["pending"].as_u64().expect("pending")
    }
}

#[tokio::test]
async fn two_hundred_concurrent_buyers_of_ten_lamps_ten_succeed_and_the_rest_hear_sold_out() {
    let app = spawn_app().await;
    let seller = person("Sam");
    let lamp = app.list(&seller, "Red lamp", 2_500, 10).await;
    let buyers: Vec<(Identity, String)> = (0..200)
        .map(|n| (person(&format!("b{n}")), unique_name("key")))
        .collect();
    let attempts = buyers
        .iter()
        .map(|(buyer, key)| app.buy(buyer, key, json!([{ "item_id": lamp, "quantity": 1 }])));
    let results = futures::future::join_all(attempts).await;

    assert_sold_out(&results, &app.item(&lamp).await, 10);
}

#[tokio::test]
async fn the_same_purchase_sent_ten_times_at_once_is_made_once() {
    let app = spawn_app().await;
    let (seller, buyer) = (person("Sue"), person("Ben"));
    let mug = app.list(&seller, "Mug", 1_200, 50).await;
    let chair = app.list(&seller, "Chair", 8_000, 5).await;
    let lines = json!([{ "item_id": mug, "quantity": 2 }, { "item_id": chair, "quantity": 1 }]);
    let key = unique_name("checkout");

    let answers =
        futures::future::join_all((0..10).map(|_| app.buy(&buyer, &key, lines.clone()))).await;
    assert!(answers.iter().all(|(s, _)| *s == 201), "{answers:?}");
    let first = &answers[0].1;
    assert!(
        answers.iter().all(|(_, b)| b == first),
        "every retry gets the first answer"
    );
    assert_eq!(first["total_cents"], 2 * 1_200 + 8_000);

    let (_, again) = app
        .buy(
            &buyer,
            &key,
            json!([{ "item_id": chair, "quantity": 1 }, { "item_id": mug, "quantity": 2 }]),
        )
        .await;
    assert_eq!(
        &again, first,
        "the same order written in another order is the same purchase"
    );
    let (status, answer) = app
        .buy(&buyer, &key, json!([{ "item_id": mug, "quantity": 5 }]))
        .await;
    assert_invalid(status, &answer, "Idempotency-Key");

    assert_eq!(app.item(&mug).await["stock"], 48, "stock taken once");
    assert_eq!(app.item(&chair).await["sold"], 1);
    let (_, history) = app.get("/v1/purchases", &buyer).await;
    assert_eq!(history["total"], 1, "{history}");

    let events = read_topic(&app.kafka_brokers, &app.topic, 2, Duration::from_secs(8)).await;
    assert_eq!(events.len(), 1, "one purchase, one Kafka record");
    let _receipts = app.receipt_worker().await;
    let emails = testkit::Mailbox::default()
        .wait_for(&buyer.email, 1, Duration::from_secs(60))
        .await;
    assert_eq!(emails.len(), 1, "one purchase, one receipt email");
}

#[tokio::test]
async fn a_purchase_needs_a_key_and_a_sane_order() {
    let app = spawn_app().await;
    let buyer = person("Ann");
    let request = app
        .transactions
        .post("/v1/purchases")
        .json(&json!({ "lines": [] }));
    let (status, answer) = app.send(request, &buyer).await;
    assert_invalid(status, &answer, "Idempotency-Key");
    let (status, answer) = app
        .buy(
            &buyer,
            &unique_name("k"),
            json!([{ "item_id": "x", "quantity": 1 }]),
        )
        .await;
    assert_invalid(status, &answer, "item_id");
    let anonymous = app
        .transactions
        .post("/v1/purchases")
        .header("Idempotency-Key", "anonymous-key");
    let (status, _) = testkit::answers::send(anonymous.json(&json!({ "lines": [] }))).await;
    assert_eq!(status, 401, "buying needs a signed-in buyer");
}

#[tokio::test]
async fn buyers_see_only_their_purchases_and_sellers_only_their_sales() {
    let app = spawn_app().await;
    let (ada, bo) = (person("Ada"), person("Bo"));
    let (cy, di) = (person("Cy"), person("Di"));
    let ada_item = app.list(&ada, "Ada's vase", 3_000, 10).await;
    let bo_item = app.list(&bo, "Bo's book", 1_500, 10).await;

    let (status, _) = app
        .buy(
            &cy,
            &unique_name("k"),
            json!([{ "item_id": ada_item, "quantity": 2 }, { "item_id": bo_item, "quantity": 1 }]),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .buy(
            &di,
            &unique_name("k"),
            json!([{ "item_id": bo_item, "quantity": 3 }]),
        )
        .await;
    assert_eq!(status, 201);

    let (_, cy_history) = app.get("/v1/purchases", &cy).await;
    assert_eq!(cy_history["total"], 1);
    assert_eq!(cy_history["purchases"][0]["total_cents"], 2 * 3_000 + 1_500);
    let (_, di_history) = app.get("/v1/purchases", &di).await;
    assert_eq!(di_history["total"], 1);
    assert_eq!(di_history["purchases"][0]["lines"][0]["title"], "Bo's book");

    let (_, ada_sales) = app.get("/v1/sales", &ada).await;
    assert_eq!(
        strings(&ada_sales["sales"], "title"),
        ["Ada's vase"],
        "Ada sees only her own item's line"
    );
    assert_eq!(
        (
            ada_sales["total_quantity"].as_i64(),
            ada_sales["total_cents"].as_i64()
        ),
        (Some(2), Some(6_000))
    );
    assert_eq!(ada_sales["sales"][0]["buyer_name"], "Cy");
    assert_eq!(ada_sales["total_lines"], 1);
    let (_, bo_sales) = app.get("/v1/sales", &bo).await;
    assert_eq!(
        (
            bo_sales["total_quantity"].as_i64(),
            bo_sales["total_cents"].as_i64()
        ),
        (Some(4), Some(6_000))
    );
}

#[tokio::test]
async fn a_purchase_is_shown_to_its_buyer_alone_and_anyone_else_hears_it_does_not_exist() {
    let app = spawn_app().await;
    let (sal, cy, di) = (person("Sal"), person("Cy"), person("Di"));
    let item = app.list(&sal, "Teapot", 2_400, 5).await;
    let (status, bought) = app
        .buy(
            &cy,
            &unique_name("k"),
            json!([{ "item_id": item, "quantity": 2 }]),
        )
        .await;
    assert_eq!(status, 201, "{bought}");
    let id = bought["id"].as_str().expect("id");

    let (status, shown) = app.get(&format!("/v1/purchases/{id}"), &cy).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown, bought, "the same purchase as the answer to buying");

    // Someone else's purchase and one that never was read alike.
    let (status, body) = app.get(&format!("/v1/purchases/{id}"), &di).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "you have no purchase with this id");
    let (status, _) = app.get("/v1/purchases/0123456789abcdef01234567", &cy).await;
    assert_eq!(status, 404);
    // Not an id at all: the field is named.
    let (status, body) = app.get("/v1/purchases/..%2Fsales", &cy).await;
    assert_invalid(status, &body, "purchase_id");
    // Without a signed identity, nobody's purchase is shown.
    let (status, _) =
        testkit::answers::send(app.transactions.get(&format!("/v1/purchases/{id}"))).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_sellers_sales_come_a_page_at_a_time_newest_first_with_totals_of_all_pages() {
    let app = spawn_app().await;
    let (sal, other_seller, cy) = (person("Sal"), person("Otto"), person("Cy"));
    let cup = app.list(&sal, "Cup", 300, 1_000).await;
    let saucer = app.list(&other_seller, "Saucer", 200, 100).await;
    let mut bought = Vec::new();
    for n in 1..=25 {
        // Every purchase also holds another seller's line, which Sal never sees.
        let (status, purchase) = app
            .buy(
                &cy,
                &unique_name("k"),
                json!([{ "item_id": cup, "quantity": n }, { "item_id": saucer, "quantity": 1 }]),
            )
            .await;
        assert_eq!(status, 201, "{purchase}");
        bought.push(purchase["id"].as_str().expect("id").to_owned());
    }
    bought.reverse();

    let (status, first) = app.get("/v1/sales", &sal).await;
    assert_eq!(status, 200, "{first}");
    let (_, second) = app.get("/v1/sales?page=2", &sal).await;
    let shown: Vec<&str> = strings(&first["sales"], "transaction_id")
        .into_iter()
        .chain(strings(&second["sales"], "transaction_id"))
        .collect();
    assert_eq!(shown, bought, "newest first, each purchase's line once");
    assert_eq!(strings(&first["sales"], "title").len(), 20);
    assert!(
        strings(&second["sales"], "title")
            .iter()
            .all(|t| *t == "Cup")
    );
    let units: i64 = (1..=25).sum();
    for page in [&first, &second] {
        assert_eq!(
            (
                page["total_lines"].as_u64(),
                page["total_quantity"].as_i64(),
                page["total_cents"].as_i64()
            ),
            (Some(25), Some(units), Some(units * 300)),
            "the totals are of every page: {page}"
        );
    }
    assert_eq!(second["sales"][4]["quantity"], 1, "the oldest comes last");

    let (status, body) = app.get("/v1/sales?page=0", &sal).await;
    assert_invalid(status, &body, "page");
    let (_, nothing) = app.get("/v1/sales", &cy).await;
    assert_eq!(
        (
            nothing["total_lines"].as_u64(),
            nothing["total_cents"].as_i64()
        ),
        (Some(0), Some(0)),
        "{nothing}"
    );
}

#[tokio::test]
async fn daily_sales_sum_each_of_the_last_thirty_days_from_the_stored_purchases() {
    let app = spawn_app().await;
    let (sal, other_seller, cy) = (person("Sal"), person("Otto"), person("Cy"));
    let bowl = app.list(&sal, "Bowl", 1_250, 100).await;
    let jug = app.list(&other_seller, "Jug", 900, 100).await;
    let mut ids = Vec::new();
    for quantity in [2, 3, 1, 4] {
        let (status, purchase) = app
            .buy(
                &cy,
                &unique_name("k"),
                json!([{ "item_id": bowl, "quantity": quantity }, { "item_id": jug, "quantity": 1 }]),
            )
            .await;
        assert_eq!(status, 201, "{purchase}");
        ids.push(purchase["id"].as_str().expect("id").to_owned());
    }
    // Seeded back in time in the database: 2 bowls 5 days ago, 3 bowls 45 days ago (outside
    // the chart); 1 + 4 bowls today.
    let backdate = |id: &str, days: i64| {
        let (mongo, id) = (app.mongo.clone(), id.to_owned());
        async move {
            transaction_service::testing::backdate(&mongo, &id, days)
                .await
                .expect("back-date");
        }
    };
    backdate(&ids[0], 5).await;
    backdate(&ids[1], 45).await;

    let (status, daily) = app.get("/v1/sales/daily", &sal).await;
    assert_eq!(status, 200, "{daily}");
    let days = daily["days"].as_array().expect("days");
    assert_eq!(days.len(), 30);
    let day_numbers: Vec<i64> = days.iter().filter_map(|d| d["day"].as_i64()).collect();
    let today = wire::calendar::day_of(mongodb::bson::DateTime::now().timestamp_millis());
    assert_eq!(
        day_numbers,
        ((today - 29)..=today).collect::<Vec<_>>(),
        "oldest first"
    );
    let cents: Vec<i64> = days.iter().filter_map(|d| d["cents"].as_i64()).collect();
    let mut expected = vec![0; 30];
    expected[29] = 5 * 1_250;
    expected[24] = 2 * 1_250;
    assert_eq!(cents, expected, "{daily}");
    assert_eq!(days[29]["quantity"], 5);

    // The other seller's chart holds only the jugs.
    let (_, theirs) = app.get("/v1/sales/daily", &other_seller).await;
    assert_eq!(theirs["days"][29]["cents"], 2 * 900, "{theirs}");
    // Without a signed identity, nobody's.
    let (status, _) = testkit::answers::send(app.transactions.get("/v1/sales/daily")).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn purchases_made_while_kafka_is_down_are_delivered_and_each_gets_one_receipt_when_it_returns()
 {
    let mut kafka = KafkaBroker::start().await;
    let app = spawn_app_with_kafka(&kafka.brokers()).await;
    let receipts = app.receipt_worker().await;
    let seller = person("Kit");
    let item = app.list(&seller, "Kite", 2_000, 20).await;

    kafka.stop().await;
    let buyers: Vec<Identity> = (0..5).map(|n| person(&format!("lu{n}"))).collect();
    for buyer in &buyers {
        let (status, body) = app
            .buy(
                buyer,
                &unique_name("k"),
                json!([{ "item_id": item, "quantity": 1 }]),
            )
            .await;
        assert_eq!(status, 201, "accepted while Kafka is down: {body}");
    }
    assert_eq!(app.outbox_backlog().await, 5, "all five wait in the outbox");

    kafka.restart().await;
    let started = std::time::Instant::now();
    while app.outbox_backlog().await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the outbox did not drain after Kafka returned"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let events = read_topic(&kafka.brokers(), &app.topic, 5, Duration::from_secs(30)).await;
    let mut ids: Vec<String> = events
        .iter()
        .filter_map(|e| serde_json::from_slice::<Value>(e).ok())
        .filter_map(|e| e["transaction_id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "every purchase reached Kafka");

    let mailbox = testkit::Mailbox::default();
    for buyer in &buyers {
        let emails = mailbox
            .wait_for(&buyer.email, 1, Duration::from_secs(60))
            .await;
        assert_eq!(emails.len(), 1, "exactly one receipt for {}", buyer.email);
    }
    receipts.stop();
}

/// How many times a sweeper claimed a stored purchase.
fn sweep_claims(purchase: &mongodb::bson::Document) -> i64 {
    match purchase.get("sweep_claims") {
        Some(mongodb::bson::Bson::Int32(n)) => i64::from(*n),
        Some(mongodb::bson::Bson::Int64(n)) => *n,
        other => panic!("sweep_claims: {other:?}"),
    }
}

#[tokio::test]
async fn two_copies_settle_each_purchase_left_pending_exactly_once() {
    let app = spawn_app().await;
    let seller = person("Pat");
    let item = app.list(&seller, "Pan", 1_500, 10).await;
    // A copy that cannot reach the inventory service leaves its purchases pending.
    let stranded = app
        .transaction_copy("http://127.0.0.1:9", Duration::from_secs(3600))
        .await;
    for n in 0..4 {
        let request = stranded
            .post("/v1/purchases")
            .header("Idempotency-Key", unique_name("k"))
            .json(&json!({ "lines": [{ "item_id": item, "quantity": 1 }] }));
        let (status, body) = app.send(request, &person(&format!("pe{n}"))).await;
        assert_eq!(status, 503, "{body}");
    }
    assert_eq!(app.item(&item).await["stock"], 10, "nothing reserved yet");

    let sweepers = [
        app.transaction_copy(&app.inventory.base_url, Duration::from_secs(1))
            .await,
        app.transaction_copy(&app.inventory.base_url, Duration::from_secs(1))
            .await,
    ];
    let settled = app.wait_until_settled(4, Duration::from_secs(30)).await;
    for purchase in &settled {
        assert_eq!(sweep_claims(purchase), 1, "claimed once: {purchase:?}");
    }
    let pan = app.item(&item).await;
    assert_eq!(
        (pan["stock"].clone(), pan["sold"].clone()),
        (json!(6), json!(4))
    );
    stranded.stop();
    for sweeper in sweepers {
        sweeper.stop();
    }
}

#[tokio::test]
async fn a_purchase_whose_process_is_killed_mid_way_is_settled_by_another_copy_with_one_receipt() {
    let app = spawn_app().await;
    let receipts = app.receipt_worker().await;
    let seller = person("Sid");
    let item = app.list(&seller, "Stool", 3_000, 5).await;
    let infra = Infra::from_env();

    // A copy in a process of its own, reaching the inventory service through a link the
    // test can cut.
    let link =
        testkit::TcpProxy::start_recording(&testkit::host_port(&app.inventory.base_url)).await;
    let port = testkit::free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let mut doomed = std::process::Command::new(env!("CARGO_BIN_EXE_transaction-service"))
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("MONGODB_URI", &app.mongo.uri)
        .env("MONGODB_DATABASE", &app.mongo.database)
        .env("REDIS_URL", &infra.redis_url)
        .env("KAFKA_BROKERS", &app.kafka_brokers)
        .env("PURCHASES_TOPIC", &app.topic)
        .env("INTERNAL_AUTH_SECRET", testkit::IDENTITY_SECRET)
        .env("INVENTORY_SERVICE_URL", link.url("http"))
        .env("PENDING_PURCHASE_BOUND_SECS", "3600")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the transaction-service binary");
    testkit::wait_until_process_ready(&base_url, &mut doomed, Duration::from_secs(30)).await;

    let buyer = person("Ada");
    let attempt = reqwest::Client::new()
        .post(format!("{base_url}/v1/purchases"))
        .header(IDENTITY_HEADER, app.key.sign(&buyer, SystemTime::now()))
        .header("Idempotency-Key", unique_name("k"))
        .json(&json!({ "lines": [{ "item_id": item, "quantity": 1 }] }))
        .send();
    let attempt = tokio::spawn(attempt);
    // The moment the reservation leaves for the inventory service, the link goes down and
    // the process is killed (SIGKILL): it never hears the answer, never completes.
    let started = std::time::Instant::now();
    while !link.sent_text().contains("/v1/reservations") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no reservation was sent"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    link.cut();
    doomed.kill().expect("SIGKILL");
    let _ = doomed.wait();
    let answered = attempt.await.expect("the attempt's task");
    assert!(
        answered.map(|r| r.status().as_u16() != 201).unwrap_or(true),
        "the killed copy did not answer the purchase"
    );
    assert_eq!(
        app.stored_purchases().await[0].get_str("status"),
        Ok("pending"),
        "left half-way"
    );

    // Another copy settles it once it has been pending longer than its bound.
    let sweeper = app
        .transaction_copy(&app.inventory.base_url, Duration::from_secs(2))
        .await;
    let settled = app.wait_until_settled(1, Duration::from_secs(30)).await;
    assert_eq!(sweep_claims(&settled[0]), 1);
    let stool = app.item(&item).await;
    assert_eq!(
        (stool["stock"].clone(), stool["sold"].clone()),
        (json!(4), json!(1))
    );
    let emails = testkit::Mailbox::default()
        .wait_for(&buyer.email, 1, Duration::from_secs(60))
        .await;
    assert_eq!(emails.len(), 1, "exactly one receipt");
    sweeper.stop();
    receipts.stop();
}
