use crate::page_title::PageTitle;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use wire::inventory::CatalogPage;
use wire::inventory::ItemView;

use super::shopping::AddToCart;
use super::{ErrorMessage, Pager, card_image_of, encode_query, money, page_number};
use crate::api;

/// `/`: every item of every seller, newest first, with title search and pages. Rendered
/// completely on the server, so it works without JavaScript.
#[component]
pub fn CatalogPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || page_number(query.read().get("page"));
    let search = move || query.read().get("q").unwrap_or_default();
    let catalog = Resource::new(
        move || (page(), search()),
        |(page, search)| api::catalog(page, search),
    );

    view! {
        <PageTitle page="Catalog" />
        <h1>"Catalog"</h1>
        <form method="get" action="/" class="search" role="search">
            <label for="search">"Search titles"</label>
            <div class="search-row">
                <input id="search" type="search" name="q" value=search maxlength="100" />
                <button type="submit">"Search"</button>
            </div>
        </form>
        <Suspense fallback=|| view! { <p>"Loading items…"</p> }>
            {move || Suspend::new(async move {
                match catalog.await {
                    Ok(page) => view! { <CatalogResults page /> }.into_any(),
                    Err(err) => view! { <ErrorMessage error=err /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CatalogResults(page: CatalogPage) -> impl IntoView {
    let search = page.search.clone().unwrap_or_default();
    if page.items.is_empty() {
        let message = if search.is_empty() {
            "No items are for sale yet.".to_owned()
        } else {
            format!("No items match “{search}”.")
        };
        return view! { <p class="empty">{message}</p> }.into_any();
    }
    let pages = page.page_count();
    let link = move |n: u64| {
        if search.is_empty() {
            format!("/?page={n}")
        } else {
            format!("/?page={n}&q={}", encode_query(&search))
        }
    };
    let count = if page.total == 1 {
        "1 item".to_owned()
    } else {
        format!("{} items", page.total)
    };
    view! {
        <p class="result-count">{count}</p>
        <ul class="item-grid">
            {page.items.into_iter().map(|item| view! { <li><ItemCard item /></li> }).collect_view()}
        </ul>
        <Pager page=page.page pages link label="Catalog pages" />
    }
    .into_any()
}

#[component]
pub fn ItemCard(item: ItemView) -> impl IntoView {
    let href = format!("/items?itemId={}", item.id);
    let image = card_image_of(&item);
    // "In stock", "Only 3 left" or "Sold out": the exact count is on the item page.
    let stock = wire::inventory::CardStock::of(item.stock);
    view! {
        <article class="item-card">
            <img src=image alt="" width="320" height="240" loading="lazy" referrerpolicy="no-referrer" />
            <h2>
                <a href=href>{item.title.clone()}</a>
            </h2>
            <p class="price">{money(item.price_cents)}</p>
            <p class="meta">{format!("Sold by {} · {stock}", item.seller_name)}</p>
            <div class="card-actions">
                <AddToCart item_id=item.id.to_string() title=item.title.clone() />
            </div>
        </article>
    }
}
