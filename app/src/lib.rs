//! The marketplace's user interface: pages, routes, the global store and the server
//! functions, compiled for the server (feature `ssr`) and the browser (feature `hydrate`).

pub mod api;
pub mod error;
mod layout;
mod live;
mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;
mod store;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// Name of the built site bundle: `/pkg/marketplace.js`, `_bg.wasm` and `.css`.
pub const SITE_NAME: &str = "marketplace";

/// The HTML document around the app, rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let store = store::Store::provide();
    // Effects run only in the browser, so this flips once the page is hydrated and
    // interactive; browser tests wait for it before clicking.
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| {
        set_hydrated.set(true);
        // When the page became interactive, for `hydration-bench` (User Timing).
        if let Some(performance) = window().performance() {
            let _ = performance.mark("hydrated");
        }
    });

    view! {
        <Stylesheet id="leptos" href=format!("/pkg/{SITE_NAME}.css") />
        <Title text="Marketplace" />
        <Router>
            <div
                class="app"
                data-hydrated=move || hydrated.get().to_string()
                data-live=move || if store.live.connected.get() { "connected" } else { "connecting" }
            >
                <layout::Header />
                <layout::NewsFeed />
                <main id="main">
                    // Every page waits for its data (and the header for who is signed in)
                    // before sending any HTML, so each is complete without JavaScript.
                    <Routes fallback=|| view! { <pages::NotFound /> }>
                        <Route path=path!("") view=pages::catalog::CatalogPage ssr=SsrMode::Async />
                        <Route path=path!("items") view=pages::item::ItemPage ssr=SsrMode::Async />
                        <Route path=path!("login") view=pages::account::LoginPage ssr=SsrMode::Async />
                        <Route path=path!("register") view=pages::account::RegisterPage ssr=SsrMode::Async />
                        <Route path=path!("seller") view=pages::seller::SellerPage ssr=SsrMode::Async />
                        <Route path=path!("status") view=pages::status::StatusPage ssr=SsrMode::Async />
                        <Route path=path!("cart") view=pages::shopping::CartPage ssr=SsrMode::Async />
                        <Route path=path!("purchases") view=pages::orders::PurchasesPage ssr=SsrMode::Async />
                        <Route path=path!("purchases/:id") view=pages::orders::OrderPage ssr=SsrMode::Async />
                    </Routes>
                </main>
                <footer class="site-footer">
                    <a href="/status">"Service status"</a>
                </footer>
            </div>
        </Router>
    }
}
