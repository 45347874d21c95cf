//! A buyer fills a cart in a real browser, checks out, sees the purchase and gets the receipt
//! email; the seller sees the sale.

use std::time::Duration;

use fantoccini::Locator;
use testkit::browser::{
    assert_same_page, click, click_button, mark_this_page, wait_for_hydration, wait_for_text,
    with_browser,
};
use testkit::{Mailbox, unique_name};

use crate::helpers::{log_in, register, spawn_stack};

#[tokio::test]
async fn a_buyer_checks_out_a_cart_gets_a_receipt_and_the_seller_sees_the_sale() {
    let stack = spawn_stack().await;
    let base = stack.gateway.base_url.clone();
    let (seller_email, seller) = register(&stack, "Selma").await;
    let (buyer_email, _) = register(&stack, "Bruno").await;
    let tag = unique_name("t")
        .rsplit('_')
        .next()
        .unwrap_or("x")
        .to_owned();
    let (lamp, mug) = (format!("Lamp {tag}"), format!("Mug {tag}"));
    stack.list_item(&seller, &lamp, 4_000, 5).await;
    stack.list_item(&seller, &mug, 1_250, 5).await;

    let (receipt_to, lamp_title) = (buyer_email.clone(), lamp.clone());
    let smtp_link = stack.smtp_link.clone();
    with_browser(|browser| async move {
        log_in(&browser, &base, &buyer_email).await;
        browser
            .goto(&format!("{base}/?q={tag}"))
            .await
            .expect("search");
        wait_for_hydration(&browser).await;
        for title in [&lamp, &mug] {
            let button = format!("//button[@aria-label='Add to cart: {title}']");
            click(&browser, &button).await;
        }
        click(
            &browser,
            &format!("//button[@aria-label='Add to cart: {mug}']"),
        )
        .await;
        wait_for_text(&browser, ".cart-count", Duration::from_secs(5), |t| {
            t == "(3)"
        })
        .await;

        // The same cart in another tab, and after a reload.
        let first_tab = browser.window().await.expect("this tab");
        let second_tab = browser.new_window(true).await.expect("a second tab").handle;
        browser
            .switch_to_window(second_tab.clone())
            .await
            .expect("to the second tab");
        browser
            .goto(&format!("{base}/"))
            .await
            .expect("open the catalog");
        wait_for_hydration(&browser).await;
        wait_for_text(&browser, ".cart-count", Duration::from_secs(5), |t| {
            t == "(3)"
        })
        .await;
        browser.refresh().await.expect("reload");
        wait_for_hydration(&browser).await;
        wait_for_text(&browser, ".cart-count", Duration::from_secs(5), |t| {
            t == "(3)"
        })
        .await;
        browser
            .switch_to_window(first_tab)
            .await
            .expect("back to the first tab");

        browser
            .goto(&format!("{base}/cart"))
            .await
            .expect("open the cart");
        wait_for_hydration(&browser).await;
        wait_for_text(&browser, ".cart-total", Duration::from_secs(10), |t| {
            t.contains("$65.00")
        })
        .await;
        // The mail server is out of reach for a moment, so the receipt waits.
        smtp_link.cut();
        click_button(&browser, "Checkout").await;

        // The checkout lands on the purchase's own page, which says thank you and where the
        // receipt is; the status turns to "emailed" in place once the mail has gone.
        let order = wait_for_text(&browser, ".order", Duration::from_secs(20), |t| {
            t.contains("Thank you for your purchase")
        })
        .await;
        assert!(
            order.contains(&format!("2 × {mug}"))
                && order.contains(&lamp)
                && order.contains("Total: $65.00")
                && order.contains(" UTC"),
            "{order}"
        );
        let order_path = browser.current_url().await.expect("url").path().to_owned();
        let purchase_id = order_path
            .strip_prefix("/purchases/")
            .unwrap_or_else(|| panic!("not a purchase's page: {order_path}"))
            .to_owned();
        assert_eq!(purchase_id.len(), 24, "{order_path}");
        assert!(
            order.contains("Receipt queued: it will be emailed to you in a moment."),
            "{order}"
        );
        // A mark on this document: gone if the page were reloaded.
        mark_this_page(&browser).await;
        smtp_link.restore().await;
        let masked = format!("{}…@example.com", &buyer_email[..1]);
        let status = wait_for_text(&browser, ".receipt-status", Duration::from_secs(60), |t| {
            t.starts_with("Receipt emailed")
        })
        .await;
        assert!(
            status.starts_with(&format!("Receipt emailed to {masked} at ")),
            "{status}"
        );
        assert_eq!(
            Mailbox::default().to(&buyer_email).await.len(),
            1,
            "the page says emailed once the mail server has it"
        );
        assert_same_page(&browser).await;
        wait_for_text(&browser, ".cart-count", Duration::from_secs(5), |t| {
            t == "(0)"
        })
        .await;
        // The history lists it, dated, with a link to the same page.
        browser
            .goto(&format!("{base}/purchases"))
            .await
            .expect("open /purchases");
        let purchases = wait_for_text(&browser, ".purchases", Duration::from_secs(20), |t| {
            t.contains(&lamp)
        })
        .await;
        assert!(purchases.contains(" UTC"), "{purchases}");
        browser
            .find(Locator::Css(&format!(
                r#".purchases a[href="{order_path}"]"#
            )))
            .await
            .expect("a link to the purchase's page");
        // The checkout emptied the cart in the other tab too, without a reload.
        let this_tab = browser.window().await.expect("this tab");
        browser
            .switch_to_window(second_tab)
            .await
            .expect("to the second tab");
        wait_for_text(&browser, ".cart-count", Duration::from_secs(5), |t| {
            t == "(0)"
        })
        .await;
        browser.switch_to_window(this_tab).await.expect("back");

        click_button(&browser, "Log out").await;
        wait_for_text(
            &browser,
            ".site-header .account",
            Duration::from_secs(10),
            |t| t.contains("Log in"),
        )
        .await;
        log_in(&browser, &base, &seller_email).await;
        browser
            .goto(&format!("{base}/seller"))
            .await
            .expect("open /seller");
        let sales = wait_for_text(&browser, "table.sales", Duration::from_secs(15), |t| {
            t.contains("Bruno")
        })
        .await;
        assert!(
            sales.contains(&lamp) && sales.contains(&mug) && sales.contains("$65.00"),
            "{sales}"
        );
    })
    .await;

    let mailbox = Mailbox::default();
    let receipts = mailbox
        .wait_for(&receipt_to, 1, Duration::from_secs(60))
        .await;
    assert_eq!(receipts.len(), 1, "one receipt email for the one purchase");
    let body = mailbox.body(&receipts[0]).await;
    assert!(
        body.text.contains(&lamp_title) && body.text.contains("Total: $65.00"),
        "{}",
        body.text
    );
}
