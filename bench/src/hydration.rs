//! How soon an item page is interactive in a real browser: headless Chromium (as the browser
//! tests start it) opens an item page of the running stack (`scripts/start.sh`) again and
//! again, and reads when the page marked itself hydrated (`performance.mark("hydrated")`, made
//! when `data-hydrated` turns true) and when its HTML had fully arrived (`responseEnd`), both
//! in milliseconds after navigation start. The HTML's arrival is the baseline of the ratio.
//! It also prints what the first load (empty cache) took, and the WebAssembly the page loaded:
//! the bundle's main module and the pieces of it the item page needs, as sent (compressed).
//!
//!   cargo run --release -p bench --bin hydration-bench -- [page loads]

use std::time::Duration;

use anyhow::Context;
use clients::{CallContext, InventoryClient};
use wire::inventory::CatalogParams;

/// What one page load gives, from `performance` in the page.
const TIMINGS: &str = r#"
    const [navigation] = performance.getEntriesByType("navigation");
    const [hydrated] = performance.getEntriesByName("hydrated");
    return [navigation ? navigation.responseEnd : null, hydrated ? hydrated.startTime : null];
"#;

/// The WebAssembly files the page loaded: how many, and their bytes as sent and unpacked.
const WASM_LOADED: &str = r#"
    const wasm = performance.getEntriesByType("resource").filter(e => e.name.includes(".wasm"));
    return [
        wasm.length,
        wasm.reduce((sum, e) => sum + e.encodedBodySize, 0),
        wasm.reduce((sum, e) => sum + e.decodedBodySize, 0),
    ];
"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let loads: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20);
    let gateway = std::env::var("GATEWAY_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let inventory =
        std::env::var("INVENTORY_SERVICE_URL").unwrap_or_else(|_| "http://127.0.0.1:8082".into());
    // Reads need no identity; any key of the right length signs them.
    let key = common::identity::IdentityKey::new(
        "hydration-bench-reads-only-0123456789".to_owned().into(),
    )?;
    let catalog = InventoryClient::new(clients::http_client(), &inventory, key)?
        .catalog(
            &CallContext::default(),
            &CatalogParams {
                per_page: Some("1".into()),
                ..Default::default()
            },
        )
        .await
        .context("is the stack running? (scripts/start.sh)")?;
    let item = catalog
        .items
        .first()
        .context("the catalog is empty: run scripts/start.sh (it loads demo data)")?;
    let page = format!("{gateway}/items?itemId={}", item.id);

    let (tx, rx) = std::sync::mpsc::channel();
    let url = page.clone();
    testkit::browser::with_browser(|browser| async move {
        // The first load fills the browser's cache of the bundle, as a returning visitor has.
        for n in 0..=loads {
            browser.goto(&url).await.expect("open the item page");
            testkit::browser::wait_for_hydration(&browser).await;
            let timings = browser.execute(TIMINGS, vec![]).await.expect("timings");
            let pair = timings
                .as_array()
                .map(|t| (t[0].as_f64(), t[1].as_f64()))
                .unwrap_or_default();
            if n == 0 {
                let wasm = browser
                    .execute(WASM_LOADED, vec![])
                    .await
                    .expect("wasm loaded");
                let number = |i: usize| wasm.get(i).and_then(|v| v.as_f64()).unwrap_or(0.0);
                println!(
                    "first load (empty cache): HTML at {:.1} ms, hydrated at {:.1} ms; \
                     WebAssembly loaded: {} files, {:.1} KiB as sent, {:.1} KiB unpacked\n",
                    pair.0.unwrap_or(f64::NAN),
                    pair.1.unwrap_or(f64::NAN),
                    number(0),
                    number(1) / 1024.0,
                    number(2) / 1024.0,
                );
            } else if let (Some(html), Some(hydrated)) = pair {
                let _ = tx.send((html, hydrated));
            }
            // A fresh navigation each time, not a reload from the back-forward cache.
            browser.goto("about:blank").await.expect("leave the page");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let (mut html, mut hydrated): (Vec<f64>, Vec<f64>) = rx.try_iter().unzip();
    anyhow::ensure!(!hydrated.is_empty(), "no page load reported its timings");
    html.sort_by(f64::total_cmp);
    hydrated.sort_by(f64::total_cmp);
    let at = |v: &[f64], q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    println!("{} loads of {page}\n", hydrated.len());
    println!(
        "{:<44} {:>8} {:>8} {:>8}",
        "ms after navigation start", "p50", "p90", "max"
    );
    for (name, values) in [
        ("HTML arrived (baseline)", &html),
        ("hydrated (interactive)", &hydrated),
    ] {
        println!(
            "{name:<44} {:>8.1} {:>8.1} {:>8.1}",
            at(values, 0.5),
            at(values, 0.9),
            values[values.len() - 1]
        );
    }
    println!(
        "\nhydrated / HTML arrived, medians: {:.2}",
        at(&hydrated, 0.5) / at(&html, 0.5).max(0.001)
    );
    Ok(())
}
