//! The gateway over plain HTTP, as a browser without JavaScript sees it.

use crate::helpers::{Stack, seller, spawn_stack};

async fn get(stack: &Stack, path: &str) -> (u16, String) {
    let response = stack
        .gateway
        .http
        .get(stack.gateway.url(path))
        .send()
        .await
        .expect("GET");
    let status = response.status().as_u16();
    (status, markup(response.text().await.expect("body")))
}

/// The page's markup without the empty comments (`<!>`) Leptos leaves between text nodes for
/// hydration: no one sees them, and where they go depends on how the views were compiled
/// (`--cfg erase_components` puts one after nearly every text).
fn markup(html: String) -> String {
    html.replace("<!>", "")
}

/// The HTML before any streamed-in `<template>`: what a browser without JavaScript shows.
fn without_streamed_parts(html: &str) -> &str {
    html.split("<template").next().unwrap_or(html)
}

#[tokio::test]
async fn the_catalog_is_server_rendered_with_its_stylesheet_and_hydrate_bundle() {
    let stack = spawn_stack().await;
    let gateway = &stack.gateway;

    let (status, html) = get(&stack, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Catalog</h1>"), "{html}");
    assert!(
        html.contains(r#"href="/pkg/marketplace.css""#),
        "stylesheet link missing: {html}"
    );
    assert!(
        html.contains("/pkg/marketplace.js"),
        "hydrate script missing: {html}"
    );

    for (path, content_type) in [
        ("/pkg/marketplace_bg.wasm", "application/wasm"),
        ("/pkg/marketplace.js", "text/javascript"),
        ("/pkg/marketplace.css", "text/css"),
    ] {
        let response = gateway
            .http
            .get(gateway.url(path))
            .header("accept-encoding", "br")
            .send()
            .await
            .expect("GET asset");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let headers = response.headers();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap_or_default()
                .starts_with(content_type),
            "{path}: {headers:?}"
        );
        assert_eq!(
            headers
                .get("content-encoding")
                .and_then(|v| v.to_str().ok()),
            Some("br"),
            "{path} precompressed"
        );
    }
    let response = gateway
        .http
        .get(gateway.url("/images/placeholder.svg"))
        .send()
        .await
        .expect("GET image");
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn a_browser_revalidating_its_copy_of_the_bundle_is_told_it_is_still_good() {
    let stack = spawn_stack().await;
    let gateway = &stack.gateway;
    // The pieces of the bundle too: a page whose `__wasm_split.js` came back as the 404 page
    // never hydrated.
    for path in [
        "/pkg/marketplace.js",
        "/pkg/marketplace_bg.wasm",
        "/pkg/__wasm_split.js",
        "/images/placeholder.svg",
    ] {
        let first = gateway
            .http
            .get(gateway.url(path))
            .send()
            .await
            .expect("GET asset");
        assert_eq!(first.status().as_u16(), 200, "{path}");
        let last_modified = first
            .headers()
            .get("last-modified")
            .unwrap_or_else(|| panic!("{path}: no Last-Modified"))
            .clone();
        let again = gateway
            .http
            .get(gateway.url(path))
            .header("if-modified-since", last_modified)
            .send()
            .await
            .expect("GET asset again");
        assert_eq!(
            again.status().as_u16(),
            304,
            "{path}: {:?}",
            again.headers()
        );
    }
}

#[tokio::test]
async fn an_unknown_page_answers_404_with_a_way_back() {
    let stack = spawn_stack().await;
    let (status, html) = get(&stack, "/no/such/page").await;
    assert_eq!(status, 404);
    assert!(html.contains("Page not found"), "{html}");
    assert!(html.contains(r#"href="/""#), "{html}");
}

#[tokio::test]
async fn without_javascript_the_catalog_lists_items_and_links_each_to_its_page() {
    let stack = spawn_stack().await;
    let ann = seller("Ann's Attic");
    let lamp = stack.list_item(&ann, "Brass lamp", 4_950, 3).await;
    stack.list_item(&ann, "Oak chair", 12_000, 1).await;

    let (status, html) = get(&stack, "/").await;
    assert_eq!(status, 200);
    let visible = without_streamed_parts(&html);
    assert!(
        visible.contains("Brass lamp") && visible.contains("Oak chair"),
        "{visible}"
    );
    assert!(
        visible.contains("$49.50"),
        "prices in dollars and cents: {visible}"
    );
    assert!(
        visible.contains(&format!(r#"href="/items?itemId={lamp}""#)),
        "{visible}"
    );
    assert!(
        visible.contains("Ann&#x27;s Attic") || visible.contains("Ann's Attic"),
        "{visible}"
    );

    let (_, found) = get(&stack, "/?q=brass").await;
    let found = without_streamed_parts(&found);
    assert!(
        found.contains("Brass lamp") && !found.contains("Oak chair"),
        "{found}"
    );
}

#[tokio::test]
async fn the_catalog_pages_with_links_that_keep_the_search() {
    let stack = spawn_stack().await;
    let bo = seller("Bo");
    for n in 0..30 {
        stack
            .list_item(&bo, &format!("Mug {n:02}"), 1_000 + n, 5)
            .await;
    }
    let (_, first) = get(&stack, "/?q=mug").await;
    let first = without_streamed_parts(&first);
    assert!(
        first.contains("Mug 29") && !first.contains("Mug 05"),
        "newest first, 24 a page: {first}"
    );
    assert!(first.contains("Page 1 of 2"), "{first}");
    assert!(
        first.contains(r#"href="/?page=2&amp;q=mug""#)
            || first.contains(r#"href="/?page=2&q=mug""#),
        "{first}"
    );
    let (_, second) = get(&stack, "/?page=2&q=mug").await;
    let second = without_streamed_parts(&second);
    assert!(
        second.contains("Mug 05") && second.contains("Previous page"),
        "{second}"
    );
}

#[tokio::test]
async fn an_item_page_is_server_rendered_at_items_item_id() {
    let stack = spawn_stack().await;
    let cy = seller("Cy");
    let id = stack.list_item(&cy, "Travel mug", 2_600, 4).await;

    let (status, html) = get(&stack, &format!("/items?itemId={id}")).await;
    assert_eq!(status, 200);
    let visible = without_streamed_parts(&html);
    assert!(visible.contains("<h1>Travel mug</h1>"), "{visible}");
    assert!(
        visible.contains("$26.00")
            && visible.contains("4 in stock")
            && visible.contains("Sold 0 times"),
        "{visible}"
    );
    assert!(
        visible.contains("<title>Travel mug · Marketplace</title>"),
        "{visible}"
    );

    for missing in [
        "/items?itemId=665f1c2e9b1d8a0012345678",
        "/items?itemId=nonsense",
        "/items",
    ] {
        let (status, html) = get(&stack, missing).await;
        assert_eq!(status, 404, "{missing}");
        assert!(
            without_streamed_parts(&html).contains("No such item"),
            "{missing}: {html}"
        );
    }
}

/// What a browser with `cookie` (without: an anonymous visitor) gets for `path` from the
/// gateway at `base`, which must answer 200: how the page was kept (`x-page-cache`, "not
/// kept" without it), and the HTML.
async fn fetch_page(base: &str, cookie: Option<&str>, path: &str) -> (String, String) {
    let mut request = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(cookie) = cookie {
        request = request.header(reqwest::header::COOKIE, cookie);
    }
    let response = request.send().await.expect("GET");
    assert_eq!(response.status().as_u16(), 200, "{base}{path}");
    let kept = response
        .headers()
        .get(server::page_cache::PAGE_CACHE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("not kept")
        .to_owned();
    (kept, markup(response.text().await.expect("body")))
}

/// What an anonymous visitor gets for `path` from the gateway at `base`: whether it was a
/// kept page (`x-page-cache`), and the HTML.
async fn anonymous_page(base: &str, path: &str) -> (String, String) {
    fetch_page(base, None, path).await
}

/// Waits until the anonymous page at `path` on `base` contains `wanted`: each copy hears of a
/// change over Redis pub/sub, a moment after the change is stored.
async fn until_page_shows(base: &str, path: &str, wanted: &str) {
    until_page(base, path, |_, html| html.contains(wanted)).await;
}

/// Polls (up to 10 s) the anonymous page at `path` on `base` until `done` says yes about it
/// (whether it was kept, and the HTML); the last answer.
async fn until_page(base: &str, path: &str, done: impl Fn(&str, &str) -> bool) -> (String, String) {
    until_page_as(base, None, path, done).await
}

/// What the visitor with `cookie` (anonymous without) gets for `path` from the gateway at
/// `base`: whether it was a kept page (`x-page-cache`: "personal" for a signed-in visitor's
/// page filled in from its template), and the HTML.
async fn page_as(base: &str, cookie: Option<&str>, path: &str) -> (String, String) {
    match cookie {
        None => anonymous_page(base, path).await,
        Some(cookie) => {
            let (kept, html) = any_page_as(base, cookie, path).await;
            assert!(html.contains("Signed in as"), "{html}");
            (kept, html)
        }
    }
}

/// What the browser with `cookie` gets for `path` from `base`, signed in or not: never a
/// page kept for anonymous visitors.
async fn any_page_as(base: &str, cookie: &str, path: &str) -> (String, String) {
    let (kept, html) = fetch_page(base, Some(cookie), path).await;
    assert!(
        kept == "personal" || kept == "not kept",
        "a page with a session cookie was served from the anonymous pages ({kept})"
    );
    (kept, html)
}

/// As [`until_page`], for the visitor with `cookie` (anonymous without).
async fn until_page_as(
    base: &str,
    cookie: Option<&str>,
    path: &str,
    done: impl Fn(&str, &str) -> bool,
) -> (String, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (kept, html) = page_as(base, cookie, path).await;
        if done(&kept, &html) {
            return (kept, html);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{base}{path}: still not there ({kept}): {html}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A second gateway process beside `stack`'s (kept alive by the first value), and the base
/// URLs of both copies.
async fn two_gateway_copies(stack: &Stack) -> (impl Sized, [String; 2]) {
    let second = stack.another_gateway_process().await;
    let copies = [stack.gateway.base_url.clone(), second.base_url.clone()];
    (second, copies)
}

/// Every change shows on the item page of a signed-in visitor too, on both copies: their page
/// is filled in from the item's template with what each copy remembers of them (see
/// `server::page_cache::personal`), and both are forgotten when they change.
#[tokio::test]
async fn signed_in_item_pages_show_every_change_on_every_gateway_copy() {
    let stack = spawn_stack().await;
    let (_second, copies) = two_gateway_copies(&stack).await;
    let kim = seller("Kim");
    let item = stack.list_item(&kim, "Brass lamp", 2_500, 3).await;
    let item_page = format!("/items?itemId={item}");
    let session = {
        let (email, _) = crate::helpers::register(&stack, "Ola <Q&A>").await;
        stack.sign_in(&email).await
    };
    let cookie = Some(session.as_str());
    for base in &copies {
        // Until the copy has heard of the listing (a template kept before that is dropped
        // when the announcement arrives), then from the template.
        let (kept, html) =
            until_page_as(base, cookie, &item_page, |kept, _| kept == "personal").await;
        assert_eq!(kept, "personal");
        assert!(html.contains("$25.00"), "{html}");
        // Their own name (escaped), their cart, and a purchase key of this page's own.
        assert!(
            html.contains("Signed in as <strong>Ola &lt;Q&amp;A&gt;</strong>"),
            "{html}"
        );
        assert!(html.contains(r#"class="cart-count">(0)</span>"#), "{html}");
        let (_, again) = page_as(base, cookie, &item_page).await;
        assert_ne!(purchase_key(&html), purchase_key(&again), "{html}");
    }

    // Their cart changes through the first copy: the header of both counts it.
    let added = crate::helpers::browser_without_js(&stack)
        .post(stack.server_fn::<app::api::AddToCart>())
        .header(reqwest::header::COOKIE, &session)
        .form(&[("item_id", item.as_str()), ("quantity", "2")])
        .send()
        .await
        .expect("add to cart");
    assert!(added.status().is_redirection(), "{}", added.status());
    for base in &copies {
        let (kept, _) = until_page_as(base, cookie, &item_page, |_, html| {
            html.contains(r#"class="cart-count">(2)</span>"#)
        })
        .await;
        assert_eq!(kept, "personal");
    }

    stack.set_price(&kim, &item, 3_000).await;
    for base in &copies {
        until_page_as(base, cookie, &item_page, |_, html| html.contains("$30.00")).await;
        page_as(base, cookie, &item_page).await;
    }
    stack.buy(&seller("Bo"), &item).await;
    for base in &copies {
        until_page_as(base, cookie, &item_page, |_, html| {
            html.contains("Sold once") && html.contains("2 in stock")
        })
        .await;
    }
    // Taken off sale: no copy still offers it.
    stack.set_on_sale(&kim, &item, false).await;
    for base in &copies {
        until_page_as(base, cookie, &item_page, |_, html| {
            html.contains("no longer for sale")
        })
        .await;
    }

    // Logging out through the first copy ends the session on both: neither still shows
    // them signed in.
    crate::helpers::browser_without_js(&stack)
        .post(stack.server_fn::<app::api::LogOut>())
        .header(reqwest::header::COOKIE, &session)
        .send()
        .await
        .expect("log out");
    for base in &copies {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (_, html) = any_page_as(base, &session, &item_page).await;
            if !html.contains("Signed in as") {
                assert!(html.contains("Log in"), "{html}");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{base}: still signed in: {html}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// The purchase key of the page's "Buy now" form.
fn purchase_key(html: &str) -> String {
    html.split(r#"name="key" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no purchase key: {html}"))
        .to_owned()
}

#[tokio::test]
async fn kept_anonymous_pages_show_every_change_on_every_gateway_copy() {
    let stack = spawn_stack().await;
    let (_second, copies) = two_gateway_copies(&stack).await;
    let kim = seller("Kim");
    let item = stack.list_item(&kim, "Brass lamp", 2_500, 3).await;
    let item_page = format!("/items?itemId={item}");

    // Each copy renders a page once, then answers from what it kept. (Only item pages are
    // checked for that: a catalog page is dropped whenever any item changes, and the other
    // tests change items all the time.)
    for base in &copies {
        // Until the copy has heard of the listing (a page kept before that is dropped when
        // the announcement arrives), then from what it kept.
        let (kept, html) = until_page(base, &item_page, |kept, _| kept == "hit").await;
        assert_eq!(kept, "hit", "{base}{item_page} was rendered again");
        assert!(html.contains("$25.00"), "{html}");
        // A page every visitor shares holds no purchase form, and so no purchase key.
        assert!(html.contains("Log in to buy"), "{html}");
        assert!(!html.contains(r#"name="key""#), "{html}");
        assert!(anonymous_page(base, "/").await.1.contains("$25.00"));
    }
    // A signed-in visitor's page is always their own.
    let cookie = {
        let (email, _) = crate::helpers::register(&stack, "Ola").await;
        stack.sign_in(&email).await
    };
    for _ in 0..2 {
        page_as(&stack.gateway.base_url, Some(&cookie), &item_page).await;
    }

    // The seller changes the price: both copies show it on the item page and the catalog.
    stack.set_price(&kim, &item, 3_000).await;
    for base in &copies {
        until_page_shows(base, &item_page, "$30.00").await;
        until_page_shows(base, "/", "$30.00").await;
    }

    // Someone buys one: the sold count and the stock move on both copies.
    stack.buy(&seller("Bo"), &item).await;
    for base in &copies {
        until_page_shows(base, &item_page, "Sold once").await;
        until_page_shows(base, &item_page, "2 in stock").await;
        // The catalog's card counts only the last units: the exact stock is on the item page.
        until_page_shows(base, "/", "Only 2 left").await;
    }

    // A new item: both catalogs list it.
    stack.list_item(&kim, "Copper kettle", 4_000, 1).await;
    for base in &copies {
        until_page_shows(base, "/", "Copper kettle").await;
        let (kept, _) = anonymous_page(base, &item_page).await;
        assert_eq!(kept, "hit", "the changed item's page is kept again");
    }
}

#[tokio::test]
async fn while_redis_is_away_no_page_is_kept_and_none_kept_before_comes_back() {
    let stack = spawn_stack().await;
    let kim = seller("Kim");
    let item = stack.list_item(&kim, "Tin whistle", 1_500, 4).await;
    let item_page = format!("/items?itemId={item}");
    until_page(&stack.gateway.base_url, &item_page, |kept, _| kept == "hit").await;

    // Without Redis the gateway cannot hear of changes, so it renders every page afresh...
    stack.redis_link.cut();
    until_page(&stack.gateway.base_url, &item_page, |kept, _| {
        kept == "not kept"
    })
    .await;
    // ...and a change whose announcement is lost meanwhile shows at once.
    stack.set_price(&kim, &item, 1_700).await;
    let (kept, html) = anonymous_page(&stack.gateway.base_url, &item_page).await;
    assert_eq!(kept, "not kept");
    assert!(html.contains("$17.00"), "{html}");

    // Back: pages are kept again, and none from before the outage is served.
    stack.redis_link.restore().await;
    let (_, html) = until_page(&stack.gateway.base_url, &item_page, |kept, _| kept == "hit").await;
    assert!(html.contains("$17.00"), "{html}");
}

/// A page as the session in `cookie` gets it; it must answer 200.
async fn signed_in_page(stack: &Stack, cookie: &str, path: &str) -> String {
    let response = stack
        .gateway
        .http
        .get(stack.gateway.url(path))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200, "{path}");
    markup(response.text().await.expect("body"))
}

/// The purchase ids in a history page, in the order shown.
fn purchases_shown(html: &str) -> Vec<String> {
    html.split("data-purchase=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn thirty_purchases_fill_two_history_pages_newest_first_with_links_between_them() {
    let stack = spawn_stack().await;
    let (seller_email, pia) = crate::helpers::register(&stack, "Pia").await;
    let item = stack.list_item(&pia, "Pencil", 150, 40).await;
    let (buyer_email, buyer) = crate::helpers::register(&stack, "Pat").await;
    let mut bought = Vec::new();
    for _ in 0..30 {
        bought.push(stack.buy(&buyer, &item).await);
    }
    let newest_first: Vec<String> = bought.into_iter().rev().collect();
    let (cookie, sellers_cookie) = (
        stack.sign_in(&buyer_email).await,
        stack.sign_in(&seller_email).await,
    );
    let page = |path: &'static str| signed_in_page(&stack, &cookie, path);
    let sales_page = |path: &'static str| signed_in_page(&stack, &sellers_cookie, path);

    let first = page("/purchases").await;
    assert_eq!(purchases_shown(&first), newest_first[..20], "{first}");
    assert!(
        first.contains("30 purchases") && first.contains("Page 1 of 2"),
        "{first}"
    );
    assert!(
        first.contains(r#"<a href="/purchases?page=2" rel="next">Older purchases</a>"#),
        "{first}"
    );
    assert!(!first.contains("Newer purchases"), "{first}");

    let second = page("/purchases?page=2").await;
    assert_eq!(purchases_shown(&second), newest_first[20..], "{second}");
    assert!(
        second.contains(r#"<a href="/purchases?page=1" rel="prev">Newer purchases</a>"#),
        "{second}"
    );
    assert!(!second.contains("Older purchases"), "{second}");

    let past_the_end = page("/purchases?page=3").await;
    assert!(purchases_shown(&past_the_end).is_empty());
    assert!(
        past_the_end.contains("There is no page 3: your purchases fill 2."),
        "{past_the_end}"
    );

    // The seller's sales page the same way, with the totals of every page.
    let first = sales_page("/seller").await;
    let sales = first
        .split("<table class=\"sales\"")
        .nth(1)
        .unwrap_or_default();
    assert_eq!(purchases_shown(sales), newest_first[..20], "{first}");
    assert!(
        sales.contains(r#"<a href="/seller?page=2#sales" rel="next">Older sales</a>"#)
            && sales.contains("Total, all pages")
            && sales.contains("$45.00"),
        "{sales}"
    );
    let second = sales_page("/seller?page=2").await;
    let sales = second
        .split("<table class=\"sales\"")
        .nth(1)
        .unwrap_or_default();
    assert_eq!(purchases_shown(sales), newest_first[20..], "{second}");
}

#[tokio::test]
async fn the_sellers_chart_has_a_bar_for_each_day_with_sales_and_a_table_of_the_same_sums() {
    let stack = spawn_stack().await;
    let (seller_email, sid) = crate::helpers::register(&stack, "Sid").await;
    let item = stack.list_item(&sid, "Stapler", 1_000, 10).await;
    let buyer = seller("Bo");
    let three_days_ago = stack.buy(&buyer, &item).await;
    let long_ago = stack.buy(&buyer, &item).await;
    stack.buy(&buyer, &item).await;
    stack.buy(&buyer, &item).await;
    stack.backdate_purchase(&three_days_ago, 3).await;
    stack.backdate_purchase(&long_ago, 40).await;

    let cookie = stack.sign_in(&seller_email).await;
    let html = signed_in_page(&stack, &cookie, "/seller").await;
    let chart = html
        .split("class=\"sales-chart\">")
        .nth(1)
        .and_then(|rest| rest.split("</svg>").next())
        .unwrap_or_else(|| panic!("no chart: {html}"));
    let today = wire::calendar::day_of(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as i64,
    );
    let bars: Vec<&str> = chart
        .split("data-day=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(
        bars,
        [
            wire::calendar::iso_date(today - 3),
            wire::calendar::iso_date(today)
        ],
        "one bar per day with sales in the last 30 days: {chart}"
    );
    assert!(
        chart.contains(r#"data-cents="2000""#) && chart.contains(r#"data-cents="1000""#),
        "{chart}"
    );

    let table = html
        .split("<table class=\"daily-sales\"")
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .unwrap_or_else(|| panic!("no table: {html}"));
    for day in [today - 3, today] {
        assert!(
            table.contains(&wire::calendar::short_date(day)),
            "{day}: {table}"
        );
    }
    assert!(
        table.contains("Last 30 days") && table.contains("$30.00"),
        "the table's total is the three sales of the last 30 days: {table}"
    );
    let sales = html
        .split("<table class=\"sales\"")
        .nth(1)
        .unwrap_or_default();
    assert!(sales.contains("$40.00"), "all four sales: {sales}");
}
