//! Benchmark: drawing the console's report view of a full report, once computed (target:
//! under 16 ms, one frame at 60 Hz). Rendered into ratatui's TestBackend at 160x48, so the
//! figure is the view's own work, without the terminal's. The report is computed once, before
//! timing, from a demo state (with its outcomes, so calibration too); should a demo record
//! none, outcomes and calibration are filled in by hand, so that every section draws.
//!
//!     cargo bench --bench report_view
//!
//! Figures go in docs/perf.md. Nothing here asserts a speed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use cab::console::Theme;
use cab::console::app::{App, Effect, Msg};
use cab::console::view::view;
use cab::engine::report::{self, Bucket, Calibration, FactorCalibration, Report, ReportParams};
use cab::engine::{Actor, Policy, Role, State, time};
use chrono::Duration;
use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const REQUESTS: usize = 20_000;

fn demo_state() -> State {
    let now = time::parse("2026-11-28T12:00:00Z").unwrap();
    let mut state = State::new();
    for event in cab::demo::Generator::new(REQUESTS, 1, now, &Policy::default()) {
        let event = event.expect("the demo's events follow the rules");
        state.apply(state.head() + 1, event.at, event.kind).unwrap();
    }
    state
}

/// The report of the last `days` days, every section filled.
fn full_report(state: &State, days: i64, by: Bucket) -> Report {
    let until = time::parse("2026-11-28T12:00:00Z").unwrap();
    let params = ReportParams {
        since: until - Duration::days(days),
        until,
        by,
        what_if: None,
    };
    let mut r = report::compute(state, &params);
    if r.outcomes.recorded == 0 {
        for (i, band) in r.outcomes.by_risk_band.iter_mut().enumerate() {
            band.recorded = 20 + i as u64;
            band.failures = i as u64;
            band.failure_rate = Some(band.failures as f64 / band.recorded as f64);
        }
        r.outcomes.recorded = r.outcomes.by_risk_band.iter().map(|b| b.recorded).sum();
        r.outcomes.failures = r.outcomes.by_risk_band.iter().map(|b| b.failures).sum();
        r.outcomes.failure_rate = Some(r.outcomes.failures as f64 / r.outcomes.recorded as f64);
    }
    if r.calibration.is_none() {
        let factors = [
            "blast_radius",
            "change_size",
            "incident_history",
            "rollback_complexity",
            "test_coverage_gap",
        ]
        .into_iter()
        .map(|name| {
            let f = FactorCalibration {
                auc: Some(0.7),
                mean_failure: Some(20.0),
                mean_success: Some(10.0),
            };
            (name.to_string(), f)
        })
        .collect();
        r.calibration = Some(Calibration {
            score_auc: 0.78,
            factors,
        });
    }
    r
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

/// A console at `w` x `h` with the report view open on `report`.
fn console_showing(report: Report, w: u16, h: u16, by: Bucket) -> App {
    let now = time::parse("2026-11-28T12:00:00Z").unwrap();
    let me = Actor::new("carol", [Role::CabMember, Role::SecurityReviewer]).unwrap();
    let mut app = App::new(me, "store bench".into(), false, now, Theme::colored());
    app.update(Msg::Resize(w, h));
    let mut effects = app.update(key('R'));
    if by == Bucket::Week {
        effects = app.update(key('b'));
    }
    let Some(Effect::Report { ticket, .. }) = effects.last() else {
        panic!("R asks for a report: {effects:?}");
    };
    app.update(Msg::Report {
        ticket: *ticket,
        result: Ok(Box::new(report)),
    });
    assert!(app.report().and_then(|r| r.shown()).is_some());
    app
}

fn report_view(c: &mut Criterion) {
    let state = demo_state();
    let mut group = c.benchmark_group("console report view");
    for (name, days, by, (w, h)) in [
        ("90 days by month, 160x48", 90, Bucket::Month, (160, 48)),
        ("365 days by week, 160x48", 365, Bucket::Week, (160, 48)),
        ("90 days by month, 80x24", 90, Bucket::Month, (80, 24)),
    ] {
        let app = console_showing(full_report(&state, days, by), w, h, by);
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        group.bench_function(format!("draw: {name}"), |b| {
            b.iter(|| {
                terminal.draw(|f| view(black_box(&app), f)).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = report_view
}
criterion_main!(benches);
