//! The renderers on hand-built reports: one with zeros and nulls everywhere, one with every
//! part filled and hostile names from the store.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use unicode_width::UnicodeWidthStr;

use super::{Format, csv, html, render, text};
use crate::cli::args::ReportFormat;
use crate::engine::report::*;

const SCRIPT: &str = "<script>alert(1)</script>";
const FORMULA: &str = "=HYPERLINK(\"x\",\"y\")";
const BIDI: &str = "mallory\u{202E}lanigiro\u{200B}\u{1b}[31m";

fn at(text: &str) -> DateTime<Utc> {
    crate::engine::time::parse(text).unwrap()
}

fn bands(filled: bool) -> Vec<BandRow> {
    (0..BANDS)
        .map(|i| {
            let (recorded, failures) = if filled {
                (10 + i as u64 * 3, i as u64)
            } else {
                (0, 0)
            };
            BandRow {
                band: band_name(i),
                recorded,
                failures,
                failure_rate: (recorded > 0).then(|| failures as f64 / recorded as f64),
            }
        })
        .collect()
}

/// Zeros and nulls everywhere: a period with nothing in it.
fn empty() -> Report {
    let (since, until) = (at("2026-08-30T09:00:00Z"), at("2026-11-28T09:00:00Z"));
    Report {
        period: Period { since, until },
        requests: RequestCounts::default(),
        decisions: DecisionCounts::default(),
        approval_rate: None,
        auto_approval_share: None,
        decision_lead_time_hours: LeadTime::default(),
        pending: Pending::default(),
        exceptions: ExceptionCounts::default(),
        periods: bucket_starts(Bucket::Month, since, until)
            .into_iter()
            .map(PeriodRow::new)
            .collect(),
        approvers: Vec::new(),
        outcomes: Outcomes {
            recorded: 0,
            failures: 0,
            failure_rate: None,
            by_gate: OutcomesByGate::default(),
            by_risk_band: bands(false),
        },
        calibration: None,
        what_if: None,
    }
}

/// Every part filled, by week, with hostile and long names where the store's text shows.
fn full() -> Report {
    let (since, until) = (at("2026-09-01T00:00:00Z"), at("2026-11-28T09:00:00Z"));
    let periods = bucket_starts(Bucket::Week, since, until)
        .into_iter()
        .enumerate()
        .map(|(i, start)| {
            let i = i as u64;
            PeriodRow {
                start,
                submitted: 100_000 + i * 7,
                auto_approved: 60_000 + i,
                approved: 20_000 + 3 * i,
                conditional: 5_000,
                rejected: 2_000 + i,
                exceptions_requested: 900,
                exceptions_approved: 700,
                lead_time_hours_p50: (i % 4 != 3).then_some(3.5 + i as f64),
            }
        })
        .collect();
    let approver = |name: &str, n: u64| ApproverRow {
        approver: name.to_string(),
        approved: n,
        conditional: n / 2,
        rejected: n / 3,
    };
    let factor = |auc| FactorCalibration {
        auc,
        mean_failure: Some(41.25),
        mean_success: auc.map(|_| 12.5),
    };
    Report {
        period: Period { since, until },
        requests: RequestCounts {
            submitted: 1_234_567,
            by_gate: GateCounts {
                auto_approved: 800_000,
                manual_review: 400_000,
                exception_required: 34_567,
            },
        },
        decisions: DecisionCounts {
            auto_approved: 800_000,
            approved: 300_000,
            conditional: 60_000,
            rejected: 30_000,
        },
        approval_rate: Some(0.923),
        auto_approval_share: Some(0.648),
        decision_lead_time_hours: LeadTime {
            count: 390_000,
            p50: Some(4.25),
            p90: Some(30.1),
            max: Some(2_000.75),
        },
        pending: Pending {
            under_review: 1_200,
            exception_required: 300,
            age_days: AgeDays {
                d0_1: 700,
                d2_5: 400,
                d6_30: 250,
                d31_90: 100,
                over_90: 50,
            },
        },
        exceptions: ExceptionCounts {
            requested: 9_000,
            approved: 7_000,
            rejected: 1_000,
            expired: 2_000,
            active_at_end: 3_000,
            expiring_within_7_days: 400,
        },
        periods,
        approvers: vec![
            approver("carol", 90_000),
            approver(SCRIPT, 500),
            approver(FORMULA, 400),
            approver(BIDI, 300),
            approver(&"very-long-approver-name-".repeat(6), 200),
            approver("山田太郎の承認者アカウント名がとても長い場合の表示", 100),
        ],
        outcomes: Outcomes {
            recorded: 1_000,
            failures: 80,
            failure_rate: Some(0.08),
            by_gate: OutcomesByGate {
                auto_approved: OutcomeCounts {
                    recorded: 600,
                    failures: 30,
                    failure_rate: Some(0.05),
                },
                manual_review: OutcomeCounts {
                    recorded: 390,
                    failures: 48,
                    failure_rate: Some(48.0 / 390.0),
                },
                exception_required: OutcomeCounts {
                    recorded: 10,
                    failures: 2,
                    failure_rate: Some(0.2),
                },
            },
            by_risk_band: bands(true),
        },
        calibration: Some(Calibration {
            score_auc: 0.7125,
            factors: BTreeMap::from([
                ("blast_radius".to_string(), factor(Some(0.66))),
                (SCRIPT.to_string(), factor(Some(0.5))),
                (BIDI.to_string(), factor(None)),
                ("x".repeat(70), factor(Some(0.123456))),
            ]),
        }),
        what_if: Some(WhatIf {
            thresholds: WhatIfThresholds {
                auto_approve_max: 60.0,
                manual_review_max: 82.5,
            },
            by_gate: GateCounts {
                auto_approved: 900_000,
                manual_review: 310_000,
                exception_required: 24_567,
            },
            changes: BTreeMap::from([
                ("manual_review->auto_approved".to_string(), 100_000),
                ("exception_required->manual_review".to_string(), 10_000),
            ]),
            failures_auto_approved: 12,
        }),
    }
}

fn unsafe_char(text: &str) -> Option<char> {
    text.chars()
        .find(|c| *c != '\n' && crate::untrusted::is_unsafe(*c))
}

// ----- text -----

#[test]
fn text_of_an_empty_report_prints_n_a_for_nulls_and_never_null() {
    let t = text::render(&empty());
    assert!(!t.contains("null"), "{t}");
    assert!(t.contains("approval rate") && t.contains("n/a"), "{t}");
    assert!(t.contains("No manual decision in the period."), "{t}");
    assert!(t.contains("needs at least 2 failures"), "{t}");
    assert!(t.contains("No activity in the period."), "{t}");
    assert!(!t.contains("What if"), "no what-if was asked:\n{t}");
    for line in t.lines() {
        assert!(line.width() <= text::WIDTH, "{line:?} is too wide");
    }
}

#[test]
fn text_of_a_full_report_fits_80_columns_and_has_every_section() {
    let t = text::render(&full());
    for line in t.lines() {
        assert!(
            line.width() <= text::WIDTH,
            "{} columns: {line:?}",
            line.width()
        );
    }
    for section in [
        "CAB report: 2026-09-01T00:00:00Z to 2026-11-28T09:00:00Z",
        "Requests submitted",
        "Decisions",
        "Lead time",
        "Periods, by week",
        "Decisions per week",
        "Pending at 2026-11-28T09:00:00Z",
        "Exceptions",
        "Approvers",
        "Outcomes",
        "Failure rate by risk band",
        "Calibration",
        "What if: auto-approve up to 60, manual review up to 82.5",
    ] {
        assert!(t.contains(section), "no {section:?} in\n{t}");
    }
    assert!(t.contains("1,234,567"), "counts are grouped:\n{t}");
    assert!(
        t.contains("92.3%") && t.contains("4.2 h") && t.contains("0.713"),
        "{t}"
    );
    assert!(t.contains('█'), "bars are drawn:\n{t}");
}

#[test]
fn text_writes_no_control_bidi_or_zero_width_character_from_the_store() {
    let t = text::render(&full());
    assert_eq!(unsafe_char(&t), None, "{}", t.escape_debug());
    assert!(t.contains("mallory"), "the name is shown, cleaned:\n{t}");
}

#[test]
fn bars_are_whole_blocks_then_the_eighth_left_and_a_sliver_for_any_value() {
    assert_eq!(text::bar(0.0, 10.0, 10), "");
    assert_eq!(text::bar(5.0, 0.0, 10), "");
    assert_eq!(text::bar(10.0, 10.0, 10), "█".repeat(10));
    assert_eq!(text::bar(5.0, 10.0, 10), "█████");
    // 10 / 16 of 4 columns: 20 eighths, 2 whole and a half.
    assert_eq!(text::bar(10.0, 16.0, 4), "██▌");
    assert_eq!(text::bar(1.0, 1_000_000.0, 10), "▏");
}

#[test]
fn leading_periods_without_activity_are_not_drawn_and_the_text_says_how_many() {
    let mut r = full();
    for row in r.periods.iter_mut().take(3) {
        *row = PeriodRow::new(row.start);
    }
    let first = r.periods[0].start.format("%Y-%m-%d").to_string();
    let fourth = r.periods[3].start.format("%Y-%m-%d").to_string();
    let t = text::render(&r);
    assert!(
        t.contains("3 earlier weeks without any activity not shown."),
        "{t}"
    );
    assert!(!t.contains(&first) && t.contains(&fourth), "{t}");
    let h = html::render(&r);
    assert!(h.contains("3 earlier weeks without any activity not shown."));
}

// ----- HTML -----

/// Every tag name opened with `<` in the document, lower-cased.
fn tags(h: &str) -> Vec<String> {
    h.split('<')
        .skip(1)
        .map(|rest| {
            rest.trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .collect()
}

#[test]
fn html_escapes_names_from_the_store_so_no_script_or_markup_gets_in() {
    let h = html::render(&full());
    assert!(!h.to_ascii_lowercase().contains("<script"), "{h}");
    assert!(
        h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the name is shown"
    );
    assert!(h.contains("=HYPERLINK(&quot;x&quot;,&quot;y&quot;)"));
    assert_eq!(unsafe_char(&h), None, "{}", h.escape_debug());
    let allowed = [
        "!doctype",
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "header",
        "h1",
        "h2",
        "p",
        "nav",
        "ul",
        "li",
        "a",
        "main",
        "section",
        "table",
        "caption",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "span",
        "code",
        "strong",
        "figure",
        "figcaption",
        "svg",
        "desc",
        "line",
        "rect",
        "text",
        "footer",
    ];
    for tag in tags(&h) {
        assert!(allowed.contains(&tag.as_str()), "unexpected tag <{tag}>");
    }
}

#[test]
fn html_is_self_contained_nothing_is_fetched_and_links_stay_in_the_page() {
    for r in [empty(), full()] {
        let h = html::render(&r);
        let lower = h.to_ascii_lowercase();
        for network in [
            "http://", "https://", "src=", "url(", "@import", "<link", "//cdn",
        ] {
            assert!(!lower.contains(network), "{network} in the HTML");
        }
        for href in lower.split("href=\"").skip(1) {
            assert!(href.starts_with('#'), "a link out of the page: {href:.40}");
        }
        assert!(lower.contains("<svg") && lower.contains("@media print"));
        assert!(lower.contains("@page { size: a4"));
        assert!(!h.contains("null"), "null is never shown");
    }
}

#[test]
fn html_charts_are_accessible_images_with_a_title_and_a_description() {
    let h = html::render(&full());
    let svgs = h.matches("<svg ").count();
    assert_eq!(svgs, 5, "decisions, lead time, pending, exceptions, bands");
    assert_eq!(h.matches("role=\"img\"").count(), svgs);
    for open in h.split("<svg ").skip(1) {
        let id = open
            .split("aria-labelledby=\"")
            .nth(1)
            .and_then(|s| s.split('-').next())
            .unwrap();
        assert!(open.contains("<title id=\""), "svg {id} has no title");
        assert!(open.contains("<desc id=\""), "svg {id} has no description");
    }
    assert!(
        h.contains("<th scope=\"col\""),
        "tables have column headers"
    );
    assert_eq!(h.matches("<h1>").count(), 1);
}

#[test]
fn html_opens_with_the_compliance_summary_an_auditor_can_file() {
    let h = html::render(&full());
    let summary = h.find("Compliance summary").unwrap();
    let first_chart = h.find("<svg").unwrap();
    assert!(summary < first_chart, "the summary comes first");
    for fact in [
        "2026-09-01T00:00:00Z to 2026-11-28T09:00:00Z",
        "1,234,567",
        "Every manual decision was made by a CAB member other than",
        "cab verify",
        "expires at most 90 days after it is",
        "92.3%",
    ] {
        assert!(h.contains(fact), "the summary lacks {fact:?}");
    }
}

#[test]
fn html_of_an_empty_report_draws_no_columns_and_says_why() {
    let h = html::render(&empty());
    assert!(h.contains("No activity in the period."));
    assert!(h.contains("No manual decision in the period."));
    assert!(h.contains("calibration needs at least 2 failures"));
    assert!(
        !h.contains("What if the thresholds"),
        "no what-if was asked"
    );
    // Pending, exceptions and the bands chart are still drawn (with nothing in them).
    assert_eq!(h.matches("<svg ").count(), 3);
    assert!(!h.contains("NaN") && !h.contains("inf"), "{h}");
}

// ----- CSV -----

/// The figures of the JSON object: every value that is not an object or a list, less the
/// names of list rows (a period's start, an approver, a band), which CSV puts in `item`.
fn figures(v: &serde_json::Value, key: &str) -> usize {
    match v {
        serde_json::Value::Object(m) => m.iter().map(|(k, v)| figures(v, k)).sum(),
        serde_json::Value::Array(a) => a.iter().map(|v| figures(v, "")).sum(),
        _ if matches!(key, "start" | "approver" | "band") => 0,
        _ => 1,
    }
}

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn csv_has_one_row_of_four_cells_per_figure_of_the_json_object() {
    for r in [empty(), full()] {
        let text = csv::render(&r).unwrap();
        let rows = parse_csv(&text);
        assert_eq!(rows[0], csv::HEADER);
        assert!(rows.iter().all(|row| row.len() == 4), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(rows.len() - 1, figures(&json, ""), "{text}");
        assert!(!text.contains("null"));
    }
}

#[test]
fn csv_keeps_every_cell_from_starting_a_formula_and_from_hiding_characters() {
    let text = csv::render(&full()).unwrap();
    let rows = parse_csv(&text);
    let approvers: Vec<&String> = rows
        .iter()
        .filter(|r| r[0] == "approvers")
        .map(|r| &r[1])
        .collect();
    assert!(approvers.contains(&&format!("'{FORMULA}")), "{approvers:?}");
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} can start a formula"
            );
        }
    }
    assert_eq!(unsafe_char(&text), None, "{}", text.escape_debug());
    let rate = rows
        .iter()
        .find(|r| r[0].is_empty() && r[2] == "approval_rate")
        .unwrap();
    assert_eq!(rate[3], "0.923");
    let empty_rows = parse_csv(&csv::render(&empty()).unwrap());
    let rate = empty_rows
        .iter()
        .find(|r| r[0].is_empty() && r[2] == "approval_rate")
        .unwrap();
    assert_eq!(rate[3], "", "null is an empty cell");
}

// ----- formats -----

#[test]
fn json_is_the_report_itself_and_json_with_another_format_is_refused() {
    let r = full();
    let json = render(&r, Format::Json).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    assert_eq!(Format::chosen(true, None).unwrap(), Format::Json);
    assert_eq!(
        Format::chosen(true, Some(ReportFormat::Json)).unwrap(),
        Format::Json
    );
    assert_eq!(Format::chosen(false, None).unwrap(), Format::Text);
    assert!(Format::chosen(true, Some(ReportFormat::Html)).is_err());
}
