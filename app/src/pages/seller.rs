use crate::page_title::PageTitle;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use send_wrapper::SendWrapper;
use web_sys::{FormData, SubmitEvent};
use wire::calendar;
use wire::inventory::ItemView;
use wire::money::format_cents;
use wire::transaction::{DailySales, SalesReport};

use super::{ErrorMessage, Field, FormError, Pager, card_image_of, date_time, money, page_number};
use crate::api::{self, AddItem, SaveItem, SetOnSale, SetPicture};
use crate::error::AppError;
use crate::store::Store;

/// `/seller`: list a new item and change the price and stock of your own items.
#[component]
pub fn SellerPage() -> impl IntoView {
    let store = Store::get();
    view! {
        <PageTitle page="Your shop" />
        <h1>"Your shop"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                store
                    .user
                    .get()
                    .map(|user| match user {
                        Ok(Some(_)) => view! { <Shop /> }.into_any(),
                        Ok(None) => {
                            view! {
                                <p>
                                    "Log in to list items for sale: " <A href="/login">"Log in"</A> " or "
                                    <A href="/register">"Register"</A>
                                </p>
                            }
                                .into_any()
                        }
                        Err(err) => view! { <ErrorMessage error=err /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn Shop() -> impl IntoView {
    let add: UploadAction =
        Action::new(|form: &SendWrapper<FormData>| api::add_item(FormData::clone(form).into()));
    let (item_changes, items_changed) = signal(0u32);
    let items = Resource::new(
        move || (add.version().get(), item_changes.get()),
        |_| api::my_items(),
    );
    view! {
        <AddItemForm add />
        <section aria-labelledby="own-items">
            <h2 id="own-items">"Your items"</h2>
            <Transition fallback=|| view! { <p>"Loading your items…"</p> }>
                {move || Suspend::new(async move {
                    match items.await {
                        Ok(items) if items.is_empty() => {
                            view! { <p class="empty">"You have not listed anything yet."</p> }.into_any()
                        }
                        Ok(items) => {
                            view! {
                                <ul class="own-items">
                                    {items
                                        .into_iter()
                                        .map(|item| view! { <OwnItem item items_changed /> })
                                        .collect_view()}
                                </ul>
                            }
                                .into_any()
                        }
                        Err(err) => view! { <ErrorMessage error=err /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <SalesSection />
    }
}

/// Only this seller's sales, newest first, a page at a time (`/seller?page=N`), with the
/// totals of all of them.
#[component]
fn SalesSection() -> impl IntoView {
    // Read again when someone buys this seller's items (their live topic) and after the live
    // socket (re)connects.
    let live = Store::get().live;
    let query = use_query_map();
    let page = move || page_number(query.read().get("page"));
    let sales = Resource::new(
        move || (page(), live.sales_changed.get(), live.resynced.get()),
        |(page, ..)| api::my_sales(page),
    );
    view! {
        <SalesChart />
        <section aria-labelledby="sales">
            <h2 id="sales">"Sales"</h2>
            <Transition fallback=|| view! { <p>"Loading your sales…"</p> }>
                {move || Suspend::new(async move {
                    match sales.await {
                        Ok(report) => view! { <SalesTable report /> }.into_any(),
                        Err(err) => view! { <ErrorMessage error=err /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Revenue per day over the last 30 days: a bar chart drawn as SVG on the server (no chart
/// library in the browser's bundle), and the same numbers in a table for anyone who cannot
/// see the chart. Read again on every sale of this seller's items.
#[component]
fn SalesChart() -> impl IntoView {
    let live = Store::get().live;
    let daily = Resource::new(
        move || (live.sales_changed.get(), live.resynced.get()),
        |_| api::my_daily_sales(),
    );
    view! {
        <section aria-labelledby="sales-by-day">
            <h2 id="sales-by-day">"Revenue per day, last 30 days"</h2>
            <Transition fallback=|| view! { <p>"Loading your revenue…"</p> }>
                {move || Suspend::new(async move {
                    match daily.await {
                        Ok(daily) => view! { <DailyChart daily /> }.into_any(),
                        Err(err) => view! { <ErrorMessage error=err /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The chart's drawing area, in SVG user units; the page scales it to its width.
const CHART_WIDTH: i64 = 600;
const CHART_HEIGHT: i64 = 180;
const CHART_BASELINE: i64 = 150;

#[component]
fn DailyChart(daily: DailySales) -> impl IntoView {
    let days = daily.days;
    let total: i64 = days.iter().map(|d| d.cents).sum();
    if total == 0 {
        return view! { <p class="empty">"No sales in the last 30 days."</p> }.into_any();
    }
    let highest = days.iter().map(|d| d.cents).max().unwrap_or(1).max(1);
    let slot = CHART_WIDTH / (days.len() as i64).max(1);
    let (first, last) = (
        days.first().map(|d| d.day).unwrap_or_default(),
        days.last().map(|d| d.day).unwrap_or_default(),
    );
    let bars = days
        .iter()
        .enumerate()
        .filter(|(_, d)| d.cents > 0)
        .map(|(n, d)| {
            // At least 2 units tall, so a small day still shows.
            let height = (d.cents * (CHART_BASELINE - 20) / highest).max(2);
            view! {
                <rect
                    class="bar"
                    data-day=calendar::iso_date(d.day)
                    data-cents=d.cents
                    x=n as i64 * slot + 2
                    y=CHART_BASELINE - height
                    width=slot - 4
                    height=height
                />
            }
        })
        .collect_view();
    let rows = days
        .iter()
        .filter(|d| d.cents > 0)
        .map(|d| {
            view! {
                <tr data-day=calendar::iso_date(d.day)>
                    <td>{calendar::short_date(d.day)}</td>
                    <td>{d.quantity}</td>
                    <td>{money(d.cents)}</td>
                </tr>
            }
        })
        .collect_view();
    let units: i64 = days.iter().map(|d| d.quantity).sum();
    let summary = format!(
        "Bar chart of revenue per day from {} to {}; the highest day made {}. The table below has the numbers.",
        calendar::short_date(first),
        calendar::short_date(last),
        money(highest),
    );
    view! {
        <svg
            class="sales-chart"
            viewBox=format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}")
            role="img"
            aria-label=summary
        >
            <line class="axis" x1="0" y1=CHART_BASELINE x2=CHART_WIDTH y2=CHART_BASELINE />
            {bars}
            <text class="label" x="0" y="14">{money(highest)}</text>
            <text class="label" x="0" y=CHART_HEIGHT - 8>{calendar::short_date(first)}</text>
            <text class="label" x=CHART_WIDTH y=CHART_HEIGHT - 8 text-anchor="end">
                {calendar::short_date(last)}
            </text>
        </svg>
        <table class="daily-sales">
            <caption>"Days with sales (UTC)"</caption>
            <thead>
                <tr>
                    <th scope="col">"Day"</th>
                    <th scope="col">"Units"</th>
                    <th scope="col">"Revenue"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
            <tfoot>
                <tr>
                    <th scope="row">"Last 30 days"</th>
                    <td>{units}</td>
                    <td>{money(total)}</td>
                </tr>
            </tfoot>
        </table>
    }
    .into_any()
}

#[component]
fn SalesTable(report: SalesReport) -> impl IntoView {
    if report.total_lines == 0 {
        return view! { <p class="empty">"Nothing sold yet."</p> }.into_any();
    }
    let (page, pages) = (
        report.page,
        report.total_lines.div_ceil(report.per_page.max(1)),
    );
    if report.sales.is_empty() {
        return view! {
            <p class="empty">
                {format!("There is no page {page}: your sales fill {pages}. ")}
                <a href="/seller#sales">"Newest sales"</a>
            </p>
        }
        .into_any();
    }
    view! {
        <table class="sales">
            <thead>
                <tr>
                    <th scope="col">"Date"</th>
                    <th scope="col">"Item"</th>
                    <th scope="col">"Buyer"</th>
                    <th scope="col">"Quantity"</th>
                    <th scope="col">"Amount"</th>
                </tr>
            </thead>
            <tbody>
                {report
                    .sales
                    .into_iter()
                    .map(|s| {
                        view! {
                            <tr data-purchase=s.transaction_id.to_string()>
                                <td>{date_time(s.at)}</td>
                                <td>{s.title}</td>
                                <td>{s.buyer_name}</td>
                                <td>{s.quantity}</td>
                                <td>{money(s.amount_cents)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
            <tfoot>
                <tr>
                    <th scope="row" colspan="3">"Total, all pages"</th>
                    <td>{report.total_quantity}</td>
                    <td>{money(report.total_cents)}</td>
                </tr>
            </tfoot>
        </table>
        <Pager
            page
            pages
            link=|n| format!("/seller?page={n}#sales")
            label="Sales pages"
            previous="Newer sales"
            next="Older sales"
        />
    }
    .into_any()
}

/// The action of a form that carries a picture: its `FormData`, sent as multipart.
type UploadAction = Action<SendWrapper<FormData>, Result<ItemView, AppError>>;

/// Sends an upload form through `action`, in place, when the page is live; without
/// JavaScript the browser posts the same multipart form itself.
fn send_in_place(ev: &SubmitEvent, form: NodeRef<leptos::html::Form>, action: UploadAction) {
    if let Some(form) = form.get_untracked()
        && let Ok(data) = FormData::new_with_form(&form)
    {
        ev.prevent_default();
        action.dispatch(SendWrapper::new(data));
    }
}

/// A file input for a picture, with what is accepted and its error right below it.
#[component]
fn PictureField(
    label: String,
    #[prop(into)] error: Signal<Option<AppError>>,
    /// Keeps ids unique when the page shows the field more than once.
    #[prop(optional, into)]
    id_prefix: String,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    let id = format!("{id_prefix}field-picture");
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let message = move || error.get().and_then(|e| e.message_for("picture"));
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <p class="hint" id=hint_id.clone()>
                "A JPEG, PNG or WebP photo of at most 5 MB."
            </p>
            <input
                id=id
                type="file"
                name="picture"
                accept="image/jpeg,image/png,image/webp"
                required=required
                aria-invalid=move || message().is_some().to_string()
                aria-describedby=format!("{hint_id} {error_id}")
            />
            <p class="field-error" id=error_id aria-live="polite">
                {message}
            </p>
        </div>
    }
}

/// The seed's "box to enter an item", with a picture from the seller's device or an
/// address.
#[component]
fn AddItemForm(add: UploadAction) -> impl IntoView {
    let error = Store::get().form_error(AddItem::PATH, None, move || add.value().get());
    let added = move || {
        add.value()
            .get()
            .and_then(Result::ok)
            .map(|item| format!("Listed “{}”.", item.title))
    };
    // A key per filled-in form: submitting the same form twice lists the item once.
    let form_key = super::fresh_form_key();
    let request_id = move || format!("{form_key}-{}", add.version().get());
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if add.value().with(|v| matches!(v, Some(Ok(_))))
            && let Some(form) = form.get()
        {
            form.reset();
        }
    });
    view! {
        <section class="panel" aria-labelledby="add-item">
            <h2 id="add-item">"Add an item"</h2>
            <form
                method="post"
                action=AddItem::PATH
                enctype="multipart/form-data"
                class="stacked-form"
                node_ref=form
                on:submit=move |ev| send_in_place(&ev, form, add)
            >
                <FormError error />
                <Field label="Title" name="title" required=true error />
                <div class="field">
                    <label for="field-description">"Description"</label>
                    <textarea id="field-description" name="description" rows="4" maxlength="5000"></textarea>
                    <p class="field-error" aria-live="polite">
                        {move || error.get().and_then(|e| e.message_for("description"))}
                    </p>
                </div>
                <Field label="Price" name="price" inputmode="decimal" hint="In dollars, e.g. 12.50." required=true error />
                <Field label="Stock" name="stock" kind="number" inputmode="numeric" value="1" required=true error />
                <PictureField label="Picture (optional)".to_owned() error />
                <Field
                    label="Or a picture's address (optional)"
                    name="image_url"
                    kind="url"
                    hint="An https:// address of a picture."
                    error
                />
                <input type="hidden" name="request_id" value=request_id />
                <button type="submit" disabled=move || add.pending().get()>
                    "Add item"
                </button>
                <p class="form-success" aria-live="polite">{added}</p>
            </form>
        </section>
    }
}

/// "Upload picture" for one of the seller's items; `changed` is told when it worked, so the
/// list is read again.
#[component]
fn PictureForm(item_id: String, title: String, changed: WriteSignal<u32>) -> impl IntoView {
    let upload: UploadAction =
        Action::new(|form: &SendWrapper<FormData>| api::set_picture(FormData::clone(form).into()));
    let error = Store::get().form_error(SetPicture::PATH, Some(item_id.clone()), move || {
        upload.value().get()
    });
    Effect::new(move |_| {
        if upload.value().with(|v| matches!(v, Some(Ok(_)))) {
            changed.update(|n| *n += 1);
        }
    });
    let form = NodeRef::<leptos::html::Form>::new();
    view! {
        <form
            method="post"
            action=SetPicture::PATH
            enctype="multipart/form-data"
            class="picture-form"
            node_ref=form
            on:submit=move |ev| send_in_place(&ev, form, upload)
        >
            <input type="hidden" name="item_id" value=item_id.clone() />
            <PictureField
                label="New picture".to_owned()
                id_prefix=format!("item-{item_id}-")
                required=true
                error
            />
            <button
                type="submit"
                class="secondary"
                aria-label=format!("Upload picture for {title}")
                disabled=move || upload.pending().get()
            >
                "Upload picture"
            </button>
            <FormError error />
        </form>
    }
}

/// One of the seller's items with its picture, inline edit of price and stock, "Upload
/// picture", and a button that takes it off sale or puts it back.
#[component]
fn OwnItem(item: ItemView, items_changed: WriteSignal<u32>) -> impl IntoView {
    let save = ServerAction::<SaveItem>::new();
    let error = Store::get().form_error(SaveItem::PATH, Some(item.id.to_string()), move || {
        save.value().get()
    });
    let saved = move || {
        save.value().get().and_then(Result::ok).map(|item| {
            format!(
                "Saved: {} with {} in stock.",
                money(item.price_cents),
                item.stock
            )
        })
    };
    let prefix = format!("item-{}-", item.id);
    let on_sale_form = view! {
        <OnSaleForm
            item_id=item.id.to_string()
            title=item.title.clone()
            now_on_sale=item.on_sale
            changed=items_changed
        />
    };
    let picture_form = view! {
        <PictureForm item_id=item.id.to_string() title=item.title.clone() changed=items_changed />
    };
    let picture = card_image_of(&item);
    let picture_alt = format!("Picture of {}", item.title);
    let href = format!("/items?itemId={}", item.id);
    view! {
        <li class="own-item">
            <img
                class="own-item-picture"
                src=picture
                alt=picture_alt
                width="96"
                height="96"
                referrerpolicy="no-referrer"
            />
            <h3>
                <a href=href>{item.title.clone()}</a>
            </h3>
            <p class="meta">
                {format!("Sold {} · listed at {}", item.sold, money(item.price_cents))}
                {(!item.on_sale).then(|| view! { " · " <strong class="off-sale">"Off sale: not in the catalog"</strong> })}
            </p>
            <ActionForm action=save attr:class="inline-edit">
                <input type="hidden" name="item_id" value=item.id.to_string() />
                <Field
                    label="Price"
                    name="price"
                    inputmode="decimal"
                    value=format_cents(item.price_cents).replace(',', "")
                    id_prefix=prefix.clone()
                    required=true
                    error
                />
                <Field
                    label="Stock"
                    name="stock"
                    kind="number"
                    inputmode="numeric"
                    value=item.stock.to_string()
                    id_prefix=prefix
                    required=true
                    error
                />
                <button type="submit" aria-label=format!("Save {}", item.title)>
                    "Save"
                </button>
                <FormError error />
                <p class="form-success" aria-live="polite">{saved}</p>
            </ActionForm>
            {picture_form}
            {on_sale_form}
        </li>
    }
}

/// "Remove from sale" for an item on sale, "Put back on sale" for one taken off; `changed` is
/// told when it worked, so the list is read again.
#[component]
fn OnSaleForm(
    item_id: String,
    title: String,
    now_on_sale: bool,
    changed: WriteSignal<u32>,
) -> impl IntoView {
    let action = ServerAction::<SetOnSale>::new();
    let error = Store::get().form_error(SetOnSale::PATH, Some(item_id.clone()), move || {
        action.value().get()
    });
    Effect::new(move |_| {
        if action.value().with(|v| matches!(v, Some(Ok(_)))) {
            changed.update(|n| *n += 1);
        }
    });
    let (label, next) = if now_on_sale {
        ("Remove from sale", "false")
    } else {
        ("Put back on sale", "true")
    };
    view! {
        <ActionForm action attr:class="on-sale-form">
            <input type="hidden" name="item_id" value=item_id />
            <input type="hidden" name="on_sale" value=next />
            <button type="submit" class="secondary" aria-label=format!("{label}: {title}")>
                {label}
            </button>
            <FormError error />
        </ActionForm>
    }
}
