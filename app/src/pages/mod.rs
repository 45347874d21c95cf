//! The pages, one module each, and the small pieces they share.

pub mod account;
pub mod catalog;
pub mod item;
pub mod orders;
pub mod seller;
pub mod shopping;
pub mod status;

use crate::page_title::PageTitle;
use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

use crate::error::AppError;

/// Declares a route whose page the browser loads in its own piece of the bundle, the first time
/// that page is shown (`scripts/build-site.sh` cuts the bundle at each of these; the server
/// renders it as any other page). The page's data is its own: its resources start in the page,
/// and the first page a browser opens has them in the server's HTML already.
macro_rules! lazily_loaded_page {
    ($(#[$doc:meta])* $route:ident => $page:path) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                view! { {$page()} <MarkHydrated /> }.into_any()
            }
        }
    };
}

/// Whether the page is hydrated: `data-hydrated="true"` on the app's root, which browser tests
/// wait for before clicking, and what the live socket waits for before it opens. A lazily
/// loaded page hydrates after the rest of the app, when its piece of the bundle has arrived;
/// until then its HTML must stay as the server sent it, so nothing may change the data it shows.
#[derive(Clone, Copy)]
pub struct PageHydrated(RwSignal<bool>);

impl PageHydrated {
    /// Makes the flag for this page load (not yet hydrated) and provides it to the app.
    pub fn provide() -> Self {
        let flag = Self(RwSignal::new(false));
        provide_context(flag);
        flag
    }

    /// The flag of the current app, if any.
    pub fn get() -> Option<Self> {
        use_context::<Self>()
    }

    /// Whether the page is hydrated (tracked).
    pub fn is_hydrated(self) -> bool {
        self.0.get()
    }
}

/// Placed after a page's view: effects run only in the browser, after the view they follow
/// has hydrated, so this flips `PageHydrated` once the page is interactive, and makes the
/// User Timing mark `hydrated` that `hydration-bench` reads.
#[component]
pub fn MarkHydrated() -> impl IntoView {
    let flag = PageHydrated::get();
    Effect::new(move |_| {
        if let Some(PageHydrated(hydrated)) = flag {
            hydrated.set(true);
        }
        if let Some(performance) = window().performance() {
            let _ = performance.mark("hydrated");
        }
    });
}

lazily_loaded_page!(
    /// `/login`.
    LoginRoute => account::LoginPage
);
lazily_loaded_page!(
    /// `/register`.
    RegisterRoute => account::RegisterPage
);
lazily_loaded_page!(
    /// `/seller`: a seller's items and sales.
    SellerRoute => seller::SellerPage
);
lazily_loaded_page!(
    /// `/status`: the services' health.
    StatusRoute => status::StatusPage
);
lazily_loaded_page!(
    /// `/cart`.
    CartRoute => shopping::CartPage
);
lazily_loaded_page!(
    /// `/purchases`: a buyer's history.
    PurchasesRoute => orders::PurchasesPage
);
lazily_loaded_page!(
    /// `/purchases/:id`: one purchase.
    OrderRoute => orders::OrderPage
);

#[component]
pub fn NotFound(#[prop(default = "Page not found")] heading: &'static str) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::answer_not_found();
    view! {
        <PageTitle page=heading />
        <h1>{heading}</h1>
        <p>"There is nothing at this address. " <a href="/">"Back to the catalog"</a></p>
    }
}

/// What a page shows in place of what it could not load. On the gateway it also gives the
/// page the error's status (503 when a service is away, 401 when signed out…).
#[component]
pub fn ErrorMessage(
    error: AppError,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    error.answer();
    view! { <p role="alert">{error.message} {children.map(|children| children())}</p> }
}

/// A labelled input with its error message right below it.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(into)] error: Signal<Option<AppError>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional, into)] value: String,
    #[prop(optional)] hint: &'static str,
    #[prop(optional)] required: bool,
    /// Keeps ids unique when a page shows the same form more than once.
    #[prop(optional, into)]
    id_prefix: String,
    #[prop(optional)] inputmode: &'static str,
) -> impl IntoView {
    let id = format!("{id_prefix}field-{name}");
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let message = move || error.get().and_then(|e| e.message_for(name));
    let described_by = if hint.is_empty() {
        error_id.clone()
    } else {
        format!("{hint_id} {error_id}")
    };
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            {(!hint.is_empty()).then(|| view! { <p class="hint" id=hint_id.clone()>{hint}</p> })}
            <input
                id=id
                type=kind
                name=name
                value=value
                autocomplete=(!autocomplete.is_empty()).then_some(autocomplete)
                inputmode=(!inputmode.is_empty()).then_some(inputmode)
                required=required
                aria-invalid=move || message().is_some().to_string()
                aria-describedby=described_by
            />
            <p class="field-error" id=error_id aria-live="polite">
                {message}
            </p>
        </div>
    }
}

/// A form's message that belongs to no single field.
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <p class="form-error" role="alert">
            {move || error.get().and_then(|e| e.general_message())}
        </p>
    }
}

/// A fresh random key for one filled-in form (a purchase's idempotency key, an item's
/// request id), made where the form is rendered: no round trip, and nothing for an async
/// server render to wait for.
pub fn fresh_form_key() -> String {
    #[cfg(feature = "ssr")]
    if let Some(placeholders) = crate::ssr::placeholders() {
        // A personal page's template: each visitor's copy gets a fresh key in its place.
        return placeholders.form_key().to_owned();
    }
    #[cfg(feature = "ssr")]
    let bytes: [u8; 12] = rand::random();
    #[cfg(not(feature = "ssr"))]
    let bytes = {
        let mut bytes = [0u8; 12];
        if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
            let _ = crypto.get_random_values_with_u8_array(&mut bytes);
        }
        bytes
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Percent-encodes a query value.
pub fn encode_query(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(byte as char)
            }
            b' ' => encoded.push('+'),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// The item's picture, or the placeholder when it has none.
pub fn image_of(item: &wire::inventory::ItemView) -> String {
    item.image_url
        .clone()
        .unwrap_or_else(|| "/images/placeholder.svg".to_owned())
}

/// The item's picture for a catalog card or a thumbnail: the smaller copy of an uploaded
/// picture, else as [`image_of`].
pub fn card_image_of(item: &wire::inventory::ItemView) -> String {
    wire::picture::card_address(&image_of(item))
}

/// "3 in stock" or "Sold out", as the item page says it (a catalog card says less:
/// [`wire::inventory::CardStock`]).
pub fn stock_text(stock: i64) -> String {
    if stock > 0 {
        format!("{stock} in stock")
    } else {
        "Sold out".to_owned()
    }
}

/// The page asked for in `?page=`: from 1 to 10,000, the first when absent or not a number.
pub fn page_number(raw: Option<String>) -> u64 {
    raw.and_then(|p| p.trim().parse::<u64>().ok())
        .unwrap_or(1)
        .clamp(1, 10_000)
}

/// "Previous page · Page 2 of 5 · Next page": plain links, so paging works without
/// JavaScript. Nothing when everything fits on one page.
#[component]
pub fn Pager(
    page: u64,
    pages: u64,
    /// The address of page `n`.
    link: impl Fn(u64) -> String + 'static,
    /// Names the list being paged, for screen readers: "Catalog pages".
    label: &'static str,
    #[prop(default = "Previous page")] previous: &'static str,
    #[prop(default = "Next page")] next: &'static str,
) -> impl IntoView {
    (pages > 1).then(|| {
        view! {
            <nav class="pager" aria-label=label>
                {(page > 1).then(|| view! { <a href=link(page - 1) rel="prev">{previous}</a> })}
                <span>{format!("Page {page} of {pages}")}</span>
                {(page < pages).then(|| view! { <a href=link(page + 1) rel="next">{next}</a> })}
            </nav>
        }
    })
}

/// "4 Dec 2026, 14:03 UTC" for Unix milliseconds. Always UTC, so the server's HTML and the
/// hydrated page agree.
pub fn date_time(at_ms: i64) -> String {
    format!(
        "{}, {}",
        wire::calendar::short_date(wire::calendar::day_of(at_ms)),
        time_of_day(at_ms)
    )
}

/// "14:03 UTC" for Unix milliseconds.
pub fn time_of_day(at_ms: i64) -> String {
    let minute_of_day = at_ms.rem_euclid(wire::calendar::DAY_MS) / 60_000;
    format!("{:02}:{:02} UTC", minute_of_day / 60, minute_of_day % 60)
}

/// "$12.50" for 1250 cents.
pub fn money(cents: i64) -> String {
    format!("${}", wire::money::format_cents(cents))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_a_date_and_a_clock_in_utc() {
        assert_eq!(date_time(0), "1 Jan 1970, 00:00 UTC");
        // 2026-12-04T14:03:59.999Z
        assert_eq!(date_time(1_796_393_039_999), "4 Dec 2026, 14:03 UTC");
        assert_eq!(time_of_day(1_796_393_039_999), "14:03 UTC");
        // Leap days, century rules and the day before the epoch.
        assert_eq!(date_time(951_782_400_000), "29 Feb 2000, 00:00 UTC");
        assert_eq!(date_time(4_107_542_400_000), "1 Mar 2100, 00:00 UTC");
        assert_eq!(date_time(-1), "31 Dec 1969, 23:59 UTC");
    }

    #[test]
    fn a_page_number_is_a_whole_number_from_one() {
        assert_eq!(page_number(None), 1);
        assert_eq!(page_number(Some(" 3 ".into())), 3);
        assert_eq!(page_number(Some("0".into())), 1);
        assert_eq!(page_number(Some("two".into())), 1);
        assert_eq!(page_number(Some("99999999".into())), 10_000);
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_query("red lamp & co"), "red+lamp+%26+co");
        assert_eq!(encode_query("é"), "%C3%A9");
    }
}
