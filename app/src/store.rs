//! The global store (Leptos context + signals): the session user, the account actions that
//! change it, and the cart (kept by the transaction service; see `wire::cart`). Pages read it
//! with `Store::get()`.

use leptos::prelude::*;
use wire::cart::CartView;
use wire::socket_topics;
use wire::user::UserView;

use crate::api::{
    AddToCart, Buy, Checkout, LogIn, LogOut, Register, RemoveFromCart, SetCartQuantity,
    current_user, my_cart,
};
use crate::error::{AppError, SentBack};
use crate::live::Live;

#[derive(Clone, Copy)]
pub struct Store {
    pub user: Resource<Result<Option<UserView>, AppError>>,
    pub log_in: ServerAction<LogIn>,
    pub log_out: ServerAction<LogOut>,
    pub register: ServerAction<Register>,
    pub buy: ServerAction<Buy>,
    /// The cart at today's prices: read again after any cart action here, after logging in
    /// or out, and when the user's other tabs and devices change it (their live topic).
    pub cart: Resource<Result<CartView, AppError>>,
    pub add_to_cart: ServerAction<AddToCart>,
    pub set_cart_quantity: ServerAction<SetCartQuantity>,
    pub remove_from_cart: ServerAction<RemoveFromCart>,
    pub checkout: ServerAction<Checkout>,
    /// The item whose "Add to cart" was pressed last, so a refusal shows beside its button.
    pub last_added_item: RwSignal<Option<String>>,
    /// The live-updates socket's signals.
    pub live: Live,
    /// The error a form of this page got when it was posted without JavaScript (see
    /// [`Store::form_error`]).
    sent_back: StoredValue<Option<SentBack>>,
}

impl Store {
    pub fn provide() -> Self {
        // Read (and cleared) on the server; the page carries it to the browser for hydration.
        let sent_back = SharedValue::new(|| {
            #[cfg(feature = "ssr")]
            let sent_back = crate::ssr::take_sent_back();
            #[cfg(not(feature = "ssr"))]
            let sent_back = None;
            sent_back
        })
        .into_inner();
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
        let live = Live::new();
        let add_to_cart = ServerAction::<AddToCart>::new();
        let set_cart_quantity = ServerAction::<SetCartQuantity>::new();
        let remove_from_cart = ServerAction::<RemoveFromCart>::new();
        let checkout = ServerAction::<Checkout>::new();
        let cart = Resource::new(
            move || {
                (
                    (
                        add_to_cart.version().get(),
                        set_cart_quantity.version().get(),
                        remove_from_cart.version().get(),
                        checkout.version().get(),
                    ),
                    (
                        log_in.version().get(),
                        log_out.version().get(),
                        register.version().get(),
                    ),
                    (live.cart_changed.get(), live.resynced.get()),
                )
            },
            |_| my_cart(),
        );
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
            add_to_cart,
            set_cart_quantity,
            remove_from_cart,
            checkout,
            last_added_item: RwSignal::new(None),
            live,
            sent_back: StoredValue::new(sent_back),
        };
        provide_context(store);
        store
    }

    /// The error to show beside a form: its action's latest answer once it has run in this
    /// page (`latest`), else the error the server sent back to the same form posted without
    /// JavaScript — `path` is its server function, `item` the item it acts on when the page
    /// shows one such form per item.
    pub fn form_error<T: Send + Sync + 'static>(
        &self,
        path: &'static str,
        item: Option<String>,
        latest: impl Fn() -> Option<Result<T, AppError>> + Send + Sync + 'static,
    ) -> Signal<Option<AppError>> {
        let sent_back = self.sent_back.with_value(|sent| {
            sent.as_ref()
                .filter(|sent| sent.path == path && sent.item == item)
                .map(|sent| sent.error.clone())
        });
        Signal::derive(move || match latest() {
            Some(answer) => answer.err(),
            None => sent_back.clone(),
        })
    }

    pub fn get() -> Self {
        expect_context::<Self>()
    }

    /// Units in the cart, for the header (0 until known).
    pub fn cart_units(&self) -> i64 {
        self.cart
            .get()
            .and_then(Result::ok)
            .map_or(0, |cart| cart.units)
    }
}
