//! Untrusted text never reaches a terminal cell with control, escape, bidi or zero-width
//! characters in it: hostile titles, ids, names, rationales, conditions, justifications,
//! controls, incidents and notes are rendered in every pane and dialog, and every cell of every
//! frame is checked.

use crossterm::event::KeyCode;

use super::*;
use crate::console::app::Pane;
use crate::untrusted::is_unsafe;

const EVIL: &str = "\u{1b}[31mred\u{1b}]0;pwned\u{7}\u{202E}txet desrever\u{2066}iso\u{200B}zw\u{FEFF}\u{9b}c1\u{0}nul\r\nnext";

fn evil(tag: &str) -> String {
    format!("{tag}{EVIL}")
}

fn hostile_fixture() -> Fixture {
    let mut f = Fixture::new();
    let requester = actor(&evil("mallory"), &[]);
    let reviewer = actor(&evil("trent"), &[Role::SecurityReviewer]);
    let cab = actor(&evil("carl"), &[Role::CabMember]);
    let decided = f.submit(&requester, 30, &evil("dep-a"), &evil("title"), 60.0);
    f.run(
        &cab,
        20,
        decide(
            decided,
            Verdict::Approve {
                conditions: vec![evil("condition")],
            },
            &evil("rationale"),
        ),
    );
    f.run(
        &requester,
        19,
        Command::RecordOutcome {
            request_id: decided,
            result: crate::engine::OutcomeResult::RolledBack,
            incident: Some(evil("incident")),
            note: Some(evil("note")),
        },
    );
    let high = f.submit(&requester, 10, &evil("dep-b"), &evil("title"), 90.0);
    let x = f.run(
        &requester,
        9,
        exception(high, &evil("justification"), &[&evil("control")], 5),
    );
    f.run(&reviewer, 8, review(x, Review::Approve, &evil("review")));
    let pending_high = f.submit(&requester, 6, &evil("dep-c"), &evil("title"), 95.0);
    f.run(
        &requester,
        5,
        exception(pending_high, &evil("justification"), &[&evil("control")], 5),
    );
    f.submit(&requester, 1, &evil("dep-d"), &evil("title"), 70.0);
    f
}

fn assert_clean(app: &App, what: &str) {
    let terminal = draw(app);
    let buffer = terminal.backend().buffer();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            let symbol = buffer[(x, y)].symbol();
            assert!(
                !symbol.chars().any(is_unsafe),
                "{what}: cell ({x},{y}) holds {symbol:?}"
            );
        }
    }
}

#[test]
fn hostile_text_never_reaches_a_cell_in_any_pane_or_dialog() {
    let f = hostile_fixture();
    let cab = actor("carol", &[Role::CabMember]);
    let sec = actor("sam", &[Role::SecurityReviewer]);
    for (w, h) in [(120, 40), (80, 24), (180, 50)] {
        // Every row of every status filter, in every pane.
        let mut app = app_over(&f, cab.clone(), w, h);
        for filter in 0..4 {
            for row in 0..app.queue().len() {
                for pane in [Pane::Queue, Pane::Detail, Pane::Exceptions] {
                    while app.pane() != pane {
                        press(&mut app, KeyCode::Tab);
                    }
                    assert_clean(&app, &format!("{w}x{h} filter {filter} row {row} {pane:?}"));
                }
                while app.pane() != Pane::Queue {
                    press(&mut app, KeyCode::Tab);
                }
                let effects = press(&mut app, KeyCode::Down);
                deliver_histories(&mut app, &f, effects);
            }
            press(&mut app, KeyCode::Char('f'));
        }
        // The forms and confirmations, whose subjects and rows carry the hostile text.
        let mut app = app_over(&f, cab.clone(), w, h);
        press(&mut app, KeyCode::Char('G'));
        press(&mut app, KeyCode::Char('c'));
        assert_clean(&app, "conditional form");
        app.update(Msg::Paste(evil("pasted")));
        press(&mut app, KeyCode::Enter);
        press(&mut app, KeyCode::Tab);
        app.update(Msg::Paste(evil("pasted rationale")));
        assert_clean(&app, "conditional form filled");
        ctrl(&mut app, 's');
        assert_clean(&app, "confirmation");
        let mut app = app_over(&f, sec.clone(), w, h);
        for _ in 0..2 {
            press(&mut app, KeyCode::Tab);
        }
        for row in 0..app.exceptions().len() {
            assert_clean(&app, &format!("exception row {row}"));
            press(&mut app, KeyCode::Down);
        }
        press(&mut app, KeyCode::Char('g'));
        press(&mut app, KeyCode::Char('a'));
        assert_clean(&app, "review form");
        // The outcome in the detail pane, scrolled to it; the outcome form and confirmation.
        let mut app = app_over(&f, cab.clone(), w, h);
        press(&mut app, KeyCode::Char('f'));
        press(&mut app, KeyCode::Char('f')); // all
        press(&mut app, KeyCode::Char('g'));
        let mut outcome_forms = 0;
        for row in 0..app.queue().len() {
            while app.pane() != Pane::Detail {
                press(&mut app, KeyCode::Tab);
            }
            for _ in 0..20 {
                press(&mut app, KeyCode::Down);
            }
            assert_clean(&app, &format!("detail scrolled, row {row}"));
            if app
                .selected_request()
                .is_some_and(|id| f.state.outcome(&id).is_none())
            {
                press(&mut app, KeyCode::Char('o'));
                if app.modals().is_empty() {
                    assert_clean(&app, "outcome refused");
                } else {
                    outcome_forms += 1;
                    press(&mut app, KeyCode::Tab);
                    app.update(Msg::Paste(evil("pasted incident")));
                    press(&mut app, KeyCode::Tab);
                    app.update(Msg::Paste(evil("pasted note")));
                    assert_clean(&app, "outcome form filled");
                    ctrl(&mut app, 's');
                    assert_clean(&app, "outcome confirmation or its refusal");
                    press(&mut app, KeyCode::Esc);
                    press(&mut app, KeyCode::Esc);
                }
            }
            while app.pane() != Pane::Queue {
                press(&mut app, KeyCode::Tab);
            }
            let effects = press(&mut app, KeyCode::Down);
            deliver_histories(&mut app, &f, effects);
        }
        assert!(outcome_forms > 0, "an outcome form was drawn");
        let mut app = app_over(&f, sec.clone(), w, h);
        for _ in 0..2 {
            press(&mut app, KeyCode::Tab);
        }
        // A message quoting hostile text (a refusal from a server, say).
        app.update(Msg::Done(Err(evil("refused"))));
        assert_clean(&app, "message");
        app.update(Msg::SyncFailed(evil("sync")));
        assert_clean(&app, "sync error");
    }
}
