//! Text a person typed never becomes markup or script (issue 33): a seller and a buyer type a
//! corpus of payloads into every field a person can fill, and every page that shows them is
//! opened in real Chromium — signed out (twice: rendered, then kept), signed in (the personal
//! page), and in a second browser that receives the live banner and the seller's live sales
//! row. Any dialog, any element or global a payload would make, any Content-Security-Policy
//! violation (checked by `with_browser`) fails it, and each text must show literally. The
//! receipt email of such a purchase holds the text escaped.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::json;
use testkit::Mailbox;
use testkit::browser::{
    click_button, fill, text_of, wait_for_hydration, wait_for_live_updates, wait_for_text,
    with_browser,
};

use crate::helpers::{Stack, spawn_stack};

const WAIT: Duration = Duration::from_secs(20);

/// What a hostile person types: each would make an element marked `data-pwned`, set the
/// global `pwned`, or open a dialog, if it became markup; or show something other than
/// itself if it were read as a template. At most 60 characters (a display name's bound).
const PAYLOADS: [&str; 8] = [
    "</title><script data-pwned>pwned=1;alert(1)</script>",
    "<img data-pwned src=x onerror=pwned=2;alert(2)>",
    "\"><svg data-pwned onload=pwned=3;alert(3)>",
    "'><b data-pwned onmouseover=pwned=4>x</b>",
    "</textarea><script data-pwned>pwned=5</script>",
    "<meta data-pwned http-equiv=refresh content=0;url=/x>",
    "{{7*7}} ${7*7} <%= 7*7 %> {!! 7*7 !!} #{7*7}",
    "</script><script data-pwned>pwned=8</script><!--",
];

/// Fails if the page the browser shows has a dialog open, an element or global a payload
/// would have made, or has gone elsewhere (a refresh a payload asked for).
async fn assert_inert(browser: &Client, context: &str) {
    if let Ok(text) = browser.get_alert_text().await {
        panic!("{context}: a dialog opened: {text:?}");
    }
    let found = browser
        .execute(
            "return [document.querySelectorAll('[data-pwned]').length, typeof window.pwned, \
             location.pathname.startsWith('/x')];",
            vec![],
        )
        .await
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    assert_eq!(
        found,
        json!([0, "undefined", false]),
        "{context}: a payload became markup"
    );
}

/// Opens `url` and waits until the page is hydrated.
async fn open(browser: &Client, url: &str) {
    browser
        .goto(url)
        .await
        .unwrap_or_else(|err| panic!("{url}: {err}"));
    wait_for_hydration(browser).await;
}

/// Registers through the form, typing `display_name`.
async fn register_typing(browser: &Client, base: &str, email: &str, display_name: &str) {
    open(browser, &format!("{base}/register")).await;
    // An address that is markup is refused beside its field, shown as text. (Typed into a
    // plain text field: a browser's own check of an email field is no protection.)
    let hostile_email = format!("{}@example.com", PAYLOADS[1]);
    browser
        .execute(
            "document.getElementById('field-email').type = 'text';",
            vec![],
        )
        .await
        .expect("make the email field plain text");
    fill(browser, "#field-email", &hostile_email).await;
    fill(browser, "#field-display_name", display_name).await;
    fill(browser, "#field-password", "a good password").await;
    click_button(browser, "Register").await;
    wait_for_text(browser, "#field-email-error", WAIT, |t| !t.is_empty()).await;
    assert_inert(browser, "a refused email").await;

    fill(browser, "#field-email", email).await;
    fill(browser, "#field-password", "a good password").await;
    click_button(browser, "Register").await;
    let header = wait_for_text(browser, ".site-header .who", WAIT, |t| {
        t.contains(display_name)
    })
    .await;
    assert!(header.contains(display_name), "{header}");
    assert_inert(browser, "signed in").await;
}

/// Every item listed: (id, title).
async fn listed(stack: &Stack, tag: &str) -> Vec<(String, String)> {
    let page: serde_json::Value = stack
        .inventory
        .http
        .get(
            stack
                .inventory
                .url(&format!("/v1/items?q={tag}&per_page=48")),
        )
        .send()
        .await
        .expect("the catalog")
        .json()
        .await
        .expect("json");
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("the catalog's items: {page}"))
        .iter()
        .map(|item| {
            (
                item["id"].as_str().expect("id").to_owned(),
                item["title"].as_str().expect("title").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn hostile_text_in_every_field_shows_as_text_on_every_page_live_and_in_the_receipt() {
    let stack = spawn_stack().await;
    let base = stack.gateway.base_url.trim_end_matches('/').to_owned();
    let tag = testkit::unique_name("x").replace('_', "");
    let seller_email = format!("{tag}-seller@example.com");
    let buyer_email = format!("{tag}-buyer@example.com");
    let (seller_name, buyer_name) = (PAYLOADS[2], PAYLOADS[1]);
    let titles: Vec<String> = PAYLOADS.iter().map(|p| format!("{p} {tag}")).collect();

    with_browser(|seller| {
        let (stack, base, tag, titles) = (&stack, &base, &tag, &titles);
        let (seller_email, buyer_email) = (&seller_email, &buyer_email);
        async move {
            register_typing(&seller, base, seller_email, seller_name).await;
            open(&seller, &format!("{base}/seller")).await;
            for (n, title) in titles.iter().enumerate() {
                fill(&seller, "#field-title", title).await;
                fill(
                    &seller,
                    "#field-description",
                    PAYLOADS[(n + 4) % PAYLOADS.len()],
                )
                .await;
                fill(&seller, "#field-price", "3").await;
                fill(&seller, "#field-stock", "5").await;
                click_button(&seller, "Add item").await;
                wait_for_text(&seller, ".own-items", WAIT, |t| t.contains(title.as_str())).await;
            }
            // A picture address that is markup is refused beside its field.
            fill(&seller, "#field-title", "Framed print").await;
            fill(&seller, "#field-price", "3").await;
            fill(
                &seller,
                "#field-image_url",
                &format!("https://example.com/{}", PAYLOADS[2]),
            )
            .await;
            click_button(&seller, "Add item").await;
            wait_for_text(&seller, "#field-image_url-error", WAIT, |t| !t.is_empty()).await;
            assert_inert(&seller, "a refused picture address").await;

            // The seller's own page, rendered again: every title literally.
            open(&seller, &format!("{base}/seller")).await;
            let own = text_of(&seller, ".own-items").await;
            for title in titles {
                assert!(own.contains(title.as_str()), "{title} on /seller: {own}");
            }
            assert_inert(&seller, "/seller").await;
            let items = listed(stack, tag).await;
            assert_eq!(items.len(), titles.len());

            with_browser(|buyer| async move {
                // Signed out: the catalog and every item page, rendered and then kept.
                for round in ["rendered", "kept"] {
                    open(&buyer, &format!("{base}/?q={tag}")).await;
                    let catalog = text_of(&buyer, "main").await;
                    for title in titles {
                        assert!(catalog.contains(title.as_str()), "{round}: {catalog}");
                    }
                    assert!(catalog.contains(seller_name), "{round}: {catalog}");
                    assert_inert(&buyer, &format!("{round} catalog")).await;
                    for (id, title) in &items {
                        open(&buyer, &format!("{base}/items?itemId={id}")).await;
                        let context = format!("{round} item page of {title:?}");
                        assert_eq!(&text_of(&buyer, "h1").await, title, "{context}");
                        assert_eq!(
                            buyer.title().await.expect("the document's title"),
                            format!("{title} · Marketplace"),
                            "{context}"
                        );
                        assert!(
                            text_of(&buyer, ".item-page .meta")
                                .await
                                .contains(seller_name),
                            "{context}"
                        );
                        assert_inert(&buyer, &context).await;
                    }
                }

                // The search box (words no title has, so that nothing matches).
                let search = format!("{} no such thing", PAYLOADS[2]);
                open(&buyer, &format!("{base}/")).await;
                fill(&buyer, "#search", &search).await;
                click_button(&buyer, "Search").await;
                let said =
                    wait_for_text(&buyer, "main", WAIT, |t| t.contains("No items match")).await;
                assert!(
                    said.contains(&format!("No items match “{search}”")),
                    "{said}"
                );
                assert_eq!(
                    buyer
                        .find(Locator::Css("#search"))
                        .await
                        .expect("the search box")
                        .prop("value")
                        .await
                        .expect("its value"),
                    Some(search.clone())
                );
                assert_inert(&buyer, "search results").await;

                // Signed in: the personal item page, the cart, a purchase.
                register_typing(&buyer, base, buyer_email, buyer_name).await;
                // The `</title>` one, whose receipt is read below.
                let (first_id, first_title) = items
                    .iter()
                    .find(|(_, title)| title == &titles[0])
                    .expect("the first payload's item");
                let item_page = format!("{base}/items?itemId={first_id}");
                open(&buyer, &item_page).await;
                assert_eq!(&text_of(&buyer, "h1").await, first_title);
                assert_inert(&buyer, "signed-in item page").await;
                click_button(&buyer, "Add to cart").await;
                wait_for_text(&buyer, ".cart-count", WAIT, |t| t == "(1)").await;
                open(&buyer, &format!("{base}/cart")).await;
                assert!(
                    text_of(&buyer, ".cart-lines")
                        .await
                        .contains(first_title.as_str())
                );
                // A quantity that is markup, typed where a browser would allow only digits.
                let quantity = format!("#quantity-{first_id}");
                buyer
                    .execute(
                        &format!("document.querySelector('{quantity}').type = 'text';"),
                        vec![],
                    )
                    .await
                    .expect("make the quantity field plain text");
                fill(&buyer, &quantity, PAYLOADS[3]).await;
                buyer
                    .find(Locator::Css(".quantity-form button"))
                    .await
                    .expect("Update")
                    .click()
                    .await
                    .expect("click Update");
                wait_for_text(&buyer, "main", WAIT, |t| t.contains("whole number")).await;
                assert_inert(&buyer, "a refused quantity").await;

                // The seller watches their dashboard while the buyer buys.
                open(&seller, &format!("{base}/seller")).await;
                wait_for_live_updates(&seller).await;
                open(&buyer, &item_page).await;
                click_button(&buyer, "Buy now").await;
                let order =
                    wait_for_text(&buyer, ".order", WAIT, |t| t.contains(first_title.as_str()))
                        .await;
                assert!(order.contains(first_title.as_str()), "{order}");
                assert_inert(&buyer, "the confirmation page").await;
                let banner = format!("{buyer_name} bought {first_title}");
                wait_for_text(&seller, ".news-feed", WAIT, |t| t.contains(&banner)).await;
                let sales = wait_for_text(&seller, ".sales", WAIT, |t| {
                    t.contains(first_title.as_str())
                })
                .await;
                assert!(sales.contains(buyer_name), "{sales}");
                assert_inert(&seller, "the live banner and sales row").await;
                open(&buyer, &format!("{base}/purchases")).await;
                assert!(
                    text_of(&buyer, ".purchases")
                        .await
                        .contains(first_title.as_str())
                );
                assert_inert(&buyer, "/purchases").await;
            })
            .await;
        }
    })
    .await;

    // The receipt: the HTML part holds the texts escaped, the plain part as they are.
    let mailbox = Mailbox::default();
    let emails = mailbox.wait_for(&buyer_email, 1, WAIT).await;
    assert_eq!(emails.len(), 1, "one receipt");
    let receipt = mailbox.body(&emails[0]).await;
    assert!(receipt.text.contains(&titles[0]), "{}", receipt.text);
    assert!(receipt.text.contains(buyer_name), "{}", receipt.text);
    for raw in ["<script", "<img", "<svg", "<b data", "<meta"] {
        assert!(
            !receipt.html.contains(raw),
            "the receipt's HTML holds {raw:?} as markup: {}",
            receipt.html
        );
    }
    assert!(
        receipt
            .html
            .contains("&lt;/title&gt;&lt;script data-pwned&gt;"),
        "{}",
        receipt.html
    );
}
