//! What an operator sees: Prometheus metrics that move with real traffic, and request ids that
//! follow a request from the gateway to the services.

use std::time::{Duration, Instant};

use testkit::{LiveSocket, TestService, unique_name};

use crate::helpers::{self, register, spawn_stack};

/// `/metrics` of a service.
async fn metrics(service: &TestService) -> String {
    let response = service
        .http
        .get(&service.metrics_url)
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.expect("metrics text")
}

/// The sum of every sample of `name` whose labels include all of `labels` (`k="v"` pairs).
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.iter().all(|l| rest.contains(l)))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

async fn wait_for_metric(service: &TestService, name: &str, labels: &[&str], at_least: f64) -> f64 {
    let started = Instant::now();
    loop {
        let value = sample(&metrics(service).await, name, labels);
        if value >= at_least {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{name}{labels:?} stayed at {value}, expected at least {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn metrics_move_with_real_traffic() {
    // Alone: the open-socket gauge is process-wide, and falls when another test's socket closes.
    if !helpers::alone_in_a_process("operations::metrics_move_with_real_traffic").await {
        return;
    }
    let stack = spawn_stack().await;
    let (_, buyer) = register(&stack, "Mia").await;
    let item = stack
        .list_item(&helpers::seller("Sol"), "Oak Stool", 3_000, 5)
        .await;

    // Every number is compared with its value before the traffic: one process holds all the
    // services of this test, and other tests' traffic may be counted too.
    let before = metrics(&stack.gateway).await;
    let page_views = sample(
        &before,
        "http_requests_total",
        &[
            r#"service="gateway""#,
            r#"route="/items""#,
            r#"status="200""#,
        ],
    );
    let hits = sample(&before, "cache_lookups_total", &[r#"result="hit""#]);
    let kept_pages = sample(&before, "page_cache_lookups_total", &[r#"result="hit""#]);
    let purchases = sample(&before, "purchases_total", &[r#"outcome="completed""#]);
    let created = sample(
        &before,
        "http_requests_total",
        &[
            r#"service="transaction-service""#,
            r#"route="/v1/purchases""#,
            r#"method="POST""#,
            r#"status="201""#,
        ],
    );
    let receipts = sample(&before, "receipts_sent_total", &[]);
    let sockets = sample(&before, "live_open_sockets", &[]);

    // Viewed until the gateway answers from its kept page: the listing's announcement reaches
    // the gateway on its own time, and drops a page kept before it arrived.
    let mut views = 0;
    let mut served_from_kept_page = false;
    while !served_from_kept_page && views < 20 {
        served_from_kept_page = stack.open_item_page(&item).await == "hit";
        views += 1;
        stack.item(&item).await;
    }
    assert!(served_from_kept_page, "the item page was never kept");
    stack.buy(&buyer, &item).await;
    let socket = LiveSocket::connect(
        &format!("{}/live", stack.gateway.base_url.replacen("http", "ws", 1)),
        Some(&stack.origin),
        &[],
    )
    .await
    .expect("a live socket")
    .subscribed("feed")
    .await;

    wait_for_metric(
        &stack.gateway,
        "http_requests_total",
        &[
            r#"service="gateway""#,
            r#"route="/items""#,
            r#"status="200""#,
        ],
        page_views + f64::from(views),
    )
    .await;
    // A view of the item page came from the gateway's kept page, and the inventory answered
    // a read of the item from its cache.
    wait_for_metric(
        &stack.gateway,
        "page_cache_lookups_total",
        &[r#"result="hit""#],
        kept_pages + 1.0,
    )
    .await;
    wait_for_metric(
        &stack.inventory,
        "cache_lookups_total",
        &[r#"result="hit""#],
        hits + 1.0,
    )
    .await;
    wait_for_metric(
        &stack.transaction,
        "purchases_total",
        &[r#"outcome="completed""#],
        purchases + 1.0,
    )
    .await;
    wait_for_metric(
        &stack.transaction,
        "http_requests_total",
        &[
            r#"service="transaction-service""#,
            r#"route="/v1/purchases""#,
            r#"method="POST""#,
            r#"status="201""#,
        ],
        created + 1.0,
    )
    .await;
    wait_for_metric(&stack.receipt, "receipts_sent_total", &[], receipts + 1.0).await;
    wait_for_metric(&stack.notification, "live_open_sockets", &[], sockets + 1.0).await;
    let text = metrics(&stack.transaction).await;
    assert!(
        text.contains("outbox_backlog"),
        "the outbox backlog is reported"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "latencies are histograms"
    );
    // librdkafka reports lag every 5 s once the worker holds partitions and has committed.
    let started = Instant::now();
    while !metrics(&stack.receipt)
        .await
        .contains("kafka_consumer_lag{")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no consumer lag reported per partition"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    socket.close().await;
}

#[tokio::test]
async fn a_request_id_travels_from_the_gateway_to_the_services() {
    let stack = spawn_stack().await;
    let item = stack
        .list_item(&helpers::seller("Sol"), "Pine Shelf", 9_000, 2)
        .await;

    let chosen = unique_name("trace-me");
    let response = stack
        .gateway
        .http
        .get(stack.gateway.url(&format!("/items?itemId={item}")))
        .header("x-request-id", &chosen)
        .send()
        .await
        .expect("item page");
    assert_eq!(response.headers()["x-request-id"], chosen.as_str());
    assert!(
        stack
            .inventory_link
            .sent_text()
            .contains(&format!("x-request-id: {chosen}")),
        "the gateway passed the browser's request id to the inventory service"
    );

    // Without one, the gateway makes one and passes that on.
    let response = stack
        .gateway
        .http
        .get(stack.gateway.url("/"))
        .send()
        .await
        .expect("catalog");
    let made = response.headers()["x-request-id"]
        .to_str()
        .expect("text")
        .to_owned();
    assert_eq!(made.len(), 36, "a UUID: {made}");
    assert!(
        stack
            .inventory_link
            .sent_text()
            .contains(&format!("x-request-id: {made}"))
    );

    // A service passes the id on to the services it calls: a purchase's reservation carries it.
    let (_, buyer) = register(&stack, "Ida").await;
    let response = stack
        .transaction
        .http
        .post(stack.transaction.url("/v1/purchases"))
        .header(
            common::identity::IDENTITY_HEADER,
            stack.key.sign(&buyer, std::time::SystemTime::now()),
        )
        .header("Idempotency-Key", unique_name("key"))
        .header("x-request-id", "purchase-chain-1")
        .json(&serde_json::json!({ "lines": [{ "item_id": item, "quantity": 1 }] }))
        .send()
        .await
        .expect("purchase");
    assert_eq!(response.status().as_u16(), 201);
    let wire = stack.inventory_link.sent_text();
    let reservation = wire
        .split("POST /v1/reservations")
        .nth(1)
        .expect("the transaction service reserved through the proxy");
    assert!(
        reservation.contains("x-request-id: purchase-chain-1"),
        "the reservation carried the purchase's request id"
    );

    // Every service answers with the id it was given.
    let response = stack
        .inventory
        .http
        .get(stack.inventory.url(&format!("/v1/items/{item}")))
        .header("x-request-id", "from-a-caller")
        .send()
        .await
        .expect("item");
    assert_eq!(response.headers()["x-request-id"], "from-a-caller");
}
