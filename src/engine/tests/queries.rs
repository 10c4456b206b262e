//! Queries: the queue and its filters, the exception list, counts, and promotion eligibility
//! with every reason code and the ring rule.

use chrono::Duration;
use uuid::Uuid;

use super::{World, approve, approve_with, carol, reject, rita};
use crate::engine::query::{self, Counts, ExceptionFilter, ReasonCode, RequestFilter};
use crate::engine::rules::{Command, Review};
use crate::engine::{ExceptionStatus, Policy, RequestStatus, StatusView};

fn ids_of(views: &[crate::engine::RequestView]) -> Vec<Uuid> {
    views.iter().map(|v| v.request.id).collect()
}

fn exception_ids(views: &[crate::engine::ExceptionView]) -> Vec<Uuid> {
    views.iter().map(|v| v.exception.id).collect()
}

/// One request in every situation the queue distinguishes, on deployments named after it.
struct Board {
    auto: Uuid,
    under_review: Uuid,
    approved: Uuid,
    rejected: Uuid,
    no_exception: Uuid,
    pending_exception: Uuid,
    active_exception: Uuid,
    lapsed_exception: Uuid,
}

/// Built at t0, then one day passes: the lapsed exception (1 day) has expired, the active one
/// (3 days) has not.
fn board(world: &mut World) -> Board {
    let auto = world.submit("auto", 10.0);
    let under_review = world.under_review("under-review");
    let approved = world.under_review("approved");
    world.ok(&carol(), approve(approved));
    let rejected = world.under_review("rejected");
    world.ok(&carol(), reject(rejected));
    let no_exception = world.needing_exception("no-exception");
    let pending_exception = world.needing_exception("pending-exception");
    world.ask_exception(pending_exception, Some(30));
    let (active_exception, _) = world.with_active_exception("active-exception", 3);
    let (lapsed_exception, _) = world.with_active_exception("lapsed-exception", 1);
    world.advance(Duration::days(1));
    Board {
        auto,
        under_review,
        approved,
        rejected,
        no_exception,
        pending_exception,
        active_exception,
        lapsed_exception,
    }
}

#[test]
fn queue_holds_under_review_and_exception_required_without_active_exception() {
    let mut world = World::new();
    let b = board(&mut world);
    let queue = query::requests(&world.state, RequestFilter::Pending, None, world.now);
    assert_eq!(
        ids_of(&queue),
        [
            b.under_review,
            b.no_exception,
            b.pending_exception,
            b.lapsed_exception
        ]
    );
}

#[test]
fn queue_leaves_out_decided_auto_approved_and_actively_excepted_requests() {
    let mut world = World::new();
    let b = board(&mut world);
    let queue = ids_of(&query::requests(
        &world.state,
        RequestFilter::Pending,
        None,
        world.now,
    ));
    for id in [b.auto, b.approved, b.rejected, b.active_exception] {
        assert!(!queue.contains(&id), "{id} should not be queued");
    }
}

#[test]
fn request_leaves_the_queue_when_decided() {
    let mut world = World::new();
    let id = world.under_review("web");
    let pending = |w: &World| query::requests(&w.state, RequestFilter::Pending, None, w.now).len();
    assert_eq!(pending(&world), 1);
    world.ok(&carol(), approve(id));
    assert_eq!(pending(&world), 0);
}

#[test]
fn request_returns_to_the_queue_when_its_exception_expires() {
    let mut world = World::new();
    world.with_active_exception("web", 2);
    let pending = |w: &World| query::requests(&w.state, RequestFilter::Pending, None, w.now).len();
    assert_eq!(pending(&world), 0);
    world.advance(Duration::days(2));
    assert_eq!(pending(&world), 1);
}

#[test]
fn status_filter_lists_only_that_status() {
    let mut world = World::new();
    let b = board(&mut world);
    let of = |status| {
        ids_of(&query::requests(
            &world.state,
            RequestFilter::Status(status),
            None,
            world.now,
        ))
    };
    assert_eq!(of(RequestStatus::AutoApproved), [b.auto]);
    assert_eq!(of(RequestStatus::UnderReview), [b.under_review]);
    assert_eq!(of(RequestStatus::Approved), [b.approved]);
    assert_eq!(of(RequestStatus::Rejected), [b.rejected]);
    assert!(of(RequestStatus::Conditional).is_empty());
    assert_eq!(
        of(RequestStatus::ExceptionRequired),
        [
            b.no_exception,
            b.pending_exception,
            b.active_exception,
            b.lapsed_exception
        ]
    );
}

#[test]
fn all_filter_lists_every_request_oldest_first() {
    let mut world = World::new();
    let b = board(&mut world);
    let all = query::requests(&world.state, RequestFilter::All, None, world.now);
    assert_eq!(all.len(), 8);
    assert_eq!(all[0].request.id, b.auto);
    assert_eq!(all[7].request.id, b.lapsed_exception);
}

#[test]
fn deployment_filter_lists_only_that_deployment() {
    let mut world = World::new();
    let first = world.under_review("web");
    world.under_review("api");
    let second = world.submit("web", 10.0);
    let web = query::requests(&world.state, RequestFilter::All, Some("web"), world.now);
    assert_eq!(ids_of(&web), [first, second]);
    let web_pending = query::requests(&world.state, RequestFilter::Pending, Some("web"), world.now);
    assert_eq!(ids_of(&web_pending), [first]);
    assert!(query::requests(&world.state, RequestFilter::All, Some("db"), world.now).is_empty());
}

#[test]
fn request_view_carries_decision_and_exceptions_as_of_now() {
    let mut world = World::new();
    let b = board(&mut world);
    let view = &query::requests(
        &world.state,
        RequestFilter::Status(RequestStatus::ExceptionRequired),
        Some("lapsed-exception"),
        world.now,
    )[0];
    assert!(view.decision.is_none());
    assert_eq!(view.request.id, b.lapsed_exception);
    assert_eq!(view.exceptions.len(), 1);
    assert_eq!(
        view.exceptions[0].exception.status,
        ExceptionStatus::Expired
    );
    let approved = &query::requests(
        &world.state,
        RequestFilter::All,
        Some("approved"),
        world.now,
    )[0];
    assert_eq!(approved.decision.as_ref().unwrap().approver, "carol");
}

#[test]
fn request_filter_parses_pending_all_and_statuses() {
    assert_eq!("pending".parse(), Ok(RequestFilter::Pending));
    assert_eq!("all".parse(), Ok(RequestFilter::All));
    assert_eq!(
        "conditional".parse(),
        Ok(RequestFilter::Status(RequestStatus::Conditional))
    );
    for status in RequestStatus::ALL {
        assert_eq!(
            status.as_str().parse::<RequestFilter>(),
            Ok(RequestFilter::Status(status))
        );
    }
}

#[test]
fn request_filter_refuses_an_unknown_status_naming_it() {
    let err = "submitted".parse::<RequestFilter>().unwrap_err();
    assert!(err.message.contains("submitted"), "{}", err.message);
}

// ----- the exception list -----

struct Exceptions {
    pending: Uuid,
    active: Uuid,
    rejected: Uuid,
    approved_lapsed: Uuid,
    pending_lapsed: Uuid,
}

/// Requested at t0, then one day passes: the 1-day ones have expired.
fn exceptions(world: &mut World) -> Exceptions {
    let ask = |world: &mut World, name: &str, days| {
        let request = world.needing_exception(name);
        world.ask_exception(request, Some(days))
    };
    let pending = ask(world, "p", 30);
    let active = ask(world, "a", 30);
    world.review_exception(active, Review::Approve);
    let rejected = ask(world, "r", 30);
    world.review_exception(rejected, Review::Reject);
    let approved_lapsed = ask(world, "al", 1);
    world.review_exception(approved_lapsed, Review::Approve);
    let pending_lapsed = ask(world, "pl", 1);
    world.advance(Duration::days(1));
    Exceptions {
        pending,
        active,
        rejected,
        approved_lapsed,
        pending_lapsed,
    }
}

fn listed(world: &World, filter: ExceptionFilter) -> Vec<Uuid> {
    exception_ids(&query::exceptions(&world.state, filter, world.now))
}

#[test]
fn exception_list_pending_filter_leaves_out_lapsed_pending_exceptions() {
    let mut world = World::new();
    let x = exceptions(&mut world);
    assert_eq!(
        listed(&world, ExceptionFilter::Status(ExceptionStatus::Pending)),
        [x.pending]
    );
}

#[test]
fn exception_list_approved_filter_lists_only_unexpired_approvals() {
    let mut world = World::new();
    let x = exceptions(&mut world);
    assert_eq!(
        listed(&world, ExceptionFilter::Status(ExceptionStatus::Approved)),
        [x.active]
    );
}

#[test]
fn exception_list_rejected_filter() {
    let mut world = World::new();
    let x = exceptions(&mut world);
    assert_eq!(
        listed(&world, ExceptionFilter::Status(ExceptionStatus::Rejected)),
        [x.rejected]
    );
}

#[test]
fn exception_list_expired_filter_includes_lapsed_pending_and_approved() {
    let mut world = World::new();
    let x = exceptions(&mut world);
    assert_eq!(
        listed(&world, ExceptionFilter::Status(ExceptionStatus::Expired)),
        [x.approved_lapsed, x.pending_lapsed]
    );
}

#[test]
fn exception_list_active_filter_lists_approved_unexpired() {
    let mut world = World::new();
    let x = exceptions(&mut world);
    assert_eq!(listed(&world, ExceptionFilter::Active), [x.active]);
}

#[test]
fn exception_list_without_filter_lists_all_oldest_first() {
    let mut world = World::new();
    let x = exceptions(&mut world);
    assert_eq!(
        listed(&world, ExceptionFilter::All),
        [
            x.pending,
            x.active,
            x.rejected,
            x.approved_lapsed,
            x.pending_lapsed
        ]
    );
}

#[test]
fn exception_view_flags_follow_the_clock() {
    let mut world = World::new();
    let x = exceptions(&mut world);
    let views = query::exceptions(&world.state, ExceptionFilter::All, world.now);
    let view = |id| views.iter().find(|v| v.exception.id == id).unwrap();
    assert!(view(x.active).is_active && !view(x.active).is_expired);
    assert!(!view(x.approved_lapsed).is_active && view(x.approved_lapsed).is_expired);
    assert!(!view(x.pending).is_active && !view(x.pending).is_expired);
    assert!(view(x.rejected).exception.status == ExceptionStatus::Rejected);
}

#[test]
fn exception_filter_parses_every_documented_word() {
    assert_eq!("active".parse(), Ok(ExceptionFilter::Active));
    assert_eq!("all".parse(), Ok(ExceptionFilter::All));
    for status in [
        ExceptionStatus::Pending,
        ExceptionStatus::Approved,
        ExceptionStatus::Rejected,
        ExceptionStatus::Expired,
    ] {
        assert_eq!(
            status.as_str().parse::<ExceptionFilter>(),
            Ok(ExceptionFilter::Status(status))
        );
    }
    assert!("open".parse::<ExceptionFilter>().is_err());
}

// ----- counts -----

#[test]
fn counts_tell_queue_sizes_and_pending_exceptions() {
    let mut world = World::new();
    board(&mut world);
    let counts = query::counts(&world.state, world.now);
    assert_eq!(counts.under_review, 1);
    assert_eq!(counts.exception_required, 3);
    assert_eq!(counts.exceptions_pending, 1);
}

#[test]
fn counts_of_an_empty_state_are_zero() {
    let world = World::new();
    assert_eq!(query::counts(&world.state, world.now), Counts::default());
}

#[test]
fn counts_expiring_soon_include_exactly_72_hours_and_not_beyond() {
    let mut world = World::new();
    world.with_active_exception("three-days", 3);
    world.with_active_exception("four-days", 4);
    world.with_active_exception("ten-days", 10);
    assert_eq!(query::counts(&world.state, world.now).expiring_soon, 1);
    world.advance(Duration::days(1));
    assert_eq!(query::counts(&world.state, world.now).expiring_soon, 2);
}

#[test]
fn counts_expiring_soon_leave_out_expired_exceptions() {
    let mut world = World::new();
    world.with_active_exception("web", 1);
    world.advance(Duration::days(1));
    assert_eq!(query::counts(&world.state, world.now).expiring_soon, 0);
}

// ----- promotion status -----

fn status_of(world: &World, deployment: &str, ring: Option<u32>) -> StatusView {
    query::status(&world.state, deployment, ring, &world.policy, world.now)
}

#[test]
fn deployment_without_request_is_not_eligible() {
    let world = World::new();
    let s = status_of(&world, "web", None);
    assert!(!s.eligible);
    assert_eq!(s.reason_code, ReasonCode::NoRequest);
    assert!(s.request.is_none());
    assert_eq!(s.deployment_intent_id, "web");
}

#[test]
fn request_under_review_is_not_eligible() {
    let mut world = World::new();
    let id = world.under_review("web");
    let s = status_of(&world, "web", None);
    assert!(!s.eligible);
    assert_eq!(s.reason_code, ReasonCode::UnderReview);
    assert_eq!(s.request.unwrap().request.id, id);
}

#[test]
fn rejected_request_is_not_eligible_and_says_who_rejected() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(&carol(), reject(id));
    let s = status_of(&world, "web", None);
    assert!(!s.eligible);
    assert_eq!(s.reason_code, ReasonCode::Rejected);
    assert!(s.reason.contains("carol"), "{}", s.reason);
}

#[test]
fn auto_approved_request_is_eligible() {
    let mut world = World::new();
    world.submit("web", 12.0);
    let s = status_of(&world, "web", None);
    assert!(s.eligible);
    assert_eq!(s.reason_code, ReasonCode::AutoApproved);
}

#[test]
fn approved_request_is_eligible_and_says_who_approved() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(&carol(), approve(id));
    let s = status_of(&world, "web", None);
    assert!(s.eligible);
    assert_eq!(s.reason_code, ReasonCode::Approved);
    assert!(s.reason.contains("carol"), "{}", s.reason);
}

#[test]
fn conditional_request_is_eligible_and_shows_its_conditions() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(&carol(), approve_with(id, &["after 18:00", "DBA on call"]));
    let s = status_of(&world, "web", None);
    assert!(s.eligible);
    assert_eq!(s.reason_code, ReasonCode::Conditional);
    assert!(s.reason.contains("after 18:00"), "{}", s.reason);
    assert!(s.reason.contains("DBA on call"), "{}", s.reason);
    let view = s.request.unwrap();
    assert_eq!(view.decision.unwrap().conditions.len(), 2);
}

#[test]
fn exception_required_without_exception_is_not_eligible() {
    let mut world = World::new();
    world.needing_exception("web");
    let s = status_of(&world, "web", None);
    assert!(!s.eligible);
    assert_eq!(s.reason_code, ReasonCode::ExceptionNotRequested);
    assert!(s.active_exception.is_none());
}

#[test]
fn exception_required_with_pending_exception_is_not_eligible() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    world.ask_exception(request, None);
    let s = status_of(&world, "web", None);
    assert!(!s.eligible);
    assert_eq!(s.reason_code, ReasonCode::ExceptionPending);
}

#[test]
fn exception_required_with_rejected_exception_is_not_eligible() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, None);
    world.review_exception(id, Review::Reject);
    let s = status_of(&world, "web", None);
    assert!(!s.eligible);
    assert_eq!(s.reason_code, ReasonCode::ExceptionRejected);
    assert!(s.reason.contains("sven"), "{}", s.reason);
}

#[test]
fn exception_required_with_expired_exception_is_not_eligible() {
    let mut world = World::new();
    world.with_active_exception("web", 2);
    world.advance(Duration::days(2));
    let s = status_of(&world, "web", None);
    assert!(!s.eligible);
    assert_eq!(s.reason_code, ReasonCode::ExceptionExpired);
    assert!(s.active_exception.is_none());
}

#[test]
fn exception_required_with_lapsed_pending_exception_reports_expired() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    world.ask_exception(request, Some(2));
    world.advance(Duration::days(2));
    let s = status_of(&world, "web", None);
    assert_eq!(s.reason_code, ReasonCode::ExceptionExpired);
}

#[test]
fn exception_required_with_active_exception_is_eligible_and_names_it() {
    let mut world = World::new();
    let (_, exception) = world.with_active_exception("web", 5);
    let s = status_of(&world, "web", None);
    assert!(s.eligible);
    assert_eq!(s.reason_code, ReasonCode::ActiveException);
    assert!(s.reason.contains("sven"), "{}", s.reason);
    let active = s.active_exception.expect("the active exception is shown");
    assert_eq!(active.exception.id, exception);
    assert!(active.is_active);
}

#[test]
fn active_exception_stops_counting_at_its_expiry() {
    let mut world = World::new();
    world.with_active_exception("web", 5);
    world.advance(Duration::days(5) - Duration::milliseconds(1));
    assert!(status_of(&world, "web", None).eligible);
    world.advance(Duration::milliseconds(1));
    assert!(!status_of(&world, "web", None).eligible);
}

#[test]
fn newer_exception_after_a_rejection_decides_the_status() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let first = world.ask_exception(request, None);
    world.review_exception(first, Review::Reject);
    let second = world.ask_exception(request, None);
    assert_eq!(
        status_of(&world, "web", None).reason_code,
        ReasonCode::ExceptionPending
    );
    world.review_exception(second, Review::Approve);
    assert_eq!(
        status_of(&world, "web", None).reason_code,
        ReasonCode::ActiveException
    );
}

#[test]
fn most_recently_submitted_request_decides_over_an_older_approval() {
    let mut world = World::new();
    let old = world.under_review("web");
    world.ok(&carol(), approve(old));
    world.advance(Duration::hours(1));
    let new = world.under_review("web");
    let s = status_of(&world, "web", None);
    assert!(!s.eligible);
    assert_eq!(s.reason_code, ReasonCode::UnderReview);
    assert_eq!(s.request.unwrap().request.id, new);
}

#[test]
fn most_recently_submitted_request_decides_over_an_older_rejection() {
    let mut world = World::new();
    let old = world.under_review("web");
    world.ok(&carol(), reject(old));
    world.advance(Duration::hours(1));
    world.submit("web", 5.0);
    assert!(status_of(&world, "web", None).eligible);
}

#[test]
fn deciding_an_older_request_does_not_change_the_status() {
    let mut world = World::new();
    let old = world.under_review("web");
    world.needing_exception("web");
    world.ok(&carol(), approve(old));
    let s = status_of(&world, "web", None);
    assert!(!s.eligible);
    assert_eq!(s.reason_code, ReasonCode::ExceptionNotRequested);
}

#[test]
fn other_deployments_do_not_affect_the_status() {
    let mut world = World::new();
    world.submit("api", 5.0);
    assert_eq!(
        status_of(&world, "web", None).reason_code,
        ReasonCode::NoRequest
    );
}

// ----- rings -----

#[test]
fn rings_below_the_approval_ring_are_always_eligible() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(&carol(), reject(id));
    for ring in [0, 1] {
        let s = status_of(&world, "web", Some(ring));
        assert!(s.eligible, "ring {ring}");
        assert_eq!(s.reason_code, ReasonCode::RingExempt);
        assert_eq!(s.ring, Some(ring));
    }
}

#[test]
fn rings_below_the_approval_ring_are_eligible_without_any_request() {
    let world = World::new();
    assert!(status_of(&world, "web", Some(1)).eligible);
}

#[test]
fn from_the_approval_ring_on_the_rules_apply() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(&carol(), reject(id));
    for ring in [2, 3, 10] {
        let s = status_of(&world, "web", Some(ring));
        assert!(!s.eligible, "ring {ring}");
        assert_eq!(s.reason_code, ReasonCode::Rejected);
    }
}

#[test]
fn from_the_approval_ring_on_an_approval_makes_it_eligible() {
    let mut world = World::new();
    world.submit("web", 5.0);
    let s = status_of(&world, "web", Some(2));
    assert!(s.eligible);
    assert_eq!(s.reason_code, ReasonCode::AutoApproved);
}

#[test]
fn approval_ring_follows_the_policy() {
    let mut world = World::with_policy(Policy {
        approval_required_from_ring: 3,
        ..Policy::default()
    });
    world.under_review("web");
    assert!(status_of(&world, "web", Some(2)).eligible);
    assert!(!status_of(&world, "web", Some(3)).eligible);
}

#[test]
fn approval_ring_0_makes_every_ring_follow_the_rules() {
    let mut world = World::with_policy(Policy {
        approval_required_from_ring: 0,
        ..Policy::default()
    });
    world.under_review("web");
    assert!(!status_of(&world, "web", Some(0)).eligible);
}

#[test]
fn status_view_reports_the_ring_asked_about() {
    let mut world = World::new();
    world.submit("web", 5.0);
    assert_eq!(status_of(&world, "web", Some(4)).ring, Some(4));
    assert_eq!(status_of(&world, "web", None).ring, None);
}

#[test]
fn cleanup_by_any_actor_leaves_eligibility_alone_until_expiry() {
    let mut world = World::new();
    world.with_active_exception("web", 5);
    world.ok(&rita(), Command::Cleanup);
    assert!(status_of(&world, "web", None).eligible);
}
