use common::types::ItemView;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::shopping::{AddToCart, BuyNow};
use super::{NotFound, image_of, money, stock_text};
use crate::api;

/// `/items?itemId=…`: one item, rendered completely on the server; an unknown or malformed
/// id is a 404 page.
#[component]
pub fn ItemPage() -> impl IntoView {
    let query = use_query_map();
    let item_id = move || query.read().get("itemId").unwrap_or_default();
    let item = Resource::new(item_id, api::item);

    view! {
        <Suspense fallback=|| view! { <p>"Loading the item…"</p> }>
            {move || Suspend::new(async move {
                match item.await {
                    Ok(Some(item)) => view! { <ItemDetails item /> }.into_any(),
                    Ok(None) => view! { <NotFound heading="No such item" /> }.into_any(),
                    Err(err) => view! { <p role="alert">{err.message}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ItemDetails(item: ItemView) -> impl IntoView {
    let image = image_of(&item);
    let stock = stock_text(item.stock);
    let sold = match item.sold {
        1 => "Sold once".to_owned(),
        n => format!("Sold {n} times"),
    };
    view! {
        <Title text=format!("{} · Marketplace", item.title) />
        <article class="item-page">
            <img src=image alt=format!("Picture of {}", item.title) width="640" height="480" />
            <div class="item-info">
                <h1>{item.title.clone()}</h1>
                <p class="price">{money(item.price_cents)}</p>
                <p class="meta">{format!("Sold by {}", item.seller_name)}</p>
                <p class="stock">{stock}</p>
                <p class="sold-count" aria-live="polite">{sold}</p>
                <p class="description">{item.description.clone()}</p>
                <div class="buy-actions">
                    <BuyNow item_id=item.id.clone() />
                    <AddToCart item_id=item.id.clone() title=item.title.clone() price_cents=item.price_cents />
                </div>
            </div>
        </article>
    }
}
