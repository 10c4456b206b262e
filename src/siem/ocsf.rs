//! An audit record as one OCSF event of class API Activity (6003, category Application
//! Activity), schema 1.1.0: the ids SPEC section 7 asks for in `metadata` and `resources`, the
//! whole cab record under `unmapped` so nothing is lost in the mapping.

use serde_json::{Value, json};

use super::{Activity, PRODUCT_VERSION, Severity};
use crate::engine::audit::AuditRecord;

/// The OCSF schema version the events follow.
pub const SCHEMA_VERSION: &str = "1.1.0";
pub const CLASS_UID: u32 = 6003;
pub const CATEGORY_UID: u32 = 6;

/// The OCSF event of one record.
pub fn event(record: &AuditRecord) -> Value {
    let activity = Activity::of(record);
    let (severity_id, severity) = match Severity::of(record) {
        Severity::Informational => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
    };
    let mut resources = vec![
        json!({"type": "approval_request", "uid": record.request_id.to_string()}),
        json!({"type": "deployment_intent", "uid": record.deployment_intent_id, "name": record.deployment_intent_id}),
    ];
    if let Some(x) = record.exception_id {
        resources.push(json!({"type": "security_exception", "uid": x.to_string()}));
    }
    json!({
        "activity_id": activity as u32,
        "activity_name": activity.name(),
        "category_uid": CATEGORY_UID,
        "category_name": "Application Activity",
        "class_uid": CLASS_UID,
        "class_name": "API Activity",
        "type_uid": CLASS_UID * 100 + activity as u32,
        "type_name": format!("API Activity: {}", activity.name()),
        "time": record.time.timestamp_millis(),
        "severity_id": severity_id,
        "severity": severity,
        // Only commands that the rules accepted are stored: every record is a success.
        "status_id": 1,
        "status": "Success",
        "message": record.rationale,
        "metadata": {
            "version": SCHEMA_VERSION,
            "product": {"name": "cab", "vendor_name": "cab", "version": PRODUCT_VERSION},
            "log_name": "audit",
            "sequence": record.seq,
            "correlation_uid": record.correlation_id,
        },
        "actor": {"user": {"name": record.actor, "uid": record.actor}},
        "api": {"operation": record.kind, "service": {"name": "cab"}},
        // cab does not record where a command came from; the required endpoint names the
        // service that recorded it.
        "src_endpoint": {"svc_name": "cab"},
        "resources": resources,
        "unmapped": record,
    })
}

/// The record as one line of JSON, `\n`-ended, with control, bidirectional and invisible
/// characters escaped as `\uXXXX` (as every JSON cab writes).
pub fn line(record: &AuditRecord) -> serde_json::Result<String> {
    let mut text = crate::untrusted::json::to_string(&event(record))?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::siem::tests::{HOSTILE, record};

    #[test]
    fn a_decision_is_an_api_activity_update_with_its_ids_and_time_in_milliseconds() {
        let r = record("decision", "approved", "fine");
        let v: Value = serde_json::from_str(&line(&r).unwrap()).unwrap();
        assert_eq!(v["class_uid"], 6003);
        assert_eq!(v["category_uid"], 6);
        assert_eq!(v["activity_id"], 3);
        assert_eq!(v["type_uid"], 600303);
        assert_eq!(v["time"], 1_790_000_000_123_i64);
        assert_eq!(v["metadata"]["version"], "1.1.0");
        assert_eq!(v["metadata"]["product"]["name"], "cab");
        assert_eq!(v["metadata"]["correlation_uid"], "corr-1");
        assert_eq!(v["actor"]["user"]["name"], "carol");
        assert_eq!(v["api"]["operation"], "decision");
        assert_eq!(v["resources"][0]["uid"], r.request_id.to_string());
        assert_eq!(v["resources"][1]["uid"], "payments-api-r4821");
        assert_eq!(v["unmapped"]["request_id"], r.request_id.to_string());
        assert_eq!(v["unmapped"]["deployment_intent_id"], "payments-api-r4821");
        assert_eq!(v["unmapped"]["correlation_id"], "corr-1");
    }

    #[test]
    fn an_outcome_is_a_creation_and_a_failed_one_stands_out() {
        let v = event(&record("outcome", "rolled_back", ""));
        assert_eq!(
            (v["activity_id"].as_u64(), v["type_uid"].as_u64()),
            (Some(1), Some(600301))
        );
        assert_eq!(v["severity_id"], 3);
    }

    #[test]
    fn hostile_text_stays_on_one_line_and_reads_back_exactly() {
        let mut r = record("exception_requested", "pending", HOSTILE);
        r.actor = HOSTILE.into();
        let text = line(&r).unwrap();
        assert_eq!(text.matches('\n').count(), 1);
        assert!(text.ends_with('\n'));
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && crate::untrusted::is_unsafe(c)),
            "{text:?}"
        );
        assert!(
            text.contains("\\u202e") || text.contains("\\u202E"),
            "{text}"
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["message"], HOSTILE);
        assert_eq!(v["actor"]["user"]["name"], HOSTILE);
    }
}
