//! A long run at a steady purchase rate (a soak), with live sockets open, watching what must
//! stay flat when the stack holds load for a long time: errors, latency, each local process's
//! memory (resident set), the outbox backlog, the receipt workers' Kafka consumer lag, and both
//! Redis's memory. Best started from empty stores (`scripts/start.sh fresh`); it buys through
//! the gateway like `purchase-bench`, and `sockets` browsers' live sockets follow the feed.
//!
//! Every `interval` seconds it prints one row; at the end, each figure of the last window as a
//! ratio to the baseline (the second window: the first warms caches and pools). It exits
//! non-zero when any purchase failed or any figure kept growing (see [`keeps_growing`]).
//!
//!   cargo run --release -p bench --bin soak-bench -- [minutes] [rate] [interval] [sockets]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bench::percentile;
use bench::shop::Setup;
use clients::CallContext;
use common::config::env_or;
use fred::prelude::ClientLike;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// Units each bench item starts with (the most an item may have): ten items last 27 hours at
/// 100 purchases a second.
const INITIAL_STOCK: i64 = 1_000_000;

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

/// `used_memory` of the Redis at `url`, in bytes (`INFO memory`).
async fn redis_memory(redis: &fred::prelude::Client) -> u64 {
    let info: String = redis
        .info(Some(fred::types::InfoKind::Memory))
        .await
        .unwrap_or_default();
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|bytes| bytes.trim().parse().ok())
        .unwrap_or_default()
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
    /// `used_memory` of the state Redis and of the cache Redis.
    redis: (u64, u64),
    /// Live frames the sockets received in the window.
    frames: u64,
}

/// Whether a figure sampled once a window kept growing: its last value is more than 25%
/// above its value a third of the way into the run, and each of the last three windows rose.
/// (A figure that grows at the start and then levels off — pools filling, a JIT warming — is
/// not growth; one still climbing at the end is.)
fn keeps_growing(values: &[f64]) -> bool {
    let n = values.len();
    if n < 6 {
        return false;
    }
    let early = values[n / 3];
    let last = values[n - 1];
    let rising = values[n - 4..].windows(2).all(|pair| pair[1] > pair[0]);
    early > 0.0 && last > early * 1.25 && rising
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
    let minutes: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(30);
    let rate: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    let interval: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(60);
    let sockets: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    anyhow::ensure!(
        rate > 0 && interval > 0,
        "rate and interval must be above 0"
    );

    let setup = Setup::new(64, 0, INITIAL_STOCK).await?;
    let lag = ConsumerLag::new().context("a Kafka client for the consumer lag")?;
    let state_redis = common::infra::redis::connect(&common::infra::redis::url_from_env())?;
    let cache_redis = common::infra::redis::connect(&env_or(
        "CACHE_REDIS_URL",
        &common::infra::redis::url_from_env(),
    ))?;
    state_redis.wait_for_connect().await?;
    cache_redis.wait_for_connect().await?;

    // Browsers following the feed, as every open tab does; their frames are counted.
    let gateway = env_or("GATEWAY_URL", "http://127.0.0.1:3000");
    let frames = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut listeners = tokio::task::JoinSet::new();
    for _ in 0..sockets {
        let socket = testkit::LiveSocket::connect(
            &format!("{}/live", gateway.replacen("http", "ws", 1)),
            Some(&gateway),
            &[],
        )
        .await
        .map_err(|status| anyhow::anyhow!("the live socket was refused: {status}"))?
        .subscribed(wire::socket_topics::FEED)
        .await;
        let frames = frames.clone();
        listeners.spawn(async move {
            let mut socket = socket;
            let mut counted = socket.frames_received();
            // Frames, not events: a coalesced frame carries several purchases.
            while socket.next(Duration::from_secs(3600)).await.is_some() {
                let received = socket.frames_received();
                frames.fetch_add(
                    (received - counted) as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
                counted = received;
            }
        });
    }
    let (shop, buyers) = (setup.shop.clone(), Arc::new(setup.buyers));
    let total = u64::from(rate) * minutes * 60;
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let windows = (minutes * 60).div_ceil(interval) as usize;
    println!(
        "soak: {rate} purchases/s for {minutes} min with {sockets} live sockets on the feed, a \
         row every {interval} s (memory in MiB; latency from the scheduled send)"
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
        let redis = (
            redis_memory(&state_redis).await,
            redis_memory(&cache_redis).await,
        );
        let window_frames = frames.swap(0, std::sync::atomic::Ordering::Relaxed);
        // A window's late answers may still come in; its row shows what had arrived.
        let mut window = filled[w].clone();
        window.latencies.sort();
        if !header_printed {
            print!(
                "{:>6} {:>7} {:>7} {:>7} {:>7} {:>6} {:>5} {:>8} {:>7} {:>7}",
                "t s",
                "bought",
                "errors",
                "p50 ms",
                "p99 ms",
                "outbox",
                "lag",
                "frames",
                "redis",
                "cache"
            );
            for name in memory.keys() {
                print!(" {:>12}", name.chars().take(12).collect::<String>());
            }
            println!();
            header_printed = true;
        }
        print!(
            "{:>6} {:>7} {:>7} {:>7.1} {:>7.1} {:>6} {:>5} {:>8} {:>7.1} {:>7.1}",
            interval * (w as u64 + 1),
            window.latencies.len(),
            window.refused,
            percentile(&window.latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&window.latencies, 0.99).as_secs_f64() * 1e3,
            outbox,
            behind,
            window_frames,
            redis.0 as f64 / 1_048_576.0,
            redis.1 as f64 / 1_048_576.0
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
            redis,
            frames: window_frames,
        });
    }
    sender.await?;
    listeners.abort_all();

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
        "  redis (state)    {} ({:.1} → {:.1} MiB); redis (cache) {} ({:.1} → {:.1} MiB)",
        ratio(last.redis.0 as f64, baseline.redis.0 as f64),
        baseline.redis.0 as f64 / 1_048_576.0,
        last.redis.0 as f64 / 1_048_576.0,
        ratio(last.redis.1 as f64, baseline.redis.1 as f64),
        baseline.redis.1 as f64 / 1_048_576.0,
        last.redis.1 as f64 / 1_048_576.0
    );
    println!(
        "  live frames/window {} ({} → {})",
        ratio(last.frames as f64, baseline.frames as f64),
        baseline.frames,
        last.frames
    );
    println!(
        "  outbox backlog: at most {max_outbox}, at the end {}; consumer lag: at most {max_lag}, at the end {}; {refused} purchases failed",
        last.outbox, last.lag
    );

    // The verdict: no failed purchase, and nothing still climbing at the end.
    let series = |value: &dyn Fn(&Sample) -> f64| samples.iter().map(value).collect::<Vec<f64>>();
    let mut growing = Vec::new();
    for (name, values) in [
        (
            "p99 latency",
            series(&|s| percentile(&s.window.latencies, 0.99).as_secs_f64()),
        ),
        ("outbox backlog", series(&|s| s.outbox as f64)),
        ("consumer lag", series(&|s| s.lag as f64)),
        ("redis (state) memory", series(&|s| s.redis.0 as f64)),
        ("redis (cache) memory", series(&|s| s.redis.1 as f64)),
    ] {
        if keeps_growing(&values) {
            growing.push(name.to_owned());
        }
    }
    for name in last.memory.keys() {
        let values = series(&|s| s.memory.get(name).copied().unwrap_or_default() as f64);
        if keeps_growing(&values) {
            growing.push(format!("memory of {name}"));
        }
    }
    if refused > 0 || !growing.is_empty() {
        println!(
            "\nNOT FLAT: {refused} purchases failed; still growing at the end: {}",
            if growing.is_empty() {
                "nothing".to_owned()
            } else {
                growing.join(", ")
            }
        );
        std::process::exit(1);
    }
    println!("\nflat: no purchase failed and nothing kept growing");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::keeps_growing;

    #[test]
    fn only_a_figure_still_climbing_at_the_end_keeps_growing() {
        let levelled = [10.0, 14.0, 16.0, 17.0, 17.0, 17.5, 17.2, 17.4, 17.3];
        assert!(!keeps_growing(&levelled));
        let climbing = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0];
        assert!(keeps_growing(&climbing));
        let noisy_but_flat = [5.0, 9.0, 4.0, 8.0, 5.0, 9.0, 4.0, 8.0, 5.0];
        assert!(!keeps_growing(&noisy_but_flat));
        assert!(!keeps_growing(&[1.0, 2.0, 3.0]));
    }
}
