//! The audit trail for a SIEM (SPEC section 7): each audit record as one OCSF API Activity
//! JSON object or one CEF line. Pure text: records in, lines out; what each kind of record is
//! (a creation or an update) and how severe it is are decided here once, for both formats.

pub mod cef;
pub mod ocsf;

use crate::engine::audit::AuditRecord;

/// The version both formats name as the product's.
pub const PRODUCT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a record did to the thing it names, in OCSF's words (API Activity's `activity_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// A submission, an exception request, an outcome: something new.
    Create = 1,
    /// A decision, an exception review, an expiry: something that existed changed.
    Update = 3,
}

impl Activity {
    pub fn of(record: &AuditRecord) -> Activity {
        match record.kind {
            "submission" | "exception_requested" | "outcome" => Activity::Create,
            _ => Activity::Update,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Activity::Create => "Create",
            Activity::Update => "Update",
        }
    }
}

/// How much a record may matter to a security team. Every record is a rule followed (refusals
/// are not stored), so most are informational; a refusal of risk and a deployment gone wrong
/// stand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Informational,
    /// A rejected request or exception, an exception that expired.
    Low,
    /// A deployment that failed or was rolled back.
    Medium,
}

impl Severity {
    pub fn of(record: &AuditRecord) -> Severity {
        match (record.kind, record.outcome.as_str()) {
            ("outcome", "failure" | "rolled_back") => Severity::Medium,
            (_, "rejected") | ("exception_expired", _) => Severity::Low,
            _ => Severity::Informational,
        }
    }
}

/// A short title for a kind of record: CEF's event name, OCSF's `api.operation` is the kind.
pub fn title(record: &AuditRecord) -> &'static str {
    match record.kind {
        "submission" => "Request submitted",
        "decision" => "Request decided",
        "exception_requested" => "Exception requested",
        "exception_review" => "Exception reviewed",
        "exception_expired" => "Exception expired",
        "outcome" => "Deployment outcome recorded",
        _ => "Audit record",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    use crate::engine::audit::AuditRecord;

    /// A decision record with the given text as its rationale and actor.
    pub fn record(kind: &'static str, outcome: &str, text: &str) -> AuditRecord {
        let time = Utc
            .timestamp_millis_opt(1_790_000_000_123)
            .single()
            .unwrap();
        AuditRecord {
            seq: 7,
            at: crate::engine::time::format(time),
            time,
            kind,
            request_id: Uuid::from_u128(0x1234),
            deployment_intent_id: "payments-api-r4821".into(),
            exception_id: None,
            actor: "carol".into(),
            outcome: outcome.into(),
            rationale: text.into(),
            conditions: vec![],
            compensating_controls: vec![],
            expires_at: None,
            correlation_id: "corr-1".into(),
            event_hash: "ab".repeat(32),
            incident: None,
        }
    }

    /// Text a hostile submitter might write: every CEF separator, line breaks, an escape
    /// sequence, a bidirectional override and a non-ASCII letter.
    pub const HOSTILE: &str = "a|b\\c=d\ne\rf\u{1b}[31mg\u{202e}h\tié";

    #[test]
    fn creations_and_updates_follow_the_spec() {
        use super::Activity::*;
        for (kind, activity) in [
            ("submission", Create),
            ("exception_requested", Create),
            ("outcome", Create),
            ("decision", Update),
            ("exception_review", Update),
            ("exception_expired", Update),
        ] {
            assert_eq!(
                super::Activity::of(&record(kind, "x", "")),
                activity,
                "{kind}"
            );
        }
    }
}
