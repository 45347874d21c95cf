//! The user service's HTTP API. Only the gateway may call it: every request carries the
//! gateway's signed token ([`FromGateway`]), which also says the browser's address; a
//! browser user's token, or none, is refused (403 / 401).
//!
//! | method and path | body | answer |
//! | --- | --- | --- |
//! | `POST /v1/users` | `email`, `password`, `display_name` | 201 `{user}`; 409 email taken; 422 field; 429 too many from this address; 503 busy |
//! | `POST /v1/sessions` | `email`, `password` | 201 `{session_id, user}`; 401; 429; 503 busy |
//! | `POST /v1/sessions/current` | `session_id` | 200 `{user}`; 401 when ended or unknown |
//! | `POST /v1/sessions/end` | `session_id` | 204, also when already ended |

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use mongodb::bson::{self, oid::ObjectId};
use serde_json::{Value, json};

use crate::AppState;
use crate::domain::{DisplayName, Email, Password};
use crate::error::ApiError;
use crate::users::{InsertError, UserDocument};
use common::identity::FromGateway;
use common::input::JsonObject;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/users", post(register))
        .route("/v1/sessions", post(log_in))
        .route("/v1/sessions/current", post(current_session))
        .route("/v1/sessions/end", post(end_session))
        .with_state(state)
}

async fn register(
    State(state): State<AppState>,
    gateway: FromGateway,
    body: JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    body.allow_only(&["email", "password", "display_name"])?;
    let email = Email::parse(&body.text("email")?)?;
    let password = Password::parse(body.text("password")?)?;
    let display_name = DisplayName::parse(&body.text("display_name")?)?;
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
            Ok((StatusCode::CREATED, Json(json!({ "user": user.view() }))))
        }
        Err(InsertError::EmailTaken) => Err(ApiError::EmailTaken),
        Err(InsertError::Database(err)) => Err(err.into()),
    }
}

async fn log_in(
    State(state): State<AppState>,
    FromGateway { client_address }: FromGateway,
    body: JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    body.allow_only(&["email", "password"])?;
    let typed_email = body.text("email")?;
    let password = body.text("password")?;
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
            let session_id = state.sessions.create(&user.id.to_hex()).await?;
            tracing::info!(user_id = %user.id, "signed in");
            Ok((
                StatusCode::CREATED,
                Json(json!({ "session_id": session_id, "user": user.view() })),
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

async fn current_session(
    State(state): State<AppState>,
    _gateway: FromGateway,
    body: JsonObject,
) -> Result<Json<Value>, ApiError> {
    body.allow_only(&["session_id"])?;
    let session_id = body.text("session_id")?;
    let user_id = state
        .sessions
        .resolve(&session_id)
        .await?
        .ok_or(ApiError::NoSession)?;
    let user = state
        .users
        .by_id(&user_id)
        .await?
        .ok_or(ApiError::NoSession)?;
    Ok(Json(json!({ "user": user.view() })))
}

async fn end_session(
    State(state): State<AppState>,
    _gateway: FromGateway,
    body: JsonObject,
) -> Result<StatusCode, ApiError> {
    body.allow_only(&["session_id"])?;
    let session_id = body.text("session_id")?;
    if let Some(user_id) = state.sessions.end(&session_id).await? {
        tracing::info!(%user_id, "signed out");
    }
    Ok(StatusCode::NO_CONTENT)
}
