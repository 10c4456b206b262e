//! `cab submit`: the gate at its boundaries, the request's JSON shape, the automatic decision,
//! and every kind of invalid input refused without writing.

use serde_json::{Value, json};

use crate::support::cli::*;

fn submit_args(risk: &str) -> Vec<&str> {
    vec![
        "submit",
        "--deployment",
        "payments-api-r1",
        "--evidence",
        "EP-1",
        "--risk",
        risk,
    ]
}

#[test]
fn submit_json_is_a_request_with_exactly_the_spec_fields() {
    let cab = Cab::new();
    let r = cab.json(
        "alice",
        "",
        &[
            "submit",
            "--deployment",
            "payments-api-r1",
            "--evidence",
            "EP-77",
            "--risk",
            "62.5",
            "--factor",
            "blast_radius=30",
            "--factor",
            "change_size=32.5",
            "--title",
            "Raise pool size",
            "--correlation-id",
            "gha-run-42",
        ],
    );
    assert_request_shape(&r, false);
    assert_eq!(r["deployment_intent_id"], "payments-api-r1");
    assert_eq!(r["evidence_package_id"], "EP-77");
    assert_eq!(r["title"], "Raise pool size");
    assert_eq!(r["risk_score"], json!(62.5));
    assert_eq!(
        r["risk_factors"],
        json!({"blast_radius": 30.0, "change_size": 32.5})
    );
    assert_eq!(r["gate"], "manual_review");
    assert_eq!(
        r["thresholds"],
        json!({"auto_approve_max": 50.0, "manual_review_max": 75.0})
    );
    assert_eq!(r["status"], "under_review");
    assert_eq!(r["requested_by"], "alice");
    assert_eq!(r["correlation_id"], "gha-run-42");
    assert_eq!(r["decision"], Value::Null);
    assert_eq!(r["exceptions"], json!([]));
}

#[test]
fn submitted_at_is_exactly_cab_now() {
    let cab = Cab::new();
    let r = cab.submit("alice", "d", "10");
    assert_eq!(r["submitted_at"], NOW);
    let later = "2027-03-04T05:06:07Z";
    let r2 = cab
        .cmd([
            "--json",
            "submit",
            "--deployment",
            "d",
            "--evidence",
            "e",
            "--risk",
            "10",
        ])
        .at(later)
        .run()
        .success()
        .json();
    assert_eq!(r2["submitted_at"], later);
    assert_eq!(r2["decision"]["decided_at"], later);
}

#[test]
fn cab_now_with_an_offset_is_written_in_utc() {
    let cab = Cab::new();
    let r = cab
        .cmd([
            "--json",
            "submit",
            "--deployment",
            "d",
            "--evidence",
            "e",
            "--risk",
            "10",
        ])
        .at("2026-11-28T10:00:00+01:00")
        .run()
        .success()
        .json();
    assert_eq!(r["submitted_at"], "2026-11-28T09:00:00Z");
}

#[test]
fn without_a_correlation_id_a_uuid_v4_is_generated() {
    let cab = Cab::new();
    let a = cab.submit("alice", "d", "60");
    let b = cab.submit("alice", "d", "60");
    assert_uuid_v4(&a["correlation_id"]);
    assert_ne!(a["correlation_id"], b["correlation_id"]);
    assert_ne!(a["id"], b["id"]);
}

#[test]
fn title_and_factors_are_optional_null_and_empty() {
    let cab = Cab::new();
    let r = cab.submit("alice", "d", "60");
    assert_eq!(r["title"], Value::Null);
    assert_eq!(r["risk_factors"], json!({}));
}

#[test]
fn score_50_is_auto_approved_by_system_with_a_rationale_naming_score_and_threshold() {
    let cab = Cab::new();
    let r = cab.submit("alice", "d", "50");
    assert_eq!(r["gate"], "auto_approved");
    assert_eq!(r["status"], "auto_approved");
    let d = &r["decision"];
    assert_decision_shape(d);
    assert_eq!(d["decision"], "auto_approved");
    assert_eq!(d["approver"], "system");
    assert_eq!(d["request_id"], r["id"]);
    assert_eq!(d["correlation_id"], r["correlation_id"]);
    assert_eq!(d["decided_at"], NOW);
    assert_eq!(d["conditions"], json!([]));
    let rationale = d["rationale"].as_str().unwrap();
    assert!(
        rationale.contains("50"),
        "rationale names score and threshold: {rationale}"
    );
}

#[test]
fn the_auto_approval_rationale_states_the_score_and_the_threshold() {
    let cab = Cab::new();
    let r = cab.submit("alice", "d", "12.5");
    let rationale = r["decision"]["rationale"].as_str().unwrap();
    assert!(rationale.contains("12.5"), "{rationale}");
    assert!(rationale.contains("50"), "{rationale}");
}

#[test]
fn gate_boundaries_50_01_and_75_need_review_and_75_01_needs_an_exception() {
    let cab = Cab::new();
    for (risk, gate, status) in [
        ("0", "auto_approved", "auto_approved"),
        ("50", "auto_approved", "auto_approved"),
        ("50.01", "manual_review", "under_review"),
        ("75", "manual_review", "under_review"),
        ("75.01", "exception_required", "exception_required"),
        ("100", "exception_required", "exception_required"),
    ] {
        let r = cab.submit("alice", &format!("dep-{risk}"), risk);
        assert_eq!(r["gate"], gate, "risk {risk}");
        assert_eq!(r["status"], status, "risk {risk}");
        assert_eq!(
            r["decision"].is_null(),
            gate != "auto_approved",
            "only auto-approval writes a decision (risk {risk})"
        );
    }
}

#[test]
fn each_submission_appends_exactly_one_line_to_the_store() {
    let cab = Cab::new();
    cab.submit("alice", "d", "10");
    cab.submit("alice", "d", "60");
    cab.submit("alice", "d", "90");
    let bytes = cab.store_bytes().unwrap();
    assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 3);
    assert!(bytes.ends_with(b"\n"));
}

#[test]
fn text_output_names_the_request_gate_and_next_step() {
    let cab = Cab::new();
    let run = cab.run("alice", "", &submit_args("60")).success();
    assert!(run.stdout.contains("manual_review"), "{}", run.stdout);
    assert!(run.stdout.contains("under_review"), "{}", run.stdout);
    assert!(run.stdout.contains("cab approve"), "{}", run.stdout);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let high = cab.run("alice", "", &submit_args("80")).success();
    assert!(
        high.stdout.contains("exception_required"),
        "{}",
        high.stdout
    );
    assert!(
        high.stdout.contains("cab exception create"),
        "{}",
        high.stdout
    );
}

#[test]
fn out_of_range_and_non_numeric_scores_exit_2_and_create_no_store() {
    let cab = Cab::new();
    for risk in [
        "-1", "101", "100.0001", "-0.01", "NaN", "nan", "inf", "-inf", "infinity", "abc", "", "5x",
        "1e3",
    ] {
        let f = cab.fails(2, "alice", "", &submit_args(risk));
        assert!(
            f.message.contains("risk"),
            "risk {risk:?}: the message names the risk score: {}",
            f.message
        );
        assert!(
            cab.store_bytes().is_none(),
            "risk {risk:?} created the store"
        );
    }
}

#[test]
fn invalid_score_on_an_existing_store_leaves_it_byte_for_byte_unchanged() {
    let cab = Cab::new();
    cab.submit("alice", "d", "60");
    for risk in ["-1", "101", "NaN", "inf", "abc"] {
        // `fails` compares the store's bytes before and after.
        cab.fails(2, "alice", "", &submit_args(risk));
    }
}

#[test]
fn empty_deployment_or_evidence_exits_2() {
    let cab = Cab::new();
    cab.fails(
        2,
        "alice",
        "",
        &[
            "submit",
            "--deployment",
            "",
            "--evidence",
            "E",
            "--risk",
            "10",
        ],
    );
    cab.fails(
        2,
        "alice",
        "",
        &[
            "submit",
            "--deployment",
            "  ",
            "--evidence",
            "E",
            "--risk",
            "10",
        ],
    );
    cab.fails(
        2,
        "alice",
        "",
        &[
            "submit",
            "--deployment",
            "D",
            "--evidence",
            "",
            "--risk",
            "10",
        ],
    );
    assert!(cab.store_bytes().is_none());
}

#[test]
fn missing_required_flags_exit_2_as_usage_errors() {
    let cab = Cab::new();
    let f = cab.fails(
        2,
        "alice",
        "",
        &["submit", "--evidence", "E", "--risk", "10"],
    );
    assert!(f.message.contains("--deployment"), "{}", f.message);
    let f = cab.fails(
        2,
        "alice",
        "",
        &["submit", "--deployment", "D", "--risk", "10"],
    );
    assert!(f.message.contains("--evidence"), "{}", f.message);
    let f = cab.fails(
        2,
        "alice",
        "",
        &["submit", "--deployment", "D", "--evidence", "E"],
    );
    assert!(f.message.contains("--risk"), "{}", f.message);
}

#[test]
fn malformed_factors_exit_2() {
    let cab = Cab::new();
    for factor in ["blast_radius", "blast_radius=abc", "blast_radius=NaN", "=5"] {
        let mut args = submit_args("10");
        args.extend(["--factor", factor]);
        cab.fails(2, "alice", "", &args);
    }
    let mut twice = submit_args("10");
    twice.extend(["--factor", "a=1", "--factor", "a=2"]);
    cab.fails(2, "alice", "", &twice);
    assert!(cab.store_bytes().is_none());
}

#[test]
fn an_empty_correlation_id_exits_2() {
    let cab = Cab::new();
    let mut args = submit_args("10");
    args.extend(["--correlation-id", ""]);
    cab.fails(2, "alice", "", &args);
}

#[test]
fn the_user_named_system_cannot_submit() {
    let cab = Cab::new();
    cab.fails(2, "system", "", &submit_args("10"));
    assert!(cab.store_bytes().is_none());
}

#[test]
fn an_unknown_role_in_cab_roles_exits_2() {
    let cab = Cab::new();
    let f = cab.fails(2, "alice", "cab_member,admin", &submit_args("10"));
    assert!(f.message.contains("admin"), "{}", f.message);
}
