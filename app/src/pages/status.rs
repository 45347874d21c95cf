use crate::page_title::PageTitle;
use leptos::prelude::*;

use crate::api::check_services;

/// Which services are ready, asked through a server function that calls each service's
/// `/readyz`. "Check again" works once the page is hydrated.
#[component]
pub fn StatusPage() -> impl IntoView {
    let (checks, set_checks) = signal(1u32);
    let status = Resource::new(move || checks.get(), |_| check_services());

    view! {
        <PageTitle page="Service status" />
        <h1>"Service status"</h1>
        <section class="panel" aria-label="Services">
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
