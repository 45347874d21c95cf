//! What a buyer's history page and a seller's sales page cost as the store fills: read with
//! 1,000 purchases stored (the baseline, same run), then again after the store's bulk inserts
//! have filled it to `total` (a million by default), on the local MongoDB-wire server (the
//! default store) or whatever `MONGODB_URI` names, in a database of the bench's own.
//!
//!   cargo run --release -p bench --bin history-bench -- [total] [buyers] [sellers]
//!
//! Purchase `n` is buyer `n % buyers`'s, of an item of seller `n % sellers`, so with a
//! million purchases, 10,000 buyers and 100 sellers, each buyer has 100 purchases (5 pages)
//! and each seller 10,000 sales (500 pages).

use std::time::Instant;

use anyhow::Context;
use common::infra::mongo::MongoSettings;
use transaction_service::testing::Store;

/// Page reads per figure; the median is kept.
const READS: usize = 30;

/// The median time of `READS` calls of `read`, in milliseconds.
async fn median_ms<F, Fut>(mut read: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut times = Vec::with_capacity(READS);
    for _ in 0..READS {
        let started = Instant::now();
        read().await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(bench::percentile(&times, 0.5).as_secs_f64() * 1e3)
}

/// Page 1 and the last page of buyer 0's history and seller 0's sales, and seller 0's sales per
/// day: (name, ms).
async fn figures(
    store: &Store,
    stored: u64,
    buyers: u64,
    sellers: u64,
) -> anyhow::Result<Vec<(String, f64)>> {
    let history_pages = (stored / buyers.max(1)).div_ceil(20).max(1);
    let sales_pages = (stored / sellers.max(1)).div_ceil(20).max(1);
    let mut out = Vec::new();
    for (name, page) in [
        ("history, newest page", 1),
        ("history, oldest page", history_pages),
    ] {
        let ms = median_ms(|| async {
            let page = store.history_page(0, page).await?;
            anyhow::ensure!(!page.is_empty(), "an empty history page");
            Ok(())
        })
        .await?;
        out.push((name.to_owned(), ms));
    }
    for (name, page) in [
        ("sales, newest page", 1),
        ("sales, oldest page", sales_pages),
    ] {
        let ms = median_ms(|| async {
            let report = store.sales_page(0, page).await?;
            anyhow::ensure!(!report.sales.is_empty(), "an empty sales page");
            Ok(())
        })
        .await?;
        out.push((name.to_owned(), ms));
    }
    let ms = median_ms(|| async {
        let daily = store.daily_sales(0).await?;
        anyhow::ensure!(
            daily.days.iter().any(|day| day.cents > 0),
            "no sales in the chart"
        );
        Ok(())
    })
    .await?;
    out.push(("sales per day, 30 days".to_owned(), ms));
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let total: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let buyers: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let sellers: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100);
    let settings = MongoSettings {
        uri: common::config::env_or("MONGODB_URI", "mongodb://127.0.0.1:27017"),
        database: testkit::unique_name("history_bench"),
    };
    let store = Store::open(&settings)
        .await
        .context("is the MongoDB-wire server up? (scripts/infra.sh up mongo)")?;
    const BASELINE: u64 = 1_000;
    // Counters move at the end of each load, so loads are large.
    const LOAD: u64 = 100_000;
    store.load(0, BASELINE.min(total), buyers, sellers).await?;
    let baseline = figures(&store, BASELINE.min(total), buyers, sellers).await?;
    let started = Instant::now();
    let mut stored = BASELINE.min(total);
    while stored < total {
        let count = LOAD.min(total - stored);
        store.load(stored, count, buyers, sellers).await?;
        stored += count;
        eprintln!(
            "  {stored} purchases stored ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    let load = started.elapsed();
    let filled = figures(&store, stored, buyers, sellers).await?;
    println!(
        "history-bench: {buyers} buyers, {sellers} sellers; {} purchases loaded in {:.0} s ({:.0}/s)",
        stored,
        load.as_secs_f64(),
        (stored - BASELINE.min(total)) as f64 / load.as_secs_f64().max(f64::EPSILON),
    );
    println!(
        "{:<24} {:>12} {:>14} {:>7}",
        "page (median ms)",
        "1,000 stored",
        format!("{stored} stored"),
        "ratio"
    );
    for ((name, before), (_, after)) in baseline.iter().zip(&filled) {
        println!(
            "{name:<24} {before:>12.2} {after:>14.2} {:>7.2}",
            after / before.max(f64::EPSILON)
        );
    }
    drop(store);
    eprintln!(
        "(database {} left in place; drop it when done)",
        settings.database
    );
    Ok(())
}
