//! Submission: the gate is evaluated atomically, an automatic approval comes with its decision
//! record in the same event, and malformed submissions are refused before anything is written.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::{CountingIds, World, invalid_field, rita, submission, t0};
use crate::engine::rules::{self, Command, Ctx, IdSource, MAX_ID_LEN, MAX_TEXT_LEN, RandomIds};
use crate::engine::{
    DecisionKind, EventKind, Gate, Policy, RequestStatus, SYSTEM_ACTOR, State, Thresholds,
};

fn submitted(world: &mut World, command: Command) -> crate::engine::event::RequestSubmitted {
    let events = world.ok(&rita(), command);
    assert_eq!(events.len(), 1, "a submission is one event");
    match events.into_iter().next().unwrap().kind {
        EventKind::RequestSubmitted(e) => e,
        other => panic!("expected a submission, got {other:?}"),
    }
}

#[test]
fn low_risk_submission_is_auto_approved_with_a_system_decision_in_the_same_event() {
    let mut world = World::new();
    let e = submitted(&mut world, Command::Submit(submission("web", 40.0)));
    assert_eq!(e.request.status, RequestStatus::AutoApproved);
    assert_eq!(e.request.gate, Gate::AutoApproved);
    let decision = e.decision.expect("an auto-approval carries its decision");
    assert_eq!(decision.decision, DecisionKind::AutoApproved);
    assert_eq!(decision.approver, SYSTEM_ACTOR);
    assert_eq!(decision.request_id, e.request.id);
    assert_eq!(decision.decided_at, t0());
    assert_eq!(decision.correlation_id, e.request.correlation_id);
    assert!(decision.conditions.is_empty());
    assert_eq!(world.state.decision(&e.request.id), Some(&decision));
}

#[test]
fn auto_approval_rationale_states_the_score_and_the_threshold() {
    let mut world = World::new();
    let e = submitted(&mut world, Command::Submit(submission("web", 42.5)));
    let rationale = e.decision.unwrap().rationale;
    assert!(rationale.contains("42.5"), "{rationale}");
    assert!(rationale.contains("50"), "{rationale}");
}

#[test]
fn auto_approval_rationale_states_a_custom_threshold() {
    let mut world = World::with_policy(Policy {
        thresholds: Thresholds::new(65.0, 80.0).unwrap(),
        ..Policy::default()
    });
    let e = submitted(&mut world, Command::Submit(submission("web", 61.0)));
    let rationale = e.decision.unwrap().rationale;
    assert!(rationale.contains("61"), "{rationale}");
    assert!(rationale.contains("65"), "{rationale}");
}

#[test]
fn medium_risk_submission_goes_under_review_without_a_decision() {
    let mut world = World::new();
    let e = submitted(&mut world, Command::Submit(submission("web", 60.0)));
    assert_eq!(e.request.status, RequestStatus::UnderReview);
    assert_eq!(e.request.gate, Gate::ManualReview);
    assert!(e.decision.is_none());
    assert!(world.state.decision(&e.request.id).is_none());
}

#[test]
fn high_risk_submission_requires_an_exception_without_a_decision() {
    let mut world = World::new();
    let e = submitted(&mut world, Command::Submit(submission("web", 85.0)));
    assert_eq!(e.request.status, RequestStatus::ExceptionRequired);
    assert_eq!(e.request.gate, Gate::ExceptionRequired);
    assert!(e.decision.is_none());
}

#[test]
fn submission_records_the_thresholds_applied() {
    let mut world = World::new();
    let e = submitted(&mut world, Command::Submit(submission("web", 60.0)));
    assert_eq!(e.request.thresholds, Thresholds::default());
}

#[test]
fn submission_records_requester_time_and_inputs() {
    let mut world = World::new();
    let mut s = submission("web-7", 55.5);
    s.title = Some("Rotate TLS certificates".into());
    s.risk_factors = [
        ("blast_radius".to_string(), 30.0),
        ("change_size".to_string(), 25.5),
    ]
    .into();
    let e = submitted(&mut world, Command::Submit(s));
    let r = e.request;
    assert_eq!(r.requested_by, "rita");
    assert_eq!(r.submitted_at, t0());
    assert_eq!(r.deployment_intent_id, "web-7");
    assert_eq!(r.evidence_package_id, "evidence-web-7");
    assert_eq!(r.title.as_deref(), Some("Rotate TLS certificates"));
    assert_eq!(r.risk_score.value(), 55.5);
    assert_eq!(r.risk_factors.get("change_size"), Some(&25.5));
}

#[test]
fn blank_title_is_recorded_as_no_title() {
    let mut world = World::new();
    let mut s = submission("web", 10.0);
    s.title = Some("   ".into());
    assert_eq!(
        submitted(&mut world, Command::Submit(s)).request.title,
        None
    );
}

#[test]
fn given_correlation_id_is_kept_on_request_decision_and_event() {
    let mut world = World::new();
    let mut s = submission("web", 10.0);
    s.correlation_id = Some("pipeline-run-4711".into());
    let events = world.ok(&rita(), Command::Submit(s));
    assert_eq!(events[0].correlation_id, "pipeline-run-4711");
    let EventKind::RequestSubmitted(e) = &events[0].kind else {
        panic!("expected a submission");
    };
    assert_eq!(e.request.correlation_id, "pipeline-run-4711");
    assert_eq!(
        e.decision.as_ref().unwrap().correlation_id,
        "pipeline-run-4711"
    );
}

#[test]
fn missing_correlation_id_is_replaced_by_a_generated_uuid_v4() {
    let state = State::new();
    let policy = Policy::default();
    let actor = rita();
    let ctx = Ctx {
        actor: &actor,
        now: t0(),
        policy: &policy,
    };
    let command = Command::Submit(submission("web", 60.0));
    let first = rules::handle(&state, &command, &ctx, &mut RandomIds).unwrap();
    let second = rules::handle(&state, &command, &ctx, &mut RandomIds).unwrap();
    let correlation = |events: &[crate::engine::Event]| {
        let EventKind::RequestSubmitted(e) = &events[0].kind else {
            panic!("expected a submission");
        };
        assert_eq!(e.request.correlation_id, events[0].correlation_id);
        Uuid::parse_str(&e.request.correlation_id).expect("a generated correlation id is a UUID")
    };
    let (a, b) = (correlation(&first), correlation(&second));
    assert_eq!(a.get_version_num(), 4);
    assert_ne!(a, b, "each submission gets its own correlation id");
}

#[test]
fn every_id_of_a_submission_comes_from_the_id_source() {
    let state = State::new();
    let policy = Policy::default();
    let actor = rita();
    let ctx = Ctx {
        actor: &actor,
        now: t0(),
        policy: &policy,
    };
    let mut ids = CountingIds::default();
    let events = rules::handle(
        &state,
        &Command::Submit(submission("web", 1.0)),
        &ctx,
        &mut ids,
    )
    .unwrap();
    let EventKind::RequestSubmitted(e) = &events[0].kind else {
        panic!("expected a submission");
    };
    let mut expected = CountingIds::default();
    let issued: BTreeSet<String> = (0..3).map(|_| expected.next_id().to_string()).collect();
    let used: BTreeSet<String> = [
        e.request.correlation_id.to_string(),
        e.request.id.to_string(),
        e.decision.as_ref().unwrap().id.to_string(),
    ]
    .into();
    assert_eq!(used, issued);
}

fn refused_field(s: crate::engine::Submission) -> &'static str {
    let mut world = World::new();
    let err = world.refuse(&rita(), Command::Submit(s));
    invalid_field(&err)
}

#[test]
fn empty_deployment_is_refused() {
    let mut s = submission("web", 10.0);
    s.deployment_intent_id = "".into();
    assert_eq!(refused_field(s), "deployment_intent_id");
}

#[test]
fn blank_deployment_is_refused() {
    let mut s = submission("web", 10.0);
    s.deployment_intent_id = " \t ".into();
    assert_eq!(refused_field(s), "deployment_intent_id");
}

#[test]
fn empty_evidence_package_is_refused() {
    let mut s = submission("web", 10.0);
    s.evidence_package_id = "".into();
    assert_eq!(refused_field(s), "evidence_package_id");
}

#[test]
fn blank_evidence_package_is_refused() {
    let mut s = submission("web", 10.0);
    s.evidence_package_id = "  ".into();
    assert_eq!(refused_field(s), "evidence_package_id");
}

#[test]
fn over_long_deployment_id_is_refused() {
    let mut s = submission("web", 10.0);
    s.deployment_intent_id = "d".repeat(MAX_ID_LEN + 1).into();
    assert_eq!(refused_field(s), "deployment_intent_id");
}

#[test]
fn blank_correlation_id_is_refused_rather_than_replaced() {
    let mut s = submission("web", 10.0);
    s.correlation_id = Some(" ".into());
    assert_eq!(refused_field(s), "correlation_id");
}

#[test]
fn non_finite_risk_factor_is_refused() {
    let mut s = submission("web", 10.0);
    s.risk_factors = [("blast_radius".to_string(), f64::NAN)].into();
    assert_eq!(refused_field(s), "risk_factors");
}

#[test]
fn risk_factor_with_blank_name_is_refused() {
    let mut s = submission("web", 10.0);
    s.risk_factors = [(" ".to_string(), 3.0)].into();
    assert_eq!(refused_field(s), "risk_factors");
}

#[test]
fn submissions_of_one_deployment_are_separate_requests() {
    let mut world = World::new();
    let first = world.submit("web", 60.0);
    let second = world.submit("web", 60.0);
    assert_ne!(first, second);
    assert_eq!(world.state.request_count(), 2);
    assert_eq!(
        world.state.latest_for_deployment("web").map(|r| r.id),
        Some(second)
    );
}

#[test]
fn a_blank_or_over_long_risk_factor_name_is_refused_in_words_about_the_name() {
    for (name, words) in [
        (
            " ".to_string(),
            "a risk factor's name must not be empty".to_string(),
        ),
        (
            "f".repeat(MAX_ID_LEN + 1),
            format!("a risk factor's name must be at most {MAX_ID_LEN} characters"),
        ),
    ] {
        let mut s = submission("web", 10.0);
        s.risk_factors = [(name, 3.0)].into();
        let err = World::new().refuse(&rita(), Command::Submit(s));
        assert_eq!(invalid_field(&err), "risk_factors");
        assert!(err.to_string().contains(&words), "{err}");
    }
    // A name of exactly the most characters, in more bytes than that, is taken.
    let mut s = submission("web", 10.0);
    s.risk_factors = [("é".repeat(MAX_ID_LEN), 3.0)].into();
    World::new().ok(&rita(), Command::Submit(s));
}

#[test]
fn ids_are_limited_in_characters_not_bytes() {
    let mut s = submission(&"é".repeat(MAX_ID_LEN), 10.0);
    s.evidence_package_id = "EP-1".into();
    s.title = Some("ü".repeat(MAX_TEXT_LEN).into());
    World::new().ok(&rita(), Command::Submit(s));
    let mut s = submission(&"é".repeat(MAX_ID_LEN + 1), 10.0);
    s.evidence_package_id = "EP-1".into();
    assert_eq!(refused_field(s), "deployment_intent_id");
    let mut s = submission("web", 10.0);
    s.title = Some("ü".repeat(MAX_TEXT_LEN + 1).into());
    assert_eq!(refused_field(s), "title");
}
