//! How a service knows who is asking, without trusting anything a browser could forge.
//!
//! Only the gateway sees the session cookie. After the user service has resolved the session,
//! the gateway signs the user's identity with `INTERNAL_AUTH_SECRET` (HMAC-SHA256, valid for a
//! minute) and sends it in the `x-marketplace-identity` header. Services verify the signature
//! and expiry; a header a browser made up, altered, or replayed later is refused with 401.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::ConfigError;
use crate::error::ErrorBody;

pub const IDENTITY_HEADER: &str = "x-marketplace-identity";
const TOKEN_LIFETIME: Duration = Duration::from_secs(60);
const MIN_SECRET_LEN: usize = 32;

/// The signed-in user a request acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user_id: String,
    pub display_name: String,
    /// Where the user's receipts go.
    pub email: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    name: String,
    email: String,
    exp: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("the identity is malformed")]
    Malformed,
    #[error("the identity's signature does not match")]
    BadSignature,
    #[error("the identity has expired")]
    Expired,
}

/// Signs and verifies identities with the secret every copy of every service shares.
#[derive(Clone)]
pub struct IdentityKey {
    secret: SecretString,
}

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityKey([redacted])")
    }
}

fn unix_now(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl IdentityKey {
    pub fn new(secret: SecretString) -> Result<Self, ConfigError> {
        if secret.expose_secret().len() < MIN_SECRET_LEN {
            return Err(ConfigError {
                name: "INTERNAL_AUTH_SECRET".into(),
                value: "[redacted]".into(),
                reason: format!(
                    "must be at least {MIN_SECRET_LEN} characters (e.g. `openssl rand -hex 32`)"
                ),
            });
        }
        Ok(Self { secret })
    }

    /// `INTERNAL_AUTH_SECRET`: required, never defaulted, never logged. `scripts/start.sh`
    /// generates one per machine for local runs.
    pub fn from_env() -> Result<Self, ConfigError> {
        let secret = std::env::var("INTERNAL_AUTH_SECRET").unwrap_or_default();
        Self::new(SecretString::from(secret))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        <Hmac<Sha256> as KeyInit>::new_from_slice(self.secret.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    pub fn sign(&self, identity: &Identity, now: SystemTime) -> String {
        let claims = Claims {
            sub: identity.user_id.clone(),
            name: identity.display_name.clone(),
            email: identity.email.clone(),
            exp: unix_now(now) + TOKEN_LIFETIME.as_secs(),
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    pub fn verify(&self, token: &str, now: SystemTime) -> Result<Identity, IdentityError> {
        let (payload, signature) = token.split_once('.').ok_or(IdentityError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| IdentityError::Malformed)?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| IdentityError::BadSignature)?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(IdentityError::Malformed)?;
        if claims.exp < unix_now(now) {
            return Err(IdentityError::Expired);
        }
        Ok(Identity {
            user_id: claims.sub,
            display_name: claims.name,
            email: claims.email,
        })
    }
}

/// Extractor for handlers that need a signed-in user: 401 when the identity is missing,
/// forged or expired.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Identity);

pub struct NotSignedIn;

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        ErrorBody::new("sign in first").into_response_with(StatusCode::UNAUTHORIZED)
    }
}

impl<S> FromRequestParts<S> for SignedIn
where
    IdentityKey: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let key = IdentityKey::from_ref(state);
        let token = parts
            .headers
            .get(IDENTITY_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(NotSignedIn)?;
        match key.verify(token, SystemTime::now()) {
            Ok(identity) => Ok(SignedIn(identity)),
            Err(err) => {
                tracing::warn!(%err, "refused an identity header");
                Err(NotSignedIn)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> IdentityKey {
        IdentityKey::new(SecretString::from(secret.to_owned())).expect("long enough")
    }

    fn alice() -> Identity {
        Identity {
            user_id: "665f1c2e9b1d8a0012345678".into(),
            display_name: "Alice".into(),
            email: "alice@example.com".into(),
        }
    }

    #[test]
    fn a_signed_identity_verifies() {
        let key = key("0123456789abcdef0123456789abcdef");
        let now = SystemTime::now();
        assert_eq!(key.verify(&key.sign(&alice(), now), now), Ok(alice()));
    }

    #[test]
    fn another_secret_an_altered_payload_or_a_late_use_are_refused() {
        let key_a = key("0123456789abcdef0123456789abcdef");
        let key_b = key("fedcba9876543210fedcba9876543210");
        let now = SystemTime::now();
        let token = key_a.sign(&alice(), now);
        assert_eq!(key_b.verify(&token, now), Err(IdentityError::BadSignature));

        let (_, signature) = token.split_once('.').expect("two parts");
        let forged_claims = Claims {
            sub: "someone-else".into(),
            name: "Mallory".into(),
            email: "m@example.com".into(),
            exp: u64::MAX,
        };
        let forged_payload =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged_claims).expect("json"));
        assert_eq!(
            key_a.verify(&format!("{forged_payload}.{signature}"), now),
            Err(IdentityError::BadSignature)
        );

        let later = now + TOKEN_LIFETIME + Duration::from_secs(2);
        assert_eq!(key_a.verify(&token, later), Err(IdentityError::Expired));
        assert_eq!(
            key_a.verify("not-a-token", now),
            Err(IdentityError::Malformed)
        );
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(IdentityKey::new(SecretString::from("short".to_owned())).is_err());
    }
}
