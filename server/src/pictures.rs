//! `GET /pictures/{name}` and `GET /pictures/card/{name}`: the pictures sellers uploaded and
//! their smaller copies, read from the inventory service.
//! A picture's name is the hash of its bytes, so the same address always means the same
//! bytes: browsers and caches keep it for a year without asking again.

use std::sync::Arc;

use app::ssr::Backends;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use clients::CallContext;
use wire::picture::{PictureName, PictureSize};

/// How long a picture may be kept: a year, and never re-validated (its name is its content).
const FOREVER: &str = "public, max-age=31536000, immutable";

/// `GET /pictures/{name}`: one stored picture with its type, or a plain 404 for any other
/// name.
pub async fn picture(State(backends): State<Arc<Backends>>, Path(name): Path<String>) -> Response {
    serve(&backends, &name, PictureSize::Full).await
}

/// `GET /pictures/card/{name}`: the smaller copy, for catalog cards and thumbnails.
pub async fn card(State(backends): State<Arc<Backends>>, Path(name): Path<String>) -> Response {
    serve(&backends, &name, PictureSize::Card).await
}

async fn serve(backends: &Backends, name: &str, size: PictureSize) -> Response {
    let Ok(name) = PictureName::parse(name) else {
        return not_found();
    };
    match backends
        .inventory
        .picture(&CallContext::default(), &name, size)
        .await
    {
        Ok(Some(bytes)) => (
            [
                (CONTENT_TYPE, name.kind().content_type()),
                (CACHE_CONTROL, FOREVER),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => not_found(),
        Err(err) => {
            tracing::warn!(%err, picture = %name, "a picture could not be read");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [
                    (CONTENT_TYPE, "text/plain; charset=utf-8"),
                    (CACHE_CONTROL, "no-store"),
                ],
                "This picture cannot be shown right now; try again shortly.",
            )
                .into_response()
        }
    }
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        "There is no such picture.",
    )
        .into_response()
}
