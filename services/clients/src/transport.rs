//! What every client shares: the base URL, the HTTP connection pool, the signing key, and
//! reading an answer into its contract type.

use std::time::{Duration, SystemTime};

use common::identity::{Caller, IDENTITY_HEADER, Identity, IdentityKey};
use common::serve::REQUEST_ID_HEADER;
use http::StatusCode;
use reqwest::{Method, RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;
use wire::ErrorBody;

/// The request a call is part of: its id (so logs join up across services) and the
/// browser's address (for the services' per-client limits).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// The `x-request-id` of the request being served; when `None`, the one the current task
    /// serves, if any.
    pub request_id: Option<String>,
    /// The browser's address as the gateway's edge worked it out.
    pub client_address: Option<String>,
}

/// Why a call gave no answer of its contract type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The service answered with an error status and its [`ErrorBody`].
    #[error("the service answered {status}: {}", body.error)]
    Refused {
        /// The answer's status (4xx or 5xx).
        status: StatusCode,
        /// What the service said, and the field at fault.
        body: ErrorBody,
        /// Seconds to wait before trying again, when the service said.
        retry_after: Option<String>,
    },
    /// No answer, or one its contract does not describe.
    #[error("the service could not be used: {0}")]
    Unavailable(String),
}

impl CallError {
    /// The status a caller passes on: the service's own, or 503 when there was none.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Refused { status, .. } => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The pool of connections a process shares between its clients: short connect timeout,
/// a bounded wait for every answer.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap_or_default()
}

/// Whether the service at `base_url` says it is ready (`GET /readyz` answers 2xx).
pub async fn is_ready(http: &reqwest::Client, base_url: &str) -> bool {
    match http.get(format!("{base_url}/readyz")).send().await {
        Ok(response) => response.status().is_success(),
        Err(err) => {
            tracing::warn!(%err, base_url, "service unreachable");
            false
        }
    }
}

/// Reads a 2xx answer's body as its contract type `T`, as every client method does.
pub fn decode_answer<T: DeserializeOwned>(body: &[u8]) -> Result<T, CallError> {
    serde_json::from_slice(body).map_err(|err| {
        CallError::Unavailable(format!("the answer does not fit its contract: {err}"))
    })
}

/// One service: where it is, and how calls to it are made and read.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    http: reqwest::Client,
    base: Url,
    key: IdentityKey,
}

impl Transport {
    /// A transport to the service at `base_url`; a URL that cannot take a path is refused.
    pub(crate) fn new(
        http: reqwest::Client,
        base_url: &str,
        key: IdentityKey,
    ) -> Result<Self, CallError> {
        let base = Url::parse(base_url)
            .ok()
            .filter(|url| !url.cannot_be_a_base())
            .ok_or_else(|| CallError::Unavailable(format!("{base_url:?} is not a service URL")))?;
        Ok(Self { http, base, key })
    }

    /// A request to `segments` below the base URL. Each segment is encoded as one path
    /// segment, so neither a `/` nor a `..` in it can change the path; segments are
    /// constants and typed ids.
    pub(crate) fn request(
        &self,
        method: Method,
        segments: &[&str],
        context: &CallContext,
        caller: Caller,
        user: Option<&Identity>,
    ) -> RequestBuilder {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        let token = self.key.sign_as(
            caller,
            user,
            context.client_address.as_deref(),
            SystemTime::now(),
        );
        let mut request = self
            .http
            .request(method, url)
            .header(IDENTITY_HEADER, token);
        for (name, value) in common::serve::outgoing_headers() {
            if name != REQUEST_ID_HEADER.as_str() || context.request_id.is_none() {
                request = request.header(name, value);
            }
        }
        if let Some(id) = &context.request_id {
            request = request.header(REQUEST_ID_HEADER, id);
        }
        request
    }

    /// Sends `request` and reads a 2xx answer as `T`.
    pub(crate) async fn call<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, CallError> {
        let response = Self::send(request).await?;
        Self::read(response).await
    }

    /// Like [`Self::call`], but `absent` (404 or 401, as the endpoint means it) is `None`.
    pub(crate) async fn call_optional<T: DeserializeOwned>(
        request: RequestBuilder,
        absent: StatusCode,
    ) -> Result<Option<T>, CallError> {
        let response = Self::send(request).await?;
        if response.status() == absent {
            return Ok(None);
        }
        Self::read(response).await.map(Some)
    }

    /// Sends `request` and reads a 2xx answer's bytes as they are (a picture); `absent` is
    /// `None`.
    pub(crate) async fn call_for_bytes(
        request: RequestBuilder,
        absent: StatusCode,
    ) -> Result<Option<bytes::Bytes>, CallError> {
        let response = Self::send(request).await?;
        if response.status() == absent {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(Self::refusal(response).await);
        }
        response
            .bytes()
            .await
            .map(Some)
            .map_err(|err| CallError::Unavailable(format!("the answer broke off: {err}")))
    }

    /// Sends `request` and expects a 2xx answer without a body.
    pub(crate) async fn call_empty(request: RequestBuilder) -> Result<(), CallError> {
        let response = Self::send(request).await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Self::refusal(response).await)
        }
    }

    async fn send(request: RequestBuilder) -> Result<Response, CallError> {
        request
            .send()
            .await
            .map_err(|err| CallError::Unavailable(format!("no answer: {err}")))
    }

    async fn read<T: DeserializeOwned>(response: Response) -> Result<T, CallError> {
        if !response.status().is_success() {
            return Err(Self::refusal(response).await);
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|err| CallError::Unavailable(format!("the answer broke off: {err}")))?;
        decode_answer(&bytes)
    }

    async fn refusal(response: Response) -> CallError {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice::<ErrorBody>(&bytes).ok())
            .unwrap_or_else(|| ErrorBody::new("that request was not accepted"));
        CallError::Refused {
            status,
            body,
            retry_after,
        }
    }
}
