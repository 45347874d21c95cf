//! How many anonymous catalog answers come from the gateway's kept pages while one seller
//! changes an item in a loop, against the running stack (`scripts/start.sh`). The baseline,
//! in the same run, is the share while nobody changes anything.
//!
//!   cargo run --release -p bench --bin kept-pages-bench -- [seconds per phase] [readers]
//!
//! Readers ask for the first three catalog pages round robin, back to back. The seller (one
//! made up for the run, whose items are the newest, so on the first page) changes a price
//! in one phase, and takes an item off sale and puts it back in the next, as fast as the
//! inventory service answers; refused changes (429, past the hourly allowance) are counted.
//! Needs the services' signing secret: `INTERNAL_AUTH_SECRET`, else the one
//! `scripts/start.sh` made in `.local/internal-auth-secret`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clients::{CallContext, CallError, InventoryClient};
use wire::inventory::{ItemEdit, NewItem};

/// What a phase's readers saw.
struct Share {
    kept: u64,
    answers: u64,
    changes: u64,
    refused: u64,
}

impl Share {
    fn ratio(&self) -> f64 {
        self.kept as f64 / self.answers.max(1) as f64
    }
}

/// How the seller changes the item in a phase.
#[derive(Clone, Copy)]
enum Change {
    Nothing,
    Price,
    OnAndOffSale,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let readers: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(8);
    let gateway = std::env::var("GATEWAY_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let inventory_url =
        std::env::var("INVENTORY_SERVICE_URL").unwrap_or_else(|_| "http://127.0.0.1:8082".into());
    let inventory = InventoryClient::new(
        clients::http_client(),
        &inventory_url,
        bench::signing_key()?,
    )?;

    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let seller = common::identity::Identity {
        user_id: format!("{:0>24x}", run).parse()?,
        display_name: "Bench Seller".into(),
        email: format!("kept-pages-bench-{run}@example.com"),
    };
    let item = inventory
        .create_item(
            &CallContext::default(),
            &seller,
            &NewItem {
                title: format!("Bench lamp {run}"),
                description: None,
                price_cents: 1_000,
                stock: 1_000,
                image_url: None,
                picture: None,
                request_id: None,
            },
        )
        .await
        .context("is the stack running? (scripts/start.sh)")?;

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(readers)
        .build()?;
    let pages: Arc<Vec<String>> = Arc::new(
        ["/", "/?page=2", "/?page=3"]
            .iter()
            .map(|path| format!("{gateway}{path}"))
            .collect(),
    );
    println!("kept-pages-bench: {readers} readers of 3 catalog pages, {seconds} s a phase");
    let mut quiet = None;
    for (name, change) in [
        ("nobody changes anything (baseline)", Change::Nothing),
        ("the seller changes a price in a loop", Change::Price),
        (
            "the seller takes an item off sale and back in a loop",
            Change::OnAndOffSale,
        ),
    ] {
        let share = phase(
            &http,
            &pages,
            readers,
            Duration::from_secs(seconds),
            &inventory,
            &seller,
            &item.id,
            change,
        )
        .await;
        let baseline = *quiet.get_or_insert(share.ratio());
        println!(
            "  {name}: {} of {} answers kept ({:.3}, {:.2} of the baseline); changes made {}, refused {}",
            share.kept,
            share.answers,
            share.ratio(),
            share.ratio() / baseline.max(f64::EPSILON),
            share.changes,
            share.refused,
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn phase(
    http: &reqwest::Client,
    pages: &Arc<Vec<String>>,
    readers: usize,
    length: Duration,
    inventory: &InventoryClient,
    seller: &common::identity::Identity,
    item: &wire::ItemId,
    change: Change,
) -> Share {
    let done = Arc::new(AtomicBool::new(false));
    let (kept, answers) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for reader in 0..readers {
        let (http, pages, done) = (http.clone(), pages.clone(), done.clone());
        let (kept, answers) = (kept.clone(), answers.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = reader;
            while !done.load(Ordering::Relaxed) {
                n += 1;
                let Ok(response) = http.get(&pages[n % pages.len()]).send().await else {
                    continue;
                };
                let hit = response
                    .headers()
                    .get("x-page-cache")
                    .is_some_and(|v| v.as_bytes() == b"hit");
                let _ = response.bytes().await;
                answers.fetch_add(1, Ordering::Relaxed);
                if hit {
                    kept.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let (mut changes, mut refused) = (0, 0);
    let started = Instant::now();
    let mut n: i64 = 0;
    while started.elapsed() < length {
        n += 1;
        let edit = match change {
            Change::Nothing => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Change::Price => ItemEdit {
                price_cents: Some(1_000 + n % 100),
                ..Default::default()
            },
            Change::OnAndOffSale => ItemEdit {
                on_sale: Some(n % 2 == 0),
                ..Default::default()
            },
        };
        match inventory
            .edit_item(&CallContext::default(), seller, item, &edit)
            .await
        {
            Ok(_) => changes += 1,
            Err(CallError::Refused { status, .. }) if status.as_u16() == 429 => {
                refused += 1;
                // Refused at once; a real seller would not hammer either.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(err) => {
                eprintln!("an edit failed: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    Share {
        kept: kept.load(Ordering::Relaxed),
        answers: answers.load(Ordering::Relaxed),
        changes,
        refused,
    }
}
