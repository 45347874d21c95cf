//! Items and the catalog through the inventory service's HTTP API, against the real local
//! MongoDB and Redis (Redis through a proxy the test can cut).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::identity::{IDENTITY_HEADER, Identity, IdentityKey};
use inventory_service::Config;
use secrecy::SecretString;
use serde_json::{Value, json};
use testkit::answers::{assert_invalid, strings};
use testkit::{Infra, TcpProxy, TestService, identity_key};

struct App {
    service: TestService,
    key: IdentityKey,
    redis: Arc<TcpProxy>,
}

async fn spawn_app() -> App {
    spawn_app_on(&Infra::from_env().redis_addr()).await
}

/// The service with its cache in the Redis at `redis_addr` (host:port), through a proxy.
async fn spawn_app_on(redis_addr: &str) -> App {
    let redis = TcpProxy::start(redis_addr).await;
    let config = Config {
        redis_url: redis.url("redis"),
        cache_ttl: Duration::from_secs(300),
        ..Config::for_tests(&Infra::from_env())
    };
    let service = testkit::spawn(
        inventory_service::build(config)
            .await
            .expect("inventory service"),
    )
    .await;
    service.wait_until_ready(Duration::from_secs(15)).await;
    App {
        service,
        key: identity_key(),
        redis,
    }
}

fn seller(name: &str) -> Identity {
    // Any 24-hex-digit id will do: users live in the user service.
    let id = format!("{:0>24x}", rand_id());
    Identity {
        email: format!("{id}@example.com"),
        user_id: id.parse().expect("an id"),
        display_name: name.to_owned(),
    }
}

fn rand_id() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
        ^ u128::from(std::process::id())
}

impl App {
    async fn get(&self, path: &str) -> (u16, Value) {
        testkit::answers::send(self.service.get(path)).await
    }

    async fn post_as(&self, who: Option<&Identity>, path: &str, body: Value) -> (u16, Value) {
        let mut request = self.service.post(path).json(&body);
        if let Some(who) = who {
            request = request.header(IDENTITY_HEADER, self.key.sign(who, SystemTime::now()));
        }
        testkit::answers::send(request).await
    }

    async fn list(&self, who: &Identity, title: &str, price_cents: i64, stock: i64) -> Value {
        let body = json!({ "title": title, "description": "A fine thing.", "price_cents": price_cents, "stock": stock });
        let (status, item) = self.post_as(Some(who), "/v1/items", body).await;
        assert_eq!(status, 201, "{item}");
        item
    }

    async fn cache_hits(&self) -> u64 {
        self.get("/v1/cache/stats").await.1["hits"]
            .as_u64()
            .expect("hits")
    }
}

#[tokio::test]
async fn a_listed_item_is_readable_by_anyone_and_newest_comes_first() {
    let app = spawn_app().await;
    let ann = seller("Ann");
    let older = app.list(&ann, "Red lamp", 1999, 3).await;
    let newer = app.list(&ann, "Blue chair", 4500, 1).await;
    assert_eq!(older["seller_name"], "Ann");
    assert_eq!(older["sold"], 0);

    let (status, item) = app
        .get(&format!("/v1/items/{}", older["id"].as_str().expect("id")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(item, older);

    let (status, catalog) = app.get("/v1/items").await;
    assert_eq!(status, 200);
    assert_eq!(
        strings(&catalog["items"], "title"),
        ["Blue chair", "Red lamp"]
    );
    assert_eq!(catalog["total"], 2);

    let (_, own) = app.get(&format!("/v1/sellers/{}/items", ann.user_id)).await;
    assert_eq!(own["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(own["items"][0]["id"], newer["id"]);
}

#[tokio::test]
async fn a_retried_create_with_the_same_request_id_lists_one_item() {
    let app = spawn_app().await;
    let bea = seller("Bea");
    let body =
        json!({ "title": "Kettle", "price_cents": 2500, "stock": 4, "request_id": "form-123" });
    let (first, a) = app.post_as(Some(&bea), "/v1/items", body.clone()).await;
    let (second, b) = app.post_as(Some(&bea), "/v1/items", body).await;
    assert_eq!((first, second), (201, 200));
    assert_eq!(a["id"], b["id"]);
    let (_, own) = app.get(&format!("/v1/sellers/{}/items", bea.user_id)).await;
    assert_eq!(own["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn only_the_seller_may_change_an_item_and_forged_identities_are_refused() {
    let app = spawn_app().await;
    let (owner, other) = (seller("Owner"), seller("Other"));
    let item = app.list(&owner, "Desk", 10_000, 2).await;
    let edit_path = format!("/v1/items/{}", item["id"].as_str().expect("id"));
    let create = json!({ "title": "Sneaky", "price_cents": 1, "stock": 1 });
    let edit = json!({ "price_cents": 1 });

    let forged_with_other_key = IdentityKey::new(SecretString::from(
        "not-the-real-secret-0123456789abcdef".to_owned(),
    ))
    .expect("secret")
    .sign(&owner, SystemTime::now());
    let expired = app
        .key
        .sign(&owner, SystemTime::now() - Duration::from_secs(300));
    let made_up = r#"{"user_id":"x","display_name":"y"}"#.to_owned();

    for (path, body) in [("/v1/items", &create), (edit_path.as_str(), &edit)] {
        let (status, answer) = app.post_as(None, path, body.clone()).await;
        assert_eq!(status, 401, "{path} without identity: {answer}");
        for token in [&forged_with_other_key, &expired, &made_up] {
            let request = app.service.post(path).header(IDENTITY_HEADER, token);
            let (status, answer) = testkit::answers::send(request.json(body)).await;
            assert_eq!(status, 401, "{path} with a forged identity: {answer}");
        }
    }
    let (status, answer) = app.post_as(Some(&other), &edit_path, edit.clone()).await;
    assert_eq!(status, 403, "{answer}");
    let take_off = json!({ "on_sale": false });
    let (status, answer) = app.post_as(Some(&other), &edit_path, take_off).await;
    assert_eq!(status, 403, "only its seller takes it off sale: {answer}");
    assert_eq!(app.get(&edit_path).await.1["on_sale"], true);
    assert_eq!(
        app.get(&edit_path).await.1["price_cents"],
        10_000,
        "the refused edit changed nothing"
    );

    let (status, edited) = app
        .post_as(
            Some(&owner),
            &edit_path,
            json!({ "price_cents": 9_000, "stock": 5 }),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(
        (edited["price_cents"].as_i64(), edited["stock"].as_i64()),
        (Some(9_000), Some(5))
    );
    assert_eq!(edited["title"], "Desk", "fields not sent stay as they were");

    let (_, catalog) = app.get("/v1/items").await;
    assert_eq!(catalog["total"], 1, "no forged create got through");
}

#[tokio::test]
async fn bad_input_gets_a_4xx_naming_the_field_never_a_500() {
    let app = spawn_app().await;
    let cy = seller("Cy");
    let item = app.list(&cy, "Lamp", 100, 1).await;
    let edit_path = format!("/v1/items/{}", item["id"].as_str().expect("id"));
    let valid = json!({ "title": "Ok", "price_cents": 100, "stock": 1 });
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let create_cases = [
        (with("title", json!("")), "title"),
        (with("title", json!("t".repeat(121))), "title"),
        (with("title", json!({ "$gt": "" })), "title"),
        (with("description", json!("d".repeat(5_001))), "description"),
        (with("price_cents", json!(0)), "price_cents"),
        (with("price_cents", json!(100_000_001)), "price_cents"),
        (with("price_cents", json!(12.5)), "price_cents"),
        (with("price_cents", json!("100")), "price_cents"),
        (with("stock", json!(-1)), "stock"),
        (with("stock", json!(1_000_001)), "stock"),
        (with("image_url", json!("javascript:alert(1)")), "image_url"),
        (
            with("image_url", json!("http://example.com/a.png")),
            "image_url",
        ),
        (
            with("image_url", json!("/\\evil.example/a.png")),
            "image_url",
        ),
        (
            with("image_url", json!("https://user:pw@example.com/a.png")),
            "image_url",
        ),
        (with("request_id", json!("r".repeat(65))), "request_id"),
        (with("seller_id", json!("someone")), "seller_id"),
        (with("$set", json!({ "sold": 1 })), "$set"),
        (json!({ "price_cents": 100, "stock": 1 }), "title"),
    ];
    for (body, field) in create_cases {
        let (status, answer) = app.post_as(Some(&cy), "/v1/items", body.clone()).await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert_eq!(answer["field"], field, "{body} → {answer}");
    }
    let edit_cases = [
        (json!({ "stock": -5 }), "stock"),
        (json!({ "sold": 1000 }), "sold"),
        (json!({ "title": { "$ne": null } }), "title"),
    ];
    for (body, field) in edit_cases {
        let (status, answer) = app.post_as(Some(&cy), &edit_path, body.clone()).await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert_eq!(answer["field"], field, "{body} → {answer}");
    }

    let (status, answer) = app.get("/v1/items/not-an-id").await;
    assert_invalid(status, &answer, "itemId");
    let (status, _) = app.get("/v1/items/665f1c2e9b1d8a0012345678").await;
    assert_eq!(status, 404);
    let (status, answer) = app.get("/v1/items?page=0").await;
    assert_invalid(status, &answer, "page");
    let (status, answer) = app.get("/v1/items?per_page=1000").await;
    assert_invalid(status, &answer, "per_page");
    let request = app
        .service
        .post("/v1/items")
        .header(IDENTITY_HEADER, app.key.sign(&cy, SystemTime::now()))
        .body("nope");
    assert_eq!(testkit::answers::send(request).await.0, 400);
    assert_eq!(
        app.get(&edit_path).await.1,
        item,
        "nothing was changed by bad input"
    );
}

#[tokio::test]
async fn the_catalog_pages_and_searches_titles_literally() {
    let app = spawn_app().await;
    let dee = seller("Dee");
    for n in 0..25 {
        app.list(&dee, &format!("Widget {n:02}"), 100 + n, 1).await;
    }
    app.list(&dee, "a.c lamp", 100, 1).await;
    app.list(&dee, "abc lamp", 100, 1).await;

    let (_, page2) = app.get("/v1/items?page=2&per_page=10&q=widget").await;
    assert_eq!(page2["total"], 25);
    let expected: Vec<String> = (5..15).rev().map(|n| format!("Widget {n:02}")).collect();
    assert_eq!(strings(&page2["items"], "title"), expected);
    let (_, last) = app.get("/v1/items?page=3&per_page=10&q=WIDGET").await;
    assert_eq!(
        last["items"].as_array().map(Vec::len),
        Some(5),
        "search ignores letter case"
    );

    let (_, dotted) = app.get("/v1/items?q=a.c").await;
    assert_eq!(dotted["total"], 1, "a dot matches only a dot: {dotted}");
    let (status, _) = app.get("/v1/items?q=(%5B").await;
    assert_eq!(status, 200, "regex characters are searched for, not run");
}

#[tokio::test]
async fn reads_are_cached_and_a_write_is_seen_at_once() {
    let app = spawn_app().await;
    let eve = seller("Eve");
    let item = app.list(&eve, "Clock", 3000, 2).await;
    let path = format!("/v1/items/{}", item["id"].as_str().expect("id"));

    app.get(&path).await;
    app.get("/v1/items").await;
    let hits_before = app.cache_hits().await;
    assert_eq!(app.get(&path).await.1["price_cents"], 3000);
    assert_eq!(
        app.get("/v1/items").await.1["items"][0]["price_cents"],
        3000
    );
    assert_eq!(
        app.cache_hits().await,
        hits_before + 2,
        "the second reads came from the cache"
    );

    app.post_as(Some(&eve), &path, json!({ "price_cents": 2500 }))
        .await;
    assert_eq!(
        app.get(&path).await.1["price_cents"],
        2500,
        "the item page shows the edit at once"
    );
    assert_eq!(
        app.get("/v1/items").await.1["items"][0]["price_cents"],
        2500,
        "so does the catalog"
    );
}

#[tokio::test]
async fn with_redis_away_reads_and_writes_still_work_and_the_cache_comes_back() {
    let app = spawn_app().await;
    let fay = seller("Fay");
    let item = app.list(&fay, "Vase", 1200, 2).await;
    let path = format!("/v1/items/{}", item["id"].as_str().expect("id"));
    app.get(&path).await;
    app.get(&path).await;

    app.redis.cut();
    app.service
        .wait_until_unready_because_of("redis", Duration::from_secs(15))
        .await;
    let (status, catalog) = app.get("/v1/items").await;
    assert_eq!(
        (status, catalog["total"].as_u64()),
        (200, Some(1)),
        "{catalog}"
    );
    let (status, edited) = app
        .post_as(Some(&fay), &path, json!({ "price_cents": 1100 }))
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(app.get(&path).await.1["price_cents"], 1100);

    app.redis.restore().await;
    app.service.wait_until_ready(Duration::from_secs(30)).await;
    assert_eq!(
        app.get(&path).await.1["price_cents"],
        1100,
        "no stale copy from before the outage"
    );
    let hits = app.cache_hits().await;
    app.get(&path).await;
    assert_eq!(app.cache_hits().await, hits + 1, "the cache is used again");
}

#[tokio::test]
async fn a_full_cache_evicts_its_entries_only_and_the_catalog_stays_right() {
    use fred::prelude::{ClientLike, KeysInterface};
    // The cache's own Redis as infra.sh and compose run it, only much smaller.
    let cache =
        testkit::PrivateRedis::start(&["--maxmemory", "3mb", "--maxmemory-policy", "volatile-lru"])
            .await;
    let app = spawn_app_on(&testkit::host_port(&cache.url)).await;
    let redis = common::infra::redis::connect(&cache.url).expect("redis client");
    redis.wait_for_connect().await.expect("connect");
    let ann = seller("Ann");
    let lamp = app.list(&ann, "Eviction lamp", 1_000, 5).await;
    let lamp_id = lamp["id"].as_str().expect("id").to_owned();
    let (status, _) = app.get(&format!("/v1/items/{lamp_id}")).await;
    assert_eq!(status, 200);

    // Far more than 3 MB of cache entries: one catalog page per search, each ~kilobytes, and
    // bulky ones beside them with a TTL, as every cache entry has.
    let filler = "x".repeat(64 * 1024);
    for n in 0..120 {
        let _: () = redis
            .set(
                format!("filler-{n}"),
                filler.as_str(),
                Some(fred::types::Expiration::EX(600)),
                None,
                false,
            )
            .await
            .expect("a cache-like entry is stored, not refused");
        let (status, _) = app.get(&format!("/v1/items?q=lamp{n}")).await;
        assert_eq!(
            status, 200,
            "the catalog keeps answering while the cache is full"
        );
    }
    let stats: String = redis
        .info(Some(fred::types::InfoKind::Stats))
        .await
        .expect("INFO");
    let evicted: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("evicted_keys");
    assert!(evicted > 0, "nothing was evicted: {stats}");

    // Generation counters have no TTL, so they are never evicted: an edit is still seen at
    // once, never an old cached copy.
    let generations: Vec<String> = redis
        .custom(
            fred::types::CustomCommand::new_static("KEYS", None, false),
            vec!["*-gen*"],
        )
        .await
        .expect("KEYS");
    assert!(!generations.is_empty(), "the generation counters are gone");
    let (status, _) = app
        .post_as(
            Some(&ann),
            &format!("/v1/items/{lamp_id}"),
            json!({ "price_cents": 1_234 }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, item) = app.get(&format!("/v1/items/{lamp_id}")).await;
    assert_eq!((status, item["price_cents"].as_i64()), (200, Some(1_234)));
}

/// A burst far larger than the MongoDB connection pool, whose callers all give up, leaves
/// nothing behind: the next visitor is answered at once. (The driver keeps abandoned checkouts
/// queued and works its queue off slowly; before requests were limited to the pool's size, a
/// burst like this left the service answering nothing for minutes.)
#[tokio::test]
async fn a_burst_whose_callers_give_up_leaves_the_catalog_answering() {
    let app = spawn_app().await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("an HTTP client");
    let burst = (0..3_000).map(|n| {
        impatient
            .get(app.service.url(&format!("/v1/items?q=burst-{n}")))
            .send()
    });
    let given_up = futures::future::join_all(burst)
        .await
        .iter()
        .filter(|answer| answer.is_err())
        .count();
    assert!(
        given_up > 0,
        "the burst must outrun the service to test this"
    );

    let (status, page) = tokio::time::timeout(
        Duration::from_secs(10),
        app.get("/v1/items?q=after-the-burst"),
    )
    .await
    .expect("the catalog answers within 10 s of the burst");
    assert_eq!(status, 200, "{page}");
}

#[tokio::test]
async fn a_seller_lists_and_edits_at_most_the_hourly_allowances_and_others_are_not_held_back() {
    let redis = TcpProxy::start(&Infra::from_env().redis_addr()).await;
    let config = Config {
        redis_url: redis.url("redis"),
        seller_limits: inventory_service::SellerLimits {
            listings_per_hour: 2,
            edits_per_hour: 3,
        },
        ..Config::for_tests(&Infra::from_env())
    };
    let service = testkit::spawn(inventory_service::build(config).await.expect("service")).await;
    service.wait_until_ready(Duration::from_secs(15)).await;
    let app = App {
        service,
        key: identity_key(),
        redis,
    };
    let (sam, kim) = (seller("Sam"), seller("Kim"));
    let lamp_form =
        json!({ "title": "Lamp", "price_cents": 1000, "stock": 5, "request_id": "lamp-form" });
    let (status, lamp) = app
        .post_as(Some(&sam), "/v1/items", lamp_form.clone())
        .await;
    assert_eq!(status, 201, "{lamp}");
    app.list(&sam, "Vase", 1000, 5).await;
    let refused = app
        .service
        .post("/v1/items")
        .header(IDENTITY_HEADER, app.key.sign(&sam, SystemTime::now()))
        .json(&json!({ "title": "Bowl", "price_cents": 1000, "stock": 5 }))
        .send()
        .await
        .expect("a third listing");
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let answer: Value = refused.json().await.expect("json");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("You have listed 2 items this hour")),
        "{answer}"
    );
    // A retried form of a listing made before is answered, not refused.
    let (status, again) = app.post_as(Some(&sam), "/v1/items", lamp_form).await;
    assert_eq!((status, &again["id"]), (200, &lamp["id"]), "{again}");

    let path = format!("/v1/items/{}", lamp["id"].as_str().expect("id"));
    for price in [1100, 1200, 1300] {
        let (status, item) = app
            .post_as(Some(&sam), &path, json!({ "price_cents": price }))
            .await;
        assert_eq!(status, 200, "{item}");
    }
    let (status, answer) = app
        .post_as(Some(&sam), &path, json!({ "on_sale": false }))
        .await;
    assert_eq!(status, 429, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("You have changed your items 3 times this hour")),
        "{answer}"
    );
    let (_, item) = app.get(&path).await;
    assert_eq!(
        (item["price_cents"].as_i64(), item["on_sale"].as_bool()),
        (Some(1300), Some(true))
    );

    // Another seller is not held back.
    app.list(&kim, "Rug", 1000, 1).await;
}
