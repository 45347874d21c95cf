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
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::error::ServiceError;
use common::identity::{Caller, IDENTITY_HEADER, IdentityKey};
use wire::ErrorBody;

use crate::hub::Hub;
use crate::presence::Presence;
use crate::quota::SocketQuota;

use self::connection::Connection;
use self::origin::normalise_origin;

pub use self::limits::Limits;

/// How much tungstenite reads from a socket at a time. It zero-fills this much before every
/// read attempt, including each poll that finds nothing to read (one per frame sent), and
/// browsers send only subscribe messages of a few dozen bytes; a longer message takes more reads.
const READ_BUFFER_BYTES: usize = 512;

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
    #[error("live updates need a WebSocket handshake")]
    NotAWebSocket,
}

impl ServiceError for Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Self::NoOrigin | Self::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::BadIdentity | Self::NotFromGateway => StatusCode::UNAUTHORIZED,
            Self::TooManySockets => StatusCode::TOO_MANY_REQUESTS,
            Self::NotAWebSocket => StatusCode::UPGRADE_REQUIRED,
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
#[utoipa::path(
    get,
    path = "/v1/live",
    params(
        ("Origin" = String, Header, description = "The page's origin; only the marketplace's own may open live updates."),
        ("Upgrade" = String, Header, description = "`websocket`."),
        ("Connection" = String, Header, description = "`Upgrade`."),
        ("Sec-WebSocket-Key" = String, Header, description = "The handshake's key (RFC 6455)."),
        ("Sec-WebSocket-Version" = String, Header, description = "`13`.")
    ),
    security(("signed_user" = []), ("signed_gateway" = [])),
    responses(
        (status = 101, description = "The socket is open: the browser subscribes to topics and receives `wire::socket` messages as JSON text frames."),
        (status = 401, description = "No identity token, or a forged or expired one, or one for another caller.", body = ErrorBody),
        (status = 403, description = "No `Origin`, or one that may not open live updates.", body = ErrorBody),
        (status = 426, description = "Not a WebSocket handshake.", body = ErrorBody),
        (status = 429, description = "Too many live connections from this address.", body = ErrorBody)
    )
)]
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
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
    let upgrade = upgrade.map_err(|_| Refusal::NotAWebSocket)?;
    let socket = state.next_socket.fetch_add(1, Ordering::Relaxed);
    if !state.quota.admit(&address, socket).await {
        return Err(Refusal::TooManySockets);
    }
    let limits = state.limits;
    Ok(upgrade
        // The default 128 KiB read buffer per socket would dwarf every other cost of a
        // connection.
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
