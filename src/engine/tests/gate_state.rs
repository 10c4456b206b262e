//! The gate URL's view (`GET /v1/gate`): one state per situation a deploy tool must tell apart,
//! taken from the status's reason, with the status's eligibility, reason and ring.

use chrono::Duration;

use super::{World, approve, approve_with, carol, reject, rita};
use crate::engine::query::{self, GateState, GateView, ReasonCode};
use crate::engine::rules::{Command, Review};

fn gate(world: &World, deployment: &str, ring: Option<u32>) -> GateView {
    let status = query::status(&world.state, deployment, ring, &world.policy, world.now);
    GateView::from(&status)
}

/// The view must be `state` with `code`, eligible exactly when approved.
fn assert_gate(view: &GateView, state: GateState, code: ReasonCode) {
    assert_eq!(view.state, state, "{view:?}");
    assert_eq!(view.reason_code, code, "{view:?}");
    assert_eq!(view.eligible, state == GateState::Approved, "{view:?}");
    assert!(!view.reason.is_empty(), "{view:?}");
}

#[test]
fn auto_approved_request_is_approved() {
    let mut world = World::new();
    world.submit("web", 12.0);
    assert_gate(
        &gate(&world, "web", None),
        GateState::Approved,
        ReasonCode::AutoApproved,
    );
}

#[test]
fn approved_request_is_approved() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(&carol(), approve(id));
    assert_gate(
        &gate(&world, "web", None),
        GateState::Approved,
        ReasonCode::Approved,
    );
}

#[test]
fn conditional_request_is_approved() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(&carol(), approve_with(id, &["after 18:00"]));
    let view = gate(&world, "web", None);
    assert_gate(&view, GateState::Approved, ReasonCode::Conditional);
    assert!(view.reason.contains("after 18:00"), "{view:?}");
}

#[test]
fn active_exception_is_approved() {
    let mut world = World::new();
    world.with_active_exception("web", 5);
    assert_gate(
        &gate(&world, "web", None),
        GateState::Approved,
        ReasonCode::ActiveException,
    );
}

#[test]
fn ring_below_the_approval_ring_is_approved_even_under_review() {
    let mut world = World::new();
    world.under_review("web");
    let view = gate(&world, "web", Some(1));
    assert_gate(&view, GateState::Approved, ReasonCode::RingExempt);
    assert_eq!(view.ring, Some(1));
    assert_gate(
        &gate(&world, "web", Some(2)),
        GateState::Pending,
        ReasonCode::UnderReview,
    );
}

#[test]
fn request_under_review_is_pending() {
    let mut world = World::new();
    world.under_review("web");
    assert_gate(
        &gate(&world, "web", None),
        GateState::Pending,
        ReasonCode::UnderReview,
    );
}

#[test]
fn exception_required_with_none_requested_is_pending() {
    let mut world = World::new();
    world.needing_exception("web");
    assert_gate(
        &gate(&world, "web", None),
        GateState::Pending,
        ReasonCode::ExceptionNotRequested,
    );
}

#[test]
fn exception_pending_review_is_pending() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    world.ask_exception(request, None);
    assert_gate(
        &gate(&world, "web", None),
        GateState::Pending,
        ReasonCode::ExceptionPending,
    );
}

#[test]
fn rejected_request_is_rejected() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(&carol(), reject(id));
    assert_gate(
        &gate(&world, "web", None),
        GateState::Rejected,
        ReasonCode::Rejected,
    );
}

#[test]
fn rejected_exception_is_rejected() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let exception = world.ask_exception(request, None);
    world.review_exception(exception, Review::Reject);
    assert_gate(
        &gate(&world, "web", None),
        GateState::Rejected,
        ReasonCode::ExceptionRejected,
    );
}

#[test]
fn expired_exception_is_expired_before_cleanup_runs() {
    let mut world = World::new();
    world.with_active_exception("web", 2);
    world.advance(Duration::days(2));
    assert_gate(
        &gate(&world, "web", None),
        GateState::Expired,
        ReasonCode::ExceptionExpired,
    );
}

#[test]
fn expired_exception_is_expired_after_cleanup_recorded_it() {
    let mut world = World::new();
    world.with_active_exception("web", 2);
    world.advance(Duration::days(3));
    let recorded = world.ok(&rita(), Command::Cleanup);
    assert_eq!(recorded.len(), 1, "cleanup recorded the expiry");
    assert_gate(
        &gate(&world, "web", None),
        GateState::Expired,
        ReasonCode::ExceptionExpired,
    );
}

#[test]
fn unknown_deployment_is_none_and_not_eligible() {
    let world = World::new();
    let view = gate(&world, "never-submitted", None);
    assert_gate(&view, GateState::None, ReasonCode::NoRequest);
    assert_eq!(view.deployment_intent_id, "never-submitted");
    assert_eq!(view.ring, None);
}

#[test]
fn gate_json_has_exactly_the_spec_fields_with_ring_null_without_one() {
    let world = World::new();
    let json = serde_json::to_value(gate(&world, "web", None)).expect("JSON");
    let keys: Vec<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "deployment_intent_id",
        "ring",
        "eligible",
        "state",
        "reason",
        "reason_code",
    ];
    want.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, want);
    assert!(json["ring"].is_null(), "{json}");
    assert_eq!(json["state"], "none");
    assert_eq!(json["reason_code"], "no_request");
}
