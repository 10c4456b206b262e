//! The error contract of SPEC section 3 across commands: exit codes 0/1/2/3/4, one sentence on
//! stderr starting with "cab: ", `{"error": {"code", "message"}}` on stdout with --json, and a
//! store left byte for byte as it was.

use chrono::Duration;

use crate::support::cli::*;

const CAB: &str = "cab_member";
const SEC: &str = "security_reviewer";

/// A store with one request under review, one needing an exception with a pending exception,
/// and one needing an exception with an approved one-day exception.
struct World {
    cab: Cab,
    review: String,
    high: String,
    pending: String,
    active: String,
}

fn world() -> World {
    let cab = Cab::new();
    let review = cab.submit_id("alice", "review", "60");
    let (high, pending) = cab.pending_exception("high", None);
    let (_, active) = cab.active_exception("covered", Some("1"));
    World {
        cab,
        review,
        high,
        pending,
        active,
    }
}

#[test]
fn usage_errors_exit_2_with_one_line_on_stderr_and_a_usage_json_error() {
    let w = world();
    let cases: Vec<Vec<&str>> = vec![
        vec!["frobnicate"],
        vec!["queue", "--bogus"],
        vec!["queue", "extra"],
        vec!["show"],
        vec!["show", "a", "b"],
        vec!["approve"],
        vec!["approve", &w.review],
        vec!["reject", &w.review],
        vec!["reject", &w.review, "--rationale"],
        vec!["exception"],
        vec!["exception", "frobnicate"],
        vec!["exception", "create", &w.high, "--control", "c"],
        vec!["exception", "approve", &w.pending],
        vec!["exception", "reject"],
        vec!["exception", "list", "--status"],
        vec!["status"],
        vec!["gate"],
        vec!["cleanup", "now"],
        vec!["verify", "--deep"],
        vec!["audit"],
        vec!["audit", "export", "--format"],
        vec!["demo", "--requests"],
        vec!["submit"],
    ];
    for args in cases {
        let f = w.cab.fails(2, "carol", CAB, &args);
        assert_eq!(f.code, "usage", "{args:?}: {}", f.message);
    }
}

#[test]
fn usage_error_messages_name_what_is_missing_or_unknown() {
    let w = world();
    let f = w.cab.fails(2, "carol", CAB, &["approve", &w.review]);
    assert!(f.message.contains("--rationale"), "{}", f.message);
    let f = w.cab.fails(2, "carol", CAB, &["frobnicate"]);
    assert!(f.message.contains("frobnicate"), "{}", f.message);
    let f = w.cab.fails(2, "carol", CAB, &["queue", "--bogus"]);
    assert!(f.message.contains("--bogus"), "{}", f.message);
    let f = w
        .cab
        .fails(2, "carol", CAB, &["audit", "export", "--format", "xml"]);
    assert!(
        f.message.contains("xml") && f.message.contains("csv"),
        "{}",
        f.message
    );
}

#[test]
fn the_json_error_message_is_the_stderr_sentence() {
    let w = world();
    for (code, args) in [
        (2, vec!["approve", w.review.as_str()]),
        (2, vec!["show", "ffffffff"]),
        (4, vec!["approve", w.high.as_str(), "--rationale", "ok"]),
    ] {
        let f = w.cab.fails(code, "carol", CAB, &args);
        assert_eq!(f.line, format!("cab: {}", f.message), "{args:?}");
    }
}

#[test]
fn help_and_version_exit_0_and_write_nothing() {
    let w = world();
    let before = w.cab.store_bytes();
    for args in [
        vec!["--help"],
        vec!["help"],
        vec!["approve", "--help"],
        vec!["exception", "create", "--help"],
        vec!["--version"],
    ] {
        let run = w.cab.run("x", "", &args).success();
        assert!(!run.stdout.is_empty(), "{args:?} prints something");
    }
    let help = w.cab.run("x", "", &["--help"]).success().stdout;
    for command in [
        "submit",
        "queue",
        "show",
        "approve",
        "reject",
        "exception",
        "status",
        "gate",
        "cleanup",
        "verify",
        "audit",
        "demo",
    ] {
        assert!(help.contains(command), "help lists {command}");
    }
    assert_eq!(w.cab.store_bytes(), before);
}

#[test]
fn invalid_values_exit_2_and_refusals_exit_4_across_commands() {
    let w = world();
    let c = &w.cab;
    // (expected exit, user, roles, args)
    let cases: Vec<(i32, &str, &str, Vec<&str>)> = vec![
        // invalid input and unknown ids: 2
        (
            2,
            "alice",
            "",
            vec![
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                "-1",
            ],
        ),
        (
            2,
            "alice",
            "",
            vec![
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                "101",
            ],
        ),
        (
            2,
            "alice",
            "",
            vec![
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                "NaN",
            ],
        ),
        (
            2,
            "alice",
            "",
            vec![
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                "inf",
            ],
        ),
        (
            2,
            "alice",
            "",
            vec![
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                "abc",
            ],
        ),
        (2, "carol", CAB, vec!["show", "0000000"]),
        (2, "carol", CAB, vec!["show", "00000000"]),
        (
            2,
            "carol",
            CAB,
            vec!["approve", "00000000", "--rationale", "ok"],
        ),
        (
            2,
            "carol",
            CAB,
            vec!["reject", "00000000", "--rationale", "ok"],
        ),
        (
            2,
            "bob",
            "",
            vec![
                "exception",
                "create",
                "00000000",
                "--justification",
                "j",
                "--control",
                "c",
            ],
        ),
        (
            2,
            "sam",
            SEC,
            vec!["exception", "approve", "00000000", "--rationale", "ok"],
        ),
        (
            2,
            "sam",
            SEC,
            vec!["exception", "reject", "00000000", "--rationale", "ok"],
        ),
        (
            2,
            "sam",
            SEC,
            vec!["exception", "approve", &w.pending[..7], "--rationale", "ok"],
        ),
        (2, "x", "", vec!["queue", "--status", "open"]),
        (2, "x", "", vec!["exception", "list", "--status", "open"]),
        (2, "x", "", vec!["status", "review", "--ring", "-1"]),
        (2, "x", "", vec!["audit", "export", "--since", "last week"]),
        (2, "x", "", vec!["demo", "--requests", "3"]),
        // workflow refusals: 4
        (
            4,
            "alice",
            CAB,
            vec!["approve", &w.review, "--rationale", "mine"],
        ),
        (
            4,
            "carol",
            "",
            vec!["approve", &w.review, "--rationale", "ok"],
        ),
        (
            4,
            "carol",
            CAB,
            vec!["approve", &w.high, "--rationale", "ok"],
        ),
        (
            4,
            "bob",
            "",
            vec![
                "exception",
                "create",
                &w.review,
                "--justification",
                "j",
                "--control",
                "c",
            ],
        ),
        (
            4,
            "bob",
            "",
            vec![
                "exception",
                "create",
                &w.high,
                "--justification",
                "j",
                "--control",
                "c",
            ],
        ),
        (
            4,
            "sam",
            "",
            vec!["exception", "approve", &w.pending, "--rationale", "ok"],
        ),
        (
            4,
            "bob",
            SEC,
            vec!["exception", "approve", &w.pending, "--rationale", "ok"],
        ),
        (
            4,
            "sam",
            SEC,
            vec!["exception", "approve", &w.active, "--rationale", "again"],
        ),
    ];
    for (code, user, roles, args) in cases {
        let f = c.fails(code, user, roles, &args);
        if code == 4 {
            assert!(
                !["usage", "invalid_input", "not_found"].contains(&f.code.as_str()),
                "{args:?}: a refusal has the rule's code, got {}",
                f.code
            );
        }
    }
}

#[test]
fn a_refused_decision_after_an_exception_expired_exits_4() {
    let w = world();
    let later = now_plus(Duration::days(2));
    let (request, expired) = w.cab.pending_exception("late", Some("1"));
    let f = w.cab.fails_call(4, || {
        w.cab
            .cmd(["exception", "approve", &expired, "--rationale", "late"])
            .user("sam", SEC)
            .at(&later)
    });
    assert_eq!(f.code, "exception_expired");
    // The request itself still cannot be decided by the CAB.
    w.cab.fails_call(4, || {
        w.cab
            .cmd(["approve", &request, "--rationale", "ok"])
            .user("carol", CAB)
            .at(&later)
    });
}

#[test]
fn a_successful_command_writes_nothing_to_stderr_and_exits_0() {
    let w = world();
    for (user, roles, args) in [
        ("x", "", vec!["queue"]),
        ("x", "", vec!["show", w.review.as_str()]),
        ("x", "", vec!["status", "review"]),
        ("x", "", vec!["exception", "list"]),
        ("x", "", vec!["verify"]),
        ("x", "", vec!["audit", "export"]),
        ("x", "", vec!["cleanup"]),
        (
            "carol",
            CAB,
            vec!["approve", w.review.as_str(), "--rationale", "ok"],
        ),
    ] {
        let run = w.cab.run(user, roles, &args).success();
        assert!(
            run.stderr.is_empty(),
            "{args:?} wrote to stderr: {}",
            run.stderr
        );
    }
}

#[test]
fn failures_of_the_store_exit_1() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "60");
    // A store path that is a folder cannot be read.
    let folder = cab.dir().join("a-folder");
    std::fs::create_dir_all(&folder).unwrap();
    let run = cab.cmd(["queue", "--store"]).arg(&folder).run();
    run.assert_code(1);
    run.error_line();
    // A store whose line is not JSON fails verification.
    let text = String::from_utf8(cab.store_bytes().unwrap()).unwrap();
    cab.write_store(format!("{text}not json\n").as_bytes());
    let f = cab.fails(1, "x", "", &["queue"]);
    assert_eq!(f.code, "store_corrupt");
}

#[test]
fn a_fifo_given_as_the_store_is_refused_at_once_instead_of_waiting_for_a_writer() {
    let cab = Cab::new();
    let fifo = cab.dir().join("store.fifo");
    crate::support::mkfifo(&fifo);
    let mut child = cab
        .cmd(["--json", "status", "svc", "--store"])
        .arg(&fifo)
        .into_command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A bound on waiting, not a measure of speed: without the fix cab never returns.
    let mut waited = 0;
    while child.try_wait().unwrap().is_none() {
        if waited == 600 {
            child.kill().unwrap();
            panic!("cab waited on the FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["error"]["code"], "not_a_file", "{body}");
}

#[test]
fn a_fifo_given_as_the_store_of_a_write_is_refused_and_nothing_is_written_into_it() {
    let cab = Cab::new();
    let fifo = cab.dir().join("store.fifo");
    crate::support::mkfifo(&fifo);
    let run = cab
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
        .env("CAB_STORE", &fifo)
        .run();
    run.assert_code(1);
    assert_eq!(run.json()["error"]["code"], "not_a_file", "{run:?}");
}

#[test]
fn a_config_file_that_is_a_fifo_or_a_device_is_refused_not_waited_on_or_read_forever() {
    let cab = Cab::new();
    let fifo = cab.dir().join("config.fifo");
    crate::support::mkfifo(&fifo);
    for config in [fifo.as_path(), std::path::Path::new("/dev/zero")] {
        let run = cab.cmd(["queue", "--config"]).arg(config).run();
        run.assert_code(2);
        assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    }
}
