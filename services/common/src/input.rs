//! Reading JSON request bodies into their contract types, so every error names the field at
//! fault and nothing a client sends reaches a database query unparsed: a value must have the
//! type the field expects, and unknown fields are refused.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::{ErrorBody, ServiceError, error_response};

/// A field that failed to parse: 422 with the field named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field's name as the request spells it.
    pub field: String,
    /// What is wrong with it, to follow the field's name ("must be text").
    pub message: String,
}

impl FieldError {
    /// `field` is at fault, for the reason `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl ServiceError for FieldError {
    fn status(&self) -> StatusCode {
        StatusCode::UNPROCESSABLE_ENTITY
    }

    fn field_error(&self) -> Option<&FieldError> {
        Some(self)
    }
}

crate::answer_errors_with_error_body!(FieldError);

/// The body was not JSON of the request's shape at all: 400.
#[derive(Debug)]
pub struct NotAJsonObject;

impl IntoResponse for NotAJsonObject {
    fn into_response(self) -> Response {
        error_response(
            StatusCode::BAD_REQUEST,
            ErrorBody::new("the request body must be a JSON object"),
        )
    }
}

/// Why a body was refused: not JSON at all (400), or one field at fault (422).
#[derive(Debug)]
pub enum BodyRejection {
    /// Not a JSON object, or not JSON.
    NotAnObject(NotAJsonObject),
    /// The first field that did not fit the request type.
    Field(FieldError),
}

impl IntoResponse for BodyRejection {
    fn into_response(self) -> Response {
        match self {
            Self::NotAnObject(err) => err.into_response(),
            Self::Field(err) => err.into_response(),
        }
    }
}

/// A JSON request body decoded into its contract type `T` (from the `wire` crate). A value
/// of the wrong type (an operator object such as `{"$gt": ""}` is not text), a missing
/// field and an unknown field are each refused with the field named, in plain words.
#[derive(Debug, Clone, Default)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = BodyRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        if !is_json {
            return Err(BodyRejection::NotAnObject(NotAJsonObject));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| BodyRejection::NotAnObject(NotAJsonObject))?;
        decode(&bytes).map(Body)
    }
}

/// Decodes `bytes` into `T`, naming the field at fault.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyRejection> {
    // The outer shape first: anything but an object is not a request body.
    if !bytes.trim_ascii_start().starts_with(b"{") {
        return Err(BodyRejection::NotAnObject(NotAJsonObject));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(value) => Ok(value),
        Err(err) => {
            let path = err.path().clone();
            let inner = err.into_inner();
            if !inner.is_data() {
                return Err(BodyRejection::NotAnObject(NotAJsonObject));
            }
            Err(BodyRejection::Field(field_error(&path, &inner)))
        }
    }
}

/// The last named field of `path`, and serde's complaint in the words every service uses.
fn field_error(path: &serde_path_to_error::Path, err: &serde_json::Error) -> FieldError {
    let text = err.to_string();
    // serde_json ends its messages with " at line L column C".
    let text = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(t, _)| t);
    let field_in_path = path
        .iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            _ => None,
        })
        .next_back()
        .unwrap_or_else(|| "body".to_owned());
    let quoted = |marker: &str| {
        let rest = text.strip_prefix(marker)?;
        Some(rest[..rest.find('`')?].to_owned())
    };
    if let Some(unknown) = quoted("unknown field `") {
        return FieldError::new(unknown, "is not a field this request takes");
    }
    if let Some(missing) = quoted("missing field `") {
        return FieldError::new(missing, "is required");
    }
    let message = if text.starts_with("invalid type: null") {
        "is required".to_owned()
    } else if text.starts_with("invalid type") || text.starts_with("invalid value") {
        if text.ends_with("a string") {
            "must be text".to_owned()
        } else if text.ends_with("i64") || text.ends_with("u64") || text.ends_with("i32") {
            "must be a whole number".to_owned()
        } else if text.ends_with("a sequence") {
            "must be a list".to_owned()
        } else {
            "is not of the right kind".to_owned()
        }
    } else {
        // A contract type's own sentence, e.g. "must be an item id (24 hexadecimal digits)".
        text.to_owned()
    };
    FieldError::new(field_in_path, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Form {
        email: String,
        price_cents: Option<i64>,
        item_id: Option<wire::ItemId>,
    }

    fn refused(json: &str) -> FieldError {
        match decode::<Form>(json.as_bytes()) {
            Err(BodyRejection::Field(err)) => err,
            other => panic!("{json}: expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn a_body_of_the_right_shape_decodes() {
        let form = decode::<Form>(br#"{"email": "a@b.c", "item_id": "665F1C2E9B1D8A0012345678"}"#);
        assert_eq!(
            form.ok(),
            Some(Form {
                email: "a@b.c".into(),
                price_cents: None,
                item_id: "665f1c2e9b1d8a0012345678".parse().ok(),
            })
        );
    }

    #[test]
    fn an_operator_object_is_not_text() {
        assert_eq!(
            refused(r#"{"email": {"$gt": ""}}"#),
            FieldError::new("email", "must be text")
        );
    }

    #[test]
    fn unknown_and_operator_keys_are_refused_by_name() {
        assert_eq!(refused(r#"{"email": "x", "$where": "1"}"#).field, "$where");
    }

    #[test]
    fn numbers_must_be_whole_and_fields_present() {
        for json in [
            r#"{"email": "x", "price_cents": 12.5}"#,
            r#"{"email": "x", "price_cents": "3"}"#,
        ] {
            assert_eq!(
                refused(json),
                FieldError::new("price_cents", "must be a whole number"),
                "{json}"
            );
        }
        assert_eq!(refused("{}"), FieldError::new("email", "is required"));
        assert_eq!(
            refused(r#"{"email": null}"#),
            FieldError::new("email", "is required")
        );
    }

    #[test]
    fn a_contract_type_gives_its_own_sentence() {
        assert_eq!(
            refused(r#"{"email": "x", "item_id": "../x"}"#),
            FieldError::new("item_id", "must be an item id (24 hexadecimal digits)")
        );
    }

    #[test]
    fn anything_but_an_object_is_a_400() {
        for json in ["[]", "\"x\"", "{", "nonsense"] {
            assert!(
                matches!(
                    decode::<Form>(json.as_bytes()),
                    Err(BodyRejection::NotAnObject(_))
                ),
                "{json}"
            );
        }
    }
}
