//! Purchases through the gateway of the running stack (`scripts/start.sh`): concurrent
//! buyers, each signed in with a session cookie, buy one item at a time with "Buy now".
//! Reports purchases/s, p50/p99 latency and the purchase → receipt email delay, beside the
//! machine's raw MongoDB single-document update rate measured in the same run.
//!
//!   cargo run --release -p bench --bin purchase-bench -- [seconds] [buyers]

use bench::percentile;
use common::config::env_or;
use std::time::{Duration, Instant};

use anyhow::Context;
use clients::CallContext;
use mongodb::bson::doc;
use serde_json::json;
use testkit::{Mailbox, unique_name};
use wire::inventory::NewItem;
use wire::user::{LogInRequest, RegisterRequest};

/// Concurrent `$inc` of one field on one document per worker: the floor under any purchase.
async fn mongo_update_rate(seconds: u64, workers: usize) -> anyhow::Result<f64> {
    let uri = env_or("MONGODB_URI", "mongodb://127.0.0.1:27017");
    let client = common::infra::mongo::connect(&uri, "purchase-bench").await?;
    let database = client.database(&unique_name("bench"));
    let counters = database.collection::<mongodb::bson::Document>("counters");
    for n in 0..workers {
        counters
            .insert_one(doc! { "_id": n as i64, "n": 0_i64 })
            .await?;
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let runs = (0..workers).map(|n| {
        let counters = counters.clone();
        async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                if counters
                    .update_one(doc! { "_id": n as i64 }, doc! { "$inc": { "n": 1 } })
                    .await
                    .is_ok()
                {
                    done += 1;
                }
            }
            done
        }
    });
    let total: u64 = futures::future::join_all(runs).await.into_iter().sum();
    let rate = total as f64 / started.elapsed().as_secs_f64();
    database.drop().await?;
    Ok(rate)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let buyers: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(16);
    let gateway = env_or("GATEWAY_URL", "http://127.0.0.1:3000");
    let user_service = env_or("USER_SERVICE_URL", "http://127.0.0.1:8081");
    let inventory = env_or("INVENTORY_SERVICE_URL", "http://127.0.0.1:8082");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // Ten items with plenty of stock, listed by a bench seller, so the run measures purchases
    // rather than "sold out" answers.
    let key = common::identity::IdentityKey::from_env()
        .context("INTERNAL_AUTH_SECRET (see the README's Benchmarks)")?;
    let seller = common::identity::Identity {
        user_id: format!("{:0>24x}", std::process::id()).parse()?,
        display_name: "Bench seller".into(),
        email: "bench-seller@bench.example".into(),
    };
    let services = clients::http_client();
    let inventory = clients::InventoryClient::new(services.clone(), &inventory, key.clone())?;
    let users = clients::UserClient::new(services, &user_service, key)?;
    let mut items = Vec::new();
    for n in 0..10 {
        let item = NewItem {
            title: format!("Bench item {n}"),
            description: None,
            price_cents: 100 + n,
            stock: 1_000_000,
            image_url: None,
            request_id: None,
        };
        let item = inventory
            .create_item(&CallContext::default(), &seller, &item)
            .await?;
        items.push(item.id.to_string());
    }
    let item_page = http
        .get(format!("{gateway}/items?itemId={}", items[0]))
        .send()
        .await?
        .text()
        .await?;
    let action = item_page
        .split(r#"action="/api/buy"#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|suffix| format!("/api/buy{suffix}"))
        .context("no Buy now form on the item page")?;

    // One signed-in buyer per concurrent client.
    let mut sessions = Vec::new();
    for n in 0..buyers {
        let email = format!("{}-{n}@bench.example", unique_name("buyer"));
        // The user service hears of each buyer from an address of its own, so the
        // per-address limits see sixteen people, not one.
        let context = CallContext {
            request_id: None,
            client_address: Some(format!("198.18.{}.{}", n / 250, n % 250 + 1)),
        };
        let registration = RegisterRequest {
            email: email.clone(),
            password: "bench-password".into(),
            display_name: format!("Bench buyer {n}"),
        };
        users.register(&context, &registration).await?;
        let log_in = LogInRequest {
            email: email.clone(),
            password: "bench-password".into(),
        };
        let id = users.log_in(&context, &log_in).await?.session_id;
        sessions.push((format!("session={id}"), email));
    }

    println!("MongoDB raw single-document updates ({buyers} concurrent, {seconds} s)…");
    let baseline = mongo_update_rate(seconds, buyers).await?;

    println!("purchases through the gateway ({buyers} buyers, {seconds} s)…");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let runs = sessions.iter().enumerate().map(|(n, (cookie, _))| {
        let (http, gateway, action, items) = (&http, &gateway, &action, &items);
        async move {
            let mut latencies = Vec::new();
            let mut refused = 0;
            let mut k = 0usize;
            while Instant::now() < deadline {
                let item = &items[(n + k) % items.len()];
                k += 1;
                let lines = json!([{ "item_id": item, "quantity": 1 }]).to_string();
                let key = unique_name("bench-key");
                let sent = Instant::now();
                let response = http
                    .post(format!("{gateway}{action}"))
                    .header("cookie", cookie)
                    // A form on the gateway's own page (the gateway refuses cross-site posts).
                    .header("origin", gateway.as_str())
                    .form(&[("lines", lines.as_str()), ("key", key.as_str())])
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() || r.status().is_redirection() => {
                        latencies.push(sent.elapsed());
                    }
                    _ => refused += 1,
                }
            }
            (latencies, refused)
        }
    });
    let results = futures::future::join_all(runs).await;
    let elapsed = started.elapsed().as_secs_f64();
    let refused: usize = results.iter().map(|r| r.1).sum();
    let mut latencies: Vec<Duration> = results.iter().flat_map(|r| r.0.clone()).collect();
    latencies.sort();
    let rate = latencies.len() as f64 / elapsed;

    // Purchase → email, measured on its own once the run's receipts have drained: one buyer
    // buys ten times in a row and waits for each receipt to arrive.
    let mailbox = Mailbox::default();
    let (cookie, email) = &sessions[0];
    let mut seen = mailbox.to(email).await.len();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = mailbox.to(email).await.len();
        if now == seen {
            break;
        }
        seen = now;
    }
    let mut delays = Vec::new();
    for n in 0..10 {
        let item = &items[n % items.len()];
        let lines = json!([{ "item_id": item, "quantity": 1 }]).to_string();
        let key = unique_name("bench-delay");
        let sent = Instant::now();
        let response = http
            .post(format!("{gateway}{action}"))
            .header("cookie", cookie)
            .form(&[("lines", lines.as_str()), ("key", key.as_str())])
            .send()
            .await?;
        if !(response.status().is_success() || response.status().is_redirection()) {
            continue;
        }
        while mailbox.to(email).await.len() <= seen && sent.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        seen = mailbox.to(email).await.len();
        delays.push(sent.elapsed());
    }
    delays.sort();

    println!("\n{:<44} {:>10} {:>8}", "", "per s", "ratio");
    println!(
        "{:<44} {:>10.0} {:>8.4}",
        "MongoDB raw single-document update (baseline)", baseline, 1.0
    );
    println!(
        "{:<44} {:>10.0} {:>8.4}",
        "purchases through the gateway",
        rate,
        rate / baseline
    );
    println!(
        "\npurchases: {} accepted, {refused} refused (sold out or errors); latency p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "purchase → receipt email (one buyer, {} purchases in a row): p50 {:.0} ms, max {:.0} ms",
        delays.len(),
        percentile(&delays, 0.5).as_secs_f64() * 1e3,
        delays.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    Ok(())
}
