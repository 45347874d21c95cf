//! Buying: "Add to cart", "Buy now" and the cart page. What was bought is in `orders`.

use crate::page_title::PageTitle;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::A;

use wire::cart::{CartLineView, CartView};

use leptos::server_fn::ServerFn;

use super::{ErrorMessage, FormError, money};
use crate::api::{AddToCart, Buy, Checkout, RemoveFromCart, SetCartQuantity, ShownLine};
use crate::error::CANNOT_TELL_WHO;
use crate::store::Store;

/// A fresh idempotency key for one "Buy now" form; a new one after each purchase.
fn purchase_key() -> impl Fn() -> String + Copy {
    let store = Store::get();
    let key = StoredValue::new(super::fresh_form_key());
    move || format!("{}-{}", key.get_value(), store.buy.version().get())
}

/// "Add to cart": a plain form post (the page comes back with the count), in place with
/// JavaScript. It holds nothing of the visitor's, so kept anonymous pages can carry it.
/// A refusal (the item went off sale meanwhile, the cart is full) is said beside the button
/// that was pressed, not beside every button the page shows.
#[component]
pub fn AddToCart(item_id: String, title: String) -> impl IntoView {
    let store = Store::get();
    // The visible text first: speech users say what they see (WCAG 2.5.3, label in name).
    let label = format!("Add to cart: {title}");
    let this_item = item_id.clone();
    let pressed = item_id.clone();
    let error = store.form_error(AddToCart::PATH, Some(item_id.clone()), move || {
        store.add_to_cart.value().get()
    });
    let refused = move || {
        let pressed_here = store
            .last_added_item
            .with(|last| last.as_deref() == Some(this_item.as_str()));
        // Sent back after a post without JavaScript (for this item only), or refused here.
        let sent_back = store.add_to_cart.value().with(Option::is_none);
        error
            .get()
            .filter(|_| pressed_here || sent_back)
            .map(|err| err.message)
    };
    view! {
        <ActionForm action=store.add_to_cart attr:class="add-to-cart">
            <input type="hidden" name="item_id" value=item_id.clone() />
            <input type="hidden" name="quantity" value="1" />
            <button
                type="submit"
                class="secondary"
                aria-label=label.clone()
                on:click={
                    let pressed = pressed.clone();
                    move |_| store.last_added_item.set(Some(pressed.clone()))
                }
            >
                "Add to cart"
            </button>
            <p class="field-error" role="alert">{refused.clone()}</p>
        </ActionForm>
    }
}

/// "Buy now": one of this item, for the signed-in buyer; a visitor who is not signed in gets a
/// link to log in instead. (The page anonymous visitors get is kept and shared by the gateway,
/// so it must hold no purchase key: one key in many browsers would make a buyer's second
/// purchase look like a retry of the first.)
#[component]
pub fn BuyNow(item_id: String) -> impl IntoView {
    let store = Store::get();
    move || match store.user.get() {
        Some(Ok(Some(_))) => view! { <BuyNowForm item_id=item_id.clone() /> }.into_any(),
        Some(Err(_)) => view! { <p class="notice" role="alert">{CANNOT_TELL_WHO}</p> }.into_any(),
        _ => view! { <a class="button" href="/login">"Log in to buy"</a> }.into_any(),
    }
}

#[component]
fn BuyNowForm(item_id: String) -> impl IntoView {
    let store = Store::get();
    let key = purchase_key();
    let lines = serde_json::json!([{ "item_id": item_id, "quantity": 1 }]).to_string();
    let error = store.form_error(Buy::PATH, None, move || store.buy.value().get());
    view! {
        <ActionForm action=store.buy attr:class="buy-now">
            <input type="hidden" name="lines" value=lines />
            <input type="hidden" name="key" value=key />
            <button type="submit">"Buy now"</button>
            <FormError error />
        </ActionForm>
    }
}

/// `/cart`: what is in the cart at today's prices (a price changed since adding is said
/// beside the line), quantities, total and "Checkout". Every control is a plain form, so it
/// all works without JavaScript; with it, the cart changes in place and in every tab.
#[component]
pub fn CartPage() -> impl IntoView {
    let store = Store::get();
    let actions = CartActions {
        checkout: ServerAction::new(),
        set_quantity: ServerAction::new(),
        remove: ServerAction::new(),
    };
    store.reread_cart_after(actions.checkout.version());
    store.reread_cart_after(actions.set_quantity.version());
    store.reread_cart_after(actions.remove.version());
    view! {
        <PageTitle page="Cart" />
        <h1>"Your cart"</h1>
        <Transition fallback=|| view! { <p>"Loading your cart…"</p> }>
            {move || Suspend::new(async move {
                match store.cart.await {
                    Ok(cart) if cart.lines.is_empty() => {
                        view! { <p class="empty">"Your cart is empty. " <A href="/">"Browse the catalog"</A></p> }
                            .into_any()
                    }
                    Ok(cart) => view! { <CartContents cart actions /> }.into_any(),
                    Err(err) => view! { <ErrorMessage error=err /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The cart page's forms' actions, made by the page so that their code loads with it.
#[derive(Clone, Copy)]
struct CartActions {
    checkout: ServerAction<Checkout>,
    set_quantity: ServerAction<SetCartQuantity>,
    remove: ServerAction<RemoveFromCart>,
}

#[component]
fn CartContents(cart: CartView, actions: CartActions) -> impl IntoView {
    let store = Store::get();
    let signed_in = move || matches!(store.user.get(), Some(Ok(Some(_))));
    let shown: Vec<ShownLine> = cart
        .lines
        .iter()
        .map(|l| ShownLine {
            item_id: l.item_id.to_string(),
            quantity: l.quantity,
            unit_price_cents: l.unit_price_cents,
        })
        .collect();
    let shown = StoredValue::new(serde_json::to_string(&shown).unwrap_or_default());
    let key = StoredValue::new(super::fresh_form_key());
    let CartActions {
        checkout,
        set_quantity,
        remove,
    } = actions;
    let key = move || format!("{}-{}", key.get_value(), checkout.version().get());
    let error = store.form_error(Checkout::PATH, None, move || checkout.value().get());
    // A quantity or a line refused: said above the total, whichever form it came from.
    let quantity_refused = store.form_error(SetCartQuantity::PATH, None, move || {
        set_quantity.value().get()
    });
    let removal_refused =
        store.form_error(RemoveFromCart::PATH, None, move || remove.value().get());
    let changed = move || quantity_refused.get().or_else(|| removal_refused.get());
    view! {
        <ul class="cart-lines">
            {cart.lines.into_iter().map(|line| view! { <CartRow line actions /> }).collect_view()}
        </ul>
        <p class="form-error" role="alert">{move || changed().map(|e| e.message)}</p>
        <p class="cart-total" aria-live="polite">"Total: " <strong>{money(cart.total_cents)}</strong></p>
        <Show
            when=signed_in
            fallback=move || match store.user.get() {
                Some(Err(_)) => view! { <p class="notice" role="alert">{CANNOT_TELL_WHO}</p> }.into_any(),
                _ => view! { <p><a class="button" href="/login">"Log in to check out"</a>" — your cart comes with you."</p> }.into_any(),
            }
        >
            <ActionForm action=checkout attr:class="checkout">
                <input type="hidden" name="shown" value=shown.get_value() />
                <input type="hidden" name="key" value=key />
                <FormError error />
                <button type="submit">"Checkout"</button>
            </ActionForm>
        </Show>
    }
}

#[component]
fn CartRow(line: CartLineView, actions: CartActions) -> impl IntoView {
    let id = format!("quantity-{}", line.item_id);
    let href = format!("/items?itemId={}", line.item_id);
    let item_id = line.item_id.to_string();
    let price_note = (line.unit_price_cents != line.price_when_added_cents).then(|| {
        format!(
            "Price changed: {} when you added it, {} now.",
            money(line.price_when_added_cents),
            money(line.unit_price_cents)
        )
    });
    let stock_note = if !line.available {
        Some(format!("{} is no longer for sale.", line.title))
    } else if line.stock == 0 {
        Some("Sold out.".to_owned())
    } else if line.stock < line.quantity {
        Some(format!("Only {} left.", line.stock))
    } else {
        None
    };
    let update_label = format!("Update the quantity of {}", line.title);
    let remove_label = format!("Remove {} from cart", line.title);
    let (item_for_update, item_for_removal) = (item_id.clone(), item_id.clone());
    let quantity = line.quantity;
    view! {
        <li class="cart-line" data-item=item_id>
            <a href=href>{line.title}</a>
            <span class="meta">{format!("{} each", money(line.unit_price_cents))}</span>
            {price_note.map(|note| view! { <p class="notice">{note}</p> })}
            {stock_note.map(|note| view! { <p class="notice">{note}</p> })}
            <ActionForm action=actions.set_quantity attr:class="quantity-form">
                <input type="hidden" name="item_id" value=item_for_update.clone() />
                <label for=id.clone()>"Quantity"</label>
                <input id=id.clone() type="number" name="quantity" min="1" max="99" value=quantity />
                <button type="submit" class="secondary" aria-label=update_label.clone()>
                    "Update"
                </button>
            </ActionForm>
            <span class="line-total">{money(line.line_total_cents)}</span>
            <ActionForm action=actions.remove attr:class="remove-form">
                <input type="hidden" name="item_id" value=item_for_removal.clone() />
                <button type="submit" class="secondary" aria-label=remove_label.clone()>
                    "Remove"
                </button>
            </ActionForm>
        </li>
    }
}
