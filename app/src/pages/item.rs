use crate::page_title::PageTitle;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use wire::inventory::ItemView;
use wire::socket_topics;

use super::shopping::{AddToCart, BuyNow};
use super::{ErrorMessage, NotFound, image_of, money, stock_text};
use crate::api;
use crate::store::Store;

/// `/items?itemId=…`: one item, rendered completely on the server; an unknown or malformed
/// id is a 404 page.
#[component]
pub fn ItemPage() -> impl IntoView {
    let query = use_query_map();
    let item_id = move || query.read().get("itemId").unwrap_or_default();
    let item = Resource::new(item_id, api::item);
    // Live numbers and "N viewing now" while the page is open.
    Store::get().live.follow(move || {
        wire::ItemId::parse(&item_id())
            .ok()
            .map(|id| socket_topics::item(&id))
    });

    view! {
        <Suspense fallback=|| view! { <p>"Loading the item…"</p> }>
            {move || Suspend::new(async move {
                match item.await {
                    Ok(Some(item)) => view! { <ItemDetails item /> }.into_any(),
                    Ok(None) => view! { <NotFound heading="No such item" /> }.into_any(),
                    Err(err) => view! { <ErrorMessage error=err /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ItemDetails(item: ItemView) -> impl IntoView {
    let live = Store::get().live;
    let image = image_of(&item);
    // The durable numbers: as rendered, then re-read whenever the live socket (re)connects,
    // since events may have been missed meanwhile. (An effect, so it runs only in the
    // browser and the server-rendered page never waits for it.)
    let reread = RwSignal::new(None::<ItemView>);
    Effect::new({
        let id = item.id.clone();
        move |_| {
            if live.resynced.get() == 0 {
                return;
            }
            let id = id.clone();
            leptos::task::spawn_local(async move {
                if let Ok(Some(fresh)) = api::item(id.to_string()).await {
                    reread.set(Some(fresh));
                }
            });
        }
    });
    let numbers = {
        let (id, sold, stock) = (item.id.clone(), item.sold, item.stock);
        move || {
            let live_numbers = live.numbers(id.as_str());
            let durable = reread.get();
            (
                live_numbers
                    .sold
                    .or(durable.as_ref().map(|i| i.sold))
                    .unwrap_or(sold),
                live_numbers
                    .stock
                    .or(durable.as_ref().map(|i| i.stock))
                    .unwrap_or(stock),
                live_numbers.viewers.map(|(count, _)| count),
            )
        }
    };
    let numbers = Memo::new(move |_| numbers());
    let sold = move || match numbers.get().0 {
        1 => "Sold once".to_owned(),
        n => format!("Sold {n} times"),
    };
    let stock = move || stock_text(numbers.get().1);
    let viewers = move || {
        numbers
            .get()
            .2
            .map(|count| format!("{count} viewing now"))
            .unwrap_or_default()
    };
    view! {
        <PageTitle page=item.title.clone() />
        <article class="item-page">
            <img
                src=image
                alt=format!("Picture of {}", item.title)
                width="640"
                height="480"
                referrerpolicy="no-referrer"
            />
            <div class="item-info">
                <h1>{item.title.clone()}</h1>
                <p class="price">{money(item.price_cents)}</p>
                <p class="meta">{format!("Sold by {}", item.seller_name)}</p>
                <p class="stock" aria-live="polite">{stock}</p>
                <p class="sold-count" aria-live="polite">{sold}</p>
                <p class="viewers" aria-live="polite">{viewers}</p>
                <p class="description">{item.description.clone()}</p>
                {if item.on_sale {
                    view! {
                        <div class="buy-actions">
                            <BuyNow item_id=item.id.to_string() />
                            <AddToCart item_id=item.id.to_string() title=item.title.clone() />
                        </div>
                    }
                        .into_any()
                } else {
                    view! { <p class="off-sale">"This item is no longer for sale."</p> }.into_any()
                }}
            </div>
        </article>
    }
}
