//! Catalog and item-page throughput against the running stack (`scripts/start.sh`), as a
//! ratio to a trivial axum handler served by this process in the same run, plus the
//! inventory cache's hit ratio during the run. Pages are asked for anonymously (the gateway
//! keeps those rendered), as a browser does (`Accept-Encoding: br`), and signed in as a buyer
//! registered for the run (filled in from the item's template, compressed for each visitor).
//!
//!   cargo run --release -p bench --bin catalog-bench -- [seconds per target] [concurrency] [only]
//!
//! `only` keeps the targets whose name contains it (e.g. `"signed in"`, to profile one page
//! under load); the baseline always runs.
//!
//! Registering needs the services' signing secret: `INTERNAL_AUTH_SECRET`, else the one
//! `scripts/start.sh` made in `.local/internal-auth-secret`.
//!
//! The load generator shares the machine's cores with the servers, so absolute numbers say
//! little; the ratios compare like with like.

use std::time::{Duration, Instant};

use anyhow::Context;
use clients::{CallContext, InventoryClient};
use reqwest::header::{ACCEPT_ENCODING, COOKIE, HeaderMap, HeaderValue};
use wire::inventory::CatalogParams;
use wire::user::{LogInRequest, RegisterRequest};

/// What one or more stretches of load against one target gave.
#[derive(Default)]
struct Figures {
    latencies: Vec<Duration>,
    errors: usize,
    seconds: f64,
}

impl Figures {
    fn add(&mut self, more: Figures) {
        self.latencies.extend(more.latencies);
        self.errors += more.errors;
        self.seconds += more.seconds;
    }

    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds.max(f64::EPSILON)
    }

    /// The latency at quantile `q`, in milliseconds.
    fn ms_at(&mut self, q: f64) -> f64 {
        self.latencies.sort();
        let index = ((self.latencies.len() as f64 * q) as usize)
            .min(self.latencies.len().saturating_sub(1));
        self.latencies
            .get(index)
            .map_or(0.0, |latency| latency.as_secs_f64() * 1e3)
    }
}

/// `concurrency` clients asking for `url` back to back for `seconds`.
async fn drive(
    client: &reqwest::Client,
    url: &str,
    headers: &reqwest::header::HeaderMap,
    seconds: f64,
    concurrency: usize,
) -> Figures {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| async {
        let mut latencies = Vec::new();
        let mut errors = 0;
        while Instant::now() < deadline {
            let sent = Instant::now();
            match client.get(url).headers(headers.clone()).send().await {
                Ok(response) if response.status().is_success() => {
                    let _ = response.bytes().await;
                    latencies.push(sent.elapsed());
                }
                _ => errors += 1,
            }
        }
        (latencies, errors)
    });
    let results = futures::future::join_all(workers).await;
    let seconds = started.elapsed().as_secs_f64();
    let errors = results.iter().map(|(_, e)| e).sum();
    let latencies = results.into_iter().flat_map(|(l, _)| l).collect();
    Figures {
        latencies,
        errors,
        seconds,
    }
}

async fn cache_stats(inventory: &InventoryClient) -> anyhow::Result<(u64, u64)> {
    let stats = inventory.cache_stats(&CallContext::default()).await?;
    Ok((stats.hits, stats.misses))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let concurrency: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(32);
    let only = args.next().unwrap_or_default();
    let gateway = std::env::var("GATEWAY_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let inventory =
        std::env::var("INVENTORY_SERVICE_URL").unwrap_or_else(|_| "http://127.0.0.1:8082".into());

    // The baseline: the smallest useful axum handler, on the same loopback, same client.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let baseline = format!("http://{}/", listener.local_addr()?);
    tokio::spawn(async move {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let _ = axum::serve(listener, app).await;
    });

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let key = bench::signing_key()?;
    let inventory_client = InventoryClient::new(clients::http_client(), &inventory, key.clone())?;
    let params = CatalogParams {
        per_page: Some("1".into()),
        ..Default::default()
    };
    let catalog = inventory_client
        .catalog(&CallContext::default(), &params)
        .await
        .context("is the stack running? (scripts/start.sh)")?;
    let item_id = catalog
        .items
        .first()
        .map(|item| item.id.clone())
        .context("the catalog is empty: run scripts/start.sh (it loads demo data)")?;

    let users =
        std::env::var("USER_SERVICE_URL").unwrap_or_else(|_| "http://127.0.0.1:8081".into());
    let session = signed_in_buyer(&users, key).await?;

    let none = HeaderMap::new();
    let browser = HeaderMap::from_iter([(
        ACCEPT_ENCODING,
        HeaderValue::from_static("gzip, deflate, br, zstd"),
    )]);
    let signed_in = HeaderMap::from_iter([(COOKIE, HeaderValue::from_str(&session)?)]);
    let signed_in_browser = {
        let mut headers = signed_in.clone();
        headers.extend(browser.clone());
        headers
    };
    let item_page = format!("{gateway}/items?itemId={item_id}");
    let page = client
        .get(&item_page)
        .headers(signed_in.clone())
        .send()
        .await?;
    anyhow::ensure!(
        page.text().await?.contains("Signed in as"),
        "the signed-in item page does not show the buyer signed in"
    );
    let targets = [
        ("trivial axum handler (baseline)", baseline, &none),
        ("gateway: catalog page /", format!("{gateway}/"), &none),
        (
            "gateway: catalog page /, br",
            format!("{gateway}/"),
            &browser,
        ),
        (
            "gateway: item page /items?itemId=",
            item_page.clone(),
            &none,
        ),
        ("gateway: item page, br", item_page.clone(), &browser),
        (
            "gateway: item page, signed in",
            item_page.clone(),
            &signed_in,
        ),
        (
            "gateway: item page, signed in, br",
            item_page.clone(),
            &signed_in_browser,
        ),
        (
            "inventory: GET /v1/items (catalog JSON)",
            format!("{inventory}/v1/items"),
            &none,
        ),
        (
            "inventory: GET /v1/items/{id}",
            format!("{inventory}/v1/items/{item_id}"),
            &none,
        ),
    ];
    println!(
        "{seconds} s per target, each second beside a second of the baseline; \
         {concurrency} concurrent connections\n"
    );
    println!(
        "{:<42} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "target", "req/s", "p50 ms", "p99 ms", "ratio", "errors"
    );
    let (hits_before, misses_before) = cache_stats(&inventory_client).await?;
    // The machine's speed drifts over a run (two shared cores), so each target alternates
    // with the baseline in one-second stretches, and is compared with the baseline's figures
    // from its own stretches.
    let (baseline_name, baseline_url, _) = &targets[0];
    let mut baseline_overall = Figures::default();
    let mut rows = Vec::new();
    for (name, url, headers) in targets[1..]
        .iter()
        .filter(|(name, ..)| name.contains(&only))
    {
        let (mut target, mut baseline) = (Figures::default(), Figures::default());
        for _ in 0..seconds.max(1) {
            baseline.add(drive(&client, baseline_url, &none, 1.0, concurrency).await);
            target.add(drive(&client, url, headers, 1.0, concurrency).await);
        }
        anyhow::ensure!(!target.latencies.is_empty(), "{name}: no request succeeded");
        let ratio = target.per_second() / baseline.per_second();
        rows.push((*name, target, ratio));
        baseline_overall.add(baseline);
    }
    rows.insert(0, (*baseline_name, baseline_overall, 1.0));
    for (name, mut figures, ratio) in rows {
        println!(
            "{name:<42} {:>10.0} {:>9.2} {:>9.2} {:>9.4} {:>7}",
            figures.per_second(),
            figures.ms_at(0.50),
            figures.ms_at(0.99),
            ratio,
            figures.errors
        );
    }
    let (hits, misses) = cache_stats(&inventory_client).await?;
    let (hits, misses) = (hits - hits_before, misses - misses_before);
    println!(
        "\ninventory cache during the run: {hits} hits, {misses} misses, hit ratio {:.4}",
        hits as f64 / (hits + misses).max(1) as f64
    );
    Ok(())
}

/// Registers a buyer for this run and signs them in; the `Cookie` header of their session.
async fn signed_in_buyer(
    users: &str,
    key: common::identity::IdentityKey,
) -> anyhow::Result<String> {
    let users = clients::UserClient::new(clients::http_client(), users, key)?;
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let email = format!("catalog-bench-{run}@example.com");
    let password = "catalog bench password".to_owned();
    let context = CallContext::default();
    users
        .register(
            &context,
            &RegisterRequest {
                email: email.clone(),
                password: password.clone(),
                display_name: "Bench Buyer".into(),
            },
        )
        .await
        .context("register the bench's buyer")?;
    let session = users
        .log_in(&context, &LogInRequest { email, password })
        .await
        .context("sign the bench's buyer in")?;
    Ok(format!("session={}", session.session_id))
}
