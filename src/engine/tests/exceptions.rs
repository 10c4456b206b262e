//! Security exceptions: mandatory expiry of 1 to 90 days, justification and controls, one open
//! exception per request, review by a security reviewer who requested neither the exception nor
//! the request, and what "expired" means at the boundary.

use chrono::Duration;

use super::{
    World, ask_exception, bea, carol, invalid_field, ravi, refusal, review, rita, sara, sven, t0,
};
use crate::engine::rules::{Command, Review};
use crate::engine::{EngineError, ExceptionStatus, Refusal, Role};

#[test]
fn exception_expires_after_30_days_by_default() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    world.advance(Duration::hours(3));
    let id = world.ask_exception(request, None);
    let e = world.exception(id);
    assert_eq!(e.requested_at, t0() + Duration::hours(3));
    assert_eq!(e.expires_at, e.requested_at + Duration::days(30));
}

#[test]
fn new_exception_is_pending_and_records_request_and_requester() {
    let mut world = World::new();
    let request = world.needing_exception("web-9");
    let id = world.ask_exception_as(&ravi(), request, None);
    let e = world.exception(id);
    assert_eq!(e.status, ExceptionStatus::Pending);
    assert_eq!(e.request_id, request);
    assert_eq!(e.deployment_intent_id, "web-9");
    assert_eq!(e.requested_by, "ravi");
    assert_eq!(e.justification, "customer outage fix cannot wait");
    assert_eq!(
        e.compensating_controls,
        ["canary at 1%", "on-call watching"]
    );
    assert_eq!(
        (&e.reviewed_by, e.reviewed_at, &e.review_rationale),
        (&None, None, &None)
    );
}

#[test]
fn custom_expiry_of_7_days_is_used() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(7));
    assert_eq!(world.exception(id).expires_at, t0() + Duration::days(7));
}

#[test]
fn expiry_of_1_day_is_accepted() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(1));
    assert_eq!(world.exception(id).expires_at, t0() + Duration::days(1));
}

#[test]
fn expiry_of_90_days_is_accepted() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(90));
    assert_eq!(world.exception(id).expires_at, t0() + Duration::days(90));
}

fn refused_expiry(days: i64) -> EngineError {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let err = world.refuse(&rita(), ask_exception(request, Some(days)));
    assert_eq!(world.state.exception_count(), 0);
    err
}

#[test]
fn expiry_of_0_days_is_refused() {
    assert_eq!(invalid_field(&refused_expiry(0)), "expiry_days");
}

#[test]
fn expiry_of_91_days_is_refused() {
    let err = refused_expiry(91);
    assert_eq!(invalid_field(&err), "expiry_days");
    assert!(err.to_string().contains("90"), "{err}");
}

#[test]
fn negative_expiry_is_refused() {
    assert_eq!(invalid_field(&refused_expiry(-5)), "expiry_days");
}

#[test]
fn huge_expiry_is_refused() {
    assert_eq!(invalid_field(&refused_expiry(i64::MAX)), "expiry_days");
}

fn exception_command(justification: &str, controls: &[&str], request_id: uuid::Uuid) -> Command {
    Command::RequestException {
        request_id,
        justification: justification.to_string(),
        compensating_controls: controls.iter().map(|c| c.to_string()).collect(),
        expiry_days: None,
    }
}

#[test]
fn blank_justification_is_refused() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let err = world.refuse(&rita(), exception_command("  ", &["canary"], request));
    assert_eq!(invalid_field(&err), "justification");
}

#[test]
fn exception_without_compensating_controls_is_refused() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let err = world.refuse(&rita(), exception_command("urgent", &[], request));
    assert_eq!(invalid_field(&err), "compensating_controls");
}

#[test]
fn blank_compensating_control_is_refused() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let err = world.refuse(
        &rita(),
        exception_command("urgent", &["canary", ""], request),
    );
    assert_eq!(invalid_field(&err), "compensating_controls");
}

#[test]
fn exception_for_a_request_under_review_is_refused() {
    let mut world = World::new();
    let request = world.under_review("web");
    let err = world.refuse(&rita(), ask_exception(request, None));
    assert_eq!(err.code(), "wrong_state");
    assert!(err.to_string().contains("under_review"), "{err}");
}

#[test]
fn exception_for_an_auto_approved_request_is_refused() {
    let mut world = World::new();
    let request = world.submit("web", 10.0);
    let err = world.refuse(&rita(), ask_exception(request, None));
    assert!(matches!(refusal(err), Refusal::NoExceptionNeeded { .. }));
}

#[test]
fn exception_for_an_unknown_request_is_not_found() {
    let mut world = World::new();
    let err = world.refuse(&rita(), ask_exception(uuid::Uuid::from_u128(7), None));
    assert!(matches!(
        err,
        EngineError::NotFound {
            what: "request",
            ..
        }
    ));
}

#[test]
fn second_exception_is_refused_while_the_first_is_pending() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let first = world.ask_exception(request, None);
    let err = world.refuse(&ravi(), ask_exception(request, None));
    match refusal(err) {
        Refusal::ExceptionOpen {
            exception_id,
            status,
            ..
        } => {
            assert_eq!(exception_id, first);
            assert_eq!(status, ExceptionStatus::Pending);
        }
        other => panic!("expected exception open, got {other:?}"),
    }
}

#[test]
fn second_exception_is_refused_while_the_first_is_active() {
    let mut world = World::new();
    let (request, first) = world.with_active_exception("web", 10);
    world.advance(Duration::days(9));
    let err = world.refuse(&rita(), ask_exception(request, None));
    match refusal(err) {
        Refusal::ExceptionOpen {
            exception_id,
            status,
            ..
        } => {
            assert_eq!(exception_id, first);
            assert_eq!(status, ExceptionStatus::Approved);
        }
        other => panic!("expected exception open, got {other:?}"),
    }
}

#[test]
fn new_exception_is_allowed_after_rejection() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let first = world.ask_exception(request, None);
    world.review_exception(first, Review::Reject);
    let second = world.ask_exception(request, Some(5));
    assert_ne!(first, second);
    assert_eq!(world.state.exceptions_for(&request).count(), 2);
}

#[test]
fn new_exception_is_allowed_once_the_active_one_expired_without_cleanup() {
    let mut world = World::new();
    let (request, _) = world.with_active_exception("web", 3);
    world.advance(Duration::days(3));
    world.ask_exception(request, None);
    assert_eq!(world.state.exceptions_for(&request).count(), 2);
}

#[test]
fn new_exception_is_allowed_once_a_pending_one_expired() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    world.ask_exception(request, Some(1));
    world.advance(Duration::days(1));
    world.ok(&rita(), Command::Cleanup);
    world.ask_exception(request, None);
    assert_eq!(world.state.exceptions_for(&request).count(), 2);
}

#[test]
fn security_reviewer_approves_a_pending_exception() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, None);
    world.advance(Duration::hours(1));
    let events = world.ok(&sven(), review(id, Review::Approve));
    assert_eq!(events[0].actor, "sven");
    assert_eq!(
        events[0].correlation_id,
        world.request(request).correlation_id
    );
    let e = world.exception(id);
    assert_eq!(e.status, ExceptionStatus::Approved);
    assert_eq!(e.reviewed_by.as_deref(), Some("sven"));
    assert_eq!(e.reviewed_at, Some(t0() + Duration::hours(1)));
    assert_eq!(e.review_rationale.as_deref(), Some("controls are adequate"));
    assert!(e.is_active(world.now));
}

#[test]
fn security_reviewer_rejects_a_pending_exception() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, None);
    world.ok(&sara(), review(id, Review::Reject));
    let e = world.exception(id);
    assert_eq!(e.status, ExceptionStatus::Rejected);
    assert_eq!(e.reviewed_by.as_deref(), Some("sara"));
    assert!(!e.is_active(world.now));
}

#[test]
fn exception_review_without_rationale_is_refused() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, None);
    let err = world.refuse(
        &sven(),
        Command::ReviewException {
            exception_id: id,
            review: Review::Approve,
            rationale: " ".into(),
        },
    );
    assert_eq!(invalid_field(&err), "rationale");
}

#[test]
fn cab_member_cannot_review_an_exception() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, None);
    let err = world.refuse(&carol(), review(id, Review::Approve));
    assert!(err.to_string().contains("security_reviewer"), "{err}");
    match refusal(err) {
        Refusal::MissingRole { user, role, .. } => {
            assert_eq!(user, "carol");
            assert_eq!(role, Role::SecurityReviewer);
        }
        other => panic!("expected missing role, got {other:?}"),
    }
}

#[test]
fn plain_requester_cannot_reject_an_exception() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, None);
    let err = world.refuse(&ravi(), review(id, Review::Reject));
    assert_eq!(err.code(), "missing_role");
}

#[test]
fn exception_requester_cannot_review_their_own_exception() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception_as(&bea(), request, None);
    let err = world.refuse(&bea(), review(id, Review::Approve));
    assert!(err.to_string().contains("requested exception"), "{err}");
    assert!(matches!(
        refusal(err),
        Refusal::SeparationOfDuties { ref user, .. } if user == "bea"
    ));
    assert_eq!(world.exception(id).status, ExceptionStatus::Pending);
}

#[test]
fn request_requester_cannot_review_an_exception_for_their_request() {
    let mut world = World::new();
    let request = world.submit_as(&bea(), "web", 95.0);
    let id = world.ask_exception_as(&rita(), request, None);
    let err = world.refuse(&bea(), review(id, Review::Approve));
    assert!(err.to_string().contains("submitted request"), "{err}");
    assert_eq!(err.code(), "separation_of_duties");
}

#[test]
fn request_requester_cannot_reject_an_exception_for_their_request_either() {
    let mut world = World::new();
    let request = world.submit_as(&bea(), "web", 95.0);
    let id = world.ask_exception_as(&rita(), request, None);
    let err = world.refuse(&bea(), review(id, Review::Reject));
    assert_eq!(err.code(), "separation_of_duties");
}

#[test]
fn exception_cannot_be_approved_at_its_expiry() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(2));
    world.advance(Duration::days(2));
    let err = world.refuse(&sven(), review(id, Review::Approve));
    match refusal(err) {
        Refusal::ExceptionExpired {
            exception_id,
            expires_at,
        } => {
            assert_eq!(exception_id, id);
            assert_eq!(expires_at, t0() + Duration::days(2));
        }
        other => panic!("expected exception expired, got {other:?}"),
    }
    assert_eq!(world.exception(id).status, ExceptionStatus::Pending);
}

#[test]
fn exception_cannot_be_approved_after_its_expiry() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(2));
    world.advance(Duration::days(40));
    let err = world.refuse(&sven(), review(id, Review::Approve));
    assert_eq!(err.code(), "exception_expired");
}

#[test]
fn exception_cannot_be_approved_after_cleanup_recorded_its_expiry() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(2));
    world.advance(Duration::days(3));
    world.ok(&rita(), Command::Cleanup);
    let err = world.refuse(&sven(), review(id, Review::Approve));
    assert_eq!(err.code(), "exception_expired");
}

#[test]
fn expired_exception_cannot_be_rejected_either() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(2));
    world.advance(Duration::days(2));
    let err = world.refuse(&sven(), review(id, Review::Reject));
    assert_eq!(err.code(), "exception_expired");
}

#[test]
fn exception_can_be_approved_just_before_its_expiry() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(2));
    world.advance(Duration::days(2) - Duration::milliseconds(1));
    world.ok(&sven(), review(id, Review::Approve));
    assert!(world.exception(id).is_active(world.now));
}

#[test]
fn approved_exception_cannot_be_reviewed_again() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, None);
    world.ok(&sven(), review(id, Review::Approve));
    let err = world.refuse(&sara(), review(id, Review::Reject));
    assert!(err.to_string().contains("sven"), "{err}");
    match refusal(err) {
        Refusal::AlreadyReviewed {
            exception_id,
            status,
            by,
            at,
        } => {
            assert_eq!(exception_id, id);
            assert_eq!(status, ExceptionStatus::Approved);
            assert_eq!(by, "sven");
            assert_eq!(at, t0());
        }
        other => panic!("expected already reviewed, got {other:?}"),
    }
}

#[test]
fn rejected_exception_cannot_be_approved_later() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, None);
    world.ok(&sven(), review(id, Review::Reject));
    world.advance(Duration::hours(1));
    let err = world.refuse(&sven(), review(id, Review::Approve));
    assert_eq!(err.code(), "already_reviewed");
    assert_eq!(world.exception(id).status, ExceptionStatus::Rejected);
}

#[test]
fn review_of_an_unknown_exception_is_not_found() {
    let mut world = World::new();
    let err = world.refuse(&sven(), review(uuid::Uuid::from_u128(5), Review::Approve));
    assert!(matches!(
        err,
        EngineError::NotFound {
            what: "exception",
            ..
        }
    ));
}

// ----- is_active, is_expired and status_at around expires_at -----

#[test]
fn approved_exception_is_active_just_before_expiry() {
    let mut world = World::new();
    let (_, id) = world.with_active_exception("web", 5);
    let e = world.exception(id);
    let just_before = e.expires_at - Duration::milliseconds(1);
    assert!(e.is_active(just_before));
    assert!(!e.is_expired(just_before));
    assert_eq!(e.status_at(just_before), ExceptionStatus::Approved);
}

#[test]
fn approved_exception_is_expired_at_expiry() {
    let mut world = World::new();
    let (_, id) = world.with_active_exception("web", 5);
    let e = world.exception(id);
    assert!(!e.is_active(e.expires_at));
    assert!(e.is_expired(e.expires_at));
    assert_eq!(e.status_at(e.expires_at), ExceptionStatus::Expired);
}

#[test]
fn approved_exception_is_expired_just_after_expiry() {
    let mut world = World::new();
    let (_, id) = world.with_active_exception("web", 5);
    let e = world.exception(id);
    let just_after = e.expires_at + Duration::milliseconds(1);
    assert!(!e.is_active(just_after));
    assert!(e.is_expired(just_after));
    assert_eq!(e.status_at(just_after), ExceptionStatus::Expired);
}

#[test]
fn pending_exception_reports_expired_from_its_expiry() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(5));
    let e = world.exception(id);
    let just_before = e.expires_at - Duration::milliseconds(1);
    assert_eq!(e.status_at(just_before), ExceptionStatus::Pending);
    assert!(e.is_open(just_before));
    assert_eq!(e.status_at(e.expires_at), ExceptionStatus::Expired);
    assert!(!e.is_active(e.expires_at));
    assert!(!e.is_open(e.expires_at));
}

#[test]
fn pending_exception_is_never_active() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(5));
    assert!(!world.exception(id).is_active(world.now));
}

#[test]
fn rejected_exception_stays_rejected_after_its_expiry() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(5));
    world.review_exception(id, Review::Reject);
    let e = world.exception(id);
    let after = e.expires_at + Duration::days(1);
    assert_eq!(e.status_at(after), ExceptionStatus::Rejected);
    assert!(e.is_expired(after));
    assert!(!e.is_active(after));
}
