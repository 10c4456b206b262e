//! The console end to end: the real `cab` binary in a pseudo-terminal, its screen read through a
//! terminal emulator, keys typed as a person types them, and the store checked afterwards with
//! the command line.

use std::process::Stdio;

use serde_json::Value;

use crate::support::pty::{Answers, CTRL_S, Console, ENTER, ESC, World, id_of, lines_with, rfind};

const WIDE: (u16, u16) = (120, 40);

/// Long enough before `NOW` that what is recorded then is the oldest thing in the store.
const LONG_AGO: &str = "2026-10-01T09:00:00Z";

const ENTER_ALT_SCREEN: &[u8] = b"\x1b[?1049h";
const LEAVE_ALT_SCREEN: &[u8] = b"\x1b[?1049l";
const SHOW_CURSOR: &[u8] = b"\x1b[?25h";

/// The three panes are drawn.
fn panes(screen: &str) -> bool {
    ["Queue", "Detail", "Exceptions"]
        .iter()
        .all(|p| screen.contains(p))
}

/// Rows of the queue table: the lines inside a pane's border that show a request's status as
/// the queue writes it (the status bar's counts are outside any border).
fn queue_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|l| l.starts_with('│'))
        .filter(|l| l.contains("under review") || l.contains("needs exception"))
        .collect()
}

/// The panes are drawn and the queue lists requests: the store has been read.
fn loaded(screen: &str) -> bool {
    panes(screen) && !queue_rows(screen).is_empty()
}

/// A store with the demo generator's realistic data.
fn demo_world() -> World {
    let world = World::new();
    world.demo();
    world
}

/// A store with realistic data, plus one request of `dave`'s under review for `deployment`.
fn world_with_request(deployment: &str) -> (World, String) {
    let world = demo_world();
    let id = world.submit("dave", deployment, "62");
    (world, id)
}

/// Narrow the queue to `needle` and wait until it lists just one request, under review.
fn filter_to_one(console: &Console, needle: &str) {
    console.send("/");
    console.send(needle);
    console.send(ENTER);
    console.wait_until(&format!("the queue narrowed to {needle}"), |s| {
        let rows = queue_rows(s);
        rows.len() == 1 && rows[0].contains(needle) && rows[0].contains("under review")
    });
}

/// Quit with `q` and expect a clean exit.
fn quit(console: &mut Console) {
    console.send("q");
    let status = console.wait_exit();
    assert!(status.success(), "the console exited with {status:?}");
}

/// The output ends with the sequences that leave the alternate screen and show the cursor:
/// after the last thing drawn come only terminal mode switches (`ESC [ ? N h` / `l`), and they
/// include both.
fn assert_terminal_restored(raw: &[u8]) {
    assert!(
        rfind(raw, ENTER_ALT_SCREEN).is_some(),
        "the console used the alternate screen"
    );
    let modes = trailing_modes(raw);
    for (wanted, what) in [
        (LEAVE_ALT_SCREEN, "leave the alternate screen"),
        (SHOW_CURSOR, "show the cursor"),
    ] {
        assert!(
            modes.contains(&wanted),
            "the output does not end by asking the terminal to {what}; its tail: {:?}",
            tail(raw)
        );
    }
}

/// The mode switches (`ESC [ ? digits h|l`) that `raw` ends with, last first.
fn trailing_modes(raw: &[u8]) -> Vec<&[u8]> {
    let mut modes = Vec::new();
    let mut end = raw.len();
    while end > 0 && matches!(raw[end - 1], b'h' | b'l') {
        let Some(start) = rfind(&raw[..end], b"\x1b[?") else {
            break;
        };
        let digits = &raw[start + 3..end - 1];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            break;
        }
        modes.push(&raw[start..end]);
        end = start;
    }
    modes
}

fn tail(raw: &[u8]) -> String {
    String::from_utf8_lossy(&raw[raw.len().saturating_sub(200)..]).into_owned()
}

fn raw_mode(flags: libc::tcflag_t) -> bool {
    flags & (libc::ICANON | libc::ECHO) == 0
}

fn str_at<'a>(doc: &'a Value, path: &[&str]) -> &'a str {
    let mut v = doc;
    for key in path {
        v = &v[*key];
    }
    v.as_str()
        .unwrap_or_else(|| panic!("no string at {path:?} in {doc}"))
}

#[test]
fn console_opens_on_a_store_with_queue_detail_exceptions_and_a_status_bar_naming_store_and_user() {
    let world = demo_world();
    // The riskiest request (first in the queue, so selected and in the detail pane), with the
    // oldest pending exception (first in the exceptions pane).
    let request = world.submit_at(LONG_AGO, "dave", "ledger-sync-pty1", "100");
    let exception = id_of(&world.json_at(
        LONG_AGO,
        "dave",
        "",
        &[
            "exception",
            "create",
            &request,
            "--justification",
            "quarter-end fix",
            "--control",
            "rollback drill done",
            "--days",
            "90",
        ],
    ));
    // At 120 columns the counts take the room first: the store's path is shortened to its
    // file name.
    let store = format!(
        "store …/{}",
        world
            .store()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );

    let mut console = world.console("carol", "cab_member", &[], WIDE);
    console.wait_for_checks(&[
        ("the queue, detail and exceptions panes are drawn", &panes),
        ("the riskiest request heads the queue", &|s| {
            queue_rows(s)
                .first()
                .is_some_and(|r| r.contains("ledger-sync-pty1"))
        }),
        ("the queue lists the demo's pending requests too", &|s| {
            queue_rows(s).len() > 1
        }),
        (
            "the detail pane shows the selected request's evidence and correlation id",
            &|s| s.contains("EP-ledger-sync-pty1") && s.contains("corr-ledger-sync-pty1"),
        ),
        ("the exceptions pane lists the pending exception", &|s| {
            !lines_with(s, &[&exception[..8], "pending"]).is_empty()
        }),
        (
            "the status bar names the store file, the user and the role",
            &|s| !lines_with(s, &[&store, "carol", "cab_member"]).is_empty(),
        ),
    ]);
    quit(&mut console);
}

#[test]
fn filter_then_approve_with_the_keyboard_records_the_decision_with_rationale_and_approver() {
    let (world, id) = world_with_request("payments-api-pty2");
    let rationale = "Rollback plan reviewed with on-call";

    let mut console = world.console("carol", "cab_member", &[], WIDE);
    console.wait_until("the queue", loaded);
    filter_to_one(&console, "payments-api-pty2");

    console.send("a");
    console.wait_for("Rationale");
    console.send(rationale);
    console.wait_for(rationale);
    console.send(CTRL_S);
    console.wait_for_checks(&[
        ("the confirmation shows the decision", &|s| {
            !lines_with(s, &["decision", "approved"]).is_empty()
        }),
        ("the confirmation shows the approver", &|s| {
            !lines_with(s, &["approver", "carol"]).is_empty()
        }),
        ("the confirmation shows the rationale", &|s| {
            !lines_with(s, &["rationale", rationale]).is_empty()
        }),
    ]);
    assert!(
        world.show(&id)["status"] == "under_review",
        "nothing is recorded before the confirmation"
    );

    console.send("y");
    console.wait_until("the result message", |s| {
        !lines_with(s, &["recorded", &id[..8], "approved"]).is_empty()
    });
    quit(&mut console);

    let shown = world.show(&id);
    assert_eq!(str_at(&shown, &["status"]), "approved", "{shown}");
    assert_eq!(str_at(&shown, &["decision", "decision"]), "approved");
    assert_eq!(str_at(&shown, &["decision", "approver"]), "carol");
    assert_eq!(str_at(&shown, &["decision", "rationale"]), rationale);
    world.cab("auditor", "", &["verify"]);
}

#[test]
fn console_shows_a_request_another_process_submits_without_a_key_being_pressed() {
    let world = demo_world();
    let console = world.console("carol", "cab_member", &[], WIDE);
    console.wait_until("the queue", loaded);

    // The riskiest request yet: it heads the queue, so it is on screen when it arrives.
    world.submit("erin", "live-refresh-pty3", "100");
    console.wait_until("the new request to head the queue", |s| {
        queue_rows(s)
            .first()
            .is_some_and(|r| r.contains("live-refresh-pty3"))
    });
}

#[test]
fn approving_without_the_role_or_as_the_submitter_says_which_rule_refuses_and_writes_nothing() {
    let (world, id) = world_with_request("audit-log-pty4");
    let before = world.store_bytes();

    // erin has no cab_member role.
    let mut console = world.console("erin", "", &[], WIDE);
    console.wait_until("the queue", loaded);
    filter_to_one(&console, "audit-log-pty4");
    console.send("a");
    console.wait_for_checks(&[
        ("a message names the missing role", &|s| {
            !lines_with(s, &["approve", "cab_member"]).is_empty()
        }),
        ("no form opens", &|s| !s.contains("Rationale")),
    ]);
    quit(&mut console);

    // dave is a CAB member but submitted the request himself.
    let mut console = world.console("dave", "cab_member", &[], WIDE);
    console.wait_until("the queue", loaded);
    filter_to_one(&console, "audit-log-pty4");
    console.send("a");
    console.wait_for_checks(&[
        ("a message names separation of duties", &|s| {
            s.contains("separation of duties")
        }),
        ("no form opens", &|s| !s.contains("Rationale")),
    ]);
    quit(&mut console);

    assert!(
        world.store_bytes() == before,
        "a refused action changed the store"
    );
    assert_eq!(str_at(&world.show(&id), &["status"]), "under_review");
}

#[test]
fn read_only_console_refuses_to_approve_saying_it_is_read_only_and_writes_nothing() {
    let (world, id) = world_with_request("read-only-pty5");
    let before = world.store_bytes();

    let mut console = world.console("carol", "cab_member", &["--read-only"], WIDE);
    console.wait_until("the queue", loaded);
    filter_to_one(&console, "read-only-pty5");
    console.send("a");
    console.wait_for_checks(&[
        ("a message says the console is read-only", &|s| {
            !lines_with(s, &["read-only", "approve"]).is_empty()
        }),
        ("no form opens", &|s| !s.contains("Rationale")),
    ]);
    quit(&mut console);

    assert!(
        world.store_bytes() == before,
        "the read-only console changed the store"
    );
    assert_eq!(str_at(&world.show(&id), &["status"]), "under_review");
}

#[test]
fn esc_cancels_an_open_form_in_an_80x24_terminal_and_nothing_is_written() {
    let (world, id) = world_with_request("cancel-pty6");
    let before = world.store_bytes();
    let typed = "half-typed reason";

    let mut console = world.console("carol", "cab_member", &[], (80, 24));
    console.wait_until("the queue", |s| {
        s.contains("Queue") && !queue_rows(s).is_empty()
    });
    filter_to_one(&console, "cancel-pty6");
    console.send("r");
    console.wait_for("Rationale");
    console.send(typed);
    console.wait_for(typed);
    console.send(ESC);
    console.wait_for_checks(&[
        ("the console says nothing was recorded", &|s| {
            s.contains("nothing was recorded")
        }),
        ("the form is closed", &|s| {
            !s.contains(typed) && !s.contains("Rationale")
        }),
    ]);
    quit(&mut console);

    assert!(
        world.store_bytes() == before,
        "a cancelled form changed the store"
    );
    assert_eq!(str_at(&world.show(&id), &["status"]), "under_review");
}

#[test]
fn quitting_restores_the_terminal_leaving_the_alternate_screen_and_showing_the_cursor() {
    let world = demo_world();
    let mut console = world.console("carol", "cab_member", &[], WIDE);
    console.wait_until("the queue", loaded);
    assert!(
        raw_mode(console.local_flags()),
        "the running console has the terminal in raw mode"
    );

    quit(&mut console);
    assert_terminal_restored(&console.raw());
    assert!(
        !raw_mode(console.local_flags()),
        "the terminal is back in cooked mode (echo, line editing)"
    );
}

#[test]
fn too_small_terminal_says_so_without_panicking_and_shows_the_panes_once_enlarged() {
    let world = demo_world();
    let mut console = world.console("carol", "cab_member", &[], (50, 12));
    console.wait_for_checks(&[
        ("the screen says the terminal is too small", &|s| {
            s.contains("too small")
        }),
        ("no pane is drawn", &|s| !panes(s)),
    ]);
    assert!(console.running(), "the console keeps running at 50x12");

    console.resize(120, 40);
    console.wait_for_checks(&[
        ("the panes and the queue are drawn", &loaded),
        ("the too-small sentence is gone", &|s| {
            !s.contains("too small")
        }),
    ]);
    assert!(
        console.running(),
        "the console keeps running after a resize"
    );
    quit(&mut console);
}

#[test]
fn console_without_a_terminal_exits_2_saying_it_needs_one() {
    let world = World::new();
    let out = world
        .command("carol", "cab_member", &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("the cab binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("needs a terminal"),
        "stderr says the console needs a terminal: {stderr}"
    );
    assert!(!world.store().exists(), "nothing was written");
}

#[test]
fn sigterm_ends_the_console_and_restores_the_terminal() {
    let world = demo_world();
    let mut console = world.console("carol", "cab_member", &[], WIDE);
    console.wait_until("the queue", loaded);
    assert!(raw_mode(console.local_flags()));

    // SAFETY: kill(2) on the pid of our own child process.
    let rc = unsafe { libc::kill(console.pid(), libc::SIGTERM) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    let status = console.wait_exit();
    assert!(
        status.signal().is_none(),
        "the console handles SIGTERM and exits by itself: {status:?}"
    );
    assert_terminal_restored(&console.raw());
    assert!(
        !raw_mode(console.local_flags()),
        "the terminal is back in cooked mode after SIGTERM"
    );
}

#[test]
fn console_starts_in_a_terminal_that_never_answers_a_cursor_position_query() {
    let world = demo_world();
    let mut console = world.console_in(Answers::Never, "carol", "cab_member", &[], WIDE);
    console.wait_until("the panes and the queue", loaded);
    quit(&mut console);
}

#[test]
fn capital_r_opens_the_report_view_on_demo_data_b_cuts_it_by_week_and_esc_returns_to_the_panes() {
    let world = demo_world();
    let mut console = world.console("carol", "cab_member", &[], WIDE);
    console.wait_until("the queue", loaded);

    console.send("R");
    console.wait_for_checks(&[
        ("the title names the period", &|s| {
            s.contains("Report") && s.contains("last 90 days · by month")
        }),
        ("the summary counts the submissions", &|s| {
            s.contains("Summary") && s.contains("submitted")
        }),
        ("the decisions are charted by month", &|s| {
            s.contains("Decisions per month")
        }),
        ("the pending ages are charted", &|s| {
            s.contains("Pending at the end")
        }),
        ("the hints are the report's keys", &|s| {
            s.contains("p period")
        }),
        ("the panes are gone", &|s| !panes(s)),
    ]);
    console.send("b");
    console.wait_for("Decisions per week");
    console.send(ESC);
    console.wait_until("the panes again", loaded);
    quit(&mut console);
}

/// The number in "Queue pending · sort risk · N" just before `marker` in `text`.
fn queue_count_before(text: &str, marker: &str) -> Option<usize> {
    let before = &text[..text.find(marker)?];
    let digits: String = before
        .chars()
        .rev()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

#[test]
fn on_a_large_store_with_no_checkpoint_the_open_requests_come_first_then_the_whole_store() {
    let world = World::new();
    // Past the size from which a console reads the open requests ahead of the rest.
    world.cab("seeder", "", &["demo", "--requests", "5200", "--seed", "3"]);
    assert!(world.store_bytes().len() >= 8 << 20);

    // The first reader of the store: no checkpoint yet.
    let mut console = world.console("carol", "cab_member", &[], WIDE);
    let screen = console.wait_for_checks(&[
        ("the queue lists requests", &loaded),
        ("the whole store has been read", &|s: &str| {
            !s.contains("reading the whole store")
        }),
    ]);
    let pending = world.json("carol", "cab_member", &["queue"]);
    let pending = pending.as_array().expect("a list").len();
    assert!(pending > 100, "{pending} pending requests");
    // A frame showed the preview, saying so, with every pending request already in it.
    let raw = String::from_utf8_lossy(&console.raw()).into_owned();
    assert_eq!(
        queue_count_before(&raw, " · reading the whole store…"),
        Some(pending),
        "the preview's queue"
    );
    let title = screen
        .lines()
        .find(|l| l.contains("Queue pending"))
        .expect("the queue's title");
    assert_eq!(
        queue_count_before(title, " ─"),
        Some(pending),
        "the whole store's queue: {title}"
    );
    quit(&mut console);
}
