//! Fan-out of the notification service: N WebSocket clients (default 10,000) on one instance,
//! all subscribed to the purchase feed; one purchase event is published at a time and every
//! client's delivery latency is recorded. Reports p50/p99/max delivery to all clients and the
//! instance's resident memory per connection, beside the raw Redis pub/sub round trip (publish
//! → one subscriber) measured in the same run as the baseline.
//!
//! The instance under test is started here as its own process, so its memory is its own:
//!
//!   cargo build --release -p notification-service
//!   cargo run --release -p bench --bin fanout-bench -- [clients] [rounds]

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
use wire::events::LiveEvent;
use wire::socket::ServerMessage;

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

fn purchase(round: usize) -> LiveEvent {
    LiveEvent::Purchase {
        buyer_name: format!("fanout-round-{round}"),
        titles: vec!["Red Lamp".into()],
        at: 0,
    }
}

fn round_of(message: &str) -> Option<usize> {
    match serde_json::from_str::<ServerMessage>(message).ok()? {
        ServerMessage::Event {
            event: LiveEvent::Purchase { buyer_name, .. },
            ..
        } => buyer_name.strip_prefix("fanout-round-")?.parse().ok(),
        _ => None,
    }
}

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
    arrivals: mpsc::UnboundedSender<(usize, Instant)>,
) -> anyhow::Result<()> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("origin", ORIGIN.parse()?);
    // What the gateway adds for an anonymous visitor.
    request
        .headers_mut()
        .insert(common::identity::IDENTITY_HEADER, token.parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
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
            if text.contains(r#""kind":"subscribed""#) {
                subscribed = true;
                let _ = connected.send(());
            } else if let Some(round) = round_of(text.as_str()) {
                let _ = arrivals.send((round, Instant::now()));
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let clients: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);
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
            if arrived_round == round {
                received += 1;
                let latency = at.duration_since(sent);
                last = last.max(latency);
                all.push(latency);
            }
        }
        to_last_client.push(last);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

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
