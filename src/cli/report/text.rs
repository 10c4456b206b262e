//! The report for a terminal, within 80 columns: a header with the period, then one section
//! per part of the report, each a few aligned rows or a table, with horizontal bar charts in
//! block characters where a picture helps (decisions per period, pending ages, exceptions,
//! failure rate by risk band). Names from the store go through `Table`, which cleans them.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthStr;

use super::{
    Cut, NA, count, decided, decimal, hidden_text, hours, percent, period_text, shown_periods,
};
use crate::cli::table::{Table, truncate};
use crate::engine::report::{OutcomeCounts, Report};
use crate::engine::time;
use crate::untrusted;

/// The widest line this renderer writes.
pub const WIDTH: usize = 80;
/// Columns of a bar at its longest, when the labels and figures leave room.
const BAR: usize = 40;
/// Columns for a bar chart's labels.
const LABEL: usize = 22;

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "CAB report: {}", period_text(r));
    out.push_str(
        "Counts take events from the start, included, to the end, excluded; what waits,\n\
         and which exceptions are active, is as it stood at the end.\n",
    );
    requests(&mut out, r);
    decisions(&mut out, r);
    periods(&mut out, r);
    pending(&mut out, r);
    exceptions(&mut out, r);
    approvers(&mut out, r);
    outcomes(&mut out, r);
    calibration(&mut out, r);
    what_if(&mut out, r);
    out
}

fn heading(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n{title}");
}

/// Label-value rows, the values right-aligned in one column, and an optional note after each.
fn rows(out: &mut String, rows: &[(&str, String, &str)]) {
    let label = rows.iter().map(|r| r.0.width()).max().unwrap_or(0);
    let value = rows.iter().map(|r| r.1.width()).max().unwrap_or(0);
    for (l, v, note) in rows {
        let line = format!("  {l:<label$}  {v:>value$}  {note}");
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// A table, indented under its heading.
fn table(out: &mut String, t: &Table) {
    for line in t.render().lines() {
        let _ = writeln!(out, "  {line}");
    }
}

/// A bar of `value` against `max` in `width` columns: whole blocks, then the eighth that is
/// left; a value above zero always shows at least a sliver.
pub fn bar(value: f64, max: f64, width: usize) -> String {
    const EIGHTHS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    if !(value > 0.0 && max > 0.0) {
        return String::new();
    }
    let eighths = ((value / max).min(1.0) * (width * 8) as f64).round() as usize;
    let eighths = eighths.max(1);
    let mut s = "█".repeat(eighths / 8);
    s.push_str(EIGHTHS[eighths % 8]);
    s
}

/// A horizontal bar chart: a label, the bar, then the figure.
fn chart(out: &mut String, items: &[(String, f64, String)]) {
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max);
    let label = items
        .iter()
        .map(|i| i.0.width())
        .max()
        .unwrap_or(0)
        .min(LABEL);
    let figures = items.iter().map(|i| i.2.width()).max().unwrap_or(0);
    let room = WIDTH.saturating_sub(2 + label + 2 + 2 + figures);
    let bar_width = BAR.min(room).max(1);
    for (l, value, figure) in items {
        let l = truncate(&untrusted::line(l), LABEL);
        let b = bar(*value, max, bar_width);
        let pad_l = label.saturating_sub(l.width());
        let pad_b = bar_width.saturating_sub(b.width());
        let line = format!(
            "  {l}{}  {b}{}  {figure}",
            " ".repeat(pad_l),
            " ".repeat(pad_b)
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn requests(out: &mut String, r: &Report) {
    heading(out, "Requests submitted");
    let q = &r.requests;
    let share = |n: u64| {
        let s = percent((q.submitted > 0).then(|| n as f64 / q.submitted as f64));
        format!("{s:>6}")
    };
    let g = &q.by_gate;
    rows(
        out,
        &[
            ("submitted", count(q.submitted), ""),
            (
                "gate auto_approved",
                count(g.auto_approved),
                &share(g.auto_approved),
            ),
            (
                "gate manual_review",
                count(g.manual_review),
                &share(g.manual_review),
            ),
            (
                "gate exception_required",
                count(g.exception_required),
                &share(g.exception_required),
            ),
        ],
    );
}

fn decisions(out: &mut String, r: &Report) {
    heading(out, "Decisions");
    let d = &r.decisions;
    rows(
        out,
        &[
            ("auto_approved", count(d.auto_approved), "by system"),
            ("approved", count(d.approved), ""),
            ("conditional", count(d.conditional), ""),
            ("rejected", count(d.rejected), ""),
            (
                "approval rate",
                percent(r.approval_rate),
                "approved or conditional, of the manual decisions",
            ),
            (
                "auto-approval share",
                percent(r.auto_approval_share),
                "of the requests submitted",
            ),
        ],
    );
    let l = &r.decision_lead_time_hours;
    heading(out, "Lead time from submission to a manual decision");
    rows(
        out,
        &[
            ("decisions", count(l.count), ""),
            ("p50", hours(l.p50), "half were decided within this"),
            ("p90", hours(l.p90), ""),
            ("max", hours(l.max), ""),
        ],
    );
}

fn periods(out: &mut String, r: &Report) {
    let cut = Cut::of(&r.periods);
    let (shown, hidden) = shown_periods(r);
    heading(out, &format!("Periods, by {}", cut.noun()));
    if let Some(note) = hidden_text(hidden, cut) {
        let _ = writeln!(out, "  {note}");
    }
    if shown.is_empty() {
        let _ = writeln!(out, "  No activity in the period.");
        return;
    }
    let mut t = Table::new(&[
        "FROM", "SUBMIT", "AUTO", "APPROVE", "COND", "REJECT", "EXC REQ", "EXC OK", "LEAD P50",
    ])
    .right_from(1);
    for row in shown {
        t.row(vec![
            cut.label(row.start),
            count(row.submitted),
            count(row.auto_approved),
            count(row.approved),
            count(row.conditional),
            count(row.rejected),
            count(row.exceptions_requested),
            count(row.exceptions_approved),
            hours(row.lead_time_hours_p50),
        ]);
    }
    table(out, &t);
    heading(out, &format!("Decisions per {}", cut.noun()));
    let items: Vec<(String, f64, String)> = shown
        .iter()
        .map(|row| {
            let n = decided(row);
            (cut.label(row.start), n as f64, count(n))
        })
        .collect();
    chart(out, &items);
}

fn pending(out: &mut String, r: &Report) {
    let p = &r.pending;
    heading(
        out,
        &format!("Pending at {}", time::format_secs(r.period.until)),
    );
    rows(
        out,
        &[
            ("under_review", count(p.under_review), ""),
            (
                "exception_required",
                count(p.exception_required),
                "without an active exception",
            ),
        ],
    );
    let _ = writeln!(out, "  Days waiting, both kinds:");
    let items: Vec<(String, f64, String)> = p
        .age_days
        .rows()
        .iter()
        .map(|(name, n)| (format!("{name} days"), *n as f64, count(*n)))
        .collect();
    chart(out, &items);
}

fn exceptions(out: &mut String, r: &Report) {
    let x = &r.exceptions;
    heading(out, "Exceptions");
    let items: Vec<(String, f64, String)> = x
        .rows()
        .into_iter()
        .map(|(name, n)| (name.to_string(), n as f64, count(n)))
        .collect();
    chart(out, &items);
    let _ = writeln!(
        out,
        "  Expired: pending or approved, their expiry in the period. Every exception\n  \
         expires at most 90 days after it was requested."
    );
}

fn approvers(out: &mut String, r: &Report) {
    heading(out, "Approvers, manual decisions by person");
    if r.approvers.is_empty() {
        let _ = writeln!(out, "  No manual decision in the period.");
        return;
    }
    let mut t = Table::new(&["APPROVER", "APPROVED", "CONDITIONAL", "REJECTED", "TOTAL"])
        .limit(0, 36)
        .right_from(1);
    for a in &r.approvers {
        t.row(vec![
            a.approver.clone(),
            count(a.approved),
            count(a.conditional),
            count(a.rejected),
            count(a.total()),
        ]);
    }
    table(out, &t);
}

fn outcome_cells(c: &OutcomeCounts) -> [String; 3] {
    [
        count(c.recorded),
        count(c.failures),
        percent(c.failure_rate),
    ]
}

fn outcomes(out: &mut String, r: &Report) {
    let o = &r.outcomes;
    heading(out, "Outcomes of the requests submitted in the period");
    rows(
        out,
        &[
            ("recorded", count(o.recorded), ""),
            ("failures", count(o.failures), "failure or rolled_back"),
            ("failure rate", percent(o.failure_rate), ""),
        ],
    );
    let mut t = Table::new(&["GATE", "RECORDED", "FAILURES", "FAILURE RATE"]).right_from(1);
    for (gate, c) in o.by_gate.rows() {
        let mut cells = vec![gate.as_str().to_string()];
        cells.extend(outcome_cells(c));
        t.row(cells);
    }
    let _ = writeln!(out);
    table(out, &t);
    let _ = writeln!(out, "\n  Failure rate by risk band:");
    let items: Vec<(String, f64, String)> = o
        .by_risk_band
        .iter()
        .map(|b| {
            let figure = match b.failure_rate {
                Some(_) => format!(
                    "{} ({} of {})",
                    percent(b.failure_rate),
                    count(b.failures),
                    count(b.recorded)
                ),
                None => format!("{NA} (none recorded)"),
            };
            (b.band.clone(), b.failure_rate.unwrap_or(0.0), figure)
        })
        .collect();
    chart(out, &items);
}

fn calibration(out: &mut String, r: &Report) {
    heading(
        out,
        "Calibration: how well scores rank failures above successes",
    );
    let Some(c) = &r.calibration else {
        let _ = writeln!(
            out,
            "  {NA}: needs at least 2 failures and 2 successes among the outcomes."
        );
        return;
    };
    let _ = writeln!(
        out,
        "  Area under the ROC curve: 0.5 is chance, 1 ranks every failure first."
    );
    rows(out, &[("risk score AUC", decimal(Some(c.score_auc)), "")]);
    if c.factors.is_empty() {
        return;
    }
    let mut t = Table::new(&["FACTOR", "AUC", "MEAN FAILURE", "MEAN SUCCESS"])
        .limit(0, 40)
        .right_from(1);
    for (name, f) in &c.factors {
        t.row(vec![
            name.clone(),
            decimal(f.auc),
            decimal(f.mean_failure),
            decimal(f.mean_success),
        ]);
    }
    let _ = writeln!(out);
    table(out, &t);
}

fn what_if(out: &mut String, r: &Report) {
    let Some(w) = &r.what_if else {
        return;
    };
    heading(
        out,
        &format!(
            "What if: auto-approve up to {}, manual review up to {}",
            w.thresholds.auto_approve_max, w.thresholds.manual_review_max
        ),
    );
    let mut t = Table::new(&["GATE", "AS RECORDED", "WHAT IF"]).right_from(1);
    let recorded = &r.requests.by_gate;
    for (gate, was) in recorded.rows() {
        let would = w.by_gate.get(gate);
        t.row(vec![gate.as_str().to_string(), count(was), count(would)]);
    }
    table(out, &t);
    if w.changes.is_empty() {
        let _ = writeln!(out, "\n  No submission would change gate.");
    } else {
        let mut t = Table::new(&["WOULD MOVE", "REQUESTS"])
            .limit(0, 60)
            .right_from(1);
        for (change, n) in &w.changes {
            t.row(vec![change.replace("->", " -> "), count(*n)]);
        }
        let _ = writeln!(out);
        table(out, &t);
    }
    let _ = writeln!(
        out,
        "\n  Recorded failures these thresholds would auto-approve: {}",
        count(w.failures_auto_approved)
    );
}
