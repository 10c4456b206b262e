//! The one place where failures become HTTP statuses and `{"error": {"code", "message"}}`
//! bodies (SPEC section 5): 400 invalid input, 401 no or bad token, 403 missing role or
//! separation of duties, 404 unknown id or route, 409 wrong state, already decided or expired.
//! A failure of the server itself is a 500 with a generic sentence and a stable code: what went
//! wrong, file paths and operating-system errors included, goes to the server's log only.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::backend::BackendError;
use crate::engine::error::ErrorCode;
use crate::store::StoreError;
use crate::untrusted::json;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

/// The HTTP status of each code a server sends (SPEC section 5); a code only the command line
/// uses would be the server's own failure.
pub fn status(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        InvalidInput => StatusCode::BAD_REQUEST,
        Unauthorized => StatusCode::UNAUTHORIZED,
        MissingRole | SeparationOfDuties => StatusCode::FORBIDDEN,
        NotFound => StatusCode::NOT_FOUND,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        AlreadyDecided | ExceptionRequired | WrongState | ExceptionOpen | AlreadyReviewed
        | ExceptionExpired | BeforeRecord | NotEligible | OutcomeRecorded => StatusCode::CONFLICT,
        BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Timeout | StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        StoreCorrupt | Internal | Usage | InvalidConfig | StoreMissing | NotAFile
        | StoreNotEmpty | Io | Unsupported | Unreachable | Inconsistent | Terminal
        | DeliveryFailed | Busy | ServerError => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// An error with the status its code has.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status: status(code),
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidInput, message)
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            ErrorCode::Unauthorized,
            "a valid bearer token is required (Authorization: Bearer TOKEN)",
        )
    }

    /// The store cannot be used now (its database is unreachable, say): 503, the reason logged.
    pub fn unavailable(e: BackendError) -> Self {
        logged(
            ErrorCode::StoreUnavailable,
            UNAVAILABLE_MESSAGE,
            &e.to_string(),
        )
    }

    /// The server failed: `detail` goes to the log, the client learns only that it failed.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        logged(ErrorCode::Internal, INTERNAL_MESSAGE, &detail.to_string())
    }
}

const INTERNAL_MESSAGE: &str =
    "the server could not complete the request; the details are in the server's log";
const UNAVAILABLE_MESSAGE: &str = "the store's database cannot be reached; the server's log says why, and the server recovers by itself once it is back";
const CORRUPT_MESSAGE: &str = "the store fails verification; the server's log names the line, and `cab verify` on the server explains it";

/// A 500 whose `detail` is logged and never sent.
fn logged(code: ErrorCode, message: &str, detail: &str) -> ApiError {
    tracing::error!(
        code = %code,
        detail = %crate::untrusted::line(detail),
        "the request failed inside the server"
    );
    ApiError::new(code, message)
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        let message = e.to_string();
        match e {
            BackendError::Engine(engine) => ApiError::new(engine.code(), message),
            BackendError::Store(StoreError::Corrupt { .. } | StoreError::DbCorrupt { .. }) => {
                logged(ErrorCode::StoreCorrupt, CORRUPT_MESSAGE, &message)
            }
            BackendError::Store(StoreError::DbUnreachable { .. }) => {
                logged(ErrorCode::StoreUnavailable, UNAVAILABLE_MESSAGE, &message)
            }
            _ => ApiError::internal(message),
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
                    code: self.code.as_str(),
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
        Err(e) => {
            let _ = logged(ErrorCode::Internal, INTERNAL_MESSAGE, &e.to_string());
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "application/json")],
                format!(
                    "{{\"error\":{{\"code\":\"internal\",\"message\":\"{INTERNAL_MESSAGE}\"}}}}"
                ),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn who_may_not_act_is_403_and_what_may_not_happen_now_is_409() {
        for code in [ErrorCode::MissingRole, ErrorCode::SeparationOfDuties] {
            assert_eq!(status(code), StatusCode::FORBIDDEN, "{code}");
        }
        for code in [
            ErrorCode::AlreadyDecided,
            ErrorCode::ExceptionRequired,
            ErrorCode::WrongState,
            ErrorCode::ExceptionOpen,
            ErrorCode::AlreadyReviewed,
            ErrorCode::ExceptionExpired,
            ErrorCode::BeforeRecord,
        ] {
            assert_eq!(status(code), StatusCode::CONFLICT, "{code}");
        }
        assert_eq!(status(ErrorCode::InvalidInput), StatusCode::BAD_REQUEST);
        assert_eq!(status(ErrorCode::NotFound), StatusCode::NOT_FOUND);
    }

    #[test]
    fn a_5xx_carries_neither_the_store_path_nor_the_system_error() {
        let path = PathBuf::from("/srv/secret/cab/store.jsonl");
        let failures = [
            BackendError::Store(StoreError::Io {
                action: "read",
                path: path.clone(),
                source: std::io::Error::from_raw_os_error(13),
            }),
            BackendError::Store(StoreError::Corrupt {
                path: path.clone(),
                line: 7,
                reason: "cannot read /srv/secret: Permission denied (os error 13)".into(),
            }),
            BackendError::Store(StoreError::Missing { path }),
        ];
        for failure in failures {
            let error = ApiError::from(failure);
            assert_eq!(error.status, StatusCode::INTERNAL_SERVER_ERROR);
            assert!(
                !error.message.contains("/srv") && !error.message.contains("os error"),
                "{error:?}"
            );
            assert!([ErrorCode::Internal, ErrorCode::StoreCorrupt].contains(&error.code));
        }
        let error = ApiError::internal("join error: /tmp/x: Input/output error (os error 5)");
        assert!(!error.message.contains("/tmp") && !error.message.contains("os error"));
    }
}
