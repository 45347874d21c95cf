//! The user service's HTTP API; its requests and answers are in `wire::user`. Only the
//! gateway may call it: every request carries the gateway's signed token ([`FromGateway`]),
//! which also says the browser's address; a browser user's token, or none, is refused
//! (403 / 401).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use mongodb::bson::{self, oid::ObjectId};

use crate::AppState;
use crate::domain::{DisplayName, Email, Password};
use crate::error::ApiError;
use crate::users::{InsertError, UserDocument};
use common::identity::FromGateway;
use common::input::Body;
use common::openapi::{BodyRefusals, Shared, SignedRefusals, TooMany, Unavailable};
use wire::ErrorBody;
use wire::user::{LogInRequest, RegisterRequest, SessionBody, SessionRequest, UserBody};

/// The user service's OpenAPI document (`GET /openapi.json`, `docs/openapi/user.json`).
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "user service",
        description = "Accounts, sign-in and sessions. Only the gateway calls it, on its own account."
    ),
    paths(register, log_in, current_session, end_session),
    modifiers(&Shared)
)]
pub struct ApiDoc;

/// The routes, on the service's state, at most `mongo::POOL_SIZE` requests at a time.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/v1/users", post(register))
        .route("/v1/sessions", post(log_in))
        .route("/v1/sessions/current", post(current_session))
        .route("/v1/sessions/end", post(end_session))
        .with_state(state)
        .merge(common::openapi::router(
            &<ApiDoc as utoipa::OpenApi>::openapi(),
        ));
    common::infra::mongo::limit_requests(routes)
}

/// Opens an account.
#[utoipa::path(
    post,
    path = "/v1/users",
    request_body = RegisterRequest,
    security(("signed_gateway" = [])),
    responses(
        (status = 201, description = "The account, opened.", body = UserBody),
        (status = 409, description = "An account with this email already exists.", body = ErrorBody),
        SignedRefusals,
        BodyRefusals,
        TooMany,
        Unavailable
    )
)]
async fn register(
    State(state): State<AppState>,
    gateway: FromGateway,
    Body(request): Body<RegisterRequest>,
) -> Result<(StatusCode, Json<UserBody>), ApiError> {
    let email = Email::parse(&request.email)?;
    let password = Password::parse(request.password)?;
    let display_name = DisplayName::parse(&request.display_name)?;
    if let Err(refused) = state
        .login_guard
        .admit_registration(&gateway.client_address)
        .await?
    {
        return Err(ApiError::TooManyRegistrations(refused.retry_after));
    }

    // Cheap duplicate check first, so a taken email costs no hashing; the unique index
    // still decides when two registrations race.
    if state.users.by_email_key(&email.key).await?.is_some() {
        return Err(ApiError::EmailTaken);
    }
    let user = UserDocument {
        id: ObjectId::new(),
        email: email.display,
        email_key: email.key,
        display_name: display_name.as_str().to_owned(),
        password_hash: state.hasher.hash(password).await?,
        created_at: bson::DateTime::now(),
    };
    match state.users.insert(&user).await {
        Ok(()) => {
            tracing::info!(user_id = %user.id, "account registered");
            Ok((StatusCode::CREATED, Json(UserBody { user: user.view() })))
        }
        Err(InsertError::EmailTaken) => Err(ApiError::EmailTaken),
        Err(InsertError::Database(err)) => Err(err.into()),
    }
}

/// Signs in: a new session for the account whose email and password these are.
#[utoipa::path(
    post,
    path = "/v1/sessions",
    request_body = LogInRequest,
    security(("signed_gateway" = [])),
    responses(
        (status = 201, description = "A new session and its user.", body = SessionBody),
        (status = 401, description = "No account has this email and password (or no valid token).", body = ErrorBody),
        (status = 403, description = "The token was signed for another caller.", body = ErrorBody),
        BodyRefusals,
        TooMany,
        Unavailable
    )
)]
async fn log_in(
    State(state): State<AppState>,
    FromGateway { client_address }: FromGateway,
    Body(request): Body<LogInRequest>,
) -> Result<(StatusCode, Json<SessionBody>), ApiError> {
    let LogInRequest {
        email: typed_email,
        password,
    } = request;
    // Anything that is not an email cannot be an account: same answer as a wrong password.
    let email_key = Email::parse(&typed_email)
        .map(|e| e.key)
        .unwrap_or_else(|_| typed_email.trim().to_lowercase());
    if password.len() > Password::MAX_BYTES {
        return Err(ApiError::InvalidCredentials);
    }

    if let Err(refused) = state.login_guard.admit(&email_key, &client_address).await? {
        return Err(ApiError::TooManyAttempts(refused.retry_after));
    }
    let user = state.users.by_email_key(&email_key).await?;
    let matches = state
        .hasher
        .verify(
            password,
            user.as_ref().map(|u| u.password_hash.clone()),
            state.dummy_hash,
        )
        .await?;
    match user {
        Some(user) if matches => {
            state
                .login_guard
                .record_success(&email_key, &client_address)
                .await?;
            let session_id = state
                .sessions
                .create(&wire::UserId::from_bytes(user.id.bytes()))
                .await?;
            tracing::info!(user_id = %user.id, "signed in");
            Ok((
                StatusCode::CREATED,
                Json(SessionBody {
                    session_id,
                    user: user.view(),
                }),
            ))
        }
        _ => {
            state
                .login_guard
                .record_failure(&email_key, &client_address)
                .await?;
            Err(ApiError::InvalidCredentials)
        }
    }
}

/// Whose session this is; its idle timeout starts again.
#[utoipa::path(
    post,
    path = "/v1/sessions/current",
    request_body = SessionRequest,
    security(("signed_gateway" = [])),
    responses(
        (status = 200, description = "The session's user.", body = UserBody),
        (status = 404, description = "The session has ended or never was.", body = ErrorBody),
        (status = 401, description = "No valid token.", body = ErrorBody),
        (status = 403, description = "The token was signed for another caller.", body = ErrorBody),
        BodyRefusals,
        Unavailable
    )
)]
async fn current_session(
    State(state): State<AppState>,
    _gateway: FromGateway,
    Body(SessionRequest { session_id }): Body<SessionRequest>,
) -> Result<Json<UserBody>, ApiError> {
    let user_id = state
        .sessions
        .resolve(&session_id)
        .await?
        .ok_or(ApiError::NoSession)?;
    let user = state
        .users
        .view_by_id(&user_id)
        .await?
        .ok_or(ApiError::NoSession)?;
    Ok(Json(UserBody { user }))
}

/// Signs out: the session ends (an unknown session is already ended).
#[utoipa::path(
    post,
    path = "/v1/sessions/end",
    request_body = SessionRequest,
    security(("signed_gateway" = [])),
    responses(
        (status = 204, description = "The session is over."),
        SignedRefusals,
        BodyRefusals,
        Unavailable
    )
)]
async fn end_session(
    State(state): State<AppState>,
    _gateway: FromGateway,
    Body(SessionRequest { session_id }): Body<SessionRequest>,
) -> Result<StatusCode, ApiError> {
    if let Some(user_id) = state.sessions.end(&session_id).await? {
        tracing::info!(%user_id, "signed out");
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod contract {
    //! Every answer of this service decodes, through the typed client, to what was sent.

    use super::*;

    fn alice() -> wire::user::UserView {
        wire::user::UserView {
            id: "665f1c2e9b1d8a0012345678".parse().expect("an id"),
            email: "alice@example.com".into(),
            display_name: "Alice".into(),
        }
    }

    #[tokio::test]
    async fn answers_round_trip_through_the_client() {
        let user = UserBody { user: alice() };
        testkit::contract::round_trip((StatusCode::CREATED, Json(user.clone())), &user).await;
        let session = SessionBody {
            session_id: "a".repeat(64),
            user: alice(),
        };
        testkit::contract::round_trip((StatusCode::CREATED, Json(session.clone())), &session).await;
    }
}
