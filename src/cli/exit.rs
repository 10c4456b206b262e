//! The one place where failures become exit codes (SPEC section 3) and JSON error codes.

use thiserror::Error;

use crate::backend::BackendError;
use crate::config::ConfigError;
use crate::engine::EngineError;
use crate::store::StoreError;

pub const OK: u8 = 0;
pub const FAILURE: u8 = 1;
pub const INVALID: u8 = 2;
pub const NOT_ELIGIBLE: u8 = 3;
pub const REFUSED: u8 = 4;

#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Input the command line itself cannot accept.
    #[error("{0}")]
    Invalid(String),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    #[error(transparent)]
    Console(crate::console::ConsoleError),
}

impl From<crate::console::ConsoleError> for CliError {
    fn from(e: crate::console::ConsoleError) -> Self {
        match e {
            crate::console::ConsoleError::Backend(e) => CliError::Backend(e),
            other => CliError::Console(other),
        }
    }
}

impl From<EngineError> for CliError {
    fn from(e: EngineError) -> Self {
        CliError::Backend(BackendError::Engine(e))
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::Backend(BackendError::Store(e))
    }
}

impl From<crate::engine::Invalid> for CliError {
    fn from(e: crate::engine::Invalid) -> Self {
        CliError::Backend(BackendError::Engine(EngineError::Invalid(e)))
    }
}

impl From<crate::demo::DemoError> for CliError {
    fn from(e: crate::demo::DemoError) -> Self {
        match e {
            crate::demo::DemoError::Store(e) => e.into(),
            crate::demo::DemoError::Engine(e) => CliError::Backend(BackendError::Unsupported(
                format!("the demo generator failed, which is a bug in cab: {e}"),
            )),
        }
    }
}

/// The server's error code as a static string, for the codes cab's server sends.
fn remote_code(code: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "invalid_input",
        "body_too_large",
        "not_found",
        "missing_role",
        "separation_of_duties",
        "already_decided",
        "exception_required",
        "wrong_state",
        "exception_open",
        "already_reviewed",
        "exception_expired",
        "before_record",
        "store_corrupt",
        "internal",
        "timeout",
        "method_not_allowed",
    ];
    KNOWN
        .iter()
        .find(|k| **k == code)
        .copied()
        .unwrap_or("server_error")
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Backend(BackendError::Engine(EngineError::Refused(_))) => REFUSED,
            CliError::Backend(BackendError::Engine(_)) => INVALID,
            CliError::Backend(BackendError::Unsupported(_)) => INVALID,
            CliError::Backend(BackendError::Store(StoreError::NotEmpty { .. })) => INVALID,
            CliError::Backend(
                BackendError::Store(_)
                | BackendError::Unreachable(_)
                | BackendError::Unauthorized(_)
                | BackendError::Inconsistent(_),
            ) => FAILURE,
            CliError::Backend(BackendError::Remote { status, .. }) => match status {
                400 | 404 | 413 => INVALID,
                403 | 409 => REFUSED,
                _ => FAILURE,
            },
            CliError::Config(_) | CliError::Invalid(_) => INVALID,
            CliError::Output(_) | CliError::Console(_) => FAILURE,
        }
    }

    /// A stable name for `{"error": {"code": ...}}`.
    pub fn code(&self) -> &'static str {
        match self {
            CliError::Backend(BackendError::Engine(e)) => e.code(),
            CliError::Backend(BackendError::Store(StoreError::Corrupt { .. })) => "store_corrupt",
            CliError::Backend(BackendError::Store(StoreError::Missing { .. })) => "store_missing",
            CliError::Backend(BackendError::Store(StoreError::NotAFile { .. })) => "not_a_file",
            CliError::Backend(BackendError::Store(StoreError::Io { .. })) => "io",
            CliError::Backend(BackendError::Store(StoreError::NotEmpty { .. })) => {
                "store_not_empty"
            }
            CliError::Backend(BackendError::Unsupported(_)) => "unsupported",
            CliError::Backend(BackendError::Unreachable(_)) => "unreachable",
            CliError::Backend(BackendError::Unauthorized(_)) => "unauthorized",
            CliError::Backend(BackendError::Inconsistent(_)) => "inconsistent",
            CliError::Backend(BackendError::Remote { code, .. }) => remote_code(code),
            CliError::Config(_) => "invalid_config",
            CliError::Invalid(_) => "invalid_input",
            CliError::Output(_) => "io",
            CliError::Console(_) => "terminal",
        }
    }

    /// The line number of a store that fails verification, for `--json` output.
    pub fn line(&self) -> Option<u64> {
        match self {
            CliError::Backend(BackendError::Store(StoreError::Corrupt { line, .. })) => Some(*line),
            _ => None,
        }
    }
}
