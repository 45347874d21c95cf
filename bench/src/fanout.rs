//! Fan-out of the notification service: N WebSocket clients (default 10,000) on one instance,
//! all subscribed to the purchase feed.
//!
//! 1. One purchase event is published at a time and every client's delivery latency is
//!    recorded: p50/p99/max delivery to all clients and the instance's resident memory per
//!    connection.
//! 2. A busy feed: purchases published open loop at a fixed rate (default 1,000/s for 10 s).
//!    The feed is coalesced, so each client should get at most about ten frames a second; it
//!    reports frames per client per second and, for every purchase a frame carries, the time
//!    from its scheduled publication to its arrival.
//!
//! Both beside the raw Redis pub/sub round trip (publish → one subscriber) measured in the
//! same run as the baseline. The instance under test is started here as its own process, so
//! its memory is its own:
//!
//!   cargo build --release -p notification-service
//!   cargo run --release -p bench --bin fanout-bench -- [clients] [rounds] [busy rate] [busy seconds]

use bench::percentile;
use common::config::env_or;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wire::redis_channels;

use anyhow::{Context, bail};
use fred::prelude::{ClientLike, EventInterface, PubsubInterface};
use futures::StreamExt;
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use wire::events::LiveEvent;

const ORIGIN: &str = "http://fanout-bench.local";

fn summary(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    (
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples.last().copied().unwrap_or_default(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Resident memory of a process, from /proc (Linux).
fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")?;
    Ok(kib * 1024)
}

/// CPU time (user + system) a process has used so far, from /proc (Linux).
fn cpu_time(pid: &str) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("no command name in stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks =
        |n: usize| -> anyhow::Result<u64> { Ok(fields.get(n).context("short stat")?.parse()?) };
    // utime and stime, fields 14 and 15 of the whole line, in clock ticks of 1/100 s.
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

fn purchase(round: usize) -> LiveEvent {
    LiveEvent::Purchase {
        buyer_name: format!("fanout-round-{round}"),
        titles: vec!["Red Lamp".into()],
        at: 0,
    }
}

/// The rounds of the purchases a frame carries (a coalesced frame carries several).
///
/// A scan for the buyer names the bench publishes rather than a JSON parse: ten thousand
/// clients parsing every frame cost more CPU than the instance sending them, on the same cores.
fn rounds_of(message: &str) -> Vec<usize> {
    const MARK: &str = "fanout-round-";
    message
        .match_indices(MARK)
        .filter_map(|(at, _)| {
            let digits = &message[at + MARK.len()..];
            let end = digits
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(digits.len());
            digits[..end].parse().ok()
        })
        .collect()
}

/// Rounds of the busy scenario start here, so they are never taken for the first's.
const BUSY_ROUNDS: usize = 1_000_000;

/// Publish → one plain Redis subscriber, the floor under any fan-out through Redis.
async fn redis_round_trip(redis_url: &str, rounds: usize) -> anyhow::Result<Vec<Duration>> {
    let publisher = common::infra::redis::connect(redis_url)?;
    let subscriber = common::infra::redis::connect(redis_url)?;
    publisher.wait_for_connect().await?;
    subscriber.wait_for_connect().await?;
    let channel = testkit::unique_name("fanout-baseline");
    let mut messages = subscriber.message_rx();
    subscriber.subscribe(&channel).await?;
    let payload = serde_json::to_string(&purchase(0))?;
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let sent = Instant::now();
        publisher
            .publish::<(), _, _>(&channel, payload.as_str())
            .await?;
        loop {
            let message = tokio::time::timeout(Duration::from_secs(5), messages.recv()).await??;
            if message.channel == channel.as_str() {
                break;
            }
        }
        samples.push(sent.elapsed());
    }
    Ok(samples)
}

struct Instance {
    child: std::process::Child,
    base_url: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_instance(redis_url: &str, secret: &str) -> anyhow::Result<Instance> {
    let binary = env_or("NOTIFICATION_BIN", "target/release/notification-service");
    if !std::path::Path::new(&binary).exists() {
        bail!("{binary} is missing: run `cargo build --release -p notification-service` first");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = std::process::Command::new(&binary)
        .env("PORT", port.to_string())
        .env("REDIS_URL", redis_url)
        .env("ALLOWED_ORIGINS", ORIGIN)
        // Every client of the bench is on this one machine's address.
        .env("WS_MAX_SOCKETS_PER_ADDRESS", "1000000")
        .env("INTERNAL_AUTH_SECRET", secret)
        .env("RUST_LOG", "warn")
        .spawn()
        .with_context(|| format!("start {binary}"))?;
    let base_url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        let ready = reqwest::get(format!("{base_url}/readyz"))
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            break;
        }
        if started.elapsed() > Duration::from_secs(15) {
            bail!("the notification service did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Instance { child, base_url })
}

fn rand_seed() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// One client: connect, subscribe to the feed, then report each round's arrival time.
async fn client(
    url: String,
    token: Arc<str>,
    connected: mpsc::UnboundedSender<()>,
    arrivals: mpsc::UnboundedSender<(Vec<usize>, Instant)>,
) -> anyhow::Result<()> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("origin", ORIGIN.parse()?);
    // What the gateway adds for an anonymous visitor.
    request
        .headers_mut()
        .insert(common::identity::IDENTITY_HEADER, token.parse()?);
    // tungstenite zero-fills its whole read buffer (128 KiB by default) before every read;
    // frames here are a few hundred bytes, and that memset was half of the bench's CPU.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    futures::SinkExt::send(
        &mut socket,
        Message::text(r#"{"op":"subscribe","topic":"feed"}"#),
    )
    .await?;
    let mut subscribed = false;
    while let Some(frame) = socket.next().await {
        // Once subscribed, the socket ends only when the instance is stopped at the end.
        let Ok(frame) = frame else {
            return if subscribed {
                Ok(())
            } else {
                frame.map(drop).map_err(Into::into)
            };
        };
        if let Message::Text(text) = frame {
            // Stamped before parsing, so the bench's own parsing is not counted as delivery.
            let at = Instant::now();
            if text.contains(r#""kind":"subscribed""#) {
                subscribed = true;
                let _ = connected.send(());
            } else {
                let rounds = rounds_of(text.as_str());
                if !rounds.is_empty() {
                    let _ = arrivals.send((rounds, at));
                }
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // On a worker of the runtime rather than the thread that blocks on `main`: every arrival
    // wakes the task that gathers them, and waking the blocked main thread is a futex call
    // each time (a fifth of the bench's CPU).
    tokio::spawn(run()).await?
}

async fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |n: usize, default: usize| -> anyhow::Result<usize> {
        args.get(n)
            .map(|a| {
                a.parse()
                    .with_context(|| format!("argument {}: {a:?}", n + 1))
            })
            .transpose()
            .map(|given| given.unwrap_or(default))
    };
    let clients = arg(0, 10_000)?;
    let rounds = arg(1, 20)?;
    let busy_rate = arg(2, 1_000)?;
    let busy_seconds = arg(3, 10)?;
    let redis_url = env_or("REDIS_URL", "redis://127.0.0.1:6379");

    let baseline = redis_round_trip(&redis_url, 200).await?;
    let secret = format!("{:064x}", rand_seed());
    let instance = start_instance(&redis_url, &secret).await?;
    let key = common::identity::IdentityKey::new(secret.into())?;
    // Valid for a minute: long enough for every handshake.
    let token: Arc<str> = key
        .sign_as(
            common::identity::Caller::Gateway,
            None,
            Some("127.0.0.1"),
            std::time::SystemTime::now(),
        )
        .into();
    let pid = instance.child.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = rss_bytes(pid)?;

    println!("connecting {clients} clients…");
    let url = format!("{}/v1/live", instance.base_url.replacen("http", "ws", 1));
    let (connected_tx, mut connected) = mpsc::unbounded_channel();
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel();
    // Handshakes a few hundred at a time, so the listen backlog is not the thing measured.
    let handshakes = Arc::new(Semaphore::new(256));
    let started = Instant::now();
    for _ in 0..clients {
        let permit = Arc::clone(&handshakes).acquire_owned().await?;
        let (url, token, connected_tx, arrivals_tx) = (
            url.clone(),
            token.clone(),
            connected_tx.clone(),
            arrivals_tx.clone(),
        );
        let (ready_tx, mut ready) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let outcome = client(url, token, ready_tx, arrivals_tx).await;
            if let Err(err) = outcome {
                eprintln!("client failed: {err}");
            }
        });
        tokio::spawn(async move {
            if ready.recv().await.is_some() {
                let _ = connected_tx.send(());
            }
            drop(permit);
        });
    }
    for n in 0..clients {
        tokio::time::timeout(Duration::from_secs(60), connected.recv())
            .await
            .with_context(|| format!("only {n} of {clients} clients subscribed"))?;
    }
    println!(
        "{clients} clients subscribed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_connected = rss_bytes(pid)?;

    let publisher = common::infra::redis::connect(&redis_url)?;
    publisher.wait_for_connect().await?;
    let instance_pid = pid.to_string();
    let cpu_before = (cpu_time(&instance_pid)?, cpu_time("self")?);
    let mut all = Vec::with_capacity(clients * rounds);
    let mut to_last_client = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let payload = serde_json::to_string(&purchase(round))?;
        let sent = Instant::now();
        publisher
            .publish::<(), _, _>(redis_channels::FEED, payload.as_str())
            .await?;
        let mut received = 0;
        let mut last = Duration::ZERO;
        while received < clients {
            let (arrived_round, at) =
                tokio::time::timeout(Duration::from_secs(30), arrivals.recv())
                    .await
                    .with_context(|| {
                        format!("round {round}: only {received} of {clients} delivered")
                    })?
                    .context("clients gone")?;
            if arrived_round.contains(&round) {
                received += 1;
                let latency = at.duration_since(sent);
                last = last.max(latency);
                all.push(latency);
            }
        }
        to_last_client.push(last);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let frames = (clients * rounds) as f64;
    let per_frame = |after: Duration, before: Duration| {
        after.saturating_sub(before).as_secs_f64() * 1e6 / frames
    };
    let instance_cpu = per_frame(cpu_time(&instance_pid)?, cpu_before.0);
    let bench_cpu = per_frame(cpu_time("self")?, cpu_before.1);

    let busy = busy_feed(&publisher, &mut arrivals, clients, busy_rate, busy_seconds).await?;

    let (base_p50, base_p99, _) = summary(baseline);
    let (p50, p99, max) = summary(all);
    let (last_p50, last_p99, _) = summary(to_last_client);
    let per_connection = rss_connected.saturating_sub(rss_idle) as f64 / clients as f64;
    println!();
    println!(
        "| measure | value | ratio to Redis pub/sub p50 ({}) |",
        ms(base_p50)
    );
    println!("| --- | --- | --- |");
    println!(
        "| Redis pub/sub round trip p99 | {} | {:.1} |",
        ms(base_p99),
        ratio(base_p99, base_p50)
    );
    println!(
        "| delivery to each client p50 | {} | {:.1} |",
        ms(p50),
        ratio(p50, base_p50)
    );
    println!(
        "| delivery to each client p99 | {} | {:.1} |",
        ms(p99),
        ratio(p99, base_p50)
    );
    println!(
        "| delivery to each client max | {} | {:.1} |",
        ms(max),
        ratio(max, base_p50)
    );
    println!(
        "| delivery to the last of {clients} clients, p50 over {rounds} rounds | {} | {:.1} |",
        ms(last_p50),
        ratio(last_p50, base_p50)
    );
    println!(
        "| delivery to the last of {clients} clients, p99 over {rounds} rounds | {} | {:.1} |",
        ms(last_p99),
        ratio(last_p99, base_p50)
    );
    println!(
        "| CPU per frame delivered, instance / the bench's clients | {instance_cpu:.1} µs / {bench_cpu:.1} µs | |"
    );
    let (busy_p50, busy_p99, busy_max) = summary(busy.latencies);
    let seconds = busy_seconds as f64;
    println!(
        "| busy feed, {busy_rate} purchases/s for {busy_seconds} s: frames per client per second, mean / busiest second | {:.1} / {:.1} | |",
        busy.frames as f64 / clients as f64 / seconds,
        busy.busiest_second
    );
    println!(
        "| busy feed: purchases shown per client (of {}) | {:.0} | |",
        busy_rate * busy_seconds,
        busy.shown as f64 / clients as f64
    );
    println!(
        "| busy feed: scheduled purchase → frame p50 | {} | {:.1} |",
        ms(busy_p50),
        ratio(busy_p50, base_p50)
    );
    println!(
        "| busy feed: scheduled purchase → frame p99 | {} | {:.1} |",
        ms(busy_p99),
        ratio(busy_p99, base_p50)
    );
    println!(
        "| busy feed: scheduled purchase → frame max | {} | {:.1} |",
        ms(busy_max),
        ratio(busy_max, base_p50)
    );
    println!();
    println!(
        "resident memory: {:.1} MiB idle, {:.1} MiB with {clients} sockets = {:.1} KiB per connection",
        rss_idle as f64 / 1048576.0,
        rss_connected as f64 / 1048576.0,
        per_connection / 1024.0
    );
    Ok(())
}

fn ratio(value: Duration, baseline: Duration) -> f64 {
    value.as_secs_f64() / baseline.as_secs_f64().max(1e-9)
}

/// What the clients saw of a busy feed.
struct Busy {
    /// Frames that carried purchases, over all clients.
    frames: usize,
    /// Frames per client in the busiest second (every client gets the same frames).
    busiest_second: f64,
    /// Purchases shown, over all clients.
    shown: usize,
    /// Scheduled publication → arrival, of every purchase every client was shown.
    latencies: Vec<Duration>,
}

/// Publishes `rate` purchases a second for `seconds` on the feed, open loop (each at its
/// scheduled time, however late the last one was), and gathers what the clients receive until
/// a second after the last.
async fn busy_feed(
    publisher: &fred::prelude::Client,
    arrivals: &mut mpsc::UnboundedReceiver<(Vec<usize>, Instant)>,
    clients: usize,
    rate: usize,
    seconds: usize,
) -> anyhow::Result<Busy> {
    let total = rate * seconds;
    println!("busy feed: {rate} purchases/s for {seconds} s to {clients} clients…");
    // Payloads made before the clock starts, so making them is not in the schedule.
    let payloads = (0..total)
        .map(|n| serde_json::to_string(&purchase(BUSY_ROUNDS + n)))
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now() + Duration::from_millis(100);
    let interval = Duration::from_secs(1).div_f64(rate as f64);
    let scheduled = move |n: usize| start + interval.mul_f64(n as f64);
    let publishing = {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            for (n, payload) in payloads.into_iter().enumerate() {
                tokio::time::sleep_until(scheduled(n).into()).await;
                let _ = publisher
                    .publish::<(), _, _>(redis_channels::FEED, payload.as_str())
                    .await;
            }
        })
    };
    let end = scheduled(total) + Duration::from_secs(1);
    let mut busy = Busy {
        frames: 0,
        busiest_second: 0.0,
        shown: 0,
        latencies: Vec::new(),
    };
    let mut frames_per_second: std::collections::HashMap<u64, usize> = Default::default();
    while let Ok(Some((rounds, at))) = tokio::time::timeout(
        end.saturating_duration_since(Instant::now()),
        arrivals.recv(),
    )
    .await
    {
        let busy_rounds: Vec<usize> = rounds
            .into_iter()
            .filter_map(|round| round.checked_sub(BUSY_ROUNDS))
            .collect();
        if busy_rounds.is_empty() {
            continue;
        }
        busy.frames += 1;
        busy.shown += busy_rounds.len();
        *frames_per_second
            .entry(at.saturating_duration_since(start).as_secs())
            .or_default() += 1;
        for round in busy_rounds {
            busy.latencies
                .push(at.saturating_duration_since(scheduled(round)));
        }
    }
    publishing.await?;
    busy.busiest_second = frames_per_second
        .values()
        .max()
        .copied()
        .unwrap_or_default() as f64
        / clients.max(1) as f64;
    Ok(busy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::socket::ServerMessage;

    #[test]
    fn rounds_are_read_from_single_and_coalesced_frames() {
        let single = ServerMessage::Event {
            topic: "feed".into(),
            event: purchase(7),
        };
        let coalesced = ServerMessage::Events {
            topic: "feed".into(),
            events: vec![purchase(1_000_012), purchase(1_000_013)],
            folded: 4,
        };
        let text = |m: &ServerMessage| serde_json::to_string(m).expect("serialises");
        assert_eq!(rounds_of(&text(&single)), vec![7]);
        assert_eq!(rounds_of(&text(&coalesced)), vec![1_000_012, 1_000_013]);
        assert!(rounds_of(&text(&ServerMessage::Resync)).is_empty());
    }
}
