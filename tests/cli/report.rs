//! `cab report` end to end: the same JSON object from a local store, `GET /v1/report` and
//! `cab --remote`; text within 80 columns, CSV a spreadsheet can open, one self-contained HTML
//! file; `--out`; and every bad value refused with exit 2 before anything is read.

use chrono::Duration;
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

use cab::backend::Backend;
use cab::engine::OutcomeResult;

use crate::support::cli::*;
use crate::support::remote::{Server, World};

const SCRIPT: &str = "<script>alert(1)</script>";
const FORMULA: &str = "=SUM(1+2)*cmd|' /C calc'!A0";
const LONG: &str = "a-very-long-approver-name-that-goes-on-and-on-well-past-any-column";

/// A demo store at NOW, plus decisions by a hostile, a formula and a long-named CAB member,
/// a hostile factor name, and outcomes (two failures at least, two successes at least) so
/// that every part of the report has something in it. Reports read it one hour later, so
/// that what happened at NOW falls inside the default period.
fn busy() -> Cab {
    let cab = Cab::new();
    cab.json("demo", "", &["demo", "--requests", "400"]);
    for approver in [SCRIPT, FORMULA, LONG] {
        let id = id_of(&cab.json(
            "alice",
            "",
            &[
                "submit",
                "--deployment",
                "payments-api",
                "--evidence",
                "EP-9",
                "--risk",
                "60",
                "--factor",
                &format!("{SCRIPT}=3"),
            ],
        ));
        cab.json(
            approver,
            "cab_member",
            &["approve", &id, "--rationale", "reviewed"],
        );
    }
    record_outcomes(&cab);
    cab
}

/// Outcomes for ten more requests that may have one (the demo records some already),
/// failures and successes in turn, through the library.
fn record_outcomes(cab: &Cab) {
    let eligible = cab.json("x", "", &["queue", "--status", "all"]);
    let backend = crate::support::store::backend(cab.store(), "olga", &[]);
    let ids = eligible
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| matches!(r["status"].as_str(), Some("auto_approved" | "approved")))
        .map(id_of);
    let mut recorded = 0;
    for id in ids {
        let result = match recorded % 3 {
            0 => OutcomeResult::Failure,
            1 => OutcomeResult::RolledBack,
            _ => OutcomeResult::Success,
        };
        match backend.record_outcome(&id, result, None, None) {
            Ok(_) => recorded += 1,
            Err(cab::backend::BackendError::Engine(e)) if e.code() == "outcome_recorded" => {}
            Err(e) => panic!("recording an outcome of {id}: {e}"),
        }
        if recorded == 10 {
            return;
        }
    }
    panic!("only {recorded} requests could take an outcome");
}

fn later() -> String {
    now_plus(Duration::hours(1))
}

/// `cab report ARGS` one hour after NOW; the run, which must succeed.
fn report(cab: &Cab, args: &[&str]) -> Run {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    cab.cmd(&all).at(&later()).run().success()
}

#[test]
fn report_json_is_the_same_object_locally_from_get_v1_report_and_with_remote() {
    let world = World::new();
    let store = world.store().display().to_string();
    let demo = ["--store", &store, "--json", "demo", "--requests", "300"];
    let out = world.plain(&demo).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let server = Server::start_on(world);
    let local = |args: &[&str]| -> Value {
        let mut all = vec!["report"];
        all.extend_from_slice(args);
        server.world().local_json_at(NOW, "dana", &all)
    };
    let cases: [(&[&str], &str); 3] = [
        (&[], ""),
        (
            &[
                "--since",
                "2026-10-01T00:00:00Z",
                "--until",
                "2026-11-28T10:00:00Z",
                "--by",
                "week",
                "--what-if-auto-max",
                "60",
                "--what-if-review-max",
                "80",
            ],
            "?since=2026-10-01T00:00:00Z&until=2026-11-28T10:00:00Z&by=week&what_if_auto_max=60&what_if_review_max=80",
        ),
        (
            &["--format", "json", "--what-if-review-max", "90"],
            "?what_if_review_max=90",
        ),
    ];
    for (args, query) in cases {
        let here = local(args);
        assert!(
            here["requests"]["submitted"].as_u64().unwrap() > 0,
            "{here}"
        );
        let reply = server.http("GET", &format!("/v1/report{query}"), Some("erin"), None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(
            reply.body, here,
            "GET /v1/report{query} differs from the local report"
        );
        let mut remote_args = vec!["report"];
        remote_args.extend_from_slice(args);
        let remote = server.json("dana", &remote_args);
        assert_eq!(remote, here, "cab --remote report {args:?} differs");
    }
    // The server refuses what the command line refuses, and the client says so with exit 2.
    let out = server.run("dana", &["report", "--what-if-auto-max", "120"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn text_report_of_a_busy_store_fits_80_columns_names_every_section_and_is_terminal_safe() {
    let cab = busy();
    let text = report(&cab, &["--what-if-auto-max", "60"]).stdout;
    for line in text.lines() {
        assert!(line.width() <= 80, "{} columns: {line:?}", line.width());
    }
    for section in [
        "CAB report: ",
        "Requests submitted",
        "Decisions",
        "Lead time",
        "Periods, by month",
        "Decisions per month",
        "Pending at 2026-11-28T10:00:00Z",
        "Exceptions",
        "Approvers",
        "Outcomes",
        "Failure rate by risk band",
        "Calibration",
        "What if: auto-approve up to 60, manual review up to 75",
    ] {
        assert!(text.contains(section), "no {section:?} in\n{text}");
    }
    assert!(text.contains('█') && text.contains(SCRIPT), "{text}");
    assert!(!text.contains("null"), "{text}");
    assert!(
        text.contains("risk score AUC"),
        "calibration is drawn:\n{text}"
    );
    assert_terminal_safe("cab report", &text);
}

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn csv_report_has_four_cells_in_every_row_and_neutralises_a_formula_in_an_approver_name() {
    let cab = busy();
    let text = report(&cab, &["--format", "csv"]).stdout;
    let rows = parse_csv(&text);
    assert_eq!(rows[0], ["section", "item", "field", "value"]);
    assert!(rows.iter().all(|r| r.len() == 4), "{text}");
    let approvers: Vec<&str> = rows
        .iter()
        .filter(|r| r[0] == "approvers")
        .map(|r| r[1].as_str())
        .collect();
    assert!(
        approvers.contains(&format!("'{FORMULA}").as_str()),
        "{approvers:?}"
    );
    assert!(!approvers.contains(&FORMULA), "{approvers:?}");
    for cell in rows.iter().flatten() {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{cell:?} starts a formula"
        );
    }
    // The figures are those of the JSON object.
    let json = report(&cab, &["--json"]).json();
    let submitted = rows
        .iter()
        .find(|r| r[0] == "requests" && r[2] == "submitted")
        .unwrap();
    assert_eq!(submitted[3], json["requests"]["submitted"].to_string());
}

#[test]
fn html_report_fetches_nothing_draws_svg_charts_and_escapes_hostile_names() {
    let cab = busy();
    let html = report(&cab, &["--format", "html"]).stdout;
    assert!(html.starts_with("<!DOCTYPE html>"), "{html:.200}");
    let lower = html.to_ascii_lowercase();
    for network in ["http://", "https://", "src=", "url(", "@import", "<link"] {
        assert!(!lower.contains(network), "{network} in the HTML");
    }
    for href in lower.split("href=\"").skip(1) {
        assert!(href.starts_with('#'), "a link out of the page: {href:.40}");
    }
    assert!(lower.contains("<svg") && lower.contains("@media print"));
    assert!(
        !lower.contains("<script"),
        "a name from the store was not escaped"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("Every manual decision was made by a CAB member other than"));
}

#[test]
fn out_writes_the_file_whole_and_prints_one_line_saying_where() {
    let cab = busy();
    let printed = report(&cab, &["--format", "html"]).stdout;
    let path = cab.dir().join("reports").join("cab.html");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "an older report").unwrap();
    let run = report(&cab, &["--format", "html", "--out", path.to_str().unwrap()]);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(
        run.stdout.starts_with("Wrote the html report for ")
            && run.stdout.trim_end().ends_with(path.to_str().unwrap()),
        "{}",
        run.stdout
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), printed);
    let left: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "no temporary file is left: {left:?}");
    // JSON to a file: the file is the object, stdout the one line.
    let json_path = cab.dir().join("report.json");
    let run = report(&cab, &["--json", "--out", json_path.to_str().unwrap()]);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    let written: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(written, report(&cab, &["--json"]).json());
}

#[test]
fn out_to_a_folder_that_does_not_exist_fails_with_exit_1_and_one_sentence() {
    let cab = Cab::new();
    cab.submit_id("alice", "payments-api", "60");
    let missing = cab.dir().join("no-such-folder").join("r.html");
    let run = cab
        .cmd([
            "report",
            "--format",
            "html",
            "--out",
            missing.to_str().unwrap(),
        ])
        .run();
    run.assert_code(1);
    assert!(
        run.error_line().contains("no-such-folder"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn bad_report_values_are_refused_with_exit_2_and_nothing_written() {
    let cab = Cab::new();
    cab.submit_id("alice", "payments-api", "60");
    let cases: &[(&[&str], &str)] = &[
        (&["report", "--since", "yesterday"], "--since"),
        (&["report", "--until", "2026-13-01"], "--until"),
        (
            &["report", "--since", "2026-11-28", "--until", "2026-11-01"],
            "start before it ends",
        ),
        (&["report", "--since", "2026-12-01"], "start before it ends"),
        (&["report", "--what-if-auto-max", "120"], "0 to 100"),
        (
            &["report", "--what-if-auto-max", "lots"],
            "--what-if-auto-max",
        ),
        // Below the configured auto-approve maximum (50), which it keeps.
        (
            &["report", "--what-if-review-max", "40"],
            "must not be above",
        ),
        (&["report", "--by", "day"], "day"),
        (&["report", "--format", "pdf"], "pdf"),
    ];
    for (args, says) in cases {
        let failure = cab.fails(2, "alice", "", args).line;
        assert!(failure.contains(says), "{args:?}: {failure}");
    }
    // `--json` is `--format json`: with another format it is a contradiction.
    let run = cab.cmd(["--json", "report", "--format", "html"]).run();
    run.assert_code(2);
    assert!(
        run.error_line().contains("--json means --format json"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["error"]["code"], "invalid_input");
}
