use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Header() -> impl IntoView {
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
            </nav>
        </header>
    }
}
