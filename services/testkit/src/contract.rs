//! The proof that both ends of a call share one contract: an answer encoded the way a
//! service's handler encodes it decodes, through the typed client's own decoder, to the
//! same value.

use std::fmt::Debug;

use axum::response::IntoResponse;
use serde::de::DeserializeOwned;

/// Encodes `answer` with the handler's response type (`Json<T>`, `(StatusCode, Json<T>)`…)
/// and decodes the body with [`clients::decode_answer`]: the value must come back equal.
pub async fn round_trip<T>(handler_answer: impl IntoResponse, expected: &T)
where
    T: DeserializeOwned + PartialEq + Debug,
{
    let response = handler_answer.into_response();
    assert!(
        response.status().is_success(),
        "a handler answer, not an error: {}",
        response.status()
    );
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the answer's body");
    let decoded: T = clients::decode_answer(&body).expect("the client decodes the answer");
    assert_eq!(&decoded, expected);
}
