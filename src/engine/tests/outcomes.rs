//! Outcomes (SPEC section 6): how the deployment of an eligible request went, recorded by
//! anyone, once per request, never dated before what made the request eligible; replayed and
//! re-judged like every other event.

use chrono::Duration;
use uuid::Uuid;

use super::{World, approve, approve_with, carol, invalid_field, ravi, refusal, reject, rita, t0};
use crate::engine::rejudge::NOT_AS_WRITTEN;
use crate::engine::rules::{Command, MAX_ID_LEN, MAX_TEXT_LEN, Review};
use crate::engine::{
    EngineError, Event, EventKind, OutcomeResult, Refusal, State, Violation, rejudge, time,
};

fn outcome(request_id: Uuid, result: OutcomeResult) -> Command {
    outcome_with(request_id, result, None, None)
}

fn outcome_with(
    request_id: Uuid,
    result: OutcomeResult,
    incident: Option<&str>,
    note: Option<&str>,
) -> Command {
    Command::RecordOutcome {
        request_id,
        result,
        incident: incident.map(str::to_string),
        note: note.map(str::to_string),
    }
}

/// An auto-approved request of rita's; its id.
fn auto_approved(world: &mut World, deployment: &str) -> Uuid {
    world.submit(deployment, 20.0)
}

fn not_eligible(world: &mut World, id: Uuid) -> String {
    match refusal(world.refuse(&ravi(), outcome(id, OutcomeResult::Success))) {
        Refusal::NotEligible { request_id, status } => {
            assert_eq!(request_id, id);
            status
        }
        other => panic!("expected not_eligible, got {other:?}"),
    }
}

#[test]
fn an_outcome_of_an_auto_approved_request_is_recorded_with_every_field() {
    let mut w = World::new();
    let id = auto_approved(&mut w, "web-7");
    w.advance(Duration::hours(3));
    let events = w.ok(
        &ravi(),
        outcome_with(
            id,
            OutcomeResult::Failure,
            Some("INC-4242"),
            Some("error rate doubled"),
        ),
    );

    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.actor, "ravi");
    assert_eq!(event.at, t0() + Duration::hours(3));
    assert_eq!(event.correlation_id, w.request(id).correlation_id);
    assert_eq!(event.kind.type_name(), "outcome_recorded");
    assert_eq!(event.kind.request_id(), id);
    assert_eq!(event.kind.deployment_intent_id(), "web-7");

    let o = w.state.outcome(&id).expect("the outcome is in the state");
    assert_eq!(o.request_id, id);
    assert_eq!(o.deployment_intent_id, "web-7");
    assert_eq!(o.result, OutcomeResult::Failure);
    assert_eq!(o.incident.as_deref(), Some("INC-4242"));
    assert_eq!(o.note.as_deref(), Some("error rate doubled"));
    assert_eq!(o.recorded_by, "ravi");
    assert_eq!(o.recorded_at, t0() + Duration::hours(3));
    assert_eq!(
        event.kind.summary(),
        "outcome failure (incident INC-4242): error rate doubled"
    );
}

#[test]
fn approved_conditional_and_actively_excepted_requests_take_an_outcome() {
    let mut w = World::new();
    let approved = w.under_review("approved");
    w.ok(&carol(), approve(approved));
    let conditional = w.under_review("conditional");
    w.ok(&carol(), approve_with(conditional, &["canary first"]));
    let (excepted, _) = w.with_active_exception("excepted", 7);
    w.advance(Duration::hours(1));
    for (id, result) in [
        (approved, OutcomeResult::Success),
        (conditional, OutcomeResult::RolledBack),
        (excepted, OutcomeResult::Failure),
    ] {
        w.ok(&ravi(), outcome(id, result));
        assert_eq!(w.state.outcome(&id).map(|o| o.result), Some(result));
    }
}

#[test]
fn an_outcome_of_a_request_under_review_is_refused_as_not_eligible() {
    let mut w = World::new();
    let id = w.under_review("svc");
    assert_eq!(not_eligible(&mut w, id), "under_review");
}

#[test]
fn an_outcome_of_a_rejected_request_is_refused_as_not_eligible() {
    let mut w = World::new();
    let id = w.under_review("svc");
    w.ok(&carol(), reject(id));
    assert_eq!(not_eligible(&mut w, id), "rejected");
}

#[test]
fn an_outcome_of_a_request_needing_an_exception_without_an_active_one_is_refused() {
    const WITHOUT: &str = "exception_required without an active exception";
    let mut w = World::new();
    // None requested.
    let none = w.needing_exception("none");
    assert_eq!(not_eligible(&mut w, none), WITHOUT);
    // Pending.
    let pending = w.needing_exception("pending");
    w.ask_exception(pending, Some(3));
    assert_eq!(not_eligible(&mut w, pending), WITHOUT);
    // Rejected.
    let rejected = w.needing_exception("rejected");
    let x = w.ask_exception(rejected, Some(3));
    w.review_exception(x, Review::Reject);
    assert_eq!(not_eligible(&mut w, rejected), WITHOUT);
    // Approved, then expired (with or without cleanup having recorded it).
    let (expired, _) = w.with_active_exception("expired", 1);
    w.advance(Duration::days(1));
    assert_eq!(not_eligible(&mut w, expired), WITHOUT);
    w.ok(&ravi(), Command::Cleanup);
    assert_eq!(not_eligible(&mut w, expired), WITHOUT);
}

#[test]
fn the_refusal_says_what_an_outcome_needs() {
    let mut w = World::new();
    let id = w.under_review("svc");
    let e = w.refuse(&ravi(), outcome(id, OutcomeResult::Success));
    assert_eq!(e.code().as_str(), "not_eligible");
    let text = e.to_string();
    assert!(text.contains(&id.to_string()[..8]), "{text}");
    assert!(text.contains("under_review"), "{text}");
    assert!(
        text.contains("auto_approved, approved, conditional"),
        "{text}"
    );
}

#[test]
fn a_second_outcome_is_refused_naming_the_first() {
    let mut w = World::new();
    let id = auto_approved(&mut w, "svc");
    w.advance(Duration::hours(1));
    w.ok(&ravi(), outcome(id, OutcomeResult::Success));
    w.advance(Duration::hours(1));
    let e = w.refuse(
        &carol(),
        outcome_with(id, OutcomeResult::Failure, Some("INC-1"), None),
    );
    assert_eq!(e.code().as_str(), "outcome_recorded");
    let text = e.to_string();
    for part in [
        "success",
        "ravi",
        &time::format(t0() + Duration::hours(1)),
        "never changed",
    ] {
        assert!(text.contains(part), "{part:?} missing: {text}");
    }
    match refusal(e) {
        Refusal::OutcomeRecorded(first) => {
            assert_eq!(first.result, OutcomeResult::Success);
            assert_eq!(first.recorded_by, "ravi");
        }
        other => panic!("expected outcome_recorded, got {other:?}"),
    }
    // The same result again is no exception.
    w.refuse(&ravi(), outcome(id, OutcomeResult::Success));
}

#[test]
fn anyone_may_record_an_outcome_even_the_requester_without_any_role() {
    let mut w = World::new();
    let mine = auto_approved(&mut w, "mine");
    let theirs = auto_approved(&mut w, "theirs");
    // rita submitted both and holds no role; ravi holds none either.
    w.ok(&rita(), outcome(mine, OutcomeResult::Success));
    w.ok(&ravi(), outcome(theirs, OutcomeResult::RolledBack));
    assert_eq!(w.state.outcome(&mine).unwrap().recorded_by, "rita");
    assert_eq!(w.state.outcome(&theirs).unwrap().recorded_by, "ravi");
}

#[test]
fn an_outcome_dated_before_the_decision_is_refused_as_before_record() {
    let mut w = World::new();
    let id = w.under_review("svc");
    w.advance(Duration::hours(2));
    w.ok(&carol(), approve(id));
    w.now -= Duration::minutes(1);
    match refusal(w.refuse(&ravi(), outcome(id, OutcomeResult::Success))) {
        Refusal::BeforeRecord { what, at, now } => {
            assert!(what.contains("became eligible"), "{what}");
            assert_eq!(at, t0() + Duration::hours(2));
            assert_eq!(now, t0() + Duration::hours(2) - Duration::minutes(1));
        }
        other => panic!("expected before_record, got {other:?}"),
    }
    // At the decision's own moment it is accepted.
    w.now += Duration::minutes(1);
    w.ok(&ravi(), outcome(id, OutcomeResult::Success));
}

#[test]
fn an_outcome_dated_before_the_exception_approval_is_refused_as_before_record() {
    let mut w = World::new();
    let id = w.needing_exception("svc");
    let x = w.ask_exception(id, Some(7));
    w.advance(Duration::hours(5));
    w.review_exception(x, Review::Approve);
    w.now -= Duration::hours(1);
    let e = w.refuse(&ravi(), outcome(id, OutcomeResult::Success));
    assert_eq!(e.code().as_str(), "before_record");
}

#[test]
fn a_blank_or_oversized_incident_is_invalid_input() {
    let mut w = World::new();
    let id = auto_approved(&mut w, "svc");
    for incident in ["", "   ", &"I".repeat(MAX_ID_LEN + 1)] {
        let e = w.refuse(
            &ravi(),
            outcome_with(id, OutcomeResult::Failure, Some(incident), None),
        );
        assert_eq!(invalid_field(&e), "incident", "{incident:?}");
    }
    w.ok(
        &ravi(),
        outcome_with(
            id,
            OutcomeResult::Failure,
            Some(&"I".repeat(MAX_ID_LEN)),
            None,
        ),
    );
}

#[test]
fn a_blank_or_oversized_note_is_invalid_input_and_says_it_may_be_left_out() {
    let mut w = World::new();
    let id = auto_approved(&mut w, "svc");
    for note in ["", " \n ", &"n".repeat(MAX_TEXT_LEN + 1)] {
        let e = w.refuse(
            &ravi(),
            outcome_with(id, OutcomeResult::Success, None, Some(note)),
        );
        assert_eq!(invalid_field(&e), "note", "{note:?}");
    }
    let blank = w.refuse(
        &ravi(),
        outcome_with(id, OutcomeResult::Success, None, Some("")),
    );
    assert!(
        !blank.to_string().contains("is required"),
        "an optional note is not required: {blank}"
    );
    w.ok(
        &ravi(),
        outcome_with(
            id,
            OutcomeResult::Success,
            None,
            Some(&"n".repeat(MAX_TEXT_LEN)),
        ),
    );
}

#[test]
fn an_outcome_of_an_unknown_request_is_not_found() {
    let mut w = World::new();
    let e = w.refuse(
        &ravi(),
        outcome(Uuid::from_u128(99), OutcomeResult::Success),
    );
    assert!(matches!(e, EngineError::NotFound { .. }), "{e:?}");
}

#[test]
fn result_names_parse_and_print_as_the_spec_writes_them() {
    for (text, result) in [
        ("success", OutcomeResult::Success),
        ("failure", OutcomeResult::Failure),
        ("rolled_back", OutcomeResult::RolledBack),
    ] {
        assert_eq!(text.parse::<OutcomeResult>().unwrap(), result);
        assert_eq!(result.to_string(), text);
    }
    for bad in ["", "ok", "Success", "rolled-back", "failed"] {
        let e = bad.parse::<OutcomeResult>().unwrap_err();
        assert_eq!(e.field, "result");
        assert!(e.message.contains("rolled_back"), "{}", e.message);
    }
    assert!(!OutcomeResult::Success.is_failure());
    assert!(OutcomeResult::Failure.is_failure() && OutcomeResult::RolledBack.is_failure());
}

// ----- replay -----

fn replayed(w: &World) -> State {
    State::replay(
        w.log
            .iter()
            .map(|s| (s.seq, s.event.at, s.event.kind.clone())),
    )
    .expect("the log replays")
}

#[test]
fn replaying_the_log_gives_the_outcome_and_the_request_history_holds_it() {
    let mut w = World::new();
    let id = auto_approved(&mut w, "svc");
    w.advance(Duration::hours(1));
    w.ok(
        &ravi(),
        outcome_with(id, OutcomeResult::RolledBack, Some("INC-9"), Some("p99 up")),
    );
    let state = replayed(&w);
    assert_eq!(state, w.state);
    assert_eq!(state.outcome(&id), w.state.outcome(&id));
    assert_eq!(state.history(&id), [1, 2]);
    let (_, _, recorded) = state.records().next().expect("one request");
    assert_eq!(recorded.map(|o| o.result), Some(OutcomeResult::RolledBack));
}

#[test]
fn applying_a_second_outcome_or_one_for_a_request_under_review_is_refused() {
    let mut w = World::new();
    let id = auto_approved(&mut w, "svc");
    let events = w.ok(&ravi(), outcome(id, OutcomeResult::Success));
    let mut state = w.state.clone();
    let again = state.apply(99, w.now, events[0].kind.clone());
    assert!(again.is_err(), "a second outcome applied");

    let review = w.under_review("review");
    let mut forged = events[0].kind.clone();
    if let EventKind::OutcomeRecorded(e) = &mut forged {
        e.outcome.request_id = review;
        e.outcome.id = Uuid::from_u128(77);
    }
    let mut state = w.state.clone();
    let before = state.clone();
    assert!(state.apply(99, w.now, forged).is_err());
    assert_eq!(state, before, "a refused event changed the state");
}

// ----- re-judging (what `cab verify` does with every line) -----

/// The state before the world's last event, and that event.
fn before_last(w: &World) -> (State, Event) {
    let (last, earlier) = w.log.split_last().expect("the world has events");
    let state = State::replay(
        earlier
            .iter()
            .map(|s| (s.seq, s.event.at, s.event.kind.clone())),
    )
    .expect("the earlier events replay");
    (state, last.event.clone())
}

fn violation(state: &State, event: &Event) -> Violation {
    rejudge(state, event).expect_err("the forged event must be refused")
}

fn edit_outcome(event: &mut Event, edit: impl FnOnce(&mut crate::engine::Outcome)) {
    match &mut event.kind {
        EventKind::OutcomeRecorded(e) => edit(&mut e.outcome),
        other => panic!("expected an outcome, got {other:?}"),
    }
}

/// A world whose last event is an outcome of an approved request.
fn with_outcome() -> (World, Uuid) {
    let mut w = World::new();
    let id = w.under_review("svc");
    w.advance(Duration::hours(2));
    w.ok(&carol(), approve(id));
    w.advance(Duration::hours(2));
    w.ok(
        &ravi(),
        outcome_with(id, OutcomeResult::Failure, Some("INC-1"), Some("paged")),
    );
    (w, id)
}

#[test]
fn every_outcome_the_rules_write_passes_re_judging() {
    let (w, _) = with_outcome();
    let (state, event) = before_last(&w);
    assert_eq!(rejudge(&state, &event), Ok(()));

    let mut w = World::new();
    let (id, _) = w.with_active_exception("excepted", 7);
    w.advance(Duration::days(2));
    w.ok(&rita(), outcome(id, OutcomeResult::Success));
    let (state, event) = before_last(&w);
    assert_eq!(rejudge(&state, &event), Ok(()));
}

#[test]
fn a_forged_outcome_of_a_request_under_review_breaks_not_eligible() {
    let mut w = World::new();
    let review = w.under_review("review");
    let id = auto_approved(&mut w, "svc");
    w.advance(Duration::hours(1));
    w.ok(&ravi(), outcome(id, OutcomeResult::Success));
    let (state, mut event) = before_last(&w);
    // Re-pointed at the request under review, with its deployment and correlation id.
    let r = w.request(review).clone();
    event.correlation_id = r.correlation_id.clone();
    edit_outcome(&mut event, |o| {
        o.request_id = review;
        o.deployment_intent_id = r.deployment_intent_id.clone();
    });
    assert_eq!(violation(&state, &event).rule, "not_eligible");
}

#[test]
fn a_forged_second_outcome_breaks_outcome_recorded() {
    let (w, _) = with_outcome();
    let (_, mut event) = before_last(&w);
    edit_outcome(&mut event, |o| {
        o.id = Uuid::from_u128(1234);
        o.result = OutcomeResult::Success;
    });
    // Judged against the state after the first outcome.
    assert_eq!(violation(&w.state, &event).rule, "outcome_recorded");
}

#[test]
fn a_forged_outcome_dated_before_the_decision_breaks_before_record() {
    let (w, _) = with_outcome();
    let (state, mut event) = before_last(&w);
    let early = t0() + Duration::hours(1);
    event.at = early;
    edit_outcome(&mut event, |o| o.recorded_at = early);
    assert_eq!(violation(&state, &event).rule, "before_record");
}

#[test]
fn a_forged_outcome_naming_another_deployment_or_recorder_is_not_as_the_rules_write_it() {
    let (w, _) = with_outcome();
    let (state, event) = before_last(&w);

    let mut other_deployment = event.clone();
    edit_outcome(&mut other_deployment, |o| {
        o.deployment_intent_id = "svc-9".into()
    });
    let v = violation(&state, &other_deployment);
    assert_eq!(v.rule, NOT_AS_WRITTEN);
    assert!(v.message.contains("deployment_intent_id"), "{v}");

    let mut other_recorder = event.clone();
    edit_outcome(&mut other_recorder, |o| o.recorded_by = "sven".into());
    assert_eq!(violation(&state, &other_recorder).rule, NOT_AS_WRITTEN);

    let mut blank_incident = event;
    edit_outcome(&mut blank_incident, |o| o.incident = Some(" ".into()));
    assert_eq!(violation(&state, &blank_incident).rule, "incident");
}
