//! What the console looks like, at 120x40 and 80x24: every pane, dialog, the help overlay and
//! the empty state, as insta snapshots of ratatui's TestBackend. Review changes with
//! `cargo insta review` (or by reading the .snap.new files).

use crossterm::event::KeyCode;
use insta::assert_snapshot;

use super::*;
use crate::console::app::Pane;

const SIZES: [(u16, u16); 2] = [(120, 40), (80, 24)];

fn at(size: (u16, u16)) -> (App, Fixture, Ids) {
    let (f, ids) = standard();
    let app = app_over(&f, people().carol, size.0, size.1);
    (app, f, ids)
}

fn name(what: &str, size: (u16, u16)) -> String {
    format!("{what}_{}x{}", size.0, size.1)
}

fn focus(app: &mut App, f: &Fixture, pane: Pane) {
    while app.pane() != pane {
        let effects = press(app, KeyCode::Tab);
        deliver_histories(app, f, effects);
    }
}

#[test]
fn queue_pane() {
    for size in SIZES {
        let (app, _, _) = at(size);
        assert_snapshot!(name("queue", size), draw(&app).backend());
    }
}

#[test]
fn detail_pane() {
    for size in SIZES {
        let (mut app, f, _) = at(size);
        let effects = press(&mut app, KeyCode::Down); // the openssl request: under review
        deliver_histories(&mut app, &f, effects);
        focus(&mut app, &f, Pane::Detail);
        assert_snapshot!(name("detail", size), draw(&app).backend());
    }
}

#[test]
fn exceptions_pane() {
    for size in SIZES {
        let (mut app, f, _) = at(size);
        focus(&mut app, &f, Pane::Exceptions);
        assert_snapshot!(name("exceptions", size), draw(&app).backend());
    }
}

#[test]
fn wide_terminals_show_the_panes_side_by_side() {
    let (app, _, _) = at((180, 40));
    assert_snapshot!("side_by_side_180x40", draw(&app).backend());
}

#[test]
fn approve_form() {
    for size in SIZES {
        let (mut app, _, _) = at(size);
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Char('a'));
        type_text(&mut app, "Canary results within SLO; rollback tested");
        assert_snapshot!(name("form_approve", size), draw(&app).backend());
    }
}

#[test]
fn conditional_form_with_conditions_and_an_inline_error() {
    for size in SIZES {
        let (mut app, _, _) = at(size);
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Char('c'));
        type_text(&mut app, "Canary at 5% for 2 hours");
        press(&mut app, KeyCode::Enter);
        type_text(&mut app, "Owning team on call during rollout");
        press(&mut app, KeyCode::Enter);
        press(&mut app, KeyCode::Tab); // leave the rationale empty: its error shows
        press(&mut app, KeyCode::Tab);
        assert_snapshot!(name("form_conditional", size), draw(&app).backend());
    }
}

#[test]
fn exception_request_form_with_days_out_of_range() {
    for size in SIZES {
        let (mut f, _) = standard();
        let id = f.submit(
            &people().erik,
            0,
            "dns-zones-r0042",
            "Move zones to the new provider",
            91.0,
        );
        let mut app = app_over(&f, people().carol, size.0, size.1);
        while app.selected_request() != Some(id) {
            press(&mut app, KeyCode::Down);
        }
        press(&mut app, KeyCode::Char('x'));
        type_text(&mut app, "Provider contract ends Friday");
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "Rollback runbook tested");
        press(&mut app, KeyCode::Enter);
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "0"); // 300 days
        assert_snapshot!(name("form_exception", size), draw(&app).backend());
    }
}

#[test]
fn exception_review_form() {
    for size in SIZES {
        let (f, _) = standard();
        let mut app = app_over(&f, people().sam, size.0, size.1);
        focus(&mut app, &f, Pane::Exceptions);
        press(&mut app, KeyCode::Char('a'));
        type_text(&mut app, "Controls are adequate for two weeks");
        assert_snapshot!(name("form_review", size), draw(&app).backend());
    }
}

#[test]
fn confirmation_shows_what_will_be_recorded() {
    for size in SIZES {
        let (mut app, _, _) = at(size);
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Char('c'));
        type_text(&mut app, "Canary at 5% for 2 hours");
        press(&mut app, KeyCode::Enter);
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "Acceptable with a staged rollout");
        ctrl(&mut app, 's');
        assert_snapshot!(name("confirm", size), draw(&app).backend());
    }
}

/// Show decided requests and select `id` among them, with its history.
fn select_decided(app: &mut App, f: &Fixture, id: uuid::Uuid) {
    press(app, KeyCode::Char('f'));
    while app.selected_request() != Some(id) {
        let effects = press(app, KeyCode::Down);
        deliver_histories(app, f, effects);
    }
}

#[test]
fn outcome_form_with_a_result_chosen() {
    for size in SIZES {
        let (mut app, f, ids) = at(size);
        select_decided(&mut app, &f, ids.approved);
        press(&mut app, KeyCode::Char('o'));
        press(&mut app, KeyCode::Right); // failure
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "INC-4242");
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "p99 doubled after the rollout");
        assert_snapshot!(name("form_outcome", size), draw(&app).backend());
    }
}

#[test]
fn detail_pane_with_an_outcome() {
    let (mut f, ids) = standard();
    f.run(
        &people().dana,
        80,
        crate::engine::Command::RecordOutcome {
            request_id: ids.approved,
            result: crate::engine::OutcomeResult::Failure,
            incident: Some("INC-4242".into()),
            note: Some("p99 doubled after the rollout; rolled forward".into()),
        },
    );
    let mut app = app_over(&f, people().carol, 120, 40);
    select_decided(&mut app, &f, ids.approved);
    focus(&mut app, &f, Pane::Detail);
    for _ in 0..12 {
        press(&mut app, KeyCode::Down); // scroll to the decision, outcome and timeline
    }
    assert_snapshot!("detail_outcome_120x40", draw(&app).backend());
}

#[test]
fn help_overlay() {
    for size in SIZES {
        let (mut app, _, _) = at(size);
        press(&mut app, KeyCode::Char('?'));
        assert_snapshot!(name("help", size), draw(&app).backend());
    }
}

#[test]
fn empty_store() {
    for size in SIZES {
        let app = app_over(&Fixture::new(), people().carol, size.0, size.1);
        assert_snapshot!(name("empty", size), draw(&app).backend());
    }
}

#[test]
fn refusal_message_in_the_status_bar() {
    let (mut app, _, _) = at((120, 40));
    press(&mut app, KeyCode::Char('a')); // the first row needs an exception
    assert_snapshot!("refusal_120x40", draw(&app).backend());
}

#[test]
fn a_console_opened_as_of_a_moment_says_so_in_its_status_bar() {
    let (f, _) = standard();
    let at = now() - chrono::Duration::hours(24);
    for size in SIZES {
        let app = as_of_app_over(&f, people().carol, size.0, size.1, at);
        let terminal = draw(&app);
        let bar = row_text(&app, size.1 - 2);
        assert!(
            bar.contains("│ READ-ONLY as of 2026-11-27T12:00:00Z │ store"),
            "status bar at {size:?}: {bar}"
        );
        assert_snapshot!(name("as_of", size), terminal.backend());
    }
}

#[test]
fn terminal_too_small() {
    let (mut app, _, _) = at((120, 40));
    app.update(Msg::Resize(50, 12));
    assert_snapshot!("too_small_50x12", draw(&app).backend());
}

/// The text of one row of the drawn screen.
fn row_text(app: &App, y: u16) -> String {
    let terminal = draw(app);
    let buffer = terminal.backend().buffer();
    (0..buffer.area.width)
        .map(|x| buffer[(x, y)].symbol().to_string())
        .collect()
}

#[test]
fn at_80_columns_a_long_store_path_gives_way_to_the_counts() {
    let (app, _, _) = at((80, 24));
    let status = row_text(&app, 22);
    assert!(
        status.contains("3 under review · 1 need exception"),
        "the counts come first: {status}"
    );
    assert!(
        status.trim_end().ends_with("store …/store.jsonl"),
        "the path is shortened to its file name: {status}"
    );
}

#[test]
fn detail_of_the_selected_exceptions_request() {
    let (f, _) = standard();
    let mut app = app_over(&f, people().sam, 120, 40);
    focus(&mut app, &f, Pane::Exceptions);
    let effects = press(&mut app, KeyCode::Down); // the urgent exception, on edge-proxy
    deliver_histories(&mut app, &f, effects);
    assert_snapshot!("detail_follows_exception_120x40", draw(&app).backend());
}

#[test]
fn emoji_joined_by_zero_width_joiners_draw_whole() {
    let mut f = Fixture::new();
    let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
    let coder = "\u{1F469}\u{1F3FD}\u{200D}\u{1F4BB}";
    f.submit(
        &people().dana,
        1,
        "family-app-r1",
        &format!("Ship {family} sharing by {coder}"),
        60.0,
    );
    let app = app_over(&f, people().carol, 120, 40);
    let screen = draw(&app).backend().to_string();
    assert!(!screen.contains('\u{FFFD}'), "{screen}");
    assert!(screen.contains("Ship \u{1F468}"), "{screen}");
}
