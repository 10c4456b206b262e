//! The audit trail as records: every decision (automatic ones included), exception request,
//! exception review, recorded expiry and outcome, in the order they were written, with the hash
//! of the event each came from so an auditor can find it in the chain. The SIEM formats list
//! each submission too ([`Trail::WithSubmissions`]); JSON lines and CSV keep their records.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::event::{EventKind, StoredEvent};
use super::text::Text;
use super::time;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub seq: u64,
    pub at: String,
    /// The event's time, as a time (`at` is its text): SIEM formats want epoch milliseconds.
    #[serde(skip)]
    pub time: DateTime<Utc>,
    /// `submission` (SIEM formats only), `decision`, `exception_requested`, `exception_review`, `exception_expired` or `outcome`.
    pub kind: &'static str,
    pub request_id: Uuid,
    pub deployment_intent_id: String,
    pub exception_id: Option<Uuid>,
    pub actor: String,
    /// A submission's status as submitted (`auto_approved`, `under_review`,
    /// `exception_required`), the decision (`auto_approved`, `approved`, `conditional`, `rejected`) or the exception's
    /// new status (`pending`, `approved`, `rejected`, `expired`), or a deployment's outcome
    /// (`success`, `failure`, `rolled_back`).
    pub outcome: String,
    /// The rationale of a decision or review, the justification of an exception request, the
    /// note of an outcome, the title of a submission.
    pub rationale: String,
    pub conditions: Vec<String>,
    pub compensating_controls: Vec<String>,
    pub expires_at: Option<String>,
    pub correlation_id: String,
    pub event_hash: String,
    /// The incident an outcome names, if any.
    pub incident: Option<String>,
}

impl AuditRecord {
    pub const CSV_HEADER: [&'static str; 15] = [
        "seq",
        "at",
        "kind",
        "request_id",
        "deployment_intent_id",
        "exception_id",
        "actor",
        "outcome",
        "rationale",
        "conditions",
        "compensating_controls",
        "expires_at",
        "correlation_id",
        "event_hash",
        "incident",
    ];

    /// The record as CSV cells; lists are joined with "; ".
    pub fn csv_row(&self) -> [String; 15] {
        [
            self.seq.to_string(),
            self.at.clone(),
            self.kind.to_string(),
            self.request_id.to_string(),
            self.deployment_intent_id.clone(),
            self.exception_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            self.actor.clone(),
            self.outcome.clone(),
            self.rationale.clone(),
            self.conditions.join("; "),
            self.compensating_controls.join("; "),
            self.expires_at.clone().unwrap_or_default(),
            self.correlation_id.clone(),
            self.event_hash.clone(),
            self.incident.clone().unwrap_or_default(),
        ]
    }
}

/// Which records a trail lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trail {
    /// Decisions, exception requests, reviews, expiries and outcomes: what `jsonl` and `csv`
    /// have always listed, and scripts read.
    Audit,
    /// Those and each submission before its automatic decision, if any: the SIEM formats,
    /// where a submission is a creation (SPEC section 7).
    WithSubmissions,
}

/// The submission record of a stored event, if it is a submission.
pub fn submission(stored: &StoredEvent) -> Option<AuditRecord> {
    let EventKind::RequestSubmitted(e) = &stored.event.kind else {
        return None;
    };
    let r = &e.request;
    Some(AuditRecord {
        seq: stored.seq,
        at: time::format(stored.event.at),
        time: stored.event.at,
        kind: "submission",
        request_id: r.id,
        deployment_intent_id: r.deployment_intent_id.to_string(),
        exception_id: None,
        actor: r.requested_by.to_string(),
        outcome: r.status.to_string(),
        rationale: r.title.as_ref().map(Text::to_string).unwrap_or_default(),
        conditions: Vec::new(),
        compensating_controls: Vec::new(),
        expires_at: None,
        correlation_id: stored.event.correlation_id.to_string(),
        event_hash: stored.hash.clone(),
        incident: None,
    })
}

/// The records of one stored event that `trail` lists, in order: a submission (with
/// [`Trail::WithSubmissions`]) comes before the automatic decision it carries.
pub fn records_of(stored: &StoredEvent, trail: Trail) -> impl Iterator<Item = AuditRecord> {
    let submitted = match trail {
        Trail::WithSubmissions => submission(stored),
        Trail::Audit => None,
    };
    submitted.into_iter().chain(record(stored))
}

/// The audit record of one stored event, if it is one the audit trail lists.
pub fn record(stored: &StoredEvent) -> Option<AuditRecord> {
    let event = &stored.event;
    let base = |kind,
                request_id,
                deployment: &str,
                exception_id,
                actor: &str,
                outcome: String,
                rationale: &str| AuditRecord {
        seq: stored.seq,
        at: time::format(event.at),
        time: event.at,
        kind,
        request_id,
        deployment_intent_id: deployment.to_string(),
        exception_id,
        actor: actor.to_string(),
        outcome,
        rationale: rationale.to_string(),
        conditions: Vec::new(),
        compensating_controls: Vec::new(),
        expires_at: None,
        correlation_id: event.correlation_id.to_string(),
        event_hash: stored.hash.clone(),
        incident: None,
    };
    match &event.kind {
        EventKind::RequestSubmitted(e) => e.decision.as_ref().map(|d| {
            base(
                "decision",
                e.request.id,
                &e.request.deployment_intent_id,
                None,
                &d.approver,
                d.decision.to_string(),
                &d.rationale,
            )
        }),
        EventKind::RequestDecided(e) => {
            let d = &e.decision;
            let mut r = base(
                "decision",
                d.request_id,
                &e.deployment_intent_id,
                None,
                &d.approver,
                d.decision.to_string(),
                &d.rationale,
            );
            r.conditions = d.conditions.iter().map(Text::to_string).collect();
            Some(r)
        }
        EventKind::ExceptionRequested(e) => {
            let x = &e.exception;
            let mut r = base(
                "exception_requested",
                x.request_id,
                &x.deployment_intent_id,
                Some(x.id),
                &x.requested_by,
                x.status.to_string(),
                &x.justification,
            );
            r.compensating_controls = x
                .compensating_controls
                .iter()
                .map(Text::to_string)
                .collect();
            r.expires_at = Some(time::format(x.expires_at));
            Some(r)
        }
        EventKind::ExceptionReviewed(e) => Some(base(
            "exception_review",
            e.request_id,
            &e.deployment_intent_id,
            Some(e.exception_id),
            &e.reviewed_by,
            e.status.to_string(),
            &e.review_rationale,
        )),
        EventKind::ExceptionExpired(e) => {
            let mut r = base(
                "exception_expired",
                e.request_id,
                &e.deployment_intent_id,
                Some(e.exception_id),
                &event.actor,
                "expired".to_string(),
                "",
            );
            r.expires_at = Some(time::format(e.expires_at));
            Some(r)
        }
        EventKind::OutcomeRecorded(e) => {
            let o = &e.outcome;
            let mut r = base(
                "outcome",
                o.request_id,
                &o.deployment_intent_id,
                None,
                &o.recorded_by,
                o.result.to_string(),
                o.note.as_deref().unwrap_or_default(),
            );
            r.incident = o.incident.as_ref().map(Text::to_string);
            Some(r)
        }
    }
}

/// The audit records of a run of events, keeping those at or after `since`.
pub fn records<'a>(
    events: impl IntoIterator<Item = &'a StoredEvent>,
    since: Option<DateTime<Utc>>,
) -> Vec<AuditRecord> {
    trail(events, since, Trail::Audit)
}

/// The records `trail` lists of a run of events, keeping those at or after `since`.
pub fn trail<'a>(
    events: impl IntoIterator<Item = &'a StoredEvent>,
    since: Option<DateTime<Utc>>,
    trail: Trail,
) -> Vec<AuditRecord> {
    events
        .into_iter()
        .filter(|e| since.is_none_or(|s| e.event.at >= s))
        .flat_map(|e| records_of(e, trail))
        .collect()
}
