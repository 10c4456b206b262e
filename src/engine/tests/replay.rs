//! The state as a fold over events: `apply` refuses events that contradict what came before,
//! replay is deterministic, and ids resolve whole or by a unique prefix.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;

use chrono::Duration;
use uuid::Uuid;

use super::{ScriptedIds, World, approve, carol, colin, reject, rita, submit, t0};
use crate::engine::event::{ExceptionExpired, ExceptionReviewed, RequestDecided};
use crate::engine::rules::{self, Ctx, Review};
use crate::engine::{
    Decision, DecisionKind, EngineError, EventKind, ExceptionStatus, Policy, RequestStatus, State,
};

fn decided(world: &World, seq: usize) -> RequestDecided {
    match &world.log[seq - 1].event.kind {
        EventKind::RequestDecided(e) => e.clone(),
        other => panic!("event {seq} is {other:?}"),
    }
}

/// Applying must fail and leave the state exactly as it was.
fn refused(state: &mut State, kind: EventKind) -> String {
    let before = state.clone();
    let seq = state.head() + 1;
    let err = state
        .apply(seq, t0(), kind)
        .expect_err("the contradicting event was applied");
    assert_eq!(*state, before, "a refused event changed the state");
    err.to_string()
}

#[test]
fn second_decision_event_is_refused_by_apply() {
    let mut world = World::new();
    let id = world.under_review("web");
    world.ok(&carol(), approve(id));
    let mut second = decided(&world, 2);
    second.decision.id = Uuid::from_u128(77);
    second.decision.approver = "colin".into();
    second.decision.decision = DecisionKind::Rejected;
    let message = refused(&mut world.state, EventKind::RequestDecided(second));
    assert!(message.contains("second time"), "{message}");
    assert_eq!(world.request(id).status, RequestStatus::Approved);
}

#[test]
fn decision_event_for_an_unknown_request_is_refused_by_apply() {
    let mut state = State::new();
    let decision = Decision {
        id: Uuid::from_u128(1),
        request_id: Uuid::from_u128(2),
        decision: DecisionKind::Approved,
        approver: "carol".into(),
        rationale: "fine".into(),
        conditions: vec![],
        decided_at: t0(),
        correlation_id: "c".into(),
    };
    let message = refused(
        &mut state,
        EventKind::RequestDecided(RequestDecided {
            deployment_intent_id: "web".into(),
            decision,
        }),
    );
    assert!(message.contains("not known"), "{message}");
}

#[test]
fn decision_event_for_an_exception_required_request_is_refused_by_apply() {
    let mut world = World::new();
    let review_id = world.under_review("web");
    world.ok(&carol(), approve(review_id));
    let high = world.needing_exception("api");
    let mut forged = decided(&world, 2);
    forged.decision.request_id = high;
    forged.decision.id = Uuid::from_u128(88);
    refused(&mut world.state, EventKind::RequestDecided(forged));
    assert_eq!(world.request(high).status, RequestStatus::ExceptionRequired);
}

#[test]
fn manual_decision_event_claiming_auto_approval_is_refused_by_apply() {
    let mut world = World::new();
    let first = world.under_review("web");
    world.ok(&carol(), approve(first));
    let second = world.under_review("web");
    let mut forged = decided(&world, 2);
    forged.decision.request_id = second;
    forged.decision.id = Uuid::from_u128(99);
    forged.decision.decision = DecisionKind::AutoApproved;
    refused(&mut world.state, EventKind::RequestDecided(forged));
}

fn reviewed_event(world: &World, exception_id: Uuid, status: ExceptionStatus) -> EventKind {
    let e = world.exception(exception_id);
    EventKind::ExceptionReviewed(ExceptionReviewed {
        exception_id,
        request_id: e.request_id,
        deployment_intent_id: e.deployment_intent_id.clone(),
        status,
        reviewed_by: "sara".into(),
        reviewed_at: world.now,
        review_rationale: "again".into(),
    })
}

#[test]
fn review_event_for_an_approved_exception_is_refused_by_apply() {
    let mut world = World::new();
    let (_, id) = world.with_active_exception("web", 5);
    let event = reviewed_event(&world, id, ExceptionStatus::Rejected);
    refused(&mut world.state, event);
    assert_eq!(world.exception(id).status, ExceptionStatus::Approved);
}

#[test]
fn review_event_for_an_expired_exception_is_refused_by_apply() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(1));
    world.advance(Duration::days(2));
    world.ok(&rita(), rules::Command::Cleanup);
    let event = reviewed_event(&world, id, ExceptionStatus::Approved);
    refused(&mut world.state, event);
}

#[test]
fn review_event_that_sets_a_status_other_than_approved_or_rejected_is_refused() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, None);
    let event = reviewed_event(&world, id, ExceptionStatus::Expired);
    refused(&mut world.state, event);
}

#[test]
fn review_event_for_an_unknown_exception_is_refused_by_apply() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, None);
    let EventKind::ExceptionReviewed(mut e) = reviewed_event(&world, id, ExceptionStatus::Approved)
    else {
        unreachable!()
    };
    e.exception_id = Uuid::from_u128(12345);
    refused(&mut world.state, EventKind::ExceptionReviewed(e));
}

#[test]
fn expiry_event_for_a_rejected_exception_is_refused_by_apply() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, Some(1));
    world.review_exception(id, Review::Reject);
    let e = world.exception(id).clone();
    refused(
        &mut world.state,
        EventKind::ExceptionExpired(ExceptionExpired {
            exception_id: id,
            request_id: e.request_id,
            deployment_intent_id: e.deployment_intent_id.clone(),
            expires_at: e.expires_at,
        }),
    );
}

#[test]
fn submission_event_repeated_is_refused_by_apply() {
    let mut world = World::new();
    world.under_review("web");
    let again = world.log[0].event.kind.clone();
    refused(&mut world.state, again);
    assert_eq!(world.state.request_count(), 1);
}

fn submitted_kind(score: f64) -> crate::engine::event::RequestSubmitted {
    let mut world = World::new();
    match world.ok(&rita(), submit("web", score)).remove(0).kind {
        EventKind::RequestSubmitted(e) => e,
        other => panic!("expected a submission, got {other:?}"),
    }
}

#[test]
fn submission_event_whose_status_contradicts_its_gate_is_refused_by_apply() {
    let mut e = submitted_kind(90.0);
    e.request.status = RequestStatus::Approved;
    refused(&mut State::new(), EventKind::RequestSubmitted(e));
}

#[test]
fn auto_approved_submission_without_its_decision_is_refused_by_apply() {
    let mut e = submitted_kind(10.0);
    e.decision = None;
    refused(&mut State::new(), EventKind::RequestSubmitted(e));
}

#[test]
fn review_submission_carrying_a_decision_is_refused_by_apply() {
    let auto = submitted_kind(10.0);
    let mut e = submitted_kind(60.0);
    let mut decision = auto.decision.unwrap();
    decision.request_id = e.request.id;
    e.decision = Some(decision);
    refused(&mut State::new(), EventKind::RequestSubmitted(e));
}

#[test]
fn automatic_decision_naming_another_request_is_refused_by_apply() {
    let mut e = submitted_kind(10.0);
    e.decision.as_mut().unwrap().request_id = Uuid::from_u128(4242);
    refused(&mut State::new(), EventKind::RequestSubmitted(e));
}

#[test]
fn exception_event_for_a_request_under_review_is_refused_by_apply() {
    let mut world = World::new();
    let high = world.needing_exception("web");
    let id = world.ask_exception(high, None);
    let review_id = world.under_review("api");
    let mut exception = world.exception(id).clone();
    exception.id = Uuid::from_u128(31337);
    exception.request_id = review_id;
    refused(
        &mut world.state,
        EventKind::ExceptionRequested(crate::engine::event::ExceptionRequested { exception }),
    );
}

#[test]
fn exception_event_without_a_future_expiry_is_refused_by_apply() {
    let mut world = World::new();
    let high = world.needing_exception("web");
    let id = world.ask_exception(high, None);
    let mut exception = world.exception(id).clone();
    exception.id = Uuid::from_u128(31338);
    exception.expires_at = exception.requested_at;
    refused(
        &mut world.state,
        EventKind::ExceptionRequested(crate::engine::event::ExceptionRequested { exception }),
    );
}

// ----- replay -----

fn busy_world() -> World {
    let mut world = World::new();
    let a = world.under_review("web");
    world.ok(&carol(), approve(a));
    let b = world.under_review("api");
    world.ok(&colin(), reject(b));
    world.submit("db", 3.0);
    let (_, _) = world.with_active_exception("cache", 2);
    let c = world.needing_exception("queue");
    world.ask_exception(c, Some(1));
    world.advance(Duration::days(3));
    world.ok(&rita(), rules::Command::Cleanup);
    world
}

fn replayed(world: &World) -> State {
    State::replay(
        world
            .log
            .iter()
            .map(|s| (s.seq, s.event.at, s.event.kind.clone())),
    )
    .expect("the log replays")
}

#[test]
fn replay_of_the_log_rebuilds_the_same_state() {
    let world = busy_world();
    assert_eq!(replayed(&world), world.state);
}

#[test]
fn replaying_twice_gives_equal_states() {
    let world = busy_world();
    assert_eq!(replayed(&world), replayed(&world));
}

#[test]
fn replay_names_the_sequence_number_of_the_event_it_refuses() {
    let world = busy_world();
    let mut events: Vec<(u64, DateTime<Utc>, EventKind)> = world
        .log
        .iter()
        .map(|s| (s.seq, s.event.at, s.event.kind.clone()))
        .collect();
    let (_, at, duplicate) = events[1].clone();
    events.push((99, at, duplicate));
    let (seq, _) = State::replay(events).expect_err("a decision repeated");
    assert_eq!(seq, 99);
}

#[test]
fn head_is_the_sequence_number_of_the_last_event() {
    let world = busy_world();
    assert_eq!(world.state.head(), world.log.len() as u64);
    assert_eq!(State::new().head(), 0);
}

#[test]
fn history_lists_the_events_of_one_request_in_order() {
    let mut world = World::new();
    let other = world.under_review("api");
    let (request, _) = world.with_active_exception("web", 2);
    world.ok(&carol(), approve(other));
    world.advance(Duration::days(2));
    world.ok(&rita(), rules::Command::Cleanup);
    // 1 other submitted, 2 submitted, 3 exception requested, 4 reviewed, 5 other decided,
    // 6 expiry recorded.
    assert_eq!(world.state.history(&request), [2, 3, 4, 6]);
    assert_eq!(world.state.history(&other), [1, 5]);
    assert!(world.state.history(&Uuid::from_u128(1)).is_empty());
}

#[test]
fn latest_for_deployment_is_the_last_submitted() {
    let mut world = World::new();
    world.under_review("web");
    let second = world.needing_exception("web");
    world.under_review("api");
    assert_eq!(
        world.state.latest_for_deployment("web").map(|r| r.id),
        Some(second)
    );
    assert!(world.state.latest_for_deployment("db").is_none());
}

// ----- id resolution -----

fn with_ids(ids: &[&str]) -> (State, Vec<Uuid>) {
    let uuids: Vec<Uuid> = ids.iter().map(|s| Uuid::parse_str(s).unwrap()).collect();
    let mut state = State::new();
    let actor = rita();
    let policy = Policy::default();
    // Each review-gated submission takes a correlation id, then the request id.
    let mut script = VecDeque::new();
    for &id in &uuids {
        script.push_back(Uuid::from_u128(0));
        script.push_back(id);
    }
    let mut source = ScriptedIds(script);
    for _ in &uuids {
        let ctx = Ctx {
            actor: &actor,
            now: t0(),
            policy: &policy,
        };
        for event in rules::handle(&state, &submit("web", 60.0), &ctx, &mut source).unwrap() {
            state.apply(state.head() + 1, event.at, event.kind).unwrap();
        }
    }
    (state, uuids)
}

const A: &str = "3f2a9c1e-0000-4000-8000-000000000001";
const B: &str = "3f2a9c1e-5555-4000-8000-000000000002";
const C: &str = "7b1d0e44-0000-4000-8000-000000000003";

#[test]
fn whole_id_resolves() {
    let (state, ids) = with_ids(&[A, B, C]);
    assert_eq!(state.resolve_request(A), Ok(ids[0]));
}

#[test]
fn whole_id_in_upper_case_with_spaces_resolves() {
    let (state, ids) = with_ids(&[A, B, C]);
    let shouted = format!("  {}  ", C.to_uppercase());
    assert_eq!(state.resolve_request(&shouted), Ok(ids[2]));
}

#[test]
fn unique_8_character_prefix_resolves() {
    let (state, ids) = with_ids(&[A, B, C]);
    assert_eq!(state.resolve_request("7b1d0e44"), Ok(ids[2]));
}

#[test]
fn prefix_long_enough_to_be_unique_resolves_across_the_hyphen() {
    let (state, ids) = with_ids(&[A, B, C]);
    assert_eq!(state.resolve_request("3f2a9c1e-5"), Ok(ids[1]));
}

#[test]
fn prefix_of_7_characters_is_too_short() {
    let (state, _) = with_ids(&[A, B, C]);
    let err = state.resolve_request("7b1d0e4").unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("too short"), "{err}");
}

#[test]
fn ambiguous_prefix_is_refused_naming_both_matches() {
    let (state, _) = with_ids(&[A, B, C]);
    let err = state.resolve_request("3f2a9c1e").unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    let message = err.to_string();
    assert!(message.contains("ambiguous"), "{message}");
    assert!(message.contains(A) && message.contains(B), "{message}");
}

#[test]
fn unknown_prefix_is_not_found() {
    let (state, _) = with_ids(&[A, B, C]);
    let err = state.resolve_request("deadbeef").unwrap_err();
    assert!(matches!(
        err,
        EngineError::NotFound {
            what: "request",
            ..
        }
    ));
}

#[test]
fn unknown_whole_id_is_not_found() {
    let (state, _) = with_ids(&[A, B]);
    let err = state.resolve_request(C).unwrap_err();
    assert!(matches!(
        err,
        EngineError::NotFound {
            what: "request",
            ..
        }
    ));
}

#[test]
fn exception_ids_resolve_by_prefix_and_not_as_requests() {
    let mut world = World::new();
    let request = world.needing_exception("web");
    let id = world.ask_exception(request, None);
    let prefix = &id.to_string()[..8];
    assert_eq!(world.state.resolve_exception(prefix), Ok(id));
    assert!(matches!(
        world.state.resolve_request(prefix),
        Err(EngineError::NotFound { .. })
    ));
    assert!(matches!(
        world.state.resolve_exception(&request.to_string()),
        Err(EngineError::NotFound {
            what: "exception",
            ..
        })
    ));
}

#[test]
fn replayed_and_read_back_states_keep_one_copy_of_repeated_texts_and_the_same_answers() {
    let mut w = World::new();
    let first = w.submit("svc-a", 20.0);
    let second = w.submit("svc-b", 20.0);
    let reviewed = w.under_review("svc-c");
    w.ok(&carol(), approve(reviewed));
    let replayed = w.state.clone();
    let bytes = postcard::to_stdvec(&replayed).unwrap();
    let read_back: State = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(read_back, replayed);
    assert_eq!(postcard::to_stdvec(&read_back).unwrap(), bytes);
    for state in [&replayed, &read_back] {
        let (a, b) = (
            state.request(&first).unwrap(),
            state.request(&second).unwrap(),
        );
        assert_eq!(a.requested_by, "rita");
        assert!(a.requested_by.shares(&b.requested_by), "one copy of a name");
        let auto = state.decision(&first).unwrap();
        assert!(auto.correlation_id.shares(&a.correlation_id));
        assert!(
            auto.approver
                .shares(&state.decision(&second).unwrap().approver)
        );
        assert_eq!(
            state.latest_for_deployment("svc-c").unwrap().id,
            reviewed,
            "the index by deployment reads the shared ids"
        );
        assert_eq!(state.history(&reviewed).len(), 2);
    }
}
