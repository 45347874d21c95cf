//! The global store (Leptos context + signals): the session user, the account actions that
//! change it, and the cart. Pages read it with `Store::get()`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use wire::socket_topics;
use wire::user::UserView;

use crate::api::{Buy, LogIn, LogOut, Register, current_user};
use crate::error::AppError;
use crate::live::Live;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub item_id: String,
    pub title: String,
    pub price_cents: i64,
    pub quantity: i64,
}

#[derive(Clone, Copy)]
pub struct Store {
    pub user: Resource<Result<Option<UserView>, AppError>>,
    pub log_in: ServerAction<LogIn>,
    pub log_out: ServerAction<LogOut>,
    pub register: ServerAction<Register>,
    pub buy: ServerAction<Buy>,
    /// Kept in the browser's localStorage, so it survives reloads and is the same in every tab.
    pub cart: RwSignal<Vec<CartLine>>,
    /// The live-updates socket's signals.
    pub live: Live,
}

const CART_KEY: &str = "marketplace-cart";

fn saved_cart() -> Option<Vec<CartLine>> {
    let storage = window().local_storage().ok().flatten()?;
    let json = storage.get_item(CART_KEY).ok().flatten()?;
    serde_json::from_str(&json).ok()
}

impl Store {
    pub fn provide() -> Self {
        let log_in = ServerAction::<LogIn>::new();
        let log_out = ServerAction::<LogOut>::new();
        let register = ServerAction::<Register>::new();
        let buy = ServerAction::<Buy>::new();
        // Any finished account action re-reads who is signed in.
        let user = Resource::new(
            move || {
                (
                    log_in.version().get(),
                    log_out.version().get(),
                    register.version().get(),
                )
            },
            |_| current_user(),
        );
        let cart = RwSignal::new(Vec::new());
        // In the browser only (effects do not run on the server): load the saved cart and
        // follow changes other tabs make to it.
        Effect::new(move |_| {
            if let Some(saved) = saved_cart() {
                cart.set(saved);
            }
            let listener = window_event_listener(leptos::ev::storage, move |event| {
                if event.key().as_deref() == Some(CART_KEY) {
                    cart.set(saved_cart().unwrap_or_default());
                }
            });
            on_cleanup(move || listener.remove());
        });
        let live = Live::new();
        let signed_in_as = move || {
            user.get()
                .and_then(|answer| answer.ok().flatten())
                .map(|user| user.id)
        };
        // The user's own events (purchases made in another tab or browser) while signed in.
        live.follow(move || signed_in_as().map(|_| socket_topics::USER.to_owned()));
        // The socket carries the identity it was opened with: a new one after logging in or out.
        Effect::new(move |previous: Option<Option<wire::UserId>>| {
            let current = signed_in_as();
            if previous.is_some_and(|previous| previous != current) {
                live.reconnect();
            }
            current
        });
        let store = Self {
            user,
            log_in,
            log_out,
            register,
            buy,
            cart,
            live,
        };
        provide_context(store);
        store
    }

    pub fn get() -> Self {
        expect_context::<Self>()
    }

    /// Changes the cart and saves it for the other tabs.
    pub fn update_cart(&self, change: impl FnOnce(&mut Vec<CartLine>)) {
        self.cart.update(|lines| {
            change(lines);
            lines.retain(|l| l.quantity > 0);
        });
        let json = serde_json::to_string(&self.cart.get_untracked()).unwrap_or_default();
        if let Some(storage) = window().local_storage().ok().flatten() {
            let _ = storage.set_item(CART_KEY, &json);
        }
    }

    pub fn add_to_cart(&self, item_id: &str, title: &str, price_cents: i64) {
        let (item_id, title) = (item_id.to_owned(), title.to_owned());
        self.update_cart(
            move |lines| match lines.iter_mut().find(|l| l.item_id == item_id) {
                Some(line) => line.quantity += 1,
                None => lines.push(CartLine {
                    item_id,
                    title,
                    price_cents,
                    quantity: 1,
                }),
            },
        );
    }
}
