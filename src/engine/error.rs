//! Why the engine said no: invalid input, an unknown id, or a workflow rule.
//! Every message is a sentence a user can act on; the mapping to exit codes and HTTP statuses
//! lives with the shells (`cli::exit`, the server), keyed on [`EngineError::code`].

use chrono::{DateTime, Utc};
use thiserror::Error;
use uuid::Uuid;

use super::model::{Decision, ExceptionStatus, Role, short_id};
use super::time;

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
}

impl Refusal {
    /// A stable name for the rule, for scripts (`error.code` in JSON).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::MissingRole { .. } => "missing_role",
            Refusal::SeparationOfDuties { .. } => "separation_of_duties",
            Refusal::AlreadyDecided(_) => "already_decided",
            Refusal::ExceptionRequired { .. } => "exception_required",
            Refusal::NoExceptionNeeded { .. } => "wrong_state",
            Refusal::ExceptionOpen { .. } => "exception_open",
            Refusal::AlreadyReviewed { .. } => "already_reviewed",
            Refusal::ExceptionExpired { .. } => "exception_expired",
            Refusal::BeforeRecord { .. } => "before_record",
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
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Invalid(_) => "invalid_input",
            EngineError::NotFound { .. } => "not_found",
            EngineError::Refused(refusal) => refusal.code(),
        }
    }
}
