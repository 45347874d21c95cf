//! The crash suite: each process of the stack is killed with SIGKILL while buyers stream
//! purchases and carts change, and started again the way `scripts/start.sh` and
//! `scripts/infra.sh` would; then each service's links to MongoDB and Redis are cut for
//! 5 s. After each round it checks what nothing may lose (README, "What survives what"):
//!
//! - every purchase is answered (clients retry what got no answer, with the same key);
//! - units sold = purchases completed = purchases in the buyers' histories = receipts mailed
//!   (a receipt mailed twice is counted apart: at least once, the same Message-ID);
//! - stock + sold is what each item started with;
//! - nothing is left pending once the sweeper's bound has passed;
//! - every session and every cart is still there, the last quantity set included;
//! - a live socket is told to read again (or reconnects), then hears new purchases.
//!
//! It prints one table: process, purchases, answered, lost, duplicated, recovery time.
//!
//!   cargo run --release -p bench --bin crash-suite -- [seconds per round] [bins] [rounds]
//!
//! `bins` is where the built binaries are (default `target/release`; `scripts/test.sh` runs a
//! short version on `target/debug`); `rounds` picks rounds by name (e.g. `redis,gateway`),
//! all by default. The stack is the suite's own (its own ports, database, topic and mailbox
//! addresses) on the local servers `scripts/infra.sh` runs, which it kills and starts again:
//! run it with nothing else using them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clients::{CallContext, InventoryClient};
use mongodb::bson::doc;
use testkit::{TcpProxy, unique_name};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use wire::ItemId;
use wire::inventory::NewItem;

/// The suite's own ports, apart from `scripts/start.sh`'s.
const GATEWAY_PORT: u16 = 13_000;
const SERVICE_PORTS: [(&str, u16); 5] = [
    ("user", 18_081),
    ("inventory", 18_082),
    ("transaction", 18_083),
    ("receipt", 18_084),
    ("notification", 18_085),
];

/// Units each item starts with.
const INITIAL_STOCK: i64 = 100_000;

/// A purchase left pending this long is settled by the transaction service's sweeper.
const PENDING_BOUND_SECS: u64 = 5;

/// How long a client keeps retrying one purchase before it counts as unanswered.
const RETRY_FOR: Duration = Duration::from_secs(90);

/// Where the local servers' pid files and data are (`scripts/infra.sh`).
fn local_dir() -> PathBuf {
    std::env::var("MARKETPLACE_LOCAL")
        .map(PathBuf::from)
        .unwrap_or_else(|_| testkit::workspace_root().join(".local"))
}

/// A process of the stack this suite started and may kill and start again.
struct Process {
    name: &'static str,
    program: PathBuf,
    env: Vec<(String, String)>,
    ready_url: String,
    child: Option<Child>,
}

impl Process {
    async fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(
            local_dir()
                .join("log")
                .join(format!("crash-{}.log", self.name)),
        )?;
        let child = Command::new(&self.program)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", self.program.display()))?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(60)).await
    }

    async fn wait_ready(&mut self, within: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        let http = reqwest::Client::new();
        loop {
            if let Ok(answer) = http.get(&self.ready_url).send().await
                && answer.status().is_success()
            {
                return Ok(());
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!("{} exited ({status}) while starting", self.name);
            }
            if started.elapsed() > within {
                bail!("{} is not ready after {within:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no shutdown hook, no flush.
    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

/// The suite's links between each service and a dependency: a proxy it can cut.
struct Links {
    /// By (service, dependency): "mongo", "redis".
    by: BTreeMap<(&'static str, &'static str), Arc<TcpProxy>>,
}

/// The stack: the suite's processes and links, and what the checks read.
struct Stack {
    processes: Vec<Process>,
    links: Links,
    gateway: String,
    database: mongodb::Database,
    inventory: InventoryClient,
    transactions: clients::TransactionClient,
    key: common::identity::IdentityKey,
}

impl Stack {
    async fn start(bins: &Path) -> anyhow::Result<Self> {
        let infra = testkit::Infra::from_env();
        let key = bench::signing_key()?;
        let secret = std::env::var("INTERNAL_AUTH_SECRET").or_else(|_| {
            std::fs::read_to_string(local_dir().join("internal-auth-secret"))
                .map(|s| s.trim().to_owned())
        })?;
        let run = unique_name("crash");
        let database_name = run.clone();
        let url = |port: u16| format!("http://127.0.0.1:{port}");
        let port_of = |name: &str| {
            SERVICE_PORTS
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |(_, port)| *port)
        };
        let mut links = BTreeMap::new();
        for (service, _) in SERVICE_PORTS.iter().chain(&[("gateway", GATEWAY_PORT)]) {
            links.insert(
                (*service, "mongo"),
                TcpProxy::start(&infra.mongo_addr()).await,
            );
            links.insert(
                (*service, "redis"),
                TcpProxy::start(&infra.redis_addr()).await,
            );
        }
        let link = |service: &'static str, dependency: &'static str, scheme: &str| {
            links
                .get(&(service, dependency))
                .map(|proxy| proxy.url(scheme))
                .unwrap_or_default()
        };
        let common_env = |service: &'static str, port: u16| -> Vec<(String, String)> {
            let mut env = vec![
                ("HOST".to_owned(), "127.0.0.1".to_owned()),
                ("PORT".to_owned(), port.to_string()),
                ("INTERNAL_AUTH_SECRET".to_owned(), secret.clone()),
                ("MONGODB_URI".to_owned(), link(service, "mongo", "mongodb")),
                ("MONGODB_DATABASE".to_owned(), database_name.clone()),
                ("REDIS_URL".to_owned(), link(service, "redis", "redis")),
                (
                    "CACHE_REDIS_URL".to_owned(),
                    std::env::var("CACHE_REDIS_URL")
                        .unwrap_or_else(|_| "redis://127.0.0.1:6380".to_owned()),
                ),
                ("PURCHASES_TOPIC".to_owned(), run.clone()),
                ("RECEIPT_GROUP".to_owned(), run.clone()),
                (
                    "PENDING_PURCHASE_BOUND_SECS".to_owned(),
                    PENDING_BOUND_SECS.to_string(),
                ),
                ("USER_SERVICE_URL".to_owned(), url(port_of("user"))),
                (
                    "INVENTORY_SERVICE_URL".to_owned(),
                    url(port_of("inventory")),
                ),
                (
                    "TRANSACTION_SERVICE_URL".to_owned(),
                    url(port_of("transaction")),
                ),
                ("RECEIPT_SERVICE_URL".to_owned(), url(port_of("receipt"))),
                (
                    "NOTIFICATION_SERVICE_URL".to_owned(),
                    url(port_of("notification")),
                ),
                ("PUBLIC_URL".to_owned(), url(GATEWAY_PORT)),
                ("ALLOWED_ORIGINS".to_owned(), url(GATEWAY_PORT)),
                // Everyone here comes from 127.0.0.1.
                (
                    "REGISTRATIONS_PER_ADDRESS_PER_HOUR".to_owned(),
                    "1000000".to_owned(),
                ),
            ];
            for name in ["KAFKA_BROKERS", "SMTP_URL"] {
                if let Ok(value) = std::env::var(name) {
                    env.push((name.to_owned(), value));
                }
            }
            env
        };
        let mut processes = Vec::new();
        for (name, port) in SERVICE_PORTS {
            processes.push(Process {
                name,
                program: bins.join(format!("{name}-service")),
                env: common_env(name, port),
                ready_url: format!("{}/readyz", url(port)),
                child: None,
            });
        }
        let mut gateway_env = common_env("gateway", GATEWAY_PORT);
        gateway_env.push((
            "SITE_ROOT".to_owned(),
            testkit::workspace_root()
                .join("target/site")
                .display()
                .to_string(),
        ));
        gateway_env.push(("METRICS_LISTEN".to_owned(), "127.0.0.1:19300".to_owned()));
        processes.push(Process {
            name: "gateway",
            program: bins.join("marketplace-web"),
            env: gateway_env,
            ready_url: format!("{}/readyz", url(GATEWAY_PORT)),
            child: None,
        });
        for process in &mut processes {
            process.start().await?;
        }
        let http = clients::http_client();
        let database = mongodb::Client::with_uri_str(&infra.mongodb_uri)
            .await?
            .database(&database_name);
        Ok(Self {
            processes,
            links: Links { by: links },
            gateway: url(GATEWAY_PORT),
            database,
            inventory: InventoryClient::new(http.clone(), &url(port_of("inventory")), key.clone())?,
            transactions: clients::TransactionClient::new(
                http,
                &url(port_of("transaction")),
                key.clone(),
            )?,
            key,
        })
    }

    fn process(&mut self, name: &str) -> Option<&mut Process> {
        self.processes.iter_mut().find(|p| p.name == name)
    }

    async fn stop(&mut self) {
        for process in &mut self.processes {
            process.kill().await;
        }
    }
}

/// What is killed or cut in a round.
#[derive(Debug, Clone)]
enum Fault {
    /// None: the baseline round.
    Nothing,
    /// One of the suite's own processes.
    Process(&'static str),
    /// One of the local servers (`scripts/infra.sh` names and pid files).
    Server {
        name: &'static str,
        pid_file: &'static str,
    },
    /// One service's link to one dependency, cut for 5 s.
    Link(&'static str, &'static str),
}

impl Fault {
    fn label(&self) -> String {
        match self {
            Self::Nothing => "nothing (baseline)".to_owned(),
            Self::Process(name) => format!("{name} (SIGKILL)"),
            Self::Server { name, .. } => format!("{name} (SIGKILL)"),
            Self::Link(service, dependency) => format!("{service} → {dependency} cut 5 s"),
        }
    }
}

fn every_fault() -> Vec<Fault> {
    let mut faults = vec![Fault::Nothing];
    for name in [
        "gateway",
        "user",
        "inventory",
        "transaction",
        "receipt",
        "notification",
    ] {
        faults.push(Fault::Process(name));
    }
    for (name, pid_file) in [
        ("redis", "redis"),
        ("redis-cache", "redis-cache"),
        ("kafka", "kafka"),
        ("mongo", "mongo-java-server"),
        ("smtp", "mailpit"),
    ] {
        faults.push(Fault::Server { name, pid_file });
    }
    for service in ["gateway", "user", "inventory", "transaction", "receipt"] {
        faults.push(Fault::Link(service, "mongo"));
        faults.push(Fault::Link(service, "redis"));
    }
    faults.push(Fault::Link("notification", "redis"));
    faults
}

/// A signed-in buyer of the suite, with a cart it keeps.
struct Buyer {
    cookie: String,
    email: String,
    user: common::identity::Identity,
}

/// What one round's clients saw.
#[derive(Default)]
struct Tally {
    /// Purchases started (a key each).
    started: AtomicU64,
    /// Answered with the purchase made.
    answered: AtomicU64,
    /// Refused for good (a 4xx): should be none.
    refused: AtomicU64,
    /// The first purchase answered after the fault was healed, in ms from the healing.
    recovered_after_ms: AtomicU64,
}

/// One row of the table.
struct Row {
    label: String,
    purchases: u64,
    answered: u64,
    lost: u64,
    duplicated: u64,
    recovery: String,
    problems: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let bins = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| testkit::workspace_root().join("target/release"));
    let only: Vec<String> = args
        .next()
        .map(|names| names.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let faults: Vec<Fault> = every_fault()
        .into_iter()
        .filter(|fault| {
            only.is_empty()
                || only.iter().any(|name| {
                    fault.label().starts_with(name.as_str())
                        || matches!(fault, Fault::Nothing) && name == "nothing"
                })
        })
        .collect();

    let mut stack = Stack::start(&bins).await?;
    let setup = Arc::new(setup(&stack).await?);
    let mut rows = Vec::new();
    for fault in &faults {
        let row = round(&mut stack, &setup, fault, Duration::from_secs(seconds)).await;
        let row = match row {
            Ok(row) => row,
            Err(err) => Row {
                label: fault.label(),
                purchases: 0,
                answered: 0,
                lost: 0,
                duplicated: 0,
                recovery: "-".to_owned(),
                problems: vec![format!("the round failed: {err:#}")],
            },
        };
        println!(
            "  {:<34} purchases {:>5}  answered {:>5}  lost {:>3}  duplicated {:>3}  recovery {}",
            row.label, row.purchases, row.answered, row.lost, row.duplicated, row.recovery
        );
        for problem in &row.problems {
            println!("      ✗ {problem}");
        }
        rows.push(row);
    }
    stack.stop().await;

    println!();
    println!("| process | purchases | answered | lost | duplicated | recovery |");
    println!("| --- | ---: | ---: | ---: | ---: | --- |");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.label, row.purchases, row.answered, row.lost, row.duplicated, row.recovery
        );
    }
    let failed: Vec<&Row> = rows.iter().filter(|row| !row.problems.is_empty()).collect();
    if failed.is_empty() {
        println!("\nEvery round kept everything.");
        Ok(())
    } else {
        bail!(
            "{} round(s) lost something: {}",
            failed.len(),
            failed
                .iter()
                .map(|row| row.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// What every round shares: items, buyers with sessions and carts.
struct Setup {
    items: Vec<ItemId>,
    buyers: Vec<Arc<Buyer>>,
    /// The Buy now form's address (server functions' paths carry a suffix: read from the
    /// pages, as a browser gets them).
    buy_url: String,
    /// The cart page's quantity form's address.
    set_quantity_url: String,
    http: reqwest::Client,
}

/// The address the form whose action starts with `path` posts to, in `page`.
fn form_action(page: &str, gateway: &str, path: &str) -> anyhow::Result<String> {
    let suffix = page
        .split(&format!(r#"action="{path}"#))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .with_context(|| format!("no form posting to {path} on the page"))?;
    Ok(format!("{gateway}{path}{suffix}"))
}

async fn setup(stack: &Stack) -> anyhow::Result<Setup> {
    let seller = common::identity::Identity {
        user_id: format!("{:0>24x}", std::process::id()).parse()?,
        display_name: "Crash seller".into(),
        email: "crash-seller@crash.example".into(),
    };
    let mut items = Vec::new();
    for n in 0..4 {
        let item = NewItem {
            title: format!("Crash item {n}"),
            description: None,
            price_cents: 100 + n,
            stock: INITIAL_STOCK,
            image_url: None,
            picture: None,
            request_id: None,
        };
        items.push(
            stack
                .inventory
                .create_item(&CallContext::default(), &seller, &item)
                .await?
                .id,
        );
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;
    let users = clients::UserClient::new(
        clients::http_client(),
        &format!("http://127.0.0.1:{}", SERVICE_PORTS[0].1),
        stack.key.clone(),
    )?;
    let mut buyers = Vec::new();
    for n in 0..6 {
        let email = format!("{}-{n}@crash.example", unique_name("buyer"));
        let context = CallContext::default();
        let user = users
            .register(
                &context,
                &wire::user::RegisterRequest {
                    email: email.clone(),
                    password: "crash-password".into(),
                    display_name: format!("Crash buyer {n}"),
                },
            )
            .await?
            .user;
        let session = users
            .log_in(
                &context,
                &wire::user::LogInRequest {
                    email: email.clone(),
                    password: "crash-password".into(),
                },
            )
            .await?;
        buyers.push(Arc::new(Buyer {
            cookie: format!("session={}", session.session_id),
            email,
            user: common::identity::Identity {
                user_id: user.id,
                display_name: user.display_name,
                email: user.email,
            },
        }));
    }
    let page = http
        .get(format!("{}/items?itemId={}", stack.gateway, items[0]))
        .header("cookie", &buyers[0].cookie)
        .send()
        .await?
        .text()
        .await?;
    let buy_url = form_action(&page, &stack.gateway, "/api/buy")?;
    // Every buyer has the first item in their cart; the rounds change its quantity.
    let add_url = form_action(&page, &stack.gateway, "/api/add_to_cart")?;
    for buyer in &buyers {
        let added = http
            .post(&add_url)
            .header("cookie", &buyer.cookie)
            .header("origin", &stack.gateway)
            .header("accept", "application/json")
            .form(&[
                ("item_id", items[0].to_string()),
                ("quantity", "1".to_owned()),
            ])
            .send()
            .await?;
        if !added.status().is_success() {
            bail!("could not fill a cart: {}", added.status());
        }
    }
    let cart = http
        .get(format!("{}/cart", stack.gateway))
        .header("cookie", &buyers[0].cookie)
        .send()
        .await?
        .text()
        .await?;
    Ok(Setup {
        set_quantity_url: form_action(&cart, &stack.gateway, "/api/set_cart_quantity")?,
        buy_url,
        items,
        buyers,
        http,
    })
}

/// Buys one unit of `item` for `buyer` under `key`, retrying what got no answer (or a 5xx)
/// with the same key; `true` once the purchase is answered as made.
async fn buy(setup: &Setup, gateway: &str, buyer: &Buyer, item: &ItemId, tally: &Tally) -> bool {
    let key = unique_name("crash-key");
    let lines = format!(r#"[{{"item_id":"{item}","quantity":1}}]"#);
    let started = Instant::now();
    let mut wait = Duration::from_millis(100);
    loop {
        let answer = setup
            .http
            .post(&setup.buy_url)
            .header("cookie", &buyer.cookie)
            .header("origin", gateway)
            .form(&[("lines", lines.as_str()), ("key", key.as_str())])
            .send()
            .await;
        match answer {
            Ok(answer) if answer.status().is_success() || answer.status().is_redirection() => {
                return true;
            }
            Ok(answer) if answer.status().is_client_error() => {
                tally.refused.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            _ if started.elapsed() > RETRY_FOR => return false,
            _ => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Sets the quantity of `item` in `buyer`'s cart, retrying until answered (setting a
/// quantity twice is setting it once).
async fn set_cart(setup: &Setup, gateway: &str, buyer: &Buyer, item: &ItemId, quantity: i64) {
    let started = Instant::now();
    loop {
        let answer = setup
            .http
            .post(&setup.set_quantity_url)
            .header("cookie", &buyer.cookie)
            .header("origin", gateway)
            .header("accept", "application/json")
            .form(&[
                ("item_id", item.to_string()),
                ("quantity", quantity.to_string()),
            ])
            .send()
            .await;
        if matches!(&answer, Ok(a) if a.status().is_success()) || started.elapsed() > RETRY_FOR {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn round(
    stack: &mut Stack,
    setup: &Arc<Setup>,
    fault: &Fault,
    length: Duration,
) -> anyhow::Result<Row> {
    let before = item_numbers(stack, &setup.items).await?;
    let purchases_before = completed_purchases(stack).await?;
    let receipts_before = receipts(setup).await?;
    let history_before = histories(stack, setup).await?;
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let healed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    // Each buyer's cart: the quantity of the first item it last set, and that it was set.
    let carts: Arc<Mutex<HashMap<usize, i64>>> = Arc::default();

    let mut workers = Vec::new();
    for (n, buyer) in setup.buyers.iter().enumerate() {
        let (buyer, tally, stop) = (buyer.clone(), tally.clone(), stop.clone());
        let (healed_at, carts, setup) = (healed_at.clone(), carts.clone(), setup.clone());
        let gateway = stack.gateway.clone();
        workers.push(tokio::spawn(async move {
            let setup = &*setup;
            let mut k = n;
            while !stop.load(Ordering::Relaxed) {
                k += 1;
                let item = &setup.items[k % setup.items.len()];
                tally.started.fetch_add(1, Ordering::Relaxed);
                if buy(setup, &gateway, &buyer, item, &tally).await {
                    tally.answered.fetch_add(1, Ordering::Relaxed);
                    if let Some(healed) = *healed_at.lock().await {
                        let ms = healed.elapsed().as_millis() as u64;
                        let _ = tally.recovered_after_ms.compare_exchange(
                            0,
                            ms.max(1),
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                    }
                }
                if k % 5 == 0 {
                    let quantity = (k % 7 + 1) as i64;
                    set_cart(setup, &gateway, &buyer, &setup.items[0], quantity).await;
                    carts.lock().await.insert(n, quantity);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    // A live socket on the feed, as a tab holds it.
    let live = tokio::spawn(live_watch(stack.gateway.clone(), stop.clone()));

    tokio::time::sleep(length / 3).await;
    let healed = inflict(stack, fault).await?;
    *healed_at.lock().await = Some(healed);
    tokio::time::sleep(length * 2 / 3).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.await;
    }
    let live = live.await.unwrap_or_default();

    // Let the outbox, Kafka and the receipt workers catch up, and the sweeper pass.
    tokio::time::sleep(Duration::from_secs(PENDING_BOUND_SECS * 2)).await;
    let answered = tally.answered.load(Ordering::Relaxed);
    let started = tally.started.load(Ordering::Relaxed);
    let mut problems = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (completed, mailed, sold) = loop {
        let completed = completed_purchases(stack).await? - purchases_before;
        let mailed = receipts(setup).await?;
        let after = item_numbers(stack, &setup.items).await?;
        let sold: i64 = after.values().map(|(_, sold)| *sold).sum::<i64>()
            - before.values().map(|(_, sold)| *sold).sum::<i64>();
        let unique_mailed = mailed.unique - receipts_before.unique;
        if (unique_mailed >= completed && sold as u64 == completed) || Instant::now() > deadline {
            break (completed, mailed, sold as u64);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let unique_mailed = mailed.unique - receipts_before.unique;
    let duplicated = mailed.total - receipts_before.total - unique_mailed;
    if answered != started {
        problems.push(format!(
            "{} of {started} purchases never answered",
            started - answered
        ));
    }
    if completed < answered {
        problems.push(format!(
            "{answered} purchases answered, {completed} in the store"
        ));
    }
    if sold != completed {
        problems.push(format!(
            "{sold} units sold, {completed} purchases completed"
        ));
    }
    if unique_mailed != completed {
        problems.push(format!(
            "{unique_mailed} receipts for {completed} purchases"
        ));
    }
    let history = histories(stack, setup).await?;
    if history < history_before + completed {
        problems.push(format!(
            "the buyers' histories hold {history}, expected {}",
            history_before + completed
        ));
    }
    let after = item_numbers(stack, &setup.items).await?;
    for (item, (stock, sold)) in &after {
        if stock + sold != INITIAL_STOCK {
            problems.push(format!(
                "{item}: stock {stock} + sold {sold} ≠ {INITIAL_STOCK}"
            ));
        }
    }
    let pending = stack
        .database
        .collection::<mongodb::bson::Document>("transactions")
        .count_documents(doc! { "status": "pending" })
        .await?;
    if pending > 0 {
        problems.push(format!("{pending} purchases still pending"));
    }
    for (n, buyer) in setup.buyers.iter().enumerate() {
        let (signed_in, quantity) = session_and_cart(stack, setup, buyer).await;
        if !signed_in {
            problems.push(format!("buyer {n} was signed out"));
        }
        let set = carts.lock().await.get(&n).copied();
        if let Some(set) = set
            && quantity != Some(set)
        {
            problems.push(format!(
                "buyer {n}'s cart holds {quantity:?} of the first item, {set} was set last"
            ));
        }
    }
    if !live.heard_after {
        problems.push("the live socket heard no purchase after the fault".to_owned());
    }
    let recovery = match (fault, tally.recovered_after_ms.load(Ordering::Relaxed)) {
        (Fault::Nothing, _) => "-".to_owned(),
        (_, 0) => "never".to_owned(),
        (_, ms) => format!("{:.1} s", ms as f64 / 1000.0),
    };
    Ok(Row {
        label: fault.label(),
        purchases: started,
        answered,
        lost: answered.saturating_sub(completed),
        duplicated,
        recovery,
        problems,
    })
}

/// Purchases in the suite's buyers' histories, as the transaction service lists them.
async fn histories(stack: &Stack, setup: &Setup) -> anyhow::Result<u64> {
    let mut total = 0;
    for buyer in &setup.buyers {
        let started = Instant::now();
        total += loop {
            match stack
                .transactions
                .history(&CallContext::default(), &buyer.user, &Default::default())
                .await
            {
                Ok(history) => break history.total,
                Err(_) if started.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => return Err(err.into()),
            }
        };
    }
    Ok(total)
}

/// Kills or cuts what `fault` names, and starts or restores it as the project's scripts
/// would; answers when it was healed.
async fn inflict(stack: &mut Stack, fault: &Fault) -> anyhow::Result<Instant> {
    match fault {
        Fault::Nothing => {}
        Fault::Process(name) => {
            let process = stack.process(name).context("no such process")?;
            process.kill().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            process.start().await?;
        }
        Fault::Server { name, pid_file } => {
            let pid_path = local_dir().join("run").join(format!("{pid_file}.pid"));
            let pid = std::fs::read_to_string(&pid_path)
                .with_context(|| format!("{} (is scripts/infra.sh up?)", pid_path.display()))?;
            let killed = std::process::Command::new("kill")
                .args(["-9", pid.trim()])
                .status()?;
            if !killed.success() {
                bail!("could not kill {name} (pid {})", pid.trim());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            let up = Command::new(testkit::workspace_root().join("scripts/infra.sh"))
                .args(["up", name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await?;
            if !up.success() {
                bail!("scripts/infra.sh up {name} failed");
            }
        }
        Fault::Link(service, dependency) => {
            let proxy = stack
                .links
                .by
                .get(&(*service, *dependency))
                .context("no such link")?
                .clone();
            proxy.cut();
            tokio::time::sleep(Duration::from_secs(5)).await;
            proxy.restore().await;
        }
    }
    Ok(Instant::now())
}

/// Each item's (stock, sold), as the inventory service has them.
async fn item_numbers(
    stack: &Stack,
    items: &[ItemId],
) -> anyhow::Result<BTreeMap<String, (i64, i64)>> {
    let mut numbers = BTreeMap::new();
    for item in items {
        let started = Instant::now();
        let view = loop {
            match stack.inventory.item(&CallContext::default(), item).await {
                Ok(Some(view)) => break view,
                _ if started.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => bail!("cannot read item {item}: {other:?}"),
            }
        };
        numbers.insert(item.to_string(), (view.stock, view.sold));
    }
    Ok(numbers)
}

/// Purchases completed in the store.
async fn completed_purchases(stack: &Stack) -> anyhow::Result<u64> {
    let started = Instant::now();
    loop {
        match stack
            .database
            .collection::<mongodb::bson::Document>("transactions")
            .count_documents(doc! { "status": "completed" })
            .await
        {
            Ok(count) => return Ok(count),
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// Receipts mailed to the suite's buyers: every message, and distinct Message-IDs.
struct Mailed {
    total: u64,
    unique: u64,
}

async fn receipts(setup: &Setup) -> anyhow::Result<Mailed> {
    let api = testkit::Infra::from_env().mail_api_url;
    let http = reqwest::Client::new();
    let (mut total, mut ids) = (0, std::collections::HashSet::new());
    for buyer in &setup.buyers {
        let mut start = 0;
        loop {
            let page: serde_json::Value = http
                .get(format!("{api}/api/v1/search"))
                .query(&[
                    ("query", format!("to:\"{}\"", buyer.email)),
                    ("start", start.to_string()),
                    ("limit", "1000".to_owned()),
                ])
                .send()
                .await?
                .json()
                .await?;
            let messages = page["messages"].as_array().cloned().unwrap_or_default();
            for message in &messages {
                total += 1;
                ids.insert(message["MessageID"].as_str().unwrap_or_default().to_owned());
            }
            if messages.len() < 1000 {
                break;
            }
            start += 1000;
        }
    }
    Ok(Mailed {
        total,
        unique: ids.len() as u64,
    })
}

/// Whether `buyer` is still signed in, and how many of the first item their cart holds.
async fn session_and_cart(stack: &Stack, setup: &Setup, buyer: &Buyer) -> (bool, Option<i64>) {
    let page = setup
        .http
        .get(format!("{}/cart", stack.gateway))
        .header("cookie", &buyer.cookie)
        .send()
        .await;
    let Ok(page) = page else {
        return (false, None);
    };
    let html = page.text().await.unwrap_or_default();
    let signed_in = html.contains("Signed in as");
    let marker = format!("id=\"quantity-{}\"", setup.items[0]);
    let quantity = html.split(&marker).nth(1).and_then(|rest| {
        rest.split("value=\"")
            .nth(1)?
            .split('"')
            .next()?
            .parse()
            .ok()
    });
    (signed_in, quantity)
}

/// What the live socket saw.
#[derive(Default)]
struct Heard {
    /// A purchase arrived after the socket had to read again or reconnect (or, when nothing
    /// broke it, at all).
    heard_after: bool,
}

/// Holds a socket on the feed until `stop`, reconnecting as a page does (the test kit's
/// socket fails a test on a dropped connection; here dropping is the point); notes whether a
/// purchase arrived after the last resync or reconnection.
async fn live_watch(gateway: String, stop: Arc<AtomicBool>) -> Heard {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use wire::socket::{ClientMessage, ServerMessage};

    let url = format!("{}/live", gateway.replacen("http://", "ws://", 1));
    let subscribe = serde_json::to_string(&ClientMessage::Subscribe {
        topic: wire::socket_topics::FEED.to_owned(),
    })
    .unwrap_or_default();
    let mut since_break = false;
    while !stop.load(Ordering::Relaxed) {
        since_break = false;
        let Ok(mut request) = url.as_str().into_client_request() else {
            break;
        };
        if let Ok(origin) = gateway.parse() {
            request.headers_mut().insert("origin", origin);
        }
        let Ok((mut socket, _)) = tokio_tungstenite::connect_async(request).await else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        if socket
            .send(Message::Text(subscribe.clone().into()))
            .await
            .is_err()
        {
            continue;
        }
        while !stop.load(Ordering::Relaxed) {
            let frame = match tokio::time::timeout(Duration::from_secs(1), socket.next()).await {
                Err(_) => continue,
                Ok(Some(Ok(Message::Text(text)))) => text,
                Ok(Some(Ok(_))) => continue,
                Ok(_) => break,
            };
            match serde_json::from_str::<ServerMessage>(frame.as_str()) {
                Ok(ServerMessage::Resync) => since_break = false,
                Ok(ServerMessage::Event { .. } | ServerMessage::Events { .. }) => {
                    since_break = true;
                }
                _ => {}
            }
        }
    }
    Heard {
        heard_after: since_break,
    }
}
