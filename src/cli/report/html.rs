//! The report as one self-contained HTML file an auditor can open, file and print: inline CSS
//! (with a print stylesheet for A4), inline SVG charts, no script and nothing fetched from
//! anywhere. A compliance summary comes first, then each part of the report as a chart and the
//! table of its figures. Every piece of text is escaped here ([`esc`]), after the untrusted-text
//! cleaning, so a name such as `<script>` is shown, never run.

use std::fmt::Write as _;

use super::svg::{Axis, Columns, Series, hbars};
use super::{
    Cut, NA, count, decided, decimal, hidden_text, hours, percent, period_text, shown_periods,
};
use crate::engine::report::{OutcomeCounts, PeriodRow, Report};
use crate::engine::time;
use crate::untrusted;

/// Text for HTML, from anywhere: unsafe characters replaced (as for a terminal), then the five
/// characters that mean something in HTML escaped.
pub fn esc(text: &str) -> String {
    let clean = untrusted::line(text);
    let mut out = String::with_capacity(clean.len());
    for c in clean.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Colours of the decision kinds, told apart in colour and in grey (Okabe-Ito).
const AUTO: &str = "#0072b2";
const APPROVED: &str = "#009e73";
const CONDITIONAL: &str = "#e69f00";
const REJECTED: &str = "#d55e00";
const LEAD: &str = "#56b4e9";
const PENDING: &str = "#cc79a7";
const EXCEPTION: &str = "#0072b2";
const FAILURE: &str = "#d55e00";

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 54rem; padding: 1.5rem 2rem 3rem; background: #fff;
  color: #1a1a1a; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica,
  Arial, sans-serif; }
header { border-bottom: 3px solid #1a1a1a; margin-bottom: 1.25rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; padding-bottom: .2rem;
  border-bottom: 1px solid #ccc; }
h3 { font-size: 1rem; margin: 1.25rem 0 .4rem; }
p { margin: .4rem 0; }
.period { font-size: 1.05rem; margin: 0 0 .75rem; }
.note { color: #555; font-size: .9rem; }
nav ul { list-style: none; padding: 0; margin: .5rem 0 0; display: flex; flex-wrap: wrap;
  gap: .25rem 1rem; font-size: .9rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { padding: .2rem .7rem .2rem 0; border-bottom: 1px solid #e2e2e2; text-align: left;
  vertical-align: top; }
thead th { border-bottom: 2px solid #999; font-weight: 600; }
td.n, th.n { text-align: right; padding-left: .7rem; white-space: nowrap; }
tbody th { font-weight: 500; }
table.wide { width: 100%; font-size: .82rem; }
table.wide th, table.wide td { padding-right: .3rem; }
table.wide td.n, table.wide th.n { padding-left: .3rem; }
table.wide tbody th { white-space: nowrap; }
code { white-space: nowrap; }
table.summary { width: 100%; }
table.summary th { width: 13rem; font-weight: 600; }
.ok { color: #006b4f; font-weight: 600; }
figure { margin: .75rem 0 1rem; }
figcaption { font-size: .9rem; color: #444; margin-top: .2rem; }
svg { display: block; width: 100%; height: auto; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; fill: #1a1a1a; }
svg text.halo { paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
.name { overflow-wrap: anywhere; }
footer { margin-top: 2.5rem; border-top: 1px solid #ccc; padding-top: .5rem; }
@page { size: A4; margin: 14mm 14mm 16mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; background: #fff; color: #000; }
  nav { display: none; }
  h2 { break-after: avoid; }
  figure, table.summary, tr { break-inside: avoid; }
  table.wide { font-size: 7.5pt; }
}
"#;

pub fn render(r: &Report) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let p = &r.period;
    let _ = writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"cab report\">\n\
         <title>CAB report {} to {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        esc(&p.since.format("%Y-%m-%d").to_string()),
        esc(&p.until.format("%Y-%m-%d").to_string()),
    );
    let _ = writeln!(
        h,
        "<header>\n<h1>Change Advisory Board report</h1>\n<p class=\"period\">{}</p>\n\
         <nav aria-label=\"Sections\"><ul>{}</ul></nav>\n</header>\n<main>",
        esc(&period_text(r)),
        [
            ("summary", "Summary"),
            ("decisions", "Decisions"),
            ("lead-time", "Lead time"),
            ("pending", "Pending"),
            ("exceptions", "Exceptions"),
            ("approvers", "Approvers"),
            ("outcomes", "Outcomes"),
            ("calibration", "Calibration"),
        ]
        .iter()
        .chain(r.what_if.as_ref().map(|_| &("what-if", "What if")))
        .map(|(id, name)| format!("<li><a href=\"#{id}\">{name}</a></li>"))
        .collect::<String>()
    );
    summary(&mut h, r);
    decisions(&mut h, r);
    lead_time(&mut h, r);
    pending(&mut h, r);
    exceptions(&mut h, r);
    approvers(&mut h, r);
    outcomes(&mut h, r);
    calibration(&mut h, r);
    what_if(&mut h, r);
    let _ = writeln!(
        h,
        "</main>\n<footer class=\"note\">\n<p>Made by <code>cab report --format html</code> \
         from the store's own events. The same figures as data: <code>cab report --json</code> \
         or <code>--format csv</code>. Counts take events from the start of the period, \
         included, to its end, excluded; what waits and which exceptions are active is as it \
         stood at the end ({}).</p>\n</footer>\n</body>\n</html>",
        esc(&time::format_secs(p.until))
    );
    h
}

fn section_start(h: &mut String, id: &str, title: &str) {
    let _ = writeln!(
        h,
        "<section id=\"{id}\" aria-labelledby=\"{id}-h\">\n<h2 id=\"{id}-h\">{}</h2>",
        esc(title)
    );
}

fn section_end(h: &mut String) {
    h.push_str("</section>\n");
}

fn summary(h: &mut String, r: &Report) {
    section_start(h, "summary", "Compliance summary");
    let q = &r.requests;
    let d = &r.decisions;
    let manual = d.approved + d.conditional + d.rejected;
    let l = &r.decision_lead_time_hours;
    let x = &r.exceptions;
    let p = &r.pending;
    let o = &r.outcomes;
    let rows: Vec<(&str, String)> = vec![
        ("Period", esc(&period_text(r))),
        (
            "Requests submitted",
            format!(
                "{}: {} auto-approved by the risk gate, {} for CAB review, {} needing a \
                 security exception",
                count(q.submitted),
                count(q.by_gate.auto_approved),
                count(q.by_gate.manual_review),
                count(q.by_gate.exception_required)
            ),
        ),
        (
            "Decisions",
            format!(
                "{} automatic and {} manual: {} approved, {} approved with conditions, {} \
                 rejected. Approval rate {} of the manual decisions; auto-approval share {} of \
                 the requests.",
                count(d.auto_approved),
                count(manual),
                count(d.approved),
                count(d.conditional),
                count(d.rejected),
                percent(r.approval_rate),
                percent(r.auto_approval_share)
            ),
        ),
        (
            "Decision lead time",
            format!(
                "median {}, 90th percentile {}, longest {}, over {} manual decisions",
                hours(l.p50),
                hours(l.p90),
                hours(l.max),
                count(l.count)
            ),
        ),
        (
            "Separation of duties",
            "<span class=\"ok\">Every manual decision was made by a CAB member other than \
             the person who requested the change.</span> This holds by construction: cab's \
             rules refuse a decision by the requester, or by anyone without the cab_member \
             role, before anything is recorded, and <code>cab verify</code> re-judges every \
             event in the store against the same rules (run it and file its output with this \
             report)."
                .to_string(),
        ),
        (
            "Exceptions are time-limited",
            format!(
                "<span class=\"ok\">Every exception expires at most 90 days after it is \
                 requested; none is permanent.</span> The rules refuse any other expiry and \
                 <code>cab verify</code> checks it. In the period: {} requested, {} approved, \
                 {} rejected, {} expired; {} active at the end, {} of them expiring within 7 \
                 days.",
                count(x.requested),
                count(x.approved),
                count(x.rejected),
                count(x.expired),
                count(x.active_at_end),
                count(x.expiring_within_7_days)
            ),
        ),
        (
            "Waiting at the end",
            format!(
                "{} under CAB review and {} needing an exception without an active one; {} \
                 of them waiting more than 30 days",
                count(p.under_review),
                count(p.exception_required),
                count(p.age_days.d31_90 + p.age_days.over_90)
            ),
        ),
        (
            "Outcomes",
            format!(
                "{} recorded for requests submitted in the period, {} failed or rolled back \
                 (failure rate {})",
                count(o.recorded),
                count(o.failures),
                percent(o.failure_rate)
            ),
        ),
    ];
    h.push_str("<table class=\"summary\">\n<tbody>\n");
    for (name, value) in rows {
        let _ = writeln!(
            h,
            "<tr><th scope=\"row\">{}</th><td>{value}</td></tr>",
            esc(name)
        );
    }
    h.push_str("</tbody>\n</table>\n");
    section_end(h);
}

fn decisions(h: &mut String, r: &Report) {
    let cut = Cut::of(&r.periods);
    let (shown, hidden) = shown_periods(r);
    section_start(h, "decisions", &format!("Decisions per {}", cut.noun()));
    if let Some(note) = hidden_text(hidden, cut) {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(&note));
    }
    if shown.is_empty() {
        h.push_str("<p>No activity in the period.</p>\n");
        section_end(h);
        return;
    }
    let labels: Vec<String> = shown.iter().map(|row| cut.label(row.start)).collect();
    let series = |name, color, f: fn(&PeriodRow) -> u64| Series {
        name,
        color,
        values: shown.iter().map(|row| Some(f(row) as f64)).collect(),
    };
    let chart = Columns {
        id: "chart-decisions",
        title: format!("Decisions per {}, by kind", cut.noun()),
        desc: format!(
            "Stacked columns, one per {}: auto-approved, approved, conditional and rejected \
             decisions. The table below gives the figures.",
            cut.noun()
        ),
        labels: labels.clone(),
        series: vec![
            series("auto-approved", AUTO, |r| r.auto_approved),
            series("approved", APPROVED, |r| r.approved),
            series("conditional", CONDITIONAL, |r| r.conditional),
            series("rejected", REJECTED, |r| r.rejected),
        ],
        lines: Vec::new(),
        notes: Vec::new(),
        axis: Axis::Count,
    };
    figure(h, &chart.svg(), "Decisions dated in each period, by kind.");
    let mut t = Table::new(&[
        cut.noun(),
        "submitted",
        "auto",
        "approved",
        "cond.",
        "rejected",
        "decisions",
        "exc. req.",
        "exc. appr.",
        "lead p50",
    ]);
    t.caption = Some(format!(
        "Requests, decisions and exceptions per {} (auto: auto-approved; cond.: approved with \
         conditions; exc. req. and exc. appr.: exceptions requested and approved; lead p50: \
         median hours to a manual decision)",
        cut.noun()
    ));
    for (row, label) in shown.iter().zip(&labels) {
        t.row(
            label,
            vec![
                count(row.submitted),
                count(row.auto_approved),
                count(row.approved),
                count(row.conditional),
                count(row.rejected),
                count(decided(row)),
                count(row.exceptions_requested),
                count(row.exceptions_approved),
                hours(row.lead_time_hours_p50),
            ],
        );
    }
    t.write(h);
    section_end(h);
}

fn lead_time(h: &mut String, r: &Report) {
    let cut = Cut::of(&r.periods);
    let (shown, _) = shown_periods(r);
    let l = &r.decision_lead_time_hours;
    section_start(
        h,
        "lead-time",
        "Lead time from submission to a manual decision",
    );
    if !shown.is_empty() {
        let mut lines = Vec::new();
        if let Some(p50) = l.p50 {
            lines.push((format!("overall p50 {}", hours(Some(p50))), p50));
        }
        if let Some(p90) = l.p90 {
            lines.push((format!("overall p90 {}", hours(Some(p90))), p90));
        }
        let chart = Columns {
            id: "chart-lead",
            title: format!("Median lead time per {}, in hours", cut.noun()),
            desc: format!(
                "One column per {} for the median hours from submission to a manual decision \
                 (none where there was no manual decision), with the whole period's median \
                 and 90th percentile as dashed lines.",
                cut.noun()
            ),
            labels: shown.iter().map(|row| cut.label(row.start)).collect(),
            series: vec![Series {
                name: "p50 hours",
                color: LEAD,
                values: shown.iter().map(|row| row.lead_time_hours_p50).collect(),
            }],
            lines,
            notes: Vec::new(),
            axis: Axis::Hours,
        };
        figure(
            h,
            &chart.svg(),
            "Median (p50) lead time of the manual decisions dated in each period.",
        );
    }
    let mut t = Table::new(&["", "manual decisions", "p50", "p90", "max"]);
    t.caption = Some("Over the whole period (nearest rank)".into());
    t.row(
        "lead time",
        vec![count(l.count), hours(l.p50), hours(l.p90), hours(l.max)],
    );
    t.write(h);
    section_end(h);
}

fn pending(h: &mut String, r: &Report) {
    let p = &r.pending;
    section_start(
        h,
        "pending",
        &format!("Waiting at {}", time::format_secs(r.period.until)),
    );
    let _ = writeln!(
        h,
        "<p>{} under CAB review, {} needing a security exception that is not active: {} in \
         all, by whole days since submission.</p>",
        count(p.under_review),
        count(p.exception_required),
        count(p.under_review + p.exception_required)
    );
    let items: Vec<(String, f64, String)> = p
        .age_days
        .rows()
        .iter()
        .map(|(name, n)| (format!("{name} days"), *n as f64, count(*n)))
        .collect();
    let svg = hbars(
        "chart-pending",
        "Requests waiting, by days since submission",
        "Horizontal bars: how many requests wait at the end of the period, by age in days.",
        &items,
        PENDING,
    );
    figure(
        h,
        &svg,
        "Requests waiting at the end of the period, by age.",
    );
    let mut t = Table::new(&["age", "requests"]);
    for (name, _, figure) in &items {
        t.row(name, vec![figure.clone()]);
    }
    t.write(h);
    section_end(h);
}

fn exceptions(h: &mut String, r: &Report) {
    let x = &r.exceptions;
    section_start(h, "exceptions", "Security exceptions");
    let items: Vec<(String, f64, String)> = x
        .rows()
        .into_iter()
        .map(|(name, n)| (name.to_string(), n as f64, count(n)))
        .collect();
    let svg = hbars(
        "chart-exceptions",
        "Exceptions in the period",
        "Horizontal bars: exceptions requested, approved, rejected and expired in the period, \
         active at its end, and of those expiring within 7 days.",
        &items,
        EXCEPTION,
    );
    figure(
        h,
        &svg,
        "Expired counts pending or approved exceptions whose expiry fell in the period; active \
         and expiring are taken at its end.",
    );
    let mut t = Table::new(&["exceptions", "count"]);
    for (name, _, figure) in &items {
        t.row(name, vec![figure.clone()]);
    }
    t.write(h);
    section_end(h);
}

fn approvers(h: &mut String, r: &Report) {
    section_start(h, "approvers", "Approvers");
    if r.approvers.is_empty() {
        h.push_str("<p>No manual decision in the period.</p>\n");
        section_end(h);
        return;
    }
    let mut t = Table::new(&["approver", "approved", "conditional", "rejected", "total"]);
    t.caption = Some("Manual decisions by person, most first".into());
    for a in &r.approvers {
        t.row(
            &a.approver,
            vec![
                count(a.approved),
                count(a.conditional),
                count(a.rejected),
                count(a.total()),
            ],
        );
    }
    t.write(h);
    section_end(h);
}

fn outcome_cells(c: &OutcomeCounts) -> Vec<String> {
    vec![
        count(c.recorded),
        count(c.failures),
        percent(c.failure_rate),
    ]
}

fn outcomes(h: &mut String, r: &Report) {
    let o = &r.outcomes;
    section_start(h, "outcomes", "Deployment outcomes");
    let _ = writeln!(
        h,
        "<p>Outcomes recorded for the requests submitted in the period: {}, of which {} failed \
         or were rolled back (failure rate {}).</p>",
        count(o.recorded),
        count(o.failures),
        percent(o.failure_rate)
    );
    let bands = &o.by_risk_band;
    let chart = Columns {
        id: "chart-bands",
        title: "Failure rate by risk band".into(),
        desc: "One column per band of ten risk points: the share of recorded outcomes that \
               failed or were rolled back, with failures of recorded above each column."
            .into(),
        labels: bands.iter().map(|b| b.band.clone()).collect(),
        series: vec![Series {
            name: "failure rate",
            color: FAILURE,
            values: bands.iter().map(|b| b.failure_rate).collect(),
        }],
        lines: Vec::new(),
        notes: bands
            .iter()
            .map(|b| {
                if b.recorded == 0 {
                    "–".to_string()
                } else {
                    format!("{}/{}", count(b.failures), count(b.recorded))
                }
            })
            .collect(),
        axis: Axis::Share,
    };
    figure(
        h,
        &chart.svg(),
        "Failure rate of each risk band; above each column, failures of outcomes recorded \
         (– where none was recorded).",
    );
    let mut t = Table::new(&["gate", "recorded", "failures", "failure rate"]);
    t.caption = Some("By gate".into());
    for (gate, c) in o.by_gate.rows() {
        t.row(gate.as_str(), outcome_cells(c));
    }
    t.write(h);
    let mut t = Table::new(&["risk band", "recorded", "failures", "failure rate"]);
    t.caption = Some("By risk band".into());
    for b in bands {
        t.row(
            &b.band,
            outcome_cells(&OutcomeCounts {
                recorded: b.recorded,
                failures: b.failures,
                failure_rate: b.failure_rate,
            }),
        );
    }
    t.write(h);
    section_end(h);
}

fn calibration(h: &mut String, r: &Report) {
    section_start(h, "calibration", "Calibration of the risk score");
    let Some(c) = &r.calibration else {
        let _ = writeln!(
            h,
            "<p>{NA}: calibration needs at least 2 failures and 2 successes among the recorded \
             outcomes.</p>"
        );
        section_end(h);
        return;
    };
    h.push_str(
        "<p>How well the risk score, and each factor alone, ranks the failed deployments above \
         the successful ones: the area under the ROC curve, where 0.5 is chance and 1 puts \
         every failure above every success.</p>\n",
    );
    let mut t = Table::new(&["", "AUC", "mean when failed", "mean when succeeded"]);
    t.caption = Some("Area under the ROC curve".into());
    t.row(
        "risk score",
        vec![decimal(Some(c.score_auc)), String::new(), String::new()],
    );
    for (name, f) in &c.factors {
        t.row(
            &format!("factor {name}"),
            vec![
                decimal(f.auc),
                decimal(f.mean_failure),
                decimal(f.mean_success),
            ],
        );
    }
    t.write(h);
    section_end(h);
}

fn what_if(h: &mut String, r: &Report) {
    let Some(w) = &r.what_if else {
        return;
    };
    section_start(h, "what-if", "What if the thresholds were different");
    let _ = writeln!(
        h,
        "<p>The period's submissions re-gated with auto-approval up to {} and manual review up \
         to {}.</p>",
        esc(&w.thresholds.auto_approve_max.to_string()),
        esc(&w.thresholds.manual_review_max.to_string())
    );
    let mut t = Table::new(&["gate", "as recorded", "what if"]);
    t.caption = Some("Requests by gate".into());
    let g = &r.requests.by_gate;
    for (gate, was) in g.rows() {
        let would = w.by_gate.get(gate);
        t.row(gate.as_str(), vec![count(was), count(would)]);
    }
    t.write(h);
    if w.changes.is_empty() {
        h.push_str("<p>No submission would change gate.</p>\n");
    } else {
        let mut t = Table::new(&["would move", "requests"]);
        t.caption = Some("Moves between gates".into());
        for (change, n) in &w.changes {
            t.row(&change.replace("->", " → "), vec![count(*n)]);
        }
        t.write(h);
    }
    let _ = writeln!(
        h,
        "<p>Recorded failures these thresholds would have auto-approved: <strong>{}</strong>.</p>",
        count(w.failures_auto_approved)
    );
    section_end(h);
}

/// A table whose first column names the row (`th scope="row"`) and whose other cells are
/// figures (right-aligned).
struct Table {
    headers: Vec<String>,
    caption: Option<String>,
    rows: Vec<(String, Vec<String>)>,
    /// Many columns: drawn smaller.
    wide: bool,
}

impl Table {
    fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|s| s.to_string()).collect(),
            caption: None,
            rows: Vec::new(),
            wide: headers.len() > 6,
        }
    }

    fn row(&mut self, name: &str, cells: Vec<String>) {
        self.rows.push((name.to_string(), cells));
    }

    fn write(&self, h: &mut String) {
        h.push_str(if self.wide {
            "<table class=\"wide\">\n"
        } else {
            "<table>\n"
        });
        if let Some(c) = &self.caption {
            let _ = writeln!(h, "<caption>{}</caption>", esc(c));
        }
        h.push_str("<thead><tr>");
        for (i, name) in self.headers.iter().enumerate() {
            let class = if i == 0 { "" } else { " class=\"n\"" };
            let _ = write!(h, "<th scope=\"col\"{class}>{}</th>", esc(name));
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for (name, cells) in &self.rows {
            let _ = write!(h, "<tr><th scope=\"row\" class=\"name\">{}</th>", esc(name));
            for cell in cells {
                let _ = write!(h, "<td class=\"n\">{}</td>", esc(cell));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n</table>\n");
    }
}

fn figure(h: &mut String, svg: &str, caption: &str) {
    let _ = writeln!(
        h,
        "<figure>\n{svg}<figcaption>{}</figcaption>\n</figure>",
        esc(caption)
    );
}
