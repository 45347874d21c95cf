//! Carts through the transaction service's HTTP API, in the real Redis, with the real
//! inventory service for prices and stock.

use std::time::SystemTime;

use common::identity::{Caller, IDENTITY_HEADER, Identity};
use fred::prelude::{ClientLike, EventInterface, KeysInterface, PubsubInterface};
use serde_json::{Value, json};
use testkit::answers::{assert_invalid, strings};
use wire::cart::GuestCartId;

use crate::purchases::{App, person, spawn_app};

impl App {
    async fn add(&self, who: &Identity, item: &str, quantity: i64) -> (u16, Value) {
        let request = self
            .transactions
            .post("/v1/cart/lines")
            .json(&json!({ "item_id": item, "quantity": quantity }));
        self.send(request, who).await
    }

    async fn set_quantity(&self, who: &Identity, item: &str, quantity: i64) -> (u16, Value) {
        let request = self
            .transactions
            .put(&format!("/v1/cart/lines/{item}"))
            .json(&json!({ "quantity": quantity }));
        self.send(request, who).await
    }

    async fn as_gateway(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let token = self
            .key
            .sign_as(Caller::Gateway, None, Some("192.0.2.5"), SystemTime::now());
        testkit::answers::send(request.header(IDENTITY_HEADER, token)).await
    }

    async fn set_price(&self, seller: &Identity, item: &str, price_cents: i64) {
        let request = self
            .inventory
            .post(&format!("/v1/items/{item}"))
            .json(&json!({ "price_cents": price_cents }));
        let (status, body) = self.send(request, seller).await;
        assert_eq!(status, 200, "{body}");
    }
}

async fn redis() -> fred::prelude::Client {
    let redis =
        common::infra::redis::connect(&testkit::Infra::from_env().redis_url).expect("a Redis URL");
    redis.wait_for_connect().await.expect("Redis");
    redis
}

#[tokio::test]
async fn a_users_cart_adds_up_changes_and_removes_lines_at_todays_prices_and_tells_their_tabs() {
    let app = spawn_app().await;
    let (sal, cy) = (person("Sal"), person("Cy"));
    let lamp = app.list(&sal, "Lamp", 500, 10).await;
    let rug = app.list(&sal, "Rug", 2_000, 3).await;
    let listener = redis().await;
    listener
        .subscribe(wire::redis_channels::user(&cy.user_id))
        .await
        .expect("subscribe");
    let mut heard = listener.message_rx();

    let (status, cart) = app.get("/v1/cart", &cy).await;
    assert_eq!((status, cart["units"].as_i64()), (200, Some(0)), "{cart}");
    assert_eq!(app.add(&cy, &lamp, 2).await.0, 200);
    let message = tokio::time::timeout(std::time::Duration::from_secs(5), heard.recv())
        .await
        .expect("the user's tabs hear of it")
        .expect("a message");
    assert_eq!(
        message.value.as_string().as_deref(),
        Some(r#"{"type":"cart_changed"}"#)
    );
    app.add(&cy, &lamp, 3).await;
    let (status, cart) = app.add(&cy, &rug, 1).await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(
        strings(&cart["lines"], "title"),
        ["Lamp", "Rug"],
        "in the order added"
    );
    assert_eq!(
        cart["lines"][0]["quantity"], 5,
        "two adds of one item make one line"
    );
    assert_eq!(
        (cart["units"].as_i64(), cart["total_cents"].as_i64()),
        (Some(6), Some(5 * 500 + 2_000))
    );

    // The seller changes the price: the cart shows today's and the one it was added at.
    app.set_price(&sal, &lamp, 650).await;
    let (_, cart) = app.get("/v1/cart", &cy).await;
    assert_eq!(
        (
            cart["lines"][0]["unit_price_cents"].as_i64(),
            cart["lines"][0]["price_when_added_cents"].as_i64(),
            cart["total_cents"].as_i64()
        ),
        (Some(650), Some(500), Some(5 * 650 + 2_000)),
        "{cart}"
    );

    let (status, cart) = app.set_quantity(&cy, &rug, 3).await;
    assert_eq!(
        (status, cart["lines"][1]["quantity"].as_i64()),
        (200, Some(3))
    );
    let (status, cart) = app
        .send(
            app.transactions.delete(&format!("/v1/cart/lines/{lamp}")),
            &cy,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(strings(&cart["lines"], "title"), ["Rug"]);
    let (status, body) = app.set_quantity(&cy, &lamp, 1).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "that item is not in your cart");

    // Someone else's cart is their own; a user's cart lives 30 days after its last change.
    let (_, other) = app.get("/v1/cart", &sal).await;
    assert_eq!(other["units"], 0);
    let ttl: i64 = redis()
        .await
        .ttl(format!("cart:user:{}", cy.user_id))
        .await
        .expect("TTL");
    assert!((29 * 86_400..=30 * 86_400).contains(&ttl), "{ttl}");
}

#[tokio::test]
async fn a_cart_holds_fifty_lines_of_one_to_ninety_nine_units_and_says_so_past_either() {
    let app = spawn_app().await;
    let (sal, cy) = (person("Sal"), person("Cy"));
    let first = app.list(&sal, "Bead 0", 10, 500).await;
    for quantity in [0, 100, -1] {
        let (status, body) = app.add(&cy, &first, quantity).await;
        assert_invalid(status, &body, "quantity");
        assert_eq!(body["error"], "must be from 1 to 99", "{body}");
    }
    app.add(&cy, &first, 60).await;
    let (_, cart) = app.add(&cy, &first, 60).await;
    assert_eq!(cart["lines"][0]["quantity"], 99, "a line stops at 99");
    let (status, body) = app.set_quantity(&cy, &first, 100).await;
    assert_invalid(status, &body, "quantity");

    for n in 1..50 {
        let item = app.list(&sal, &format!("Bead {n}"), 10, 5).await;
        let (status, body) = app.add(&cy, &item, 1).await;
        assert_eq!(status, 200, "line {n}: {body}");
    }
    let one_too_many = app.list(&sal, "Bead 50", 10, 5).await;
    let (status, body) = app.add(&cy, &one_too_many, 1).await;
    assert_invalid(status, &body, "item_id");
    assert_eq!(
        body["error"], "A cart holds at most 50 different items; remove one first.",
        "{body}"
    );
    let (_, cart) = app.get("/v1/cart", &cy).await;
    assert_eq!(cart["lines"].as_array().map(Vec::len), Some(50));

    // Nothing that is not an item for sale goes in.
    let (status, body) = app.add(&cy, "0123456789abcdef01234567", 1).await;
    assert_invalid(status, &body, "item_id");
    assert_eq!(body["error"], "There is no such item.");
    let (status, body) = app.add(&cy, "../../v1/outbox", 1).await;
    assert_invalid(status, &body, "item_id");
}

#[tokio::test]
async fn a_guest_cart_is_only_the_gateways_to_change_and_joins_the_users_at_log_in() {
    let app = spawn_app().await;
    let (sal, cy) = (person("Sal"), person("Cy"));
    let (lamp, rug) = (
        app.list(&sal, "Lamp", 500, 10).await,
        app.list(&sal, "Rug", 2_000, 3).await,
    );
    let guest = GuestCartId::from_random(rand_bytes());
    let guest_lines = format!("/v1/guest-carts/{guest}/lines");

    // A browser user's token may not touch a guest cart, and nobody unsigned may.
    let add_lamp = json!({ "item_id": lamp, "quantity": 2 });
    let (status, _) = app
        .send(app.transactions.post(&guest_lines).json(&add_lamp), &cy)
        .await;
    assert_eq!(status, 403);
    let (status, _) =
        testkit::answers::send(app.transactions.post(&guest_lines).json(&add_lamp)).await;
    assert_eq!(status, 401);
    let (status, body) = app
        .as_gateway(app.transactions.get("/v1/guest-carts/not-a-cart"))
        .await;
    assert_invalid(status, &body, "guest_cart_id");

    let (status, cart) = app
        .as_gateway(app.transactions.post(&guest_lines).json(&add_lamp))
        .await;
    assert_eq!((status, cart["units"].as_i64()), (200, Some(2)), "{cart}");
    app.as_gateway(
        app.transactions
            .post(&guest_lines)
            .json(&json!({ "item_id": rug, "quantity": 1 })),
    )
    .await;
    let ttl: i64 = redis()
        .await
        .ttl(format!("cart:guest:{guest}"))
        .await
        .expect("TTL");
    assert!(
        (6 * 86_400..=7 * 86_400).contains(&ttl),
        "a guest cart lives 7 days: {ttl}"
    );

    // Cy had a lamp in their own cart already; logging in folds the guest's in.
    app.add(&cy, &lamp, 1).await;
    let merge = app
        .transactions
        .post("/v1/cart/merge")
        .json(&json!({ "guest_cart_id": guest }));
    let (status, cart) = app.send(merge, &cy).await;
    assert_eq!(status, 200, "{cart}");
    // Each line keeps when it was first added to its cart: the guest's rug came before Cy's
    // own lamp.
    assert_eq!(strings(&cart["lines"], "title"), ["Rug", "Lamp"]);
    assert_eq!(
        cart["lines"][1]["quantity"], 3,
        "1 of theirs and 2 of the guest's"
    );
    let (_, emptied) = app
        .as_gateway(app.transactions.get(&format!("/v1/guest-carts/{guest}")))
        .await;
    assert_eq!(emptied["units"], 0, "the guest cart is gone: {emptied}");

    // The typed client the gateway uses reaches the same carts.
    let client = clients::TransactionClient::new(
        app.transactions.http.clone(),
        &app.transactions.base_url,
        app.key.clone(),
    )
    .expect("a URL");
    let context = clients::CallContext::default();
    let mine = client
        .cart(&context, clients::CartOf::User(&cy))
        .await
        .expect("Cy's cart");
    assert_eq!((mine.units, mine.lines.len()), (4, 2));
    let added = client
        .add_to_cart(
            &context,
            clients::CartOf::Guest(&guest),
            &wire::cart::AddToCart {
                item_id: rug.parse().expect("an id"),
                quantity: 1,
            },
        )
        .await
        .expect("a guest's line");
    assert_eq!(added.units, 1);
    let removed = client
        .remove_from_cart(
            &context,
            clients::CartOf::Guest(&guest),
            &rug.parse().expect("an id"),
        )
        .await
        .expect("the line out");
    assert_eq!(removed.units, 0);
    let emptied = client.empty_cart(&context, &cy).await.expect("emptied");
    assert_eq!(emptied.units, 0);
    let mine = client
        .cart(&context, clients::CartOf::User(&cy))
        .await
        .expect("Cy's cart");
    assert!(mine.lines.is_empty(), "{mine:?}");
}

fn rand_bytes() -> [u8; 16] {
    let seed = testkit::unique_name("guest");
    let mut bytes = [0u8; 16];
    for (n, b) in seed.bytes().enumerate() {
        bytes[n % 16] ^= b.wrapping_mul(31).wrapping_add(n as u8);
    }
    bytes
}
