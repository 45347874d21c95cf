//! Gateway-side state the server functions use: where the services are, one shared HTTP
//! client, the key that signs identities for the services, and the session cookie.

use std::time::{Duration, SystemTime};

use common::identity::{Caller, IDENTITY_HEADER, Identity, IdentityKey};
use common::serve::REQUEST_ID_HEADER;
use wire::user::UserView;
use http::StatusCode;
use http::header::{COOKIE, SET_COOKIE};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::ServiceStatus;
use crate::error::AppError;

#[derive(Debug, Clone)]
pub struct Backends {
    pub http: reqwest::Client,
    pub user_url: String,
    pub inventory_url: String,
    pub transaction_url: String,
    /// Every service, for the status panel: (name, base URL).
    pub services: Vec<(&'static str, String)>,
    pub identity: IdentityKey,
    /// Served over https: the cookie is `__Host-session` and Secure.
    pub secure_cookies: bool,
}

#[derive(serde::Deserialize)]
struct ServiceError {
    error: String,
    field: Option<String>,
}

/// What a person is told when a service fails or cannot be reached.
pub const UNAVAILABLE: &str =
    "The marketplace is having trouble right now; please try again shortly.";

/// Sets the HTTP status of the response being built (page render or server function).
pub fn set_status(status: StatusCode) {
    if let Some(response) = use_context::<ResponseOptions>() {
        response.set_status(status);
    }
}

/// Tells the browser when to try again (`Retry-After`, in seconds).
fn set_retry_after(seconds: &str) {
    if let (Some(response), Ok(value)) = (
        use_context::<ResponseOptions>(),
        http::HeaderValue::from_str(seconds),
    ) {
        response.insert_header(http::header::RETRY_AFTER, value);
    }
}

/// A service failed or cannot be reached: 503 with `Retry-After`, and one plain sentence.
pub fn unavailable() -> AppError {
    set_status(StatusCode::SERVICE_UNAVAILABLE);
    set_retry_after("5");
    AppError::new(UNAVAILABLE)
}

/// Input the gateway itself refuses: 422 with the field named.
pub fn bad_field(field: &str, message: impl Into<String>) -> AppError {
    set_status(StatusCode::UNPROCESSABLE_ENTITY);
    AppError::for_field(field, message)
}

impl Backends {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        user_url: String,
        inventory_url: String,
        transaction_url: String,
        services: Vec<(&'static str, String)>,
        identity: IdentityKey,
        secure_cookies: bool,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .unwrap_or_default();
        Self {
            http,
            user_url,
            inventory_url,
            transaction_url,
            services,
            identity,
            secure_cookies,
        }
    }

    pub async fn readiness(&self) -> Vec<ServiceStatus> {
        let checks = self.services.iter().map(|(name, base)| async move {
            let ready = match self.http.get(format!("{base}/readyz")).send().await {
                Ok(response) => response.status().is_success(),
                Err(err) => {
                    tracing::warn!(service = name, %err, "service unreachable");
                    false
                }
            };
            ServiceStatus {
                name: (*name).to_owned(),
                ready,
            }
        });
        futures::future::join_all(checks).await
    }

    /// Sends a request to a service and reads its JSON answer. A service's 4xx becomes an
    /// `AppError` with its message (and field); anything else is logged and told as
    /// "having trouble", with the same status class passed on to the browser.
    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, AppError> {
        Self::read(Self::send(request).await?).await
    }

    async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, AppError> {
        with_request_id(request).send().await.map_err(|err| {
            tracing::error!(%err, "service unreachable");
            unavailable()
        })
    }

    async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, AppError> {
        let status = response.status();
        if status.is_success() {
            return response.json::<T>().await.map_err(|err| {
                tracing::error!(%err, "unexpected answer from a service");
                unavailable()
            });
        }
        if status.is_client_error() {
            set_status(status);
            if let Some(wait) = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
            {
                set_retry_after(wait);
            }
            let body: Option<ServiceError> = response.json().await.ok();
            return Err(match body {
                Some(ServiceError {
                    error,
                    field: Some(field),
                }) => AppError::for_field(field, capitalise(&error)),
                Some(ServiceError { error, field: None }) => AppError::new(capitalise(&error)),
                None => AppError::new("That request was not accepted."),
            });
        }
        tracing::error!(%status, "a service failed");
        Err(unavailable())
    }

    pub async fn get<T: DeserializeOwned>(&self, url: String) -> Result<T, AppError> {
        self.call(self.http.get(url)).await
    }

    /// Like `get`, but a 404 from the service is `None` (and the page's status becomes 404).
    pub async fn get_optional<T: DeserializeOwned>(
        &self,
        url: String,
    ) -> Result<Option<T>, AppError> {
        let response = Self::send(self.http.get(url)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            set_status(StatusCode::NOT_FOUND);
            return Ok(None);
        }
        Self::read(response).await.map(Some)
    }

    fn signed(&self, request: reqwest::RequestBuilder, user: &UserView) -> reqwest::RequestBuilder {
        request.header(IDENTITY_HEADER, self.signed_identity(user))
    }

    /// `user`'s identity, signed for the services (the value of `x-marketplace-identity`).
    pub fn signed_identity(&self, user: &UserView) -> String {
        self.signed_identity_from(user, &client_address())
    }

    /// `user`'s identity from the browser at `client_address`, signed for the services.
    pub fn signed_identity_from(&self, user: &UserView, client_address: &str) -> String {
        self.identity.sign_as(
            Caller::User,
            Some(&Self::identity_of(user)),
            Some(client_address),
            SystemTime::now(),
        )
    }

    fn identity_of(user: &UserView) -> Identity {
        Identity {
            user_id: user.id.clone(),
            display_name: user.display_name.clone(),
            email: user.email.clone(),
        }
    }

    /// The gateway's own token, for the user service (sign-in, registration, sessions) and
    /// anonymous live sockets: no user, the client's address.
    pub fn gateway_token(&self, client_address: &str) -> String {
        self.identity.sign_as(
            Caller::Gateway,
            None,
            Some(client_address),
            SystemTime::now(),
        )
    }

    /// A POST to the user service, signed as the gateway for the current client.
    pub async fn post_to_user_service<T: DeserializeOwned>(
        &self,
        path: &[&str],
        body: &impl Serialize,
    ) -> Result<T, AppError> {
        let url = endpoint(&self.user_url, path)?;
        let request = self
            .http
            .post(url)
            .header(IDENTITY_HEADER, self.gateway_token(&client_address()))
            .json(body);
        self.call(request).await
    }

    /// A GET that acts for `user`.
    pub async fn get_as<T: DeserializeOwned>(
        &self,
        url: String,
        user: &UserView,
    ) -> Result<T, AppError> {
        self.call(self.signed(self.http.get(url), user)).await
    }

    /// Places an order for `buyer` under the idempotency `key`.
    pub async fn purchase<T: DeserializeOwned>(
        &self,
        buyer: &UserView,
        key: &str,
        body: &serde_json::Value,
    ) -> Result<T, AppError> {
        let request = self
            .http
            .post(format!("{}/v1/purchases", self.transaction_url))
            .header("Idempotency-Key", key)
            .json(body);
        self.call(self.signed(request, buyer)).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        url: String,
        body: &impl Serialize,
        acting_user: Option<&UserView>,
    ) -> Result<T, AppError> {
        let mut request = self.http.post(url).json(body);
        if let Some(user) = acting_user {
            request = self.signed(request, user);
        }
        self.call(request).await
    }

    pub fn cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-session"
        } else {
            "session"
        }
    }

    /// `Set-Cookie` for a new session, or (with `None`) for removing it.
    pub fn set_session_cookie(&self, session_id: Option<&str>) {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        let cookie = match session_id {
            Some(id) => format!(
                "{}={id}; Path=/; HttpOnly; SameSite=Lax{secure}",
                self.cookie_name()
            ),
            None => format!(
                "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
                self.cookie_name()
            ),
        };
        if let (Some(response), Ok(value)) = (
            use_context::<ResponseOptions>(),
            http::HeaderValue::from_str(&cookie),
        ) {
            response.append_header(SET_COOKIE, value);
        }
    }

    /// The session id from the request's cookie, if any.
    pub fn session_id(&self) -> Option<String> {
        let parts = use_context::<http::request::Parts>()?;
        self.session_id_in(&parts.headers)
    }

    /// The session id from the `Cookie` headers, if any.
    pub fn session_id_in(&self, headers: &http::HeaderMap) -> Option<String> {
        let name = self.cookie_name();
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|header| {
                header.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    (key == name && !value.is_empty()).then(|| value.to_owned())
                })
            })
    }

    /// The signed-in user, or `None` without a live session.
    pub async fn current_user(&self) -> Result<Option<UserView>, AppError> {
        match self.session_id() {
            Some(session_id) => self.user_of_session(&session_id).await,
            None => Ok(None),
        }
    }

    /// The user of a live session, or `None` when it is unknown or over.
    pub async fn user_of_session(&self, session_id: &str) -> Result<Option<UserView>, AppError> {
        #[derive(serde::Deserialize)]
        struct Answer {
            user: UserView,
        }
        let url = format!("{}/v1/sessions/current", self.user_url);
        let request = self
            .http
            .post(url)
            .header(IDENTITY_HEADER, self.gateway_token(&client_address()))
            .json(&serde_json::json!({ "session_id": session_id }));
        match with_request_id(request).send().await {
            Ok(response) if response.status() == StatusCode::UNAUTHORIZED => Ok(None),
            Ok(response) if response.status().is_success() => match response.json::<Answer>().await
            {
                Ok(answer) => Ok(Some(answer.user)),
                Err(err) => {
                    tracing::error!(%err, "unexpected answer from the user service");
                    Err(unavailable())
                }
            },
            Ok(response) => {
                tracing::error!(status = %response.status(), "the user service failed");
                Err(unavailable())
            }
            Err(err) => {
                tracing::error!(%err, "the user service is unreachable");
                Err(unavailable())
            }
        }
    }

    /// Ends a session at the user service; a failure is logged, the browser is not bothered.
    pub async fn end_session(&self, session_id: &str) {
        let request = self
            .http
            .post(format!("{}/v1/sessions/end", self.user_url))
            .header(IDENTITY_HEADER, self.gateway_token(&client_address()))
            .json(&serde_json::json!({ "session_id": session_id }));
        match with_request_id(request).send().await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                tracing::warn!(status = %response.status(), "the user service did not end a session");
            }
            Err(err) => tracing::warn!(%err, "could not end the session at the user service"),
        }
    }

    /// The signed-in user, or a 401 "log in first".
    pub async fn require_user(&self) -> Result<UserView, AppError> {
        match self.current_user().await? {
            Some(user) => Ok(user),
            None => {
                set_status(StatusCode::UNAUTHORIZED);
                Err(AppError::new("Please log in first."))
            }
        }
    }
}

/// Passes the id of the request being served (`x-request-id`, set by the gateway's own
/// middleware when the browser sent none) and its trace on to the service, so logs and
/// traces can be joined up.
fn with_request_id(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let id = use_context::<http::request::Parts>()
        .and_then(|parts| parts.headers.get(REQUEST_ID_HEADER).cloned());
    let request = match id {
        Some(id) => request.header(REQUEST_ID_HEADER, id),
        None => request,
    };
    // And the trace, when traces are exported.
    common::telemetry::trace_headers()
        .into_iter()
        .fold(request, |request, (name, value)| {
            request.header(name, value)
        })
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `base` followed by `segments`, each encoded as one path segment by the URL library: a
/// segment can never add a `/` or a `..` of its own. Segments are constants and typed ids.
pub fn endpoint(base: &str, segments: &[&str]) -> Result<String, AppError> {
    let mut url = reqwest::Url::parse(base).map_err(|err| {
        tracing::error!(%err, base, "a service URL in the configuration is not a URL");
        unavailable()
    })?;
    match url.path_segments_mut() {
        Ok(mut path) => {
            path.pop_if_empty().extend(segments);
        }
        Err(()) => {
            tracing::error!(
                base,
                "a service URL in the configuration cannot have a path"
            );
            return Err(unavailable());
        }
    }
    Ok(url.into())
}

/// The gateway provides `Backends` as context to every server function and page render.
pub fn backends() -> Result<Backends, AppError> {
    use_context::<Backends>().ok_or_else(|| {
        tracing::error!("the gateway has no backends configured");
        unavailable()
    })
}

/// The address the request came from (as the gateway's edge worked it out, see
/// `TRUSTED_PROXIES`), for per-client limits at the services.
pub fn client_address() -> String {
    use_context::<http::request::Parts>()
        .and_then(|parts| {
            parts
                .extensions
                .get::<common::client::ClientAddress>()
                .map(ToString::to_string)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
