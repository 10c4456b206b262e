//! `--at TIME`: every read command answers as of a moment exactly as the same command does,
//! with the clock at that moment, on a copy of the store cut after the last line dated at or
//! before it; exceptions that had expired by then without cleanup are expired; write commands
//! and bad times are invalid input and write nothing.

use serde_json::Value;

use crate::support::cli::*;

const CAB: &str = "cab_member";
const SEC: &str = "security_reviewer";

/// A store built with the clock stepping forward: the ids of what it holds.
struct History {
    cab: Cab,
    requests: Vec<String>,
    /// Approved for two days at 2026-11-01T12:00:00Z, never cleaned up.
    lapsed: String,
    /// Approved for one day, expired, and cleaned up on 2026-11-08.
    cleaned: String,
    deployments: Vec<&'static str>,
}

fn at(cab: &Cab, now: &str, user: &str, roles: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    cab.cmd(&all)
        .at(now)
        .user(user, roles)
        .run()
        .success()
        .json()
}

fn history() -> History {
    let cab = Cab::new();
    let submit = |now: &str, user: &str, deployment: &str, risk: &str| {
        id_of(&at(
            &cab,
            now,
            user,
            "",
            &[
                "submit",
                "--deployment",
                deployment,
                "--evidence",
                "EP-1",
                "--risk",
                risk,
            ],
        ))
    };
    let exception = |now: &str, user: &str, request: &str, days: &str| {
        id_of(&at(
            &cab,
            now,
            user,
            "",
            &[
                "exception",
                "create",
                request,
                "--justification",
                "outage fix",
                "--control",
                "canary",
                "--days",
                days,
            ],
        ))
    };
    let web = submit("2026-11-01T09:00:00Z", "alice", "web", "60");
    at(
        &cab,
        "2026-11-01T09:30:00Z",
        "carol",
        CAB,
        &["approve", &web, "--rationale", "tested"],
    );
    let api = submit("2026-11-01T10:00:00Z", "bob", "api", "90");
    let lapsed = exception("2026-11-01T11:00:00Z", "bob", &api, "2");
    at(
        &cab,
        "2026-11-01T12:00:00Z",
        "sam",
        SEC,
        &["exception", "approve", &lapsed, "--rationale", "ok"],
    );
    let db = submit("2026-11-01T13:00:00Z", "dave", "db", "20");
    let web_again = submit("2026-11-01T14:00:00Z", "alice", "web", "70");
    let cache = submit("2026-11-02T09:00:00Z", "erin", "cache", "95");
    exception("2026-11-02T10:00:00Z", "erin", &cache, "30");
    at(
        &cab,
        "2026-11-03T08:00:00Z",
        "ops",
        "",
        &["outcome", &db, "--result", "failure", "--incident", "INC-1"],
    );
    at(
        &cab,
        "2026-11-05T09:00:00Z",
        "carol",
        CAB,
        &["reject", &web_again, "--rationale", "no rollback plan"],
    );
    let queue = submit("2026-11-06T09:00:00Z", "bob", "queue", "80");
    let cleaned = exception("2026-11-06T10:00:00Z", "bob", &queue, "1");
    at(
        &cab,
        "2026-11-06T11:00:00Z",
        "sam",
        SEC,
        &["exception", "approve", &cleaned, "--rationale", "ok"],
    );
    at(&cab, "2026-11-08T09:00:00Z", "ops", "", &["cleanup"]);
    History {
        cab,
        requests: vec![web, api, db, web_again, cache, queue],
        lapsed,
        cleaned,
        deployments: vec!["web", "api", "db", "cache", "queue", "nowhere"],
    }
}

/// Moments before the first event, exactly at events, between them, at an expiry, and after
/// the last.
const MOMENTS: [&str; 9] = [
    "2026-10-31T00:00:00Z",
    "2026-11-01T09:00:00Z",
    "2026-11-01T12:00:00Z",
    "2026-11-01T13:30:00Z",
    "2026-11-02T09:00:00Z",
    "2026-11-03T11:00:00Z",
    "2026-11-04T00:00:00Z",
    "2026-11-07T12:00:00Z",
    "2026-12-01T00:00:00Z",
];

/// A copy of the store cut after its last line dated at or before `moment` (its lines are in
/// time order here, so that is every line dated then).
fn cut(store: &Cab, moment: &str) -> Cab {
    let limit = parse_time(moment);
    let text = String::from_utf8(store.store_bytes().unwrap()).unwrap();
    let kept: String = text
        .lines()
        .take_while(|line| {
            let doc: Value = serde_json::from_str(line).unwrap();
            parse_time(doc["at"].as_str().unwrap()) <= limit
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let copy = Cab::new();
    if !kept.is_empty() {
        copy.write_store(kept.as_bytes());
    }
    copy
}

/// The same command `--at moment` on the store (clock at NOW, long after), and with the clock
/// at `moment` on the cut copy: same exit code, same output.
fn same(h: &History, copy: &Cab, moment: &str, args: &[&str]) -> Run {
    let mut with_at = vec!["--at", moment];
    with_at.extend_from_slice(args);
    let then = h.cab.cmd(&with_at).user("oncall", "").run();
    let cut = copy.cmd(args).at(moment).user("oncall", "").run();
    assert_eq!(
        (then.code, &then.stdout, &then.stderr),
        (cut.code, &cut.stdout, &cut.stderr),
        "`cab {}` as of {moment} differs from the store cut there",
        args.join(" ")
    );
    then
}

#[test]
fn every_read_command_as_of_a_moment_answers_as_the_store_cut_there_with_the_clock_then() {
    let h = history();
    let before = h.cab.store_bytes();
    for moment in MOMENTS {
        let copy = cut(&h.cab, moment);
        for status in ["pending", "all", "under_review", "exception_required"] {
            same(&h, &copy, moment, &["--json", "queue", "--status", status]);
        }
        same(&h, &copy, moment, &["queue"]);
        for status in ["all", "pending", "approved", "expired", "active"] {
            same(
                &h,
                &copy,
                moment,
                &["--json", "exception", "list", "--status", status],
            );
        }
        same(&h, &copy, moment, &["exception", "list"]);
        for id in &h.requests {
            same(&h, &copy, moment, &["--json", "show", id]);
            same(&h, &copy, moment, &["show", &id[..8]]);
        }
        for deployment in &h.deployments {
            same(&h, &copy, moment, &["--json", "status", deployment]);
            same(&h, &copy, moment, &["status", deployment, "--ring", "1"]);
            same(&h, &copy, moment, &["gate", deployment]);
        }
        same(&h, &copy, moment, &["audit", "export"]);
        same(&h, &copy, moment, &["--json", "report"]);
        same(&h, &copy, moment, &["report", "--by", "week"]);
        same(
            &h,
            &copy,
            moment,
            &[
                "--json",
                "report",
                "--since",
                "2026-11-01T12:00:00Z",
                "--what-if-auto-max",
                "65",
            ],
        );
        same(&h, &copy, moment, &["audit", "export", "--format", "csv"]);
        same(
            &h,
            &copy,
            moment,
            &["audit", "export", "--since", "2026-11-01T12:00:00Z"],
        );
    }
    assert_eq!(h.cab.store_bytes(), before, "reading as of a moment wrote");
}

fn exception_status(h: &History, moment: &str, id: &str) -> Value {
    let list = h
        .cab
        .json("oncall", "", &["--at", moment, "exception", "list"]);
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| id_of(e) == id)
        .unwrap_or_else(|| panic!("exception {id} is not listed as of {moment}"))
        .clone()
}

#[test]
fn an_exception_is_active_until_its_expiry_and_expired_after_whether_or_not_cleanup_ran() {
    let h = history();
    // Approved at 12:00 for two days, never cleaned up.
    let active = exception_status(&h, "2026-11-02T00:00:00Z", &h.lapsed);
    assert_eq!(
        (&active["status"], &active["is_active"]),
        (&"approved".into(), &true.into())
    );
    let lapsed = exception_status(&h, "2026-11-03T11:00:00Z", &h.lapsed);
    assert_eq!(
        (
            &lapsed["status"],
            &lapsed["is_active"],
            &lapsed["is_expired"]
        ),
        (&"expired".into(), &false.into(), &true.into())
    );
    // Pending before its review, whatever came later.
    let pending = exception_status(&h, "2026-11-01T11:30:00Z", &h.lapsed);
    assert_eq!(pending["status"], "pending");
    // Expired on 2026-11-07, cleaned up on 2026-11-08: expired either side of the cleanup.
    for moment in ["2026-11-07T12:00:00Z", "2026-11-09T00:00:00Z"] {
        assert_eq!(
            exception_status(&h, moment, &h.cleaned)["status"],
            "expired"
        );
    }
    assert_eq!(
        exception_status(&h, "2026-11-06T12:00:00Z", &h.cleaned)["status"],
        "approved"
    );
    // The gate follows: eligible while the exception is active, not after.
    let gate = |moment: &str| {
        h.cab
            .cmd(["--at", moment, "gate", "api"])
            .user("pipeline", "")
            .run()
            .code
    };
    assert_eq!(gate("2026-11-01T11:59:59Z"), 3, "approved only at 12:00");
    assert_eq!(gate("2026-11-01T12:00:00Z"), 0);
    assert_eq!(gate("2026-11-03T10:59:59Z"), 0);
    assert_eq!(gate("2026-11-03T11:00:00Z"), 3);
    let status = h.cab.json(
        "oncall",
        "",
        &["--at", "2026-11-04T00:00:00Z", "status", "api"],
    );
    assert_eq!(status["reason_code"], "exception_expired", "{status}");
}

#[test]
fn a_request_submitted_after_the_moment_is_unknown_then() {
    let h = history();
    let failure = h.cab.fails(
        2,
        "oncall",
        "",
        &["--at", "2026-11-01T13:59:59Z", "show", &h.requests[3]],
    );
    assert_eq!(failure.code, "not_found", "{}", failure.message);
    let web = h.cab.json(
        "oncall",
        "",
        &["--at", "2026-11-01T13:59:59Z", "status", "web"],
    );
    assert_eq!(web["request"]["id"], h.requests[0].as_str(), "{web}");
    assert_eq!(web["eligible"], true);
}

#[test]
fn at_is_a_global_option_accepted_after_the_command_too() {
    let h = history();
    let before = h.cab.json(
        "oncall",
        "",
        &["--at", "2026-11-01T10:30:00Z", "queue", "--status", "all"],
    );
    let after = h.cab.json(
        "oncall",
        "",
        &["queue", "--status", "all", "--at", "2026-11-01T10:30:00Z"],
    );
    assert_eq!(before, after);
    assert_eq!(before.as_array().unwrap().len(), 2, "{before}");
}

#[test]
fn a_write_command_with_at_is_invalid_input_and_writes_nothing() {
    let h = history();
    let (web_again, cache) = (&h.requests[3], &h.requests[4]);
    let moment = "2026-11-01T15:00:00Z";
    let writes: Vec<Vec<&str>> = vec![
        vec![
            "submit",
            "--deployment",
            "web",
            "--evidence",
            "E",
            "--risk",
            "10",
        ],
        vec!["approve", web_again, "--rationale", "fine"],
        vec!["reject", web_again, "--rationale", "no"],
        vec![
            "exception",
            "create",
            cache,
            "--justification",
            "j",
            "--control",
            "c",
        ],
        vec!["exception", "approve", &h.lapsed, "--rationale", "ok"],
        vec!["exception", "reject", &h.lapsed, "--rationale", "no"],
        vec!["cleanup"],
        vec!["demo", "--requests", "3"],
        vec!["serve", "--listen", "127.0.0.1:0"],
        vec!["token", "new", "carol"],
        vec!["verify"],
    ];
    for args in writes {
        let mut all = vec!["--at", moment];
        all.extend(args.iter().copied());
        let failure = h.cab.fails(2, "carol", &format!("{CAB},{SEC}"), &all);
        assert_eq!(
            failure.code, "invalid_input",
            "{args:?}: {}",
            failure.message
        );
        assert!(
            failure.message.contains("--at") && failure.message.contains(args[0]),
            "{args:?}: {}",
            failure.message
        );
    }
}

#[test]
fn a_time_that_is_not_rfc_3339_in_the_years_2000_to_9000_is_invalid_input() {
    let h = history();
    for bad in [
        "",
        "yesterday",
        "2026-11-01",
        "2026-13-01T00:00:00Z",
        "1999-12-31T23:59:59Z",
        "9001-01-01T00:00:00Z",
    ] {
        let failure = h.cab.fails(2, "oncall", "", &["--at", bad, "queue"]);
        assert_eq!(failure.code, "invalid_input", "{bad:?}");
        assert!(failure.message.contains("--at"), "{}", failure.message);
    }
    // Offsets are read as the moment they name.
    let utc = h.cab.json(
        "oncall",
        "",
        &["--at", "2026-11-01T12:00:00Z", "exception", "list"],
    );
    let offset = h.cab.json(
        "oncall",
        "",
        &["--at", "2026-11-01T13:00:00+01:00", "exception", "list"],
    );
    assert_eq!(utc, offset);
}

#[test]
fn cab_now_is_not_changed_by_at_and_does_not_change_its_answer() {
    let h = history();
    let args = [
        "--json",
        "--at",
        "2026-11-02T00:00:00Z",
        "exception",
        "list",
    ];
    let answers: Vec<String> = ["2026-11-20T00:00:00Z", "2030-01-01T00:00:00Z"]
        .iter()
        .map(|now| h.cab.cmd(args).at(now).user("x", "").run().success().stdout)
        .collect();
    assert_eq!(answers[0], answers[1]);
}

#[test]
fn a_report_as_of_a_moment_ends_there_and_may_not_end_after_it() {
    let h = history();
    let moment = "2026-11-04T00:00:00Z";
    let r = h
        .cab
        .cmd(["--json", "--at", moment, "report"])
        .run()
        .success()
        .json();
    assert_eq!(r["period"]["until"], moment);
    assert_eq!(
        r["outcomes"]["failures"], 1,
        "the outcome recorded on 11-03"
    );
    let early = h
        .cab
        .cmd([
            "--json",
            "--at",
            moment,
            "report",
            "--until",
            "2026-11-02T00:00:00Z",
        ])
        .run()
        .success()
        .json();
    assert_eq!(early["period"]["until"], "2026-11-02T00:00:00Z");
    let f = h.cab.fails(
        2,
        "oncall",
        "",
        &["--at", moment, "report", "--until", "2026-11-05T00:00:00Z"],
    );
    assert!(f.message.contains("--until"), "{}", f.message);
}
