//! `cab report`'s output: the [`Report`] the backend computed, drawn as text for a terminal
//! (`text.rs`), one flat CSV table (`csv.rs`) or one self-contained HTML file (`html.rs`, its
//! charts in `svg.rs`); JSON is the report itself. Renderers compute nothing but layout: every
//! figure is a field of the report, and text from the store (approver and factor names) is
//! cleaned where it is drawn.

mod csv;
mod html;
mod svg;
mod text;

#[cfg(test)]
mod tests;

use std::path::Path;

use chrono::{DateTime, Duration, Utc};

use super::args::ReportFormat;
use super::exit::CliError;
use crate::engine::report::{PeriodRow, Report};
use crate::engine::time;
use crate::untrusted;

/// The output format, `--json` folded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Csv,
    Html,
}

impl Format {
    /// `--format`, or `--json` (which is `--format json`; another format with it is a
    /// contradiction, not a choice to make silently).
    pub fn chosen(json: bool, format: Option<ReportFormat>) -> Result<Format, CliError> {
        let format = match format {
            None if json => return Ok(Format::Json),
            None | Some(ReportFormat::Text) => Format::Text,
            Some(ReportFormat::Json) => Format::Json,
            Some(ReportFormat::Csv) => Format::Csv,
            Some(ReportFormat::Html) => Format::Html,
        };
        if json && format != Format::Json {
            return Err(CliError::Invalid(format!(
                "--json means --format json; it does not go with --format {}",
                format.name()
            )));
        }
        Ok(format)
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Html => "html",
        }
    }
}

/// The report in `format`, ready to print or to write to a file.
pub fn render(report: &Report, format: Format) -> Result<String, CliError> {
    Ok(match format {
        Format::Text => text::render(report),
        Format::Json => {
            let mut s = untrusted::json::to_string_pretty(report).map_err(std::io::Error::other)?;
            s.push('\n');
            s
        }
        Format::Csv => csv::render(report)?,
        Format::Html => html::render(report),
    })
}

/// The one line `--out` prints: what was written where.
pub fn written(report: &Report, format: Format, path: &Path) -> String {
    format!(
        "Wrote the {} report for {} to {}\n",
        format.name(),
        period_text(report),
        untrusted::line(&path.display().to_string())
    )
}

/// "2026-08-30T09:00:00Z to 2026-11-28T09:00:00Z (90 days)".
fn period_text(report: &Report) -> String {
    let p = &report.period;
    format!(
        "{} to {} ({})",
        time::format_secs(p.since),
        time::format_secs(p.until),
        span_text(p.until - p.since)
    )
}

fn span_text(span: Duration) -> String {
    let days = span.num_days();
    let hours = span.num_hours();
    if days >= 2 {
        format!("{days} days")
    } else if hours >= 2 {
        format!("{hours} hours")
    } else {
        format!("{} minutes", span.num_minutes())
    }
}

/// A count with thousands separated: 12,345.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What a missing figure reads as (a rate of nothing, a percentile of no decision).
const NA: &str = "n/a";

/// A share as a percentage with one decimal: 64.8%.
fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| NA.to_string(), |s| format!("{:.1}%", s * 100.0))
}

/// Hours with one decimal: 4.2 h.
fn hours(h: Option<f64>) -> String {
    h.map_or_else(|| NA.to_string(), |h| format!("{h:.1} h"))
}

/// An area under the ROC curve, or a factor's mean, with three decimals, so a column of them
/// lines up on the point.
fn decimal(v: Option<f64>) -> String {
    v.map_or_else(
        || NA.to_string(),
        |v| {
            let s = format!("{v:.3}");
            if s == "-0.000" { "0.000".into() } else { s }
        },
    )
}

/// How the periods are cut, read from their starts (a report carries rows, not the flag):
/// a week apart is weekly, otherwise monthly; one row alone cannot tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    Week,
    Month,
    Unknown,
}

impl Cut {
    fn of(periods: &[PeriodRow]) -> Cut {
        match periods {
            [a, b, ..] if b.start - a.start <= Duration::days(7) => Cut::Week,
            [_, _, ..] => Cut::Month,
            _ => Cut::Unknown,
        }
    }

    /// "month", "week", "period".
    fn noun(self) -> &'static str {
        match self {
            Cut::Week => "week",
            Cut::Month => "month",
            Cut::Unknown => "period",
        }
    }

    /// A row's label: 2026-09 for a month, 2026-09-07 for a week (its Monday).
    fn label(self, start: DateTime<Utc>) -> String {
        match self {
            Cut::Month => start.format("%Y-%m").to_string(),
            Cut::Week | Cut::Unknown => start.format("%Y-%m-%d").to_string(),
        }
    }
}

fn is_empty(row: &PeriodRow) -> bool {
    row.submitted == 0
        && row.auto_approved == 0
        && row.approved == 0
        && row.conditional == 0
        && row.rejected == 0
        && row.exceptions_requested == 0
        && row.exceptions_approved == 0
        && row.lead_time_hours_p50.is_none()
}

/// The periods worth drawing: leading ones without any activity are left out (a report since
/// 2000 by month would otherwise open with decades of zeros); how many were left out.
fn shown_periods(report: &Report) -> (&[PeriodRow], usize) {
    let hidden = report.periods.iter().take_while(|r| is_empty(r)).count();
    (&report.periods[hidden..], hidden)
}

/// The sentence saying that some periods are not drawn, if any are not.
fn hidden_text(hidden: usize, cut: Cut) -> Option<String> {
    (hidden > 0).then(|| {
        format!(
            "{hidden} earlier {}{} without any activity not shown.",
            cut.noun(),
            if hidden == 1 { "" } else { "s" }
        )
    })
}

/// Decisions of a period, all kinds.
fn decided(row: &PeriodRow) -> u64 {
    row.auto_approved + row.approved + row.conditional + row.rejected
}
