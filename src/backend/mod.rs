//! The one interface the command line and the console talk to. The local store implements it
//! here; the HTTP client implements it for a shared server. Neither front end knows which one
//! it holds: ids may be prefixes, identity is the backend's, answers are the engine's views.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::engine::query::Counts;
use crate::engine::report::{Report, ReportQuery};
use crate::engine::{
    Actor, EngineError, ExceptionFilter, ExceptionView, Outcome, OutcomeResult, RequestDetail,
    RequestFilter, RequestView, Review, State, StatusView, StoredEvent, Submission, Verdict,
};
use crate::store::StoreError;

pub mod as_of;
pub mod local;
pub mod snapshot;

pub use as_of::AsOfBackend;
pub use local::{LocalBackend, LocalStore};
pub use snapshot::Snapshot;

#[derive(Debug, Error)]
pub enum BackendError {
    /// Invalid input, an unknown id, or a workflow rule's refusal.
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The backend cannot do this at all (a local-only command against a server, say).
    #[error("{0}")]
    Unsupported(String),
    /// The server could not be reached or answered with something that is not the API.
    #[error("{0}")]
    Unreachable(String),
    /// The server did not accept the token.
    #[error("{0}")]
    Unauthorized(String),
    /// Events that cannot follow each other: the source is not a store cab wrote.
    #[error("{0}")]
    Inconsistent(String),
    /// The server refused or failed, with its status and error body; a code the client does
    /// not know is [`ErrorCode::ServerError`](crate::engine::error::ErrorCode::ServerError).
    #[error("{message}")]
    Remote {
        status: u16,
        code: crate::engine::error::ErrorCode,
        message: String,
    },
}

/// Events after a sequence number, and the newest sequence number there is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    pub events: Vec<StoredEvent>,
    pub head: u64,
}

/// What cleanup recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanupReport {
    /// How many expiries were recorded.
    pub recorded: usize,
    pub exceptions: Vec<ExceptionView>,
}

pub trait Backend: Send + Sync {
    /// Where the data lives, for people: "store /path/to/store.jsonl" or "server https://…".
    fn location(&self) -> String;

    /// Who this backend acts as.
    fn whoami(&self) -> Result<Actor, BackendError>;

    fn submit(&self, submission: Submission) -> Result<RequestView, BackendError>;

    /// Approve (with or without conditions) or reject a request, by id or unique prefix.
    fn decide(
        &self,
        request: &str,
        verdict: Verdict,
        rationale: &str,
    ) -> Result<RequestView, BackendError>;

    fn request_exception(
        &self,
        request: &str,
        justification: &str,
        compensating_controls: Vec<String>,
        expiry_days: Option<i64>,
    ) -> Result<ExceptionView, BackendError>;

    fn review_exception(
        &self,
        exception: &str,
        review: Review,
        rationale: &str,
    ) -> Result<ExceptionView, BackendError>;

    fn cleanup(&self) -> Result<CleanupReport, BackendError>;

    /// Record how the deployment of an eligible request went; the outcome recorded. (A request
    /// view keeps exactly the fields SPEC section 3 gives it; the outcome is in its history.)
    fn record_outcome(
        &self,
        request: &str,
        result: OutcomeResult,
        incident: Option<&str>,
        note: Option<&str>,
    ) -> Result<Outcome, BackendError>;

    fn requests(
        &self,
        filter: RequestFilter,
        deployment: Option<&str>,
    ) -> Result<Vec<RequestView>, BackendError>;

    /// One request with its decision, exceptions and event history.
    fn request(&self, id: &str) -> Result<RequestDetail, BackendError>;

    fn exceptions(&self, filter: ExceptionFilter) -> Result<Vec<ExceptionView>, BackendError>;

    fn status(&self, deployment: &str, ring: Option<u32>) -> Result<StatusView, BackendError>;

    fn counts(&self) -> Result<Counts, BackendError>;

    /// The report of a period (SPEC section 6); unset times default from this backend's clock.
    fn report(&self, query: ReportQuery) -> Result<Report, BackendError>;

    /// Events after `after`; when there are none yet, wait up to `wait` for one.
    fn events(&self, after: u64, wait: Duration) -> Result<EventPage, BackendError>;

    /// The state of the open requests alone (those nobody has decided, with their exceptions
    /// and outcomes), when this backend can give it well before [`Self::snapshot`]: all a
    /// console's first screen draws. A large local store with no checkpoint gives one
    /// (`store::preview`); by default there is none.
    fn preview(&self) -> Option<State> {
        None
    }

    /// The whole state, the sequence number it is at and that event's hash: where a console
    /// starts from before following `events`. By default, every event replayed.
    fn snapshot(&self) -> Result<Snapshot, BackendError> {
        let page = self.events(0, Duration::ZERO)?;
        let mut state = State::new();
        let mut head_hash = None;
        for e in page.events {
            let seq = e.seq;
            head_hash = Some(e.hash.clone());
            crate::engine::admit(&mut state, seq, e.event).map_err(|err| {
                BackendError::Inconsistent(format!("event {seq} cannot be accepted: {err}"))
            })?;
        }
        let head = state.head().max(page.head);
        if head != state.head() {
            head_hash = None;
        }
        Ok(Snapshot {
            state,
            head,
            head_hash,
        })
    }

    /// Every event there is, in order (page by page where the backend pages).
    fn all_events(&self) -> Result<Vec<StoredEvent>, BackendError> {
        let mut events: Vec<StoredEvent> = Vec::new();
        let mut after = 0;
        loop {
            let page = self.events(after, Duration::ZERO)?;
            let got = page.events.len();
            after = page.events.last().map_or(after, |e| e.seq);
            events.extend(page.events);
            if after >= page.head || got == 0 {
                return Ok(events);
            }
        }
    }

    /// Things the user should be told that are not errors (a torn line quarantined, say).
    /// Each is returned once.
    fn take_notices(&self) -> Vec<String>;
}
