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

use wire::UserId;

use crate::config::ConfigError;
use crate::error::{ErrorBody, error_response};

/// The header that carries a signed token from one service to the next.
pub const IDENTITY_HEADER: &str = "x-marketplace-identity";
const TOKEN_LIFETIME: Duration = Duration::from_secs(60);
const MIN_SECRET_LEN: usize = 32;

/// The signed-in user a request acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The user's id.
    pub user_id: UserId,
    /// The name others see.
    pub display_name: String,
    /// Where the user's receipts go.
    pub email: String,
}

/// Who is calling, as the signature vouches: a token minted for one caller is refused by an
/// endpoint that serves another, so a browser user's token cannot release stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Caller {
    /// The gateway relaying a signed-in browser user.
    #[serde(rename = "user")]
    User,
    /// The gateway on its own account: registration, sign-in, session look-ups, anonymous
    /// live sockets. No user, but the client's address.
    #[serde(rename = "service:gateway")]
    Gateway,
    /// The transaction service reserving stock for a buyer's purchase.
    #[serde(rename = "service:transaction")]
    Transaction,
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// Who signed it, and so what it may be used for.
    pub caller: Caller,
    /// The user it acts for, if any.
    pub user: Option<Identity>,
    /// The browser's address as the gateway saw it, for per-client limits.
    pub client_address: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    aud: Caller,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sub: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    addr: Option<String>,
    exp: u64,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// Not a token at all.
    #[error("the identity is malformed")]
    Malformed,
    /// Made or altered without the secret.
    #[error("the identity's signature does not match")]
    BadSignature,
    /// Older than its minute.
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
    /// A key from a secret of at least 32 characters.
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

    /// A token for a browser user relayed by the gateway ([`Caller::User`]).
    pub fn sign(&self, identity: &Identity, now: SystemTime) -> String {
        self.sign_as(Caller::User, Some(identity), None, now)
    }

    /// A token for `caller`, acting for `user` if any, from the browser at `client_address`.
    pub fn sign_as(
        &self,
        caller: Caller,
        user: Option<&Identity>,
        client_address: Option<&str>,
        now: SystemTime,
    ) -> String {
        let claims = Claims {
            aud: caller,
            sub: user.map(|u| u.user_id.clone()),
            name: user.map(|u| u.display_name.clone()),
            email: user.map(|u| u.email.clone()),
            addr: client_address.map(str::to_owned),
            exp: unix_now(now) + TOKEN_LIFETIME.as_secs(),
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// Checks the signature and the expiry, and says what the token vouches for.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<Signed, IdentityError> {
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
        let user = match (claims.sub, claims.name, claims.email) {
            (Some(user_id), Some(display_name), Some(email)) => Some(Identity {
                user_id,
                display_name,
                email,
            }),
            (None, None, None) => None,
            _ => return Err(IdentityError::Malformed),
        };
        Ok(Signed {
            caller: claims.aud,
            user,
            client_address: claims.addr,
        })
    }

    fn verify_header(&self, parts: &Parts) -> Result<Signed, Refused> {
        let token = parts
            .headers
            .get(IDENTITY_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(Refused::NotSigned)?;
        self.verify(token, SystemTime::now()).map_err(|err| {
            tracing::warn!(%err, "refused an identity header");
            Refused::NotSigned
        })
    }
}

/// Why an internal endpoint refused its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No token, or a forged or expired one: 401.
    NotSigned,
    /// A valid token minted for another caller: 403.
    WrongCaller,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::NotSigned => {
                error_response(StatusCode::UNAUTHORIZED, ErrorBody::new("sign in first"))
            }
            Self::WrongCaller => error_response(
                StatusCode::FORBIDDEN,
                ErrorBody::new("this endpoint does not serve that caller"),
            ),
        }
    }
}

/// Extractor for handlers that act for a signed-in browser user relayed by the gateway: 401
/// when the identity is missing, forged or expired; 403 for a token of another caller.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Identity);

impl<S> FromRequestParts<S> for SignedIn
where
    IdentityKey: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        SignedInFrom::from_request_parts(parts, state)
            .await
            .map(|signed| SignedIn(signed.user))
    }
}

/// Like [`SignedIn`], with the browser's address as the gateway saw it ("unknown" when it
/// could not tell), for limits per client address: the same callers are refused.
#[derive(Debug, Clone)]
pub struct SignedInFrom {
    /// The signed-in user.
    pub user: Identity,
    /// The browser's address.
    pub client_address: String,
}

impl<S> FromRequestParts<S> for SignedInFrom
where
    IdentityKey: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let signed = IdentityKey::from_ref(state).verify_header(parts)?;
        match (signed.caller, signed.user) {
            (Caller::User, Some(user)) => Ok(SignedInFrom {
                user,
                client_address: signed
                    .client_address
                    .unwrap_or_else(|| "unknown".to_owned()),
            }),
            _ => Err(Refused::WrongCaller),
        }
    }
}

/// Extractor for endpoints only the transaction service may call, acting for a buyer (stock
/// reservations): any other caller, a browser user's token included, gets 403.
#[derive(Debug, Clone)]
pub struct ForTransaction(pub Identity);

impl<S> FromRequestParts<S> for ForTransaction
where
    IdentityKey: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let signed = IdentityKey::from_ref(state).verify_header(parts)?;
        match (signed.caller, signed.user) {
            (Caller::Transaction, Some(buyer)) => Ok(ForTransaction(buyer)),
            _ => Err(Refused::WrongCaller),
        }
    }
}

/// Extractor for endpoints only the gateway may call on its own account (the user service's
/// sign-in and sessions): carries the browser's address as the gateway saw it.
#[derive(Debug, Clone)]
pub struct FromGateway {
    /// The browser's address ("unknown" when the gateway could not tell).
    pub client_address: String,
}

impl<S> FromRequestParts<S> for FromGateway
where
    IdentityKey: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let signed = IdentityKey::from_ref(state).verify_header(parts)?;
        match signed.caller {
            Caller::Gateway => Ok(FromGateway {
                client_address: signed
                    .client_address
                    .unwrap_or_else(|| "unknown".to_owned()),
            }),
            _ => Err(Refused::WrongCaller),
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
            user_id: "665f1c2e9b1d8a0012345678".parse().expect("an id"),
            display_name: "Alice".into(),
            email: "alice@example.com".into(),
        }
    }

    #[test]
    fn a_signed_identity_verifies() {
        let key = key("0123456789abcdef0123456789abcdef");
        let now = SystemTime::now();
        let signed = key.verify(&key.sign(&alice(), now), now).expect("valid");
        assert_eq!(signed.caller, Caller::User);
        assert_eq!(signed.user, Some(alice()));
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
            aud: Caller::Transaction,
            sub: Some("0000000000000000000000ee".parse().expect("an id")),
            name: Some("Mallory".into()),
            email: Some("m@example.com".into()),
            addr: None,
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
    fn the_caller_and_address_are_signed_with_the_user() {
        let key = key("0123456789abcdef0123456789abcdef");
        let now = SystemTime::now();
        let token = key.sign_as(Caller::Transaction, Some(&alice()), None, now);
        let signed = key.verify(&token, now).expect("valid");
        assert_eq!(signed.caller, Caller::Transaction);
        let token = key.sign_as(Caller::Gateway, None, Some("192.0.2.7"), now);
        let signed = key.verify(&token, now).expect("valid");
        assert_eq!(
            (signed.caller, signed.user, signed.client_address.as_deref()),
            (Caller::Gateway, None, Some("192.0.2.7"))
        );
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(IdentityKey::new(SecretString::from("short".to_owned())).is_err());
    }
}
