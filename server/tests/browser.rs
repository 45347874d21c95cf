//! A real headless Chromium against the gateway: the page hydrates and its controls work.

mod support;

use std::time::Duration;

use fantoccini::Locator;
use support::spawn_stack;
use testkit::browser::{wait_for_hydration, wait_for_text, with_browser};

#[tokio::test]
async fn the_page_hydrates_and_shows_what_the_services_answer() {
    let stack = spawn_stack().await;
    let url = stack.gateway.url("/");

    with_browser(|browser| async move {
        browser.goto(&url).await.expect("open the catalog");
        wait_for_hydration(&browser).await;

        // The server function asked every service for /readyz over HTTP.
        let status = wait_for_text(
            &browser,
            ".service-status",
            Duration::from_secs(20),
            |text| {
                [
                    "user",
                    "inventory",
                    "transaction",
                    "receipt",
                    "notification",
                ]
                .iter()
                .all(|name| text.contains(&format!("{name}: ready")))
            },
        )
        .await;
        assert!(!status.contains("unavailable"), "{status}");

        // Works only in a hydrated page: the click runs in WebAssembly and calls the server
        // function again.
        let count = browser
            .find(Locator::Css(".check-count"))
            .await
            .expect("count")
            .text()
            .await
            .expect("text");
        assert_eq!(count, "Checked 1 time");
        browser
            .find(Locator::XPath("//button[normalize-space()='Check again']"))
            .await
            .expect("the Check again button")
            .click()
            .await
            .expect("click");
        wait_for_text(&browser, ".check-count", Duration::from_secs(10), |t| {
            t == "Checked 2 times"
        })
        .await;
        wait_for_text(&browser, ".service-status", Duration::from_secs(10), |t| {
            t.contains("notification: ready")
        })
        .await;
    })
    .await;
}
