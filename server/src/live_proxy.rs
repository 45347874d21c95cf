//! `/live`: the browser's live-updates WebSocket, passed through to a notification instance.
//!
//! The gateway resolves the session cookie (the notification service never sees it) and adds
//! the user's signed identity to the handshake. After the notification service accepts, the
//! WebSocket bytes flow through untouched both ways, so its pings, the browser's pongs and
//! close frames are end to end, and its refusals (bad Origin) reach the browser as they are.

use std::time::Duration;

use app::ssr::Backends;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    CONNECTION, HOST, HeaderName, ORIGIN, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use clients::CallContext;
use common::client::ClientAddress;
use common::error::ServiceError;
use common::identity::IDENTITY_HEADER;
use common::serve::REQUEST_ID_HEADER;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Handshake headers the notification service needs from the browser.
const FORWARDED: [HeaderName; 5] = [
    SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_VERSION,
    SEC_WEBSOCKET_PROTOCOL,
    ORIGIN,
    REQUEST_ID_HEADER,
];
/// Handshake headers the browser needs from the notification service.
const RETURNED: [HeaderName; 2] = [SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_PROTOCOL];

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct LiveProxy {
    backends: Backends,
    /// `host:port` of the notification service; a name with several addresses (one per
    /// copy, as Docker's DNS gives) spreads sockets over them.
    authority: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("this address only accepts WebSocket connections")]
    NotWebSocket,
    #[error("live updates are unavailable right now")]
    Unavailable,
}

impl ServiceError for LiveError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotWebSocket => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

common::answer_errors_with_error_body!(LiveError);

impl LiveProxy {
    /// `notification_url` is the service's base URL, e.g. `http://notification:8085`.
    pub fn new(backends: Backends, notification_url: &str) -> anyhow::Result<Self> {
        let uri: Uri = notification_url.parse()?;
        let host = uri
            .host()
            .ok_or_else(|| anyhow::anyhow!("NOTIFICATION_SERVICE_URL has no host"))?;
        let port = uri.port_u16().unwrap_or(80);
        Ok(Self {
            backends,
            authority: format!("{host}:{port}"),
        })
    }
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let has = |name: HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value
                .to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has(CONNECTION, "upgrade") && has(UPGRADE, "websocket")
}

/// `GET /live`.
pub async fn live(State(proxy): State<LiveProxy>, mut request: Request) -> Response {
    if !is_websocket_upgrade(request.headers()) {
        return LiveError::NotWebSocket.into_response();
    }
    // Without a live session the socket is anonymous: the feed and item pages still work, the
    // user's own topic is refused. With the user service unable to say (Redis away, loading
    // or full) it is refused (503) and the page tries again: an anonymous socket would
    // quietly miss the user's own events until the page changed who is signed in.
    let client = request
        .extensions()
        .get::<ClientAddress>()
        .map_or_else(|| "unknown".to_owned(), ToString::to_string);
    let user = match proxy.backends.cookie.session_id(request.headers()) {
        Some(session_id) => {
            let context = CallContext {
                request_id: request
                    .headers()
                    .get(REQUEST_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                client_address: Some(client.clone()),
            };
            match proxy.backends.user_of_session(&context, &session_id).await {
                Ok(user) => user,
                Err(err) => {
                    tracing::warn!(%err, "a live socket's session could not be looked up");
                    return LiveError::Unavailable.into_response();
                }
            }
        }
        None => None,
    };
    let mut handshake = axum::http::Request::get("/v1/live")
        .header(HOST, &proxy.authority)
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, "websocket");
    for name in FORWARDED {
        if let Some(value) = request.headers().get(&name) {
            handshake = handshake.header(name, value);
        }
    }
    // Signed either way: the notification service takes sockets from the gateway only, and
    // limits them per client address.
    let token = match &user {
        Some(user) => proxy.backends.signed_identity_from(user, &client),
        None => proxy.backends.gateway_token(&client),
    };
    handshake = handshake.header(IDENTITY_HEADER, token);
    let Ok(handshake) = handshake.body(Body::empty()) else {
        return LiveError::NotWebSocket.into_response();
    };
    let answer = match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        forward_handshake(&proxy.authority, handshake),
    )
    .await
    {
        Ok(Ok(answer)) => answer,
        Ok(Err(err)) => {
            tracing::warn!(%err, "the notification service is unreachable");
            return LiveError::Unavailable.into_response();
        }
        Err(_) => {
            tracing::warn!("the notification service did not answer the handshake");
            return LiveError::Unavailable.into_response();
        }
    };
    if answer.status() != StatusCode::SWITCHING_PROTOCOLS {
        // A refusal (e.g. an Origin not allowed): the browser gets it as it is.
        let (parts, body) = answer.into_parts();
        return Response::from_parts(parts, Body::new(body));
    }
    let mut reply = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, "websocket");
    for name in RETURNED {
        if let Some(value) = answer.headers().get(&name) {
            reply = reply.header(name, value);
        }
    }
    let upstream = hyper::upgrade::on(answer);
    let browser = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match tokio::try_join!(browser, upstream) {
            Ok((browser, upstream)) => {
                let (mut browser, mut upstream) = (TokioIo::new(browser), TokioIo::new(upstream));
                if let Err(err) = tokio::io::copy_bidirectional(&mut browser, &mut upstream).await {
                    tracing::debug!(%err, "live socket ended");
                }
            }
            Err(err) => tracing::debug!(%err, "live socket upgrade failed"),
        }
    });
    reply
        .body(Body::empty())
        .unwrap_or_else(|_| LiveError::Unavailable.into_response())
}

async fn forward_handshake(
    authority: &str,
    handshake: axum::http::Request<Body>,
) -> anyhow::Result<axum::http::Response<hyper::body::Incoming>> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(authority)).await??;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(err) = connection.with_upgrades().await {
            tracing::debug!(%err, "live socket connection ended");
        }
    });
    Ok(sender.send_request(handshake).await?)
}
