//! `cab queue` and `cab show`: which requests await action, lists as JSON arrays, and one
//! request with its decision, exceptions and event history.

use chrono::Duration;
use serde_json::{Value, json};

use crate::support::cli::*;

const CAB: &str = "cab_member";
const SEC: &str = "security_reviewer";

fn queue(cab: &Cab, status: Option<&str>) -> Vec<String> {
    let mut args = vec!["queue"];
    if let Some(s) = status {
        args.extend(["--status", s]);
    }
    let v = cab.json("x", "", &args);
    let items = v.as_array().expect("queue prints a JSON array");
    for r in items {
        assert_request_shape(r, false);
    }
    items.iter().map(id_of).collect()
}

/// One request in each status, and an exception_required one with an active exception.
struct World {
    cab: Cab,
    auto: String,
    review: String,
    approved: String,
    conditional: String,
    rejected: String,
    needs_exception: String,
    pending_exception: String,
    covered: String,
}

fn world() -> World {
    let cab = Cab::new();
    let auto = cab.submit_id("alice", "auto", "10");
    let review = cab.submit_id("alice", "review", "60");
    let approved = cab.submit_id("alice", "approved", "60");
    cab.json("carol", CAB, &["approve", &approved, "--rationale", "ok"]);
    let conditional = cab.submit_id("alice", "conditional", "60");
    cab.json(
        "carol",
        CAB,
        &[
            "approve",
            &conditional,
            "--rationale",
            "ok",
            "--condition",
            "canary",
        ],
    );
    let rejected = cab.submit_id("alice", "rejected", "60");
    cab.json("carol", CAB, &["reject", &rejected, "--rationale", "no"]);
    let needs_exception = cab.submit_id("alice", "needs", "80");
    let (pending_exception, _) = cab.pending_exception("pending", None);
    let (covered, _) = cab.active_exception("covered", Some("1"));
    World {
        cab,
        auto,
        review,
        approved,
        conditional,
        rejected,
        needs_exception,
        pending_exception,
        covered,
    }
}

#[test]
fn queue_defaults_to_under_review_and_exception_required_without_an_active_exception() {
    let w = world();
    assert_eq!(
        queue(&w.cab, None),
        vec![
            w.review.clone(),
            w.needs_exception.clone(),
            w.pending_exception.clone()
        ]
    );
    assert_eq!(queue(&w.cab, Some("pending")), queue(&w.cab, None));
}

#[test]
fn a_request_whose_exception_expired_is_back_in_the_queue() {
    let w = world();
    let later = now_plus(Duration::days(1));
    let v = w
        .cab
        .cmd(["--json", "queue"])
        .at(&later)
        .run()
        .success()
        .json();
    let got: Vec<String> = v.as_array().unwrap().iter().map(id_of).collect();
    assert!(got.contains(&w.covered), "{got:?}");
}

#[test]
fn queue_status_filters_each_request_status_exactly() {
    let w = world();
    assert_eq!(queue(&w.cab, Some("auto_approved")), vec![w.auto.clone()]);
    assert_eq!(queue(&w.cab, Some("under_review")), vec![w.review.clone()]);
    assert_eq!(queue(&w.cab, Some("approved")), vec![w.approved.clone()]);
    assert_eq!(
        queue(&w.cab, Some("conditional")),
        vec![w.conditional.clone()]
    );
    assert_eq!(queue(&w.cab, Some("rejected")), vec![w.rejected.clone()]);
    assert_eq!(
        queue(&w.cab, Some("exception_required")),
        vec![
            w.needs_exception.clone(),
            w.pending_exception.clone(),
            w.covered.clone()
        ]
    );
    assert_eq!(queue(&w.cab, Some("all")).len(), 8);
}

#[test]
fn queue_with_an_unknown_status_exits_2_naming_the_valid_ones() {
    let w = world();
    for status in ["submitted", "APPROVED", "pending_review", ""] {
        let f = w.cab.fails(2, "x", "", &["queue", "--status", status]);
        assert!(!f.message.is_empty());
    }
    let f = w.cab.fails(2, "x", "", &["queue", "--status", "submitted"]);
    assert!(f.message.contains("under_review"), "{}", f.message);
}

#[test]
fn queue_on_a_missing_store_is_empty_and_creates_nothing() {
    let cab = Cab::new();
    assert_eq!(queue(&cab, None), Vec::<String>::new());
    let text = cab.run("x", "", &["queue"]).success();
    assert!(!text.stdout.is_empty(), "an empty queue says so");
    assert!(cab.store_bytes().is_none());
}

#[test]
fn empty_lists_say_so_in_a_sentence_in_text() {
    let cab = Cab::new();
    for args in [
        vec!["queue"],
        vec!["queue", "--status", "all"],
        vec!["queue", "--status", "rejected"],
        vec!["exception", "list"],
        vec!["exception", "list", "--status", "active"],
    ] {
        let out = cab.run("x", "", &args).success().stdout;
        assert_eq!(out.lines().count(), 1, "{args:?}: {out}");
        assert!(out.trim_end().ends_with('.'), "{args:?}: {out}");
        assert!(!out.contains(" is all"), "{args:?}: {out}");
    }
}

#[test]
fn queue_text_lists_short_id_deployment_risk_status_and_requester() {
    let w = world();
    let text = w.cab.run("x", "", &["queue"]).success().stdout;
    for part in [
        &w.review[..8],
        "review",
        "60",
        "under_review",
        "alice",
        "exception_required",
    ] {
        assert!(text.contains(part), "{part:?} missing:\n{text}");
    }
    assert!(!text.contains(&w.auto[..8]), "{text}");
}

#[test]
fn show_prints_the_request_with_decision_exceptions_and_history() {
    let w = world();
    let r = w.cab.json("x", "", &["show", &w.conditional]);
    assert_request_shape(&r, true);
    assert_eq!(r["id"], json!(w.conditional));
    assert_eq!(r["status"], "conditional");
    assert_eq!(r["decision"]["conditions"], json!(["canary"]));
    let history = r["history"].as_array().expect("history is a list");
    assert_eq!(history.len(), 2, "submitted, then decided");
    for event in history {
        assert!(event.is_object());
        assert_utc(&event["at"]);
    }
    let seqs: Vec<u64> = history.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "history in order: {seqs:?}"
    );
}

#[test]
fn show_history_covers_every_event_about_the_request_in_order() {
    let cab = Cab::new();
    let (request, first) = cab.pending_exception("d", Some("1"));
    cab.submit_id("alice", "other", "60");
    cab.json(
        "sam",
        SEC,
        &["exception", "reject", &first, "--rationale", "no"],
    );
    let second = cab.exception("bob", &request, Some("1"));
    cab.json(
        "sam",
        SEC,
        &["exception", "approve", &second, "--rationale", "ok"],
    );
    let later = now_plus(Duration::days(2));
    cab.cmd(["cleanup"]).at(&later).run().success();
    let r = cab
        .cmd(["--json", "show", &request])
        .at(&later)
        .run()
        .success()
        .json();
    assert_request_shape(&r, true);
    let history = r["history"].as_array().unwrap();
    let seqs: Vec<u64> = history.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    // Event 3 is the other deployment's submission.
    assert_eq!(seqs, vec![1, 2, 4, 5, 6, 7]);
    let exceptions = r["exceptions"].as_array().unwrap();
    assert_eq!(exceptions.len(), 2);
    assert_eq!(exceptions[0]["status"], "rejected");
    assert_eq!(exceptions[1]["status"], "expired");
    assert_eq!(exceptions[1]["is_expired"], true);
}

#[test]
fn show_of_a_request_without_decision_has_decision_null() {
    let w = world();
    let r = w.cab.json("x", "", &["show", &w.review]);
    assert_eq!(r["decision"], Value::Null);
    assert_eq!(r["exceptions"], json!([]));
    assert_eq!(r["history"].as_array().unwrap().len(), 1);
}

#[test]
fn show_by_unique_prefix_of_8_or_more_characters() {
    let w = world();
    for n in [8, 9, 13, 20, 36] {
        let r = w.cab.json("x", "", &["show", &w.approved[..n]]);
        assert_eq!(r["id"], json!(w.approved), "prefix of {n}");
    }
    let upper = w.approved.to_uppercase();
    assert_eq!(
        w.cab.json("x", "", &["show", &upper])["id"],
        json!(w.approved)
    );
}

#[test]
fn show_with_a_short_unknown_or_ambiguous_id_exits_2() {
    let w = world();
    let f = w.cab.fails(2, "x", "", &["show", &w.review[..7]]);
    assert!(f.message.contains('8'), "{}", f.message);
    w.cab.fails(2, "x", "", &["show", ""]);
    let f = w.cab.fails(
        2,
        "x",
        "",
        &["show", "ffffffff-ffff-4fff-bfff-ffffffffffff"],
    );
    assert_eq!(f.code, "not_found");
    w.cab.fails(2, "x", "", &["show", "not-an-id-at-all"]);
    w.cab.fails(2, "x", "", &["show"]);

    let (a, b) = (w.auto.clone(), w.review.clone());
    w.cab.rewrite_store(&[
        (&a, "12345678-aaaa-4aaa-8aaa-aaaaaaaaaaaa"),
        (&b, "12345678-aaaa-4aaa-8aaa-bbbbbbbbbbbb"),
    ]);
    let f = w.cab.fails(2, "x", "", &["show", "12345678"]);
    assert!(f.message.contains("ambiguous"), "{}", f.message);
    let r = w.cab.json("x", "", &["show", "12345678-aaaa-4aaa-8aaa-b"]);
    assert_eq!(r["id"], "12345678-aaaa-4aaa-8aaa-bbbbbbbbbbbb");
}

#[test]
fn show_text_has_the_decision_the_exception_and_a_history_section() {
    let cab = Cab::new();
    let (request, x) = cab.active_exception("d", None);
    let text = cab.run("x", "", &["show", &request[..8]]).success().stdout;
    for part in [
        request.as_str(),
        &x,
        "exception_required",
        "hotfix for an outage",
        "extra monitoring",
        "sam",
        "controls suffice",
        "History",
    ] {
        assert!(text.contains(part), "{part:?} missing:\n{text}");
    }
}
