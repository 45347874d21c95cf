//! What survives the state Redis going away (issue 34): a restart, SIGKILL included, keeps
//! every session and cart (it writes an append-only file every second); and while it cannot
//! answer, a signed-in visitor is told that nobody can tell right now (503), never signed out.

use std::time::Duration;

use app::api::AddToCart;
use reqwest::StatusCode;
use reqwest::header::COOKIE;

use crate::helpers::{
    Stack, StackOptions, browser_without_js, cookie_set, register, seller, spawn_stack,
    spawn_stack_with,
};

/// Puts one of `item` in the cart of whoever `cookie` is (a guest without one); answers the
/// guest cart cookie the gateway set, if any.
async fn add_to_cart(stack: &Stack, cookie: Option<&str>, item: &str) -> Option<String> {
    let mut request = browser_without_js(stack)
        .post(stack.server_fn::<AddToCart>())
        .header("accept", "application/json")
        .form(&[("item_id", item), ("quantity", "2")]);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.expect("add to cart");
    assert_eq!(response.status(), StatusCode::OK);
    cookie_set(&response, "cart")
}

/// The status and HTML of `path` for whoever `cookie` is.
async fn page(stack: &Stack, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = stack
        .gateway
        .http
        .get(stack.gateway.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("GET");
    (response.status(), response.text().await.expect("html"))
}

/// The flags `scripts/infra.sh` starts the state Redis with.
fn state_redis_flags() -> String {
    let script =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/infra.sh"))
            .expect("scripts/infra.sh");
    let start = script
        .find("spawn redis \"$REDIS_PORT\"")
        .expect("where infra.sh starts the state redis");
    let end = start + script[start..].find("await redis").expect("its end");
    script[start..end].to_owned()
}

#[tokio::test]
async fn sessions_and_carts_survive_a_sigkill_of_the_state_redis() {
    // The settings the project's scripts run the state Redis with, here in a private one.
    let flags = state_redis_flags();
    assert!(
        flags.contains(&testkit::STATE_REDIS_PERSISTENCE[2..].join(" ")),
        "scripts/infra.sh starts the state Redis otherwise: {flags}"
    );
    let mut redis = testkit::PrivateRedis::durable().await;
    let stack = spawn_stack_with(StackOptions {
        redis_addr: Some(redis.addr()),
        ..StackOptions::default()
    })
    .await;
    let tag = testkit::unique_name("t").replace('_', "");
    let (lamp, vase) = (format!("Lamp {tag}"), format!("Vase {tag}"));
    let sal = seller("Sal");
    let lamp_id = stack.list_item(&sal, &lamp, 1_000, 10).await;
    let vase_id = stack.list_item(&sal, &vase, 1_000, 10).await;
    let (email, _) = register(&stack, "Rosa").await;
    let cookie = stack.sign_in(&email).await;
    add_to_cart(&stack, Some(&cookie), &lamp_id).await;
    let guest = add_to_cart(&stack, None, &vase_id)
        .await
        .expect("a guest cart cookie");
    // Written to the file within a second (appendfsync everysec).
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    redis.restart().await;

    // The services reconnect by themselves; the visitor is still signed in, cart and all.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (status, html) = loop {
        let (status, html) = page(&stack, &cookie, "/cart").await;
        if status == StatusCode::OK || std::time::Instant::now() > deadline {
            break (status, html);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Signed in as"),
        "signed out by a restart: {html}"
    );
    assert!(
        html.contains(&lamp),
        "the cart was emptied by a restart: {html}"
    );
    let (status, html) = page(&stack, &guest, "/cart").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(&vase), "the guest's cart was emptied: {html}");
}

#[tokio::test]
async fn while_the_state_redis_cannot_answer_a_signed_in_visitor_is_told_so_and_not_signed_out() {
    let stack = spawn_stack().await;
    let (email, _) = register(&stack, "Nia").await;
    let cookie = stack.sign_in(&email).await;
    let (status, html) = page(&stack, &cookie, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Signed in as"), "{html}");

    stack.redis_link.cut();
    for path in ["/", "/cart", "/purchases"] {
        let (status, html) = page(&stack, &cookie, path).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {html}");
        assert!(
            html.contains(app::error::CANNOT_TELL_WHO),
            "{path} does not say it cannot tell: {html}"
        );
        assert!(
            !html.contains(">Log in<"),
            "{path} says the visitor is signed out: {html}"
        );
    }
    // The live socket is refused rather than opened as an anonymous one.
    let live = stack
        .gateway
        .http
        .get(stack.gateway.url("/live"))
        .header(COOKIE, &cookie)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("origin", stack.origin.as_str())
        .send()
        .await
        .expect("GET /live");
    assert_eq!(live.status(), StatusCode::SERVICE_UNAVAILABLE);

    stack.redis_link.restore().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, html) = page(&stack, &cookie, "/").await;
        if status == StatusCode::OK {
            assert!(html.contains("Signed in as"), "{html}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}: {html}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
