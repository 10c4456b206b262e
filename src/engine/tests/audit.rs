//! The audit trail: one record per decision (automatic ones included), exception request,
//! exception review and recorded expiry; nothing else; and the `since` filter.

use chrono::Duration;

use super::{World, approve_with, carol, reject, rita, t0};
use crate::engine::audit::{self, AuditRecord};
use crate::engine::rules::{Command, Review};
use crate::engine::time;

/// t0: auto-approved "auto"; review-gated "cond" approved with conditions by carol; "rej"
/// rejected by carol. t0+1h: "high" needs an exception, requested by rita for 1 day, approved
/// by sven. t0+2d: cleanup by rita records its expiry.
fn trail() -> World {
    let mut world = World::new();
    world.submit("auto", 10.0);
    let cond = world.under_review("cond");
    world.ok(&carol(), approve_with(cond, &["after 18:00"]));
    let rej = world.under_review("rej");
    world.ok(&carol(), reject(rej));
    world.advance(Duration::hours(1));
    world.with_active_exception("high", 1);
    world.advance(Duration::days(2));
    world.ok(&rita(), Command::Cleanup);
    world
}

fn records(world: &World) -> Vec<AuditRecord> {
    audit::records(&world.log, None)
}

fn kinds_and_outcomes(records: &[AuditRecord]) -> Vec<(&'static str, String)> {
    records
        .iter()
        .map(|r| (r.kind, r.outcome.clone()))
        .collect()
}

#[test]
fn one_record_per_decision_exception_request_review_and_expiry() {
    let world = trail();
    let expected: Vec<(&str, String)> = [
        ("decision", "auto_approved"),
        ("decision", "conditional"),
        ("decision", "rejected"),
        ("exception_requested", "pending"),
        ("exception_review", "approved"),
        ("exception_expired", "expired"),
    ]
    .iter()
    .map(|(k, o)| (*k, o.to_string()))
    .collect();
    assert_eq!(kinds_and_outcomes(&records(&world)), expected);
}

#[test]
fn submissions_without_a_decision_leave_no_record() {
    let mut world = World::new();
    world.under_review("web");
    world.needing_exception("api");
    assert!(records(&world).is_empty());
}

#[test]
fn automatic_decision_record_names_system_and_its_rationale() {
    let world = trail();
    let r = &records(&world)[0];
    assert_eq!(r.actor, "system");
    assert_eq!(r.deployment_intent_id, "auto");
    assert!(r.rationale.contains("10"), "{}", r.rationale);
    assert_eq!(r.seq, 1);
    assert_eq!(r.exception_id, None);
}

#[test]
fn manual_decision_record_names_approver_rationale_and_conditions() {
    let world = trail();
    let r = &records(&world)[1];
    assert_eq!(r.actor, "carol");
    assert_eq!(r.deployment_intent_id, "cond");
    assert_eq!(r.rationale, "evidence reviewed, rollback plan tested");
    assert_eq!(r.conditions, ["after 18:00"]);
    assert_eq!(r.at, time::format(t0()));
}

#[test]
fn exception_request_record_holds_justification_controls_and_expiry() {
    let world = trail();
    let r = &records(&world)[3];
    assert_eq!(r.actor, "rita");
    assert_eq!(r.rationale, "customer outage fix cannot wait");
    assert_eq!(r.compensating_controls.len(), 2);
    let expected = time::format(t0() + Duration::hours(1) + Duration::days(1));
    assert_eq!(r.expires_at.as_deref(), Some(expected.as_str()));
    assert!(r.exception_id.is_some());
}

#[test]
fn review_and_expiry_records_name_the_same_exception() {
    let world = trail();
    let all = records(&world);
    let (requested, reviewed, expired) = (&all[3], &all[4], &all[5]);
    assert_eq!(reviewed.actor, "sven");
    assert_eq!(reviewed.rationale, "controls are adequate");
    assert_eq!(expired.actor, "rita");
    assert_eq!(reviewed.exception_id, requested.exception_id);
    assert_eq!(expired.exception_id, requested.exception_id);
    assert_eq!(expired.request_id, requested.request_id);
}

#[test]
fn records_carry_the_hash_and_sequence_of_their_event() {
    let world = trail();
    for r in records(&world) {
        let stored = &world.log[(r.seq - 1) as usize];
        assert_eq!(r.event_hash, stored.hash);
        assert_eq!(r.correlation_id, stored.event.correlation_id);
    }
}

#[test]
fn since_keeps_records_at_or_after_the_time() {
    let world = trail();
    let since = t0() + Duration::hours(1);
    let kept = audit::records(&world.log, Some(since));
    let kinds: Vec<&str> = kept.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            "exception_requested",
            "exception_review",
            "exception_expired"
        ]
    );
}

#[test]
fn since_after_the_last_event_keeps_nothing() {
    let world = trail();
    let since = world.now + Duration::milliseconds(1);
    assert!(audit::records(&world.log, Some(since)).is_empty());
}

#[test]
fn csv_row_has_one_cell_per_header_and_joins_lists() {
    let world = trail();
    let r = &records(&world)[3];
    let row = r.csv_row();
    assert_eq!(row.len(), AuditRecord::CSV_HEADER.len());
    let controls = AuditRecord::CSV_HEADER
        .iter()
        .position(|h| *h == "compensating_controls")
        .unwrap();
    assert_eq!(row[controls], "canary at 1%; on-call watching");
}

#[test]
fn rejected_exception_review_is_recorded_with_its_outcome() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, None);
    world.review_exception(id, Review::Reject);
    let outcomes: Vec<String> = records(&world).into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, ["pending", "rejected"]);
}

#[test]
fn the_siem_trail_lists_each_submission_before_its_automatic_decision() {
    let world = trail();
    let kinds: Vec<(&str, String)> = kinds_and_outcomes(&audit::trail(
        &world.log,
        None,
        audit::Trail::WithSubmissions,
    ));
    let expected: Vec<(&str, String)> = [
        ("submission", "auto_approved"),
        ("decision", "auto_approved"),
        ("submission", "under_review"),
        ("decision", "conditional"),
        ("submission", "under_review"),
        ("decision", "rejected"),
        ("submission", "exception_required"),
        ("exception_requested", "pending"),
        ("exception_review", "approved"),
        ("exception_expired", "expired"),
    ]
    .iter()
    .map(|(k, o)| (*k, o.to_string()))
    .collect();
    assert_eq!(kinds, expected);
    let all = audit::trail(&world.log, None, audit::Trail::WithSubmissions);
    assert_eq!(all[0].seq, all[1].seq, "one event, two records");
    assert_eq!(all[0].time, world.log[0].event.at);
    assert_ne!(all[0].actor, "system", "a submission names its requester");
}

#[test]
fn the_audit_trail_for_jsonl_and_csv_lists_no_submission() {
    let world = trail();
    assert_eq!(
        audit::trail(&world.log, None, audit::Trail::Audit),
        records(&world)
    );
    assert!(records(&world).iter().all(|r| r.kind != "submission"));
}
