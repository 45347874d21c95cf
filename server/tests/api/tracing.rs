//! OpenTelemetry: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the gateway and the services export
//! their spans over OTLP/HTTP, and a page view is one trace across the gateway and the
//! inventory service. The collector here is a plain HTTP server on a real socket that decodes
//! what it receives.
//!
//! In a process of its own ([`helpers::alone_in_a_process`]): telemetry is set up once per
//! process, before any service starts, while the other tests of this binary start services in
//! theirs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::helpers::{self, spawn_stack};

type Received = Arc<Mutex<Vec<Span>>>;

async fn collect(State(received): State<Received>, body: Bytes) -> &'static str {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
    let spans = request
        .resource_spans
        .into_iter()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans);
    received.lock().expect("lock").extend(spans);
    ""
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            Value::StringValue(text) => Some(text.clone()),
            _ => None,
        }
    })
}

#[tokio::test]
async fn a_page_view_is_one_trace_across_the_gateway_and_the_services() {
    if !helpers::alone_in_a_process(
        "tracing::a_page_view_is_one_trace_across_the_gateway_and_the_services",
    )
    .await
    {
        return;
    }
    let received: Received = Arc::default();
    let collector = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", collector.local_addr().expect("address"));
    let app = axum::Router::new()
        .route("/v1/traces", post(collect))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(collector, app).await });

    // SAFETY: this process runs this test alone, and sets these before any other thread of it
    // reads the environment.
    unsafe {
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
        std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "200");
    }
    common::telemetry::init("marketplace-tests");

    let stack = spawn_stack().await;
    let item = stack
        .list_item(&helpers::seller("Sol"), "Linen Throw", 5_500, 3)
        .await;
    stack.open_item_page(&item).await;

    let started = Instant::now();
    let (page, lookup) = loop {
        let spans = received.lock().expect("lock").clone();
        let uri_is = |span: &&Span, wanted: &str| {
            span.name == "request" && attribute(span, "uri").is_some_and(|uri| uri == wanted)
        };
        let page = spans
            .iter()
            .find(|s| uri_is(s, &format!("/items?itemId={item}")))
            .cloned();
        let lookup = spans
            .iter()
            .find(|s| uri_is(s, &format!("/v1/items/{item}")) && s.parent_span_id.len() == 8)
            .cloned();
        if let (Some(page), Some(lookup)) = (page, lookup) {
            break (page, lookup);
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "expected the page's and the inventory lookup's spans; received {} spans",
            spans.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        page.trace_id, lookup.trace_id,
        "the inventory lookup belongs to the page view's trace"
    );
    assert!(attribute(&lookup, "request_id").is_some_and(|id| !id.is_empty()));
}
