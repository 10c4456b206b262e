//! `cab exception create / approve / reject / list`: time-limited exceptions for high-risk
//! requests, their expiry, the security reviewer's rules, and the list filters.

use chrono::Duration;
use serde_json::{Value, json};

use crate::support::cli::*;

const SEC: &str = "security_reviewer";

fn create_args<'a>(request: &'a str, days: Option<&'a str>) -> Vec<&'a str> {
    let mut args = vec![
        "exception",
        "create",
        request,
        "--justification",
        "outage fix",
        "--control",
        "canary",
    ];
    if let Some(d) = days {
        args.extend(["--days", d]);
    }
    args
}

fn list(cab: &Cab, status: Option<&str>) -> Vec<Value> {
    let mut args = vec!["exception", "list"];
    if let Some(s) = status {
        args.extend(["--status", s]);
    }
    cab.json("anyone", "", &args)
        .as_array()
        .unwrap_or_else(|| panic!("exception list is not a JSON array"))
        .clone()
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter().map(id_of).collect()
}

#[test]
fn create_prints_an_exception_with_exactly_the_spec_fields_expiring_in_30_days() {
    let cab = Cab::new();
    let request = cab.submit_id("alice", "d", "90");
    let e = cab.json(
        "bob",
        "",
        &[
            "exception",
            "create",
            &request,
            "--justification",
            "card payments are down",
            "--control",
            "feature flag off switch",
            "--control",
            "extra on-call",
        ],
    );
    assert_exception_shape(&e);
    assert_eq!(e["request_id"], json!(request));
    assert_eq!(e["deployment_intent_id"], "d");
    assert_eq!(e["justification"], "card payments are down");
    assert_eq!(
        e["compensating_controls"],
        json!(["feature flag off switch", "extra on-call"])
    );
    assert_eq!(e["requested_by"], "bob");
    assert_eq!(e["requested_at"], NOW);
    assert_eq!(e["expires_at"], now_plus(Duration::days(30)));
    assert_eq!(e["status"], "pending");
    assert_eq!(e["reviewed_by"], Value::Null);
    assert_eq!(e["reviewed_at"], Value::Null);
    assert_eq!(e["review_rationale"], Value::Null);
    assert_eq!(e["is_active"], false);
    assert_eq!(e["is_expired"], false);
}

#[test]
fn days_1_and_90_set_expires_at_that_many_days_after_requested_at() {
    let cab = Cab::new();
    for days in [1i64, 7, 90] {
        let request = cab.submit_id("alice", &format!("d{days}"), "90");
        let e = cab.json("bob", "", &create_args(&request, Some(&days.to_string())));
        assert_eq!(
            e["expires_at"],
            now_plus(Duration::days(days)),
            "--days {days}"
        );
    }
}

#[test]
fn days_0_91_negative_fractional_or_not_a_number_exit_2() {
    let cab = Cab::new();
    let request = cab.submit_id("alice", "d", "90");
    for days in ["0", "91", "-1", "1.5", "abc", "", "1e1"] {
        let f = cab.fails(2, "bob", "", &create_args(&request, Some(days)));
        assert!(
            f.message.contains("90") || f.message.contains("days"),
            "--days {days:?}: {}",
            f.message
        );
    }
    assert_eq!(list(&cab, None), Vec::<Value>::new());
}

#[test]
fn no_control_empty_control_or_empty_justification_exit_2() {
    let cab = Cab::new();
    let request = cab.submit_id("alice", "d", "90");
    cab.fails(
        2,
        "bob",
        "",
        &["exception", "create", &request, "--justification", "why"],
    );
    cab.fails(
        2,
        "bob",
        "",
        &[
            "exception",
            "create",
            &request,
            "--justification",
            "why",
            "--control",
            "",
        ],
    );
    cab.fails(
        2,
        "bob",
        "",
        &[
            "exception",
            "create",
            &request,
            "--justification",
            " ",
            "--control",
            "c",
        ],
    );
    cab.fails(
        2,
        "bob",
        "",
        &["exception", "create", &request, "--control", "c"],
    );
}

#[test]
fn an_exception_for_a_request_not_in_exception_required_exits_4() {
    let cab = Cab::new();
    let review = cab.submit_id("alice", "d1", "60");
    let auto = cab.submit_id("alice", "d2", "10");
    let approved = cab.submit_id("alice", "d3", "60");
    cab.json(
        "carol",
        "cab_member",
        &["approve", &approved, "--rationale", "ok"],
    );
    for request in [&review, &auto, &approved] {
        let f = cab.fails(4, "bob", "", &create_args(request, None));
        assert!(f.message.contains("exception_required"), "{}", f.message);
    }
}

#[test]
fn a_second_exception_while_one_is_pending_or_active_exits_4_naming_it() {
    let cab = Cab::new();
    let (request, first) = cab.pending_exception("d", None);
    let f = cab.fails(4, "bob", "", &create_args(&request, None));
    assert!(f.message.contains(&first[..8]), "{}", f.message);
    cab.json(
        "sam",
        SEC,
        &["exception", "approve", &first, "--rationale", "ok"],
    );
    let f = cab.fails(4, "bob", "", &create_args(&request, None));
    assert!(f.message.contains(&first[..8]), "{}", f.message);
}

#[test]
fn after_a_rejection_or_expiry_a_new_exception_can_be_requested() {
    let cab = Cab::new();
    let (request, first) = cab.pending_exception("d", Some("1"));
    cab.json(
        "sam",
        SEC,
        &["exception", "reject", &first, "--rationale", "too risky"],
    );
    let second = cab.exception("bob", &request, Some("1"));
    assert_ne!(second, first);
    // Two days later the second has expired unreviewed: a third may be requested.
    let later = now_plus(Duration::days(2));
    let third = cab
        .cmd(["--json"])
        .args_all(&create_args(&request, None))
        .at(&later)
        .run()
        .success()
        .json();
    assert_eq!(third["requested_at"], later);
}

#[test]
fn create_by_unique_prefix_finds_the_request() {
    let cab = Cab::new();
    let request = cab.submit_id("alice", "d", "90");
    let e = cab.json("bob", "", &create_args(&request[..8], None));
    assert_eq!(e["request_id"], json!(request));
}

#[test]
fn create_for_an_unknown_or_too_short_id_exits_2() {
    let cab = Cab::new();
    let request = cab.submit_id("alice", "d", "90");
    cab.fails(2, "bob", "", &create_args("ffffffff", None));
    cab.fails(2, "bob", "", &create_args(&request[..5], None));
}

#[test]
fn approve_by_a_security_reviewer_makes_it_active_with_review_fields() {
    let cab = Cab::new();
    let (_, exception) = cab.pending_exception("d", None);
    let e = cab.json(
        "sam",
        SEC,
        &[
            "exception",
            "approve",
            &exception,
            "--rationale",
            "controls are adequate",
        ],
    );
    assert_exception_shape(&e);
    assert_eq!(e["status"], "approved");
    assert_eq!(e["is_active"], true);
    assert_eq!(e["is_expired"], false);
    assert_eq!(e["reviewed_by"], "sam");
    assert_eq!(e["reviewed_at"], NOW);
    assert_eq!(e["review_rationale"], "controls are adequate");
}

#[test]
fn reject_by_a_security_reviewer_records_the_rejection() {
    let cab = Cab::new();
    let (_, exception) = cab.pending_exception("d", None);
    let e = cab.json(
        "sam",
        SEC,
        &[
            "exception",
            "reject",
            &exception,
            "--rationale",
            "not justified",
        ],
    );
    assert_exception_shape(&e);
    assert_eq!(e["status"], "rejected");
    assert_eq!(e["is_active"], false);
    assert_eq!(e["reviewed_by"], "sam");
    assert_eq!(e["review_rationale"], "not justified");
}

#[test]
fn approve_and_reject_accept_a_unique_8_character_prefix() {
    let cab = Cab::new();
    let (_, a) = cab.pending_exception("d1", None);
    let (_, b) = cab.pending_exception("d2", None);
    let e = cab.json(
        "sam",
        SEC,
        &["exception", "approve", &a[..8], "--rationale", "ok"],
    );
    assert_eq!(e["id"], json!(a));
    let e = cab.json(
        "sam",
        SEC,
        &["exception", "reject", &b[..8], "--rationale", "no"],
    );
    assert_eq!(e["id"], json!(b));
}

#[test]
fn exception_review_with_unknown_short_or_ambiguous_id_exits_2() {
    let cab = Cab::new();
    let (_, a) = cab.pending_exception("d1", None);
    let (_, b) = cab.pending_exception("d2", None);
    cab.fails(
        2,
        "sam",
        SEC,
        &["exception", "approve", "ffffffff", "--rationale", "ok"],
    );
    cab.fails(
        2,
        "sam",
        SEC,
        &["exception", "reject", &a[..7], "--rationale", "ok"],
    );
    let (a2, b2) = (
        "fedcba98-7654-4321-8abc-00000000000a",
        "fedcba98-7654-4321-8abc-00000000000b",
    );
    cab.rewrite_store(&[(&a, a2), (&b, b2)]);
    let f = cab.fails(
        2,
        "sam",
        SEC,
        &["exception", "approve", "fedcba98", "--rationale", "ok"],
    );
    assert!(f.message.contains("ambiguous"), "{}", f.message);
    cab.fails(
        2,
        "sam",
        SEC,
        &["exception", "reject", "fedcba98-76", "--rationale", "ok"],
    );
    let e = cab.json(
        "sam",
        SEC,
        &["exception", "approve", a2, "--rationale", "ok"],
    );
    assert_eq!(e["id"], a2);
}

#[test]
fn reviewing_without_the_security_reviewer_role_exits_4_naming_the_role() {
    let cab = Cab::new();
    let (_, exception) = cab.pending_exception("d", None);
    for roles in ["", "cab_member"] {
        let f = cab.fails(
            4,
            "sam",
            roles,
            &["exception", "approve", &exception, "--rationale", "ok"],
        );
        assert_eq!(f.code, "missing_role");
        assert!(f.message.contains("security_reviewer"), "{}", f.message);
        cab.fails(
            4,
            "sam",
            roles,
            &["exception", "reject", &exception, "--rationale", "no"],
        );
    }
}

#[test]
fn the_exception_requester_cannot_review_it_separation_of_duties_exit_4() {
    let cab = Cab::new();
    let request = cab.submit_id("alice", "d", "90");
    let exception = cab.exception("sam", &request, None);
    let f = cab.fails(
        4,
        "sam",
        SEC,
        &["exception", "approve", &exception, "--rationale", "ok"],
    );
    assert_eq!(f.code, "separation_of_duties");
    cab.fails(
        4,
        "sam",
        SEC,
        &["exception", "reject", &exception, "--rationale", "no"],
    );
}

#[test]
fn the_request_submitter_cannot_review_its_exception_separation_of_duties_exit_4() {
    let cab = Cab::new();
    let request = cab.submit_id("sam", "d", "90");
    let exception = cab.exception("bob", &request, None);
    let f = cab.fails(
        4,
        "sam",
        SEC,
        &["exception", "approve", &exception, "--rationale", "ok"],
    );
    assert_eq!(f.code, "separation_of_duties");
    assert!(f.message.contains("separation of duties"), "{}", f.message);
}

#[test]
fn reviewing_twice_exits_4_naming_the_first_reviewer() {
    let cab = Cab::new();
    let (_, exception) = cab.pending_exception("d", None);
    cab.json(
        "sam",
        SEC,
        &["exception", "approve", &exception, "--rationale", "ok"],
    );
    let f = cab.fails(
        4,
        "tia",
        SEC,
        &["exception", "reject", &exception, "--rationale", "no"],
    );
    assert!(f.message.contains("sam"), "{}", f.message);
    cab.fails(
        4,
        "tia",
        SEC,
        &["exception", "approve", &exception, "--rationale", "ok"],
    );
}

#[test]
fn approving_an_expired_exception_exits_4_exactly_at_its_expiry() {
    let cab = Cab::new();
    let (_, exception) = cab.pending_exception("d", Some("1"));
    let at_expiry = now_plus(Duration::days(1));
    let f = cab.fails_call(4, || {
        cab.cmd(["exception", "approve", &exception, "--rationale", "late"])
            .user("sam", SEC)
            .at(&at_expiry)
    });
    assert_eq!(f.code, "exception_expired");
    assert!(f.message.contains("expired"), "{}", f.message);
    // A second before expiry it can still be approved.
    let just_before = now_plus(Duration::days(1) - Duration::seconds(1));
    let e = cab
        .cmd([
            "--json",
            "exception",
            "approve",
            &exception,
            "--rationale",
            "in time",
        ])
        .user("sam", SEC)
        .at(&just_before)
        .run()
        .success()
        .json();
    assert_eq!(e["status"], "approved");
    assert_eq!(e["is_active"], true);
}

#[test]
fn an_exception_past_expiry_is_reported_expired_without_cleanup() {
    let cab = Cab::new();
    let (_, exception) = cab.active_exception("d", Some("2"));
    let later = now_plus(Duration::days(3));
    let listed = cab
        .cmd(["--json", "exception", "list"])
        .at(&later)
        .run()
        .success()
        .json();
    let e = &listed[0];
    assert_eq!(e["id"], json!(exception));
    assert_eq!(e["status"], "expired");
    assert_eq!(e["is_active"], false);
    assert_eq!(e["is_expired"], true);
    // ...and still approved and active at NOW.
    let now_list = list(&cab, None);
    assert_eq!(now_list[0]["status"], "approved");
    assert_eq!(now_list[0]["is_active"], true);
}

#[test]
fn exception_list_filters_by_each_status_and_active() {
    let cab = Cab::new();
    let (_, pending) = cab.pending_exception("d1", None);
    let (_, active) = cab.active_exception("d2", None);
    let (_, rejected) = cab.pending_exception("d3", None);
    cab.json(
        "sam",
        SEC,
        &["exception", "reject", &rejected, "--rationale", "no"],
    );
    let (_, expired) = cab.active_exception("d4", Some("1"));

    // Two days later: the one-day exception has expired; the others have 30 days.
    let later = now_plus(Duration::days(2));
    let at = |status: Option<&str>| -> Vec<String> {
        let mut c = cab.cmd(["--json", "exception", "list"]).at(&later);
        if let Some(s) = status {
            c = c.arg("--status").arg(s);
        }
        let v = c.run().success().json();
        let items = v.as_array().expect("a JSON array").clone();
        for e in &items {
            assert_exception_shape(e);
        }
        ids(&items)
    };
    assert_eq!(
        at(None),
        vec![
            pending.clone(),
            active.clone(),
            rejected.clone(),
            expired.clone()
        ]
    );
    assert_eq!(at(Some("pending")), vec![pending.clone()]);
    assert_eq!(at(Some("approved")), vec![active.clone()]);
    assert_eq!(at(Some("active")), vec![active.clone()]);
    assert_eq!(at(Some("rejected")), vec![rejected.clone()]);
    assert_eq!(at(Some("expired")), vec![expired.clone()]);
}

#[test]
fn exception_list_with_an_unknown_status_exits_2() {
    let cab = Cab::new();
    cab.pending_exception("d", None);
    for status in ["open", "PENDING", ""] {
        let f = cab.fails(2, "x", "", &["exception", "list", "--status", status]);
        assert!(!f.message.is_empty());
    }
}

#[test]
fn exception_list_on_an_empty_store_is_an_empty_array_and_creates_nothing() {
    let cab = Cab::new();
    assert_eq!(list(&cab, None), Vec::<Value>::new());
    assert_eq!(list(&cab, Some("active")), Vec::<Value>::new());
    assert!(cab.store_bytes().is_none());
}

#[test]
fn exception_list_text_shows_short_ids_statuses_and_reviewers() {
    let cab = Cab::new();
    let (_, active) = cab.active_exception("d1", None);
    let (_, pending) = cab.pending_exception("d2", None);
    let run = cab.run("x", "", &["exception", "list"]).success();
    for part in [
        &active[..8],
        &pending[..8],
        "active",
        "pending",
        "sam",
        "d1",
        "d2",
    ] {
        assert!(
            run.stdout.contains(part),
            "{part:?} missing:\n{}",
            run.stdout
        );
    }
}

#[test]
fn the_request_shows_its_exceptions_oldest_first() {
    let cab = Cab::new();
    let (request, first) = cab.pending_exception("d", None);
    cab.json(
        "sam",
        SEC,
        &["exception", "reject", &first, "--rationale", "no"],
    );
    let second = cab.exception("bob", &request, None);
    let r = cab.json("x", "", &["show", &request]);
    assert_eq!(
        ids(r["exceptions"].as_array().unwrap()),
        vec![first, second]
    );
    assert_eq!(r["exceptions"][0]["status"], "rejected");
    assert_eq!(r["exceptions"][1]["status"], "pending");
}

/// Helper so a test can prepend flags and then pass a slice of arguments.
trait ArgsAll {
    fn args_all(self, args: &[&str]) -> Self;
}

impl ArgsAll for Call {
    fn args_all(mut self, args: &[&str]) -> Self {
        for a in args {
            self = self.arg(a);
        }
        self
    }
}
