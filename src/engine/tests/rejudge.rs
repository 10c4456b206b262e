//! Re-judging recorded events: every event the rules write passes, and each kind of forged
//! event (well chained, but not what the rules would write) is refused with the rule it breaks.

use chrono::Duration;

use super::*;
use crate::engine::rejudge::NOT_AS_WRITTEN;
use crate::engine::{
    DecisionKind, EventKind, ExceptionStatus, Gate, RequestStatus, Violation, rejudge,
};

/// The state just before the world's last event, and that event.
fn before_last(world: &World) -> (State, Event) {
    let (last, earlier) = world.log.split_last().expect("the world has events");
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

/// One event of every kind the rules write, each with the state just before it.
fn every_kind_of_event() -> Vec<(State, Event)> {
    let mut w = World::new();
    let mut states = Vec::new();
    let mut check = |w: &World| states.push(before_last(w));
    w.submit("auto", 10.0);
    check(&w);
    let review = w.under_review("review");
    check(&w);
    w.ok(&carol(), approve_with(review, &["canary first"]));
    check(&w);
    let high = w.needing_exception("high");
    check(&w);
    let x = w.ask_exception(high, Some(3));
    check(&w);
    w.review_exception(x, Review::Approve);
    check(&w);
    w.advance(Duration::days(4));
    w.ok(&ravi(), Command::Cleanup);
    check(&w);
    states
}

#[test]
fn every_kind_of_event_the_rules_write_passes_rejudging() {
    for (state, event) in &every_kind_of_event() {
        assert_eq!(rejudge(state, event), Ok(()), "{:?}", event.kind);
    }
}

#[test]
fn a_submission_is_judged_alone_as_against_the_state_before_it_and_nothing_else_is() {
    let states = every_kind_of_event();
    for (state, event) in &states {
        let submitted = matches!(event.kind, EventKind::RequestSubmitted(_));
        let alone = crate::engine::rejudge_alone(event);
        assert_eq!(alone.is_some(), submitted, "{:?}", event.kind);
        if submitted {
            assert_eq!(alone, Some(rejudge(state, event)));
            // A forged one is refused alone with the words it gets against the state.
            let mut forged = event.clone();
            if let EventKind::RequestSubmitted(e) = &mut forged.kind {
                e.request.requested_by = "mallory".into();
            }
            let refused = crate::engine::rejudge_alone(&forged).unwrap();
            assert!(refused.is_err());
            assert_eq!(refused, rejudge(state, &forged));
        }
    }
}

#[test]
fn a_decision_by_the_requester_breaks_separation_of_duties() {
    let mut w = World::new();
    let id = w.under_review("svc");
    w.ok(&carol(), approve(id));
    let (state, mut event) = before_last(&w);
    event.actor = "rita".into();
    if let EventKind::RequestDecided(d) = &mut event.kind {
        d.decision.approver = "rita".into();
    }
    assert_eq!(violation(&state, &event).rule, "separation_of_duties");
}

#[test]
fn a_gate_that_does_not_follow_from_score_and_thresholds_is_not_as_the_rules_write_it() {
    let mut w = World::new();
    w.submit("svc", 95.0);
    let (state, mut event) = before_last(&w);
    if let EventKind::RequestSubmitted(e) = &mut event.kind {
        e.request.gate = Gate::AutoApproved;
        e.request.status = RequestStatus::AutoApproved;
    }
    let v = violation(&state, &event);
    assert_eq!(v.rule, NOT_AS_WRITTEN);
    assert!(v.message.contains("data.request.gate"), "{v}");
    assert!(v.message.contains("exception_required"), "{v}");
}

#[test]
fn a_decision_naming_another_deployment_is_refused_naming_the_field() {
    let mut w = World::new();
    let id = w.under_review("svc");
    w.ok(&carol(), reject(id));
    let (state, mut event) = before_last(&w);
    if let EventKind::RequestDecided(d) = &mut event.kind {
        d.deployment_intent_id = "other".into();
    }
    let v = violation(&state, &event);
    assert!(v.message.contains("data.deployment_intent_id"), "{v}");
}

#[test]
fn a_decision_with_another_correlation_id_than_its_request_is_refused() {
    let mut w = World::new();
    let id = w.under_review("svc");
    w.ok(&carol(), reject(id));
    let (state, mut event) = before_last(&w);
    event.correlation_id = "someone-else".into();
    let v = violation(&state, &event);
    assert!(v.message.contains("correlation_id"), "{v}");
}

#[test]
fn a_review_of_an_expired_exception_breaks_the_expiry_rule() {
    let mut w = World::new();
    let high = w.needing_exception("svc");
    let x = w.ask_exception(high, Some(1));
    w.review_exception(x, Review::Approve);
    let (state, mut event) = before_last(&w);
    event.at += Duration::days(2);
    if let EventKind::ExceptionReviewed(r) = &mut event.kind {
        r.reviewed_at = event.at;
    }
    assert_eq!(violation(&state, &event).rule, "exception_expired");
}

#[test]
fn an_exception_of_400_days_breaks_the_expiry_range() {
    let mut w = World::new();
    let high = w.needing_exception("svc");
    w.ask_exception(high, Some(90));
    let (state, mut event) = before_last(&w);
    if let EventKind::ExceptionRequested(e) = &mut event.kind {
        e.exception.expires_at = e.exception.requested_at + Duration::days(400);
    }
    assert_eq!(violation(&state, &event).rule, "expiry_days");
}

#[test]
fn an_expiry_of_part_of_a_day_is_refused() {
    let mut w = World::new();
    let high = w.needing_exception("svc");
    w.ask_exception(high, Some(5));
    let (state, mut event) = before_last(&w);
    if let EventKind::ExceptionRequested(e) = &mut event.kind {
        e.exception.expires_at += Duration::hours(3);
    }
    assert_eq!(violation(&state, &event).rule, "expiry_days");
}

#[test]
fn a_decision_dated_before_its_request_is_refused() {
    let mut w = World::new();
    let id = w.under_review("svc");
    w.ok(&carol(), approve(id));
    let (state, mut event) = before_last(&w);
    event.at -= Duration::hours(1);
    if let EventKind::RequestDecided(d) = &mut event.kind {
        d.decision.decided_at = event.at;
    }
    assert_eq!(violation(&state, &event).rule, "before_record");
}

#[test]
fn the_rules_refuse_to_decide_before_the_request_was_submitted() {
    let mut w = World::new();
    let id = w.under_review("svc");
    w.advance(-Duration::minutes(5));
    let e = w.refuse(&carol(), approve(id));
    assert_eq!(e.code(), "before_record");
}

#[test]
fn a_second_decision_breaks_already_decided() {
    let mut w = World::new();
    let id = w.under_review("svc");
    w.ok(&carol(), approve(id));
    let first = w.log.last().unwrap().event.clone();
    let mut second = first.clone();
    if let EventKind::RequestDecided(d) = &mut second.kind {
        d.decision.decision = DecisionKind::Rejected;
        d.decision.approver = "colin".into();
    }
    second.actor = "colin".into();
    assert_eq!(violation(&w.state, &second).rule, "already_decided");
}

#[test]
fn an_expiry_recorded_before_its_time_is_refused() {
    let mut w = World::new();
    let (_, x) = w.with_active_exception("svc", 10);
    w.advance(Duration::days(11));
    w.ok(&ravi(), Command::Cleanup);
    let (state, mut event) = before_last(&w);
    event.at -= Duration::days(5);
    let v = violation(&state, &event);
    assert_eq!(v.rule, "not_expired");
    assert!(v.message.contains(&x.to_string()), "{v}");
}

#[test]
fn a_review_status_other_than_approved_or_rejected_is_refused() {
    let mut w = World::new();
    let high = w.needing_exception("svc");
    let x = w.ask_exception(high, Some(5));
    w.review_exception(x, Review::Reject);
    let (state, mut event) = before_last(&w);
    if let EventKind::ExceptionReviewed(r) = &mut event.kind {
        r.status = ExceptionStatus::Expired;
    }
    assert_eq!(violation(&state, &event).rule, NOT_AS_WRITTEN);
}

#[test]
fn an_event_by_the_reserved_system_actor_is_refused() {
    let mut w = World::new();
    w.submit("svc", 10.0);
    let (state, mut event) = before_last(&w);
    event.actor = "system".into();
    assert_eq!(violation(&state, &event).rule, "actor");
}

#[test]
fn an_actor_is_judged_the_same_however_often_and_after_however_many_other_names() {
    let mut w = World::new();
    w.submit("svc", 10.0);
    let (state, event) = before_last(&w);
    let by = |name: &str| {
        let mut e = event.clone();
        e.actor = name.into();
        if let EventKind::RequestSubmitted(s) = &mut e.kind {
            s.request.requested_by = name.into();
        }
        rejudge(&state, &e)
    };
    let first: Vec<_> = ["rita", " rita", "system", ""].map(by).into();
    assert_eq!(first[0], Ok(()));
    assert_eq!(first[1].as_ref().unwrap_err().rule, NOT_AS_WRITTEN);
    assert_eq!(first[2].as_ref().unwrap_err().rule, "actor");
    assert_eq!(first[3].as_ref().unwrap_err().rule, "actor");
    // More names than a thread keeps, then the first ones again: the same answers.
    for n in 0..3000 {
        assert_eq!(by(&format!("user-{n}")), Ok(()));
    }
    let again: Vec<_> = ["rita", " rita", "system", ""].map(by).into();
    assert_eq!(again, first);
}
