//! The handshake's origin check, against cross-site WebSocket hijacking.

use axum::http::{HeaderMap, header::ORIGIN};

use super::{AppState, Refusal};

impl AppState {
    pub(super) fn check_origin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let origin = headers
            .get(ORIGIN)
            .and_then(|v| v.to_str().ok())
            .ok_or(Refusal::NoOrigin)?;
        if self.allowed_origins.contains(&normalise_origin(origin)) {
            Ok(())
        } else {
            Err(Refusal::OriginNotAllowed(origin.to_owned()))
        }
    }
}

pub(super) fn normalise_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}
