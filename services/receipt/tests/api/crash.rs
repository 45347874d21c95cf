//! A receipt worker process killed with SIGKILL in the middle of a batch, then started again:
//! every purchase still gets exactly one receipt.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testkit::{Infra, Mailbox, TcpProxy, produce, unique_name};
use wire::events::PurchaseEvent;
use wire::transaction::PurchaseLine;

fn event(n: usize, to: &str) -> PurchaseEvent {
    PurchaseEvent {
        transaction_id: format!("{:0>24x}", n as u64 + (u64::from(std::process::id()) << 32))
            .parse()
            .expect("an id"),
        buyer_id: "b".repeat(24).parse().expect("an id"),
        buyer_name: format!("Buyer {n}"),
        buyer_email: to.to_owned(),
        lines: vec![PurchaseLine {
            item_id: "a".repeat(24).parse().expect("an id"),
            title: "Teapot".into(),
            seller_id: "c".repeat(24).parse().expect("an id"),
            seller_name: "Bo".into(),
            unit_price_cents: 3_600,
            quantity: 1,
            line_total_cents: 3_600,
        }],
        total_cents: 3_600,
        created_at: 0,
    }
}

fn start_worker(infra: &Infra, smtp_url: &str, database: &str, topic: &str, group: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_receipt-service"))
        .env("PORT", "0")
        .env("MONGODB_URI", &infra.mongodb_uri)
        .env("MONGODB_DATABASE", database)
        .env("KAFKA_BROKERS", &infra.kafka_brokers)
        .env("SMTP_URL", smtp_url)
        .env("PURCHASES_TOPIC", topic)
        .env("RECEIPT_GROUP", group)
        .env("REDIS_URL", &infra.redis_url)
        .env("INTERNAL_AUTH_SECRET", testkit::IDENTITY_SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the receipt-service binary")
}

async fn delivered(mailbox: &Mailbox, addresses: &[String]) -> Vec<usize> {
    let counts = addresses.iter().map(|a| mailbox.to(a));
    futures::future::join_all(counts)
        .await
        .into_iter()
        .map(|emails| emails.len())
        .collect()
}

#[tokio::test]
async fn a_worker_killed_mid_batch_and_restarted_sends_every_receipt_exactly_once() {
    let infra = Infra::from_env();
    let smtp = TcpProxy::start(&infra.smtp_addr()).await;
    let (database, topic, group) = (
        unique_name("receipts"),
        unique_name("purchases"),
        unique_name("workers"),
    );
    let mailbox = Mailbox::default();
    let addresses: Vec<String> = (0..40)
        .map(|n| format!("{}-{n}@example.com", unique_name("crash")))
        .collect();

    let publish = |range: std::ops::Range<usize>| {
        let (brokers, topic, addresses) = (&infra.kafka_brokers, &topic, &addresses);
        async move {
            for n in range {
                let payload = serde_json::to_vec(&event(n, &addresses[n])).expect("json");
                produce(brokers, topic, &n.to_string(), &payload).await;
            }
        }
    };

    // The first ten go out; then the mail server goes away while thirty more arrive, so the
    // worker holds a record it cannot finish, uncommitted, with more behind it, when killed.
    let mut worker = start_worker(&infra, &smtp.url("smtp"), &database, &topic, &group);
    publish(0..10).await;
    let started = Instant::now();
    while delivered(&mailbox, &addresses[..10]).await.contains(&0) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first receipts did not go out"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    smtp.cut();
    publish(10..40).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    worker.kill().expect("kill -9 the worker");
    worker.wait().expect("reap the worker");
    let before_restart = delivered(&mailbox, &addresses).await;
    assert!(
        before_restart.contains(&0),
        "the kill came mid-batch: {before_restart:?}"
    );

    smtp.restore().await;
    let mut restarted = start_worker(&infra, &smtp.url("smtp"), &database, &topic, &group);
    let started = Instant::now();
    let counts = loop {
        let counts = delivered(&mailbox, &addresses).await;
        if counts.iter().all(|c| *c >= 1) || started.elapsed() > Duration::from_secs(90) {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settled = delivered(&mailbox, &addresses).await;
    let _ = restarted.kill();
    let _ = restarted.wait();
    assert!(
        counts.iter().all(|c| *c >= 1),
        "missing receipts: {counts:?}"
    );
    assert!(
        settled.iter().all(|c| *c == 1),
        "duplicate receipts: {settled:?}"
    );
}
