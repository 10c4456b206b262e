//! What happened: the facts the engine produces and the store keeps, one per line.
//! Every event that concerns a request names the request and its deployment, so a reader can
//! pick out one deployment's history without replaying everything.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ApprovalRequest, Decision, ExceptionStatus, Outcome, SecurityException};
use super::text::Text;
use super::time;

/// One fact, with who caused it, when, and under which correlation id.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub correlation_id: Text,
    /// The client's `Idempotency-Key` when the command came over HTTP with one: kept with the
    /// event, so a retry is recognised even after a restart and never writes twice.
    pub idempotency: Option<Idempotency>,
    pub kind: EventKind,
}

/// An idempotency key and a fingerprint of the request it came with (method, path, body), so
/// that reusing a key for a different request is refused rather than answered wrongly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Idempotency {
    pub key: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum EventKind {
    /// A request was submitted and its gate evaluated; an automatic approval comes in the same
    /// event, so a request is never seen without the decision its gate implies.
    RequestSubmitted(RequestSubmitted),
    RequestDecided(RequestDecided),
    ExceptionRequested(ExceptionRequested),
    ExceptionReviewed(ExceptionReviewed),
    ExceptionExpired(ExceptionExpired),
    /// How the deployment of an eligible request went.
    OutcomeRecorded(OutcomeRecorded),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSubmitted {
    pub request: ApprovalRequest,
    pub decision: Option<Decision>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestDecided {
    pub deployment_intent_id: Text,
    pub decision: Decision,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionRequested {
    pub exception: SecurityException,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionReviewed {
    pub exception_id: Uuid,
    pub request_id: Uuid,
    pub deployment_intent_id: Text,
    /// `approved` or `rejected`.
    pub status: ExceptionStatus,
    pub reviewed_by: Text,
    #[serde(with = "time::rfc3339")]
    pub reviewed_at: DateTime<Utc>,
    pub review_rationale: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionExpired {
    pub exception_id: Uuid,
    pub request_id: Uuid,
    pub deployment_intent_id: Text,
    #[serde(with = "time::rfc3339")]
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRecorded {
    pub outcome: Outcome,
}

impl EventKind {
    pub const TYPES: [&'static str; 6] = [
        "request_submitted",
        "request_decided",
        "exception_requested",
        "exception_reviewed",
        "exception_expired",
        "outcome_recorded",
    ];

    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::RequestSubmitted(_) => "request_submitted",
            EventKind::RequestDecided(_) => "request_decided",
            EventKind::ExceptionRequested(_) => "exception_requested",
            EventKind::ExceptionReviewed(_) => "exception_reviewed",
            EventKind::ExceptionExpired(_) => "exception_expired",
            EventKind::OutcomeRecorded(_) => "outcome_recorded",
        }
    }

    /// Rebuild an event from its type name and its `data` JSON, as the store keeps them apart.
    pub fn from_parts(type_name: &str, data: &str) -> Result<EventKind, String> {
        fn parse<'a, T: Deserialize<'a>>(data: &'a str) -> Result<T, String> {
            serde_json::from_str(data).map_err(|e| format!("bad data: {e}"))
        }
        Ok(match type_name {
            "request_submitted" => EventKind::RequestSubmitted(parse(data)?),
            "request_decided" => EventKind::RequestDecided(parse(data)?),
            "exception_requested" => EventKind::ExceptionRequested(parse(data)?),
            "exception_reviewed" => EventKind::ExceptionReviewed(parse(data)?),
            "exception_expired" => EventKind::ExceptionExpired(parse(data)?),
            "outcome_recorded" => EventKind::OutcomeRecorded(parse(data)?),
            other => return Err(format!("unknown event type {other:?}")),
        })
    }

    /// The request this event concerns.
    pub fn request_id(&self) -> Uuid {
        match self {
            EventKind::RequestSubmitted(e) => e.request.id,
            EventKind::RequestDecided(e) => e.decision.request_id,
            EventKind::ExceptionRequested(e) => e.exception.request_id,
            EventKind::ExceptionReviewed(e) => e.request_id,
            EventKind::ExceptionExpired(e) => e.request_id,
            EventKind::OutcomeRecorded(e) => e.outcome.request_id,
        }
    }

    /// The deployment this event concerns.
    pub fn deployment_intent_id(&self) -> &str {
        match self {
            EventKind::RequestSubmitted(e) => &e.request.deployment_intent_id,
            EventKind::RequestDecided(e) => &e.deployment_intent_id,
            EventKind::ExceptionRequested(e) => &e.exception.deployment_intent_id,
            EventKind::ExceptionReviewed(e) => &e.deployment_intent_id,
            EventKind::ExceptionExpired(e) => &e.deployment_intent_id,
            EventKind::OutcomeRecorded(e) => &e.outcome.deployment_intent_id,
        }
    }

    /// A one-line account of the event for timelines (untrusted parts are the caller's to clean).
    pub fn summary(&self) -> String {
        match self {
            EventKind::RequestSubmitted(e) => {
                let r = &e.request;
                let mut text = format!(
                    "submitted with risk {} (gate {})",
                    r.risk_score,
                    r.gate.as_str()
                );
                if let Some(d) = &e.decision {
                    text.push_str(&format!("; {} by {}", d.decision, d.approver));
                }
                text
            }
            EventKind::RequestDecided(e) => {
                let d = &e.decision;
                let mut text = format!("{}: {}", d.decision, d.rationale);
                if !d.conditions.is_empty() {
                    text.push_str(&format!(" [conditions: {}]", d.conditions.join("; ")));
                }
                text
            }
            EventKind::ExceptionRequested(e) => format!(
                "exception {} requested until {} ({} control{})",
                e.exception.short_id(),
                time::format(e.exception.expires_at),
                e.exception.compensating_controls.len(),
                if e.exception.compensating_controls.len() == 1 {
                    ""
                } else {
                    "s"
                }
            ),
            EventKind::ExceptionReviewed(e) => format!(
                "exception {} {}: {}",
                super::model::short_id(&e.exception_id),
                e.status,
                e.review_rationale
            ),
            EventKind::ExceptionExpired(e) => format!(
                "exception {} expired at {}",
                super::model::short_id(&e.exception_id),
                time::format(e.expires_at)
            ),
            EventKind::OutcomeRecorded(e) => {
                let o = &e.outcome;
                let mut text = format!("outcome {}", o.result);
                if let Some(incident) = &o.incident {
                    text.push_str(&format!(" (incident {incident})"));
                }
                if let Some(note) = &o.note {
                    text.push_str(&format!(": {note}"));
                }
                text
            }
        }
    }
}

/// An event as the store holds it: numbered and chained.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: u64,
    pub prev: String,
    pub hash: String,
    pub event: Event,
}

/// The schema version written in every event's `v`.
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON layout of a stored event, field order included: the store writes its lines in this
/// order (the hash covering everything before it), and the API and `cab show` print the same.
#[derive(Serialize)]
pub(crate) struct EnvelopeOut<'a> {
    pub v: u32,
    pub seq: u64,
    pub at: String,
    pub actor: &'a str,
    pub correlation_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<&'a Idempotency>,
    #[serde(flatten)]
    pub kind: &'a EventKind,
    pub prev: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<&'a str>,
}

impl Serialize for StoredEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        EnvelopeOut {
            v: SCHEMA_VERSION,
            seq: self.seq,
            at: time::format(self.event.at),
            actor: &self.event.actor,
            correlation_id: &self.event.correlation_id,
            idempotency: self.event.idempotency.as_ref(),
            kind: &self.event.kind,
            prev: &self.prev,
            hash: Some(&self.hash),
        }
        .serialize(s)
    }
}

#[derive(Deserialize)]
struct EnvelopeIn {
    #[allow(dead_code)]
    v: u32,
    seq: u64,
    #[serde(with = "time::rfc3339")]
    at: DateTime<Utc>,
    actor: String,
    correlation_id: String,
    #[serde(default)]
    idempotency: Option<Idempotency>,
    #[serde(rename = "type")]
    kind: String,
    data: serde_json::Value,
    prev: String,
    hash: String,
}

impl<'de> Deserialize<'de> for StoredEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = EnvelopeIn::deserialize(d)?;
        let kind = serde_json::from_value::<EventKind>(serde_json::json!({
            "type": raw.kind,
            "data": raw.data,
        }))
        .map_err(serde::de::Error::custom)?;
        Ok(StoredEvent {
            seq: raw.seq,
            prev: raw.prev,
            hash: raw.hash,
            event: Event {
                at: raw.at,
                actor: raw.actor,
                correlation_id: raw.correlation_id.into(),
                idempotency: raw.idempotency,
                kind,
            },
        })
    }
}
