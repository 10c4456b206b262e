//! The events up to a moment rebuilt from the records of a later state (`--at`), so that the
//! state as of a moment can be replayed without parsing every event again: a store line says
//! what happened and to which record ([`Mention`]); the record, in a state that includes the
//! event, holds the rest. A record never changes after the event that made it, except what
//! later events set (a request's status; an exception's status and review), and those are
//! known from the event's kind.

use uuid::Uuid;

use super::event::{
    EventKind, ExceptionExpired, ExceptionRequested, ExceptionReviewed, OutcomeRecorded,
    RequestDecided, RequestSubmitted,
};
use super::model::{DecisionKind, ExceptionStatus, Gate, RequestStatus};
use super::state::State;

/// What one event did, and to which record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mention {
    /// The request submitted.
    RequestSubmitted(Uuid),
    /// The request decided.
    RequestDecided(Uuid),
    /// The exception requested.
    ExceptionRequested(Uuid),
    /// The exception reviewed.
    ExceptionReviewed(Uuid),
    /// The exception whose expiry was recorded.
    ExceptionExpired(Uuid),
    /// The request whose outcome was recorded.
    OutcomeRecorded(Uuid),
}

impl Mention {
    /// What an event did, and to which record.
    pub fn of(kind: &EventKind) -> Mention {
        match kind {
            EventKind::RequestSubmitted(e) => Mention::RequestSubmitted(e.request.id),
            EventKind::RequestDecided(e) => Mention::RequestDecided(e.decision.request_id),
            EventKind::ExceptionRequested(e) => Mention::ExceptionRequested(e.exception.id),
            EventKind::ExceptionReviewed(e) => Mention::ExceptionReviewed(e.exception_id),
            EventKind::ExceptionExpired(e) => Mention::ExceptionExpired(e.exception_id),
            EventKind::OutcomeRecorded(e) => Mention::OutcomeRecorded(e.outcome.request_id),
        }
    }

    /// The event as it was recorded, rebuilt from `later`, a state replayed from the events up
    /// to it and beyond (as the store reader does, every one judged by the rules). `None` when
    /// `later` does not hold what the event made: the caller reads the event itself instead.
    pub fn rebuild(self, later: &State) -> Option<EventKind> {
        Some(match self {
            Mention::RequestSubmitted(id) => {
                let mut request = later.request(&id)?.clone();
                // Submission sets the status from the gate; only a decision changes it.
                request.status = match request.gate {
                    Gate::AutoApproved => RequestStatus::AutoApproved,
                    Gate::ManualReview => RequestStatus::UnderReview,
                    Gate::ExceptionRequired => RequestStatus::ExceptionRequired,
                };
                // An automatic approval comes with its submission; any other decision later.
                let decision = match request.gate {
                    Gate::AutoApproved => Some(later.decision(&id)?.clone()),
                    _ => None,
                };
                EventKind::RequestSubmitted(RequestSubmitted { request, decision })
            }
            Mention::RequestDecided(request_id) => {
                let decision = later.decision(&request_id)?.clone();
                if decision.decision == DecisionKind::AutoApproved {
                    return None;
                }
                EventKind::RequestDecided(RequestDecided {
                    deployment_intent_id: later.request(&request_id)?.deployment_intent_id.clone(),
                    decision,
                })
            }
            Mention::ExceptionRequested(id) => {
                let mut exception = later.exception(&id)?.clone();
                // Requested pending and unreviewed; a review or an expiry changed that later.
                exception.status = ExceptionStatus::Pending;
                exception.reviewed_by = None;
                exception.reviewed_at = None;
                exception.review_rationale = None;
                EventKind::ExceptionRequested(ExceptionRequested { exception })
            }
            Mention::ExceptionReviewed(id) => {
                let exception = later.exception(&id)?;
                let status = match exception.status {
                    ExceptionStatus::Approved | ExceptionStatus::Rejected => exception.status,
                    // Only a pending or approved exception expires: a reviewed one that did
                    // was approved.
                    ExceptionStatus::Expired => ExceptionStatus::Approved,
                    ExceptionStatus::Pending => return None,
                };
                EventKind::ExceptionReviewed(ExceptionReviewed {
                    exception_id: id,
                    request_id: exception.request_id,
                    deployment_intent_id: exception.deployment_intent_id.clone(),
                    status,
                    reviewed_by: exception.reviewed_by.clone()?,
                    reviewed_at: exception.reviewed_at?,
                    review_rationale: exception.review_rationale.clone()?,
                })
            }
            Mention::ExceptionExpired(id) => {
                let exception = later.exception(&id)?;
                if exception.status != ExceptionStatus::Expired {
                    return None;
                }
                EventKind::ExceptionExpired(ExceptionExpired {
                    exception_id: id,
                    request_id: exception.request_id,
                    deployment_intent_id: exception.deployment_intent_id.clone(),
                    expires_at: exception.expires_at,
                })
            }
            Mention::OutcomeRecorded(request_id) => EventKind::OutcomeRecorded(OutcomeRecorded {
                outcome: later.outcome(&request_id)?.clone(),
            }),
        })
    }
}
