//! The user service, as the gateway calls it: every call is signed as the gateway, for the
//! browser at the context's address.

use common::identity::{Caller, IdentityKey};
use http::StatusCode;
use reqwest::Method;
use wire::user::{LogInRequest, RegisterRequest, SessionBody, SessionRequest, UserBody, UserView};

use crate::transport::{CallContext, CallError, Transport};

/// Accounts and sessions (see `wire::user` for the endpoints).
#[derive(Debug, Clone)]
pub struct UserClient {
    transport: Transport,
}

impl UserClient {
    /// A client of the user service at `base_url`.
    pub fn new(http: reqwest::Client, base_url: &str, key: IdentityKey) -> Result<Self, CallError> {
        Transport::new(http, base_url, key).map(|transport| Self { transport })
    }

    fn post(&self, segments: &[&str], context: &CallContext) -> reqwest::RequestBuilder {
        self.transport
            .request(Method::POST, segments, context, Caller::Gateway, None)
    }

    /// `POST /v1/users`: a new account.
    pub async fn register(
        &self,
        context: &CallContext,
        request: &RegisterRequest,
    ) -> Result<UserBody, CallError> {
        Transport::call(self.post(&["v1", "users"], context).json(request)).await
    }

    /// `POST /v1/sessions`: signs in; the answer holds the new session's id.
    pub async fn log_in(
        &self,
        context: &CallContext,
        request: &LogInRequest,
    ) -> Result<SessionBody, CallError> {
        Transport::call(self.post(&["v1", "sessions"], context).json(request)).await
    }

    /// `POST /v1/sessions/current`: the session's user, or `None` when it ended or never was
    /// (404). Anything else the service cannot answer — Redis away, loading or full, a token
    /// it refuses — is an error: the caller cannot tell whether anyone is signed in.
    pub async fn current_session(
        &self,
        context: &CallContext,
        request: &SessionRequest,
    ) -> Result<Option<UserView>, CallError> {
        let request = self
            .post(&["v1", "sessions", "current"], context)
            .json(request);
        let body: Option<UserBody> =
            Transport::call_optional(request, StatusCode::NOT_FOUND).await?;
        Ok(body.map(|body| body.user))
    }

    /// `POST /v1/sessions/end`: ends a session (also when it already ended).
    pub async fn end_session(
        &self,
        context: &CallContext,
        request: &SessionRequest,
    ) -> Result<(), CallError> {
        Transport::call_empty(self.post(&["v1", "sessions", "end"], context).json(request)).await
    }
}
