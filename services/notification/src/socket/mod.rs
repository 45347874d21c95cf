//! One browser's live socket.
//!
//! Protocol (JSON text frames, types in `wire::socket`): the browser sends
//! `{"op":"subscribe","topic":…}` / `{"op":"unsubscribe","topic":…}` for the topics `feed`,
//! `item:<id>` and `user`; the service answers `subscribed` or `refused` (with the reason) and
//! then sends `event`s, and `resync` when events may have been lost.
//!
//! Guards: the `Origin` must be on the allowlist (cross-site WebSocket hijacking); every
//! handshake carries the gateway's signed token (a signed-in user's, or the gateway's own for
//! an anonymous visitor), which names the client's address; each address may hold only so
//! many sockets across all instances ([`crate::quota`]); `user` needs a signed-in user;
//! anonymous sockets may hold only a few topics; messages are size-limited and rate-limited
//! per socket; the service pings and closes sockets that stop answering; a user's sockets
//! close when they sign out.

mod connection;
mod limits;
mod origin;
mod topics;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::error::ServiceError;
use common::identity::{Caller, IDENTITY_HEADER, IdentityKey};

use crate::hub::Hub;
use crate::presence::Presence;
use crate::quota::SocketQuota;

use self::connection::Connection;
use self::origin::normalise_origin;

pub use self::limits::Limits;

const READ_BUFFER_BYTES: usize = 4 * 1024;

#[derive(Clone)]
pub struct AppState {
    hub: Arc<Hub>,
    presence: Arc<Presence>,
    quota: Arc<SocketQuota>,
    identity: IdentityKey,
    allowed_origins: Arc<[String]>,
    limits: Limits,
    next_socket: Arc<AtomicU64>,
}

impl AppState {
    pub fn new(
        hub: Arc<Hub>,
        presence: Arc<Presence>,
        quota: Arc<SocketQuota>,
        identity: IdentityKey,
        allowed_origins: Vec<String>,
        limits: Limits,
    ) -> Self {
        let allowed_origins = allowed_origins
            .iter()
            .map(|origin| normalise_origin(origin))
            .collect();
        Self {
            hub,
            presence,
            quota,
            identity,
            allowed_origins,
            limits,
            next_socket: Arc::default(),
        }
    }
}

/// Why a handshake was refused; the browser gets the message.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("live updates need the page's Origin header")]
    NoOrigin,
    #[error("pages from {0} may not open live updates")]
    OriginNotAllowed(String),
    #[error("the signed identity is not valid")]
    BadIdentity,
    #[error("live updates are opened through the marketplace's own address")]
    NotFromGateway,
    #[error("too many live connections from your address; close some tabs")]
    TooManySockets,
}

impl ServiceError for Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Self::NoOrigin | Self::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::BadIdentity | Self::NotFromGateway => StatusCode::UNAUTHORIZED,
            Self::TooManySockets => StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        tracing::warn!(refusal = %self, "refused a live socket");
        common::error::respond(self)
    }
}

/// `GET /v1/live`: the WebSocket handshake.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, Refusal> {
    state.check_origin(&headers)?;
    // Only through the gateway, which signs either the user or itself (an anonymous visitor);
    // a bad token means someone is forging, so no socket at all.
    let token = headers
        .get(IDENTITY_HEADER)
        .ok_or(Refusal::NotFromGateway)?
        .to_str()
        .map_err(|_| Refusal::BadIdentity)?;
    let signed = state
        .identity
        .verify(token, SystemTime::now())
        .map_err(|_| Refusal::BadIdentity)?;
    let user = match (signed.caller, signed.user) {
        (Caller::User, Some(user)) => Some(user.user_id),
        (Caller::Gateway, None) => None,
        _ => return Err(Refusal::BadIdentity),
    };
    let address = signed
        .client_address
        .unwrap_or_else(|| "unknown".to_owned());
    let socket = state.next_socket.fetch_add(1, Ordering::Relaxed);
    if !state.quota.admit(&address, socket).await {
        return Err(Refusal::TooManySockets);
    }
    let limits = state.limits;
    Ok(upgrade
        // The default 128 KiB read buffer per socket would dwarf every other cost of a
        // connection; browsers send only small subscribe messages.
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(limits.max_message_bytes)
        .max_frame_size(limits.max_message_bytes)
        .on_failed_upgrade({
            let (quota, address) = (state.quota.clone(), address.clone());
            move |_| {
                tokio::spawn(async move { quota.release(&address, socket).await });
            }
        })
        .on_upgrade(move |ws| async move {
            let quota = state.quota.clone();
            Connection::new(state, socket, user).run(ws).await;
            quota.release(&address, socket).await;
        }))
}
