//! A real headless Chromium against the gateway: the page hydrates and its controls work.

use std::time::Duration;

use fantoccini::Locator;
use testkit::browser::{
    assert_same_page, click_button, fill, mark_this_page, text_of, wait_for_hydration,
    wait_for_text, with_browser, with_browser_without_javascript,
};

use crate::helpers::{register, spawn_stack};

#[tokio::test]
async fn the_status_page_hydrates_and_shows_what_the_services_answer() {
    let stack = spawn_stack().await;
    let url = stack.gateway.url("/status");

    with_browser(|browser| async move {
        browser.goto(&url).await.expect("open the status page");
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
        click_button(&browser, "Check again").await;
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

#[tokio::test]
async fn a_new_seller_lists_an_item_that_a_shopper_finds_and_opens() {
    let stack = spawn_stack().await;
    let base = stack.gateway.base_url.clone();
    let email = format!("{}@example.com", testkit::unique_name("seller"));
    let title = format!(
        "Walnut bowl {}",
        testkit::unique_name("n").rsplit('_').next().unwrap_or("1")
    );

    with_browser(|browser| async move {
        browser
            .goto(&format!("{base}/register"))
            .await
            .expect("open /register");
        wait_for_hydration(&browser).await;
        fill(&browser, "#field-email", &email).await;
        fill(&browser, "#field-display_name", "Wanda's Woodwork").await;
        fill(&browser, "#field-password", "sawdust-and-oil").await;
        click_button(&browser, "Register").await;

        // Registered and signed in: the seller dashboard with its "box to enter an item".
        wait_for_text(
            &browser,
            ".site-header .who",
            Duration::from_secs(15),
            |t| t.contains("Wanda's Woodwork"),
        )
        .await;
        wait_for_text(&browser, "#add-item", Duration::from_secs(15), |t| {
            t == "Add an item"
        })
        .await;
        assert!(
            browser
                .current_url()
                .await
                .expect("url")
                .path()
                .ends_with("/seller")
        );

        fill(&browser, "#field-title", &title).await;
        fill(
            &browser,
            "#field-description",
            "Turned from one piece of walnut.",
        )
        .await;
        fill(&browser, "#field-price", "not money").await;
        fill(&browser, "#field-stock", "3").await;
        click_button(&browser, "Add item").await;
        let error = wait_for_text(
            &browser,
            "#field-price-error",
            Duration::from_secs(10),
            |t| !t.is_empty(),
        )
        .await;
        assert!(
            error.contains("amount"),
            "the price error sits next to the price: {error}"
        );

        fill(&browser, "#field-price", "19.99").await;
        click_button(&browser, "Add item").await;
        wait_for_text(&browser, ".own-items", Duration::from_secs(10), |t| {
            t.contains(&title)
        })
        .await;

        click_button(&browser, "Log out").await;
        wait_for_text(
            &browser,
            ".site-header .account",
            Duration::from_secs(10),
            |t| t.contains("Log in"),
        )
        .await;

        browser
            .goto(&format!("{base}/?q=walnut"))
            .await
            .expect("search the catalog");
        let link = browser
            .find(Locator::LinkText(&title))
            .await
            .expect("the item is in the catalog");
        let href = link.attr("href").await.expect("href").expect("a link");
        assert!(href.starts_with("/items?itemId="), "{href}");
        link.click().await.expect("open the item");
        wait_for_text(&browser, "h1", Duration::from_secs(10), |t| t == title).await;
        wait_for_text(&browser, ".price", Duration::from_secs(5), |t| {
            t == "$19.99"
        })
        .await;
        let url = browser.current_url().await.expect("url");
        assert_eq!(
            format!("{}?{}", url.path(), url.query().unwrap_or_default()),
            href
        );
    })
    .await;
}

/// Signs `email` in through the log-in form as a plain post (JavaScript is off).
pub(crate) async fn log_in_with_a_plain_form(
    browser: &fantoccini::Client,
    base: &str,
    email: &str,
) {
    browser
        .goto(&format!("{base}/login"))
        .await
        .expect("open /login");
    fill(browser, "#field-email", email).await;
    fill(browser, "#field-password", "a good password").await;
    click_button(browser, "Log in").await;
    let header = wait_for_text(
        browser,
        ".site-header .account",
        Duration::from_secs(15),
        |text| text.contains("Signed in as"),
    )
    .await;
    assert!(header.contains("Signed in as"), "{header}");
}

/// Logs `seller_email` in and opens their shop, hydrated.
async fn open_own_shop(browser: &fantoccini::Client, base: &str, seller_email: &str) {
    crate::helpers::log_in(browser, base, seller_email).await;
    browser
        .goto(&format!("{base}/seller"))
        .await
        .expect("open /seller");
    wait_for_hydration(browser).await;
}

#[tokio::test]
async fn without_javascript_the_header_purchases_and_shop_are_complete_in_the_first_html() {
    let stack = spawn_stack().await;
    let (seller_email, seller) = register(&stack, "Sage").await;
    let item = stack.list_item(&seller, "Reading lamp", 4_200, 3).await;
    let (buyer_email, buyer) = register(&stack, "Bea").await;
    stack.buy(&buyer, &item).await;
    let base = stack.gateway.url("");

    with_browser_without_javascript(|browser| async move {
        log_in_with_a_plain_form(&browser, &base, &buyer_email).await;
        browser
            .goto(&format!("{base}/purchases"))
            .await
            .expect("open /purchases");
        // JavaScript really is off: the page never hydrated.
        let root = browser
            .find(Locator::Css("[data-hydrated]"))
            .await
            .expect("the app's root");
        assert_ne!(
            root.attr("data-hydrated")
                .await
                .expect("attribute")
                .as_deref(),
            Some("true")
        );
        let header = text_of(&browser, ".site-header .account").await;
        assert!(header.contains("Signed in as Bea"), "{header}");
        let purchases = text_of(&browser, "main").await;
        assert!(purchases.contains("Reading lamp"), "{purchases}");
        assert!(!purchases.contains("Loading"), "{purchases}");

        log_in_with_a_plain_form(&browser, &base, &seller_email).await;
        browser
            .goto(&format!("{base}/seller"))
            .await
            .expect("open /seller");
        let header = text_of(&browser, ".site-header .account").await;
        assert!(header.contains("Signed in as Sage"), "{header}");
        let items = text_of(&browser, ".own-items").await;
        assert!(items.contains("Reading lamp"), "{items}");
        let sales = text_of(&browser, ".sales").await;
        assert!(
            sales.contains("Reading lamp") && sales.contains("Bea"),
            "{sales}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_seller_takes_an_item_off_sale_and_back_while_its_buyers_keep_it_in_their_history() {
    let stack = spawn_stack().await;
    let (seller_email, seller) = register(&stack, "Otto").await;
    let item = stack.list_item(&seller, "Oak stool", 3_500, 2).await;
    let (buyer_email, buyer) = register(&stack, "Ida").await;
    stack.buy(&buyer, &item).await;
    let base = stack.gateway.url("");

    // Without JavaScript: the button is a plain form post.
    with_browser_without_javascript(|browser| {
        let (base, item, seller_email) = (base.clone(), item.clone(), seller_email.clone());
        async move {
            log_in_with_a_plain_form(&browser, &base, &seller_email).await;
            browser
                .goto(&format!("{base}/seller"))
                .await
                .expect("open /seller");
            click_button(&browser, "Remove from sale").await;
            let items = wait_for_text(&browser, ".own-items", Duration::from_secs(15), |t| {
                t.contains("Put back on sale")
            })
            .await;
            assert!(items.contains("Off sale: not in the catalog"), "{items}");

            browser
                .goto(&format!("{base}/?q=oak"))
                .await
                .expect("search the catalog");
            let catalog = text_of(&browser, "main").await;
            assert!(!catalog.contains("Oak stool"), "{catalog}");

            browser
                .goto(&format!("{base}/items?itemId={item}"))
                .await
                .expect("open the item");
            let page = text_of(&browser, ".item-page").await;
            assert!(
                page.contains("This item is no longer for sale.") && !page.contains("Buy now"),
                "{page}"
            );

            log_in_with_a_plain_form(&browser, &base, &buyer_email).await;
            browser
                .goto(&format!("{base}/purchases"))
                .await
                .expect("open /purchases");
            let history = text_of(&browser, "main").await;
            assert!(history.contains("Oak stool"), "{history}");
        }
    })
    .await;

    // With JavaScript: back on sale in place.
    with_browser(|browser| async move {
        open_own_shop(&browser, &base, &seller_email).await;
        click_button(&browser, "Put back on sale").await;
        let items = wait_for_text(&browser, ".own-items", Duration::from_secs(15), |t| {
            t.contains("Remove from sale")
        })
        .await;
        assert!(!items.contains("Off sale"), "{items}");
        browser
            .goto(&format!("{base}/items?itemId={item}"))
            .await
            .expect("open the item");
        wait_for_hydration(&browser).await;
        let page = text_of(&browser, ".item-page").await;
        assert!(page.contains("Buy now"), "{page}");
    })
    .await;
}

#[tokio::test]
async fn without_javascript_buy_now_lands_on_the_purchase_page_that_only_its_buyer_can_open() {
    let stack = spawn_stack().await;
    let (seller_email, seller) = register(&stack, "Sven").await;
    let item = stack.list_item(&seller, "Copper kettle", 5_900, 3).await;
    let (buyer_email, _) = register(&stack, "Britt").await;
    let base = stack.gateway.url("");

    let order_path = with_browser_without_javascript(|browser| {
        let (base, item, buyer_email) = (base.clone(), item.clone(), buyer_email.clone());
        async move {
            log_in_with_a_plain_form(&browser, &base, &buyer_email).await;
            browser
                .goto(&format!("{base}/items?itemId={item}"))
                .await
                .expect("open the item");
            click_button(&browser, "Buy now").await;
            let order = wait_for_text(&browser, ".order", Duration::from_secs(20), |t| {
                t.contains("Thank you for your purchase")
            })
            .await;
            assert!(
                order.contains("1 × Copper kettle from Sven")
                    && order.contains("Total: $59.00")
                    && order.contains("Receipt "),
                "{order}"
            );
            browser.current_url().await.expect("url").path().to_owned()
        }
    })
    .await;
    assert!(order_path.starts_with("/purchases/"), "{order_path}");

    // Over plain HTTP: the buyer's session sees it, the seller's gets 404, and so does an id
    // that is not one; nobody signed in is asked to log in.
    let page = |cookie: Option<String>, path: String| {
        let mut request = stack.gateway.http.get(stack.gateway.url(&path));
        if let Some(cookie) = cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        async move {
            let response = request.send().await.expect("GET a purchase's page");
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
    };
    let (buyer_cookie, seller_cookie) = (
        stack.sign_in(&buyer_email).await,
        stack.sign_in(&seller_email).await,
    );
    let (status, html) = page(Some(buyer_cookie.clone()), order_path.clone()).await;
    assert_eq!(status, 200);
    assert!(html.contains("Thank you for your purchase"), "{html}");
    let (status, html) = page(Some(seller_cookie), order_path.clone()).await;
    assert_eq!(status, 404);
    assert!(
        html.contains("No such purchase") && !html.contains("Copper kettle"),
        "{html}"
    );
    let (status, _) = page(Some(buyer_cookie), "/purchases/not-an-id".to_owned()).await;
    assert_eq!(status, 404);
    let (status, html) = page(None, order_path).await;
    assert_eq!(status, 401);
    assert!(
        html.contains("Please log in to see your purchase."),
        "{html}"
    );
}

#[tokio::test]
async fn the_sellers_chart_and_its_table_take_in_a_sale_without_a_reload() {
    let stack = spawn_stack().await;
    let (seller_email, seller) = register(&stack, "Cleo").await;
    let item = stack.list_item(&seller, "Clay pot", 2_000, 5).await;
    let buyer = crate::helpers::seller("Dan");
    stack.buy(&buyer, &item).await;
    let base = stack.gateway.url("");

    with_browser(|browser| async move {
        open_own_shop(&browser, &base, &seller_email).await;
        let table = text_of(&browser, "table.daily-sales tfoot").await;
        assert!(table.contains("$20.00"), "{table}");
        mark_this_page(&browser).await;

        stack.buy(&buyer, &item).await;
        wait_for_text(
            &browser,
            "table.daily-sales tfoot",
            Duration::from_secs(15),
            |t| t.contains("$40.00"),
        )
        .await;
        let bar = browser
            .find(Locator::Css(".sales-chart .bar"))
            .await
            .expect("today's bar");
        assert_eq!(
            bar.attr("data-cents").await.expect("attribute").as_deref(),
            Some("4000")
        );
        assert_same_page(&browser).await;
    })
    .await;
}

#[tokio::test]
async fn without_javascript_a_refused_form_comes_back_with_its_error_beside_the_field() {
    let stack = spawn_stack().await;
    let (email, seller) = register(&stack, "Nell").await;
    let item = stack.list_item(&seller, "Tin box", 900, 2).await;
    let base = stack.gateway.url("");

    with_browser_without_javascript(|browser| async move {
        // A wrong password: the log-in page again, saying so, not an answer in JSON.
        browser
            .goto(&format!("{base}/login"))
            .await
            .expect("open /login");
        fill(&browser, "#field-email", &email).await;
        fill(&browser, "#field-password", "not the password").await;
        click_button(&browser, "Log in").await;
        let said = wait_for_text(&browser, ".form-error", Duration::from_secs(15), |t| {
            !t.is_empty()
        })
        .await;
        assert!(
            said.to_lowercase().contains("invalid email or password"),
            "{said}"
        );
        let url = browser.current_url().await.expect("url");
        assert_eq!(url.path(), "/login");
        assert_eq!(url.query(), None, "the error is not in the address: {url}");
        // Shown once: the page read again has no error.
        browser.refresh().await.expect("reload");
        assert_eq!(text_of(&browser, ".form-error").await, "");

        log_in_with_a_plain_form(&browser, &base, &email).await;
        browser
            .goto(&format!("{base}/seller"))
            .await
            .expect("open /seller");
        // A price that is no amount, beside the price of the add-item form.
        fill(&browser, "#field-title", "Copper pot").await;
        fill(&browser, "#field-price", "cheap").await;
        click_button(&browser, "Add item").await;
        let said = wait_for_text(
            &browser,
            "#field-price-error",
            Duration::from_secs(15),
            |t| !t.is_empty(),
        )
        .await;
        assert!(said.contains("amount"), "{said}");
        // A stock below zero, beside that item's own stock field only.
        let stock = format!("#item-{item}-field-stock");
        fill(&browser, &stock, "-1").await;
        click_button(&browser, "Save").await;
        let said = wait_for_text(
            &browser,
            &format!("{stock}-error"),
            Duration::from_secs(15),
            |t| !t.is_empty(),
        )
        .await;
        assert!(said.contains("between 0 and 1,000,000"), "{said}");
        assert_eq!(text_of(&browser, "#field-price-error").await, "");
    })
    .await;
}

#[tokio::test]
async fn an_error_written_into_a_link_is_never_shown_as_the_sites_own() {
    use base64::Engine;
    use leptos::server_fn::ServerFn;
    let stack = spawn_stack().await;
    let forged = base64::engine::general_purpose::URL_SAFE
        .encode(br#"{"message":"Your account is locked: call +1 555 0100 now","field":null}"#);
    let forged_field = base64::engine::general_purpose::URL_SAFE
        .encode(br#"{"message":"Your account is locked: call +1 555 0100 now","field":"email"}"#);
    // Every spelling a form decoder reads as `__path` and `__err`, beside the form and a field.
    for (page, path, error) in [
        ("/login", <app::api::LogIn as ServerFn>::PATH, &forged),
        (
            "/register",
            <app::api::Register as ServerFn>::PATH,
            &forged_field,
        ),
    ] {
        for (path_key, error_key) in [
            ("__path", "__err"),
            ("%5F%5Fpath", "%5F%5Ferr"),
            ("_%5fpath", "__er%72"),
            ("__pat%68", "%5F_err"),
        ] {
            let address = format!("{page}?{path_key}={path}&{error_key}={error}");
            let html = stack.html(&address).await;
            assert!(html.contains("<main"), "{address}: {html}");
            assert!(
                !html.contains("555 0100"),
                "a forged error was shown on {address}: {html}"
            );
        }
    }
}
