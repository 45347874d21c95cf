//! The marketplace's user interface: pages, routes, the global store and the server
//! functions, compiled for the server (feature `ssr`) and the browser (feature `hydrate`).

pub mod api;
pub mod error;
mod layout;
mod live;
mod page_title;
mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;
mod store;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{Lazy, SsrMode, path};

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
    // Set by the page itself once it is hydrated (`pages::MarkHydrated`): a lazily loaded
    // page hydrates after the rest of the app, when its piece of the bundle has arrived.
    let hydrated = pages::PageHydrated::provide();
    let store = store::Store::provide();

    view! {
        <Stylesheet id="leptos" href=format!("/pkg/{SITE_NAME}.css") />
        <page_title::PageTitle />
        <Router>
            <div
                class="app"
                data-hydrated=move || hydrated.is_hydrated().to_string()
                data-live=move || if store.live.connected.get() { "connected" } else { "connecting" }
            >
                <layout::Header />
                <layout::NewsFeed />
                <main id="main">
                    // Every page waits for its data (and the header for who is signed in)
                    // before sending any HTML, so each is complete without JavaScript.
                    <Routes fallback=|| view! { <pages::NotFound /> <pages::MarkHydrated /> }>
                        // The pages most visits start on are in the main module: no second fetch
                        // before they are interactive. The others are lazily loaded.
                        <Route path=path!("") view=|| view! { <pages::catalog::CatalogPage /> <pages::MarkHydrated /> } ssr=SsrMode::Async />
                        <Route path=path!("items") view=|| view! { <pages::item::ItemPage /> <pages::MarkHydrated /> } ssr=SsrMode::Async />
                        <Route path=path!("login") view={Lazy::<pages::LoginRoute>::new()} ssr=SsrMode::Async />
                        <Route path=path!("register") view={Lazy::<pages::RegisterRoute>::new()} ssr=SsrMode::Async />
                        <Route path=path!("seller") view={Lazy::<pages::SellerRoute>::new()} ssr=SsrMode::Async />
                        <Route path=path!("status") view={Lazy::<pages::StatusRoute>::new()} ssr=SsrMode::Async />
                        <Route path=path!("cart") view={Lazy::<pages::CartRoute>::new()} ssr=SsrMode::Async />
                        <Route path=path!("purchases") view={Lazy::<pages::PurchasesRoute>::new()} ssr=SsrMode::Async />
                        <Route path=path!("purchases/:id") view={Lazy::<pages::OrderRoute>::new()} ssr=SsrMode::Async />
                    </Routes>
                </main>
                <footer class="site-footer">
                    <a href="/status">"Service status"</a>
                </footer>
            </div>
        </Router>
    }
}
