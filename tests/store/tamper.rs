//! Tampering with the store file is caught by `cab verify` at the right line, and a store that
//! fails verification is neither read nor written. Also: a refused or invalid command leaves the
//! store's bytes exactly as they were, and creates no store where there was none.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::support::store::*;

/// A fresh fixture store (8 lines, every event type) in its own folder.
fn fixture_store() -> (TempDir, PathBuf, Fixture) {
    let dir = tempfile::tempdir().expect("a temp folder");
    let store = dir.path().join("store.jsonl");
    let fixture = fixture(&store);
    assert_eq!(split_lines(&read(&store)).len(), fixture.events as usize);
    (dir, store, fixture)
}

/// Rewrite the store as `edit` makes it from its lines.
fn tamper(store: &Path, edit: impl FnOnce(&mut Vec<Vec<u8>>)) {
    let mut lines = split_lines(&read(store));
    edit(&mut lines);
    write(store, &lines.concat());
}

/// `cab verify` fails with exit 1 naming `line`, in text and in JSON.
fn assert_verify_fails_at(store: &Path, line: u64, reason: &str) {
    let text = cab_run(store, "alice", "requester", &["verify"]);
    text.expect_code(1, "cab verify on a tampered store");
    assert!(
        text.stderr
            .contains(&format!("fails verification at line {line}:")),
        "the message names line {line}: {text:#?}"
    );
    assert!(
        text.stderr.contains(reason),
        "the message says why ({reason:?}): {text:#?}"
    );

    let json = cab_run(store, "alice", "requester", &["--json", "verify"]);
    json.expect_code(1, "cab --json verify on a tampered store");
    let body = json.json();
    assert_eq!(body["error"]["code"], "store_corrupt", "{json:#?}");
    assert_eq!(body["error"]["line"], line, "{json:#?}");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(
        message.contains(&format!("line {line}")),
        "the JSON message names the line: {message}"
    );
}

#[test]
fn the_untouched_fixture_verifies() {
    // The baseline every tampering test starts from: without it, a failing verify proves nothing.
    let (_dir, store, fixture) = fixture_store();
    let ran = cab_run(&store, "alice", "requester", &["--json", "verify"]);
    ran.expect_code(0, "cab verify on an intact store");
    let body = ran.json();
    assert_eq!(body["ok"], true);
    assert_eq!(body["events"], fixture.events);
    assert_eq!(body["torn_tail"], serde_json::Value::Null);
}

#[test]
fn editing_one_byte_of_a_lines_data_fails_verify_at_that_line() {
    let (_dir, store, _) = fixture_store();
    // Still valid JSON, still a plausible event: only the hash can tell.
    tamper(&store, |lines| {
        lines[4] = replace_once(&lines[4], "\"risk_score\":90", "\"risk_score\":30");
    });
    assert_verify_fails_at(&store, 5, "does not match its hash");
}

#[test]
fn editing_one_byte_of_the_first_line_fails_verify_at_line_1() {
    let (_dir, store, _) = fixture_store();
    tamper(&store, |lines| {
        lines[0] = replace_once(&lines[0], "change one", "change onE");
    });
    assert_verify_fails_at(&store, 1, "does not match its hash");
}

#[test]
fn deleting_a_line_fails_verify_at_its_position() {
    let (_dir, store, _) = fixture_store();
    tamper(&store, |lines| {
        lines.remove(2); // the decision
    });
    assert_verify_fails_at(&store, 3, "sequence number 4 where 3 was expected");
}

#[test]
fn deleting_the_first_line_fails_verify_at_line_1() {
    let (_dir, store, _) = fixture_store();
    tamper(&store, |lines| {
        lines.remove(0);
    });
    assert_verify_fails_at(&store, 1, "sequence number 2 where 1 was expected");
}

#[test]
fn inserting_a_copy_of_another_line_fails_verify_at_the_inserted_line() {
    let (_dir, store, _) = fixture_store();
    tamper(&store, |lines| {
        let copy = lines[0].clone();
        lines.insert(5, copy);
    });
    assert_verify_fails_at(&store, 6, "sequence number 1 where 6 was expected");
}

#[test]
fn inserting_a_forged_line_with_the_right_seq_prev_and_hash_fails_verify_at_the_line_after_it() {
    let (_dir, store, _) = fixture_store();
    // A forger who copies line 4, gives it seq 5 and line 4's hash as prev, and hashes it
    // correctly: the forged line itself checks out, the original line 5 (now line 6) does not.
    tamper(&store, |lines| {
        let line4: serde_json::Value = serde_json::from_slice(&lines[3]).expect("JSON");
        let hash4 = line4["hash"].as_str().expect("a hash").to_string();
        let prev4 = line4["prev"].as_str().expect("a prev").to_string();
        let forged = replace_once(&lines[3], "{\"v\":1,\"seq\":4,", "{\"v\":1,\"seq\":5,");
        let forged = replace_once(
            &forged,
            &format!("\"prev\":\"{prev4}\""),
            &format!("\"prev\":\"{hash4}\""),
        );
        // A different request id, so that the forged event is valid on its own.
        let id = line4["data"]["request"]["id"].as_str().expect("an id");
        let forged = String::from_utf8(forged)
            .expect("UTF-8")
            .replace(id, "00000000-0000-4000-8000-000000000000");
        let forged = forged.into_bytes();
        lines.insert(4, rehash(&forged));
    });
    assert_verify_fails_at(&store, 6, "sequence number 5 where 6 was expected");
}

#[test]
fn duplicating_a_line_fails_verify_at_the_copy() {
    let (_dir, store, _) = fixture_store();
    tamper(&store, |lines| {
        let copy = lines[3].clone();
        lines.insert(4, copy);
    });
    assert_verify_fails_at(&store, 5, "sequence number 4 where 5 was expected");
}

#[test]
fn duplicating_the_last_line_fails_verify_at_the_copy() {
    let (_dir, store, fixture) = fixture_store();
    tamper(&store, |lines| {
        let copy = lines[lines.len() - 1].clone();
        lines.push(copy);
    });
    let n = fixture.events;
    assert_verify_fails_at(
        &store,
        n + 1,
        &format!("sequence number {n} where {} was expected", n + 1),
    );
}

#[test]
fn swapping_two_lines_fails_verify_at_the_first_swapped_position() {
    let (_dir, store, _) = fixture_store();
    tamper(&store, |lines| lines.swap(3, 4));
    assert_verify_fails_at(&store, 4, "sequence number 5 where 4 was expected");
}

#[test]
fn swapping_two_lines_and_renumbering_them_fails_verify_on_the_chain() {
    let (_dir, store, _) = fixture_store();
    // Reordered with seq rewritten and each line rehashed: only the prev links can tell.
    tamper(&store, |lines| {
        lines.swap(3, 4);
        let a = replace_once(&lines[3], "\"seq\":5,", "\"seq\":4,");
        let b = replace_once(&lines[4], "\"seq\":4,", "\"seq\":5,");
        lines[3] = rehash(&a);
        lines[4] = rehash(&b);
    });
    assert_verify_fails_at(&store, 4, "previous-hash does not match");
}

#[test]
fn editing_a_line_and_recomputing_its_own_hash_fails_verify_at_the_next_line() {
    let (_dir, store, _) = fixture_store();
    tamper(&store, |lines| {
        let edited = replace_once(&lines[2], "looks fine", "looks FINE");
        lines[2] = rehash(&edited);
    });
    // Line 3 is self-consistent now; line 4's prev still names the original line 3.
    assert_verify_fails_at(&store, 4, "previous-hash does not match");
}

#[test]
fn inserting_a_blank_line_fails_verify_at_that_line() {
    let (_dir, store, _) = fixture_store();
    tamper(&store, |lines| lines.insert(6, b"\n".to_vec()));
    assert_verify_fails_at(&store, 7, "empty");
}

#[test]
fn joining_two_lines_fails_verify_at_the_joined_line() {
    let (_dir, store, _) = fixture_store();
    tamper(&store, |lines| {
        lines[1].pop(); // line 2 loses its '\n' and runs into line 3
    });
    assert_verify_fails_at(&store, 2, "does not match its hash");
}

/// Commands that would write, each with a valid target in the fixture.
fn write_commands(f: &Fixture) -> Vec<(&'static str, &'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        (
            "bob",
            "requester",
            s(&[
                "submit",
                "--deployment",
                "new-r1",
                "--evidence",
                "E",
                "--risk",
                "60",
            ]),
        ),
        (
            "carol",
            "cab_member",
            s(&["approve", &f.pending, "--rationale", "ok"]),
        ),
        (
            "carol",
            "cab_member",
            s(&["reject", &f.pending, "--rationale", "no"]),
        ),
        ("alice", "requester", s(&["cleanup"])),
        (
            "olga",
            "",
            s(&["outcome", &f.approved, "--result", "success"]),
        ),
    ]
}

/// Commands that only read.
fn read_commands(f: &Fixture) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        s(&["queue"]),
        s(&["queue", "--status", "all"]),
        s(&["show", &f.pending]),
        s(&["exception", "list"]),
        s(&["status", "payments-api-r1"]),
        s(&["gate", "payments-api-r1"]),
        s(&["audit", "export"]),
    ]
}

#[test]
fn a_tampered_store_refuses_every_write_and_keeps_its_bytes() {
    let (_dir, store, fixture) = fixture_store();
    tamper(&store, |lines| {
        lines[5] = replace_once(&lines[5], "extra on-call", "extra on-cal!");
    });
    let before = read(&store);
    for (user, roles, args) in write_commands(&fixture) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = cab_run(&store, user, roles, &args);
        ran.expect_code(1, &format!("cab {args:?} on a tampered store"));
        assert!(
            ran.stderr.contains("fails verification at line 6"),
            "the refusal names the broken line: {ran:#?}"
        );
        assert_eq!(
            read(&store),
            before,
            "cab {args:?} changed a store that fails verification"
        );
    }
    assert!(
        quarantine_files(&store).is_empty(),
        "nothing was quarantined"
    );
}

#[test]
fn a_tampered_store_fails_every_read_command() {
    let (_dir, store, fixture) = fixture_store();
    // Far from the deployment that status and gate ask about: they must still check the chain.
    tamper(&store, |lines| {
        lines[7] = replace_once(&lines[7], "change eight", "change EIGHT");
    });
    let before = read(&store);
    for args in read_commands(&fixture) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = cab_run(&store, "carol", "cab_member", &args);
        ran.expect_code(1, &format!("cab {args:?} on a tampered store"));
        assert!(
            ran.stderr.contains("fails verification at line 8"),
            "cab {args:?} names the broken line: {ran:#?}"
        );
    }
    assert_eq!(read(&store), before);
}

// ---- A refused or invalid command writes nothing ----

/// Run `args` and check it exits with `code` and leaves every file in the folder as it was.
fn assert_writes_nothing(store: &Path, user: &str, roles: &str, args: &[&str], code: i32) -> Ran {
    let dir = store.parent().expect("a folder");
    let files_before = dir_entries(dir);
    let before = std::fs::read(store).ok();
    let ran = cab_run(store, user, roles, args);
    ran.expect_code(code, &format!("cab {args:?}"));
    assert_eq!(
        std::fs::read(store).ok(),
        before,
        "cab {args:?} changed the store"
    );
    assert_eq!(
        dir_entries(dir),
        files_before,
        "cab {args:?} created or removed a file beside the store"
    );
    ran
}

#[test]
fn an_invalid_risk_score_writes_nothing() {
    let (_dir, store, _) = fixture_store();
    for risk in ["-0.01", "100.01", "NaN", "inf", "-inf", "abc", "", "1e400"] {
        let ran = assert_writes_nothing(
            &store,
            "bob",
            "requester",
            &[
                "--json",
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                risk,
            ],
            2,
        );
        assert!(ran.json()["error"]["code"].is_string(), "{ran:#?}");
    }
}

#[test]
fn approving_without_the_cab_member_role_writes_nothing() {
    let (_dir, store, f) = fixture_store();
    for roles in ["requester", "security_reviewer", ""] {
        let ran = assert_writes_nothing(
            &store,
            "dave",
            roles,
            &["approve", &f.pending, "--rationale", "ok"],
            4,
        );
        assert!(
            ran.stderr.contains("cab_member"),
            "names the role: {ran:#?}"
        );
    }
}

#[test]
fn deciding_your_own_request_writes_nothing() {
    let (_dir, store, f) = fixture_store();
    assert_writes_nothing(
        &store,
        f.requester,
        "cab_member",
        &["approve", &f.pending, "--rationale", "mine"],
        4,
    );
    assert_writes_nothing(
        &store,
        f.requester,
        "cab_member",
        &["reject", &f.pending, "--rationale", "mine"],
        4,
    );
}

#[test]
fn deciding_an_already_decided_request_writes_nothing() {
    let (_dir, store, f) = fixture_store();
    for id in [&f.approved, &f.auto] {
        let ran = assert_writes_nothing(
            &store,
            "dave",
            "cab_member",
            &["reject", id, "--rationale", "too late"],
            4,
        );
        assert!(ran.stderr.contains("already decided"), "{ran:#?}");
    }
}

#[test]
fn other_refused_or_invalid_commands_write_nothing() {
    let (_dir, store, f) = fixture_store();
    let cases: Vec<(&str, &str, Vec<&str>, i32)> = vec![
        // A high-risk request needs an exception, not a CAB decision.
        (
            "dave",
            "cab_member",
            vec!["approve", &f.high, "--rationale", "ok"],
            4,
        ),
        // An empty rationale.
        (
            "dave",
            "cab_member",
            vec!["approve", &f.pending, "--rationale", ""],
            2,
        ),
        // An unknown id.
        (
            "dave",
            "cab_member",
            vec![
                "approve",
                "ffffffff-ffff-4fff-bfff-ffffffffffff",
                "--rationale",
                "ok",
            ],
            2,
        ),
        // An exception for a request that does not need one.
        (
            "alice",
            "requester",
            vec![
                "exception",
                "create",
                &f.pending,
                "--justification",
                "j",
                "--control",
                "c",
            ],
            4,
        ),
        // A second exception while one is active.
        (
            "alice",
            "requester",
            vec![
                "exception",
                "create",
                &f.high,
                "--justification",
                "j",
                "--control",
                "c",
            ],
            4,
        ),
        // An empty evidence package id.
        (
            "alice",
            "requester",
            vec![
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "",
                "--risk",
                "10",
            ],
            2,
        ),
        // Cleanup with nothing to expire writes nothing either.
        ("alice", "requester", vec!["cleanup"], 0),
    ];
    for (user, roles, args, code) in cases {
        assert_writes_nothing(&store, user, roles, &args, code);
    }
}

#[test]
fn a_refused_command_on_a_missing_store_creates_no_file_or_folder() {
    let dir = tempfile::tempdir().expect("a temp folder");
    let store = dir.path().join("not-yet").join("store.jsonl");
    let fake = "ffffffff-ffff-4fff-bfff-ffffffffffff";
    let cases: Vec<(&str, &str, Vec<&str>, i32)> = vec![
        (
            "bob",
            "requester",
            vec![
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                "101",
            ],
            2,
        ),
        (
            "bob",
            "requester",
            vec![
                "submit",
                "--deployment",
                "",
                "--evidence",
                "e",
                "--risk",
                "10",
            ],
            2,
        ),
        (
            "carol",
            "cab_member",
            vec!["approve", fake, "--rationale", "ok"],
            2,
        ),
        (
            "carol",
            "requester",
            vec!["reject", fake, "--rationale", "no"],
            2,
        ),
        (
            "alice",
            "requester",
            vec![
                "exception",
                "create",
                fake,
                "--justification",
                "j",
                "--control",
                "c",
            ],
            2,
        ),
        ("alice", "requester", vec!["cleanup"], 0),
        ("alice", "requester", vec!["queue"], 0),
        ("alice", "requester", vec!["gate", "d"], 3),
        ("alice", "requester", vec!["verify"], 1),
    ];
    for (user, roles, args, code) in cases {
        let ran = cab_run(&store, user, roles, &args);
        ran.expect_code(code, &format!("cab {args:?} on a missing store"));
        assert!(
            !store.parent().expect("a folder").exists(),
            "cab {args:?} created the store's folder"
        );
        assert!(!store.exists(), "cab {args:?} created the store");
    }
    assert!(dir_entries(dir.path()).is_empty(), "nothing was created");
}

// ----- verify re-judges the rules (SPEC section 2): well-chained lines that break a rule -----

/// Edit line `line` (1-based) as text, then re-chain it and every line after it.
fn forge(store: &Path, line: usize, edit: impl FnOnce(String) -> String) {
    tamper(store, |lines| {
        let mut text: Vec<String> = lines
            .iter()
            .map(|l| String::from_utf8(l.strip_suffix(b"\n").unwrap_or(l).to_vec()).unwrap())
            .collect();
        text[line - 1] = edit(std::mem::take(&mut text[line - 1]));
        crate::support::rechain_lines(&mut text, line);
        *lines = text
            .into_iter()
            .map(|l| format!("{l}\n").into_bytes())
            .collect();
    });
}

#[test]
fn a_rechained_decision_by_the_requester_fails_verify_naming_separation_of_duties() {
    let (_dir, store, _) = fixture_store();
    forge(&store, 3, |l| {
        l.replace("\"actor\":\"carol\"", "\"actor\":\"alice\"")
            .replace("\"approver\":\"carol\"", "\"approver\":\"alice\"")
    });
    assert_verify_fails_at(&store, 3, "separation_of_duties");
}

#[test]
fn a_risk_90_request_recorded_as_auto_approved_fails_verify_and_status_refuses_to_call_it_eligible()
{
    let (_dir, store, _) = fixture_store();
    forge(&store, 5, |l| {
        l.replace(
            "\"gate\":\"exception_required\"",
            "\"gate\":\"auto_approved\"",
        )
        .replace(
            "\"status\":\"exception_required\"",
            "\"status\":\"auto_approved\"",
        )
    });
    assert_verify_fails_at(&store, 5, "gate");
    let status = cab_run(&store, "alice", "requester", &["status", "ledger-r1"]);
    status.expect_code(1, "cab status on a store whose gate was forged");
    assert!(status.stderr.contains("line 5"), "{status:#?}");
    let gate = cab_run(&store, "alice", "requester", &["gate", "ledger-r1"]);
    gate.expect_code(1, "cab gate never says eligible on a forged record");
}

#[test]
fn a_rechained_decision_naming_another_deployment_fails_verify_naming_the_field() {
    let (_dir, store, _) = fixture_store();
    forge(&store, 3, |l| {
        l.replacen("\"payments-api-r2\"", "\"payments-api-r9\"", 1)
    });
    assert_verify_fails_at(&store, 3, "deployment_intent_id");
}

#[test]
fn a_rechained_review_of_an_expired_exception_fails_verify_naming_the_expiry_rule() {
    let (_dir, store, _) = fixture_store();
    // The exception (line 6) expires 30 days after NOW; its review is moved past that.
    forge(&store, 7, |l| {
        l.replace(
            &format!("\"at\":\"{NOW}\""),
            "\"at\":\"2027-01-05T09:00:00Z\"",
        )
        .replace(
            &format!("\"reviewed_at\":\"{NOW}\""),
            "\"reviewed_at\":\"2027-01-05T09:00:00Z\"",
        )
    });
    assert_verify_fails_at(&store, 7, "exception_expired");
}

#[test]
fn a_rechained_exception_of_400_days_fails_verify_naming_expiry_days() {
    let (_dir, store, _) = fixture_store();
    forge(&store, 6, |l| {
        l.replace(
            "\"expires_at\":\"2026-12-28T09:00:00Z\"",
            "\"expires_at\":\"2028-01-02T09:00:00Z\"",
        )
    });
    assert_verify_fails_at(&store, 6, "expiry_days");
}

#[test]
fn a_rechained_line_with_a_plus_00_00_time_fails_verify_as_not_canonical() {
    let (_dir, store, _) = fixture_store();
    forge(&store, 8, |l| {
        l.replacen(
            &format!("\"at\":\"{NOW}\""),
            "\"at\":\"2026-11-28T09:00:00+00:00\"",
            1,
        )
    });
    assert_verify_fails_at(&store, 8, "canonical");
}

#[test]
fn a_rechained_line_with_a_raw_bidi_override_fails_verify_as_not_canonical() {
    let (_dir, store, _) = fixture_store();
    forge(&store, 8, |l| {
        l.replace("change eight", "change \u{202E}eight")
    });
    assert_verify_fails_at(&store, 8, "canonical");
}

#[test]
fn the_forging_helper_alone_keeps_a_store_that_verifies() {
    // Without this, the forged-line tests could be failing for the re-chaining, not the rule.
    let (_dir, store, _) = fixture_store();
    forge(&store, 3, |l| l);
    cab_run(&store, "alice", "requester", &["verify"]).expect_code(0, "re-chained as it was");
}

// ----- outcomes (SPEC section 6): re-judged like every other event -----

/// The fixture with a 9th line: olga's outcome (failure, INC-7) of the approved request.
fn store_with_outcome() -> (TempDir, PathBuf, Fixture) {
    use cab::backend::Backend;
    let (dir, store, fixture) = fixture_store();
    backend(&store, "olga", &[])
        .record_outcome(
            &fixture.approved,
            cab::engine::OutcomeResult::Failure,
            Some("INC-7"),
            Some("p99 doubled"),
        )
        .expect("outcome 9");
    cab_run(&store, "alice", "requester", &["verify"]).expect_code(0, "the store with an outcome");
    (dir, store, fixture)
}

/// The `correlation_id` of line `line` (1-based).
fn correlation_of(store: &Path, line: usize) -> String {
    let lines = split_lines(&read(store));
    let event: serde_json::Value = serde_json::from_slice(&lines[line - 1]).expect("JSON");
    event["correlation_id"]
        .as_str()
        .expect("a correlation id")
        .to_string()
}

#[test]
fn an_outcome_line_whose_result_was_edited_fails_verify_at_that_line() {
    let (_dir, store, _) = store_with_outcome();
    tamper(&store, |lines| {
        lines[8] = replace_once(
            &lines[8],
            "\"result\":\"failure\"",
            "\"result\":\"success\"",
        );
    });
    assert_verify_fails_at(&store, 9, "does not match its hash");
}

#[test]
fn a_rechained_outcome_of_a_request_under_review_fails_verify_naming_not_eligible() {
    let (_dir, store, f) = store_with_outcome();
    let (approved, pending) = (correlation_of(&store, 2), correlation_of(&store, 1));
    // Re-pointed at the pending request, its deployment and correlation id included, so that
    // only the rule can tell.
    forge(&store, 9, |l| {
        l.replace(&f.approved, &f.pending)
            .replace("\"payments-api-r2\"", "\"payments-api-r1\"")
            .replace(&approved, &pending)
    });
    assert_verify_fails_at(&store, 9, "not_eligible");
}

#[test]
fn a_rechained_second_outcome_fails_verify_naming_outcome_recorded() {
    let (_dir, store, _) = store_with_outcome();
    tamper(&store, |lines| {
        let mut text: Vec<String> = lines
            .iter()
            .map(|l| String::from_utf8(l.strip_suffix(b"\n").unwrap_or(l).to_vec()).unwrap())
            .collect();
        // A copy of the outcome with seq 10, another id and another result.
        let event: serde_json::Value = serde_json::from_str(&text[8]).expect("JSON");
        let id = event["data"]["outcome"]["id"]
            .as_str()
            .expect("an id")
            .to_string();
        let copy = text[8]
            .replace("\"seq\":9", "\"seq\":10")
            .replace(&id, "00000000-0000-4000-8000-00000000000a")
            .replace("\"result\":\"failure\"", "\"result\":\"success\"");
        text.push(copy);
        crate::support::rechain_lines(&mut text, 10);
        *lines = text
            .into_iter()
            .map(|l| format!("{l}\n").into_bytes())
            .collect();
    });
    assert_verify_fails_at(&store, 10, "outcome_recorded");
}

#[test]
fn a_rechained_outcome_dated_before_the_decision_fails_verify_naming_before_record() {
    let (_dir, store, _) = store_with_outcome();
    forge(&store, 9, |l| {
        l.replace(
            &format!("\"at\":\"{NOW}\""),
            "\"at\":\"2026-11-28T08:00:00Z\"",
        )
        .replace(
            &format!("\"recorded_at\":\"{NOW}\""),
            "\"recorded_at\":\"2026-11-28T08:00:00Z\"",
        )
    });
    assert_verify_fails_at(&store, 9, "before_record");
}
