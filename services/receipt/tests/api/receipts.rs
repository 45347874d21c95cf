//! Receipt workers against the real Kafka broker, MongoDB and SMTP server; the test reads
//! the mailbox back.

use std::time::{Duration, Instant, SystemTime};

use common::identity::{IDENTITY_HEADER, Identity};
use common::infra::mongo::MongoSettings;
use receipt_service::Config;
use serde_json::{Value, json};
use testkit::{Email, Infra, Mailbox, TestService, produce, unique_name};
use wire::events::{LiveEvent, PurchaseEvent};
use wire::receipt::mask_email;
use wire::transaction::PurchaseLine;

struct Setup {
    infra: Infra,
    topic: String,
    group: String,
    database: String,
}

impl Setup {
    fn new() -> Self {
        Self {
            infra: Infra::from_env(),
            topic: unique_name("purchases"),
            group: unique_name("receipt-workers"),
            database: unique_name("receipts"),
        }
    }

    async fn worker(&self) -> TestService {
        let config = Config {
            mongo: MongoSettings {
                uri: self.infra.mongodb_uri.clone(),
                database: self.database.clone(),
            },
            purchases_topic: self.topic.clone(),
            group: self.group.clone(),
            ..Config::for_tests(&self.infra)
        };
        testkit::spawn(
            receipt_service::build(config)
                .await
                .expect("receipt worker"),
        )
        .await
    }

    async fn publish(&self, event: &PurchaseEvent) {
        let payload = serde_json::to_vec(event).expect("json");
        produce(
            &self.infra.kafka_brokers,
            &self.topic,
            event.transaction_id.as_str(),
            &payload,
        )
        .await;
    }
}

fn purchase(buyer_email: &str) -> PurchaseEvent {
    let id = format!(
        "{:0>24}",
        unique_name("")
            .replace('_', "")
            .chars()
            .rev()
            .take(24)
            .collect::<String>()
    );
    PurchaseEvent {
        transaction_id: id.parse().expect("an id"),
        buyer_id: "b".repeat(24).parse().expect("an id"),
        buyer_name: "Rae <Buyer>".into(),
        buyer_email: buyer_email.into(),
        lines: vec![
            PurchaseLine {
                item_id: "a".repeat(24).parse().expect("an id"),
                title: "Brass lamp".into(),
                seller_id: "c".repeat(24).parse().expect("an id"),
                seller_name: "Ada's Workshop".into(),
                unit_price_cents: 4_950,
                quantity: 2,
                line_total_cents: 9_900,
            },
            PurchaseLine {
                item_id: "d".repeat(24).parse().expect("an id"),
                title: "Oak & walnut bowl".into(),
                seller_id: "e".repeat(24).parse().expect("an id"),
                seller_name: "Bo".into(),
                unit_price_cents: 2_500,
                quantity: 1,
                line_total_cents: 2_500,
            },
        ],
        total_cents: 12_400,
        created_at: 0,
    }
}

fn address() -> String {
    format!("{}@example.com", unique_name("buyer"))
}

async fn stats(worker: &TestService) -> Value {
    worker.get_json_as_gateway("/v1/stats").await
}

/// Waits until the worker has read the second delivery too; asserts that `to` got exactly one
/// email, and returns it.
async fn one_receipt_for_two_deliveries(
    worker: &TestService,
    mailbox: &Mailbox,
    to: &str,
) -> Vec<Email> {
    let emails = mailbox.wait_for(to, 1, Duration::from_secs(60)).await;
    let started = Instant::now();
    while stats(worker).await["duplicates_skipped"] != 1
        && started.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        stats(worker).await["duplicates_skipped"],
        1,
        "the second delivery was read"
    );
    assert_eq!(
        mailbox.to(to).await.len(),
        1,
        "one receipt, not two: {emails:?}"
    );
    emails
}

#[tokio::test]
async fn a_purchase_gets_one_receipt_listing_its_lines_and_total_even_when_delivered_twice() {
    let setup = Setup::new();
    let worker = setup.worker().await;
    let mailbox = Mailbox::default();
    let to = address();
    let event = purchase(&to);
    setup.publish(&event).await;
    setup.publish(&event).await;

    let emails = one_receipt_for_two_deliveries(&worker, &mailbox, &to).await;

    let body = mailbox.body(&emails[0]).await;
    assert!(
        body.subject.starts_with("Your receipt for order"),
        "{}",
        body.subject
    );
    for expected in [
        "2 × Brass lamp",
        "49.50 each",
        "$99.00",
        "Oak & walnut bowl",
        "Total: $124.00",
    ] {
        assert!(
            body.text.contains(expected),
            "{expected:?} missing from:\n{}",
            body.text
        );
    }
    assert!(
        body.html.contains("Oak &amp; walnut bowl") && body.html.contains("$124.00"),
        "{}",
        body.html
    );
    assert!(
        body.html.contains("Rae &lt;Buyer&gt;"),
        "names are escaped in HTML: {}",
        body.html
    );
}

/// A Redis connection subscribed to `channel`: what the worker publishes there, as it
/// happens.
async fn follow_channel(infra: &Infra, channel: &str) -> fred::prelude::Client {
    use fred::prelude::{ClientLike, PubsubInterface};
    let redis = common::infra::redis::connect(&infra.redis_url).expect("a Redis URL");
    redis.wait_for_connect().await.expect("Redis");
    redis.subscribe(channel).await.expect("subscribe");
    redis
}

#[tokio::test]
async fn the_buyer_reads_queued_then_emailed_with_a_masked_address_and_hears_it_live() {
    use fred::prelude::EventInterface;
    let setup = Setup::new();
    let worker = setup.worker().await;
    let mailbox = Mailbox::default();
    let to = address();
    let mut event = purchase(&to);
    let buyer = Identity {
        user_id: event.transaction_id.as_str().parse().expect("an id"),
        display_name: "Rae".into(),
        email: to.clone(),
    };
    event.buyer_id = buyer.user_id.clone();
    let someone_else = Identity {
        user_id: "f".repeat(24).parse().expect("an id"),
        ..buyer.clone()
    };
    let status_path = format!("/v1/receipts/{}", event.transaction_id);
    let status_for = |who: &Identity| {
        let token = testkit::identity_key().sign(who, SystemTime::now());
        testkit::answers::send(worker.get(&status_path).header(IDENTITY_HEADER, token))
    };

    let (status, answer) = status_for(&buyer).await;
    assert_eq!((status, answer), (200, json!({ "state": "queued" })));

    let subscriber =
        follow_channel(&setup.infra, &wire::redis_channels::user(&buyer.user_id)).await;
    let mut heard = subscriber.message_rx();
    setup.publish(&event).await;
    mailbox.wait_for(&to, 1, Duration::from_secs(60)).await;

    let message = tokio::time::timeout(Duration::from_secs(10), heard.recv())
        .await
        .expect("the event in time")
        .expect("a message");
    let live: LiveEvent =
        serde_json::from_str(&message.value.as_string().expect("text")).expect("a live event");
    let LiveEvent::ReceiptSent {
        transaction_id,
        to: masked,
        at,
    } = live
    else {
        panic!("not a receipt event: {live:?}");
    };
    assert_eq!(transaction_id, event.transaction_id);
    assert_eq!(masked, mask_email(&to));
    assert!(masked.starts_with("b…@example.com"), "{masked}");

    let (status, answer) = status_for(&buyer).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({ "state": "emailed", "to": masked, "at": at }),
        "the stored time is the one announced"
    );
    // Someone else asking about the purchase learns nothing.
    let (status, answer) = status_for(&someone_else).await;
    assert_eq!((status, answer), (200, json!({ "state": "queued" })));
    // Nobody unsigned, and no id that is not one.
    let (status, _) = testkit::answers::send(worker.get(&status_path)).await;
    assert_eq!(status, 401);
    let token = testkit::identity_key().sign(&buyer, SystemTime::now());
    let (status, answer) = testkit::answers::send(
        worker
            .get("/v1/receipts/..%2Fstats")
            .header(IDENTITY_HEADER, token),
    )
    .await;
    testkit::answers::assert_invalid(status, &answer, "purchase_id");
}

/// Both deliveries already wait when the worker starts, so they arrive in one batch, whose
/// records are handled side by side: still one receipt.
#[tokio::test]
async fn a_purchase_delivered_twice_before_a_worker_starts_gets_one_receipt() {
    let setup = Setup::new();
    let to = address();
    let event = purchase(&to);
    setup.publish(&event).await;
    setup.publish(&event).await;
    let worker = setup.worker().await;
    let mailbox = Mailbox::default();

    one_receipt_for_two_deliveries(&worker, &mailbox, &to).await;
}

#[tokio::test]
async fn a_record_that_can_never_be_sent_is_set_aside_and_the_next_one_still_goes_out() {
    let setup = Setup::new();
    let worker = setup.worker().await;
    let mailbox = Mailbox::default();
    // Same key for both, so both land in one partition, in this order.
    produce(&setup.infra.kafka_brokers, &setup.topic, "k", b"{ not json").await;
    let to = address();
    let event = purchase(&to);
    let payload = serde_json::to_vec(&event).expect("json");
    produce(&setup.infra.kafka_brokers, &setup.topic, "k", &payload).await;

    assert_eq!(
        mailbox
            .wait_for(&to, 1, Duration::from_secs(60))
            .await
            .len(),
        1
    );
    // Buyers' names and addresses: nobody unsigned reads them.
    let (status, _) = testkit::answers::send(worker.get("/v1/set-aside")).await;
    assert_eq!(status, 401);
    let set_aside = worker.get_json_as_gateway("/v1/set-aside").await;
    let records = set_aside["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{set_aside}");
    assert_eq!(records[0]["payload"], "{ not json");
    assert!(
        records[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not a purchase event")
    );
}

#[tokio::test]
async fn two_workers_share_the_partitions_and_one_takes_over_when_the_other_stops() {
    let setup = Setup::new();
    let first = setup.worker().await;
    let second = setup.worker().await;
    let mailbox = Mailbox::default();

    let to: Vec<String> = (0..12).map(|_| address()).collect();
    for address in &to {
        setup.publish(&purchase(address)).await;
    }
    for address in &to {
        assert_eq!(
            mailbox
                .wait_for(address, 1, Duration::from_secs(60))
                .await
                .len(),
            1,
            "{address}"
        );
    }
    let started = Instant::now();
    loop {
        let (a, b) = (stats(&first).await, stats(&second).await);
        let held = |s: &Value| s["partitions"].as_array().map_or(0, Vec::len);
        if held(&a) > 0 && held(&b) > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "partitions not shared: {a} {b}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    first.stop();
    let later: Vec<String> = (0..12).map(|_| address()).collect();
    for address in &later {
        setup.publish(&purchase(address)).await;
    }
    for address in later.iter().chain(&to) {
        assert_eq!(
            mailbox
                .wait_for(address, 1, Duration::from_secs(60))
                .await
                .len(),
            1,
            "{address}"
        );
    }
    let second_stats = stats(&second).await;
    assert!(
        second_stats["partitions"].as_array().map_or(0, Vec::len) >= 6,
        "took over every partition: {second_stats}"
    );
}
