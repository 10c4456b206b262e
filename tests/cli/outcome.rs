//! `cab outcome`: how the deployment of an eligible request went, recorded once by anyone;
//! its JSON and text, the refusals (exit 4) and invalid input (exit 2) that write nothing, and
//! the outcome in `cab show`, the audit export and over a server.

use serde_json::{Value, json};

use crate::support::cli::*;

const CAB: &str = "cab_member";

/// An auto-approved request of alice's; its id.
fn deployed(cab: &Cab, deployment: &str) -> String {
    cab.submit_id("alice", deployment, "20")
}

fn outcome(cab: &Cab, user: &str, id: &str, extra: &[&str]) -> Value {
    let mut args = vec!["outcome", id];
    args.extend_from_slice(extra);
    cab.json(user, "", &args)
}

/// The outcome in a `cab show --json` document: its `outcome_recorded` history event's.
fn outcome_in_history(shown: &Value) -> Value {
    shown["history"]
        .as_array()
        .expect("show has a history")
        .iter()
        .find(|e| e["type"] == "outcome_recorded")
        .map(|e| e["data"]["outcome"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn outcome_prints_the_outcome_recorded_as_json() {
    let cab = Cab::new();
    let id = deployed(&cab, "web-7");
    let r = outcome(
        &cab,
        "olga",
        &id,
        &[
            "--result",
            "rolled_back",
            "--incident",
            "INC-4242",
            "--note",
            "p99 doubled",
        ],
    );
    let o = &r;
    assert_outcome_shape(o);
    let shown = cab.json("x", "", &["show", &id]);
    assert_eq!(
        shown["status"], "auto_approved",
        "an outcome changes no status"
    );
    assert_eq!(outcome_in_history(&shown), *o);
    assert_eq!(o["request_id"], json!(id));
    assert_eq!(o["deployment_intent_id"], "web-7");
    assert_eq!(o["result"], "rolled_back");
    assert_eq!(o["incident"], "INC-4242");
    assert_eq!(o["note"], "p99 doubled");
    assert_eq!(o["recorded_by"], "olga");
    assert_eq!(o["recorded_at"], NOW);
}

#[test]
fn outcome_without_incident_or_note_records_them_as_null() {
    let cab = Cab::new();
    let id = deployed(&cab, "web");
    let o = &outcome(&cab, "olga", &id[..8], &["--result", "success"]);
    assert_eq!(o["result"], "success");
    assert_eq!(o["incident"], Value::Null);
    assert_eq!(o["note"], Value::Null);
}

#[test]
fn a_request_view_keeps_exactly_the_contract_fields_once_an_outcome_is_recorded() {
    let cab = Cab::new();
    let id = deployed(&cab, "web");
    outcome(&cab, "olga", &id, &["--result", "success"]);
    let shown = cab.json("x", "", &["show", &id]);
    assert_request_shape(&shown, true);
    let listed = cab.json("x", "", &["queue", "--status", "all"]);
    assert_request_shape(&listed[0], false);
}

#[test]
fn outcome_text_says_what_was_recorded_for_which_request() {
    let cab = Cab::new();
    let id = deployed(&cab, "web-7");
    let run = cab
        .run(
            "olga",
            "",
            &[
                "outcome",
                &id,
                "--result",
                "failure",
                "--incident",
                "INC-9",
                "--note",
                "error budget gone",
            ],
        )
        .success();
    for part in [
        "Recorded outcome failure",
        &id,
        "web-7",
        "INC-9",
        "error budget gone",
        "olga",
    ] {
        assert!(
            run.stdout.contains(part),
            "{part:?} missing:\n{}",
            run.stdout
        );
    }
}

#[test]
fn approved_conditional_and_actively_excepted_requests_take_an_outcome() {
    let cab = Cab::new();
    let approved = cab.submit_id("alice", "a", "60");
    cab.json("carol", CAB, &["approve", &approved, "--rationale", "ok"]);
    let conditional = cab.submit_id("alice", "c", "60");
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
    let (excepted, _) = cab.active_exception("x", Some("7"));
    for id in [approved, conditional, excepted] {
        let r = outcome(&cab, "olga", &id, &["--result", "success"]);
        assert_eq!(r["result"], "success");
    }
}

#[test]
fn outcome_with_an_unknown_or_missing_result_exits_2_in_one_sentence() {
    let cab = Cab::new();
    let id = deployed(&cab, "web");
    for bad in ["ok", "Success", "rolled-back", ""] {
        let f = cab.fails(2, "olga", "", &["outcome", &id, "--result", bad]);
        assert_eq!(f.code, "usage", "{bad:?}: {}", f.message);
        assert!(
            f.message.contains("success, failure or rolled_back"),
            "{bad:?}: {}",
            f.message
        );
    }
    let f = cab.fails(2, "olga", "", &["outcome", &id]);
    assert!(f.message.contains("--result"), "{}", f.message);
}

#[test]
fn outcome_of_an_unknown_id_exits_2() {
    let cab = Cab::new();
    deployed(&cab, "web");
    let f = cab.fails(
        2,
        "olga",
        "",
        &[
            "outcome",
            "00000000-0000-4000-8000-000000000000",
            "--result",
            "success",
        ],
    );
    assert_eq!(f.code, "not_found");
}

#[test]
fn a_blank_incident_or_note_exits_2_naming_it() {
    let cab = Cab::new();
    let id = deployed(&cab, "web");
    let f = cab.fails(
        2,
        "olga",
        "",
        &["outcome", &id, "--result", "failure", "--incident", " "],
    );
    assert_eq!(f.code, "invalid_input");
    assert!(f.message.contains("incident"), "{}", f.message);
    let f = cab.fails(
        2,
        "olga",
        "",
        &["outcome", &id, "--result", "failure", "--note", ""],
    );
    assert!(f.message.contains("note"), "{}", f.message);
}

#[test]
fn outcome_of_a_request_under_review_exits_4_not_eligible() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "web", "60");
    let f = cab.fails(4, "olga", "", &["outcome", &id, "--result", "success"]);
    assert_eq!(f.code, "not_eligible");
    assert!(f.message.contains("under_review"), "{}", f.message);
}

#[test]
fn outcome_of_a_rejected_request_or_one_without_an_active_exception_exits_4() {
    let cab = Cab::new();
    let rejected = cab.submit_id("alice", "r", "60");
    cab.json("carol", CAB, &["reject", &rejected, "--rationale", "no"]);
    let (pending, _) = cab.pending_exception("p", None);
    for id in [rejected, pending] {
        let f = cab.fails(4, "olga", "", &["outcome", &id, "--result", "failure"]);
        assert_eq!(f.code, "not_eligible");
    }
}

#[test]
fn a_second_outcome_exits_4_naming_the_first() {
    let cab = Cab::new();
    let id = deployed(&cab, "web");
    outcome(&cab, "olga", &id, &["--result", "success"]);
    let f = cab.fails(
        4,
        "piet",
        "",
        &["outcome", &id, "--result", "failure", "--incident", "INC-1"],
    );
    assert_eq!(f.code, "outcome_recorded");
    for part in ["success", "olga", NOW] {
        assert!(f.message.contains(part), "{part:?}: {}", f.message);
    }
}

#[test]
fn the_requester_without_any_role_may_record_the_outcome() {
    let cab = Cab::new();
    let id = deployed(&cab, "web");
    let r = outcome(&cab, "alice", &id, &["--result", "success"]);
    assert_eq!(r["recorded_by"], "alice");
}

#[test]
fn show_prints_the_outcome_and_its_line_in_the_history() {
    let cab = Cab::new();
    let id = deployed(&cab, "web");
    outcome(
        &cab,
        "olga",
        &id,
        &[
            "--result",
            "failure",
            "--incident",
            "INC-77",
            "--note",
            "rolled forward",
        ],
    );
    let shown = cab.json("x", "", &["show", &id]);
    assert_request_shape(&shown, true);
    assert_eq!(outcome_in_history(&shown)["result"], "failure");
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["type"], "outcome_recorded");
    assert_eq!(history[1]["data"]["outcome"]["incident"], "INC-77");

    let text = cab.run("x", "", &["show", &id]).success().stdout;
    let block = text
        .split("\nOutcome")
        .nth(1)
        .unwrap_or_else(|| panic!("no Outcome block:\n{text}"));
    for part in ["failure", "INC-77", "rolled forward", "olga", NOW] {
        assert!(block.contains(part), "{part:?} missing:\n{text}");
    }
    assert!(
        text.contains("outcome failure (incident INC-77): rolled forward"),
        "the history line:\n{text}"
    );
}

#[test]
fn show_without_an_outcome_says_none_is_recorded_only_for_an_eligible_request() {
    let cab = Cab::new();
    let id = deployed(&cab, "web");
    let text = cab.run("x", "", &["show", &id]).success().stdout;
    assert!(text.contains("No outcome recorded yet"), "{text}");
    let review = cab.submit_id("alice", "r", "60");
    let text = cab.run("x", "", &["show", &review]).success().stdout;
    assert!(!text.contains("outcome"), "{text}");
}

#[test]
fn outcome_and_show_text_never_write_control_characters_from_the_note() {
    let cab = Cab::new();
    let id = deployed(&cab, "web");
    let hostile = "ok\u{1b}[2J\u{202e}evil\u{7}";
    let run = cab
        .run(
            "olga",
            "",
            &[
                "outcome",
                &id,
                "--result",
                "failure",
                "--incident",
                "INC\u{1b}]0;x\u{7}",
                "--note",
                hostile,
            ],
        )
        .success();
    assert_terminal_safe("cab outcome", &run.stdout);
    let shown = cab.run("x", "", &["show", &id]).success().stdout;
    assert_terminal_safe("cab show", &shown);
    // JSON keeps the exact text.
    let r = cab.json("x", "", &["show", &id]);
    assert_eq!(outcome_in_history(&r)["note"], hostile);
}

#[test]
fn audit_export_lists_the_outcome_in_jsonl_and_csv_with_its_incident() {
    let cab = Cab::new();
    let id = deployed(&cab, "web");
    outcome(
        &cab,
        "olga",
        &id,
        &[
            "--result",
            "rolled_back",
            "--incident",
            "=INC-5",
            "--note",
            "reverted",
        ],
    );
    let jsonl = cab.run("x", "", &["audit", "export"]).success().stdout;
    let records: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "{jsonl}");
    let r = &records[1];
    assert_eq!(r["kind"], "outcome");
    assert_eq!(r["outcome"], "rolled_back");
    assert_eq!(r["actor"], "olga");
    assert_eq!(r["rationale"], "reverted");
    assert_eq!(r["incident"], "=INC-5");
    assert_eq!(r["request_id"], json!(id));
    assert_eq!(r["deployment_intent_id"], "web");
    assert_eq!(records[0]["incident"], Value::Null);

    let csv = cab
        .run("x", "", &["audit", "export", "--format", "csv"])
        .success()
        .stdout;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.last(), Some(&"incident"), "{csv}");
    let row = lines
        .nth(1)
        .unwrap_or_else(|| panic!("no outcome row:\n{csv}"));
    assert!(row.contains(",outcome,"), "{row}");
    assert!(
        row.contains("rolled_back") && row.contains("reverted"),
        "{row}"
    );
    assert!(
        row.ends_with(",'=INC-5"),
        "the incident, last, cannot start a formula: {row}"
    );
}

#[test]
fn a_store_with_outcomes_verifies() {
    let cab = Cab::new();
    let id = deployed(&cab, "web");
    outcome(&cab, "olga", &id, &["--result", "success"]);
    let v = cab.json("x", "", &["verify"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["events"], 2);
}

#[test]
fn outcome_over_a_server_records_once_and_maps_refusals_to_the_same_exit_codes() {
    use crate::support::remote::{Server, stderr};
    let server = Server::start();
    let id = id_of(&server.json(
        "dana",
        &[
            "submit",
            "--deployment",
            "web",
            "--evidence",
            "EP-1",
            "--risk",
            "20",
        ],
    ));
    let r = server.json(
        "erin",
        &[
            "outcome",
            &id[..8],
            "--result",
            "failure",
            "--incident",
            "INC-3",
            "--note",
            "paged",
        ],
    );
    assert_outcome_shape(&r);
    assert_eq!(r["result"], "failure");
    assert_eq!(r["recorded_by"], "erin", "identity from the token");
    assert_eq!(r["incident"], "INC-3");

    let again = server.run("dana", &["outcome", &id, "--result", "success"]);
    assert_eq!(again.status.code(), Some(4), "{}", stderr(&again));
    assert!(stderr(&again).contains("erin"), "{}", stderr(&again));
    let review = id_of(&server.json(
        "dana",
        &[
            "submit",
            "--deployment",
            "api",
            "--evidence",
            "EP-2",
            "--risk",
            "60",
        ],
    ));
    let refused = server.run("dana", &["outcome", &review, "--result", "success"]);
    assert_eq!(refused.status.code(), Some(4), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("under_review"),
        "{}",
        stderr(&refused)
    );
    let unknown = server.run(
        "dana",
        &[
            "outcome",
            "00000000-0000-4000-8000-000000000000",
            "--result",
            "success",
        ],
    );
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    let shown = server.json("dana", &["show", &id]);
    assert_eq!(shown["outcome"], r["outcome"]);
}
