//! Reading JSON request bodies field by field, so every error names the field at fault and
//! nothing a client sends reaches a database query unparsed: a value must have the type the
//! field expects (an operator object such as `{"$gt": ""}` is not text), and unknown fields
//! are refused.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::error::ErrorBody;

/// A field that failed to parse: 422 with the field named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl IntoResponse for FieldError {
    fn into_response(self) -> Response {
        ErrorBody::for_field(self.field, self.message)
            .into_response_with(StatusCode::UNPROCESSABLE_ENTITY)
    }
}

/// The body was not a JSON object at all: 400.
#[derive(Debug)]
pub struct NotAJsonObject;

impl IntoResponse for NotAJsonObject {
    fn into_response(self) -> Response {
        ErrorBody::new("the request body must be a JSON object")
            .into_response_with(StatusCode::BAD_REQUEST)
    }
}

/// A JSON object body, read field by field.
#[derive(Debug, Clone, Default)]
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = NotAJsonObject;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<Value>::from_request(req, state).await {
            Ok(Json(Value::Object(map))) => Ok(Self(map)),
            _ => Err(NotAJsonObject),
        }
    }
}

impl JsonObject {
    /// Refuses any field not in `allowed`.
    pub fn allow_only(&self, allowed: &[&str]) -> Result<&Self, FieldError> {
        match self.0.keys().find(|key| !allowed.contains(&key.as_str())) {
            Some(unknown) => Err(FieldError::new(
                unknown.clone(),
                "is not a field this request takes",
            )),
            None => Ok(self),
        }
    }

    pub fn text(&self, field: &str) -> Result<String, FieldError> {
        self.optional_text(field)?
            .ok_or_else(|| FieldError::new(field, "is required"))
    }

    pub fn optional_text(&self, field: &str) -> Result<Option<String>, FieldError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(FieldError::new(field, "must be text")),
        }
    }

    /// A list of JSON objects (e.g. purchase lines).
    pub fn objects(&self, field: &str) -> Result<Vec<JsonObject>, FieldError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Err(FieldError::new(field, "is required")),
            Some(Value::Array(values)) => values
                .iter()
                .map(|v| match v {
                    Value::Object(map) => Ok(JsonObject(map.clone())),
                    _ => Err(FieldError::new(field, "must be a list of objects")),
                })
                .collect(),
            Some(_) => Err(FieldError::new(field, "must be a list of objects")),
        }
    }

    pub fn whole_number(&self, field: &str) -> Result<i64, FieldError> {
        self.optional_whole_number(field)?
            .ok_or_else(|| FieldError::new(field, "is required"))
    }

    pub fn optional_whole_number(&self, field: &str) -> Result<Option<i64>, FieldError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| FieldError::new(field, "must be a whole number")),
            Some(_) => Err(FieldError::new(field, "must be a whole number")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> JsonObject {
        match value {
            Value::Object(map) => JsonObject(map),
            _ => unreachable!("test bodies are objects"),
        }
    }

    #[test]
    fn an_operator_object_is_not_text() {
        let err = body(json!({ "email": { "$gt": "" } }))
            .text("email")
            .unwrap_err();
        assert_eq!(err, FieldError::new("email", "must be text"));
    }

    #[test]
    fn unknown_and_operator_keys_are_refused_by_name() {
        let b = body(json!({ "title": "x", "$where": "1" }));
        assert_eq!(b.allow_only(&["title"]).unwrap_err().field, "$where");
    }

    #[test]
    fn numbers_must_be_whole() {
        let b = body(json!({ "price_cents": 12.5, "stock": "3", "ok": 7 }));
        assert_eq!(
            b.whole_number("price_cents").unwrap_err().message,
            "must be a whole number"
        );
        assert_eq!(
            b.whole_number("stock").unwrap_err().message,
            "must be a whole number"
        );
        assert_eq!(b.whole_number("ok"), Ok(7));
        assert_eq!(
            b.whole_number("missing").unwrap_err().message,
            "is required"
        );
    }
}
