//! JSON Schemas of the types that read their own text (ids, picture names), for the
//! services' OpenAPI documents: the pattern says exactly what `parse` accepts. Only with the
//! `openapi` feature.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

/// A string matching `pattern`, such as `example`.
pub(crate) fn text(description: &str, pattern: &str, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .description(Some(description))
        .pattern(Some(pattern))
        .examples([serde_json::Value::from(example)])
        .into()
}

/// Gives a type that travels as text its schema: `text_schema!(Type, description, pattern,
/// example)`.
macro_rules! text_schema {
    ($name:ty, $description:expr, $pattern:expr, $example:expr) => {
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::openapi::text($description, $pattern, $example)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

pub(crate) use text_schema;
