//! Item pictures through the inventory service's HTTP API, stored in GridFS on the real local
//! MongoDB-wire server.

use std::io::Cursor;
use std::time::{Duration, SystemTime};

use common::identity::{IDENTITY_HEADER, Identity, IdentityKey};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use inventory_service::Config;
use serde_json::{Value, json};
use testkit::{Infra, TestService, identity_key};

struct App {
    service: TestService,
    key: IdentityKey,
}

async fn spawn_app() -> App {
    spawn_app_with(Config::for_tests(&Infra::from_env())).await
}

async fn spawn_app_with(config: Config) -> App {
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

impl App {
    async fn upload(&self, who: Option<&Identity>, bytes: Vec<u8>) -> (u16, Value) {
        let mut request = self
            .service
            .post("/v1/pictures")
            .header("content-type", "application/octet-stream")
            .body(bytes);
        if let Some(who) = who {
            request = request.header(IDENTITY_HEADER, self.key.sign(who, SystemTime::now()));
        }
        testkit::answers::send(request).await
    }
}

#[tokio::test]
async fn a_large_photo_is_stored_shrunk_and_served_as_the_picture_it_became() {
    let app = spawn_app().await;
    let pia = seller();
    let upload = picture(2400, 1600, ImageFormat::Png);

    let (status, stored) = app.upload(Some(&pia), upload.clone()).await;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(
        (stored["width"].as_u64(), stored["height"].as_u64()),
        (Some(1280), Some(853))
    );
    let name = stored["name"].as_str().expect("name").to_owned();
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
    assert_eq!(bytes.len() as u64, stored["bytes"].as_u64().expect("bytes"));
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

    // The same upload again (a retried form) is the same stored picture.
    let (status, again) = app.upload(Some(&pia), upload).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again, stored);

    // An item can show it; a JPEG keeps its kind.
    let (status, jpeg) = app
        .upload(Some(&pia), picture(300, 200, ImageFormat::Jpeg))
        .await;
    assert_eq!(status, 201, "{jpeg}");
    assert!(
        jpeg["name"].as_str().is_some_and(|n| n.ends_with(".jpg")),
        "{jpeg}"
    );
    let (status, item) = testkit::answers::send(
        app.service
            .post("/v1/items")
            .header(IDENTITY_HEADER, app.key.sign(&pia, SystemTime::now()))
            .json(&json!({
                "title": "Framed print",
                "price_cents": 2500,
                "stock": 1,
                "image_url": format!("/pictures/{name}"),
            })),
    )
    .await;
    assert_eq!(status, 201, "{item}");
    assert_eq!(item["image_url"], format!("/pictures/{name}"));
}

#[tokio::test]
async fn anything_but_a_picture_of_at_most_5_mb_is_refused_naming_the_picture_field() {
    let app = spawn_app().await;
    let pia = seller();

    let (status, answer) = app
        .upload(Some(&pia), b"name,price\nlamp,12\n".repeat(10))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["field"], "picture");
    assert_eq!(
        answer["error"],
        "That file is not a JPEG, PNG or WebP picture."
    );

    let mut cut_short = picture(200, 200, ImageFormat::Png);
    cut_short.truncate(cut_short.len() / 2);
    let (status, answer) = app.upload(Some(&pia), cut_short).await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("could not be read")),
        "{answer}"
    );

    let mut six_megabytes = picture(64, 64, ImageFormat::Png);
    six_megabytes.resize(6 * 1024 * 1024, 0);
    let (status, answer) = app.upload(Some(&pia), six_megabytes).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["field"], "picture");
    assert_eq!(
        answer["error"],
        "That picture is 6.0 MB; a picture may be at most 5 MB."
    );

    let (status, answer) = app.upload(Some(&pia), Vec::new()).await;
    assert_eq!((status, answer["field"].as_str()), (422, Some("picture")));

    // Only a signed-in seller (through the gateway) uploads.
    let (status, _) = app.upload(None, picture(10, 10, ImageFormat::Png)).await;
    assert_eq!(status, 401);
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

#[tokio::test]
async fn a_seller_uploads_at_most_the_hourly_allowance_and_others_are_not_held_back() {
    let app = spawn_app_with(Config {
        pictures_per_seller_per_hour: 2,
        ..Config::for_tests(&Infra::from_env())
    })
    .await;
    let (pia, other) = (seller(), seller());
    for n in 0..2 {
        let (status, answer) = app
            .upload(Some(&pia), picture(20 + n, 20, ImageFormat::Png))
            .await;
        assert_eq!(status, 201, "{answer}");
    }
    let response = app
        .service
        .post("/v1/pictures")
        .header("content-type", "application/octet-stream")
        .header(IDENTITY_HEADER, app.key.sign(&pia, SystemTime::now()))
        .body(picture(30, 20, ImageFormat::Png))
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

    let (status, answer) = app
        .upload(Some(&other), picture(20, 20, ImageFormat::Png))
        .await;
    assert_eq!(status, 201, "another seller is not held back: {answer}");
}
