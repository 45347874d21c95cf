use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::A;

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
                        {move || format!("({})", store.cart.with(|c| c.iter().map(|l| l.quantity).sum::<i64>()))}
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
                                _ => {
                                    view! {
                                        <A href="/login">"Log in"</A>
                                        <A href="/register">"Register"</A>
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
