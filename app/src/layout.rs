use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::A;
use wire::socket_topics;

use std::time::Duration;

use crate::error::CANNOT_TELL_WHO;
use crate::live::{banner_text, time_ago};
use crate::store::Store;

#[component]
pub fn Header() -> impl IntoView {
    let store = Store::get();
    view! {
        <header class="site-header">
            <a class="skip-link" href="#main">
                "Skip to content"
            </a>
            <A href="/" attr:class="brand">
                "Marketplace"
            </A>
            <nav aria-label="Main">
                <A href="/">"Catalog"</A>
                <A href="/seller">"Sell"</A>
                <A href="/purchases">"Purchases"</A>
                <A href="/cart">
                    "Cart "
                    <span class="cart-count" aria-live="polite">
                        <Transition fallback=|| "(0)">
                            {move || store.cart_units().map(|units| format!("({units})"))}
                        </Transition>
                    </span>
                </A>
            </nav>
            <div class="account">
                <Transition fallback=|| ()>
                    {move || {
                        store
                            .user
                            .get()
                            .map(|user| match user {
                                Ok(Some(user)) => {
                                    view! {
                                        <span class="who">
                                            "Signed in as " <strong>{user.display_name}</strong>
                                        </span>
                                        <ActionForm action=store.log_out attr:class="inline">
                                            <button type="submit" class="secondary">
                                                "Log out"
                                            </button>
                                        </ActionForm>
                                    }
                                        .into_any()
                                }
                                Ok(None) => {
                                    view! {
                                        <A href="/login">"Log in"</A>
                                        <A href="/register">"Register"</A>
                                    }
                                        .into_any()
                                }
                                Err(err) => {
                                    // The whole page answers 503: it cannot be the visitor's.
                                    #[cfg(feature = "ssr")]
                                    err.answer();
                                    let _ = err;
                                    view! {
                                        <span class="who" role="alert">{CANNOT_TELL_WHO}</span>
                                    }
                                        .into_any()
                                }
                            })
                    }}
                </Transition>
            </div>
        </header>
    }
}

/// Every page: a banner whenever anyone buys something, newest first, each dismissable. It
/// sits in the page's flow under the header, so it never covers a control.
#[component]
pub fn NewsFeed() -> impl IntoView {
    let live = Store::get().live;
    live.follow(|| Some(socket_topics::FEED.to_owned()));
    // "2 min ago" moves on by itself.
    let now = RwSignal::new(js_now());
    Effect::new(move |_| {
        if let Ok(handle) =
            set_interval_with_handle(move || now.set(js_now()), Duration::from_secs(15))
        {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <section class="news-feed" aria-label="Latest purchases" aria-live="polite">
            <For each=move || live.banners.get() key=|banner| banner.id let:banner>
                <div class="banner" role="status">
                    <p>
                        {banner_text(&banner)} " — "
                        <span class="when">{move || time_ago(banner.at, now.get())}</span>
                    </p>
                    <button
                        type="button"
                        class="secondary"
                        aria-label=format!("Dismiss: {}", banner_text(&banner))
                        on:click=move |_| live.dismiss(banner.id)
                    >
                        "Dismiss"
                    </button>
                </div>
            </For>
        </section>
    }
}

/// Unix milliseconds by the browser's clock (0 on the server, where nothing shows times).
fn js_now() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0
    }
}
