//! The gateway over plain HTTP, as a browser without JavaScript sees it.

mod support;

use support::spawn_stack;

#[tokio::test]
async fn the_catalog_is_server_rendered_with_its_stylesheet_and_hydrate_bundle() {
    let stack = spawn_stack().await;
    let gateway = &stack.gateway;

    let response = gateway
        .http
        .get(gateway.url("/"))
        .send()
        .await
        .expect("GET /");
    assert_eq!(response.status().as_u16(), 200);
    let html = response.text().await.expect("page body");
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
}

#[tokio::test]
async fn an_unknown_page_answers_404_with_a_way_back() {
    let stack = spawn_stack().await;
    let gateway = &stack.gateway;

    let response = gateway
        .http
        .get(gateway.url("/no/such/page"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status().as_u16(), 404);
    let html = response.text().await.expect("body");
    assert!(html.contains("Page not found"), "{html}");
    assert!(html.contains(r#"href="/""#), "{html}");
}
