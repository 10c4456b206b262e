//! Cleanup records each expiry once, as an event; queries report expiry whether or not it ran.

use std::collections::BTreeSet;

use chrono::Duration;
use uuid::Uuid;

use super::{World, carol, rita};
use crate::engine::query::{self, ExceptionFilter, ReasonCode};
use crate::engine::rules::{Command, Review};
use crate::engine::{EventKind, ExceptionStatus, Policy};

fn expired_ids(events: &[crate::engine::Event]) -> BTreeSet<Uuid> {
    events
        .iter()
        .map(|e| match &e.kind {
            EventKind::ExceptionExpired(x) => x.exception_id,
            other => panic!("cleanup produced {other:?}"),
        })
        .collect()
}

/// Four exceptions on four requests: pending (1 day), approved (2 days), rejected (1 day) and
/// pending (30 days); returned in that order.
fn four_exceptions(world: &mut World) -> [Uuid; 4] {
    let a = world.needing_exception("a");
    let b = world.needing_exception("b");
    let c = world.needing_exception("c");
    let d = world.needing_exception("d");
    let pending = world.ask_exception(a, Some(1));
    let approved = world.ask_exception(b, Some(2));
    world.review_exception(approved, Review::Approve);
    let rejected = world.ask_exception(c, Some(1));
    world.review_exception(rejected, Review::Reject);
    let later = world.ask_exception(d, Some(30));
    [pending, approved, rejected, later]
}

#[test]
fn cleanup_records_one_expiry_per_pending_or_approved_exception_past_expiry() {
    let mut world = World::new();
    let [pending, approved, _rejected, _later] = four_exceptions(&mut world);
    world.advance(Duration::days(3));
    let events = world.ok(&rita(), Command::Cleanup);
    assert_eq!(events.len(), 2);
    assert_eq!(expired_ids(&events), BTreeSet::from([pending, approved]));
}

#[test]
fn cleanup_changes_the_recorded_status_to_expired() {
    let mut world = World::new();
    let [pending, approved, rejected, later] = four_exceptions(&mut world);
    world.advance(Duration::days(3));
    world.ok(&rita(), Command::Cleanup);
    assert_eq!(world.exception(pending).status, ExceptionStatus::Expired);
    assert_eq!(world.exception(approved).status, ExceptionStatus::Expired);
    assert_eq!(world.exception(rejected).status, ExceptionStatus::Rejected);
    assert_eq!(world.exception(later).status, ExceptionStatus::Pending);
}

#[test]
fn cleanup_does_not_record_an_expiry_twice() {
    let mut world = World::new();
    four_exceptions(&mut world);
    world.advance(Duration::days(3));
    world.ok(&rita(), Command::Cleanup);
    world.advance(Duration::hours(1));
    assert!(world.ok(&rita(), Command::Cleanup).is_empty());
}

#[test]
fn cleanup_with_nothing_expired_records_nothing() {
    let mut world = World::new();
    four_exceptions(&mut world);
    world.advance(Duration::hours(23));
    assert!(world.ok(&rita(), Command::Cleanup).is_empty());
}

#[test]
fn cleanup_on_an_empty_state_records_nothing() {
    let mut world = World::new();
    assert!(world.ok(&rita(), Command::Cleanup).is_empty());
}

#[test]
fn cleanup_at_exactly_the_expiry_records_it() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(1));
    world.advance(Duration::days(1));
    let events = world.ok(&rita(), Command::Cleanup);
    assert_eq!(expired_ids(&events), BTreeSet::from([id]));
}

#[test]
fn cleanup_just_before_the_expiry_records_nothing() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    world.ask_exception(request, Some(1));
    world.advance(Duration::days(1) - Duration::milliseconds(1));
    assert!(world.ok(&rita(), Command::Cleanup).is_empty());
}

#[test]
fn cleanup_event_names_the_exception_request_deployment_and_expiry() {
    let mut world = World::new();
    let request = world.needing_exception("web-3");
    let id = world.ask_exception(request, Some(1));
    world.advance(Duration::days(2));
    let events = world.ok(&carol(), Command::Cleanup);
    let event = &events[0];
    assert_eq!(event.actor, "carol");
    assert_eq!(event.at, world.now);
    assert_eq!(event.correlation_id, world.request(request).correlation_id);
    let EventKind::ExceptionExpired(e) = &event.kind else {
        panic!("expected an expiry");
    };
    assert_eq!(e.exception_id, id);
    assert_eq!(e.request_id, request);
    assert_eq!(e.deployment_intent_id, "web-3");
    assert_eq!(e.expires_at, world.exception(id).expires_at);
}

#[test]
fn any_user_may_run_cleanup() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    world.ask_exception(request, Some(1));
    world.advance(Duration::days(2));
    assert_eq!(world.ok(&rita(), Command::Cleanup).len(), 1);
}

#[test]
fn exception_list_reports_expired_before_cleanup_ran() {
    let mut world = World::new();
    let (_, id) = world.with_active_exception("web", 1);
    world.advance(Duration::days(1));
    let expired = query::exceptions(
        &world.state,
        ExceptionFilter::Status(ExceptionStatus::Expired),
        world.now,
    );
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].exception.id, id);
    assert_eq!(expired[0].exception.status, ExceptionStatus::Expired);
    assert!(expired[0].is_expired);
    assert!(!expired[0].is_active);
}

#[test]
fn exception_list_reports_the_same_after_cleanup_ran() {
    let mut world = World::new();
    world.with_active_exception("web", 1);
    world.advance(Duration::days(1));
    let before = query::exceptions(&world.state, ExceptionFilter::All, world.now);
    world.ok(&rita(), Command::Cleanup);
    let after = query::exceptions(&world.state, ExceptionFilter::All, world.now);
    assert_eq!(before, after);
}

#[test]
fn promotion_status_reports_expired_before_and_after_cleanup() {
    let mut world = World::new();
    world.with_active_exception("web", 1);
    world.advance(Duration::days(1));
    let policy = Policy::default();
    let before = query::status(&world.state, "web", None, &policy, world.now);
    world.ok(&rita(), Command::Cleanup);
    let after = query::status(&world.state, "web", None, &policy, world.now);
    assert_eq!(before.reason_code, ReasonCode::ExceptionExpired);
    assert!(!before.eligible);
    assert_eq!(after.reason_code, ReasonCode::ExceptionExpired);
    assert!(!after.eligible);
}
