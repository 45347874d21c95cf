//! Buying: "Add to cart", "Buy now" and the cart page. What was bought is in `orders`.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::{FormError, money};
use crate::store::Store;

/// A fresh idempotency key for one purchase form; a new one after each purchase.
fn purchase_key() -> impl Fn() -> String + Copy {
    let store = Store::get();
    let key = StoredValue::new(super::fresh_form_key());
    move || format!("{}-{}", key.get_value(), store.buy.version().get())
}

#[component]
pub fn AddToCart(item_id: String, title: String, price_cents: i64) -> impl IntoView {
    let store = Store::get();
    let label = format!("Add {title} to cart");
    view! {
        <button
            type="button"
            class="secondary"
            aria-label=label
            on:click=move |_| store.add_to_cart(&item_id, &title, price_cents)
        >
            "Add to cart"
        </button>
    }
}

/// "Buy now": one of this item, for the signed-in buyer; a visitor who is not signed in gets a
/// link to log in instead. (The page anonymous visitors get is kept and shared by the gateway,
/// so it must hold no purchase key: one key in many browsers would make a buyer's second
/// purchase look like a retry of the first.)
#[component]
pub fn BuyNow(item_id: String) -> impl IntoView {
    let store = Store::get();
    let signed_in = move || matches!(store.user.get(), Some(Ok(Some(_))));
    view! {
        <Show
            when=signed_in
            fallback=|| view! { <a class="button" href="/login">"Log in to buy"</a> }
        >
            <BuyNowForm item_id=item_id.clone() />
        </Show>
    }
}

#[component]
fn BuyNowForm(item_id: String) -> impl IntoView {
    let store = Store::get();
    let key = purchase_key();
    let lines = serde_json::json!([{ "item_id": item_id, "quantity": 1 }]).to_string();
    let error = Signal::derive(move || store.buy.value().get().and_then(Result::err));
    view! {
        <ActionForm action=store.buy attr:class="buy-now">
            <input type="hidden" name="lines" value=lines />
            <input type="hidden" name="key" value=key />
            <button type="submit">"Buy now"</button>
            <FormError error />
        </ActionForm>
    }
}

/// `/cart`: what is in the cart, quantities, total and "Checkout".
#[component]
pub fn CartPage() -> impl IntoView {
    let store = Store::get();
    let key = purchase_key();
    let error = Signal::derive(move || store.buy.value().get().and_then(Result::err));
    // A finished checkout empties the cart (in every tab, through localStorage).
    Effect::new(move |_| {
        if store.buy.value().with(|v| matches!(v, Some(Ok(_)))) {
            store.update_cart(Vec::clear);
        }
    });
    let total = move || {
        store.cart.with(|lines| {
            lines
                .iter()
                .map(|l| l.price_cents * l.quantity)
                .sum::<i64>()
        })
    };
    let order = move || {
        store.cart.with(|lines| {
            serde_json::Value::Array(
                lines
                    .iter()
                    .map(|l| serde_json::json!({ "item_id": l.item_id, "quantity": l.quantity }))
                    .collect(),
            )
            .to_string()
        })
    };
    view! {
        <Title text="Cart · Marketplace" />
        <h1>"Your cart"</h1>
        <Show
            when=move || store.cart.with(|c| !c.is_empty())
            fallback=|| view! { <p class="empty">"Your cart is empty. " <A href="/">"Browse the catalog"</A></p> }
        >
            <ul class="cart-lines">
                <For each=move || store.cart.get() key=|line| (line.item_id.clone(), line.quantity) let:line>
                    <CartRow line />
                </For>
            </ul>
            <p class="cart-total" aria-live="polite">"Total: " <strong>{move || money(total())}</strong></p>
            <ActionForm action=store.buy attr:class="checkout">
                <input type="hidden" name="lines" value=order />
                <input type="hidden" name="key" value=key />
                <FormError error />
                <button type="submit">"Checkout"</button>
            </ActionForm>
        </Show>
    }
}

#[component]
fn CartRow(line: crate::store::CartLine) -> impl IntoView {
    let store = Store::get();
    let id = format!("quantity-{}", line.item_id);
    let (item_id, remove_id) = (line.item_id.clone(), line.item_id.clone());
    let href = format!("/items?itemId={}", line.item_id);
    view! {
        <li class="cart-line">
            <a href=href>{line.title.clone()}</a>
            <span class="meta">{format!("{} each", money(line.price_cents))}</span>
            <label for=id.clone()>"Quantity"</label>
            <input
                id=id
                type="number"
                min="1"
                max="1000"
                value=line.quantity
                on:change=move |ev| {
                    let quantity = event_target_value(&ev).parse::<i64>().unwrap_or(1).clamp(1, 1000);
                    let item_id = item_id.clone();
                    store.update_cart(move |lines| {
                        if let Some(l) = lines.iter_mut().find(|l| l.item_id == item_id) {
                            l.quantity = quantity;
                        }
                    });
                }
            />
            <span class="line-total">{money(line.price_cents * line.quantity)}</span>
            <button
                type="button"
                class="secondary"
                aria-label=format!("Remove {} from cart", line.title)
                on:click=move |_| {
                    let item_id = remove_id.clone();
                    store.update_cart(move |lines| lines.retain(|l| l.item_id != item_id));
                }
            >
                "Remove"
            </button>
        </li>
    }
}
