//! The report view drawn: a full report and an empty one (zeros and nulls) at 80x24 and
//! 120x40 as insta snapshots, and hostile names from the report (approvers, factors, bands)
//! checked on every cell. The reports are built by hand, as a backend would answer them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use crossterm::event::KeyCode;
use insta::assert_snapshot;

use super::*;
use crate::engine::report::{
    self, AgeDays, ApproverRow, BandRow, Bucket, Calibration, DecisionCounts, ExceptionCounts,
    FactorCalibration, GateCounts, LeadTime, OutcomeCounts, Outcomes, OutcomesByGate, Pending,
    Period, PeriodRow, Report, ReportParams, RequestCounts,
};
use crate::untrusted::is_unsafe;

/// The end of the reports' period: not the console's clock (`NOW`), as under `--at`.
pub const UNTIL: &str = "2026-11-20T12:00:00Z";

pub fn until() -> DateTime<Utc> {
    time::parse(UNTIL).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    time::parse(text).unwrap()
}

fn month(start: &str, counts: [u64; 8], p50: Option<f64>) -> PeriodRow {
    let [
        submitted,
        auto,
        approved,
        conditional,
        rejected,
        x_requested,
        x_approved,
        _,
    ] = counts;
    PeriodRow {
        start: at(start),
        submitted,
        auto_approved: auto,
        approved,
        conditional,
        rejected,
        exceptions_requested: x_requested,
        exceptions_approved: x_approved,
        lead_time_hours_p50: p50,
    }
}

fn band(i: usize, recorded: u64, failures: u64) -> BandRow {
    BandRow {
        band: report::band_name(i),
        recorded,
        failures,
        failure_rate: (recorded > 0).then(|| failures as f64 / recorded as f64),
    }
}

fn approver(name: &str, approved: u64, conditional: u64, rejected: u64) -> ApproverRow {
    ApproverRow {
        approver: name.into(),
        approved,
        conditional,
        rejected,
    }
}

fn outcome(recorded: u64, failures: u64) -> OutcomeCounts {
    OutcomeCounts {
        recorded,
        failures,
        failure_rate: (recorded > 0).then(|| failures as f64 / recorded as f64),
    }
}

/// Every section with something in it, and a null here and there (a month without manual
/// decisions, bands without outcomes, a factor no failed request had).
pub fn full_report() -> Report {
    let factor = |auc, fail, ok| FactorCalibration {
        auc,
        mean_failure: fail,
        mean_success: ok,
    };
    let factors: BTreeMap<String, FactorCalibration> = [
        ("blast_radius", factor(Some(0.81), Some(21.4), Some(9.8))),
        ("change_size", factor(Some(0.74), Some(24.0), Some(14.2))),
        ("incident_history", factor(Some(0.52), Some(8.1), Some(7.9))),
        (
            "rollback_complexity",
            factor(Some(0.66), Some(13.0), Some(9.1)),
        ),
        ("vendor_patch", factor(None, None, Some(3.0))),
    ]
    .into_iter()
    .map(|(n, f)| (n.to_string(), f))
    .collect();
    Report {
        period: Period {
            since: until() - Duration::days(90),
            until: until(),
        },
        requests: RequestCounts {
            submitted: 412,
            by_gate: GateCounts {
                auto_approved: 230,
                manual_review: 150,
                exception_required: 32,
            },
        },
        decisions: DecisionCounts {
            auto_approved: 230,
            approved: 120,
            conditional: 20,
            rejected: 15,
        },
        approval_rate: Some(140.0 / 155.0),
        auto_approval_share: Some(230.0 / 412.0),
        decision_lead_time_hours: LeadTime {
            count: 155,
            p50: Some(4.25),
            p90: Some(30.1),
            max: Some(96.0),
        },
        pending: Pending {
            under_review: 12,
            exception_required: 3,
            age_days: AgeDays {
                d0_1: 6,
                d2_5: 4,
                d6_30: 3,
                d31_90: 1,
                over_90: 1,
            },
        },
        exceptions: ExceptionCounts {
            requested: 20,
            approved: 15,
            rejected: 3,
            expired: 2,
            active_at_end: 9,
            expiring_within_7_days: 2,
        },
        periods: vec![
            month("2026-08-01T00:00:00Z", [40, 25, 0, 0, 0, 2, 1, 0], None),
            month(
                "2026-09-01T00:00:00Z",
                [140, 80, 45, 8, 5, 7, 5, 0],
                Some(5.5),
            ),
            month(
                "2026-10-01T00:00:00Z",
                [150, 85, 50, 9, 6, 8, 6, 0],
                Some(3.9),
            ),
            month(
                "2026-11-01T00:00:00Z",
                [82, 40, 25, 3, 4, 3, 3, 0],
                Some(12.0),
            ),
        ],
        approvers: vec![
            approver("carol", 50, 8, 6),
            approver("dave", 40, 6, 4),
            approver("mei", 20, 4, 3),
            approver("ola", 6, 1, 1),
            approver("piotr", 3, 1, 1),
            approver("quinn", 1, 0, 0),
        ],
        outcomes: Outcomes {
            recorded: 80,
            failures: 6,
            failure_rate: Some(6.0 / 80.0),
            by_gate: OutcomesByGate {
                auto_approved: outcome(50, 2),
                manual_review: outcome(25, 3),
                exception_required: outcome(5, 1),
            },
            by_risk_band: vec![
                band(0, 10, 0),
                band(1, 14, 0),
                band(2, 12, 1),
                band(3, 9, 0),
                band(4, 8, 1),
                band(5, 11, 1),
                band(6, 9, 1),
                band(7, 4, 1),
                band(8, 3, 1),
                band(9, 0, 0),
            ],
        },
        calibration: Some(Calibration {
            score_auc: 0.78,
            factors,
        }),
        what_if: None,
    }
}

/// Nothing happened in the period: zeros and nulls, as the engine computes them.
pub fn empty_report() -> Report {
    let params = ReportParams {
        since: until() - Duration::days(90),
        until: until(),
        by: Bucket::Month,
        what_if: None,
    };
    report::compute(&State::new(), &params)
}

/// Press `R` and answer the report it asks for with `report`.
pub fn open_report(app: &mut App, report: Report) {
    let effects = press(app, KeyCode::Char('R'));
    let [Effect::Report { ticket, .. }] = effects.as_slice() else {
        panic!("R asks for one report, not {effects:?}");
    };
    let more = app.update(Msg::Report {
        ticket: *ticket,
        result: Ok(Box::new(report)),
    });
    assert!(more.is_empty(), "nothing more is asked: {more:?}");
}

const SIZES: [(u16, u16); 2] = [(120, 40), (80, 24)];

fn report_app(size: (u16, u16), report: Report) -> App {
    let (f, _) = standard();
    let mut app = app_over(&f, people().carol, size.0, size.1);
    open_report(&mut app, report);
    app
}

#[test]
fn full_report_at_80x24_and_120x40() {
    for size in SIZES {
        let app = report_app(size, full_report());
        assert_snapshot!(
            format!("report_full_{}x{}", size.0, size.1),
            draw(&app).backend()
        );
    }
}

#[test]
fn full_report_scrolled_to_the_end_in_80x24() {
    let mut app = report_app((80, 24), full_report());
    press(&mut app, KeyCode::Char('G'));
    assert_snapshot!("report_full_end_80x24", draw(&app).backend());
}

#[test]
fn empty_report_at_80x24_and_120x40_shows_zeros_and_n_a_never_null() {
    for size in SIZES {
        let mut app = report_app(size, empty_report());
        let mut screens = String::new();
        loop {
            let screen = format!("{:?}", draw(&app).backend());
            screens.push_str(&screen);
            let before = app.report().map(|r| r.scroll());
            press(&mut app, KeyCode::PageDown);
            if app.report().map(|r| r.scroll()) == before {
                break;
            }
        }
        assert!(screens.contains("n/a"), "nulls are written n/a");
        assert!(!screens.contains("null"), "never null");
        press(&mut app, KeyCode::Char('g'));
        assert_snapshot!(
            format!("report_empty_{}x{}", size.0, size.1),
            draw(&app).backend()
        );
    }
}

#[test]
fn wide_terminals_show_every_section_without_scrolling() {
    let app = report_app((160, 48), full_report());
    let screen = format!("{:?}", draw(&app).backend());
    for title in [
        "Summary",
        "Decisions per month",
        "Lead time p50",
        "Exceptions per month",
        "Pending at the end",
        "Failure rate by risk band",
        "Approvers",
        "Calibration",
    ] {
        assert!(screen.contains(title), "{title} is on screen");
    }
    assert!(!screen.contains("lines 1–"), "nothing to scroll");
}

#[test]
fn the_report_view_is_drawn_without_a_panic_at_every_size_from_the_minimum() {
    for report in [full_report(), empty_report()] {
        for (w, h) in [
            (60, 16),
            (61, 17),
            (79, 23),
            (100, 30),
            (119, 40),
            (200, 60),
        ] {
            let mut app = report_app((w, h), report.clone());
            draw(&app);
            press(&mut app, KeyCode::Char('G'));
            draw(&app);
            press(&mut app, KeyCode::Char('b'));
            draw(&app);
        }
    }
}

const HOSTILE: &str = "\u{202E}evil\u{200B}zw\u{1b}[31m";

#[test]
fn hostile_approver_factor_and_band_names_never_reach_a_cell() {
    let mut report = full_report();
    report.approvers[0].approver = format!("mallory{HOSTILE}");
    if let Some(c) = &mut report.calibration {
        c.factors.insert(
            format!("factor{HOSTILE}"),
            FactorCalibration {
                auc: Some(0.9),
                mean_failure: Some(1.0),
                mean_success: Some(0.5),
            },
        );
    }
    report.outcomes.by_risk_band[3].band = format!("3{HOSTILE}");
    for (w, h) in [(80, 24), (120, 40), (160, 48)] {
        let mut app = report_app((w, h), report.clone());
        let mut seen = String::new();
        loop {
            let terminal = draw(&app);
            let buffer = terminal.backend().buffer();
            for y in 0..buffer.area.height {
                for x in 0..buffer.area.width {
                    let symbol = buffer[(x, y)].symbol();
                    assert!(
                        !symbol.chars().any(is_unsafe),
                        "{w}x{h}: cell ({x},{y}) holds {symbol:?}"
                    );
                    seen.push_str(symbol);
                }
            }
            let before = app.report().map(|r| r.scroll());
            press(&mut app, KeyCode::Down);
            if app.report().map(|r| r.scroll()) == before {
                break;
            }
        }
        assert!(seen.contains("mallory"), "{w}x{h}: the approver is listed");
        assert!(
            !seen.contains('\u{202E}') && !seen.contains('\u{200B}'),
            "{w}x{h}: neither the override nor the zero-width space is drawn"
        );
    }
}
