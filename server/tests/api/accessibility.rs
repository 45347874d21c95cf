//! The accessibility audit (axe-core) of every page, signed out and signed in, at desktop and
//! phone width: no violation rated serious or critical.

use std::time::Duration;

use testkit::browser::{
    accessibility_violations, click, wait_for_hydration, wait_for_text, with_browser,
};

use crate::helpers::{log_in, register, spawn_stack};

/// Desktop and phone (a 390 x 844 CSS-pixel handset).
const WIDTHS: [(&str, u32, u32); 2] = [("desktop", 1280, 900), ("phone", 390, 844)];

#[tokio::test]
async fn every_page_passes_the_accessibility_audit_signed_out_and_signed_in_at_desktop_and_phone_width()
 {
    let stack = spawn_stack().await;
    // Two sellers who bought from each other: Ada has items, sales, a purchase and a cart.
    let (ada_email, ada) = register(&stack, "Ada").await;
    let (_, ben) = register(&stack, "Ben").await;
    let bowl = stack.list_item(&ada, "Walnut bowl", 4_500, 5).await;
    let spoon = stack.list_item(&ben, "Olive spoon", 1_200, 5).await;
    stack.buy(&ben, &bowl).await;
    let purchase = stack.buy(&ada, &spoon).await;
    let base = stack.gateway.url("");
    let pages = [
        "/".to_owned(),
        format!("/items?itemId={bowl}"),
        "/cart".to_owned(),
        "/purchases".to_owned(),
        format!("/purchases/{purchase}"),
        "/seller".to_owned(),
        "/login".to_owned(),
        "/register".to_owned(),
        "/status".to_owned(),
    ];

    let findings = with_browser(|browser| async move {
        let mut findings = Vec::new();
        for signed_in in [false, true] {
            if signed_in {
                log_in(&browser, &base, &ada_email).await;
                browser
                    .goto(&format!("{base}/items?itemId={spoon}"))
                    .await
                    .expect("open an item");
                wait_for_hydration(&browser).await;
                click(&browser, "//button[@aria-label='Add to cart: Olive spoon']").await;
                wait_for_text(&browser, ".cart-count", Duration::from_secs(15), |t| {
                    t == "(1)"
                })
                .await;
            }
            for (width_name, width, height) in WIDTHS {
                browser
                    .set_window_size(width, height)
                    .await
                    .expect("size the window");
                for page in &pages {
                    browser
                        .goto(&format!("{base}{page}"))
                        .await
                        .unwrap_or_else(|err| panic!("open {page}: {err}"));
                    wait_for_hydration(&browser).await;
                    let who = if signed_in { "signed in" } else { "signed out" };
                    for (rule, impact, help, elements) in accessibility_violations(&browser).await {
                        findings.push(format!(
                            "{page} ({who}, {width_name}): {impact} {rule}: {help}\n    {}",
                            elements.join("\n    ")
                        ));
                    }
                }
            }
        }
        findings
    })
    .await;
    assert!(
        findings.is_empty(),
        "the accessibility audit found {} serious or critical problems:\n{}",
        findings.len(),
        findings.join("\n")
    );
}
