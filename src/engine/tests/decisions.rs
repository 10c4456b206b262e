//! CAB decisions: approve, conditional approve, reject; one immutable decision per request;
//! who may decide and in which state.

use chrono::Duration;

use super::{
    World, approve, approve_with, bea, carol, colin, invalid_field, refusal, reject, rita, sven, t0,
};
use crate::engine::rules::Command;
use crate::engine::time;
use crate::engine::{DecisionKind, EngineError, Refusal, RequestStatus, Role};

#[test]
fn cab_member_approves_a_request_under_review() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.advance(Duration::hours(2));
    let events = world.ok(&carol(), approve(id));

    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, "carol");
    assert_eq!(world.request(id).status, RequestStatus::Approved);
    let d = world.state.decision(&id).expect("a decision record");
    assert_eq!(d.decision, DecisionKind::Approved);
    assert_eq!(d.approver, "carol");
    assert_eq!(d.request_id, id);
    assert_eq!(d.rationale, "evidence reviewed, rollback plan tested");
    assert!(d.conditions.is_empty());
    assert_eq!(d.decided_at, t0() + Duration::hours(2));
}

#[test]
fn decision_carries_the_request_correlation_id() {
    let mut world = World::new();
    let id = world.under_review("web");
    let events = world.ok(&carol(), approve(id));
    let correlation = &world.request(id).correlation_id;
    assert_eq!(&events[0].correlation_id, correlation);
    assert_eq!(
        &world.state.decision(&id).unwrap().correlation_id,
        correlation
    );
}

#[test]
fn decision_event_names_the_deployment() {
    let mut world = World::new();
    let id = world.under_review("web-42");
    let events = world.ok(&carol(), approve(id));
    assert_eq!(events[0].kind.deployment_intent_id(), "web-42");
}

#[test]
fn approval_with_conditions_is_conditional_and_keeps_them_in_order() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(
        &carol(),
        approve_with(id, &["deploy after 18:00", "DBA on call"]),
    );
    assert_eq!(world.request(id).status, RequestStatus::Conditional);
    let d = world.state.decision(&id).unwrap();
    assert_eq!(d.decision, DecisionKind::Conditional);
    assert_eq!(d.conditions, ["deploy after 18:00", "DBA on call"]);
}

#[test]
fn cab_member_rejects_a_request_under_review() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(&carol(), reject(id));
    assert_eq!(world.request(id).status, RequestStatus::Rejected);
    let d = world.state.decision(&id).unwrap();
    assert_eq!(d.decision, DecisionKind::Rejected);
    assert_eq!(d.approver, "carol");
    assert_eq!(d.rationale, "no rollback plan");
    assert!(d.conditions.is_empty());
}

fn with_rationale(command: Command, rationale: &str) -> Command {
    match command {
        Command::Decide {
            request_id,
            verdict,
            ..
        } => Command::Decide {
            request_id,
            verdict,
            rationale: rationale.to_string(),
        },
        other => other,
    }
}

#[test]
fn approval_with_empty_rationale_is_refused() {
    let mut world = World::new();
    let id = world.under_review("web");
    let err = world.refuse(&carol(), with_rationale(approve(id), ""));
    assert_eq!(invalid_field(&err), "rationale");
    assert_eq!(world.request(id).status, RequestStatus::UnderReview);
}

#[test]
fn rejection_with_whitespace_rationale_is_refused() {
    let mut world = World::new();
    let id = world.under_review("web");
    let err = world.refuse(&carol(), with_rationale(reject(id), " \n\t "));
    assert_eq!(invalid_field(&err), "rationale");
}

#[test]
fn conditional_approval_with_blank_rationale_is_refused() {
    let mut world = World::new();
    let id = world.under_review("web");
    let err = world.refuse(&carol(), with_rationale(approve_with(id, &["x"]), "  "));
    assert_eq!(invalid_field(&err), "rationale");
}

#[test]
fn blank_condition_is_refused() {
    let mut world = World::new();
    let id = world.under_review("web");
    let err = world.refuse(&carol(), approve_with(id, &["DBA on call", " "]));
    assert_eq!(invalid_field(&err), "conditions");
}

#[test]
fn second_approval_is_refused_naming_who_what_and_when() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.advance(Duration::minutes(5));
    world.ok(&carol(), approve(id));
    let first_at = world.now;
    world.advance(Duration::minutes(1));

    let err = world.refuse(&colin(), approve(id));
    let message = err.to_string();
    match refusal(err) {
        Refusal::AlreadyDecided(d) => {
            assert_eq!(d.approver, "carol");
            assert_eq!(d.decision, DecisionKind::Approved);
            assert_eq!(d.decided_at, first_at);
        }
        other => panic!("expected already decided, got {other:?}"),
    }
    assert!(message.contains("carol"), "{message}");
    assert!(message.contains("approved"), "{message}");
    assert!(message.contains(&time::format(first_at)), "{message}");
}

#[test]
fn second_rejection_is_refused_naming_the_first() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(&carol(), reject(id));
    let err = world.refuse(&colin(), reject(id));
    assert_eq!(err.code(), "already_decided");
    let message = err.to_string();
    assert!(message.contains("carol"), "{message}");
    assert!(message.contains("rejected"), "{message}");
}

#[test]
fn the_same_member_cannot_reverse_their_decision() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(&carol(), reject(id));
    let err = world.refuse(&carol(), approve(id));
    assert!(matches!(refusal(err), Refusal::AlreadyDecided(_)));
}

#[test]
fn decision_record_is_unchanged_by_refused_attempts() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(&carol(), approve_with(id, &["canary first"]));
    let before = world.state.decision(&id).cloned();
    world.advance(Duration::days(1));
    world.refuse(&colin(), reject(id));
    world.refuse(&colin(), approve(id));
    assert_eq!(world.state.decision(&id).cloned(), before);
    assert_eq!(world.request(id).status, RequestStatus::Conditional);
}

#[test]
fn auto_approved_request_cannot_be_decided() {
    let mut world = World::new();
    let id = world.submit("web", 20.0);
    let err = world.refuse(&carol(), reject(id));
    match refusal(err) {
        Refusal::AlreadyDecided(d) => {
            assert_eq!(d.approver, "system");
            assert_eq!(d.decision, DecisionKind::AutoApproved);
        }
        other => panic!("expected already decided, got {other:?}"),
    }
    assert_eq!(world.request(id).status, RequestStatus::AutoApproved);
}

#[test]
fn exception_required_request_cannot_be_approved_by_the_cab() {
    let mut world = World::new();
    let id = world.needing_exception("web");
    let err = world.refuse(&carol(), approve(id));
    assert_eq!(err.code(), "exception_required");
    assert!(err.to_string().contains("exception"), "{err}");
    match refusal(err) {
        Refusal::ExceptionRequired {
            request_id, max, ..
        } => {
            assert_eq!(request_id, id);
            assert_eq!(max, 75.0);
        }
        other => panic!("expected exception required, got {other:?}"),
    }
    assert_eq!(world.request(id).status, RequestStatus::ExceptionRequired);
}

#[test]
fn exception_required_request_cannot_be_rejected_by_the_cab_either() {
    let mut world = World::new();
    let id = world.needing_exception("web");
    let err = world.refuse(&carol(), reject(id));
    assert!(matches!(refusal(err), Refusal::ExceptionRequired { .. }));
}

#[test]
fn decision_by_a_user_without_cab_role_is_refused_for_missing_role() {
    let mut world = World::new();
    let id = world.under_review("web");
    let err = world.refuse(&sven(), approve(id));
    assert!(err.to_string().contains("cab_member"), "{err}");
    match refusal(err) {
        Refusal::MissingRole { user, role, .. } => {
            assert_eq!(user, "sven");
            assert_eq!(role, Role::CabMember);
        }
        other => panic!("expected missing role, got {other:?}"),
    }
}

#[test]
fn plain_requester_cannot_reject() {
    let mut world = World::new();
    let id = world.under_review("web");
    let err = world.refuse(&rita(), reject(id));
    assert_eq!(err.code(), "missing_role");
}

#[test]
fn requester_cannot_decide_their_own_request() {
    let mut world = World::new();
    let id = world.submit_as(&bea(), "web", 60.0);
    let err = world.refuse(&bea(), approve(id));
    assert!(err.to_string().contains("separation of duties"), "{err}");
    match refusal(err) {
        Refusal::SeparationOfDuties { user, .. } => assert_eq!(user, "bea"),
        other => panic!("expected separation of duties, got {other:?}"),
    }
    assert_eq!(world.request(id).status, RequestStatus::UnderReview);
}

#[test]
fn requester_cannot_reject_their_own_request_either() {
    let mut world = World::new();
    let id = world.submit_as(&carol(), "web", 60.0);
    let err = world.refuse(&carol(), reject(id));
    assert_eq!(err.code(), "separation_of_duties");
}

#[test]
fn permission_refusals_are_told_apart_from_state_refusals() {
    let mut world = World::new();
    let id = world.under_review("web");
    let missing_role = refusal(world.refuse(&sven(), approve(id)));
    world.ok(&carol(), approve(id));
    let decided = refusal(world.refuse(&colin(), approve(id)));
    assert!(missing_role.is_permission());
    assert!(!decided.is_permission());
}

#[test]
fn decision_on_an_unknown_request_is_not_found() {
    let mut world = World::new();
    world.under_review("web");
    let err = world.refuse(&carol(), approve(uuid::Uuid::from_u128(999)));
    assert!(
        matches!(
            err,
            EngineError::NotFound {
                what: "request",
                ..
            }
        ),
        "{err:?}"
    );
}
