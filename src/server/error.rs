//! The one place where failures become HTTP statuses and `{"error": {"code", "message"}}`
//! bodies (SPEC section 5): 400 invalid input, 401 no or bad token, 403 missing role or
//! separation of duties, 404 unknown id or route, 409 wrong state, already decided or expired.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::backend::BackendError;
use crate::engine::EngineError;
use crate::store::StoreError;
use crate::untrusted::json;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required (Authorization: Bearer TOKEN)",
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        let message = e.to_string();
        match e {
            BackendError::Engine(EngineError::Invalid(_)) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message)
            }
            BackendError::Engine(EngineError::NotFound { .. }) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            BackendError::Engine(EngineError::Refused(r)) => {
                let status = if r.is_permission() {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::CONFLICT
                };
                ApiError::new(status, r.code(), message)
            }
            BackendError::Store(StoreError::Corrupt { .. }) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "store_corrupt", message)
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = json_response(
            self.status,
            &Body {
                error: Detail {
                    code: &self.code,
                    message: &self.message,
                },
            },
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// A JSON response written by the safe formatter: untrusted text in it is escaped, never raw.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match json::to_string(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            format!(
                "{{\"error\":{{\"code\":\"internal\",\"message\":{}}}}}",
                serde_json::to_string(&e.to_string()).unwrap_or_default()
            ),
        )
            .into_response(),
    }
}
