//! Item pictures end to end: a seller's upload in a real browser (with and without
//! JavaScript), the refusals beside the field, and the picture as the gateway serves it.

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Duration;

use app::api::{AddItem, SetPicture};
use fantoccini::Locator;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use testkit::browser::{
    click, click_button, fill, wait_for_text, with_browser, with_browser_without_javascript,
};

use crate::browser::log_in_with_a_plain_form;
use crate::helpers::{Stack, browser_without_js, log_in, register, spawn_stack, text_form};

const WAIT: Duration = Duration::from_secs(15);

/// A real photo-like PNG, `width` x `height`.
fn png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 140])
    });
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .expect("encode");
    bytes
}

/// Files a seller might pick, written where the browser can read them.
struct Files {
    folder: PathBuf,
}

impl Files {
    fn new() -> Self {
        let folder = std::env::temp_dir().join(testkit::unique_name("upload"));
        std::fs::create_dir_all(&folder).expect("a folder for the files");
        Self { folder }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.folder.join(name);
        std::fs::write(&path, bytes).expect("write the file");
        path.to_string_lossy().into_owned()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// Picks `path` in the file input `css`.
async fn choose_file(browser: &fantoccini::Client, css: &str, path: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("{css}: {err}"))
        .send_keys(path)
        .await
        .unwrap_or_else(|err| panic!("choose {path} in {css}: {err}"));
}

/// The `src` of the first element matching `css`.
async fn source_of(browser: &fantoccini::Client, css: &str) -> String {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("{css}: {err}"))
        .attr("src")
        .await
        .expect("src")
        .unwrap_or_default()
}

/// Reads the picture at `path` from the gateway as a browser would, checks how it is served,
/// and answers its size in pixels.
async fn served_picture(stack: &Stack, path: &str) -> (u32, u32) {
    let response = stack
        .gateway
        .http
        .get(stack.gateway.url(path))
        .send()
        .await
        .expect("GET the picture");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "image/png", "{path}");
    assert_eq!(
        header("cache-control"),
        "public, max-age=31536000, immutable",
        "{path}"
    );
    assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    let bytes = response.bytes().await.expect("the picture");
    let picture = image::load_from_memory(&bytes).expect("a picture is served");
    (picture.width(), picture.height())
}

#[tokio::test]
async fn a_seller_lists_an_item_with_a_photo_and_files_that_are_not_pictures_are_refused_beside_the_field()
 {
    let stack = spawn_stack().await;
    let (email, _) = register(&stack, "Pia").await;
    let base = stack.gateway.url("");
    let files = Files::new();
    let photo = files.write("vase.png", &png(1600, 1200));
    let not_a_picture = files.write("notes.png", b"Remember to water the plants.\n");
    let mut six_megabytes = png(32, 32);
    six_megabytes.resize(6 * 1024 * 1024, 0);
    let too_large = files.write("huge.png", &six_megabytes);

    let (item_path, picture_path) = with_browser(|browser| async move {
        log_in(&browser, &base, &email).await;
        browser
            .goto(&format!("{base}/seller"))
            .await
            .expect("open /seller");
        testkit::browser::wait_for_hydration(&browser).await;
        fill(&browser, "#field-title", "Blue vase").await;
        fill(&browser, "#field-price", "24.00").await;
        fill(&browser, "#field-stock", "2").await;
        choose_file(&browser, "#field-picture", &photo).await;
        click_button(&browser, "Add item").await;
        wait_for_text(&browser, ".own-items", WAIT, |t| t.contains("Blue vase")).await;
        // The list shows the smaller copy; the item page the picture itself.
        let thumbnail = source_of(&browser, ".own-item-picture").await;
        assert!(thumbnail.starts_with("/pictures/card/"), "{thumbnail}");
        let picture = thumbnail.replacen("/card/", "/", 1);
        let item_path = browser
            .find(Locator::Css(".own-item h3 a"))
            .await
            .expect("the item's link")
            .attr("href")
            .await
            .expect("href")
            .expect("an address");

        // The item page shows it, loaded.
        browser
            .goto(&format!("{base}{item_path}"))
            .await
            .expect("open the item");
        testkit::browser::wait_for_hydration(&browser).await;
        let shown = browser
            .execute(
                "const img = document.querySelector(`img[src='${arguments[0]}']`); \
                 return img && img.complete ? img.naturalWidth : 0;",
                vec![serde_json::json!(picture)],
            )
            .await
            .expect("read the picture's width");
        assert_eq!(
            shown.as_u64(),
            Some(1280),
            "the item page shows the picture"
        );

        // A text file named .png, then a picture over 5 MB: both refused beside the field.
        browser
            .goto(&format!("{base}/seller"))
            .await
            .expect("open /seller");
        testkit::browser::wait_for_hydration(&browser).await;
        let item_id = item_path.rsplit('=').next().expect("an id").to_owned();
        let input = format!("#item-{item_id}-field-picture");
        let error = format!("#item-{item_id}-field-picture-error");
        for (file, refusal) in [
            (
                &not_a_picture,
                "That file is not a JPEG, PNG or WebP picture.",
            ),
            (
                &too_large,
                "That picture is 6.0 MB; a picture may be at most 5 MB.",
            ),
        ] {
            choose_file(&browser, &input, file).await;
            click(
                &browser,
                "//button[@aria-label='Upload picture for Blue vase']",
            )
            .await;
            let said = wait_for_text(&browser, &error, WAIT, |t| t == refusal).await;
            assert_eq!(said, refusal);
            let invalid = browser
                .find(Locator::Css(&input))
                .await
                .expect("the input")
                .attr("aria-invalid")
                .await
                .expect("aria-invalid");
            assert_eq!(invalid.as_deref(), Some("true"));
        }
        assert_eq!(source_of(&browser, ".own-item-picture").await, thumbnail);
        (item_path, picture)
    })
    .await;

    assert_eq!(served_picture(&stack, &picture_path).await, (1280, 960));
    let card = picture_path.replacen("/pictures/", "/pictures/card/", 1);
    assert_eq!(served_picture(&stack, &card).await, (640, 480));
    // The catalog's card shows the smaller copy.
    let catalog = stack.html("/?q=Blue+vase").await;
    assert!(catalog.contains(&format!("src=\"{card}\"")), "{catalog}");
    let item = stack.item(item_path.rsplit('=').next().expect("id")).await;
    assert_eq!(item["image_url"], picture_path.as_str());
}

#[tokio::test]
async fn without_javascript_a_seller_changes_an_items_picture_with_a_plain_form_post() {
    let stack = spawn_stack().await;
    let (email, seller) = register(&stack, "Quin").await;
    let item = stack.list_item(&seller, "Oak bowl", 4_000, 1).await;
    let base = stack.gateway.url("");
    let files = Files::new();
    let photo = files.write("bowl.png", &png(300, 200));
    let not_a_picture = files.write("bowl-notes.png", b"<svg onload=alert(1)>");

    let picture = with_browser_without_javascript(|browser| {
        let (base, item, email) = (base.clone(), item.clone(), email.clone());
        async move {
            log_in_with_a_plain_form(&browser, &base, &email).await;
            browser
                .goto(&format!("{base}/seller"))
                .await
                .expect("open /seller");
            let placeholder = source_of(&browser, ".own-item-picture").await;
            assert_eq!(placeholder, "/images/placeholder.svg");
            // Refused, and said beside the field of the page it came from.
            choose_file(
                &browser,
                &format!("#item-{item}-field-picture"),
                &not_a_picture,
            )
            .await;
            click(
                &browser,
                "//button[@aria-label='Upload picture for Oak bowl']",
            )
            .await;
            wait_for_text(
                &browser,
                &format!("#item-{item}-field-picture-error"),
                WAIT,
                |t| t == "That file is not a JPEG, PNG or WebP picture.",
            )
            .await;
            choose_file(&browser, &format!("#item-{item}-field-picture"), &photo).await;
            click(
                &browser,
                "//button[@aria-label='Upload picture for Oak bowl']",
            )
            .await;
            // The post, its redirect and the page again: read the picture once it is there.
            let mut picture = String::new();
            for _ in 0..50 {
                if let Ok(shown) = browser.find(Locator::Css(".own-item-picture")).await
                    && let Ok(Some(source)) = shown.attr("src").await
                {
                    picture = source;
                    if picture.starts_with("/pictures/card/") {
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            assert!(picture.starts_with("/pictures/card/"), "{picture}");
            picture.replacen("/card/", "/", 1)
        }
    })
    .await;
    // Smaller than a card: the card is the picture itself.
    assert_eq!(served_picture(&stack, &picture).await, (300, 200));

    // The item page, as the server renders it, shows the new picture.
    let page = stack.html(&format!("/items?itemId={item}")).await;
    assert!(page.contains(&format!("src=\"{picture}\"")), "{page}");
}

#[tokio::test]
async fn only_the_items_seller_changes_its_picture_and_only_picture_names_are_served() {
    let stack = spawn_stack().await;
    let (_, owner) = register(&stack, "Rae").await;
    let item = stack.list_item(&owner, "Linen cloth", 1_500, 1).await;
    let (other_email, _) = register(&stack, "Sid").await;
    let cookie = stack.sign_in(&other_email).await;
    let client = browser_without_js(&stack);

    let picture = reqwest::multipart::Part::bytes(png(20, 20))
        .file_name("cloth.png")
        .mime_str("image/png")
        .expect("a part");
    let response = client
        .post(stack.server_fn::<SetPicture>())
        .header(COOKIE, &cookie)
        .header("accept", "application/json")
        .multipart(
            reqwest::multipart::Form::new()
                .text("item_id", item.clone())
                .part("picture", picture),
        )
        .send()
        .await
        .expect("POST set_picture");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        stack.item(&item).await["image_url"],
        serde_json::Value::Null
    );

    // Both fields at once is one too many.
    let picture = reqwest::multipart::Part::bytes(png(20, 20)).file_name("cloth.png");
    let form = text_form(&[
        ("title", "Cloth"),
        ("price", "5"),
        ("stock", "1"),
        ("image_url", "https://example.com/cloth.png"),
    ])
    .part("picture", picture);
    let response = client
        .post(stack.server_fn::<AddItem>())
        .header(COOKIE, &cookie)
        .header("accept", "application/json")
        .multipart(form)
        .send()
        .await
        .expect("POST add_item");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer: serde_json::Value = response.json().await.expect("json");
    assert_eq!(answer["field"], "image_url", "{answer}");

    for path in [
        format!("/pictures/{}.png", "0f".repeat(16)),
        "/pictures/..%2Fapi%2Flog_out".to_owned(),
        format!("/pictures/card/{}.png", "0f".repeat(16)),
        "/pictures/card/..%2F..%2Fapi".to_owned(),
        "/pictures/notes.txt".to_owned(),
    ] {
        let response = stack
            .gateway
            .http
            .get(stack.gateway.url(&path))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            response.text().await.unwrap_or_default(),
            "There is no such picture."
        );
    }
}
