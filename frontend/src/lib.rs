//! The browser's entry point: hydrates the server-rendered page.

// The app's whole view type, awaited by `hydrate_lazy`, nests deeper than the default 128.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // The release bundle traps on a panic without a message (`scripts/build-site.sh`), so only
    // a development build has messages to show.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    // `hydrate_lazy`: the page's own code may still be on its way (a lazily loaded route).
    leptos::mount::hydrate_lazy(app::App);
}
