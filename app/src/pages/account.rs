use crate::page_title::PageTitle;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::A;

use leptos::server_fn::ServerFn;

use super::{Field, FormError};
use crate::api::{LogIn, Register};
use crate::store::Store;

#[component]
pub fn LoginPage() -> impl IntoView {
    let store = Store::get();
    let action = ServerAction::<LogIn>::new();
    store.reread_user_and_cart_after(action.version());
    let error = store.form_error(LogIn::PATH, None, move || action.value().get());
    view! {
        <PageTitle page="Log in" />
        <h1>"Log in"</h1>
        <ActionForm action attr:class="stacked-form">
            <FormError error />
            <Field label="Email" name="email" kind="email" autocomplete="email" required=true error />
            <Field
                label="Password"
                name="password"
                kind="password"
                autocomplete="current-password"
                required=true
                error
            />
            <button type="submit">"Log in"</button>
        </ActionForm>
        <p>"New here? " <A href="/register">"Register"</A></p>
    }
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let store = Store::get();
    let action = ServerAction::<Register>::new();
    store.reread_user_and_cart_after(action.version());
    let error = store.form_error(Register::PATH, None, move || action.value().get());
    view! {
        <PageTitle page="Register" />
        <h1>"Register"</h1>
        <p>"Anyone can buy; list an item and you are a seller too."</p>
        <ActionForm action attr:class="stacked-form">
            <FormError error />
            <Field label="Email" name="email" kind="email" autocomplete="email" required=true error />
            <Field label="Your name" name="display_name" autocomplete="name" required=true error />
            <Field
                label="Password"
                name="password"
                kind="password"
                autocomplete="new-password"
                hint="At least 8 characters."
                required=true
                error
            />
            <button type="submit">"Register"</button>
        </ActionForm>
        <p>"Already registered? " <A href="/login">"Log in"</A></p>
    }
}
