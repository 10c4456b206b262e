//! Why the engine said no: invalid input, an unknown id, or a workflow rule; and
//! [`ErrorCode`], the one list of stable failure names that the engine, the server, the remote
//! client and the command line all use. Every message is a sentence a user can act on; the
//! mapping to exit codes and HTTP statuses lives with the shells (`cli::exit`,
//! `server::error`), keyed on [`ErrorCode`].

use chrono::{DateTime, Utc};
use thiserror::Error;
use uuid::Uuid;

use super::model::{Decision, ExceptionStatus, Outcome, Role, short_id};
use super::time;

/// Declares [`ErrorCode`] with its wire names once, so `ALL` and `as_str` cannot miss a code.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $code:ident = $text:literal,)*) => {
        /// A failure's stable name: `error.code` in `--json` output and in the server's error
        /// bodies. Scripts match on these, so a name never changes once released.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $code,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$code,)*];

            /// The name on the wire and in JSON output.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$code => $text,)*
                }
            }
        }
    };
}

error_codes! {
    // The engine's: invalid input, an unknown id, and one per workflow rule.
    InvalidInput = "invalid_input",
    NotFound = "not_found",
    MissingRole = "missing_role",
    SeparationOfDuties = "separation_of_duties",
    AlreadyDecided = "already_decided",
    ExceptionRequired = "exception_required",
    WrongState = "wrong_state",
    ExceptionOpen = "exception_open",
    AlreadyReviewed = "already_reviewed",
    ExceptionExpired = "exception_expired",
    BeforeRecord = "before_record",
    NotEligible = "not_eligible",
    OutcomeRecorded = "outcome_recorded",
    // The server's own.
    Unauthorized = "unauthorized",
    BodyTooLarge = "body_too_large",
    MethodNotAllowed = "method_not_allowed",
    Timeout = "timeout",
    StoreCorrupt = "store_corrupt",
    /// The store's database cannot be reached (a server answers 503).
    StoreUnavailable = "store_unavailable",
    Internal = "internal",
    // The command line's, for failures on this machine.
    Usage = "usage",
    InvalidConfig = "invalid_config",
    StoreMissing = "store_missing",
    NotAFile = "not_a_file",
    StoreNotEmpty = "store_not_empty",
    Io = "io",
    Unsupported = "unsupported",
    Unreachable = "unreachable",
    Inconsistent = "inconsistent",
    Terminal = "terminal",
    /// A webhook's receiver did not acknowledge a message (`cab notify`, `cab webhook test`).
    DeliveryFailed = "delivery_failed",
    /// Another process already does this (delivers this store's webhooks).
    Busy = "busy",
    /// A server answered with an error body this client does not know (another server, or a
    /// newer cab).
    ServerError = "server_error",
}

impl ErrorCode {
    /// The code of a server's error body, when it is one a cab server sends; `None` for any
    /// other text, which the client reports as [`ErrorCode::ServerError`].
    pub fn from_wire(text: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == text)
            .filter(|code| code.is_sent_by_server())
    }

    /// Whether a cab server puts this code in its error bodies.
    pub fn is_sent_by_server(self) -> bool {
        use ErrorCode::*;
        match self {
            InvalidInput | NotFound | MissingRole | SeparationOfDuties | AlreadyDecided
            | ExceptionRequired | WrongState | ExceptionOpen | AlreadyReviewed
            | ExceptionExpired | BeforeRecord | NotEligible | OutcomeRecorded | Unauthorized
            | BodyTooLarge | MethodNotAllowed | Timeout | StoreCorrupt | StoreUnavailable
            | Internal => true,
            Usage | InvalidConfig | StoreMissing | NotAFile | StoreNotEmpty | Io | Unsupported
            | Unreachable | Inconsistent | Terminal | DeliveryFailed | Busy | ServerError => false,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ErrorCode> for String {
    fn from(code: ErrorCode) -> String {
        code.as_str().to_string()
    }
}

/// So a test can say `assert_eq!(err.code(), "missing_role")`.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Input that can never be accepted, whatever the state: a bad score, an empty rationale...
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Invalid {
            field,
            message: message.into(),
        }
    }
}

/// A workflow rule that refused an action. Each names the rule and, where there is one, the
/// record that stands in the way.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Refusal {
    #[error("{user} may not {action}: that needs the {role} role ({user} has: {has})")]
    MissingRole {
        user: String,
        action: &'static str,
        role: Role,
        has: String,
    },
    #[error("separation of duties: {user} {relation} and may not {action}")]
    SeparationOfDuties {
        user: String,
        relation: String,
        action: &'static str,
    },
    #[error(
        "request {} was already decided: {} by {} at {}; a decision is never changed",
        short_id(&.0.request_id), .0.decision, .0.approver, time::format(.0.decided_at)
    )]
    AlreadyDecided(Box<Decision>),
    #[error(
        "request {} has risk {score} above the manual review maximum {max}: it needs a security exception, not a CAB decision",
        short_id(request_id)
    )]
    ExceptionRequired {
        request_id: Uuid,
        score: String,
        max: f64,
    },
    #[error(
        "request {} is {status}: exceptions are only for requests in exception_required",
        short_id(request_id)
    )]
    NoExceptionNeeded { request_id: Uuid, status: String },
    #[error(
        "request {} already has a {status} exception {}; a new one can be requested only once it is rejected or expired",
        short_id(request_id),
        short_id(exception_id)
    )]
    ExceptionOpen {
        request_id: Uuid,
        exception_id: Uuid,
        status: ExceptionStatus,
    },
    #[error(
        "exception {} was already {status} by {by} at {}; a review is never changed",
        short_id(exception_id), time::format(*at)
    )]
    AlreadyReviewed {
        exception_id: Uuid,
        status: ExceptionStatus,
        by: String,
        at: DateTime<Utc>,
    },
    #[error(
        "exception {} expired at {}; an expired exception cannot be reviewed, request a new one",
        short_id(exception_id), time::format(*expires_at)
    )]
    ExceptionExpired {
        exception_id: Uuid,
        expires_at: DateTime<Utc>,
    },
    #[error(
        "the clock reads {}, before {what} at {}: nothing can be dated before what it acts on (is CAB_NOW set back?)",
        time::format(*now), time::format(*at)
    )]
    BeforeRecord {
        /// What came first, as a phrase: "request 1a2b3c4d was submitted".
        what: String,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error(
        "request {} is {status}: an outcome is recorded only for a request that could be deployed (auto_approved, approved, conditional, or with an active exception)",
        short_id(request_id)
    )]
    NotEligible { request_id: Uuid, status: String },
    #[error(
        "request {} already has an outcome: {} recorded by {} at {}; an outcome is never changed",
        short_id(&.0.request_id), .0.result, .0.recorded_by, time::format(.0.recorded_at)
    )]
    OutcomeRecorded(Box<Outcome>),
}

impl Refusal {
    /// A stable name for the rule, for scripts (`error.code` in JSON).
    pub fn code(&self) -> ErrorCode {
        match self {
            Refusal::MissingRole { .. } => ErrorCode::MissingRole,
            Refusal::SeparationOfDuties { .. } => ErrorCode::SeparationOfDuties,
            Refusal::AlreadyDecided(_) => ErrorCode::AlreadyDecided,
            Refusal::ExceptionRequired { .. } => ErrorCode::ExceptionRequired,
            Refusal::NoExceptionNeeded { .. } => ErrorCode::WrongState,
            Refusal::ExceptionOpen { .. } => ErrorCode::ExceptionOpen,
            Refusal::AlreadyReviewed { .. } => ErrorCode::AlreadyReviewed,
            Refusal::ExceptionExpired { .. } => ErrorCode::ExceptionExpired,
            Refusal::BeforeRecord { .. } => ErrorCode::BeforeRecord,
            Refusal::NotEligible { .. } => ErrorCode::NotEligible,
            Refusal::OutcomeRecorded(_) => ErrorCode::OutcomeRecorded,
        }
    }

    /// Who may not act (403) as against what may not happen now (409).
    pub fn is_permission(&self) -> bool {
        matches!(
            self,
            Refusal::MissingRole { .. } | Refusal::SeparationOfDuties { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum EngineError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("no {what} matches {id:?}")]
    NotFound { what: &'static str, id: String },
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl EngineError {
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::Invalid(_) => ErrorCode::InvalidInput,
            EngineError::NotFound { .. } => ErrorCode::NotFound,
            EngineError::Refused(refusal) => refusal.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_the_server_sends_reads_back_as_itself() {
        let sent: Vec<ErrorCode> = ErrorCode::ALL
            .iter()
            .copied()
            .filter(|c| c.is_sent_by_server())
            .collect();
        assert!(sent.contains(&ErrorCode::MissingRole) && sent.contains(&ErrorCode::Timeout));
        for code in sent {
            assert_eq!(ErrorCode::from_wire(code.as_str()), Some(code));
        }
    }

    #[test]
    fn a_code_no_server_sends_is_not_read_from_the_wire() {
        for text in [
            "usage",
            "io",
            "invalid_config",
            "server_error",
            "http",
            "",
            "NOT_FOUND",
        ] {
            assert_eq!(ErrorCode::from_wire(text), None, "{text:?}");
        }
    }

    #[test]
    fn no_two_codes_share_a_name() {
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }
}
