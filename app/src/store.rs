//! The global store (Leptos context + signals): the session user and the account actions
//! that change it. Pages read it with `Store::get()`.

use common::types::UserView;
use leptos::prelude::*;

use crate::api::{LogIn, LogOut, Register, current_user};
use crate::error::AppError;

#[derive(Clone, Copy)]
pub struct Store {
    pub user: Resource<Result<Option<UserView>, AppError>>,
    pub log_in: ServerAction<LogIn>,
    pub log_out: ServerAction<LogOut>,
    pub register: ServerAction<Register>,
}

impl Store {
    pub fn provide() -> Self {
        let log_in = ServerAction::<LogIn>::new();
        let log_out = ServerAction::<LogOut>::new();
        let register = ServerAction::<Register>::new();
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
        let store = Self {
            user,
            log_in,
            log_out,
            register,
        };
        provide_context(store);
        store
    }

    pub fn get() -> Self {
        expect_context::<Self>()
    }
}
