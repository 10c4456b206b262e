//! Untrusted text: titles, rationales, conditions, justifications and controls carrying escape
//! sequences, C1 controls, bidirectional overrides and zero-width characters never reach the
//! terminal raw through text output, and --json escapes them as \u sequences that parse back to
//! the original strings.

use chrono::Duration;
use serde_json::Value;

use crate::support::cli::*;

/// Every kind of hostile character, with visible text between them.
fn hostile(label: &str) -> String {
    format!(
        "{label}\u{1b}[31mred\u{1b}]0;pwned\u{7}\u{9b}2Jc1\u{202e}evil\u{2066}iso\u{200b}zw\u{feff}bom\u{7f}del\u{2028}ls end"
    )
}

/// The raw characters that must never appear in any output.
const RAW: [char; 9] = [
    '\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{2066}', '\u{200b}', '\u{feff}', '\u{7f}',
    '\u{2028}',
];

struct World {
    cab: Cab,
    request: String,
    high: String,
    exception: String,
    title: String,
    rationale: String,
    condition: String,
    justification: String,
    control: String,
    review: String,
}

fn world() -> World {
    let cab = Cab::new();
    let (title, rationale, condition, justification, control, review) = (
        hostile("title"),
        hostile("rationale"),
        hostile("condition"),
        hostile("justification"),
        hostile("control"),
        hostile("review"),
    );
    let request = id_of(&cab.json(
        "alice",
        "",
        &[
            "submit",
            "--deployment",
            "web",
            "--evidence",
            "e",
            "--risk",
            "60",
            "--title",
            &title,
        ],
    ));
    cab.json(
        "carol",
        "cab_member",
        &[
            "approve",
            &request,
            "--rationale",
            &rationale,
            "--condition",
            &condition,
        ],
    );
    let high = id_of(&cab.json(
        "alice",
        "",
        &[
            "submit",
            "--deployment",
            "db",
            "--evidence",
            "e",
            "--risk",
            "90",
            "--title",
            &title,
        ],
    ));
    let exception = id_of(&cab.json(
        "bob",
        "",
        &[
            "exception",
            "create",
            &high,
            "--justification",
            &justification,
            "--control",
            &control,
            "--days",
            "1",
        ],
    ));
    cab.json(
        "sam",
        "security_reviewer",
        &["exception", "approve", &exception, "--rationale", &review],
    );
    World {
        cab,
        request,
        high,
        exception,
        title,
        rationale,
        condition,
        justification,
        control,
        review,
    }
}

/// The text outputs a person reads, each with a name for the failure message.
fn text_outputs(w: &World) -> Vec<(String, String)> {
    let run = |args: &[&str]| w.cab.run("x", "", args).success().stdout;
    let later = now_plus(Duration::days(2));
    let cleanup = w.cab.cmd(["cleanup"]).at(&later).run().success().stdout;
    vec![
        (
            "queue --status all".into(),
            run(&["queue", "--status", "all"]),
        ),
        ("show request".into(), run(&["show", &w.request])),
        ("show high".into(), run(&["show", &w.high])),
        ("status web".into(), run(&["status", "web"])),
        ("status db".into(), run(&["status", "db"])),
        ("gate web".into(), run(&["gate", "web"])),
        ("exception list".into(), run(&["exception", "list"])),
        (
            "audit csv".into(),
            run(&["audit", "export", "--format", "csv"]),
        ),
        ("cleanup".into(), cleanup),
    ]
}

#[test]
fn text_output_of_every_command_contains_no_control_bidi_or_zero_width_character() {
    let w = world();
    for (name, text) in text_outputs(&w) {
        assert_terminal_safe(&name, &text);
    }
}

#[test]
fn text_output_still_shows_the_visible_parts_of_hostile_text() {
    let w = world();
    let outputs = text_outputs(&w);
    let find = |name: &str| &outputs.iter().find(|(n, _)| n == name).unwrap().1;
    for part in ["title", "red", "evil", "iso", "zw"] {
        assert!(find("queue --status all").contains(part), "{part}");
    }
    let show = find("show request");
    for part in ["rationale", "condition", "evil"] {
        assert!(show.contains(part), "{part}: {show}");
    }
    let high = find("show high");
    for part in ["justification", "control", "review"] {
        assert!(high.contains(part), "{part}: {high}");
    }
    assert!(find("audit csv").contains("rationale"));
}

#[test]
fn text_output_of_decide_and_exception_commands_is_clean() {
    let cab = Cab::new();
    let submit = cab
        .run(
            "alice",
            "",
            &[
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                "60",
                "--title",
                &hostile("t"),
            ],
        )
        .success();
    assert_terminal_safe("submit", &submit.stdout);
    let id = cab.submit_id("alice", "d2", "60");
    let approve = cab
        .run(
            "carol",
            "cab_member",
            &[
                "approve",
                &id,
                "--rationale",
                &hostile("r"),
                "--condition",
                &hostile("c"),
            ],
        )
        .success();
    assert_terminal_safe("approve", &approve.stdout);
    let high = cab.submit_id("alice", "h", "90");
    let create = cab
        .run(
            "bob",
            "",
            &[
                "exception",
                "create",
                &high,
                "--justification",
                &hostile("j"),
                "--control",
                &hostile("c"),
            ],
        )
        .success();
    assert_terminal_safe("exception create", &create.stdout);
    let x = id_of(&cab.json("x", "", &["exception", "list"])[0]);
    let review = cab
        .run(
            "sam",
            "security_reviewer",
            &["exception", "reject", &x, "--rationale", &hostile("no")],
        )
        .success();
    assert_terminal_safe("exception reject", &review.stdout);
}

#[test]
fn json_output_escapes_hostile_characters_and_parses_back_to_the_original() {
    let w = world();
    let outputs = [
        (
            "queue",
            w.cab
                .run("x", "", &["--json", "queue", "--status", "all"])
                .success()
                .stdout,
        ),
        (
            "show",
            w.cab
                .run("x", "", &["--json", "show", &w.request])
                .success()
                .stdout,
        ),
        (
            "show high",
            w.cab
                .run("x", "", &["--json", "show", &w.high])
                .success()
                .stdout,
        ),
        (
            "status",
            w.cab
                .run("x", "", &["--json", "status", "db"])
                .success()
                .stdout,
        ),
        (
            "exceptions",
            w.cab
                .run("x", "", &["--json", "exception", "list"])
                .success()
                .stdout,
        ),
        (
            "audit",
            w.cab.run("x", "", &["audit", "export"]).success().stdout,
        ),
    ];
    for (name, text) in &outputs {
        for c in RAW {
            assert!(!text.contains(c), "{name} --json writes raw {c:?}");
        }
        assert!(text.contains("\\u001b"), "{name} escapes ESC as \\u001b");
        assert!(
            text.to_lowercase().contains("\\u202e"),
            "{name} escapes U+202E as \\u202e"
        );
    }

    let show: Value = serde_json::from_str(&outputs[1].1).unwrap();
    assert_eq!(show["title"], w.title.as_str());
    assert_eq!(show["decision"]["rationale"], w.rationale.as_str());
    assert_eq!(show["decision"]["conditions"][0], w.condition.as_str());
    let high: Value = serde_json::from_str(&outputs[2].1).unwrap();
    let e = &high["exceptions"][0];
    assert_eq!(e["id"], w.exception.as_str());
    assert_eq!(e["justification"], w.justification.as_str());
    assert_eq!(e["compensating_controls"][0], w.control.as_str());
    assert_eq!(e["review_rationale"], w.review.as_str());

    let audit: Vec<Value> = outputs[5]
        .1
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(audit.iter().any(|r| r["rationale"] == w.rationale.as_str()));
    assert!(
        audit
            .iter()
            .any(|r| r["rationale"] == w.justification.as_str())
    );
}

#[test]
fn the_store_file_holds_hostile_characters_only_as_escapes() {
    let w = world();
    let store = String::from_utf8(w.cab.store_bytes().unwrap()).unwrap();
    for c in RAW {
        assert!(!store.contains(c), "the store holds raw {c:?}");
    }
    w.cab.json("x", "", &["verify"]);
}

#[test]
fn error_messages_that_echo_input_are_clean_on_stderr() {
    let cab = Cab::new();
    let bad = hostile("risk");
    let f = cab.fails(
        2,
        "alice",
        "",
        &[
            "submit",
            "--deployment",
            "d",
            "--evidence",
            "e",
            "--risk",
            &bad,
        ],
    );
    assert_terminal_safe("stderr", &f.line);
    let f = cab.fails(2, "alice", "", &["show", &hostile("id")]);
    assert_terminal_safe("stderr", &f.line);
    let run = cab.run("alice", "", &["--json", "show", &hostile("id")]);
    for c in RAW {
        assert!(!run.stdout.contains(c), "JSON error writes raw {c:?}");
    }
    let f = cab.fails(2, "alice", "", &[&hostile("subcommand")]);
    assert_terminal_safe("stderr", &f.line);
}
