//! What a buyer bought: the paged history (`/purchases`) and one purchase with where its
//! receipt is (`/purchases/<id>`, where "Buy now" and "Checkout" land).

use crate::page_title::PageTitle;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use wire::receipt::ReceiptStatus;
use wire::transaction::{PurchaseHistory, PurchaseLine, PurchaseView};

use super::{ErrorMessage, NotFound, Pager, date_time, money, page_number, time_of_day};
use crate::api::{self, OrderAndReceipt};
use crate::error::AppError;
use crate::store::Store;

/// "Order 9B1D8A00": the last eight digits of the purchase id, as the receipt email says.
fn order_number(purchase: &PurchaseView) -> String {
    let id = purchase.id.as_str();
    format!("Order {}", id[id.len().saturating_sub(8)..].to_uppercase())
}

/// `/purchases?page=N`: the signed-in buyer's purchases, newest first, a page at a time.
#[component]
pub fn PurchasesPage() -> impl IntoView {
    let store = Store::get();
    let query = use_query_map();
    let page = move || page_number(query.read().get("page"));
    // Read again after buying here, after a purchase in another tab or browser (the user's
    // live topic), and after the live socket (re)connects.
    let history = Resource::new(
        move || {
            (
                page(),
                store.buy.version().get(),
                store.live.purchases_changed.get(),
                store.live.resynced.get(),
            )
        },
        |(page, ..)| api::my_purchases(page),
    );
    view! {
        <PageTitle page="Your purchases" />
        <h1>"Your purchases"</h1>
        <Transition fallback=|| view! { <p>"Loading your purchases…"</p> }>
            {move || Suspend::new(async move {
                match history.await {
                    Ok(history) => view! { <History history /> }.into_any(),
                    Err(err) => view! { <NotShown err /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Why a buyer's page could not be shown, with a way to log in when that is the reason (not
/// when the services cannot tell who is signed in).
#[component]
fn NotShown(err: AppError) -> impl IntoView {
    let signed_out = err.status == 401;
    view! {
        <ErrorMessage error=err>
            {signed_out.then(|| view! { " " <A href="/login">"Log in"</A> })}
        </ErrorMessage>
    }
}

#[component]
fn History(history: PurchaseHistory) -> impl IntoView {
    if history.total == 0 {
        return view! { <p class="empty">"No purchases yet. " <A href="/">"Browse the catalog"</A></p> }
            .into_any();
    }
    let (page, pages) = (
        history.page,
        history.total.div_ceil(history.per_page.max(1)),
    );
    if history.purchases.is_empty() {
        return view! {
            <p class="empty">
                {format!("There is no page {page}: your purchases fill {pages}. ")}
                <A href="/purchases">"Newest purchases"</A>
            </p>
        }
        .into_any();
    }
    let count = match history.total {
        1 => "1 purchase".to_owned(),
        n => format!("{n} purchases"),
    };
    view! {
        <p class="result-count">{count}</p>
        <ul class="purchases">
            {history
                .purchases
                .into_iter()
                .map(|purchase| view! { <PurchaseSummary purchase /> })
                .collect_view()}
        </ul>
        <Pager
            page
            pages
            link=|n| format!("/purchases?page={n}")
            label="Purchase history pages"
            previous="Newer purchases"
            next="Older purchases"
        />
    }
    .into_any()
}

#[component]
fn PurchaseSummary(purchase: PurchaseView) -> impl IntoView {
    let href = format!("/purchases/{}", purchase.id);
    view! {
        <li class="purchase" data-purchase=purchase.id.to_string()>
            <h2><a href=href>{order_number(&purchase)}</a></h2>
            <p class="meta">{date_time(purchase.created_at)}</p>
            <Lines lines=purchase.lines />
            <p class="total">"Total: " <strong>{money(purchase.total_cents)}</strong></p>
        </li>
    }
}

#[component]
fn Lines(lines: Vec<PurchaseLine>) -> impl IntoView {
    view! {
        <ul class="order-lines">
            {lines
                .into_iter()
                .map(|l| {
                    let href = format!("/items?itemId={}", l.item_id);
                    view! {
                        <li>
                            {format!("{} × ", l.quantity)}
                            <a href=href>{l.title}</a>
                            {format!(" from {} — {}", l.seller_name, money(l.line_total_cents))}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

/// `/purchases/<id>`: one of the signed-in buyer's purchases, with "Thank you" and where its
/// receipt is; the receipt's status changes in place once it is emailed. Anyone else, and
/// an id that is not one of theirs, gets 404.
#[component]
pub fn OrderPage() -> impl IntoView {
    let store = Store::get();
    let params = use_params_map();
    let purchase_id = move || params.read().get("id").unwrap_or_default();
    let details = Resource::new(
        move || {
            (
                purchase_id(),
                store.live.receipt_sent.get(),
                store.live.resynced.get(),
            )
        },
        |(purchase_id, ..)| api::order_details(purchase_id),
    );
    view! {
        <Transition fallback=|| view! { <p>"Loading your purchase…"</p> }>
            {move || Suspend::new(async move {
                match details.await {
                    Ok(Some(details)) => view! { <Order details /> }.into_any(),
                    Ok(None) => view! { <NotFound heading="No such purchase" /> }.into_any(),
                    Err(err) => view! { <NotShown err /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Order(details: OrderAndReceipt) -> impl IntoView {
    let OrderAndReceipt { purchase, receipt } = details;
    let number = order_number(&purchase);
    view! {
        <PageTitle page=number.clone() />
        <article class="order" data-purchase=purchase.id.to_string()>
            <h1>"Thank you for your purchase"</h1>
            <p class="meta">{format!("{number}, bought {}", date_time(purchase.created_at))}</p>
            <Lines lines=purchase.lines />
            <p class="total">"Total: " <strong>{money(purchase.total_cents)}</strong></p>
            <p class="receipt-status" aria-live="polite">{receipt_text(receipt.as_ref())}</p>
            <p><A href="/purchases">"All your purchases"</A> " · " <A href="/">"Keep shopping"</A></p>
        </article>
    }
}

/// "Receipt queued", then "Receipt emailed to a…@example.com at 14:03 UTC".
fn receipt_text(receipt: Option<&ReceiptStatus>) -> String {
    match receipt {
        Some(ReceiptStatus::Queued) => {
            "Receipt queued: it will be emailed to you in a moment.".to_owned()
        }
        Some(ReceiptStatus::Emailed { to, at }) => {
            format!("Receipt emailed to {to} at {}.", time_of_day(*at))
        }
        None => {
            "We cannot tell where your receipt is just now; it will still be emailed.".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receipt_status_reads_as_a_sentence() {
        assert_eq!(
            receipt_text(Some(&ReceiptStatus::Queued)),
            "Receipt queued: it will be emailed to you in a moment."
        );
        let emailed = ReceiptStatus::Emailed {
            to: "a…@example.com".into(),
            at: 1_796_393_039_999,
        };
        assert_eq!(
            receipt_text(Some(&emailed)),
            "Receipt emailed to a…@example.com at 14:03 UTC."
        );
    }
}
