//! Key handling and data flow, as unit tests on the update function: no terminal, no store.

use crossterm::event::KeyCode;

use super::*;
use crate::backend::EventPage;
use crate::console::app::{Level, Pane, SortKey, StatusFilter};
use crate::console::dialogs::Modal;
use crate::engine::StoredEvent;

fn standard_app() -> (App, Fixture, Ids) {
    let (f, ids) = standard();
    let app = app_over(&f, people().carol, 120, 40);
    (app, f, ids)
}

/// Select a request in the queue by moving down until it is selected.
fn select(app: &mut App, id: Uuid) {
    press(app, KeyCode::Home);
    for _ in 0..app.queue().len() {
        if app.selected_request() == Some(id) {
            return;
        }
        press(app, KeyCode::Down);
    }
    panic!("request {id} is not in the queue");
}

fn message(app: &App) -> String {
    app.message().map(|m| m.text.clone()).unwrap_or_default()
}

#[test]
fn the_pending_queue_lists_requests_under_review_and_those_needing_an_exception_by_risk() {
    let (app, _, ids) = standard_app();
    // Under review: openssl 62, flag 55.5, carol's own 51; exception without an active one:
    // schema 82.5 (pending exception). The urgent request has an active exception: not pending.
    assert_eq!(
        app.queue().rows(),
        vec![ids.schema, ids.openssl, ids.flag, ids.carols_own]
    );
}

#[test]
fn j_and_k_move_the_selection_and_stop_at_the_ends() {
    let (mut app, _, ids) = standard_app();
    assert_eq!(app.selected_request(), Some(ids.schema));
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(app.selected_request(), Some(ids.openssl));
    press(&mut app, KeyCode::Char('k'));
    press(&mut app, KeyCode::Char('k'));
    assert_eq!(app.selected_request(), Some(ids.schema));
    press(&mut app, KeyCode::Char('G'));
    assert_eq!(app.selected_request(), Some(ids.carols_own));
}

#[test]
fn the_selection_survives_a_refresh_that_adds_rows_above_it() {
    let (mut app, mut f, ids) = standard_app();
    select(&mut app, ids.flag);
    let before = app.state().head();
    f.submit(
        &people().erik,
        0,
        "fraud-scoring-r0007",
        "Raise rate limit",
        74.0,
    );
    let events = f.events[before as usize..].to_vec();
    app.update(Msg::Events(EventPage {
        head: f.state.head(),
        events,
    }));
    assert_eq!(app.queue().len(), 5, "the new request is listed");
    assert_eq!(
        app.selected_request(),
        Some(ids.flag),
        "the same request stays selected"
    );
}

#[test]
fn a_decided_request_leaves_the_queue_and_the_selection_moves_to_the_next_row() {
    let (mut app, mut f, ids) = standard_app();
    select(&mut app, ids.openssl);
    let index = app.queue().index();
    let before = f.state.head();
    f.run(
        &people().carol,
        0,
        decide(ids.openssl, Verdict::Approve { conditions: vec![] }, "ok"),
    );
    app.update(Msg::Events(EventPage {
        head: f.state.head(),
        events: f.events[before as usize..].to_vec(),
    }));
    assert!(!app.queue().rows().contains(&ids.openssl));
    assert_eq!(app.queue().index(), index);
    assert_eq!(app.selected_request(), Some(ids.flag));
}

#[test]
fn events_already_applied_are_ignored() {
    let (mut app, f, _) = standard_app();
    let state_before = app.state().clone();
    app.update(Msg::Events(EventPage {
        head: f.state.head(),
        events: f.events.clone(),
    }));
    assert_eq!(app.state(), &state_before);
    assert!(app.out_of_sync().is_none());
}

#[test]
fn approving_goes_form_then_confirmation_then_exactly_one_command() {
    let (mut app, _, ids) = standard_app();
    select(&mut app, ids.openssl);
    assert!(press(&mut app, KeyCode::Char('a')).is_empty());
    assert!(matches!(app.modals().last(), Some(Modal::Form(_))));
    type_text(&mut app, "Canary results within SLO");
    assert!(
        ctrl(&mut app, 's').is_empty(),
        "submitting only asks for confirmation"
    );
    let Some(Modal::Confirm(confirm)) = app.modals().last() else {
        panic!("a confirmation is shown");
    };
    assert!(
        confirm
            .rows
            .contains(&("rationale".into(), "Canary results within SLO".into()))
    );
    assert!(confirm.rows.contains(&("approver".into(), "carol".into())));
    assert!(
        confirm
            .rows
            .contains(&("decision".into(), "approved".into()))
    );
    let effects = press(&mut app, KeyCode::Char('y'));
    assert_eq!(
        effects,
        vec![Effect::Execute(Command::Decide {
            request_id: ids.openssl,
            verdict: Verdict::Approve { conditions: vec![] },
            rationale: "Canary results within SLO".into(),
        })]
    );
    assert!(
        app.modals().is_empty(),
        "form and confirmation close together"
    );
    assert!(app.busy());
}

#[test]
fn an_empty_rationale_cannot_be_submitted() {
    let (mut app, _, ids) = standard_app();
    select(&mut app, ids.openssl);
    press(&mut app, KeyCode::Char('r'));
    type_text(&mut app, "   ");
    let effects = ctrl(&mut app, 's');
    assert!(effects.is_empty());
    let Some(Modal::Form(form)) = app.modals().last() else {
        panic!("the form stays open");
    };
    assert!(
        form.problem
            .as_deref()
            .unwrap_or("")
            .contains("Rationale must not be empty")
    );
}

#[test]
fn conditions_can_be_added_and_removed_before_a_conditional_approval() {
    let (mut app, _, ids) = standard_app();
    select(&mut app, ids.flag);
    press(&mut app, KeyCode::Char('c'));
    type_text(&mut app, "Canary at 5% for 2 hours");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "Deploy after 20:00 UTC");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "typo");
    press(&mut app, KeyCode::Enter);
    ctrl(&mut app, 'd'); // removes the highlighted, last added item
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "Acceptable with a staged rollout");
    ctrl(&mut app, 's');
    let effects = press(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::Execute(Command::Decide {
            request_id: ids.flag,
            verdict: Verdict::Approve {
                conditions: vec![
                    "Canary at 5% for 2 hours".into(),
                    "Deploy after 20:00 UTC".into()
                ]
            },
            rationale: "Acceptable with a staged rollout".into(),
        })]
    );
}

#[test]
fn a_conditional_approval_needs_at_least_one_condition() {
    let (mut app, _, ids) = standard_app();
    select(&mut app, ids.flag);
    press(&mut app, KeyCode::Char('c'));
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "fine");
    assert!(ctrl(&mut app, 's').is_empty());
    assert!(matches!(app.modals().last(), Some(Modal::Form(_))));
}

#[test]
fn exception_days_are_checked_as_typed_and_letters_are_ignored() {
    // A new high-risk request: the fixture's others already have an open exception.
    let (mut f, _) = standard();
    let id = f.submit(
        &people().erik,
        0,
        "dns-zones-r0042",
        "Move zones to the new provider",
        91.0,
    );
    let mut app = app_over(&f, people().carol, 120, 40);
    select(&mut app, id);
    press(&mut app, KeyCode::Char('x'));
    type_text(&mut app, "Provider contract ends Friday");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "Rollback runbook tested");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Tab); // days, prefilled with 30
    let days_error = |app: &App| match app.modals().last() {
        Some(Modal::Form(form)) => form.field("days").and_then(|f| f.error()),
        _ => panic!("the form is open"),
    };
    assert_eq!(days_error(&app), None, "the default of 30 days is valid");
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Backspace);
    type_text(&mut app, "0");
    assert!(days_error(&app).unwrap().contains("1 to 90"));
    press(&mut app, KeyCode::Backspace);
    type_text(&mut app, "9x1");
    assert!(
        days_error(&app).unwrap().contains("1 to 90"),
        "91 is refused, x ignored"
    );
    press(&mut app, KeyCode::Backspace);
    assert_eq!(days_error(&app), None);
    ctrl(&mut app, 's');
    let effects = press(&mut app, KeyCode::Char('y'));
    assert_eq!(
        effects,
        vec![Effect::Execute(Command::RequestException {
            request_id: id,
            justification: "Provider contract ends Friday".into(),
            compensating_controls: vec!["Rollback runbook tested".into()],
            expiry_days: Some(9),
        })]
    );
}

#[test]
fn esc_cancels_a_form_and_from_a_confirmation_goes_back_to_the_form() {
    let (mut app, _, ids) = standard_app();
    select(&mut app, ids.openssl);
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "ok");
    ctrl(&mut app, 's');
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(
        matches!(app.modals().last(), Some(Modal::Form(_))),
        "back to the form"
    );
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(app.modals().is_empty());
    assert!(message(&app).contains("nothing was recorded"));
}

#[test]
fn approving_a_request_that_needs_an_exception_says_which_rule_refuses_it() {
    let (mut app, _, ids) = standard_app();
    select(&mut app, ids.schema);
    press(&mut app, KeyCode::Char('a'));
    assert!(app.modals().is_empty());
    assert!(
        message(&app).contains("needs a security exception"),
        "{}",
        message(&app)
    );
}

#[test]
fn a_refusal_wider_than_the_terminal_is_shown_whole_in_a_box_above_the_status_line() {
    let (f, ids) = standard();
    for (w, h) in [(80, 24), (100, 30)] {
        let mut app = app_over(&f, people().carol, w, h);
        select(&mut app, ids.schema);
        press(&mut app, KeyCode::Char('a'));
        let said = message(&app);
        assert!(said.chars().count() > w as usize, "a long refusal: {said}");
        let terminal = draw(&app);
        let buffer = terminal.backend().buffer();
        let row = |y: u16| -> String { (0..w).map(|x| buffer[(x, y)].symbol()).collect() };
        // A box just above the status line holds the whole sentence, its lines joined at
        // their ends; the status line's counts stay, and the message line starts it, cut.
        let boxed: Vec<String> = (h - 6..h - 2)
            .map(row)
            .filter(|r| r.starts_with('│'))
            .map(|r| r.trim_matches('│').trim_end().to_string())
            .collect();
        assert_eq!(boxed.join(" "), said, "{w}x{h}");
        assert!(row(h - 2).contains("under review"), "{}", row(h - 2));
        let cut = row(h - 1);
        assert!(cut.ends_with('…'), "{cut}");
        assert!(said.starts_with(cut.trim_end_matches('…')), "{cut}");
        // Esc clears it: the pane's last rows are back.
        press(&mut app, KeyCode::Esc);
        let terminal = draw(&app);
        let buffer = terminal.backend().buffer();
        let row = |y: u16| -> String { (0..w).map(|x| buffer[(x, y)].symbol()).collect() };
        assert!((h - 6..h).all(|y| !row(y).contains("security exception")));
    }
}

#[test]
fn a_user_without_the_cab_member_role_is_told_so() {
    let (f, ids) = standard();
    let mut app = app_over(&f, people().erik, 120, 40);
    select(&mut app, ids.openssl);
    press(&mut app, KeyCode::Char('a'));
    assert!(app.modals().is_empty());
    assert!(
        message(&app).contains("cab_member role"),
        "{}",
        message(&app)
    );
}

#[test]
fn deciding_your_own_request_is_refused_as_separation_of_duties() {
    let (mut app, _, ids) = standard_app();
    select(&mut app, ids.carols_own);
    press(&mut app, KeyCode::Char('r'));
    assert!(app.modals().is_empty());
    assert!(
        message(&app).contains("separation of duties"),
        "{}",
        message(&app)
    );
}

#[test]
fn every_action_key_says_the_console_is_read_only() {
    let (f, ids) = standard();
    let mut app = read_only_app_over(&f, people().carol, 120, 40);
    select(&mut app, ids.openssl);
    for key in ['a', 'c', 'r', 'x', 'o'] {
        press(&mut app, KeyCode::Esc); // clears the last message
        press(&mut app, KeyCode::Char(key));
        assert!(app.modals().is_empty());
        assert!(
            message(&app).contains("read-only"),
            "key {key}: {}",
            message(&app)
        );
    }
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.pane(), Pane::Exceptions);
    press(&mut app, KeyCode::Char('a'));
    assert!(message(&app).contains("read-only"));
}

#[test]
fn every_action_key_in_a_console_opened_as_of_a_moment_says_the_past_cannot_be_changed() {
    let (f, ids) = standard();
    let mut app = as_of_app_over(&f, people().carol, 120, 40, now() - Duration::hours(3));
    select(&mut app, ids.openssl);
    assert_eq!(app.selected_request(), Some(ids.openssl));
    for key in ['a', 'c', 'r', 'x'] {
        press(&mut app, KeyCode::Esc);
        let effects = press(&mut app, KeyCode::Char(key));
        assert!(app.modals().is_empty(), "key {key} opened a form");
        assert!(
            effects.iter().all(|e| !matches!(e, Effect::Execute(_))),
            "key {key}: {effects:?}"
        );
        assert!(
            message(&app).contains("--at") && message(&app).contains("past"),
            "key {key}: {}",
            message(&app)
        );
    }
}

#[test]
fn a_console_opened_as_of_a_moment_shows_the_state_then_with_its_ages() {
    let (f, ids) = standard();
    // Three hours ago: the feature flag (two hours ago) and carol's own (one hour) were not
    // submitted yet; the openssl request (five hours ago) was two hours old.
    let app = as_of_app_over(&f, people().carol, 120, 40, now() - Duration::hours(3));
    let listed = app.queue().rows().to_vec();
    assert!(listed.contains(&ids.openssl), "{listed:?}");
    assert!(!listed.contains(&ids.flag) && !listed.contains(&ids.carols_own));
    assert_eq!(app.now(), now() - Duration::hours(3));
    let screen = draw(&app).backend().to_string();
    assert!(screen.contains("2h"), "ages are those of then");
}

#[test]
fn a_form_whose_request_is_decided_meanwhile_says_so_and_records_nothing() {
    let (mut app, mut f, ids) = standard_app();
    select(&mut app, ids.openssl);
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "looks good");
    let before = f.state.head();
    let martin = actor("martin", &[Role::CabMember]);
    f.run(
        &martin,
        0,
        decide(ids.openssl, Verdict::Reject, "collides with the freeze"),
    );
    app.update(Msg::Events(EventPage {
        head: f.state.head(),
        events: f.events[before as usize..].to_vec(),
    }));
    let Some(Modal::Form(form)) = app.modals().last() else {
        panic!("the form stays open so the user sees why");
    };
    let stale = form.stale.clone().unwrap_or_default();
    assert!(
        stale.contains("martin") && stale.contains("rejected"),
        "{stale}"
    );
    assert!(ctrl(&mut app, 's').is_empty(), "nothing can be submitted");
}

#[test]
fn a_confirmation_open_when_the_request_is_decided_records_nothing() {
    let (mut app, mut f, ids) = standard_app();
    select(&mut app, ids.openssl);
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "looks good");
    ctrl(&mut app, 's');
    let before = f.state.head();
    let martin = actor("martin", &[Role::CabMember]);
    f.run(&martin, 0, decide(ids.openssl, Verdict::Reject, "no"));
    app.update(Msg::Events(EventPage {
        head: f.state.head(),
        events: f.events[before as usize..].to_vec(),
    }));
    let effects = press(&mut app, KeyCode::Char('y'));
    assert!(effects.is_empty());
    assert!(message(&app).contains("not recorded"));
}

#[test]
fn the_filter_narrows_the_queue_as_typed_and_esc_clears_it() {
    let (mut app, _, ids) = standard_app();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "CHECKOUT");
    assert_eq!(app.queue().rows(), vec![ids.openssl]);
    press(&mut app, KeyCode::Enter);
    assert!(!app.filtering());
    assert_eq!(
        app.queue().rows(),
        vec![ids.openssl],
        "Enter keeps the filter"
    );
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.queue().len(), 4);
}

#[test]
fn the_filter_matches_titles_requesters_and_ids() {
    let (mut app, _, ids) = standard_app();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "smart-retry");
    assert_eq!(app.queue().rows(), vec![ids.flag]);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "dana");
    assert_eq!(app.queue().rows(), vec![ids.schema, ids.openssl]);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, &ids.flag.to_string()[..8]);
    assert_eq!(app.queue().rows(), vec![ids.flag]);
}

#[test]
fn s_cycles_the_sort_between_risk_age_and_deployment() {
    let (mut app, _, ids) = standard_app();
    assert_eq!(app.sort(), SortKey::Risk);
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.sort(), SortKey::Age);
    assert_eq!(
        app.queue().rows(),
        vec![ids.schema, ids.openssl, ids.flag, ids.carols_own]
    );
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.sort(), SortKey::Deployment);
    assert_eq!(
        app.queue().rows(),
        vec![ids.openssl, ids.flag, ids.schema, ids.carols_own]
    );
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.sort(), SortKey::Risk);
}

#[test]
fn f_switches_between_pending_decided_all_and_mine() {
    let (mut app, _, ids) = standard_app();
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.status_filter(), StatusFilter::Decided);
    assert!(
        app.queue().rows().contains(&ids.approved) && app.queue().rows().contains(&ids.rejected)
    );
    assert!(!app.queue().rows().contains(&ids.openssl));
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.status_filter(), StatusFilter::All);
    assert_eq!(app.queue().len(), app.state().request_count());
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.status_filter(), StatusFilter::Mine);
    assert_eq!(app.queue().rows(), vec![ids.carols_own]);
}

#[test]
fn the_exceptions_pane_lists_pending_first_and_reviews_the_selected_one() {
    let (f, ids) = standard();
    let mut app = app_over(&f, people().sam, 120, 40);
    assert_eq!(
        app.exceptions().rows(),
        vec![ids.pending_exception, ids.urgent_exception]
    );
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.pane(), Pane::Exceptions);
    press(&mut app, KeyCode::Char('r'));
    type_text(&mut app, "Controls do not cover data exposure");
    ctrl(&mut app, 's');
    let effects = press(&mut app, KeyCode::Char('y'));
    assert_eq!(
        effects,
        vec![Effect::Execute(Command::ReviewException {
            exception_id: ids.pending_exception,
            review: Review::Reject,
            rationale: "Controls do not cover data exposure".into(),
        })]
    );
}

#[test]
fn a_security_reviewer_cannot_review_an_exception_on_their_own_request() {
    let (mut f, _) = standard();
    let sam = people().sam;
    let own = f.submit(&sam, 3, "vault-config-r0009", "Rotate root token", 80.0);
    f.run(
        &sam,
        2,
        exception(own, "Token leaked", &["Audit logging"], 3),
    );
    let mut app = app_over(&f, sam, 120, 40);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    let mine = app
        .exceptions()
        .rows()
        .iter()
        .position(|e| {
            app.state()
                .exception(e)
                .is_some_and(|x| x.request_id == own)
        })
        .unwrap();
    for _ in 0..mine {
        press(&mut app, KeyCode::Down);
    }
    press(&mut app, KeyCode::Char('a'));
    assert!(app.modals().is_empty());
    assert!(
        message(&app).contains("separation of duties"),
        "{}",
        message(&app)
    );
}

#[test]
fn help_opens_with_question_mark_and_closes_with_esc() {
    let (mut app, _, _) = standard_app();
    press(&mut app, KeyCode::Char('?'));
    assert!(matches!(app.modals().last(), Some(Modal::Help { .. })));
    press(&mut app, KeyCode::Char('a'));
    assert!(
        matches!(app.modals().last(), Some(Modal::Help { .. })),
        "help has the keys"
    );
    press(&mut app, KeyCode::Esc);
    assert!(app.modals().is_empty());
}

#[test]
fn q_and_ctrl_c_quit() {
    let (mut app, _, _) = standard_app();
    assert_eq!(press(&mut app, KeyCode::Char('q')), vec![Effect::Quit]);
    press(&mut app, KeyCode::Char('a'));
    assert_eq!(
        ctrl(&mut app, 'c'),
        vec![Effect::Quit],
        "Ctrl+C quits even from a form"
    );
}

#[test]
fn selecting_a_request_fetches_its_history_once() {
    let (mut app, _, ids) = standard_app();
    let effects = press(&mut app, KeyCode::Down);
    assert_eq!(effects, vec![Effect::FetchHistory(ids.openssl)]);
    press(&mut app, KeyCode::Up);
    let again = press(&mut app, KeyCode::Down);
    assert!(
        again.is_empty(),
        "a loading or loaded history is not fetched again"
    );
}

#[test]
fn a_finished_command_is_reported_and_a_refusal_shown_as_an_error() {
    let (mut app, _, ids) = standard_app();
    select(&mut app, ids.openssl);
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "ok");
    ctrl(&mut app, 's');
    press(&mut app, KeyCode::Char('y'));
    assert!(app.busy());
    app.update(Msg::Done(Err(
        "not recorded: request 1a2b was already decided".into(),
    )));
    assert!(!app.busy());
    let m = app.message().cloned().unwrap();
    assert_eq!(m.level, Level::Error);
    assert!(m.text.contains("already decided"));
}

#[test]
fn tab_cycles_the_three_panes() {
    let (mut app, _, _) = standard_app();
    let mut seen = vec![app.pane()];
    for _ in 0..3 {
        press(&mut app, KeyCode::Tab);
        seen.push(app.pane());
    }
    assert_eq!(
        seen,
        vec![Pane::Queue, Pane::Detail, Pane::Exceptions, Pane::Queue]
    );
}

/// An event the console's state cannot take: the first request submitted a second time, as
/// the next event after `head`.
fn unappliable(f: &Fixture, seq: u64) -> StoredEvent {
    StoredEvent {
        seq,
        ..f.events[0].clone()
    }
}

/// The next events the fixture records, as a page for the console.
fn page_since(f: &Fixture, before: u64) -> EventPage {
    EventPage {
        head: f.state.head(),
        events: f.events[before as usize..].to_vec(),
    }
}

#[test]
fn an_event_that_cannot_be_applied_is_shown_as_an_error_and_not_forgotten_by_the_next_line() {
    let (mut app, f, _) = standard_app();
    let head = f.state.head();
    app.update(Msg::Events(EventPage {
        head: head + 1,
        events: vec![unappliable(&f, head + 1)],
    }));
    let terminal = draw(&app);
    let status: String = (0..120)
        .map(|x| terminal.backend().buffer()[(x, 38)].symbol().to_string())
        .collect();
    assert!(
        status.contains(&format!("not up to date: event {} cannot be", head + 1)),
        "{status}"
    );
}

#[test]
fn after_an_event_that_cannot_be_applied_the_console_reloads_a_snapshot_instead_of_building_on_the_gap()
 {
    let (mut app, mut f, ids) = standard_app();
    let head = f.state.head();
    let effects = app.update(Msg::Events(EventPage {
        head: head + 1,
        events: vec![unappliable(&f, head + 1)],
    }));
    assert!(
        effects.contains(&Effect::Resync),
        "a fresh snapshot is asked for: {effects:?}"
    );

    // The backend's true history: where the console read a bad line, martin rejected openssl;
    // then he rejected carol's own request.
    let martin = actor("martin", &[Role::CabMember]);
    f.run(&martin, 0, decide(ids.openssl, Verdict::Reject, "no"));
    let before_later = f.state.head();
    f.run(
        &martin,
        0,
        decide(ids.carols_own, Verdict::Reject, "freeze"),
    );
    let later = page_since(&f, before_later);
    let effects = app.update(Msg::Events(later.clone()));
    assert!(
        !effects.contains(&Effect::Resync),
        "one snapshot is asked for at a time"
    );
    assert!(
        app.queue().rows().contains(&ids.carols_own),
        "nothing is applied on top of the gap"
    );
    assert!(app.out_of_sync().is_some(), "the error stays shown");

    // The snapshot was read before the last decision was written: the event that came after
    // it is applied on top of the snapshot.
    let mut snapshot = State::new();
    for e in &f.events[..before_later as usize] {
        snapshot
            .apply(e.seq, e.event.at, e.event.kind.clone())
            .unwrap();
    }
    app.update(Msg::Snapshot {
        head_hash: None,
        state: Box::new(snapshot),
        head: before_later,
    });
    assert_eq!(app.state(), &f.state, "the console is back in step");
    assert_eq!(app.out_of_sync(), None);
    assert!(
        !app.queue().rows().contains(&ids.openssl) && !app.queue().rows().contains(&ids.carols_own)
    );
    let m = app.message().cloned().unwrap();
    assert_eq!(m.level, Level::Warning);
    assert!(m.text.contains("reloaded"), "{}", m.text);
}

#[test]
fn a_reload_that_fails_is_shown_and_asked_for_again_after_a_back_off() {
    let (mut app, f, _) = standard_app();
    let head = f.state.head();
    app.update(Msg::Events(EventPage {
        head: head + 1,
        events: vec![unappliable(&f, head + 1)],
    }));
    assert!(app.update(Msg::Tick(now())).is_empty(), "still on its way");
    app.update(Msg::ResyncFailed("the store cannot be read".into()));
    let problem = app.out_of_sync().unwrap_or_default();
    assert!(problem.contains("the store cannot be read"), "{problem}");
    let later = |seconds| now() + chrono::Duration::seconds(seconds);
    assert!(
        app.update(Msg::Tick(later(1))).is_empty(),
        "not again within the back-off"
    );
    assert_eq!(app.update(Msg::Tick(later(2))), vec![Effect::Resync]);
}

#[test]
fn failed_reloads_back_off_up_to_a_minute_instead_of_rereading_every_second() {
    let (mut app, f, _) = standard_app();
    let head = f.state.head();
    app.update(Msg::Events(EventPage {
        head: head + 1,
        events: vec![unappliable(&f, head + 1)],
    }));
    let mut at = now();
    let mut waits = Vec::new();
    for _ in 0..8 {
        app.update(Msg::ResyncFailed("the store fails verification".into()));
        let asked_at = at;
        // Tick second by second until the reload is asked for again.
        loop {
            at += chrono::Duration::seconds(1);
            if app.update(Msg::Tick(at)) == vec![Effect::Resync] {
                break;
            }
            assert!(
                at - asked_at <= chrono::Duration::seconds(61),
                "never asked again"
            );
        }
        waits.push((at - asked_at).num_seconds());
    }
    assert_eq!(waits, vec![2, 4, 8, 16, 32, 60, 60, 60]);
}

#[test]
fn a_failed_read_of_the_backend_clears_once_events_arrive_again() {
    let (mut app, f, _) = standard_app();
    app.update(Msg::SyncFailed("connection refused".into()));
    assert!(app.out_of_sync().is_some());
    app.update(Msg::Events(page_since(&f, f.state.head())));
    assert_eq!(app.out_of_sync(), None);
}

#[test]
fn with_the_exceptions_pane_focused_the_detail_pane_shows_the_request_of_the_selected_exception() {
    let (f, ids) = standard();
    let mut app = app_over(&f, people().sam, 120, 40);
    assert_eq!(app.detail_request(), Some(ids.schema));
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.pane(), Pane::Exceptions);
    let effects = press(&mut app, KeyCode::Down); // the urgent exception, on edge-proxy
    assert_eq!(app.selected_exception(), Some(ids.urgent_exception));
    let edge_proxy = app
        .state()
        .exception(&ids.urgent_exception)
        .map(|e| e.request_id)
        .unwrap();
    assert_eq!(app.detail_request(), Some(edge_proxy));
    assert_eq!(
        effects,
        vec![Effect::FetchHistory(edge_proxy)],
        "its history is fetched for the timeline"
    );
    assert!(
        !app.queue().rows().contains(&edge_proxy),
        "a request the pending queue does not list"
    );
    // Back to the detail pane (Shift+Tab): it still shows that request, and scrolls it.
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.pane(), Pane::Detail);
    assert_eq!(app.detail_request(), Some(edge_proxy));
    // The queue has the focus again: its selection is shown.
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.pane(), Pane::Queue);
    assert_eq!(app.detail_request(), Some(ids.schema));
}

#[test]
fn request_actions_from_the_detail_pane_apply_to_the_request_it_shows() {
    let (mut app, _, ids) = standard_app();
    select(&mut app, ids.openssl);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.selected_exception(), Some(ids.pending_exception));
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.pane(), Pane::Detail);
    assert_eq!(
        app.detail_request(),
        Some(ids.schema),
        "not the queue's openssl"
    );
    // The engine judges the request shown: schema needs an exception, openssl would not.
    press(&mut app, KeyCode::Char('a'));
    assert!(app.modals().is_empty());
    let said = message(&app);
    assert!(said.contains("needs a security exception"), "{said}");
    assert!(said.contains(&ids.schema.to_string()[..8]), "{said}");
}

#[test]
fn help_scrolls_no_further_than_its_last_line_so_one_up_moves_it_back_at_once() {
    let (f, _) = standard();
    let mut app = app_over(&f, people().carol, 80, 24);
    press(&mut app, KeyCode::Char('?'));
    let scroll = |app: &App| match app.modals().last() {
        Some(Modal::Help(help)) => help.scroll(),
        _ => panic!("help is open"),
    };
    for _ in 0..500 {
        press(&mut app, KeyCode::Down);
    }
    let bottom = scroll(&app);
    assert!(bottom > 0 && bottom < 100, "{bottom}");
    press(&mut app, KeyCode::Up);
    assert_eq!(scroll(&app), bottom - 1);
    // A taller terminal needs less scrolling: the scroll shrinks with it.
    press(&mut app, KeyCode::Down);
    app.update(Msg::Resize(80, 200));
    assert_eq!(scroll(&app), 0);
}

#[test]
fn a_form_layer_answers_push_for_its_confirmation_and_close_when_cancelled() {
    use crate::console::dialogs::{EventResult, LayerCtx};
    use crate::console::intent::Intent;
    use crossterm::event::{KeyEvent, KeyModifiers};

    let (f, ids) = standard();
    let carol = people().carol;
    let ctx = LayerCtx {
        me: &carol,
        now: now(),
        state: &f.state,
        viewport: ratatui::layout::Rect::new(0, 0, 120, 40),
    };
    let mut form = Modal::Form(crate::console::dialogs::form::Form::new(
        Intent::Reject(ids.openssl),
        &f.state,
    ));
    let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    for c in "no".chars() {
        assert_eq!(form.handle(None, key(c), &ctx), EventResult::Consumed);
    }
    let submit = form.handle(Some(crate::console::keymap::Action::Submit), key('s'), &ctx);
    let EventResult::Push(Modal::Confirm(mut confirm)) = submit else {
        panic!("submitting pushes the confirmation: {submit:?}");
    };
    assert!(
        confirm
            .rows
            .contains(&("decision".into(), "rejected".into())),
        "the decision is named as the engine names it: {:?}",
        confirm.rows
    );
    assert_eq!(
        confirm.handle(Some(crate::console::keymap::Action::Confirm)),
        EventResult::Submit(Command::Decide {
            request_id: ids.openssl,
            verdict: Verdict::Reject,
            rationale: "no".into(),
        })
    );
    assert!(matches!(
        form.handle(Some(crate::console::keymap::Action::Cancel), key('x'), &ctx),
        EventResult::Close(Some(_))
    ));
}

// ----- outcomes: `o` on a request that could be deployed -----

/// The standard console showing decided requests, with the approved one selected.
fn on_the_approved_request() -> (App, Fixture, Ids) {
    let (mut app, f, ids) = standard_app();
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.status_filter(), StatusFilter::Decided);
    select(&mut app, ids.approved);
    (app, f, ids)
}

fn the_form(app: &App) -> &crate::console::dialogs::form::Form {
    match app.modals().last() {
        Some(Modal::Form(form)) => form,
        other => panic!("expected a form, got {other:?}"),
    }
}

#[test]
fn o_on_a_request_under_review_says_it_cannot_have_an_outcome_and_how_to_list_decided_ones() {
    let (mut app, _, ids) = standard_app();
    select(&mut app, ids.openssl);
    assert!(press(&mut app, KeyCode::Char('o')).is_empty());
    assert!(app.modals().is_empty(), "no form opens");
    let text = message(&app);
    for part in [
        "cannot record the outcome of this request",
        "under_review",
        "f lists decided requests",
    ] {
        assert!(text.contains(part), "{part:?}: {text}");
    }
}

#[test]
fn recording_an_outcome_goes_form_then_confirmation_then_exactly_one_command() {
    let (mut app, _, ids) = on_the_approved_request();
    assert!(press(&mut app, KeyCode::Char('o')).is_empty());
    let names: Vec<&str> = the_form(&app).fields.iter().map(|f| f.spec.name).collect();
    assert_eq!(names, ["result", "incident", "note"]);
    press(&mut app, KeyCode::Right); // success -> failure
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "INC-4242");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "p99 doubled after the rollout");
    assert!(
        ctrl(&mut app, 's').is_empty(),
        "submitting only asks for confirmation"
    );
    let Some(Modal::Confirm(confirm)) = app.modals().last() else {
        panic!("a confirmation is shown");
    };
    for row in [
        ("outcome", "failure"),
        ("incident", "INC-4242"),
        ("note", "p99 doubled after the rollout"),
        ("recorded by", "carol"),
    ] {
        assert!(
            confirm.rows.contains(&(row.0.into(), row.1.into())),
            "{row:?} in {:?}",
            confirm.rows
        );
    }
    assert!(confirm.intent.permanence().contains("outcome is permanent"));
    let effects = press(&mut app, KeyCode::Char('y'));
    assert_eq!(
        effects,
        vec![Effect::Execute(Command::RecordOutcome {
            request_id: ids.approved,
            result: crate::engine::OutcomeResult::Failure,
            incident: Some("INC-4242".into()),
            note: Some("p99 doubled after the rollout".into()),
        })]
    );
    assert!(app.modals().is_empty());
}

#[test]
fn the_result_is_picked_with_arrows_that_wrap_or_by_its_first_letter_and_empty_fields_record_none()
{
    let (mut app, _, ids) = on_the_approved_request();
    press(&mut app, KeyCode::Char('o'));
    let chosen = |app: &App| {
        let form = the_form(app);
        crate::console::intent::Values::choice(form, "result")
    };
    assert_eq!(chosen(&app), 0, "success first");
    press(&mut app, KeyCode::Left);
    assert_eq!(chosen(&app), 2, "left from the first wraps to rolled_back");
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(
        chosen(&app),
        1,
        "f picks failure, and is not a queue key here"
    );
    press(&mut app, KeyCode::Char('r'));
    assert_eq!(chosen(&app), 2);
    press(&mut app, KeyCode::Char('x'));
    assert_eq!(
        chosen(&app),
        2,
        "a letter no result begins with changes nothing"
    );
    ctrl(&mut app, 's');
    let effects = press(&mut app, KeyCode::Char('y'));
    assert_eq!(
        effects,
        vec![Effect::Execute(Command::RecordOutcome {
            request_id: ids.approved,
            result: crate::engine::OutcomeResult::RolledBack,
            incident: None,
            note: None,
        })]
    );
}

#[test]
fn left_and_right_still_move_the_cursor_in_a_text_field() {
    let (mut app, _, _) = on_the_approved_request();
    press(&mut app, KeyCode::Char('o'));
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "ac");
    press(&mut app, KeyCode::Left);
    type_text(&mut app, "b");
    press(&mut app, KeyCode::Right);
    type_text(&mut app, "d");
    let form = the_form(&app);
    assert_eq!(crate::console::intent::Values::text(form, "note"), "abcd");
    assert_eq!(crate::console::intent::Values::choice(form, "result"), 0);
}

#[test]
fn o_works_on_an_auto_approved_request_and_on_one_with_an_active_exception() {
    let (mut app, f, _) = standard_app();
    press(&mut app, KeyCode::Char('f'));
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.status_filter(), StatusFilter::All);
    let eligible: Vec<Uuid> = f
        .state
        .requests()
        .filter(|r| {
            matches!(
                r.status,
                crate::engine::RequestStatus::AutoApproved
                    | crate::engine::RequestStatus::ExceptionRequired
            )
        })
        .map(|r| r.id)
        .filter(|id| f.state.exceptions_for(id).all(|e| e.is_active(now())))
        .collect();
    assert_eq!(
        eligible.len(),
        2,
        "the auto-approved and the actively excepted"
    );
    for id in eligible {
        select(&mut app, id);
        press(&mut app, KeyCode::Char('o'));
        assert!(
            matches!(app.modals().last(), Some(Modal::Form(_))),
            "{}",
            message(&app)
        );
        press(&mut app, KeyCode::Esc);
    }
}

#[test]
fn a_second_outcome_is_refused_naming_who_recorded_the_first() {
    let (mut f, ids) = standard();
    f.run(
        &people().dana,
        1,
        Command::RecordOutcome {
            request_id: ids.approved,
            result: crate::engine::OutcomeResult::Success,
            incident: None,
            note: None,
        },
    );
    let mut app = app_over(&f, people().carol, 120, 40);
    press(&mut app, KeyCode::Char('f'));
    select(&mut app, ids.approved);
    press(&mut app, KeyCode::Char('o'));
    assert!(app.modals().is_empty());
    let text = message(&app);
    assert!(
        text.contains("already has an outcome") && text.contains("dana"),
        "{text}"
    );
    assert!(!text.contains("f lists"), "{text}");
}

#[test]
fn an_outcome_form_whose_request_gets_one_meanwhile_says_so_and_records_nothing() {
    let (mut app, mut f, ids) = on_the_approved_request();
    press(&mut app, KeyCode::Char('o'));
    let before = f.state.head();
    f.run(
        &people().dana,
        0,
        Command::RecordOutcome {
            request_id: ids.approved,
            result: crate::engine::OutcomeResult::RolledBack,
            incident: None,
            note: None,
        },
    );
    app.update(Msg::Events(EventPage {
        head: f.state.head(),
        events: f.events[before as usize..].to_vec(),
    }));
    let stale = the_form(&app).stale.clone().unwrap_or_default();
    assert!(
        stale.contains("rolled_back") && stale.contains("dana"),
        "{stale}"
    );
    assert!(ctrl(&mut app, 's').is_empty(), "nothing can be submitted");
}

// ----- the report view -----

mod report_view {
    use chrono::Duration;

    use super::*;
    use crate::console::keymap::Context;
    use crate::console::tests::report::{empty_report, full_report, open_report, until};
    use crate::engine::report::{Bucket, ReportQuery};

    /// The one report an update asked for: its ticket and query.
    fn asked(effects: &[Effect]) -> (u64, ReportQuery) {
        match effects {
            [Effect::Report { ticket, query }] => (*ticket, *query),
            other => panic!("expected one report to be asked for, not {other:?}"),
        }
    }

    fn answer(app: &mut App, ticket: u64, report: crate::engine::report::Report) -> Vec<Effect> {
        app.update(Msg::Report {
            ticket,
            result: Ok(Box::new(report)),
        })
    }

    fn screen(app: &App) -> String {
        format!("{:?}", draw(app).backend())
    }

    fn query(since: Option<chrono::DateTime<chrono::Utc>>, by: Bucket) -> ReportQuery {
        ReportQuery {
            since,
            by,
            ..ReportQuery::default()
        }
    }

    #[test]
    fn capital_r_opens_the_report_view_asking_for_the_last_90_days_by_month_computing_meanwhile() {
        let (mut app, _, _) = standard_app();
        let (_, q) = asked(&press(&mut app, KeyCode::Char('R')));
        assert_eq!(
            q,
            ReportQuery::default(),
            "no since, no until: the backend's default period, by its own clock (or --at)"
        );
        assert_eq!(q.by, Bucket::Month);
        assert!(app.report().is_some());
        assert_eq!(app.contexts(), vec![Context::Report]);
        let s = screen(&app);
        assert!(s.contains("last 90 days · by month") && s.contains("computing"));
        assert!(!s.contains("Queue"), "the report takes the panes' place");
    }

    #[test]
    fn the_answer_fills_the_view_and_nothing_more_is_asked_for() {
        let (mut app, _, _) = standard_app();
        let (ticket, _) = asked(&press(&mut app, KeyCode::Char('R')));
        assert!(answer(&mut app, ticket, full_report()).is_empty());
        let (shown, _) = app.report().and_then(|r| r.shown()).unwrap();
        assert_eq!(shown, &full_report());
        let s = screen(&app);
        assert!(s.contains("Summary") && s.contains("412 submitted"));
        assert!(!s.contains("computing"));
    }

    #[test]
    fn esc_q_and_capital_r_return_to_the_panes_and_ctrl_c_still_quits() {
        for key in [KeyCode::Esc, KeyCode::Char('q'), KeyCode::Char('R')] {
            let (mut app, _, _) = standard_app();
            open_report(&mut app, full_report());
            assert!(press(&mut app, key).is_empty(), "{key:?} does not quit");
            assert!(app.report().is_none(), "{key:?} closes the report");
            assert_eq!(app.contexts(), vec![Context::Queue, Context::Global]);
            assert!(screen(&app).contains("Queue"));
        }
        let (mut app, _, _) = standard_app();
        open_report(&mut app, full_report());
        assert_eq!(ctrl(&mut app, 'c'), vec![Effect::Quit]);
    }

    #[test]
    fn p_asks_for_each_period_counted_back_from_the_end_of_the_backends_last_report() {
        // The report ends at UNTIL, not at the console's clock (NOW): as under --at.
        let (mut app, f, _) = standard_app();
        open_report(&mut app, full_report());
        let first = f.state.requests().map(|r| r.submitted_at).min().unwrap();
        let midnight = first.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
        for (wanted, since) in [
            ("last 365 days", Some(until() - Duration::days(365))),
            ("all time", Some(midnight)),
            ("last 30 days", Some(until() - Duration::days(30))),
            ("last 90 days", None),
        ] {
            let (ticket, q) = asked(&press(&mut app, KeyCode::Char('p')));
            assert_eq!(q, query(since, Bucket::Month), "{wanted}");
            assert!(screen(&app).contains(&format!("{wanted} · by month")));
            assert!(answer(&mut app, ticket, full_report()).is_empty());
        }
    }

    #[test]
    fn b_asks_for_the_same_period_by_week_then_by_month() {
        let (mut app, _, _) = standard_app();
        open_report(&mut app, full_report());
        let (ticket, q) = asked(&press(&mut app, KeyCode::Char('b')));
        assert_eq!(q, query(None, Bucket::Week));
        assert!(screen(&app).contains("last 90 days · by week"));
        answer(&mut app, ticket, full_report());
        let (_, q) = asked(&press(&mut app, KeyCode::Char('b')));
        assert_eq!(q, query(None, Bucket::Month));
    }

    #[test]
    fn a_period_chosen_before_the_first_answer_is_asked_for_once_that_answer_gives_the_end() {
        let (mut app, _, _) = standard_app();
        let (first, _) = asked(&press(&mut app, KeyCode::Char('R')));
        assert!(
            press(&mut app, KeyCode::Char('p')).is_empty(),
            "the last 365 days need the backend's end of the period first"
        );
        let (_, q) = asked(&answer(&mut app, first, full_report()));
        assert_eq!(q, query(Some(until() - Duration::days(365)), Bucket::Month));
    }

    #[test]
    fn an_answer_to_a_report_no_longer_wanted_is_dropped() {
        let (mut app, _, _) = standard_app();
        let (first, _) = asked(&press(&mut app, KeyCode::Char('R')));
        let (second, _) = asked(&press(&mut app, KeyCode::Char('b')));
        answer(&mut app, first, empty_report());
        assert!(
            app.report().unwrap().shown().is_none(),
            "the stale answer is dropped"
        );
        answer(&mut app, second, full_report());
        let (shown, choice) = app.report().unwrap().shown().unwrap();
        assert_eq!(shown, &full_report());
        assert_eq!(choice.by, Bucket::Week);
    }

    #[test]
    fn a_failed_report_says_why_in_the_status_bar_and_is_asked_again_only_on_a_key() {
        let (mut app, _, _) = standard_app();
        let (ticket, _) = asked(&press(&mut app, KeyCode::Char('R')));
        let more = app.update(Msg::Report {
            ticket,
            result: Err("the server could not be reached".into()),
        });
        assert!(more.is_empty(), "no retry by itself");
        assert_eq!(app.message().map(|m| m.level), Some(Level::Error));
        assert_eq!(
            message(&app),
            "report not computed: the server could not be reached"
        );
        let s = screen(&app);
        assert!(s.contains("report not computed: the server could not be reached"));
        assert!(s.contains("could not be computed"));
        assert!(app.update(Msg::Tick(now())).is_empty());
        let (_, q) = asked(&press(&mut app, KeyCode::Char('b')));
        assert_eq!(q.by, Bucket::Week);
    }

    #[test]
    fn new_events_while_the_view_is_open_ask_for_the_report_again() {
        let (mut app, mut f, _) = standard_app();
        open_report(&mut app, full_report());
        let before = f.state.head();
        f.submit(&people().erik, 0, "late-r0001", "Late change", 40.0);
        let effects = app.update(Msg::Events(EventPage {
            head: f.state.head(),
            events: f.events[before as usize..].to_vec(),
        }));
        let (_, q) = asked(&effects);
        assert_eq!(q, ReportQuery::default());
        assert!(screen(&app).contains("updating"));
    }

    #[test]
    fn question_mark_opens_help_over_the_report_listing_its_keys_and_esc_returns_to_it() {
        let (mut app, _, _) = standard_app();
        open_report(&mut app, full_report());
        press(&mut app, KeyCode::Char('?'));
        assert!(matches!(app.modals().last(), Some(Modal::Help(_))));
        for _ in 0..80 {
            press(&mut app, KeyCode::Down);
        }
        let s = screen(&app);
        assert!(s.contains("Report (after R)") && s.contains("period: last 30, 90, 365 days"));
        press(&mut app, KeyCode::Esc);
        assert!(app.modals().is_empty());
        assert!(app.report().is_some(), "back to the report, not the panes");
    }

    #[test]
    fn the_keys_of_the_report_view_scroll_it_and_stop_at_the_ends() {
        let mut app = app_over(&standard().0, people().carol, 80, 24);
        open_report(&mut app, full_report());
        let scroll = |app: &App| app.report().unwrap().scroll();
        press(&mut app, KeyCode::Char('j'));
        assert_eq!(scroll(&app), 1);
        press(&mut app, KeyCode::Char('G'));
        let end = scroll(&app);
        assert!(
            end > 20,
            "the full report is longer than two screens at 80x24"
        );
        press(&mut app, KeyCode::Down);
        assert_eq!(scroll(&app), end);
        press(&mut app, KeyCode::PageUp);
        assert_eq!(scroll(&app), end - 21);
        press(&mut app, KeyCode::Char('g'));
        assert_eq!(scroll(&app), 0);
        app.update(Msg::Resize(160, 48));
        press(&mut app, KeyCode::Char('G'));
        assert_eq!(scroll(&app), 0, "nothing to scroll at 160x48");
    }

    #[test]
    fn action_keys_of_the_panes_do_nothing_in_the_report_view() {
        let (mut app, _, _) = standard_app();
        open_report(&mut app, full_report());
        for c in ['a', 'c', 'r', 'x', 'o', '/', 's', 'f'] {
            assert!(press(&mut app, KeyCode::Char(c)).is_empty(), "{c}");
            assert!(app.modals().is_empty(), "{c} opens nothing");
        }
        assert!(!app.filtering());
        assert!(app.report().is_some());
    }
}

/// The fixture's state up to `head` events, as a backend's snapshot with a head hash.
fn linked_app(f: &Fixture, head: u64, head_hash: &str) -> App {
    let mut app = app_over(f, people().carol, 120, 40);
    let mut state = State::new();
    for e in &f.events[..head as usize] {
        state
            .apply(e.seq, e.event.at, e.event.kind.clone())
            .unwrap();
    }
    app.update(Msg::Snapshot {
        head_hash: Some(head_hash.to_string()),
        state: Box::new(state),
        head,
    });
    app
}

fn hex(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

#[test]
fn an_event_that_does_not_link_to_the_snapshot_s_head_makes_the_console_reload_instead_of_applying_it()
 {
    let (f, _) = standard();
    let head = f.state.head() - 1;
    let mut app = linked_app(&f, head, &hex('a'));
    let mut next = f.events[head as usize].clone();
    next.prev = hex('b');
    next.hash = hex('c');
    let effects = app.update(Msg::Events(EventPage {
        head: head + 1,
        events: vec![next.clone()],
    }));
    assert!(effects.contains(&Effect::Resync), "{effects:?}");
    assert_eq!(
        app.state().head(),
        head,
        "nothing of another history is applied"
    );
    assert!(
        app.out_of_sync()
            .is_some_and(|why| why.contains("does not follow")),
        "{:?}",
        app.out_of_sync()
    );

    // The same event, linked: applied, and the next must link to its own hash.
    let mut app = linked_app(&f, head, &hex('a'));
    next.prev = hex('a');
    let effects = app.update(Msg::Events(EventPage {
        head: head + 1,
        events: vec![next],
    }));
    assert!(!effects.contains(&Effect::Resync), "{effects:?}");
    assert_eq!(app.state(), &f.state);
}

#[test]
fn a_backend_that_now_holds_fewer_events_than_shown_makes_the_console_reload() {
    let (f, _) = standard();
    let head = f.state.head();
    let mut app = linked_app(&f, head, &hex('a'));
    let effects = app.update(Msg::Events(EventPage {
        head: 2,
        events: Vec::new(),
    }));
    assert!(effects.contains(&Effect::Resync), "{effects:?}");
    assert!(
        app.out_of_sync().is_some_and(|why| why.contains("fewer")),
        "{:?}",
        app.out_of_sync()
    );
}
