//! The global store (Leptos context + signals): the session user, the cart (kept by the
//! transaction service; see `wire::cart`), and the actions every page may use. Pages read it
//! with `Store::get()`.

use leptos::prelude::*;
use wire::cart::CartView;
use wire::socket_topics;
use wire::user::UserView;

use crate::api::{AddToCart, Buy, LogOut, current_user, my_cart};
use crate::error::{AppError, SentBack};
use crate::live::Live;

#[derive(Clone, Copy)]
pub struct Store {
    /// Who is signed in: read again after logging in, registering or logging out.
    pub user: Resource<Result<Option<UserView>, AppError>>,
    pub log_out: ServerAction<LogOut>,
    pub buy: ServerAction<Buy>,
    /// The cart at today's prices: read again after any cart action, after logging in
    /// or out, and when the user's other tabs and devices change it (their live topic).
    pub cart: Resource<Result<CartView, AppError>>,
    pub add_to_cart: ServerAction<AddToCart>,
    /// The versions of the account actions (log in, register) of the pages that have them.
    /// The actions live in their lazily loaded pages, which keeps their code out of the bundle
    /// every page loads; their versions are kept here because a page may be gone by the time
    /// its action finishes (logging in leaves the page at once), and the user and cart must
    /// still be read again.
    account_actions: RwSignal<Vec<ArcRwSignal<usize>>>,
    /// The same for the cart page's actions (quantity, removal, checkout).
    cart_actions: RwSignal<Vec<ArcRwSignal<usize>>>,
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
        let log_out = ServerAction::<LogOut>::new();
        let buy = ServerAction::<Buy>::new();
        let account_actions = RwSignal::new(Vec::new());
        let cart_actions = RwSignal::new(Vec::new());
        // How many account actions have finished: the sum only grows, and a page's new
        // action (version 0) leaves it as it was, so only a finished action re-reads.
        let account_changes = move || (finished(account_actions), log_out.version().get());
        let user = Resource::new(account_changes, |_| current_user());
        let live = Live::new();
        let add_to_cart = ServerAction::<AddToCart>::new();
        let cart = Resource::new(
            move || {
                (
                    (add_to_cart.version().get(), finished(cart_actions)),
                    account_changes(),
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
            log_out,
            buy,
            cart,
            add_to_cart,
            account_actions,
            cart_actions,
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

    /// For a page's account action (log in, register), given its version: the user and the
    /// cart are read again each time it finishes.
    pub fn reread_user_and_cart_after(&self, version: RwSignal<usize>) {
        self.account_actions
            .update(|versions| versions.push(version.into()));
    }

    /// For a page's cart action (quantity, removal, checkout), given its version: the cart
    /// is read again each time it finishes.
    pub fn reread_cart_after(&self, version: RwSignal<usize>) {
        self.cart_actions
            .update(|versions| versions.push(version.into()));
    }

    /// Units in the cart, for the header: 0 until it is read, `None` when it could not be
    /// (no count rather than a wrong one).
    pub fn cart_units(&self) -> Option<i64> {
        match self.cart.get() {
            None => Some(0),
            Some(Ok(cart)) => Some(cart.units),
            Some(Err(_)) => None,
        }
    }
}

/// How many times the actions whose versions are in `versions` have finished (tracked).
fn finished(versions: RwSignal<Vec<ArcRwSignal<usize>>>) -> usize {
    versions.with(|versions| versions.iter().map(|version| version.get()).sum())
}
