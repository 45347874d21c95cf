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
    (status, response.text().await.expect("body"))
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
