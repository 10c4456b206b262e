//! The risk gate: its boundaries under default and custom thresholds, and which scores and
//! thresholds exist at all.

use super::{World, invalid_field, rita, submit};
use crate::engine::{Gate, Policy, RequestStatus, RiskScore, Thresholds};

fn default_gate(score: f64) -> Gate {
    Thresholds::default().gate(RiskScore::new(score).unwrap())
}

fn gate_with(auto: f64, manual: f64, score: f64) -> Gate {
    Thresholds::new(auto, manual)
        .unwrap()
        .gate(RiskScore::new(score).unwrap())
}

#[test]
fn default_thresholds_are_50_and_75() {
    let t = Thresholds::default();
    assert_eq!((t.auto_approve_max(), t.manual_review_max()), (50.0, 75.0));
}

#[test]
fn score_0_auto_approves() {
    assert_eq!(default_gate(0.0), Gate::AutoApproved);
}

#[test]
fn score_49_99_auto_approves() {
    assert_eq!(default_gate(49.99), Gate::AutoApproved);
}

#[test]
fn score_50_auto_approves() {
    assert_eq!(default_gate(50.0), Gate::AutoApproved);
}

#[test]
fn score_50_01_needs_manual_review() {
    assert_eq!(default_gate(50.01), Gate::ManualReview);
}

#[test]
fn score_60_needs_manual_review() {
    assert_eq!(default_gate(60.0), Gate::ManualReview);
}

#[test]
fn score_75_needs_manual_review() {
    assert_eq!(default_gate(75.0), Gate::ManualReview);
}

#[test]
fn score_75_01_requires_exception() {
    assert_eq!(default_gate(75.01), Gate::ExceptionRequired);
}

#[test]
fn score_85_requires_exception() {
    assert_eq!(default_gate(85.0), Gate::ExceptionRequired);
}

#[test]
fn score_100_requires_exception() {
    assert_eq!(default_gate(100.0), Gate::ExceptionRequired);
}

#[test]
fn custom_thresholds_move_the_auto_approve_boundary() {
    assert_eq!(gate_with(30.0, 60.0, 30.0), Gate::AutoApproved);
    assert_eq!(gate_with(30.0, 60.0, 30.01), Gate::ManualReview);
}

#[test]
fn custom_thresholds_move_the_exception_boundary() {
    assert_eq!(gate_with(30.0, 60.0, 60.0), Gate::ManualReview);
    assert_eq!(gate_with(30.0, 60.0, 60.01), Gate::ExceptionRequired);
}

#[test]
fn equal_thresholds_leave_no_manual_review_band() {
    assert_eq!(gate_with(40.0, 40.0, 40.0), Gate::AutoApproved);
    assert_eq!(gate_with(40.0, 40.0, 40.01), Gate::ExceptionRequired);
}

#[test]
fn zero_thresholds_auto_approve_only_score_0() {
    assert_eq!(gate_with(0.0, 0.0, 0.0), Gate::AutoApproved);
    assert_eq!(gate_with(0.0, 0.0, 0.01), Gate::ExceptionRequired);
}

#[test]
fn thresholds_of_100_auto_approve_score_100() {
    assert_eq!(gate_with(100.0, 100.0, 100.0), Gate::AutoApproved);
}

#[test]
fn auto_threshold_above_manual_threshold_is_invalid() {
    let err = Thresholds::new(80.0, 70.0).unwrap_err();
    assert_eq!(err.field, "thresholds");
}

#[test]
fn thresholds_outside_0_to_100_are_invalid() {
    assert!(Thresholds::new(-1.0, 75.0).is_err());
    assert!(Thresholds::new(50.0, 100.5).is_err());
    assert!(Thresholds::new(f64::NAN, 75.0).is_err());
    assert!(Thresholds::new(50.0, f64::INFINITY).is_err());
}

#[test]
fn thresholds_that_are_not_ordered_cannot_be_deserialized() {
    let parsed: Result<Thresholds, _> =
        serde_json::from_str(r#"{"auto_approve_max": 80, "manual_review_max": 70}"#);
    assert!(parsed.is_err());
}

#[test]
fn gates_are_ordered_from_least_to_most_scrutiny() {
    assert!(Gate::AutoApproved < Gate::ManualReview);
    assert!(Gate::ManualReview < Gate::ExceptionRequired);
}

// ----- invalid scores, refused as invalid input before anything is written -----

fn refused_score(score: f64) -> &'static str {
    let mut world = World::new();
    let err = world.refuse(&rita(), submit("web", score));
    assert_eq!(world.state.request_count(), 0);
    invalid_field(&err)
}

#[test]
fn negative_score_is_invalid_input() {
    assert_eq!(refused_score(-0.01), "risk_score");
}

#[test]
fn score_above_100_is_invalid_input() {
    assert_eq!(refused_score(100.01), "risk_score");
}

#[test]
fn nan_score_is_invalid_input() {
    assert_eq!(refused_score(f64::NAN), "risk_score");
}

#[test]
fn positive_infinity_score_is_invalid_input() {
    assert_eq!(refused_score(f64::INFINITY), "risk_score");
}

#[test]
fn negative_infinity_score_is_invalid_input() {
    assert_eq!(refused_score(f64::NEG_INFINITY), "risk_score");
}

#[test]
fn score_that_is_not_a_number_is_invalid_input() {
    let err = "high".parse::<RiskScore>().unwrap_err();
    assert_eq!(err.field, "risk_score");
    assert!(err.message.contains("high"), "{}", err.message);
}

#[test]
fn score_text_is_parsed_with_surrounding_spaces() {
    assert_eq!(" 50.01 ".parse::<RiskScore>().unwrap().value(), 50.01);
}

#[test]
fn score_out_of_range_cannot_be_deserialized() {
    assert!(serde_json::from_str::<RiskScore>("100.5").is_err());
    assert!(serde_json::from_str::<RiskScore>("-3").is_err());
}

// ----- the thresholds a submission is judged with -----

#[test]
fn submission_uses_the_policy_thresholds() {
    let mut world = World::with_policy(Policy {
        thresholds: Thresholds::new(30.0, 60.0).unwrap(),
        ..Policy::default()
    });
    let review = world.submit("web", 45.0);
    let exception = world.submit("api", 61.0);
    assert_eq!(world.request(review).status, RequestStatus::UnderReview);
    assert_eq!(
        world.request(exception).status,
        RequestStatus::ExceptionRequired
    );
}

#[test]
fn request_keeps_its_thresholds_when_the_policy_changes() {
    let custom = Thresholds::new(70.0, 80.0).unwrap();
    let mut world = World::with_policy(Policy {
        thresholds: custom,
        ..Policy::default()
    });
    let id = world.submit("web", 65.0);
    world.policy = Policy::default();
    let later = world.submit("web", 65.0);

    assert_eq!(world.request(id).thresholds, custom);
    assert_eq!(world.request(id).status, RequestStatus::AutoApproved);
    assert_eq!(world.request(later).thresholds, Thresholds::default());
    assert_eq!(world.request(later).status, RequestStatus::UnderReview);
}
