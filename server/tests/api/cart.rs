//! The cart in real browsers: kept by the transaction service, so it is the same on every
//! device at once, works without JavaScript, comes along at log in, and never buys at a
//! price the page did not show.

use std::time::Duration;

use testkit::browser::{
    click, click_button, fill, text_of, wait_for_hydration, wait_for_text, with_browser,
    with_browser_without_javascript,
};

use app::api::{AddToCart, SetCartQuantity};
use reqwest::header::{COOKIE, REFERER, SET_COOKIE};

use crate::browser::log_in_with_a_plain_form;
use crate::helpers::{browser_without_js, cookie_set, log_in, register, seller, spawn_stack};

const WAIT: Duration = Duration::from_secs(15);

fn add_button(title: &str) -> String {
    format!("//button[@aria-label='Add to cart: {title}']")
}

#[tokio::test]
async fn without_javascript_a_guest_fills_a_cart_changes_it_and_it_comes_along_at_log_in() {
    let stack = spawn_stack().await;
    let sal = seller("Sal");
    let tag = testkit::unique_name("t").replace('_', "");
    let (jam, tea) = (format!("Jam {tag}"), format!("Tea {tag}"));
    let jam_id = stack.list_item(&sal, &jam, 450, 20).await;
    stack.list_item(&sal, &tea, 300, 20).await;
    let (email, _) = register(&stack, "Gus").await;
    let base = stack.gateway.url("");

    with_browser_without_javascript(|browser| {
        let jam_id = jam_id.clone();
        async move {
            browser
                .goto(&format!("{base}/?q={tag}"))
                .await
                .expect("search");
            click(&browser, &add_button(&jam)).await;
            wait_for_text(&browser, ".cart-count", WAIT, |t| t == "(1)").await;
            click(&browser, &add_button(&tea)).await;
            wait_for_text(&browser, ".cart-count", WAIT, |t| t == "(2)").await;

            browser
                .goto(&format!("{base}/cart"))
                .await
                .expect("open the cart");
            fill(&browser, &format!("#quantity-{jam_id}"), "3").await;
            click(
                &browser,
                &format!("//button[@aria-label='Update the quantity of {jam}']"),
            )
            .await;
            wait_for_text(&browser, ".cart-total", WAIT, |t| t.contains("$16.50")).await;
            click(
                &browser,
                &format!("//button[@aria-label='Remove {tea} from cart']"),
            )
            .await;
            let total =
                wait_for_text(&browser, ".cart-total", WAIT, |t| t.contains("$13.50")).await;
            assert!(total.contains("$13.50"), "{total}");
            let page = text_of(&browser, "main").await;
            // A guest is asked to log in to check out; the cart comes along.
            assert!(page.contains("Log in to check out"), "{page}");

            log_in_with_a_plain_form(&browser, &base, &email).await;
            browser
                .goto(&format!("{base}/cart"))
                .await
                .expect("open the cart");
            let cart = wait_for_text(&browser, ".cart-lines", WAIT, |t| t.contains(&jam)).await;
            assert!(!cart.contains(&tea), "{cart}");
            let header = wait_for_text(&browser, ".cart-count", WAIT, |t| t == "(3)").await;
            assert_eq!(header, "(3)");
        }
    })
    .await;

    // Past the limit (which the browser's own check stops first): a plain post is refused
    // with a sentence, and the cart stays as it was.
    let guest = browser_without_js(&stack);
    let added = guest
        .post(stack.server_fn::<AddToCart>())
        .header(REFERER, stack.gateway.url("/cart"))
        .form(&[("item_id", jam_id.as_str()), ("quantity", "2")])
        .send()
        .await
        .expect("add to cart");
    let set_cookie: Vec<String> = added
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|c| c.to_str().ok().map(str::to_owned))
        .collect();
    let guest_cookie = set_cookie
        .iter()
        .find(|c| c.starts_with("cart="))
        .unwrap_or_else(|| panic!("a guest cart cookie: {set_cookie:?}"));
    assert!(
        guest_cookie.contains("HttpOnly") && guest_cookie.contains("SameSite=Lax"),
        "{guest_cookie}"
    );
    let cookie = guest_cookie
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let refused = guest
        .post(stack.server_fn::<SetCartQuantity>())
        .header(REFERER, stack.gateway.url("/cart"))
        .header(COOKIE, &cookie)
        .form(&[("item_id", jam_id.as_str()), ("quantity", "120")])
        .send()
        .await
        .expect("set the quantity");
    // Back to the cart page, which says why, once.
    assert_eq!(refused.status(), 302);
    assert_eq!(
        refused.headers()[reqwest::header::LOCATION],
        stack.gateway.url("/cart").as_str()
    );
    let form_error = cookie_set(&refused, "form-error").expect("the error goes back in a cookie");
    let page = guest
        .get(stack.gateway.url("/cart"))
        .header(COOKIE, format!("{cookie}; {form_error}"))
        .send()
        .await
        .expect("the cart again");
    let cleared = page
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|c| c.to_str().ok())
        .any(|c| c.starts_with("form-error=;") && c.contains("Max-Age=0"));
    assert!(cleared, "the error is shown once");
    let page = page.text().await.expect("html");
    assert!(page.contains("Quantity must be from 1 to 99."), "{page}");
    assert!(page.contains("$9.00"), "two jams, as before: {page}");
}

#[tokio::test]
async fn two_devices_of_one_user_see_each_others_lines_and_checkout_never_buys_an_unseen_price() {
    let stack = spawn_stack().await;
    let sal = seller("Sal");
    let tag = testkit::unique_name("t").replace('_', "");
    let (pen, ink) = (format!("Pen {tag}"), format!("Ink {tag}"));
    let pen_id = stack.list_item(&sal, &pen, 1_000, 20).await;
    stack.list_item(&sal, &ink, 250, 20).await;
    let (email, vic) = register(&stack, "Vic").await;
    let base = stack.gateway.url("");

    with_browser(|phone| {
        let (base, email) = (base.clone(), email.clone());
        async move {
            with_browser(|laptop| async move {
                for device in [&phone, &laptop] {
                    log_in(device, &base, &email).await;
                    device
                        .goto(&format!("{base}/?q={tag}"))
                        .await
                        .expect("search");
                    wait_for_hydration(device).await;
                }
                click(&phone, &add_button(&pen)).await;
                click(&laptop, &add_button(&ink)).await;
                for device in [&phone, &laptop] {
                    wait_for_text(device, ".cart-count", WAIT, |t| t == "(2)").await;
                    device
                        .goto(&format!("{base}/cart"))
                        .await
                        .expect("open the cart");
                    wait_for_hydration(device).await;
                    let lines =
                        wait_for_text(device, ".cart-lines", WAIT, |t| t.contains(&ink)).await;
                    assert!(lines.contains(&pen), "{lines}");
                }

                // The seller raises the pen's price while the laptop shows the cart.
                stack.set_price(&sal, &pen_id, 1_200).await;
                click_button(&laptop, "Checkout").await;
                let refused = wait_for_text(&laptop, ".checkout", WAIT, |t| {
                    t.contains("Nothing was bought")
                })
                .await;
                assert!(
                    refused.contains(&format!(
                        "The price of {pen} changed from $10.00 to $12.00."
                    )),
                    "{refused}"
                );
                assert_eq!(stack.purchase_count(&vic).await, 0, "nothing was bought");
                // The cart now shows the new price beside the old one; checking out again buys
                // at the price shown.
                let cart = wait_for_text(&laptop, ".cart-lines", WAIT, |t| {
                    t.contains("Price changed: $10.00 when you added it, $12.00 now.")
                })
                .await;
                assert!(cart.contains(&ink), "{cart}");
                wait_for_text(&laptop, ".cart-total", WAIT, |t| t.contains("$14.50")).await;
                click_button(&laptop, "Checkout").await;
                let order = wait_for_text(&laptop, ".order", WAIT, |t| {
                    t.contains("Thank you for your purchase")
                })
                .await;
                assert!(order.contains("Total: $14.50"), "{order}");
                // Emptied everywhere: the phone's page follows without a reload.
                wait_for_text(&phone, ".cart-count", WAIT, |t| t == "(0)").await;
                wait_for_text(&phone, "main", WAIT, |t| t.contains("Your cart is empty")).await;
            })
            .await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_item_taken_off_sale_while_its_card_is_shown_is_refused_beside_its_own_button() {
    let stack = spawn_stack().await;
    let sal = seller("Sal");
    let tag = testkit::unique_name("t").replace('_', "");
    let (cup, mug) = (format!("Cup {tag}"), format!("Mug {tag}"));
    let cup_id = stack.list_item(&sal, &cup, 800, 5).await;
    stack.list_item(&sal, &mug, 900, 5).await;
    let base = stack.gateway.url("");

    with_browser(|browser| async move {
        browser
            .goto(&format!("{base}/?q={tag}"))
            .await
            .expect("search");
        wait_for_hydration(&browser).await;
        let edit = wire::inventory::ItemEdit {
            on_sale: Some(false),
            ..Default::default()
        };
        stack
            .inventory_client()
            .edit_item(
                &clients::CallContext::default(),
                &sal,
                &cup_id.parse().expect("an item id"),
                &edit,
            )
            .await
            .expect("take the cup off sale");

        click(&browser, &add_button(&cup)).await;
        let cup_form = format!("form.add-to-cart:has(button[aria-label='Add to cart: {cup}'])");
        let said = wait_for_text(&browser, &cup_form, WAIT, |t| {
            t.contains(&format!("{cup} is no longer for sale."))
        })
        .await;
        assert!(said.contains("no longer for sale"), "{said}");
        let mug_form = format!("form.add-to-cart:has(button[aria-label='Add to cart: {mug}'])");
        let other = text_of(&browser, &mug_form).await;
        assert!(!other.contains("no longer for sale"), "{other}");
        assert_eq!(text_of(&browser, ".cart-count").await, "(0)");
    })
    .await;
}
