//! Live updates end to end: real purchases through the services, sockets through the gateway's
//! `/live` and straight at two notification instances, and real browsers.

use std::time::Duration;

use fantoccini::Locator;
use testkit::browser::{
    click_button, wait_for_hydration, wait_for_live_updates, wait_for_text, with_browser,
};
use testkit::{Ending, LiveSocket, unique_name};
use wire::events::LiveEvent;
use wire::socket::ServerMessage;

use crate::helpers::{self, Stack, log_in, register, spawn_notification, spawn_stack};

const WAIT: Duration = Duration::from_secs(15);

fn ws(base_url: &str, path: &str) -> String {
    format!("{}{path}", base_url.replacen("http://", "ws://", 1))
}

/// A session signed in through the gateway's log-in form: the cookie and the session id.
async fn session_cookie(stack: &Stack, email: &str) -> (String, String) {
    let cookie = stack.sign_in(email).await;
    let session = cookie
        .strip_prefix("session=")
        .expect("a session cookie")
        .to_owned();
    (cookie, session)
}

fn bought_by(events: &[LiveEvent], buyer: &str) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, LiveEvent::Purchase { buyer_name, .. } if buyer_name == buyer))
        .count()
}

#[tokio::test]
async fn a_purchase_reaches_every_instance_once_and_the_buyers_other_sessions() {
    let stack = spawn_stack().await;
    let other_instance = spawn_notification(vec![stack.origin.clone()]).await;
    let buyer_name = format!("Bea {}", unique_name("b").rsplit('_').next().unwrap_or("1"));
    let (email, buyer) = register(&stack, &buyer_name).await;
    let seller = helpers::seller("Sol");
    let item = stack.list_item(&seller, "Red Lamp", 2_500, 5).await;
    let gateway_live = ws(&stack.gateway.base_url, "/live");
    let origin = Some(stack.origin.as_str());

    // The buyer's other browser, through the gateway, with its own session cookie.
    let (cookie, session) = session_cookie(&stack, &email).await;
    let mut buyers_other_browser =
        LiveSocket::connect(&gateway_live, origin, &[("cookie", &cookie)])
            .await
            .expect("accepted")
            .subscribed("user")
            .await
            .subscribed("feed")
            .await
            .subscribed(&format!("item:{item}"))
            .await;
    // A visitor without a session: the feed, yes; someone's own events, no.
    let mut visitor = LiveSocket::connect(&gateway_live, origin, &[("cookie", "session=made-up")])
        .await
        .expect("accepted");
    assert!(matches!(
        visitor.subscribe("user").await,
        ServerMessage::Refused { .. }
    ));
    // A socket on the second instance (an anonymous visitor, as the gateway signs one).
    let anonymous = stack.key.sign_as(
        common::identity::Caller::Gateway,
        None,
        Some("192.0.2.20"),
        std::time::SystemTime::now(),
    );
    let mut elsewhere = LiveSocket::connect(
        &ws(&other_instance.base_url, "/v1/live"),
        origin,
        &[(common::identity::IDENTITY_HEADER, &anonymous)],
    )
    .await
    .expect("accepted")
    .subscribed("feed")
    .await;

    // The seller, signed in elsewhere (straight at the second instance with a signed identity).
    let seller_identity = stack.key.sign(&seller, std::time::SystemTime::now());
    let mut sellers_socket = LiveSocket::connect(
        &ws(&other_instance.base_url, "/v1/live"),
        origin,
        &[(common::identity::IDENTITY_HEADER, &seller_identity)],
    )
    .await
    .expect("accepted")
    .subscribed("user")
    .await;

    stack.buy(&buyer, &item).await;

    let feed = buyers_other_browser
        .events_during("feed", Duration::from_secs(2))
        .await;
    assert_eq!(bought_by(&feed, &buyer_name), 1, "{feed:?}");
    let feed = elsewhere
        .events_during("feed", Duration::from_millis(500))
        .await;
    assert_eq!(bought_by(&feed, &buyer_name), 1, "{feed:?}");
    let own = buyers_other_browser
        .events_during("user", Duration::from_millis(500))
        .await;
    // Once; its receipt may have gone out meanwhile, which is the buyer's news too.
    let changed = own
        .iter()
        .filter(|event| matches!(event, LiveEvent::PurchasesChanged { .. }))
        .count();
    assert_eq!(changed, 1, "{own:?}");
    assert!(
        own.iter().all(|event| matches!(
            event,
            LiveEvent::PurchasesChanged { .. } | LiveEvent::ReceiptSent { .. }
        )),
        "{own:?}"
    );
    let numbers = buyers_other_browser
        .events_during(&format!("item:{item}"), Duration::from_millis(500))
        .await;
    assert!(
        numbers.contains(&LiveEvent::ItemChanged {
            item_id: item.parse().expect("an id"),
            sold: 1,
            stock: 4
        }),
        "{numbers:?}"
    );

    let sales = sellers_socket
        .events_during("user", Duration::from_millis(500))
        .await;
    assert!(
        matches!(sales.as_slice(), [LiveEvent::SalesChanged { .. }]),
        "the seller hears of the sale: {sales:?}"
    );

    // Logging out closes the user's sockets.
    let response = stack
        .user
        .http
        .post(stack.user.url("/v1/sessions/end"))
        .header(common::identity::IDENTITY_HEADER, &anonymous)
        .json(&serde_json::json!({ "session_id": session }))
        .send()
        .await
        .expect("log out");
    assert_eq!(response.status().as_u16(), 204);
    match buyers_other_browser.ending(WAIT).await {
        Some(Ending::Closed(Some(frame))) => assert_eq!(frame.reason.as_str(), "signed out"),
        other => panic!("expected the socket to close on logout, got {other:?}"),
    }
}

#[tokio::test]
async fn the_gateway_passes_refusals_on_and_speaks_only_websocket() {
    let stack = spawn_stack().await;
    let gateway_live = ws(&stack.gateway.base_url, "/live");
    assert_eq!(
        LiveSocket::connect(&gateway_live, Some("https://evil.example"), &[])
            .await
            .err(),
        Some(403)
    );
    let plain = stack
        .gateway
        .http
        .get(stack.gateway.url("/live"))
        .send()
        .await
        .expect("GET /live");
    assert_eq!(plain.status().as_u16(), 400);
    let body = plain.text().await.expect("body");
    assert!(body.contains("only accepts WebSocket"), "{body}");
}

async fn text_of(browser: &fantoccini::Client, css: &str) -> String {
    match browser.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[tokio::test]
async fn tabs_see_viewers_and_a_purchase_made_in_another_tab_and_visitors_see_the_banner() {
    let stack = spawn_stack().await;
    let base = stack.gateway.base_url.clone();
    let buyer_name = format!(
        "Tess {}",
        unique_name("t").rsplit('_').next().unwrap_or("1")
    );
    let (email, _) = register(&stack, &buyer_name).await;
    let title = format!(
        "Brass Kettle {}",
        unique_name("k").rsplit('_').next().unwrap_or("1")
    );
    let item = stack
        .list_item(&helpers::seller("Sol"), &title, 4_200, 3)
        .await;
    let item_page = format!("{base}/items?itemId={item}");

    with_browser(|tabs| async move {
        log_in(&tabs, &base, &email).await;
        let tab_a = tabs.window().await.expect("this tab");
        tabs.goto(&item_page).await.expect("open the item");
        wait_for_hydration(&tabs).await;
        wait_for_text(&tabs, ".viewers", WAIT, |t| t == "1 viewing now").await;

        let tab_b = tabs.new_window(true).await.expect("a second tab").handle;
        tabs.switch_to_window(tab_b.clone())
            .await
            .expect("to tab B");
        tabs.goto(&item_page).await.expect("open the item in tab B");
        wait_for_hydration(&tabs).await;
        wait_for_text(&tabs, ".viewers", WAIT, |t| t == "2 viewing now").await;
        tabs.switch_to_window(tab_a.clone())
            .await
            .expect("to tab A");
        wait_for_text(&tabs, ".viewers", WAIT, |t| t == "2 viewing now").await;

        // Closing tab B takes it out of the count.
        tabs.switch_to_window(tab_b).await.expect("to tab B");
        tabs.close_window().await.expect("close tab B");
        tabs.switch_to_window(tab_a.clone())
            .await
            .expect("to tab A");
        wait_for_text(&tabs, ".viewers", WAIT, |t| t == "1 viewing now").await;

        // Tab B again, on the purchase history.
        let tab_b = tabs.new_window(true).await.expect("tab B again").handle;
        tabs.switch_to_window(tab_b.clone())
            .await
            .expect("to tab B");
        tabs.goto(&format!("{base}/purchases"))
            .await
            .expect("open /purchases");
        wait_for_hydration(&tabs).await;
        wait_for_text(&tabs, "main", WAIT, |t| t.contains("No purchases yet")).await;

        with_browser(|visitor| async move {
            // A logged-out visitor on the same item page.
            visitor
                .goto(&item_page)
                .await
                .expect("visitor opens the item");
            wait_for_hydration(&visitor).await;
            wait_for_text(&visitor, ".viewers", WAIT, |t| t == "2 viewing now").await;
            assert_eq!(text_of(&visitor, ".sold-count").await, "Sold 0 times");

            tabs.switch_to_window(tab_a).await.expect("to tab A");
            click_button(&tabs, "Buy now").await;
            wait_for_text(&tabs, ".order", WAIT, |t| t.contains(&title)).await;

            // Tab B shows it without a reload.
            tabs.switch_to_window(tab_b).await.expect("to tab B");
            wait_for_text(&tabs, ".purchases", WAIT, |t| t.contains(&title)).await;

            // The visitor sees the banner and the new numbers.
            let banner = wait_for_text(&visitor, ".news-feed", WAIT, |t| {
                t.contains(&format!("{buyer_name} bought {title}"))
            })
            .await;
            assert!(banner.contains("just now"), "{banner}");
            wait_for_text(&visitor, ".sold-count", WAIT, |t| t == "Sold once").await;
            wait_for_text(&visitor, ".stock", WAIT, |t| t.contains('2')).await;
            // Banners can be dismissed.
            let dismiss = format!("Dismiss: {buyer_name} bought {title}");
            visitor
                .find(Locator::Css(&format!(r#"button[aria-label="{dismiss}"]"#)))
                .await
                .expect("a dismiss button")
                .click()
                .await
                .expect("dismiss");
            wait_for_text(&visitor, "body", WAIT, |t| {
                !t.contains(&format!("{buyer_name} bought {title}"))
            })
            .await;
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_page_that_lost_its_socket_reads_the_numbers_again_when_it_reconnects() {
    let stack = spawn_stack().await;
    let (_, buyer) = register(&stack, "Rita").await;
    let item = stack
        .list_item(&helpers::seller("Sol"), "Clay Pot", 1_500, 5)
        .await;
    let item_page = format!("{}/items?itemId={item}", stack.gateway.base_url);

    with_browser(|visitor| async move {
        visitor.goto(&item_page).await.expect("open the item");
        wait_for_hydration(&visitor).await;
        wait_for_text(&visitor, ".viewers", WAIT, |t| t == "1 viewing now").await;

        // The socket is gone while someone buys: the live event never reaches this page.
        stack.live_link.cut();
        stack.buy(&buyer, &item).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(text_of(&visitor, ".sold-count").await, "Sold 0 times");

        // Back again: the page re-reads the durable numbers instead of trusting stale ones.
        stack.live_link.restore().await;
        wait_for_text(&visitor, ".sold-count", Duration::from_secs(40), |t| {
            t == "Sold once"
        })
        .await;
        wait_for_text(&visitor, ".stock", WAIT, |t| t.contains('4')).await;
    })
    .await;
}

#[tokio::test]
async fn a_sellers_dashboard_shows_a_sale_as_it_happens() {
    let stack = spawn_stack().await;
    let base = stack.gateway.base_url.clone();
    let (seller_email, seller) = register(&stack, "Selma").await;
    let (_, buyer) = register(&stack, "Ben").await;
    let item = stack.list_item(&seller, "Willow Basket", 2_900, 4).await;

    with_browser(|browser| async move {
        log_in(&browser, &base, &seller_email).await;
        browser
            .goto(&format!("{base}/seller"))
            .await
            .expect("open /seller");
        wait_for_hydration(&browser).await;
        wait_for_live_updates(&browser).await;
        wait_for_text(&browser, "section[aria-labelledby=sales]", WAIT, |t| {
            t.contains("Nothing sold yet.")
        })
        .await;

        stack.buy(&buyer, &item).await;
        wait_for_text(&browser, "section[aria-labelledby=sales]", WAIT, |t| {
            t.contains("Willow Basket") && t.contains("Ben") && t.contains("$29.00")
        })
        .await;
    })
    .await;
}
