//! Item pictures through the inventory service's HTTP API: a listing or an edit carries the
//! file, stored in GridFS on the real local MongoDB-wire server only once everything else is
//! accepted, bounded per seller and per address, and removed once no item uses it.

use std::io::Cursor;
use std::time::{Duration, SystemTime};

use common::identity::{Caller, IDENTITY_HEADER, Identity, IdentityKey};
use common::infra::mongo::MongoSettings;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use inventory_service::{Config, PictureLimits};
use mongodb::bson::{Document, doc};
use serde_json::{Value, json};
use testkit::{Infra, TestService, identity_key};
use wire::picture::PictureUpload;

struct App {
    service: TestService,
    key: IdentityKey,
    mongo: MongoSettings,
    /// The client address this app's requests come from, as the gateway would sign it: one
    /// of its own, since uploads are counted per address in the Redis every test shares.
    address: String,
}

async fn spawn_app() -> App {
    spawn_app_with(Config::for_tests(&Infra::from_env())).await
}

async fn spawn_app_with(config: Config) -> App {
    let mongo = config.mongo.clone();
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
        mongo,
        address: testkit::unique_name("client"),
    }
}

fn seller() -> Identity {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!("{n:0>8x}{:0>16x}", nanos as u64);
    Identity {
        email: format!("{id}@example.com"),
        user_id: id.parse().expect("an id"),
        display_name: "Pia".to_owned(),
    }
}

/// A real picture: a `width` x `height` gradient, encoded as `format`.
fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 90])
    });
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut bytes), format)
        .expect("encode");
    bytes
}

fn base64(bytes: Vec<u8>) -> Value {
    serde_json::to_value(PictureUpload::new(bytes)).expect("base64")
}

impl App {
    fn sign(&self, who: &Identity, address: &str) -> String {
        self.key
            .sign_as(Caller::User, Some(who), Some(address), SystemTime::now())
    }

    async fn post(&self, path: &str, who: Option<&Identity>, body: Value) -> (u16, Value) {
        let mut request = self.service.post(path).json(&body);
        if let Some(who) = who {
            request = request.header(IDENTITY_HEADER, self.sign(who, &self.address));
        }
        testkit::answers::send(request).await
    }

    /// Lists "Framed print" with `bytes` as its picture.
    async fn list_with_picture(&self, who: &Identity, bytes: Vec<u8>) -> (u16, Value) {
        self.post(
            "/v1/items",
            Some(who),
            json!({ "title": "Framed print", "price_cents": 2500, "stock": 1, "picture": base64(bytes) }),
        )
        .await
    }

    async fn files(&self) -> mongodb::Collection<Document> {
        mongodb::Client::with_uri_str(&self.mongo.uri)
            .await
            .expect("MongoDB")
            .database(&self.mongo.database)
            .collection("pictures.files")
    }

    /// How many pictures are stored (each is two files: itself and its card copy).
    async fn stored_pictures(&self) -> u64 {
        self.files()
            .await
            .count_documents(doc! {})
            .await
            .expect("count")
            / 2
    }

    async fn status_of(&self, path: &str) -> u16 {
        testkit::answers::send(self.service.get(path)).await.0
    }
}

/// The picture name of an item's `/pictures/<name>` address.
fn name_of(item: &Value) -> String {
    item["image_url"]
        .as_str()
        .and_then(|url| url.strip_prefix("/pictures/"))
        .unwrap_or_else(|| panic!("an uploaded picture's address: {item}"))
        .to_owned()
}

#[tokio::test]
async fn a_large_photo_is_stored_shrunk_and_served_as_the_picture_it_became() {
    let app = spawn_app().await;
    let pia = seller();
    let upload = picture(2400, 1600, ImageFormat::Png);

    let (status, item) = app.list_with_picture(&pia, upload.clone()).await;
    assert_eq!(status, 201, "{item}");
    let name = name_of(&item);
    assert!(name.ends_with(".png"), "{name}");

    let served = app
        .service
        .get(&format!("/v1/pictures/{name}"))
        .send()
        .await
        .expect("GET the picture");
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    let bytes = served.bytes().await.expect("bytes");
    let decoded = image::load_from_memory(&bytes).expect("what is served is a picture");
    assert_eq!((decoded.width(), decoded.height()), (1280, 853));
    let card = app
        .service
        .get(&format!("/v1/pictures/{name}/card"))
        .send()
        .await
        .expect("GET the card");
    assert_eq!(card.status(), 200);
    assert_eq!(card.headers()["content-type"], "image/png");
    let card = image::load_from_memory(&card.bytes().await.expect("bytes")).expect("a picture");
    assert_eq!((card.width(), card.height()), (640, 427));

    // The same picture again (another listing) is the same stored picture.
    let (status, again) = app.list_with_picture(&pia, upload).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(name_of(&again), name);
    assert_eq!(app.stored_pictures().await, 1);

    // A new picture for an item; a JPEG keeps its kind.
    let item_id = item["id"].as_str().expect("id");
    let (status, edited) = app
        .post(
            &format!("/v1/items/{item_id}"),
            Some(&pia),
            json!({ "picture": base64(picture(300, 200, ImageFormat::Jpeg)) }),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert!(name_of(&edited).ends_with(".jpg"), "{edited}");
}

#[tokio::test]
async fn anything_but_a_picture_of_at_most_5_mb_is_refused_naming_the_picture_field() {
    let app = spawn_app().await;
    let pia = seller();

    let (status, answer) = app
        .list_with_picture(&pia, b"name,price\nlamp,12\n".repeat(10))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["field"], "picture");
    assert_eq!(
        answer["error"],
        "That file is not a JPEG, PNG or WebP picture."
    );

    let mut cut_short = picture(200, 200, ImageFormat::Png);
    cut_short.truncate(cut_short.len() / 2);
    let (status, answer) = app.list_with_picture(&pia, cut_short).await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("could not be read")),
        "{answer}"
    );

    let mut six_megabytes = picture(64, 64, ImageFormat::Png);
    six_megabytes.resize(6 * 1024 * 1024, 0);
    let (status, answer) = app.list_with_picture(&pia, six_megabytes).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["field"], "picture");
    assert_eq!(
        answer["error"],
        "That picture is 6.0 MB; a picture may be at most 5 MB."
    );

    let (status, answer) = app.list_with_picture(&pia, Vec::new()).await;
    assert_eq!((status, answer["field"].as_str()), (422, Some("picture")));

    // Only a signed-in seller (through the gateway) lists.
    let (status, _) = app
        .post(
            "/v1/items",
            None,
            json!({ "title": "x", "price_cents": 1, "stock": 1, "picture": base64(picture(10, 10, ImageFormat::Png)) }),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(app.stored_pictures().await, 0);
}

#[tokio::test]
async fn a_form_refused_for_any_reason_stores_no_picture() {
    let app = spawn_app_with(Config {
        seller_limits: inventory_service::SellerLimits {
            listings_per_hour: 1,
            edits_per_hour: 600,
        },
        ..Config::for_tests(&Infra::from_env())
    })
    .await;
    let (pia, other) = (seller(), seller());
    let photo = || base64(picture(40, 30, ImageFormat::Png));

    for (refused, field) in [
        (
            json!({ "title": "", "price_cents": 2500, "stock": 1, "picture": photo() }),
            "title",
        ),
        (
            json!({ "title": "Print", "price_cents": 0, "stock": 1, "picture": photo() }),
            "price_cents",
        ),
        (
            json!({ "title": "Print", "price_cents": 2500, "stock": -1, "picture": photo() }),
            "stock",
        ),
        (
            json!({ "title": "Print", "price_cents": 2500, "stock": 1, "picture": photo(), "image_url": "https://example.com/a.png" }),
            "image_url",
        ),
    ] {
        let (status, answer) = app.post("/v1/items", Some(&pia), refused).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (422, Some(field)),
            "{answer}"
        );
    }
    assert_eq!(
        app.stored_pictures().await,
        0,
        "a refused listing stored its picture"
    );

    // Past the hourly listings: 429, and no picture.
    let (status, item) = app
        .post(
            "/v1/items",
            Some(&pia),
            json!({ "title": "Print", "price_cents": 2500, "stock": 1 }),
        )
        .await;
    assert_eq!(status, 201, "{item}");
    let (status, answer) = app
        .list_with_picture(&pia, picture(41, 30, ImageFormat::Png))
        .await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(app.stored_pictures().await, 0);

    // Someone else's item: 403 before the picture is stored; an unknown one 404.
    let item_id = item["id"].as_str().expect("id");
    let (status, _) = app
        .post(
            &format!("/v1/items/{item_id}"),
            Some(&other),
            json!({ "picture": photo() }),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post(
            &format!("/v1/items/{}", "0f".repeat(12)),
            Some(&pia),
            json!({ "picture": photo() }),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.stored_pictures().await, 0);
}

#[tokio::test]
async fn uploads_are_bounded_per_seller_per_address_and_in_total() {
    let app = spawn_app_with(Config {
        picture_limits: PictureLimits {
            per_seller_per_hour: 2,
            per_address_per_hour: 3,
            stored_per_seller: 100,
        },
        ..Config::for_tests(&Infra::from_env())
    })
    .await;
    let (pia, other, third) = (seller(), seller(), seller());
    for n in 0..2 {
        let (status, answer) = app
            .list_with_picture(&pia, picture(20 + n, 20, ImageFormat::Png))
            .await;
        assert_eq!(status, 201, "{answer}");
    }
    let response = app
        .service
        .post("/v1/items")
        .header(IDENTITY_HEADER, app.sign(&pia, &app.address))
        .json(&json!({ "title": "x", "price_cents": 1, "stock": 1, "picture": base64(picture(30, 20, ImageFormat::Png)) }))
        .send()
        .await
        .expect("a third upload");
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=3600).contains(&wait), "{wait}");
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["field"], "picture", "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("You have uploaded 2 pictures this hour")),
        "{answer}"
    );

    // Another seller at the same address: one more, then the address is spent for everyone
    // behind it (accounts are free, addresses are not).
    let (status, answer) = app
        .list_with_picture(&other, picture(20, 21, ImageFormat::Png))
        .await;
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = app
        .list_with_picture(&third, picture(20, 22, ImageFormat::Png))
        .await;
    assert_eq!(status, 429, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("from your address")),
        "{answer}"
    );
    // Elsewhere, the third seller is not held back.
    let (status, answer) = testkit::answers::send(
        app.service
            .post("/v1/items")
            .header(IDENTITY_HEADER, app.sign(&third, &testkit::unique_name("client")))
            .json(&json!({ "title": "x", "price_cents": 1, "stock": 1, "picture": base64(picture(20, 23, ImageFormat::Png)) })),
    )
    .await;
    assert_eq!(status, 201, "{answer}");

    // What one seller keeps is bounded too.
    let app = spawn_app_with(Config {
        picture_limits: PictureLimits {
            per_seller_per_hour: 60,
            per_address_per_hour: 120,
            stored_per_seller: 2,
        },
        ..Config::for_tests(&Infra::from_env())
    })
    .await;
    let pia = seller();
    for n in 0..2 {
        let (status, answer) = app
            .list_with_picture(&pia, picture(20 + n, 20, ImageFormat::Png))
            .await;
        assert_eq!(status, 201, "{answer}");
    }
    let (status, answer) = app
        .list_with_picture(&pia, picture(40, 20, ImageFormat::Png))
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (409, Some("picture")),
        "{answer}"
    );
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("You have 2 pictures stored")),
        "{answer}"
    );
    assert_eq!(app.stored_pictures().await, 2);
}

#[tokio::test]
async fn a_picture_no_item_uses_is_removed_after_the_grace_and_a_used_one_stays() {
    let app = spawn_app_with(Config {
        unused_pictures_kept: Duration::from_secs(1),
        unused_pictures_sweep: Duration::from_millis(200),
        ..Config::for_tests(&Infra::from_env())
    })
    .await;
    let pia = seller();
    let (status, item) = app
        .list_with_picture(&pia, picture(50, 40, ImageFormat::Png))
        .await;
    assert_eq!(status, 201, "{item}");
    let first = name_of(&item);
    // The item gets a new picture: the first one is used by nothing now.
    let (status, edited) = app
        .post(
            &format!("/v1/items/{}", item["id"].as_str().expect("id")),
            Some(&pia),
            json!({ "picture": base64(picture(60, 40, ImageFormat::Png)) }),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    let second = name_of(&edited);
    assert_ne!(first, second);
    assert_eq!(app.status_of(&format!("/v1/pictures/{first}")).await, 200);

    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while app.status_of(&format!("/v1/pictures/{first}")).await == 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the unused picture was never removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        app.status_of(&format!("/v1/pictures/{first}/card")).await,
        404
    );
    // Several sweeps later the used one is still there, card and all.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.status_of(&format!("/v1/pictures/{second}")).await, 200);
    assert_eq!(
        app.status_of(&format!("/v1/pictures/{second}/card")).await,
        200
    );
    assert_eq!(app.stored_pictures().await, 1);
}

#[tokio::test]
async fn only_a_picture_name_is_looked_up() {
    let app = spawn_app().await;
    let (status, _) = testkit::answers::send(
        app.service
            .get(&format!("/v1/pictures/{}.png", "0f".repeat(16))),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = testkit::answers::send(
        app.service
            .get(&format!("/v1/pictures/{}.png/card", "0f".repeat(16))),
    )
    .await;
    assert_eq!(status, 404);
    for bad in ["x.png", "..%2Fitems", &format!("{}.svg", "0f".repeat(16))] {
        let (status, answer) =
            testkit::answers::send(app.service.get(&format!("/v1/pictures/{bad}"))).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (422, Some("name")),
            "{bad}"
        );
    }
}
