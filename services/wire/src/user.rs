//! The user service's contract. Only the gateway calls it (signed as the gateway).
//!
//! | method and path | request | answer |
//! | --- | --- | --- |
//! | `POST /v1/users` | [`RegisterRequest`] | 201 [`UserBody`]; 409 email taken; 422 field; 429; 503 busy |
//! | `POST /v1/sessions` | [`LogInRequest`] | 201 [`SessionBody`]; 401; 429; 503 busy |
//! | `POST /v1/sessions/current` | [`SessionRequest`] | 200 [`UserBody`]; 404 when ended or unknown |
//! | `POST /v1/sessions/end` | [`SessionRequest`] | 204, also when already ended |

use serde::{Deserialize, Serialize};

use crate::ids::UserId;

/// A signed-in user as others may see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    /// The account's id.
    pub id: UserId,
    /// Where receipts go; shown only to the user.
    pub email: String,
    /// The name other people see.
    pub display_name: String,
}

/// A new account, as typed into the form; the service checks each field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// An email address like name@example.com.
    pub email: String,
    /// At least 8 characters, at most 128 bytes.
    pub password: String,
    /// 1 to 60 characters.
    pub display_name: String,
}

/// Signing in with an email and a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LogInRequest {
    /// The account's email, in any letter case.
    pub email: String,
    /// The password.
    pub password: String,
}

/// A session the gateway holds in a cookie, to look up or to end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The session id from the cookie.
    pub session_id: String,
}

/// An answer that is one user: registration and session look-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserBody {
    /// The user.
    pub user: UserView,
}

/// A new session: the id for the cookie and whose it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionBody {
    /// The id the gateway puts in the session cookie.
    pub session_id: String,
    /// The user who signed in.
    pub user: UserView,
}
