//! The one place where failures become exit codes (SPEC section 3) and JSON error codes.

use thiserror::Error;

use crate::backend::BackendError;
use crate::config::ConfigError;
use crate::engine::EngineError;
use crate::engine::error::ErrorCode;
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
    /// A webhook receiver did not acknowledge what was sent.
    #[error("{0}")]
    Delivery(String),
    /// Another process holds the lock this command needs.
    #[error("{0}")]
    Busy(String),
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

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Backend(BackendError::Engine(EngineError::Refused(_))) => REFUSED,
            CliError::Backend(BackendError::Engine(_)) => INVALID,
            CliError::Backend(BackendError::Unsupported(_)) => INVALID,
            CliError::Backend(BackendError::Store(
                StoreError::NotEmpty { .. } | StoreError::TargetNotEmpty { .. },
            )) => INVALID,
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
            CliError::Delivery(_) | CliError::Busy(_) => FAILURE,
        }
    }

    /// A stable name for `{"error": {"code": ...}}`.
    pub fn code(&self) -> ErrorCode {
        match self {
            CliError::Backend(BackendError::Engine(e)) => e.code(),
            CliError::Backend(BackendError::Store(
                StoreError::Corrupt { .. } | StoreError::DbCorrupt { .. },
            )) => ErrorCode::StoreCorrupt,
            CliError::Backend(BackendError::Store(StoreError::Db { .. })) => ErrorCode::Io,
            CliError::Backend(BackendError::Store(StoreError::DbUnreachable { .. })) => {
                ErrorCode::Unreachable
            }
            CliError::Backend(BackendError::Store(StoreError::Missing { .. })) => {
                ErrorCode::StoreMissing
            }
            CliError::Backend(BackendError::Store(StoreError::NotAFile { .. })) => {
                ErrorCode::NotAFile
            }
            CliError::Backend(BackendError::Store(StoreError::Io { .. })) => ErrorCode::Io,
            CliError::Backend(BackendError::Store(
                StoreError::NotEmpty { .. } | StoreError::TargetNotEmpty { .. },
            )) => ErrorCode::StoreNotEmpty,
            CliError::Backend(BackendError::Unsupported(_)) => ErrorCode::Unsupported,
            CliError::Backend(BackendError::Unreachable(_)) => ErrorCode::Unreachable,
            CliError::Backend(BackendError::Unauthorized(_)) => ErrorCode::Unauthorized,
            CliError::Backend(BackendError::Inconsistent(_)) => ErrorCode::Inconsistent,
            CliError::Backend(BackendError::Remote { code, .. }) => *code,
            CliError::Config(_) => ErrorCode::InvalidConfig,
            CliError::Invalid(_) => ErrorCode::InvalidInput,
            CliError::Output(_) => ErrorCode::Io,
            CliError::Console(_) => ErrorCode::Terminal,
            CliError::Delivery(_) => ErrorCode::DeliveryFailed,
            CliError::Busy(_) => ErrorCode::Busy,
        }
    }

    /// The line number of a store that fails verification, for `--json` output (a database's
    /// sequence number, which is the line number of its export).
    pub fn line(&self) -> Option<u64> {
        match self {
            CliError::Backend(BackendError::Store(StoreError::Corrupt { line, .. })) => Some(*line),
            CliError::Backend(BackendError::Store(StoreError::DbCorrupt { seq, .. })) => Some(*seq),
            _ => None,
        }
    }
}
