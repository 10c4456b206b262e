//! The report as one flat table a spreadsheet opens and pivots: a long format with the columns
//! `section,item,field,value`, one row per figure of the JSON object, in its order.
//! `section` is where the figure sits (`requests.by_gate`, `periods`, `approvers`, ...),
//! `item` names the row of a list or map (a period's start, an approver, a band, a factor;
//! empty elsewhere), `field` is the JSON field name, `value` the figure: numbers as JSON writes
//! them (rates as fractions, 0.25), times in RFC 3339, and `null` as an empty cell. Every cell
//! is cleaned and kept from starting a formula as the audit export does.

use crate::cli::exit::CliError;
use crate::cli::render::no_formula;
use crate::engine::report::{OutcomeCounts, Report};
use crate::engine::time;

pub const HEADER: [&str; 4] = ["section", "item", "field", "value"];

/// The rows of the table, header excluded.
pub fn rows(r: &Report) -> Vec<[String; 4]> {
    let mut t = Rows(Vec::new());
    t.add("period", "", "since", time::format(r.period.since));
    t.add("period", "", "until", time::format(r.period.until));

    t.add("requests", "", "submitted", r.requests.submitted);
    let g = &r.requests.by_gate;
    for (gate, n) in g.rows() {
        t.add("requests.by_gate", "", gate.as_str(), n);
    }

    let d = &r.decisions;
    t.add("decisions", "", "auto_approved", d.auto_approved);
    t.add("decisions", "", "approved", d.approved);
    t.add("decisions", "", "conditional", d.conditional);
    t.add("decisions", "", "rejected", d.rejected);
    t.opt("", "", "approval_rate", r.approval_rate);
    t.opt("", "", "auto_approval_share", r.auto_approval_share);

    let l = &r.decision_lead_time_hours;
    t.add("decision_lead_time_hours", "", "count", l.count);
    t.opt("decision_lead_time_hours", "", "p50", l.p50);
    t.opt("decision_lead_time_hours", "", "p90", l.p90);
    t.opt("decision_lead_time_hours", "", "max", l.max);

    let p = &r.pending;
    t.add("pending", "", "under_review", p.under_review);
    t.add("pending", "", "exception_required", p.exception_required);
    for (name, n) in p.age_days.rows() {
        t.add("pending.age_days", "", name, n);
    }

    let x = &r.exceptions;
    t.add("exceptions", "", "requested", x.requested);
    t.add("exceptions", "", "approved", x.approved);
    t.add("exceptions", "", "rejected", x.rejected);
    t.add("exceptions", "", "expired", x.expired);
    t.add("exceptions", "", "active_at_end", x.active_at_end);
    t.add(
        "exceptions",
        "",
        "expiring_within_7_days",
        x.expiring_within_7_days,
    );

    for row in &r.periods {
        let start = time::format(row.start);
        let s = start.as_str();
        t.add("periods", s, "submitted", row.submitted);
        t.add("periods", s, "auto_approved", row.auto_approved);
        t.add("periods", s, "approved", row.approved);
        t.add("periods", s, "conditional", row.conditional);
        t.add("periods", s, "rejected", row.rejected);
        t.add(
            "periods",
            s,
            "exceptions_requested",
            row.exceptions_requested,
        );
        t.add("periods", s, "exceptions_approved", row.exceptions_approved);
        t.opt("periods", s, "lead_time_hours_p50", row.lead_time_hours_p50);
    }

    for a in &r.approvers {
        t.add("approvers", &a.approver, "approved", a.approved);
        t.add("approvers", &a.approver, "conditional", a.conditional);
        t.add("approvers", &a.approver, "rejected", a.rejected);
    }

    let o = &r.outcomes;
    t.outcome(
        "outcomes",
        "",
        &OutcomeCounts {
            recorded: o.recorded,
            failures: o.failures,
            failure_rate: o.failure_rate,
        },
    );
    for (gate, c) in o.by_gate.rows() {
        t.outcome("outcomes.by_gate", gate.as_str(), c);
    }
    for b in &o.by_risk_band {
        t.outcome(
            "outcomes.by_risk_band",
            &b.band,
            &OutcomeCounts {
                recorded: b.recorded,
                failures: b.failures,
                failure_rate: b.failure_rate,
            },
        );
    }

    match &r.calibration {
        None => t.opt("calibration", "", "score_auc", None),
        Some(c) => {
            t.add("calibration", "", "score_auc", c.score_auc);
            for (name, f) in &c.factors {
                t.opt("calibration.factors", name, "auc", f.auc);
                t.opt("calibration.factors", name, "mean_failure", f.mean_failure);
                t.opt("calibration.factors", name, "mean_success", f.mean_success);
            }
        }
    }

    if let Some(w) = &r.what_if {
        let th = &w.thresholds;
        t.add(
            "what_if.thresholds",
            "",
            "auto_approve_max",
            th.auto_approve_max,
        );
        t.add(
            "what_if.thresholds",
            "",
            "manual_review_max",
            th.manual_review_max,
        );
        for (gate, n) in w.by_gate.rows() {
            t.add("what_if.by_gate", "", gate.as_str(), n);
        }
        for (change, n) in &w.changes {
            t.add("what_if.changes", "", change, *n);
        }
        t.add(
            "what_if",
            "",
            "failures_auto_approved",
            w.failures_auto_approved,
        );
    }
    t.0
}

struct Rows(Vec<[String; 4]>);

impl Rows {
    fn add(&mut self, section: &str, item: &str, field: &str, value: impl ToString) {
        self.0.push([
            section.to_string(),
            item.to_string(),
            field.to_string(),
            value.to_string(),
        ]);
    }

    /// A figure that may be `null`: an empty cell.
    fn opt(&mut self, section: &str, item: &str, field: &str, value: Option<f64>) {
        self.add(
            section,
            item,
            field,
            value.map(|v| v.to_string()).unwrap_or_default(),
        );
    }

    fn outcome(&mut self, section: &str, item: &str, c: &OutcomeCounts) {
        self.add(section, item, "recorded", c.recorded);
        self.add(section, item, "failures", c.failures);
        self.opt(section, item, "failure_rate", c.failure_rate);
    }
}

pub fn render(r: &Report) -> Result<String, CliError> {
    let io = |e: csv::Error| CliError::Output(std::io::Error::other(e.to_string()));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER).map_err(io)?;
    for row in rows(r) {
        w.write_record(row.iter().map(|cell| no_formula(cell)))
            .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| CliError::Output(std::io::Error::other(e.to_string())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
