use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::check_services;

#[component]
pub fn CatalogPage() -> impl IntoView {
    view! {
        <Title text="Catalog · Marketplace" />
        <h1>"Catalog"</h1>
        <p>"Every item of every seller will be listed here."</p>
        <ServiceStatusPanel />
    }
}

/// Asks the gateway which services are ready (a server function that calls each service
/// over HTTP). "Check again" works only once the page is hydrated.
#[component]
fn ServiceStatusPanel() -> impl IntoView {
    let (checks, set_checks) = signal(1u32);
    let status = Resource::new(move || checks.get(), |_| check_services());

    view! {
        <section class="panel" aria-labelledby="status-heading">
            <h2 id="status-heading">"Service status"</h2>
            <Transition fallback=|| view! { <p>"Checking services…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(services) => {
                            view! {
                                <ul class="service-status">
                                    {services
                                        .into_iter()
                                        .map(|s| {
                                            let state = if s.ready { "ready" } else { "unavailable" };
                                            let label = format!("{}: {state}", s.name);
                                            view! {
                                                <li data-service=s.name.clone() data-ready=s.ready.to_string()>
                                                    {label}
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                            }
                                .into_any()
                        }
                        Err(err) => {
                            view! { <p role="alert">{format!("Could not check the services: {err}")}</p> }
                                .into_any()
                        }
                    }
                })}
            </Transition>
            <p class="check-count" aria-live="polite">
                {move || {
                    let n = checks.get();
                    format!("Checked {n} time{}", if n == 1 { "" } else { "s" })
                }}
            </p>
            <button type="button" on:click=move |_| set_checks.update(|n| *n += 1)>
                "Check again"
            </button>
        </section>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · Marketplace" />
        <h1>"Page not found"</h1>
        <p>
            "There is nothing at this address. " <a href="/">"Back to the catalog"</a>
        </p>
    }
}
