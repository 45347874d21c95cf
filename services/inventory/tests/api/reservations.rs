//! Stock reservations through the inventory service's HTTP API against the real MongoDB:
//! no oversell under concurrency, all or nothing, and retries that change nothing.

use std::time::SystemTime;

use common::identity::{Caller, IDENTITY_HEADER, Identity, IdentityKey};
use inventory_service::Config;
use serde_json::{Value, json};
use testkit::answers::{assert_invalid, assert_sold_out};
use testkit::{Infra, TestService};

struct App {
    service: TestService,
    key: IdentityKey,
    seller: Identity,
}

async fn spawn_app() -> App {
    let config = Config::for_tests(&Infra::from_env());
    let key = config.identity.clone();
    let service = testkit::spawn(inventory_service::build(config).await.expect("inventory")).await;
    let seller = Identity {
        user_id: "5e11e5e11e5e11e5e11e5e11".parse().expect("an id"),
        display_name: "Sal".into(),
        email: "sal@example.com".into(),
    };
    App {
        service,
        key,
        seller,
    }
}

/// A fresh purchase id: reservations are made under the purchase's id.
fn purchase_id() -> String {
    mongodb::bson::oid::ObjectId::new().to_hex()
}

impl App {
    /// A POST as the seller, relayed by the gateway.
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let token = self.key.sign(&self.seller, SystemTime::now());
        self.post_with(path, body, &token).await
    }

    /// A POST as the transaction service acting for a buyer: what reservations take.
    async fn post_as_transaction_service(&self, path: &str, body: Value) -> (u16, Value) {
        let token = self.key.sign_as(
            Caller::Transaction,
            Some(&self.seller),
            None,
            SystemTime::now(),
        );
        self.post_with(path, body, &token).await
    }

    async fn post_with(&self, path: &str, body: Value, token: &str) -> (u16, Value) {
        let request = self.service.post(path).header(IDENTITY_HEADER, token);
        testkit::answers::send(request.json(&body)).await
    }

    async fn list(&self, title: &str, price_cents: i64, stock: i64) -> String {
        let (status, item) = self
            .post(
                "/v1/items",
                json!({ "title": title, "price_cents": price_cents, "stock": stock }),
            )
            .await;
        assert_eq!(status, 201, "{item}");
        item["id"].as_str().expect("id").to_owned()
    }

    async fn item(&self, id: &str) -> Value {
        self.service.get_json(&format!("/v1/items/{id}")).await
    }

    async fn reserve(&self, reservation_id: &str, lines: Value) -> (u16, Value) {
        self.post_as_transaction_service(
            "/v1/reservations",
            json!({ "reservation_id": reservation_id, "lines": lines }),
        )
        .await
    }
}

#[tokio::test]
async fn two_hundred_buyers_of_ten_in_stock_get_exactly_ten() {
    let app = spawn_app().await;
    let lamp = app.list("Lamp", 1_500, 10).await;
    let ids: Vec<String> = (0..200).map(|_| purchase_id()).collect();
    let attempts = ids
        .iter()
        .map(|id| app.reserve(id, json!([{ "item_id": lamp, "quantity": 1 }])));
    let results = futures::future::join_all(attempts).await;

    assert_sold_out(&results, &app.item(&lamp).await, 10);
}

#[tokio::test]
async fn a_cart_is_all_or_nothing_and_names_the_short_item() {
    let app = spawn_app().await;
    let mug = app.list("Mug", 900, 5).await;
    let vase = app.list("Vase", 4_000, 1).await;
    let (status, answer) = app
        .reserve(
            &purchase_id(),
            json!([{ "item_id": mug, "quantity": 2 }, { "item_id": vase, "quantity": 2 }]),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"], "only 1 of Vase left");
    assert_eq!(answer["shortage"]["item_id"], vase.as_str());
    assert_eq!(
        app.item(&mug).await["stock"],
        5,
        "the mugs taken first were given back"
    );
    assert_eq!(app.item(&mug).await["sold"], 0);

    let (status, answer) = app
        .reserve(
            &purchase_id(),
            json!([{ "item_id": mug, "quantity": 2 }, { "item_id": vase, "quantity": 1 }]),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let lines = answer["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().any(|l| l["title"] == "Vase"
        && l["unit_price_cents"] == 4_000
        && l["seller_name"] == "Sal"));
    assert_eq!(app.item(&vase).await["stock"], 0);
}

#[tokio::test]
async fn retrying_a_reservation_returns_the_first_answer_and_takes_nothing_more() {
    let app = spawn_app().await;
    let book = app.list("Book", 1_200, 10).await;
    let lines = json!([{ "item_id": book, "quantity": 3 }]);
    let purchase = purchase_id();
    let release = format!("/v1/reservations/{purchase}/release");
    let retries = (0..10).map(|_| app.reserve(&purchase, lines.clone()));
    let answers = futures::future::join_all(retries).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 201),
        "{answers:?}"
    );
    assert!(
        answers
            .windows(2)
            .all(|w| w[0].1["lines"][0]["item_id"] == w[1].1["lines"][0]["item_id"])
    );
    let item = app.item(&book).await;
    assert_eq!(
        (item["stock"].as_i64(), item["sold"].as_i64()),
        (Some(7), Some(3)),
        "taken once"
    );

    let (status, _) = app.post_as_transaction_service(&release, json!({})).await;
    assert_eq!(status, 204);
    let (status, _) = app.post_as_transaction_service(&release, json!({})).await;
    assert_eq!(status, 204);
    let item = app.item(&book).await;
    assert_eq!(
        (item["stock"].as_i64(), item["sold"].as_i64()),
        (Some(10), Some(0)),
        "given back once"
    );
}

#[tokio::test]
async fn unknown_items_and_bad_lines_are_refused_clearly() {
    let app = spawn_app().await;
    let (status, answer) = app
        .reserve(
            &purchase_id(),
            json!([{ "item_id": "665f1c2e9b1d8a0012345678", "quantity": 1 }]),
        )
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("one of the items is no longer for sale"))
    );
    let (status, answer) = app
        .reserve(
            &purchase_id(),
            json!([{ "item_id": "665f1c2e9b1d8a0012345678", "quantity": -1 }]),
        )
        .await;
    assert_invalid(status, &answer, "quantity");
    let body = json!({ "reservation_id": "r-anon", "lines": [] });
    let (status, _) =
        testkit::answers::send(app.service.post("/v1/reservations").json(&body)).await;
    assert_eq!(status, 401, "reserving needs a signed identity");
    let (status, answer) = app
        .reserve(
            "../items",
            json!([{ "item_id": "665f1c2e9b1d8a0012345678", "quantity": 1 }]),
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (422, Some("reservation_id")),
        "only a purchase id names a reservation: {answer}"
    );
}

#[tokio::test]
async fn a_browser_users_token_cannot_reserve_or_release_stock() {
    let app = spawn_app().await;
    let lamp = app.list("Desk lamp", 2_000, 5).await;
    let purchase = purchase_id();
    let lines = json!([{ "item_id": lamp, "quantity": 2 }]);
    assert_eq!(app.reserve(&purchase, lines.clone()).await.0, 201);

    // The same user's token as the gateway relays it for a browser: not the transaction
    // service's, so neither endpoint serves it.
    let (status, answer) = app
        .post(
            "/v1/reservations",
            json!({ "reservation_id": purchase_id(), "lines": lines }),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    let (status, answer) = app
        .post(&format!("/v1/reservations/{purchase}/release"), json!({}))
        .await;
    assert_eq!(status, 403, "{answer}");
    let item = app.item(&lamp).await;
    assert_eq!(
        (item["stock"].as_i64(), item["sold"].as_i64()),
        (Some(3), Some(2)),
        "nothing was given back"
    );
}

#[tokio::test]
async fn an_item_taken_off_sale_leaves_the_catalog_cannot_be_bought_and_can_be_put_back() {
    let app = spawn_app().await;
    let chair = app.list("Chair", 3_000, 4).await;
    let stool = app.list("Stool", 1_000, 4).await;
    let titles = |catalog: &Value| -> Vec<String> {
        catalog["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["title"].as_str().map(str::to_owned))
            .collect()
    };

    let (status, edited) = app
        .post(&format!("/v1/items/{chair}"), json!({ "on_sale": false }))
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["on_sale"], false);
    let catalog = app.service.get_json("/v1/items").await;
    assert_eq!(titles(&catalog), ["Stool"], "{catalog}");
    assert_eq!(catalog["total"], 1);
    let found = app.service.get_json("/v1/items?q=chair").await;
    assert_eq!(
        found["total"], 0,
        "a search does not find it either: {found}"
    );
    assert_eq!(
        app.item(&chair).await["on_sale"],
        false,
        "its own page still reads it"
    );
    let own = app
        .service
        .get_json(&format!("/v1/sellers/{}/items", app.seller.user_id))
        .await;
    assert_eq!(titles(&own), ["Stool", "Chair"], "the seller still has it");

    let (status, answer) = app
        .reserve(
            &purchase_id(),
            json!([{ "item_id": stool, "quantity": 1 }, { "item_id": chair, "quantity": 1 }]),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"], "Chair is no longer for sale");
    assert_eq!(answer["shortage"]["off_sale"], true);
    assert_eq!(
        (
            app.item(&chair).await["stock"].as_i64(),
            app.item(&stool).await["stock"].as_i64()
        ),
        (Some(4), Some(4)),
        "nothing was taken"
    );

    let (status, edited) = app
        .post(&format!("/v1/items/{chair}"), json!({ "on_sale": true }))
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(app.service.get_json("/v1/items").await["total"], 2);
    let (status, answer) = app
        .reserve(&purchase_id(), json!([{ "item_id": chair, "quantity": 1 }]))
        .await;
    assert_eq!(status, 201, "on sale again: {answer}");
    assert_eq!(app.item(&chair).await["stock"], 3);
}

/// What the gateways hear of a change to `item`: the next announcement on the inventory
/// channel that names it (other tests' announcements pass by).
async fn next_change_of(
    messages: &mut tokio::sync::broadcast::Receiver<fred::types::Message>,
    item: &str,
) -> wire::events::InventoryChanged {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let message = tokio::time::timeout_at(deadline, messages.recv())
            .await
            .unwrap_or_else(|_| panic!("no announcement of {item}"))
            .expect("the subscription is open");
        let Ok(text) = message.value.convert::<String>() else {
            continue;
        };
        let change: wire::events::InventoryChanged =
            serde_json::from_str(&text).expect("an inventory change");
        if change.item_ids.iter().any(|id| id.as_str() == item) {
            return change;
        }
    }
}

#[tokio::test]
async fn a_sale_drops_the_catalog_pages_only_when_it_changes_what_a_card_says() {
    use fred::prelude::{ClientLike, EventInterface, PubsubInterface};
    let app = spawn_app().await;
    let listener = common::infra::redis::connect(&Infra::from_env().redis_url).expect("redis");
    listener.wait_for_connect().await.expect("redis connects");
    let mut messages = listener.message_rx();
    listener
        .subscribe(wire::redis_channels::INVENTORY_CHANGES)
        .await
        .expect("subscribed");

    let kettle = app.list("Kettle", 3_000, 12).await;
    assert!(
        next_change_of(&mut messages, &kettle).await.cards_changed,
        "a new card"
    );
    let one = json!([{ "item_id": kettle, "quantity": 1 }]);

    // 12 -> 11: the card still says "In stock".
    assert_eq!(app.reserve(&purchase_id(), one.clone()).await.0, 201);
    let change = next_change_of(&mut messages, &kettle).await;
    assert!(!change.cards_changed, "{change:?}");

    // 11 -> 9: "Only 9 left".
    let two = json!([{ "item_id": kettle, "quantity": 2 }]);
    assert_eq!(app.reserve(&purchase_id(), two).await.0, 201);
    assert!(next_change_of(&mut messages, &kettle).await.cards_changed);

    // 9 -> 8: the count on the card moves.
    assert_eq!(app.reserve(&purchase_id(), one).await.0, 201);
    assert!(next_change_of(&mut messages, &kettle).await.cards_changed);

    // Short: nothing was taken, no card changed.
    let too_many = json!([{ "item_id": kettle, "quantity": 9 }]);
    assert_eq!(app.reserve(&purchase_id(), too_many).await.0, 409);
    assert!(!next_change_of(&mut messages, &kettle).await.cards_changed);
}
