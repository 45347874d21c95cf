//! The gateway as an attacker meets it: crafted ids, malformed and cross-site posts, a
//! dependency that is down, and the headers every page carries.

use std::time::Duration;

use app::api::{
    AddItem, AddToCart, Buy, Catalog, CheckServices, Checkout, CurrentUser, Item, LogIn, LogOut,
    MyCart, MyDailySales, MyItems, MyPurchases, MySales, OrderDetails, Register, RemoveFromCart,
    SaveItem, SetCartQuantity, SetOnSale, SetPicture,
};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};

use crate::helpers::{
    self, Stack, StackOptions, browser_without_js, register, seller, spawn_stack,
};

/// Words that must never reach a browser: the decoder's, the framework's, Rust's.
const INTERNAL_WORDS: [&str; 7] = [
    "deserializ",
    "Something went wrong",
    "serde",
    "ServerFn",
    "::",
    "panicked",
    "missing field `",
];

fn assert_plain(body: &str, context: &str) {
    for word in INTERNAL_WORDS {
        assert!(
            !body.contains(word),
            "{context}: the answer shows internal text ({word:?}): {body}"
        );
    }
}

/// A signed-in account of the stack: its identity and the session cookie.
async fn signed_in(stack: &Stack, name: &str) -> (common::identity::Identity, String) {
    let (email, identity) = register(stack, name).await;
    let cookie = stack.sign_in(&email).await;
    (identity, cookie)
}

#[tokio::test]
async fn a_crafted_item_id_cannot_give_back_the_stock_of_a_purchase() {
    let stack = spawn_stack().await;
    let shop = seller("Sal");
    let item = stack.list_item(&shop, "Teapot", 2_500, 50).await;
    let (_, buyer) = register(&stack, "Bea").await;
    let purchase = stack.buy(&buyer, &item).await;
    let (_, attacker) = signed_in(&stack, "Mallory").await;

    for crafted in [
        format!("../reservations/{purchase}/release"),
        format!("..%2Freservations%2F{purchase}%2Frelease"),
        format!("{item}/../../reservations/{purchase}/release"),
        purchase.clone(),
    ] {
        let response = browser_without_js(&stack)
            .post(stack.server_fn::<SaveItem>())
            .header(COOKIE, &attacker)
            .header("accept", "application/json")
            .form(&[
                ("item_id", crafted.as_str()),
                ("price", "1"),
                ("stock", "1"),
            ])
            .send()
            .await
            .expect("POST save_item");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_client_error(), "{crafted}: {status} {body}");
        assert_plain(&body, &crafted);
    }
    let after = stack.item(&item).await;
    assert_eq!(
        (after["stock"].as_i64(), after["sold"].as_i64()),
        (Some(49), Some(1)),
        "the purchase's stock stays taken"
    );

    // A purchase id where an item id belongs is simply no item.
    let page = stack
        .gateway
        .http
        .get(stack.gateway.url(&format!("/items?itemId={purchase}")))
        .send()
        .await
        .expect("GET the item page");
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
}

/// Bodies every server function is sent: nothing, junk, wrong kinds, far too much.
fn bad_bodies() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let huge = "x".repeat(300 * 1024);
    vec![
        ("nothing", Vec::new(), "application/x-www-form-urlencoded"),
        (
            "junk",
            b"%%%\xff\xfe=&&==\x00".to_vec(),
            "application/x-www-form-urlencoded",
        ),
        (
            "json where a form belongs",
            br#"{"$gt":""}"#.to_vec(),
            "application/json",
        ),
        (
            "wrong kinds",
            b"page=minus-one&search[]=1&lines=not%20json&key=1&item_id[$ne]=x&price=abc&stock=1.5"
                .to_vec(),
            "application/x-www-form-urlencoded",
        ),
        (
            "partial",
            b"title=Lamp&price=12".to_vec(),
            "application/x-www-form-urlencoded",
        ),
        (
            "oversized",
            format!(
                "title={huge}&description={huge}&price=1&stock=1&image_url=&request_id={huge}\
                 &email={huge}&password={huge}&display_name={huge}&item_id={huge}&lines={huge}\
                 &key={huge}&page=1&search={huge}"
            )
            .into_bytes(),
            "application/x-www-form-urlencoded",
        ),
    ]
}

#[tokio::test]
async fn malformed_input_to_every_server_function_gets_a_plain_4xx() {
    use leptos::server_fn::ServerFn;
    let stack = spawn_stack().await;
    let (tess, mut cookie) = signed_in(&stack, "Tess").await;
    let functions = [
        <Register as ServerFn>::PATH,
        <LogIn as ServerFn>::PATH,
        <LogOut as ServerFn>::PATH,
        <Catalog as ServerFn>::PATH,
        <Item as ServerFn>::PATH,
        <MyItems as ServerFn>::PATH,
        <AddItem as ServerFn>::PATH,
        <SaveItem as ServerFn>::PATH,
        <Buy as ServerFn>::PATH,
        <MyPurchases as ServerFn>::PATH,
        <MySales as ServerFn>::PATH,
        <MyDailySales as ServerFn>::PATH,
        <OrderDetails as ServerFn>::PATH,
        <SetOnSale as ServerFn>::PATH,
        <SetPicture as ServerFn>::PATH,
        <MyCart as ServerFn>::PATH,
        <AddToCart as ServerFn>::PATH,
        <SetCartQuantity as ServerFn>::PATH,
        <RemoveFromCart as ServerFn>::PATH,
        <Checkout as ServerFn>::PATH,
        <CheckServices as ServerFn>::PATH,
        <CurrentUser as ServerFn>::PATH,
    ];
    let client = browser_without_js(&stack);
    for path in functions {
        for (what, body, content_type) in bad_bodies() {
            // Signed in and not, so input is checked behind the sign-in check too.
            for signed_in in [true, false] {
                let mut request = client
                    .post(stack.gateway.url(path))
                    .header("content-type", content_type)
                    .header("accept", "application/json")
                    .body(body.clone());
                if signed_in {
                    request = request.header(COOKIE, &cookie);
                }
                let response = request.send().await.expect("POST");
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let context = format!("{path} with {what} (signed in: {signed_in})");
                assert!(status.as_u16() < 500, "{context}: {status} {text}");
                assert_plain(&text, &context);
                if signed_in && path == <LogOut as ServerFn>::PATH {
                    // Logging out works whatever the body; sign in again for the rest.
                    cookie = stack.sign_in(&tess.email).await;
                }
            }
        }
    }

    // The two answers the security review found at 500 name what is wrong.
    let response = client
        .post(stack.server_fn::<Buy>())
        .header(COOKIE, &cookie)
        .header("accept", "application/json")
        .form(&[("lines", "not json"), ("key", "key-0123456789")])
        .send()
        .await
        .expect("POST buy");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer: serde_json::Value = response.json().await.expect("json");
    assert_eq!(answer["field"], "lines", "{answer}");
    // An upload form sent as anything but multipart is refused before it is read.
    let response = client
        .post(stack.server_fn::<AddItem>())
        .header(COOKIE, &cookie)
        .header("accept", "application/json")
        .form(&[("title", "Lamp"), ("price", "12"), ("stock", "1")])
        .send()
        .await
        .expect("POST add_item");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        response
            .text()
            .await
            .unwrap_or_default()
            .contains("multipart/form-data")
    );
    // A multipart add-item form without a title says so beside the title.
    let response = client
        .post(stack.server_fn::<AddItem>())
        .header(COOKIE, &cookie)
        .header("accept", "application/json")
        .multipart(helpers::text_form(&[("price", "12"), ("stock", "1")]))
        .send()
        .await
        .expect("POST add_item");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer: serde_json::Value = response.json().await.expect("json");
    assert_eq!(answer["field"], "title", "{answer}");
    // "Remove from sale" with a value its form never sends.
    let item = stack.list_item(&tess, "Tin", 100, 1).await;
    let response = client
        .post(stack.server_fn::<SetOnSale>())
        .header(COOKIE, &cookie)
        .header("accept", "application/json")
        .form(&[("item_id", item.as_str()), ("on_sale", "maybe")])
        .send()
        .await
        .expect("POST set_on_sale");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer: serde_json::Value = response.json().await.expect("json");
    assert_eq!(answer["field"], "on_sale", "{answer}");
    assert_eq!(stack.item(&item).await["on_sale"], true, "nothing changed");
}

#[tokio::test]
async fn with_redis_down_buying_listing_and_signing_in_answer_503_and_write_nothing() {
    let stack = spawn_stack().await;
    let shop = seller("Sal");
    let item = stack.list_item(&shop, "Kettle", 3_000, 5).await;
    let (email, _) = register(&stack, "Una").await;
    let cookie = stack.sign_in(&email).await;
    let client = browser_without_js(&stack);

    stack.redis_link.cut();
    let attempts = [
        (
            "buy",
            client
                .post(stack.server_fn::<Buy>())
                .header(COOKIE, &cookie)
                .form(&[
                    ("lines", format!(r#"[{{"item_id":"{item}","quantity":1}}]"#)),
                    ("key", "redis-down-key-1".to_owned()),
                ]),
        ),
        (
            "add item",
            client
                .post(stack.server_fn::<AddItem>())
                .header(COOKIE, &cookie)
                .multipart(helpers::text_form(&[
                    ("title", "Ghost lamp"),
                    ("description", "Never listed."),
                    ("price", "10"),
                    ("stock", "1"),
                    ("image_url", ""),
                    ("request_id", "redis-down-item"),
                ])),
        ),
        (
            "log in",
            client
                .post(stack.server_fn::<LogIn>())
                .form(&[("email", email.as_str()), ("password", "a good password")]),
        ),
    ];
    for (what, request) in attempts {
        let response = request
            .header("accept", "application/json")
            .send()
            .await
            .expect("POST");
        let status = response.status();
        let retry_after = response.headers().get("retry-after").cloned();
        let cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|c| c.to_str().ok().map(str::to_owned))
            .collect();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {body}");
        assert!(retry_after.is_some(), "{what}: 503 says when to come back");
        assert!(body.contains("try again"), "{what}: {body}");
        assert_plain(&body, what);
        assert!(cookies.is_empty(), "{what} set a cookie: {cookies:?}");
    }
    stack.redis_link.restore().await;

    let after = stack.item(&item).await;
    assert_eq!(
        (after["stock"].as_i64(), after["sold"].as_i64()),
        (Some(5), Some(0))
    );
    // The session still works, and neither a purchase nor an item was half-made.
    let mut session_back = false;
    for _ in 0..50 {
        let page = stack
            .gateway
            .http
            .get(stack.gateway.url("/purchases"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .expect("GET /purchases");
        let html = page.text().await.unwrap_or_default();
        if html.contains("Signed in as") {
            assert!(!html.contains("Kettle"), "a purchase was made: {html}");
            session_back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(session_back, "the session did not come back with Redis");
    let catalog = stack.html("/?q=Ghost").await;
    assert!(!catalog.contains("Ghost lamp"), "an item was listed");
}

#[tokio::test]
async fn cross_site_posts_are_refused_and_change_nothing() {
    let stack = spawn_stack().await;
    let shop = seller("Sal");
    let item = stack.list_item(&shop, "Mug", 900, 5).await;
    let (email, _) = register(&stack, "Vic").await;
    let cookie = stack.sign_in(&email).await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    let foreign: [&[(&str, &str)]; 4] = [
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        // No Origin, no Sec-Fetch-Site, no Referer: not from a page of ours either.
        &[],
    ];
    for headers in foreign {
        let request_id = testkit::unique_name("csrf-item");
        let posts = [
            (
                "log in",
                plain
                    .post(stack.server_fn::<LogIn>())
                    .form(&[("email", email.as_str()), ("password", "a good password")]),
            ),
            (
                "log out",
                plain
                    .post(stack.server_fn::<LogOut>())
                    .header(COOKIE, &cookie),
            ),
            (
                "buy",
                plain
                    .post(stack.server_fn::<Buy>())
                    .header(COOKIE, &cookie)
                    .form(&[
                        ("lines", format!(r#"[{{"item_id":"{item}","quantity":1}}]"#)),
                        ("key", testkit::unique_name("csrf-key")),
                    ]),
            ),
            (
                "add item",
                plain
                    .post(stack.server_fn::<AddItem>())
                    .header(COOKIE, &cookie)
                    .multipart(helpers::text_form(&[
                        ("title", "Forged lamp"),
                        ("description", "Listed by another site."),
                        ("price", "10"),
                        ("stock", "1"),
                        ("image_url", ""),
                        ("request_id", request_id.as_str()),
                    ])),
            ),
        ];
        for (what, mut request) in posts {
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request.send().await.expect("POST");
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{what} with {headers:?}"
            );
            assert!(
                response.headers().get(SET_COOKIE).is_none(),
                "{what} with {headers:?} set a cookie"
            );
        }
    }

    let after = stack.item(&item).await;
    assert_eq!(after["sold"].as_i64(), Some(0), "nothing was bought");
    let page = stack
        .gateway
        .http
        .get(stack.gateway.url("/seller"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("GET /seller")
        .text()
        .await
        .expect("html");
    assert!(page.contains("Signed in as"), "the session was not ended");
    assert!(!page.contains("Forged lamp"), "no item was listed");

    // The same posts from the site's own pages go through.
    let response = browser_without_js(&stack)
        .post(stack.server_fn::<LogIn>())
        .form(&[("email", email.as_str()), ("password", "a good password")])
        .send()
        .await
        .expect("POST");
    assert!(response.status().is_redirection(), "{}", response.status());
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_the_page_nonce() {
    let stack = spawn_stack().await;
    for path in ["/", "/login", "/no-such-page", "/pkg/marketplace.css"] {
        let response = stack
            .gateway
            .http
            .get(stack.gateway.url(path))
            .send()
            .await
            .expect("GET");
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let policy = header("content-security-policy");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(
            policy.contains("script-src 'self' 'nonce-"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(
            header("referrer-policy"),
            "strict-origin-when-cross-origin",
            "{path}"
        );
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert!(
            headers.get("strict-transport-security").is_none(),
            "no HSTS over http"
        );
        if path == "/" {
            let nonce = policy
                .split("'nonce-")
                .nth(1)
                .and_then(|rest| rest.split('\'').next())
                .expect("a nonce")
                .to_owned();
            let html = response.text().await.expect("html");
            assert!(
                html.contains(&format!("nonce=\"{nonce}\"")),
                "the page's inline script carries the header's nonce"
            );
        }
    }
    let https = helpers::spawn_stack_with(StackOptions {
        public_url: Some("https://shop.example".into()),
        ..StackOptions::default()
    })
    .await;
    let response = https
        .gateway
        .http
        .get(https.gateway.url("/"))
        .send()
        .await
        .expect("GET");
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_some_and(|v| v.to_str().unwrap_or_default().contains("max-age=")),
        "HSTS over https"
    );

    // Metrics are for the operator's scraper, not the public port.
    let public = stack
        .gateway
        .http
        .get(stack.gateway.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let private = stack
        .gateway
        .http
        .get(&stack.gateway.metrics_url)
        .send()
        .await
        .expect("GET the metrics port");
    assert_eq!(private.status(), StatusCode::OK);
}

#[tokio::test]
async fn behind_a_trusted_proxy_limits_count_the_forwarded_client() {
    // The gateway believes X-Forwarded-For only from 127.0.0.1, where this test connects from.
    let stack = helpers::spawn_stack_with(StackOptions {
        trusted_proxies: Some("127.0.0.1/32".into()),
        limit_logins_per_address: true,
        ..StackOptions::default()
    })
    .await;
    let (email, _) = register(&stack, "Wes").await;
    // Addresses of this run only (TEST-NET-2 and -3, picked at random): the counters live in
    // the shared Redis.
    let n = rand_octets();
    let (busy, quiet) = (format!("198.51.100.{}", n.0), format!("203.0.113.{}", n.1));
    let attempt = |client: String| {
        let stack = &stack;
        let email = email.clone();
        async move {
            browser_without_js(stack)
                .post(stack.server_fn::<LogIn>())
                .header("x-forwarded-for", format!("10.9.8.7, {client}"))
                .header("accept", "application/json")
                .form(&[("email", email.as_str()), ("password", "not the password")])
                .send()
                .await
                .expect("POST log in")
                .status()
        }
    };
    let mut limited = false;
    for _ in 0..40 {
        if attempt(busy.clone()).await == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "one forwarded client was never rate-limited");
    assert_eq!(
        attempt(quiet).await,
        StatusCode::UNAUTHORIZED,
        "another client behind the same proxy is not limited with it"
    );
}

fn rand_octets() -> (u8, u8) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    ((nanos % 250 + 1) as u8, ((nanos / 250) % 250 + 1) as u8)
}
