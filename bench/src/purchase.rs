//! Purchases through the gateway of the running stack, best started from empty stores
//! (`scripts/start.sh fresh`): signed-in buyers press "Buy now" as a form post.
//!
//! 1. **Baseline**: the machine's raw MongoDB single-document update rate, same run.
//! 2. **Closed loop**: `buyers` clients buy one item after another for `seconds`.
//! 3. **Open loop**: purchases are sent at a fixed `rate` for `seconds`, each with its own
//!    idempotency key, whatever the answers do; latency counts from the scheduled send time, so
//!    a stalled server shows as latency instead of slowing the sender down. Afterwards: errors,
//!    oversell (every bench item's stock + sold must still equal what it started with, and the
//!    units sold must equal the purchases accepted), how long the outbox took to drain after the
//!    last send, and purchase → receipt email for probe buyers (every 100th purchase; each probe
//!    buyer's emails are paired in order with its purchases, timed by the mailbox's arrival stamp).
//!
//!   cargo run --release -p bench --bin purchase-bench -- [seconds] [buyers] [rate]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use bench::percentile;
use bench::shop::{Buyer, Setup, Shop};
use clients::{CallContext, TransactionClient};
use common::config::env_or;
use mongodb::bson::doc;
use testkit::{Mailbox, unique_name};

/// Units each bench item starts with: enough that no run sells out.
const INITIAL_STOCK: i64 = 1_000_000;
/// One open-loop purchase in this many is made by a probe buyer whose receipts are timed.
const PROBE_EVERY: usize = 100;
const PROBE_BUYERS: usize = 10;

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

/// Latencies of accepted purchases, sorted, and the refusals counted by reason.
#[derive(Default)]
struct Outcome {
    latencies: Vec<Duration>,
    refused: std::collections::BTreeMap<String, usize>,
}

impl Outcome {
    fn record(&mut self, result: Result<Duration, String>) {
        match result {
            Ok(latency) => self.latencies.push(latency),
            Err(reason) => *self.refused.entry(reason).or_default() += 1,
        }
    }

    fn refused_total(&self) -> usize {
        self.refused.values().sum()
    }

    fn summary(&mut self) -> String {
        self.latencies.sort();
        format!(
            "{} accepted, {} refused {:?}; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.latencies.len(),
            self.refused_total(),
            self.refused,
            percentile(&self.latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&self.latencies, 0.99).as_secs_f64() * 1e3,
            self.latencies
                .last()
                .copied()
                .unwrap_or_default()
                .as_secs_f64()
                * 1e3,
        )
    }
}

/// `buyers` clients, each buying again as soon as its last purchase is answered.
async fn closed_loop(shop: &Shop, buyers: &[Buyer], seconds: u64) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let runs = buyers.iter().enumerate().map(|(n, buyer)| async move {
        let mut outcome = Outcome::default();
        let mut k = 0usize;
        while Instant::now() < deadline {
            let item = &shop.items[(n + k) % shop.items.len()];
            k += 1;
            let sent = Instant::now();
            outcome.record(shop.buy(buyer, item).await.map(|()| sent.elapsed()));
        }
        outcome
    });
    let mut total = Outcome::default();
    for outcome in futures::future::join_all(runs).await {
        total.latencies.extend(outcome.latencies);
        for (reason, count) in outcome.refused {
            *total.refused.entry(reason).or_default() += count;
        }
    }
    total
}

/// The open loop's result: the outcome, and for each probe buyer the wall-clock scheduled
/// times of its accepted purchases.
struct OpenRun {
    outcome: Outcome,
    probe_sends: Vec<Vec<SystemTime>>,
    last_send: Instant,
}

/// Sends `rate` purchases a second for `seconds`, each on its own task at its scheduled time.
async fn open_loop(
    shop: Arc<Shop>,
    buyers: Arc<Vec<Buyer>>,
    probes: Arc<Vec<Buyer>>,
    rate: u32,
    seconds: u64,
) -> OpenRun {
    let total = rate as usize * seconds as usize;
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let lead = Duration::from_millis(200);
    let (first, first_wall) = (tokio::time::Instant::now() + lead, SystemTime::now() + lead);
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..total {
        let offset = period.mul_f64(n as f64);
        let at = first + offset;
        tokio::time::sleep_until(at).await;
        let probe = (n % PROBE_EVERY == 0).then_some((n / PROBE_EVERY) % PROBE_BUYERS);
        let (shop, buyers, probes) = (shop.clone(), buyers.clone(), probes.clone());
        sends.spawn(async move {
            let buyer = match probe {
                Some(p) => &probes[p],
                None => &buyers[n % buyers.len()],
            };
            let result = shop.buy(buyer, &shop.items[n % shop.items.len()]).await;
            (probe, first_wall + offset, result.map(|()| at.elapsed()))
        });
    }
    let last_send = Instant::now();
    let mut run = OpenRun {
        outcome: Outcome::default(),
        probe_sends: vec![Vec::new(); PROBE_BUYERS],
        last_send,
    };
    while let Some(joined) = sends.join_next().await {
        let Ok((probe, scheduled, result)) = joined else {
            continue;
        };
        if let (Some(p), Ok(_)) = (probe, &result) {
            run.probe_sends[p].push(scheduled);
        }
        run.outcome.record(result);
    }
    run
}

/// Waits until no purchase waits in the outbox; how long after `since` that was. A service
/// still working off an overload may not answer at once; it is asked again.
async fn outbox_drained(
    transactions: &TransactionClient,
    since: Instant,
) -> anyhow::Result<Duration> {
    let context = CallContext::default();
    loop {
        match transactions.outbox(&context).await {
            Ok(backlog) if backlog.pending == 0 => return Ok(since.elapsed()),
            Ok(_) => {}
            Err(err) => eprintln!("the outbox count did not come ({err}); asking again"),
        }
        if since.elapsed() > Duration::from_secs(120) {
            anyhow::bail!(
                "the outbox still holds purchases (or went unanswered) 120 s after the last send"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Purchase → receipt email delays of the probe buyers: each one's emails (by the mailbox's
/// arrival stamp) paired in order with its purchases' scheduled send times. Waits up to a
/// minute for every email.
async fn receipt_delays(probes: &[Buyer], sends: &[Vec<SystemTime>]) -> (Vec<Duration>, usize) {
    let mailbox = Mailbox::default();
    let mut delays = Vec::new();
    let mut missing = 0;
    for (buyer, sent) in probes.iter().zip(sends) {
        let emails = mailbox
            .wait_for(&buyer.email, sent.len(), Duration::from_secs(60))
            .await;
        let mut arrived: Vec<SystemTime> = emails
            .iter()
            .filter_map(|email| mongodb::bson::DateTime::parse_rfc3339_str(&email.created).ok())
            .map(SystemTime::from)
            .collect();
        arrived.sort();
        let mut sent = sent.clone();
        sent.sort();
        missing += sent.len().saturating_sub(arrived.len());
        for (sent, arrived) in sent.iter().zip(&arrived) {
            delays.push(arrived.duration_since(*sent).unwrap_or_default());
        }
    }
    delays.sort();
    (delays, missing)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let buyers: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(16);
    let rate: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1_000);
    let Setup {
        shop,
        buyers: sessions,
        probes,
        inventory,
        transactions,
    } = Setup::new(buyers, PROBE_BUYERS, INITIAL_STOCK).await?;

    println!("MongoDB raw single-document updates ({buyers} concurrent, {seconds} s)…");
    let baseline = mongo_update_rate(seconds, buyers).await?;

    println!("closed loop: {buyers} buyers, each buying again when answered, {seconds} s…");
    let started = Instant::now();
    let mut closed = closed_loop(&shop, &sessions, seconds).await;
    let closed_rate = closed.latencies.len() as f64 / started.elapsed().as_secs_f64();
    outbox_drained(&transactions, Instant::now()).await?;

    println!("open loop: {rate} purchases/s for {seconds} s…");
    let sessions = Arc::new(sessions);
    let probes = Arc::new(probes);
    let started = Instant::now();
    let mut open = open_loop(shop.clone(), sessions, probes.clone(), rate, seconds).await;
    let open_rate = open.outcome.latencies.len() as f64 / started.elapsed().as_secs_f64();
    let answered_after_last_send = open.last_send.elapsed();
    let drained = outbox_drained(&transactions, open.last_send).await?;

    // Oversell: nothing sold that was not bought, and stock + sold unchanged per item.
    let mut sold = 0;
    let mut inconsistent = Vec::new();
    for item in &shop.items {
        let view = inventory
            .item(&CallContext::default(), item)
            .await?
            .context("a bench item disappeared")?;
        sold += view.sold;
        if view.stock + view.sold != INITIAL_STOCK {
            inconsistent.push(format!("{item}: stock {} + sold {}", view.stock, view.sold));
        }
    }
    let accepted = (closed.latencies.len() + open.outcome.latencies.len()) as i64;
    let (delays, missing) = receipt_delays(&probes, &open.probe_sends).await;

    println!("\n{:<46} {:>10} {:>8}", "", "per s", "ratio");
    println!(
        "{:<46} {:>10.0} {:>8.4}",
        "MongoDB raw single-document update (baseline)", baseline, 1.0
    );
    println!(
        "{:<46} {:>10.0} {:>8.4}",
        format!("purchases, closed loop ({buyers} buyers)"),
        closed_rate,
        closed_rate / baseline
    );
    println!(
        "{:<46} {:>10.0} {:>8.4}",
        format!("purchases, open loop (offered {rate}/s)"),
        open_rate,
        open_rate / baseline
    );
    println!("\nclosed loop: {}", closed.summary());
    println!(
        "open loop:   {} (from the scheduled send)",
        open.outcome.summary()
    );
    println!(
        "open loop:   last answer {:.1} s after the last send; outbox empty {:.1} s after it",
        answered_after_last_send.as_secs_f64(),
        drained.as_secs_f64()
    );
    println!(
        "oversell:    {} units sold for {accepted} accepted purchases; {}",
        sold,
        if inconsistent.is_empty() {
            "stock + sold unchanged on every item".to_owned()
        } else {
            format!("INCONSISTENT: {}", inconsistent.join(", "))
        }
    );
    println!(
        "receipts:    purchase → email for {} probe purchases: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {missing} not arrived within 60 s",
        delays.len(),
        percentile(&delays, 0.5).as_secs_f64() * 1e3,
        percentile(&delays, 0.99).as_secs_f64() * 1e3,
        delays.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    Ok(())
}
