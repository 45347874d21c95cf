//! A long run at a steady purchase rate (a soak), watching what must stay flat when the stack
//! holds load for a long time: each local process's memory (resident set), the outbox backlog,
//! the receipt workers' Kafka consumer lag, and the purchase latency. Best started from empty
//! stores (`scripts/start.sh fresh`); it buys through the gateway like `purchase-bench`.
//!
//! Every `interval` seconds it prints one row; at the end, each figure of the last window as a
//! ratio to the first (the baseline, measured in the same run after a warm-up window): memory
//! that keeps growing, a backlog or a lag that does not come back, or latency that creeps up
//! show there.
//!
//!   cargo run --release -p bench --bin soak-bench -- [minutes] [rate] [interval]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bench::percentile;
use bench::shop::Setup;
use clients::CallContext;
use common::config::env_or;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// Units each bench item starts with: enough for hours at any rate this machine sustains.
const INITIAL_STOCK: i64 = 100_000_000;

/// The processes `scripts/start.sh` and `scripts/infra.sh` started (their pid files), with the
/// resident memory of each in KiB; those not running are left out.
fn resident_memory() -> BTreeMap<String, u64> {
    let run_dir = std::env::var("MARKETPLACE_LOCAL")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(".local"))
        .join("run");
    let mut memory = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(&run_dir) else {
        return memory;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".pid"))
        else {
            continue;
        };
        let rss = std::fs::read_to_string(&path)
            .ok()
            .and_then(|pid| std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).ok())
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("VmRSS:"))
                    .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
            });
        if let Some(rss) = rss {
            memory.insert(name.to_owned(), rss);
        }
    }
    memory
}

/// How far the receipt workers' group is behind the end of the purchases topic, in records.
struct ConsumerLag {
    client: BaseConsumer,
}

impl ConsumerLag {
    fn new() -> anyhow::Result<Self> {
        let client = ClientConfig::new()
            .set(
                "bootstrap.servers",
                common::infra::kafka::brokers_from_env(),
            )
            // The workers' own group: its committed offsets are read, the group is not joined.
            .set("group.id", env_or("RECEIPT_GROUP", "receipt-workers"))
            .set("enable.auto.commit", "false")
            .create()?;
        Ok(Self { client })
    }

    /// Records published but not yet committed by the group, over every partition.
    fn records_behind(&self) -> anyhow::Result<i64> {
        let topic = wire::kafka_topics::PURCHASES;
        let timeout = Duration::from_secs(5);
        let metadata = self.client.fetch_metadata(Some(topic), timeout)?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        let mut wanted = TopicPartitionList::new();
        for partition in &partitions {
            wanted.add_partition(topic, *partition);
        }
        let committed = self.client.committed_offsets(wanted, timeout)?;
        let mut behind = 0;
        for partition in partitions {
            let (low, high) = self.client.fetch_watermarks(topic, partition, timeout)?;
            let done = match committed
                .find_partition(topic, partition)
                .map(|p| p.offset())
            {
                Some(Offset::Offset(offset)) => offset,
                _ => low,
            };
            behind += (high - done).max(0);
        }
        Ok(behind)
    }
}

/// One window's purchases: latencies from the scheduled send, and how many were refused.
#[derive(Default, Clone)]
struct Window {
    latencies: Vec<Duration>,
    refused: usize,
}

/// What was sampled at the end of one window.
struct Sample {
    window: Window,
    outbox: u64,
    lag: i64,
    memory: BTreeMap<String, u64>,
}

fn ratio(last: f64, first: f64) -> String {
    if first > 0.0 {
        format!("{:.2}", last / first)
    } else {
        "—".to_owned()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let minutes: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let rate: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100);
    let interval: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(30);
    anyhow::ensure!(
        rate > 0 && interval > 0,
        "rate and interval must be above 0"
    );

    let setup = Setup::new(64, 0, INITIAL_STOCK).await?;
    let lag = ConsumerLag::new().context("a Kafka client for the consumer lag")?;
    let (shop, buyers) = (setup.shop.clone(), Arc::new(setup.buyers));
    let total = u64::from(rate) * minutes * 60;
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let windows = (minutes * 60).div_ceil(interval) as usize;
    println!(
        "soak: {rate} purchases/s for {minutes} min, a row every {interval} s \
         (memory in MiB; latency from the scheduled send)"
    );

    // Results come back on a channel as purchases finish; the sampler folds them into the
    // window their scheduled send fell in.
    let (results, mut finished) = tokio::sync::mpsc::unbounded_channel();
    let first = tokio::time::Instant::now() + Duration::from_millis(200);
    let sender = tokio::spawn(async move {
        for n in 0..total {
            let at = first + period.mul_f64(n as f64);
            tokio::time::sleep_until(at).await;
            let (shop, buyers, results) = (shop.clone(), buyers.clone(), results.clone());
            tokio::spawn(async move {
                let buyer = &buyers[n as usize % buyers.len()];
                let item = &shop.items[n as usize % shop.items.len()];
                let outcome = shop.buy(buyer, item).await.map(|()| at.elapsed());
                let _ = results.send((at.duration_since(first), outcome));
            });
        }
    });

    let mut filled = vec![Window::default(); windows + 1];
    let mut samples: Vec<Sample> = Vec::new();
    let mut header_printed = false;
    for w in 0..windows {
        let window_end = first + Duration::from_secs(interval * (w as u64 + 1));
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(window_end) => break,
                Some((scheduled, outcome)) = finished.recv() => {
                    let at = ((scheduled.as_secs() / interval) as usize).min(windows);
                    match outcome {
                        Ok(latency) => filled[at].latencies.push(latency),
                        Err(_) => filled[at].refused += 1,
                    }
                }
            }
        }
        let outbox = setup
            .transactions
            .outbox(&CallContext::default())
            .await
            .map(|o| o.pending)
            .unwrap_or(u64::MAX);
        let behind = lag.records_behind().unwrap_or(-1);
        let memory = resident_memory();
        // A window's late answers may still come in; its row shows what had arrived.
        let mut window = filled[w].clone();
        window.latencies.sort();
        if !header_printed {
            print!(
                "{:>6} {:>8} {:>7} {:>8} {:>8} {:>7} {:>7}",
                "t s", "bought", "refused", "p50 ms", "p99 ms", "outbox", "lag"
            );
            for name in memory.keys() {
                print!(" {:>12}", name.chars().take(12).collect::<String>());
            }
            println!();
            header_printed = true;
        }
        print!(
            "{:>6} {:>8} {:>7} {:>8.1} {:>8.1} {:>7} {:>7}",
            interval * (w as u64 + 1),
            window.latencies.len(),
            window.refused,
            percentile(&window.latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&window.latencies, 0.99).as_secs_f64() * 1e3,
            outbox,
            behind
        );
        for kib in memory.values() {
            print!(" {:>12.1}", *kib as f64 / 1024.0);
        }
        println!();
        samples.push(Sample {
            window,
            outbox,
            lag: behind,
            memory,
        });
    }
    sender.await?;

    // The first window warms caches and pools: the baseline is the second when there is one.
    let baseline = samples.get(1).or(samples.first()).context("no window")?;
    let last = samples.last().context("no window")?;
    println!("\nlast window as a ratio to the baseline (window 2), 1.00 = flat:");
    println!(
        "  p99 latency      {} ({:.1} → {:.1} ms)",
        ratio(
            percentile(&last.window.latencies, 0.99).as_secs_f64(),
            percentile(&baseline.window.latencies, 0.99).as_secs_f64()
        ),
        percentile(&baseline.window.latencies, 0.99).as_secs_f64() * 1e3,
        percentile(&last.window.latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "  purchases/window {} ({} → {})",
        ratio(
            last.window.latencies.len() as f64,
            baseline.window.latencies.len() as f64
        ),
        baseline.window.latencies.len(),
        last.window.latencies.len()
    );
    for (name, kib) in &last.memory {
        if let Some(before) = baseline.memory.get(name) {
            println!(
                "  memory {name:<20} {} ({:.1} → {:.1} MiB)",
                ratio(*kib as f64, *before as f64),
                *before as f64 / 1024.0,
                *kib as f64 / 1024.0
            );
        }
    }
    let refused: usize = samples.iter().map(|s| s.window.refused).sum();
    let max_outbox = samples.iter().map(|s| s.outbox).max().unwrap_or_default();
    let max_lag = samples.iter().map(|s| s.lag).max().unwrap_or_default();
    println!(
        "  outbox backlog: at most {max_outbox}, at the end {}; consumer lag: at most {max_lag}, at the end {}; {refused} purchases refused",
        last.outbox, last.lag
    );
    Ok(())
}
