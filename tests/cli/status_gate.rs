//! `cab status` and `cab gate`: promotion eligibility from the deployment's latest request,
//! the reason, the ring rule, and the gate's exit codes (0 eligible, 3 not eligible, and
//! 3 never for anything else).

use chrono::Duration;
use serde_json::{Value, json};

use crate::support::cli::*;

const CAB: &str = "cab_member";
const SEC: &str = "security_reviewer";

fn status(cab: &Cab, deployment: &str, ring: Option<&str>) -> Value {
    let mut args = vec!["status", deployment];
    if let Some(r) = ring {
        args.extend(["--ring", r]);
    }
    let v = cab.json("oncall", "", &args);
    assert_status_shape(&v);
    v
}

fn assert_status_shape(v: &Value) {
    for key in [
        "deployment_intent_id",
        "eligible",
        "reason",
        "request",
        "active_exception",
    ] {
        assert!(v.get(key).is_some(), "status JSON lacks {key:?}: {v}");
    }
    assert!(v["eligible"].is_boolean());
    assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
    if !v["request"].is_null() {
        assert_request_shape(&v["request"], false);
    }
    if !v["active_exception"].is_null() {
        assert_exception_shape(&v["active_exception"]);
    }
}

/// `cab gate` exit code, and that it prints the same verdict as a line.
fn gate(cab: &Cab, deployment: &str, ring: Option<&str>) -> i32 {
    let mut args = vec!["gate", deployment];
    if let Some(r) = ring {
        args.extend(["--ring", r]);
    }
    let run = cab.run("pipeline", "", &args);
    assert!(
        run.code == 0 || run.code == 3,
        "gate exit {}: {}",
        run.code,
        run.stderr
    );
    let word = if run.code == 0 {
        "eligible"
    } else {
        "not eligible"
    };
    assert!(run.stdout.contains(word), "{}", run.stdout);
    assert_eq!(
        run.stdout.lines().count(),
        1,
        "gate prints one line: {}",
        run.stdout
    );
    run.code
}

fn assert_eligible(cab: &Cab, deployment: &str, ring: Option<&str>, reason_part: &str) -> Value {
    let v = status(cab, deployment, ring);
    assert_eq!(v["eligible"], true, "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains(reason_part),
        "reason {reason:?} lacks {reason_part:?}"
    );
    assert_eq!(gate(cab, deployment, ring), 0);
    v
}

fn assert_not_eligible(
    cab: &Cab,
    deployment: &str,
    ring: Option<&str>,
    reason_part: &str,
) -> Value {
    let v = status(cab, deployment, ring);
    assert_eq!(v["eligible"], false, "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains(reason_part),
        "reason {reason:?} lacks {reason_part:?}"
    );
    assert_eq!(gate(cab, deployment, ring), 3);
    v
}

#[test]
fn no_request_is_not_eligible_gate_exits_3_and_nothing_is_created() {
    let cab = Cab::new();
    let v = assert_not_eligible(&cab, "ghost", None, "no approval request");
    assert_eq!(v["deployment_intent_id"], "ghost");
    assert_eq!(v["request"], Value::Null);
    assert_eq!(v["active_exception"], Value::Null);
    assert!(cab.store_bytes().is_none());
}

#[test]
fn auto_approved_is_eligible_gate_exits_0() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "30");
    let v = assert_eligible(&cab, "d", None, "auto-approved");
    assert_eq!(v["request"]["id"], json!(id));
    assert_eq!(v["request"]["decision"]["approver"], "system");
}

#[test]
fn under_review_is_not_eligible_gate_exits_3() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "60");
    assert_not_eligible(&cab, "d", None, "under review");
}

#[test]
fn approved_is_eligible_and_names_the_approver() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    cab.json("carol", CAB, &["approve", &id, "--rationale", "ok"]);
    assert_eligible(&cab, "d", None, "carol");
}

#[test]
fn conditional_is_eligible_and_shows_its_conditions() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    cab.json(
        "carol",
        CAB,
        &[
            "approve",
            &id,
            "--rationale",
            "ok",
            "--condition",
            "after 18:00",
            "--condition",
            "canary first",
        ],
    );
    let v = assert_eligible(&cab, "d", None, "after 18:00");
    assert!(v["reason"].as_str().unwrap().contains("canary first"));
    assert_eq!(
        v["request"]["decision"]["conditions"],
        json!(["after 18:00", "canary first"])
    );
    let text = cab.run("oncall", "", &["status", "d"]).success().stdout;
    assert!(
        text.contains("after 18:00") && text.contains("canary first"),
        "{text}"
    );
}

#[test]
fn rejected_is_not_eligible_and_the_reason_says_rejected() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    cab.json(
        "carol",
        CAB,
        &["reject", &id, "--rationale", "no rollback plan"],
    );
    assert_not_eligible(&cab, "d", None, "rejected");
}

#[test]
fn exception_required_without_an_exception_is_not_eligible_none_requested() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "80");
    let v = assert_not_eligible(&cab, "d", None, "none requested");
    assert_eq!(v["active_exception"], Value::Null);
}

#[test]
fn exception_pending_is_not_eligible_and_says_pending() {
    let cab = Cab::new();
    cab.pending_exception("d", None);
    assert_not_eligible(&cab, "d", None, "pending");
}

#[test]
fn exception_rejected_is_not_eligible_and_says_rejected() {
    let cab = Cab::new();
    let (_, x) = cab.pending_exception("d", None);
    cab.json(
        "sam",
        SEC,
        &["exception", "reject", &x, "--rationale", "no"],
    );
    assert_not_eligible(&cab, "d", None, "rejected");
}

#[test]
fn an_active_exception_makes_it_eligible_and_is_printed_as_active_exception() {
    let cab = Cab::new();
    let (request, x) = cab.active_exception("d", None);
    let v = assert_eligible(&cab, "d", None, &x[..8]);
    assert_eq!(v["request"]["id"], json!(request));
    assert_eq!(v["active_exception"]["id"], json!(x));
    assert_eq!(v["active_exception"]["is_active"], true);
    let text = cab.run("oncall", "", &["status", "d"]).success().stdout;
    assert!(
        text.contains("extra monitoring"),
        "controls are shown: {text}"
    );
}

#[test]
fn an_expired_exception_is_not_eligible_with_or_without_cleanup() {
    let cab = Cab::new();
    cab.active_exception("d", Some("1"));
    let later = now_plus(Duration::days(1));
    let check = || {
        let v = cab
            .cmd(["--json", "status", "d"])
            .at(&later)
            .run()
            .success()
            .json();
        assert_eq!(v["eligible"], false, "{v}");
        assert!(v["reason"].as_str().unwrap().contains("expired"), "{v}");
        assert_eq!(v["active_exception"], Value::Null);
        let g = cab.cmd(["gate", "d"]).at(&later).run();
        g.assert_code(3);
    };
    check();
    cab.cmd(["cleanup"]).at(&later).run().success();
    check();
}

#[test]
fn the_most_recently_submitted_request_decides_eligibility() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "10");
    assert_eq!(gate(&cab, "d", None), 0);
    let newer = cab.submit_id("alice", "d", "60");
    let v = assert_not_eligible(&cab, "d", None, "under review");
    assert_eq!(v["request"]["id"], json!(newer));
    cab.submit_id("alice", "other", "60");
    assert_eq!(status(&cab, "d", None)["request"]["id"], json!(newer));
}

#[test]
fn rings_below_2_are_eligible_by_default_and_ring_2_applies_the_rules() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "60");
    assert_eligible(&cab, "d", Some("0"), "ring 0");
    assert_eligible(&cab, "d", Some("1"), "ring 1");
    assert_not_eligible(&cab, "d", Some("2"), "under review");
    assert_not_eligible(&cab, "d", Some("3"), "under review");
    assert_not_eligible(&cab, "d", None, "under review");
}

#[test]
fn a_low_ring_is_eligible_even_without_any_request() {
    let cab = Cab::new();
    assert_eligible(&cab, "nothing-yet", Some("1"), "ring 1");
    assert_not_eligible(&cab, "nothing-yet", Some("2"), "no approval request");
}

#[test]
fn an_invalid_ring_exits_2_never_3() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "60");
    for ring in ["-1", "x", "1.5", ""] {
        cab.fails(2, "x", "", &["gate", "d", "--ring", ring]);
        cab.fails(2, "x", "", &["status", "d", "--ring", ring]);
    }
}

#[test]
fn gate_usage_errors_and_bad_environment_exit_2_never_3() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "60");
    cab.fails(2, "x", "", &["gate"]);
    cab.fails(2, "x", "", &["gate", ""]);
    cab.fails(2, "x", "", &["gate", "d", "--bogus"]);
    cab.fails_call(2, || cab.cmd(["gate", "d"]).at("not a time"));
}

#[test]
fn gate_on_a_store_that_fails_verification_exits_1_never_3() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "60");
    cab.submit_id("alice", "e", "10");
    let text = String::from_utf8(cab.store_bytes().unwrap()).unwrap();
    cab.write_store(text.replacen("\"EP-1\"", "\"EP-2\"", 1).as_bytes());
    let f = cab.fails(1, "x", "", &["gate", "e"]);
    assert!(f.message.contains("line 1"), "{}", f.message);
    cab.fails(1, "x", "", &["status", "e"]);
}

#[test]
fn status_text_shows_verdict_reason_and_request() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    let text = cab.run("oncall", "", &["status", "d"]).success().stdout;
    assert!(text.contains("NOT ELIGIBLE"), "{text}");
    assert!(text.contains("under review"), "{text}");
    assert!(text.contains(&id[..8]), "{text}");
    cab.json("carol", CAB, &["approve", &id, "--rationale", "ok"]);
    let text = cab.run("oncall", "", &["status", "d"]).success().stdout;
    assert!(
        text.contains("ELIGIBLE") && !text.contains("NOT ELIGIBLE"),
        "{text}"
    );
}

#[test]
fn gate_with_json_prints_the_status_document_and_still_exits_3() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "60");
    let run = cab.run("x", "", &["--json", "gate", "d"]);
    run.assert_code(3);
    let v = run.json();
    assert_status_shape(&v);
    assert_eq!(v["eligible"], false);
}
