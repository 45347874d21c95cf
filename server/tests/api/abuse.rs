//! What an attacker tried after the security review (issue 33), each through the gateway:
//! text that would be markup in the page head, a kept page's policy, answers for one person
//! that caches could keep, uploads read before anyone was asked, and sellers who list and
//! edit without end.

use std::time::Duration;

use app::api::{AddItem, AddToCart, SaveItem, SetOnSale};
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, COOKIE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    Stack, StackOptions, browser_without_js, cookie_set, register, seller, spawn_stack,
    spawn_stack_with, text_form,
};

/// The base64 SHA-256 of each inline script of `html` whose tag carries `nonce`, and of
/// each that does not.
fn script_hashes(html: &str, nonce: &str) -> (Vec<String>, Vec<String>) {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let tag_end = start + rest[start..].find('>').expect("a tag's end");
        let body_end = tag_end + 1 + rest[tag_end + 1..].find("</script>").expect("an end");
        let (tag, body) = (&rest[start..tag_end], &rest[tag_end + 1..body_end]);
        rest = &rest[body_end..];
        if tag.contains(" src=") {
            continue;
        }
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
        if tag.contains(&format!(" nonce=\"{nonce}\"")) {
            with.push(hash);
        } else {
            without.push(hash);
        }
    }
    (with, without)
}

#[tokio::test]
async fn a_title_written_as_markup_is_text_in_the_head_and_a_kept_page_allows_only_the_apps_scripts()
 {
    let stack = spawn_stack().await;
    let sal = seller("Sal");
    let hostile = "</title><script>alert(3)</script><meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">";
    let item = stack.list_item(&sal, hostile, 1_000, 3).await;

    for round in ["rendered", "kept"] {
        let response = stack
            .gateway
            .http
            .get(stack.gateway.url(&format!("/items?itemId={item}")))
            .send()
            .await
            .expect("GET the item page");
        assert_eq!(response.status(), StatusCode::OK);
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .expect("text")
            .to_owned();
        let html = response.text().await.expect("html");
        assert!(
            html.contains(
                "<title>&lt;/title&gt;&lt;script&gt;alert(3)&lt;/script&gt;&lt;meta http-equiv=\"refresh\""
            ),
            "{round}: the title is text: {html}"
        );
        assert!(!html.contains("<script>alert(3)"), "{round}: {html}");
        assert!(
            !html.contains("<meta http-equiv=\"refresh\""),
            "{round}: {html}"
        );

        // The kept page's policy names exactly the scripts that carry the render's nonce.
        let nonce = html
            .split(" nonce=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the render's nonce on its scripts");
        let (apps, others) = script_hashes(&html, nonce);
        assert!(!apps.is_empty(), "{round}: the hydration script");
        let allowed: Vec<&str> = policy
            .split("'sha256-")
            .skip(1)
            .filter_map(|rest| rest.split('\'').next())
            .collect();
        assert_eq!(allowed.len(), apps.len(), "{round}: {policy}");
        for hash in &apps {
            assert!(allowed.contains(&hash.as_str()), "{round}: {policy}");
        }
        for hash in &others {
            assert!(!policy.contains(hash.as_str()), "{round}: {policy}");
        }
    }
}

#[tokio::test]
async fn every_answer_rendered_for_one_person_is_private_and_never_stored() {
    let stack = spawn_stack().await;
    let sal = seller("Sal");
    let item = stack.list_item(&sal, "Teapot", 2_500, 5).await;
    let (email, _) = register(&stack, "Pat").await;
    let cookie = stack.sign_in(&email).await;
    let get = |path: String, cookie: Option<String>| {
        let stack = &stack;
        async move {
            let mut request = stack.gateway.http.get(stack.gateway.url(&path));
            if let Some(cookie) = cookie {
                request = request.header(COOKIE, cookie);
            }
            let response = request.send().await.expect("GET");
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            response
                .headers()
                .get(CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        }
    };
    for path in ["/", "/?q=tea", "/purchases", "/cart", "/seller", "/login"]
        .into_iter()
        .map(str::to_owned)
        .chain([format!("/items?itemId={item}")])
    {
        assert_eq!(
            get(path.clone(), Some(cookie.clone())).await,
            "private, no-store",
            "signed in: {path}"
        );
    }

    // A guest with a cart: the header counts it.
    let added = browser_without_js(&stack)
        .post(stack.server_fn::<AddToCart>())
        .form(&[("item_id", item.as_str()), ("quantity", "1")])
        .send()
        .await
        .expect("add to cart");
    assert_eq!(
        added
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("private, no-store"),
        "an answer that sets a cookie"
    );
    let guest_cookie = cookie_set(&added, "cart").expect("a guest cart cookie");
    for path in ["/", "/cart"] {
        assert_eq!(
            get(path.to_owned(), Some(guest_cookie.clone())).await,
            "private, no-store",
            "a guest with a cart: {path}"
        );
    }

    // What is the same for everyone keeps its own caching.
    assert_ne!(get("/".to_owned(), None).await, "private, no-store");
    let bundle = get("/pkg/marketplace.css".to_owned(), Some(cookie.clone())).await;
    assert!(!bundle.contains("no-store"), "{bundle}");
}

/// Sends the head of an upload form and a kilobyte of its body (as a slow or hostile client
/// would), and answers the status line the gateway sends back within `within`, if any. The
/// connection is kept open (returned) so that an upload admitted stays in progress.
async fn start_upload(
    stack: &Stack,
    cookie: Option<&str>,
    within: Duration,
) -> (Option<String>, tokio::net::TcpStream) {
    let address = stack
        .gateway
        .base_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect to the gateway");
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {address}\r\nOrigin: {}\r\nAccept: application/json\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 8000000\r\n{cookie}\r\n",
        <AddItem as ServerFn>::PATH,
        stack.public_url.trim_end_matches('/'),
    );
    socket
        .write_all(head.as_bytes())
        .await
        .expect("send the head");
    let part = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"big.png\"\r\n\
         Content-Type: image/png\r\n\r\n{}",
        "\u{89}PNG".repeat(256)
    );
    socket
        .write_all(part.as_bytes())
        .await
        .expect("send a part");
    let mut answer = vec![0u8; 1024];
    let read = tokio::time::timeout(within, socket.read(&mut answer)).await;
    let status = match read {
        Ok(Ok(n)) if n > 0 => {
            let text = String::from_utf8_lossy(&answer[..n]).into_owned();
            Some(text)
        }
        _ => None,
    };
    (status, socket)
}

#[tokio::test]
async fn an_upload_is_refused_before_its_body_is_read_without_a_session_or_past_the_few_at_once() {
    let stack = spawn_stack().await;
    // No session: refused at once, though 8 MB were announced and 1 KB sent.
    let (answer, _socket) = start_upload(&stack, None, Duration::from_secs(5)).await;
    let answer = answer.expect("an answer before the body was sent");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("log in"), "{answer}");
    let (answer, _socket) = start_upload(
        &stack,
        Some("session=not-a-session"),
        Duration::from_secs(5),
    )
    .await;
    assert!(
        answer
            .as_deref()
            .is_some_and(|a| a.starts_with("HTTP/1.1 401")),
        "{answer:?}"
    );

    // Signed in: a few are read at once; the next is told to come back.
    let (email, _) = register(&stack, "Ula").await;
    let cookie = stack.sign_in(&email).await;
    let mut in_progress = Vec::new();
    for _ in 0..server::edge::UPLOADS_AT_ONCE {
        let (answer, socket) =
            start_upload(&stack, Some(&cookie), Duration::from_millis(500)).await;
        assert_eq!(answer, None, "an admitted upload waits for its body");
        in_progress.push(socket);
    }
    let (answer, _socket) = start_upload(&stack, Some(&cookie), Duration::from_secs(5)).await;
    let answer = answer.expect("an answer at once");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: "),
        "{answer}"
    );
    // Once those are gone, uploads are taken again.
    drop(in_progress);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (answer, _socket) =
            start_upload(&stack, Some(&cookie), Duration::from_millis(500)).await;
        if answer.is_none() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{answer:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_seller_past_the_hourly_listings_is_told_beside_the_form_when_to_come_back() {
    let stack = spawn_stack_with(StackOptions {
        seller_limits: Some(inventory_service::SellerLimits {
            listings_per_hour: 2,
            edits_per_hour: 2,
        }),
        ..StackOptions::default()
    })
    .await;
    let (email, _) = register(&stack, "Lia").await;
    let cookie = stack.sign_in(&email).await;
    let client = browser_without_js(&stack);
    let list = |n: usize| {
        client
            .post(stack.server_fn::<AddItem>())
            .header(COOKIE, &cookie)
            .header("accept", "application/json")
            .multipart(text_form(&[
                ("title", &format!("Print {n}")),
                ("price", "5"),
                ("stock", "1"),
                ("request_id", &format!("form-{n}")),
            ]))
            .send()
    };
    for n in 0..2 {
        let response = list(n).await.expect("list");
        assert_eq!(response.status(), StatusCode::OK, "listing {n}");
    }
    let response = list(2).await.expect("list");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    let answer: serde_json::Value = response.json().await.expect("json");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("You have listed 2 items this hour")),
        "{answer}"
    );

    // Edits too; the item stays as it was.
    let item: serde_json::Value = list(0)
        .await
        .expect("the first form again")
        .json()
        .await
        .expect("json");
    let item_id = item["id"].as_str().expect("id").to_owned();
    for price in ["6", "7"] {
        let response = client
            .post(stack.server_fn::<SaveItem>())
            .header(COOKIE, &cookie)
            .header("accept", "application/json")
            .form(&[
                ("item_id", item_id.as_str()),
                ("price", price),
                ("stock", "1"),
            ])
            .send()
            .await
            .expect("save");
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = client
        .post(stack.server_fn::<SetOnSale>())
        .header(COOKIE, &cookie)
        .header("accept", "application/json")
        .form(&[("item_id", item_id.as_str()), ("on_sale", "false")])
        .send()
        .await
        .expect("take off sale");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(stack.item(&item_id).await["on_sale"], true);
}

/// Asks for `path` until it comes from the kept pages (the first render is kept once this
/// copy follows the inventory's announcements).
async fn until_kept(stack: &Stack, path: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stack.open_page(path).await != "hit" {
        assert!(std::time::Instant::now() < deadline, "{path} is never kept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_edit_drops_only_the_kept_catalog_pages_that_show_the_item() {
    let stack = spawn_stack().await;
    let sal = seller("Sal");
    let tag = testkit::unique_name("t").replace('_', "");
    let lamp = stack
        .list_item(&sal, &format!("Lamp {tag}"), 1_000, 5)
        .await;
    let vase = stack
        .list_item(&sal, &format!("Vase {tag}"), 1_000, 5)
        .await;
    let (lamps, vases) = (format!("/?q=lamp+{tag}"), format!("/?q=vase+{tag}"));
    until_kept(&stack, &lamps).await;
    until_kept(&stack, &vases).await;

    // A new price is on the vase's card only.
    stack.set_price(&sal, &vase, 1_200).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !stack.html(&vases).await.contains("$12.00") {
        assert!(
            std::time::Instant::now() < deadline,
            "the vase's new price never shows"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stack.open_page(&lamps).await,
        "hit",
        "the lamp's page was dropped too"
    );
    assert!(stack.html(&lamps).await.contains("$10.00"));

    // Off sale: the catalog lists other items now, every page of it goes.
    until_kept(&stack, &vases).await;
    stack.set_on_sale(&sal, &lamp, false).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stack.html(&lamps).await.contains(&format!("Lamp {tag}")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the lamp never leaves"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(stack.open_page("/").await, "hit");
}
