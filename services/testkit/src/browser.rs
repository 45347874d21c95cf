//! A real headless Chromium driven over WebDriver (Debian's chromium + chromium-driver).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use serde_json::json;
use tokio::process::Command;

/// Runs `test` with a fresh browser and closes the session and the driver afterwards, also
/// when the test panics, so no Chromium outlives its test. Returns what `test` returns.
pub async fn with_browser<F, Fut, T>(test: F) -> T
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = T>,
{
    run_browser(true, test).await
}

/// Like [`with_browser`], with JavaScript switched off in the browser: what a page shows
/// then is only what the server's HTML holds, and forms are plain posts.
pub async fn with_browser_without_javascript<F, Fut, T>(test: F) -> T
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = T>,
{
    run_browser(false, test).await
}

async fn run_browser<F, Fut, T>(javascript: bool, test: F) -> T
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = T>,
{
    let port = crate::free_port();
    let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let mut driver = Command::new(&driver_bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {driver_bin} (scripts/test.sh installs it): {e}"));

    let profile = std::env::temp_dir().join(crate::unique_name("chromium-profile"));
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
            // 2 = blocked, for every site.
            "prefs": {
                "profile.managed_default_content_settings.javascript": if javascript { 1 } else { 2 }
            }
        },
        // The console, so that a Content-Security-Policy violation fails the test.
        "goog:loggingPrefs": { "browser": "ALL" }
    });
    let capabilities = match capabilities {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    };

    let url = format!("http://127.0.0.1:{port}");
    let mut client = None;
    for _ in 0..100 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let session = ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&url)
            .await;
        match session {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let client = client.expect("chromedriver did not start a session within 10 s");

    let outcome = AssertUnwindSafe(test(client.clone())).catch_unwind().await;
    let console = console_messages(&url, &client).await;
    let violations: Vec<&String> = console
        .iter()
        .filter(|message| message.contains("Content Security Policy"))
        .collect();
    if outcome.is_err() {
        // What the page said (a panic in WebAssembly, a failed fetch) explains most failures.
        eprintln!("the browser's console:\n{}", console.join("\n"));
    }
    let _ = client.close().await;
    let _ = driver.kill().await;
    let _ = std::fs::remove_dir_all(&profile);
    let value = outcome.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    assert!(
        violations.is_empty(),
        "the page broke its Content-Security-Policy: {violations:#?}"
    );
    value
}

/// The console's messages since the session began. Chromium logs every script, style, image
/// or connection the Content-Security-Policy blocked there, and every uncaught error.
async fn console_messages(driver_url: &str, client: &Client) -> Vec<String> {
    let Ok(Some(session)) = client.session_id().await else {
        return vec!["the WebDriver session has no id".to_owned()];
    };
    let log: serde_json::Value = match reqwest::Client::new()
        .post(format!("{driver_url}/session/{session}/se/log"))
        .json(&json!({ "type": "browser" }))
        .send()
        .await
    {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(err) => return vec![format!("could not read the browser's console: {err}")],
    };
    log["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["message"].as_str())
        .map(str::to_owned)
        .collect()
}

/// Waits until the page has hydrated: clicks before that are lost.
pub async fn wait_for_hydration(client: &Client) {
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(r#"[data-hydrated="true"]"#))
        .await
        .expect("the page did not hydrate within 30 s");
}

/// Waits until the page's live-updates socket is open (events published from now on arrive).
pub async fn wait_for_live_updates(client: &Client) {
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(r#"[data-live="connected"]"#))
        .await
        .expect("the live-updates socket did not open within 30 s");
}

/// Waits until the element's text satisfies `predicate`, returning the last text seen.
pub async fn wait_for_text(
    client: &Client,
    css: &str,
    within: Duration,
    predicate: impl Fn(&str) -> bool,
) -> String {
    let started = std::time::Instant::now();
    let mut last = String::new();
    while started.elapsed() < within {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            if predicate(&text) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: text never matched within {within:?}; last seen {last:?}");
}

/// The text of the element at `css` now (no waiting).
pub async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("{css}: {err}"))
        .text()
        .await
        .unwrap_or_else(|err| panic!("{css}: {err}"))
}

/// Types `text` into the field found by `css`, replacing what was there.
pub async fn fill(browser: &Client, css: &str, text: &str) {
    let field = browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.expect("clear the field");
    field.send_keys(text).await.expect("type into the field");
}

/// Clicks the element found by `xpath`.
pub async fn click(browser: &Client, xpath: &str) {
    let element = browser
        .find(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("{xpath}: {e}"));
    element
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {xpath}: {e}"));
}

/// Clicks the button whose visible name is `name`.
pub async fn click_button(browser: &Client, name: &str) {
    click(browser, &format!("//button[normalize-space()='{name}']")).await;
}

/// Marks the document the browser shows now; [`assert_same_page`] then tells whether a change
/// came in place or by loading the page again.
pub async fn mark_this_page(browser: &Client) {
    browser
        .execute("window.stillTheSamePage = true;", vec![])
        .await
        .expect("mark the page");
}

/// Fails unless the document marked by [`mark_this_page`] is still the one shown: what
/// changed did so without a reload.
pub async fn assert_same_page(browser: &Client) {
    let same_page = browser
        .execute("return window.stillTheSamePage === true;", vec![])
        .await
        .expect("read the mark");
    assert_eq!(same_page, json!(true), "the page was loaded again");
}

/// What the accessibility audit found on one page: `(rule, impact, help, elements)` for each
/// violation rated serious or critical.
pub type AuditFindings = Vec<(String, String, String, Vec<String>)>;

/// Runs axe-core (the engine the web's accessibility tools share; `AXE_CORE_JS`, which
/// `scripts/test.sh` installs) in the page the browser shows, with every WCAG 2.x A/AA rule and
/// axe's best practices, and answers the violations rated serious or critical.
pub async fn accessibility_violations(browser: &Client) -> AuditFindings {
    static ENGINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        let path = std::env::var("AXE_CORE_JS").unwrap_or_else(|_| {
            panic!("AXE_CORE_JS is not set (scripts/test.sh installs axe-core)")
        });
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("read {path}: {err}"))
    });
    // Injected through WebDriver (a DevTools evaluation, which the page's CSP does not
    // govern), so the site's policy stays as strict as it is for visitors.
    browser
        .execute(&format!("{engine}\nreturn typeof window.axe;"), vec![])
        .await
        .expect("load axe-core into the page");
    let found = browser
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               window.axe
                 .run(document, {
                   runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
                   resultTypes: ["violations"],
                 })
                 .then((result) => done(result.violations
                   .filter((v) => v.impact === "serious" || v.impact === "critical")
                   .map((v) => [v.id, v.impact, v.help, v.nodes.map((n) => n.target.join(" ") + " :: " + n.failureSummary)])))
                 .catch((err) => done([["axe-error", "critical", String(err), []]]));"#,
            vec![],
        )
        .await
        .expect("run axe-core");
    serde_json::from_value(found).expect("axe-core's findings")
}
