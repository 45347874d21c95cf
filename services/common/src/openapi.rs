//! What every service's OpenAPI 3.1 document shares: the three signed identities an
//! endpoint may demand, the one error body, the refusals any endpoint of a kind can answer,
//! and `GET /openapi.json`.
//!
//! Each service derives its document from its handlers (`#[utoipa::path]`) and the `wire`
//! types, so the document is the code's own description; `docs/openapi/<service>.json` holds
//! a copy for integrators, which each service's tests keep equal to it.

use std::collections::BTreeMap;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use utoipa::openapi::header::Header;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{KnownFormat, Ref, SchemaFormat, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{Content, ObjectBuilder, OpenApi, RefOr};
use utoipa::{IntoResponses, PartialSchema};

use crate::error::ErrorBody;
use crate::identity::IDENTITY_HEADER;

/// The security scheme of endpoints that act for a signed-in user the gateway relays.
pub const SIGNED_USER: &str = "signed_user";
/// The security scheme of endpoints only the gateway may call on its own account.
pub const SIGNED_GATEWAY: &str = "signed_gateway";
/// The security scheme of endpoints only the transaction service may call, for a buyer.
pub const SIGNED_TRANSACTION: &str = "signed_transaction";

/// Completes a service's document with what every service shares: the signed-identity
/// schemes and the [`ErrorBody`] schema. Use as `#[openapi(modifiers(&common::openapi::Shared))]`.
#[derive(Debug, Clone, Copy)]
pub struct Shared;

impl utoipa::Modify for Shared {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, caller) in [
            (
                SIGNED_USER,
                "a signed-in user, relayed by the gateway (audience `user`)",
            ),
            (
                SIGNED_GATEWAY,
                "the gateway on its own account, with the browser's address (audience `service:gateway`)",
            ),
            (
                SIGNED_TRANSACTION,
                "the transaction service acting for a buyer (audience `service:transaction`)",
            ),
        ] {
            let description = format!(
                "A token signed with the services' shared secret (HMAC-SHA256, valid one minute) \
                 for {caller}. A missing, forged or expired token gets 401; a token for another \
                 caller gets 403."
            );
            components.add_security_scheme(
                name,
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    IDENTITY_HEADER.to_owned(),
                    description,
                ))),
            );
        }
        components
            .schemas
            .insert("ErrorBody".to_owned(), ErrorBody::schema());
    }
}

/// An answer whose body is an [`ErrorBody`].
fn error_body(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        )
        .build()
}

fn error(description: &str) -> RefOr<Response> {
    RefOr::T(error_body(description))
}

/// An [`ErrorBody`] answer that says when to try again.
fn error_with_retry_after(description: &str) -> RefOr<Response> {
    let mut response = error_body(description);
    let mut retry_after =
        Header::new(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Integer)));
    retry_after.description = Some("Seconds to wait before trying again.".to_owned());
    response
        .headers
        .insert(header::RETRY_AFTER.as_str().to_owned(), retry_after);
    RefOr::T(response)
}

fn answers(list: &[(&str, RefOr<Response>)]) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, response)| ((*status).to_owned(), response.clone()))
        .collect()
}

/// The refusals of an endpoint that needs a signed identity: 401 and 403.
#[derive(Debug, Clone, Copy)]
pub struct SignedRefusals;

impl IntoResponses for SignedRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(&[
            (
                "401",
                error("No identity token, or a forged or expired one."),
            ),
            (
                "403",
                error(
                    "The token was signed for another caller, or the caller may not act on this.",
                ),
            ),
        ])
    }
}

/// The refusals of an endpoint that reads a JSON body: 400 and 422.
#[derive(Debug, Clone, Copy)]
pub struct BodyRefusals;

impl IntoResponses for BodyRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(&[
            (
                "400",
                error("The body is not a JSON object (or not sent as `application/json`)."),
            ),
            (
                "422",
                error("A field is missing, unknown or out of bounds; `field` names it."),
            ),
        ])
    }
}

/// The answer of any endpoint when one of its stores cannot answer: 503 with `Retry-After`.
#[derive(Debug, Clone, Copy)]
pub struct Unavailable;

impl IntoResponses for Unavailable {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(&[(
            "503",
            error_with_retry_after("A store this service needs is not answering; try again soon."),
        )])
    }
}

/// A 429 with `Retry-After`, for endpoints that limit how often one caller may act.
#[derive(Debug, Clone, Copy)]
pub struct TooMany;

impl IntoResponses for TooMany {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(&[(
            "429",
            error_with_retry_after("Too many attempts; `Retry-After` says when to try again."),
        )])
    }
}

/// Bytes of a file, sent or answered as they are (a picture upload, a picture).
#[derive(Debug, Clone, Copy)]
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

/// The document as the repository keeps it (`docs/openapi/<service>.json`): pretty JSON
/// ending in a newline.
pub fn pretty_json(document: &OpenApi) -> String {
    let mut json = document
        .to_pretty_json()
        .expect("an OpenAPI document is plain data and always serialises");
    json.push('\n');
    json
}

/// `GET /openapi.json`: the service's document, serialised once.
pub fn router(document: &OpenApi) -> Router {
    let json = pretty_json(document);
    Router::new().route(
        "/openapi.json",
        get(move || {
            let json = json.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], json) }
        }),
    )
}
