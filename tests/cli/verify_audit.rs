//! `cab verify`, `cab cleanup` and `cab audit export`: the store's integrity from the command
//! line, recorded expiries, and the audit trail as JSON lines and CSV, with --since.

use chrono::Duration;
use serde_json::Value;

use crate::support::cli::*;

const CAB: &str = "cab_member";
const SEC: &str = "security_reviewer";

/// A store with every kind of audit record: an automatic decision, a manual decision, an
/// exception request, a review and (after a day) a recorded expiry.
/// Returns the time the cleanup ran.
fn full_history(cab: &Cab) -> String {
    cab.submit_id("alice", "auto", "10"); // 1: auto decision
    let review = cab.submit_id("alice", "review", "60"); // 2: no audit record
    cab.json(
        "carol",
        CAB,
        &[
            "approve",
            &review,
            "--rationale",
            "fine",
            "--condition",
            "canary",
            "--condition",
            "pager",
        ],
    ); // 3
    let (_, x) = cab.pending_exception("risky", Some("1")); // 4 submit, 5 exception requested
    cab.json(
        "sam",
        SEC,
        &["exception", "approve", &x, "--rationale", "controls ok"],
    ); // 6
    let later = now_plus(Duration::days(2));
    cab.cmd(["cleanup"]).at(&later).run().success(); // 7
    later
}

fn audit_jsonl(cab: &Cab, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "export"];
    args.extend_from_slice(extra);
    let run = cab.run("auditor", "", &args).success();
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn verify_reports_ok_with_event_count_and_head_hash() {
    let cab = Cab::new();
    full_history(&cab);
    let v = cab.json("x", "", &["verify"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["events"], 7);
    assert_eq!(v["requests"], 3);
    assert_eq!(v["exceptions"], 1);
    let head = v["head_hash"].as_str().unwrap();
    assert_eq!(head.len(), 64);
    let text = cab.run("x", "", &["verify"]).success().stdout;
    assert!(text.contains(head), "{text}");
}

#[test]
fn verify_of_a_store_with_one_edited_line_exits_1_naming_the_line() {
    let cab = Cab::new();
    full_history(&cab);
    let text = String::from_utf8(cab.store_bytes().unwrap()).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[2] = lines[2].replace("\"fine\"", "\"FINE\"");
    cab.write_store(format!("{}\n", lines.join("\n")).as_bytes());
    let f = cab.fails(1, "x", "", &["verify"]);
    assert!(f.message.contains("line 3"), "{}", f.message);
    let run = cab.run("x", "", &["--json", "verify"]);
    assert_eq!(run.json()["error"]["line"], 3);
}

#[test]
fn verify_of_a_store_with_a_deleted_line_exits_1() {
    let cab = Cab::new();
    full_history(&cab);
    let text = String::from_utf8(cab.store_bytes().unwrap()).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| l)
        .collect();
    cab.write_store(format!("{}\n", kept.join("\n")).as_bytes());
    let f = cab.fails(1, "x", "", &["verify"]);
    assert!(f.message.contains("line 2"), "{}", f.message);
}

#[test]
fn a_store_that_fails_verification_is_not_written_to_by_any_command() {
    let cab = Cab::new();
    let (request, x) = cab.pending_exception("d", None);
    let review = cab.submit_id("alice", "r", "60");
    let text = String::from_utf8(cab.store_bytes().unwrap()).unwrap();
    cab.write_store(
        text.replacen("hotfix for an outage", "hotfix for an outagE", 1)
            .as_bytes(),
    );
    cab.fails(
        1,
        "alice",
        "",
        &[
            "submit",
            "--deployment",
            "n",
            "--evidence",
            "e",
            "--risk",
            "5",
        ],
    );
    cab.fails(1, "carol", CAB, &["approve", &review, "--rationale", "ok"]);
    cab.fails(1, "carol", CAB, &["reject", &review, "--rationale", "no"]);
    cab.fails(
        1,
        "sam",
        SEC,
        &["exception", "approve", &x, "--rationale", "ok"],
    );
    cab.fails(
        1,
        "sam",
        SEC,
        &["exception", "reject", &x, "--rationale", "no"],
    );
    cab.fails(
        1,
        "bob",
        "",
        &[
            "exception",
            "create",
            &request,
            "--justification",
            "j",
            "--control",
            "c",
        ],
    );
    cab.fails_call(1, || cab.cmd(["cleanup"]).at(&now_plus(Duration::days(40))));
    cab.fails(1, "x", "", &["queue"]);
    cab.fails(1, "x", "", &["show", &request]);
    cab.fails(1, "x", "", &["exception", "list"]);
    cab.fails(1, "x", "", &["audit", "export"]);
}

#[test]
fn verify_of_a_missing_store_exits_1_and_creates_nothing() {
    let cab = Cab::new();
    cab.fails(1, "x", "", &["verify"]);
    assert!(cab.store_bytes().is_none());
}

#[test]
fn cleanup_records_each_expiry_once_and_reports_how_many() {
    let cab = Cab::new();
    cab.active_exception("d1", Some("1"));
    cab.pending_exception("d2", Some("1"));
    cab.active_exception("d3", Some("30"));
    let (_, rejected) = cab.pending_exception("d4", Some("1"));
    cab.json(
        "sam",
        SEC,
        &["exception", "reject", &rejected, "--rationale", "no"],
    );

    // Before anything expired: nothing recorded, nothing written.
    let before = cab.store_bytes();
    let v = cab.json("ops", "", &["cleanup"]);
    assert_eq!(v["recorded"], 0);
    assert_eq!(cab.store_bytes(), before);

    let later = now_plus(Duration::days(2));
    let v = cab
        .cmd(["--json", "cleanup"])
        .at(&later)
        .run()
        .success()
        .json();
    assert_eq!(v["recorded"], 2, "{v}");
    let reported = v["exceptions"].as_array().unwrap();
    assert_eq!(reported.len(), 2);
    for e in reported {
        assert_exception_shape(e);
        assert_eq!(e["status"], "expired");
    }
    let lines = |b: &Option<Vec<u8>>| b.as_ref().unwrap().iter().filter(|c| **c == b'\n').count();
    assert_eq!(lines(&cab.store_bytes()), lines(&before) + 2);

    // Again: nothing more to record, and nothing written.
    let after = cab.store_bytes();
    let v = cab
        .cmd(["--json", "cleanup"])
        .at(&later)
        .run()
        .success()
        .json();
    assert_eq!(v["recorded"], 0);
    assert_eq!(cab.store_bytes(), after);
    let text = cab.cmd(["cleanup"]).at(&later).run().success().stdout;
    assert!(text.contains("nothing"), "{text}");
}

#[test]
fn cleanup_text_says_how_many_it_recorded() {
    let cab = Cab::new();
    let (_, x) = cab.active_exception("d1", Some("1"));
    let later = now_plus(Duration::days(1));
    let text = cab.cmd(["cleanup"]).at(&later).run().success().stdout;
    assert!(text.contains('1') && text.contains(&x[..8]), "{text}");
}

#[test]
fn audit_jsonl_has_decisions_including_auto_exception_requests_reviews_and_expiries() {
    let cab = Cab::new();
    let later = full_history(&cab);
    let records = audit_jsonl(&cab, &[]);
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "decision",
            "decision",
            "exception_requested",
            "exception_review",
            "exception_expired"
        ]
    );
    let outcomes: Vec<&str> = records
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        vec![
            "auto_approved",
            "conditional",
            "pending",
            "approved",
            "expired"
        ]
    );
    assert_eq!(records[0]["actor"], "system");
    assert_eq!(records[1]["actor"], "carol");
    assert_eq!(records[1]["rationale"], "fine");
    assert_eq!(
        records[1]["conditions"],
        serde_json::json!(["canary", "pager"])
    );
    assert_eq!(records[2]["actor"], "bob");
    assert_eq!(
        records[2]["compensating_controls"],
        serde_json::json!(["extra monitoring"])
    );
    assert_eq!(records[3]["actor"], "sam");
    assert_eq!(records[3]["rationale"], "controls ok");
    assert_eq!(records[4]["at"], later);
    for r in &records {
        assert_utc(&r["at"]);
        assert_uuid_v4(&r["request_id"]);
        assert_eq!(r["event_hash"].as_str().unwrap().len(), 64);
    }
}

#[test]
fn audit_record_hashes_are_the_hashes_of_store_lines() {
    let cab = Cab::new();
    full_history(&cab);
    let store = String::from_utf8(cab.store_bytes().unwrap()).unwrap();
    for r in audit_jsonl(&cab, &[]) {
        let seq = r["seq"].as_u64().unwrap() as usize;
        let line: Value = serde_json::from_str(store.lines().nth(seq - 1).unwrap()).unwrap();
        assert_eq!(r["event_hash"], line["hash"]);
    }
}

#[test]
fn audit_csv_has_a_header_and_one_row_per_record() {
    let cab = Cab::new();
    full_history(&cab);
    let text = cab
        .run("auditor", "", &["audit", "export", "--format", "csv"])
        .success()
        .stdout;
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    for column in [
        "seq",
        "at",
        "kind",
        "request_id",
        "actor",
        "outcome",
        "rationale",
        "event_hash",
    ] {
        assert!(
            header.split(',').any(|h| h == column),
            "{column} missing: {header}"
        );
    }
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 5, "{text}");
    assert!(rows[0].contains("auto_approved") && rows[0].contains("system"));
    assert!(rows[1].contains("canary; pager"), "{}", rows[1]);
    assert!(rows[4].contains("exception_expired"));
}

#[test]
fn audit_jsonl_is_the_default_and_equals_format_jsonl() {
    let cab = Cab::new();
    full_history(&cab);
    let a = cab.run("x", "", &["audit", "export"]).success().stdout;
    let b = cab
        .run("x", "", &["audit", "export", "--format", "jsonl"])
        .success()
        .stdout;
    assert_eq!(a, b);
}

#[test]
fn audit_since_keeps_records_at_or_after_an_rfc3339_time() {
    let cab = Cab::new();
    cab.submit_id("alice", "early", "10");
    let noon = now_plus(Duration::hours(3));
    cab.cmd([
        "submit",
        "--deployment",
        "late",
        "--evidence",
        "e",
        "--risk",
        "20",
    ])
    .at(&noon)
    .run()
    .success();
    assert_eq!(audit_jsonl(&cab, &[]).len(), 2);
    let at = audit_jsonl(&cab, &["--since", &noon]);
    assert_eq!(at.len(), 1);
    assert_eq!(at[0]["deployment_intent_id"], "late");
    let just_after = now_plus(Duration::hours(3) + Duration::seconds(1));
    assert_eq!(audit_jsonl(&cab, &["--since", &just_after]).len(), 0);
    assert_eq!(
        audit_jsonl(&cab, &["--since", "2026-11-28T10:00:00+01:00"]).len(),
        2
    );
}

#[test]
fn audit_since_accepts_a_date_as_midnight_utc() {
    let cab = Cab::new();
    cab.submit_id("alice", "first", "10");
    cab.cmd([
        "submit",
        "--deployment",
        "next-day",
        "--evidence",
        "e",
        "--risk",
        "20",
    ])
    .at("2026-11-29T00:00:00Z")
    .run()
    .success();
    let records = audit_jsonl(&cab, &["--since", "2026-11-29"]);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["deployment_intent_id"], "next-day");
    assert_eq!(audit_jsonl(&cab, &["--since", "2026-11-28"]).len(), 2);
    let csv = cab
        .run(
            "x",
            "",
            &[
                "audit",
                "export",
                "--format",
                "csv",
                "--since",
                "2026-11-29",
            ],
        )
        .success()
        .stdout;
    assert_eq!(csv.lines().count(), 2, "header and one row: {csv}");
}

#[test]
fn audit_with_an_invalid_since_or_format_exits_2() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "10");
    for since in ["yesterday", "2026-13-01", "2026-11-28 09:00", ""] {
        cab.fails(2, "x", "", &["audit", "export", "--since", since]);
    }
    cab.fails(2, "x", "", &["audit", "export", "--format", "xml"]);
    cab.fails(2, "x", "", &["audit", "export", "--format", "json"]);
}

#[test]
fn audit_of_an_empty_or_missing_store_is_empty() {
    let cab = Cab::new();
    assert_eq!(cab.run("x", "", &["audit", "export"]).success().stdout, "");
    let csv = cab
        .run("x", "", &["audit", "export", "--format", "csv"])
        .success()
        .stdout;
    assert_eq!(csv.lines().count(), 1, "only the header: {csv}");
    assert!(cab.store_bytes().is_none());
}

#[test]
fn audit_csv_neutralises_cells_that_would_start_a_spreadsheet_formula() {
    let cab = Cab::new();
    let hostile = [
        "=HYPERLINK(\"http://x\")",
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "\tx",
        "\r=1",
    ];
    for (i, text) in hostile.iter().enumerate() {
        let id = cab.submit_id("alice", &format!("=cmd|' /C calc'!A{i}"), "60");
        cab.run(
            "carol",
            "cab_member",
            &["reject", &id, &format!("--rationale={text}")],
        )
        .success();
    }
    let csv = cab
        .run("auditor", "", &["audit", "export", "--format", "csv"])
        .success()
        .stdout;
    let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let mut cells = 0;
    for row in reader.records() {
        for cell in row.unwrap().iter() {
            cells += 1;
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell starts a formula: {cell:?}"
            );
        }
    }
    assert!(cells > 0);
    assert!(
        csv.contains("'=cmd|"),
        "the deployment is kept, quoted: {csv}"
    );
    assert!(csv.contains("'+1+1"), "{csv}");
    // JSON lines keep the exact text.
    let jsonl = audit_jsonl(&cab, &[]);
    assert!(
        jsonl
            .iter()
            .any(|r| r["rationale"] == "=HYPERLINK(\"http://x\")")
    );
}

#[test]
fn a_clock_past_the_year_9000_is_invalid_input_and_writes_nothing() {
    let cab = Cab::new();
    let request = cab.submit_id("alice", "ledger-r1", "90");
    let before = cab.store_bytes();
    for now in ["9999-12-31T23:59:59Z", "1999-12-31T23:59:59Z"] {
        let run = cab
            .cmd([
                "exception",
                "create",
                &request,
                "--justification",
                "fix",
                "--control",
                "watch",
                "--days",
                "90",
            ])
            .at(now)
            .run();
        run.assert_code(2);
        assert!(run.stderr.contains("2000 to 9000"), "{}", run.stderr);
    }
    assert_eq!(cab.store_bytes(), before, "nothing was written");
    cab.run("alice", "", &["verify"]).success();
}

#[test]
fn an_exception_that_would_expire_after_the_year_9000_is_refused_and_late_ones_read_back() {
    let cab = Cab::new();
    let late = "9000-12-31T23:59:59Z";
    let id = id_of(
        &cab.cmd([
            "--json",
            "submit",
            "--deployment",
            "d",
            "--evidence",
            "e",
            "--risk",
            "90",
        ])
        .at("9000-06-01T00:00:00Z")
        .run()
        .success()
        .json(),
    );
    let create = |days: &str, now: &str| {
        cab.cmd([
            "exception",
            "create",
            &id,
            "--justification",
            "fix",
            "--control",
            "watch",
            "--days",
            days,
        ])
        .at(now)
        .run()
    };
    let before = cab.store_bytes();
    let refused = create("90", late);
    refused.assert_code(2);
    assert!(
        refused.stderr.contains("after the year 9000"),
        "{}",
        refused.stderr
    );
    assert_eq!(cab.store_bytes(), before, "nothing was written");
    create("90", "9000-07-01T00:00:00Z").success();
    cab.run("alice", "", &["verify"]).success();
    cab.run("alice", "", &["exception", "list"]).success();
}
