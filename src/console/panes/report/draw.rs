//! Drawing the report view: a title line, then the report's sections in one column (narrow
//! terminals) or two, stretched to the height when there is room and scrolled when there is
//! not. Every figure comes from the [`Report`] as the backend computed it; this only lays it
//! out. Names from the report (approvers, factors, bands) go through `untrusted::line`.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, Paragraph, Row, Sparkline, SparklineBar, Table, Widget, Wrap,
};
use unicode_width::UnicodeWidthStr;

use super::{Choice, ReportView};
use crate::console::layout::STATUS_HEIGHT;
use crate::console::theme::Theme;
use crate::engine::report::{Bucket, PeriodRow, Report};
use crate::untrusted;

/// From this width on, the sections stand in two columns.
const TWO_COLUMNS: u16 = 120;
/// The width of the summary's labels ("exceptions  ").
const LABEL: usize = 12;
/// Approvers listed before the view has room to spare.
const TOP_APPROVERS: u16 = 5;
const NA: &str = "n/a";

/// Rows for the report's sections: the terminal less the status bar and the title line.
pub fn body_height(viewport: Rect) -> u16 {
    viewport.height.saturating_sub(STATUS_HEIGHT + 1)
}

/// How tall the laid-out report is in this terminal (for scrolling).
pub fn content_height(viewport: Rect, report: &Report) -> u16 {
    // Styles do not change widths: any theme measures the same.
    plan(
        viewport.width,
        body_height(viewport),
        report,
        &Theme::monochrome(),
    )
    .1
}

pub fn render(frame: &mut Frame, area: Rect, view: &ReportView, theme: &Theme) {
    let [title, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    let Some((report, shown)) = view.shown() else {
        title_line(frame, title, view, None, theme);
        let text = if view.failed() {
            "The report could not be computed: the status bar says why. \
             p or b asks again, Esc goes back."
        } else {
            "computing the report…"
        };
        let [_, middle, _] = Layout::vertical([
            Constraint::Fill(1),
            Constraint::Length(2),
            Constraint::Fill(1),
        ])
        .areas(body);
        frame.render_widget(
            Paragraph::new(Line::styled(text, theme.label))
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true }),
            middle,
        );
        return;
    };
    let (sections, height) = plan(body.width, body.height, report, theme);
    let height = height.max(body.height);
    let scroll = view.scroll().min(height - body.height);
    title_line(
        frame,
        title,
        view,
        Some((scroll, body.height, height)),
        theme,
    );
    // Drawn whole off screen, then the visible rows copied: a chart cut by the window's edge
    // is cut, not squeezed.
    let mut page = Buffer::empty(Rect::new(0, 0, body.width, height));
    for (section, rect) in sections {
        section.draw(&mut page, rect, report, shown, theme);
    }
    let out = frame.buffer_mut();
    for y in 0..body.height {
        for x in 0..body.width {
            out[(body.x + x, body.y + y)] = page[(x, y + scroll)].clone();
        }
    }
}

/// "Report  last 90 days · by month · computing…", and where the window is when it scrolls.
fn title_line(
    frame: &mut Frame,
    area: Rect,
    view: &ReportView,
    window: Option<(u16, u16, u16)>,
    theme: &Theme,
) {
    let wanted = view.wanted();
    let mut spans = vec![
        Span::styled(" Report ", theme.title),
        Span::styled(format!(" {}", wanted.label()), theme.label),
    ];
    let shown = view.shown().map(|(_, choice)| choice);
    if view.computing() {
        let word = if shown == Some(wanted) {
            " · updating…"
        } else {
            " · computing…"
        };
        spans.push(Span::styled(word, theme.warning));
    } else if let Some(shown) = shown.filter(|s| *s != wanted) {
        spans.push(Span::styled(
            format!(" · still showing {}", shown.label()),
            theme.warning,
        ));
    }
    let position = match window {
        Some((scroll, visible, height)) if height > visible => {
            format!("lines {}–{} of {} ", scroll + 1, scroll + visible, height)
        }
        _ => String::new(),
    };
    let [left, right] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(position.width() as u16),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), left);
    frame.render_widget(Paragraph::new(Line::styled(position, theme.dim)), right);
}

// ----- where the sections go -----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Summary,
    Decisions,
    LeadTime,
    Exceptions,
    Pending,
    Outcomes,
    Approvers,
    Calibration,
}

use Section as S;

const ONE_COLUMN: [Section; 8] = [
    S::Summary,
    S::Decisions,
    S::LeadTime,
    S::Pending,
    S::Exceptions,
    S::Outcomes,
    S::Approvers,
    S::Calibration,
];
const LEFT: [Section; 4] = [S::Summary, S::Decisions, S::LeadTime, S::Exceptions];
const RIGHT: [Section; 4] = [S::Pending, S::Outcomes, S::Approvers, S::Calibration];

/// Each section's place on the page, and the page's height: columns as wide as the terminal
/// allows, each section at its natural height, and the rows left over at the bottom of a
/// column shared among the sections that can use them (charts, the approvers' list).
fn plan(width: u16, height: u16, report: &Report, theme: &Theme) -> (Vec<(Section, Rect)>, u16) {
    let columns: Vec<(u16, u16, &[Section])> = if width < TWO_COLUMNS {
        vec![(0, width, &ONE_COLUMN)]
    } else {
        let left = (width * 55 / 100).max(70);
        vec![(0, left, &LEFT), (left, width - left, &RIGHT)]
    };
    let mut placed = Vec::new();
    let mut page = 0;
    for (x, w, sections) in columns {
        let mut sizes: Vec<(u16, u16)> =
            sections.iter().map(|s| s.rows(w, report, theme)).collect();
        let natural: u16 = sizes.iter().map(|(rows, _)| rows).sum();
        let mut extra = height.saturating_sub(natural);
        while extra > 0 && sizes.iter().any(|(_, more)| *more > 0) {
            for (rows, more) in sizes.iter_mut().filter(|(_, more)| *more > 0) {
                if extra == 0 {
                    break;
                }
                *rows += 1;
                *more -= 1;
                extra -= 1;
            }
        }
        let mut y = 0;
        for (section, (rows, _)) in sections.iter().zip(sizes) {
            placed.push((*section, Rect::new(x, y, w, rows)));
            y += rows;
        }
        page = page.max(y);
    }
    (placed, page)
}

impl Section {
    /// Rows the section needs at width `w`, and how many more it can put to use.
    fn rows(self, w: u16, report: &Report, theme: &Theme) -> (u16, u16) {
        let inner = w.saturating_sub(2);
        match self {
            S::Summary => (2 + summary(report, inner, theme).len() as u16, 0),
            S::Decisions => (8, u16::MAX),
            S::LeadTime => (7, u16::MAX),
            S::Exceptions => (7, u16::MAX),
            S::Pending => (7, 0),
            S::Outcomes => (2 + report.outcomes.by_risk_band.len() as u16, 0),
            S::Approvers => {
                let n = report.approvers.len() as u16;
                if n == 0 {
                    (3, 0)
                } else {
                    (3 + n.min(TOP_APPROVERS), n.saturating_sub(TOP_APPROVERS))
                }
            }
            S::Calibration => {
                let lines = calibration_intro(report, inner, theme).len() as u16;
                let factors = report
                    .calibration
                    .as_ref()
                    .map_or(0, |c| 1 + c.factors.len() as u16);
                (2 + lines + factors, 0)
            }
        }
    }

    fn draw(self, buf: &mut Buffer, area: Rect, report: &Report, shown: Choice, theme: &Theme) {
        match self {
            S::Summary => draw_summary(buf, area, report, theme),
            S::Decisions => draw_decisions(buf, area, report, shown.by, theme),
            S::LeadTime => draw_lead_time(buf, area, report, shown.by, theme),
            S::Exceptions => draw_exceptions(buf, area, report, shown.by, theme),
            S::Pending => draw_pending(buf, area, report, theme),
            S::Outcomes => draw_outcomes(buf, area, report, theme),
            S::Approvers => draw_approvers(buf, area, report, theme),
            S::Calibration => draw_calibration(buf, area, report, theme),
        }
    }
}

fn block<'a>(title: String, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .title(Line::styled(format!(" {title} "), theme.title))
        .border_style(theme.border)
}

/// Draw the section's border and return what is inside it.
fn framed(buf: &mut Buffer, area: Rect, title: String, theme: &Theme) -> Rect {
    let block = block(title, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

// ----- text -----

type Item = Vec<Span<'static>>;

/// Items separated by " · " after a label, continued on lines indented as far as the label
/// where the width runs out.
fn flow(label: &str, items: Vec<Item>, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    flow_with(label, items, " · ", width, theme)
}

fn flow_with(
    label: &str,
    items: Vec<Item>,
    sep: &'static str,
    width: u16,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let width = width as usize;
    let gap = sep.width();
    let indent = label.width().max(LABEL);
    let mut lines = Vec::new();
    let mut line = vec![Span::styled(format!("{label:<indent$}"), theme.label)];
    let mut used = indent;
    let mut first = true;
    for item in items {
        let w: usize = item.iter().map(Span::width).sum();
        if !first && used + gap + w > width {
            lines.push(Line::from(std::mem::take(&mut line)));
            line.push(Span::raw(" ".repeat(indent)));
            used = indent;
            first = true;
        }
        if !first {
            line.push(Span::styled(sep, theme.dim));
            used += gap;
        }
        used += w;
        line.extend(item);
        first = false;
    }
    lines.push(Line::from(line));
    lines
}

fn item(value: String, style: Style, text: &str) -> Item {
    vec![Span::styled(value, style), Span::raw(format!(" {text}"))]
}

fn plain(text: String) -> Item {
    vec![Span::raw(text)]
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| NA.to_string(), |r| format!("{:.1}%", r * 100.0))
}

/// Whole percent for tight places (bars).
fn percent0(rate: Option<f64>) -> String {
    rate.map_or_else(|| NA.to_string(), |r| format!("{:.0}%", r * 100.0))
}

/// "4.2h", "36h", and whole days from 1000 hours on ("42d").
fn hours(h: Option<f64>) -> String {
    match h {
        None => NA.to_string(),
        Some(h) if h < 10.0 => format!("{h:.1}h"),
        Some(h) if h < 1000.0 => format!("{h:.0}h"),
        Some(h) => format!("{:.0}d", h / 24.0),
    }
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| NA.to_string(), |v| format!("{v:.2}"))
}

fn mean(value: Option<f64>) -> String {
    value.map_or_else(|| NA.to_string(), |v| format!("{v:.1}"))
}

fn minute(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

/// The figure's style: dim when it is "n/a" or nothing.
fn figure(text: &str, style: Style, theme: &Theme) -> Style {
    if text == NA { theme.dim } else { style }
}

/// Whether any figure of the report is `null`, so that the summary says what "n/a" means.
fn has_null(r: &Report) -> bool {
    let lead = &r.decision_lead_time_hours;
    [
        r.approval_rate,
        r.auto_approval_share,
        lead.p50,
        lead.p90,
        lead.max,
        r.outcomes.failure_rate,
    ]
    .iter()
    .any(Option::is_none)
        || r.periods.iter().any(|p| p.lead_time_hours_p50.is_none())
        || r.outcomes
            .by_risk_band
            .iter()
            .any(|b| b.failure_rate.is_none())
        || r.calibration.is_none()
}

// ----- the sections -----

fn summary(r: &Report, width: u16, t: &Theme) -> Vec<Line<'static>> {
    let lead = &r.decision_lead_time_hours;
    let x = &r.exceptions;
    let g = &r.requests.by_gate;
    let d = &r.decisions;
    let urgent = if x.expiring_within_7_days > 0 {
        t.urgent
    } else {
        Style::new()
    };
    let rate = |name: &str, value: Option<f64>| {
        let text = percent(value);
        vec![
            Span::raw(format!("{name} ")),
            Span::styled(text.clone(), figure(&text, Style::new(), t)),
        ]
    };
    let mut lines = Vec::new();
    lines.extend(flow(
        "period",
        vec![plain(format!(
            "{} → {} UTC",
            minute(r.period.since),
            minute(r.period.until)
        ))],
        width,
        t,
    ));
    lines.extend(flow(
        "requests",
        vec![
            item(r.requests.submitted.to_string(), Style::new(), "submitted"),
            item(g.auto_approved.to_string(), t.auto_approved, "auto"),
            item(g.manual_review.to_string(), t.manual_review, "review"),
            item(
                g.exception_required.to_string(),
                t.exception_required,
                "exception",
            ),
        ],
        width,
        t,
    ));
    lines.extend(flow(
        "decisions",
        vec![
            item(d.auto_approved.to_string(), t.auto_approved, "auto"),
            item(d.approved.to_string(), t.approved, "approved"),
            item(d.conditional.to_string(), t.manual_review, "conditional"),
            item(d.rejected.to_string(), t.rejected, "rejected"),
        ],
        width,
        t,
    ));
    lines.extend(flow(
        "rates",
        vec![
            rate("approval", r.approval_rate),
            rate("auto-approval share", r.auto_approval_share),
        ],
        width,
        t,
    ));
    let mut times: Vec<Item> = [("p50", lead.p50), ("p90", lead.p90), ("max", lead.max)]
        .into_iter()
        .map(|(name, h)| {
            let text = hours(h);
            vec![
                Span::raw(format!("{name} ")),
                Span::styled(text.clone(), figure(&text, Style::new(), t)),
            ]
        })
        .collect();
    times.push(plain(format!("{} manual decisions", lead.count)));
    lines.extend(flow("lead time", times, width, t));
    lines.extend(flow(
        "pending",
        vec![
            item(
                r.pending.under_review.to_string(),
                t.pending,
                "under review",
            ),
            item(
                r.pending.exception_required.to_string(),
                t.exception_required,
                "need an exception",
            ),
        ],
        width,
        t,
    ));
    lines.extend(flow(
        "exceptions",
        vec![
            item(x.requested.to_string(), Style::new(), "requested"),
            item(x.approved.to_string(), t.approved, "approved"),
            item(x.rejected.to_string(), t.rejected, "rejected"),
            item(x.expired.to_string(), Style::new(), "expired"),
            item(
                x.active_at_end.to_string(),
                Style::new(),
                "active at the end",
            ),
            item(
                x.expiring_within_7_days.to_string(),
                urgent,
                "expiring within 7 days",
            ),
        ],
        width,
        t,
    ));
    let o = &r.outcomes;
    lines.extend(flow(
        "outcomes",
        vec![
            item(o.recorded.to_string(), Style::new(), "recorded"),
            item(o.failures.to_string(), t.rejected, "failed"),
            rate("failure rate", o.failure_rate),
        ],
        width,
        t,
    ));
    if has_null(r) {
        lines.push(Line::styled(
            "n/a: nothing in the period to compute it from",
            t.dim,
        ));
    }
    lines
}

fn draw_summary(buf: &mut Buffer, area: Rect, r: &Report, t: &Theme) {
    let inner = framed(buf, area, "Summary".into(), t);
    Paragraph::new(summary(r, inner.width, t)).render(inner, buf);
}

/// Where the periods go across a chart, the same for every chart of a column so that they
/// line up: each shown period gets a slot of `slot` columns with its bars centred in it; the
/// latest periods are kept when not all fit; a label is written every `every` periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Axis {
    first: usize,
    slot: u16,
    every: usize,
}

/// The narrowest slot: four bars of one column and a gap.
const MIN_SLOT: u16 = 5;

impl Axis {
    /// `n` periods in `width` columns, labels `label` wide.
    fn new(width: u16, n: usize, label: u16) -> Axis {
        let room = (width / MIN_SLOT).max(1) as usize;
        let visible = n.clamp(1, room);
        let slot = (width / visible as u16).max(1);
        Axis {
            first: n.saturating_sub(visible),
            slot,
            every: (label + 1).div_ceil(slot).max(1) as usize,
        }
    }

    /// How wide each of `bars` bars is: as wide as the slot allows (less a gap), at most
    /// `max` columns.
    fn bar(&self, bars: u16, max: u16) -> u16 {
        (self.slot.saturating_sub(1) / bars).clamp(1, max)
    }

    /// Whether the period at `i` (of `n` shown) gets a label: the latest does, and every few
    /// back.
    fn labelled(&self, i: usize, n: usize) -> bool {
        (n - 1 - i).is_multiple_of(self.every)
    }

    /// " · last 13 of 53 weeks" when the earliest periods do not fit.
    fn note(&self, n: usize, by: Bucket) -> String {
        if self.first > 0 {
            format!(" · last {} of {n} {}s", n - self.first, by.as_str())
        } else {
            String::new()
        }
    }

    /// Write `text` centred in the slot of the period at `i`, within `row`.
    fn write(&self, buf: &mut Buffer, row: Rect, i: usize, text: &str, style: Style) {
        let x = row.x + i as u16 * self.slot;
        if x >= row.right() {
            return;
        }
        let w = text.width() as u16;
        let x = x + self.slot.saturating_sub(w) / 2;
        let x = x.min(row.right().saturating_sub(w)).max(row.x);
        buf.set_stringn(x, row.y, text, (row.right() - x) as usize, style);
    }

    /// The periods' labels under a chart.
    fn labels(&self, buf: &mut Buffer, row: Rect, periods: &[PeriodRow], by: Bucket, t: &Theme) {
        let n = periods.len();
        let shown = &periods[self.first..];
        for (i, p) in shown.iter().enumerate() {
            if self.labelled(i, shown.len()) {
                self.write(buf, row, i, &period_label(p.start, by, n), t.label);
            }
        }
    }
}

/// "Nov" (or "11/25" when months of several years are shown), "11-23" for the week of the
/// 23rd of November.
fn period_label(start: DateTime<Utc>, by: Bucket, n: usize) -> String {
    match by {
        Bucket::Week => start.format("%m-%d").to_string(),
        Bucket::Month if n > 12 => start.format("%m/%y").to_string(),
        Bucket::Month => start.format("%b").to_string(),
    }
}

fn label_width(by: Bucket, n: usize) -> u16 {
    match by {
        Bucket::Month if n <= 12 => 3,
        _ => 5,
    }
}

fn axis(area: Rect, r: &Report, by: Bucket) -> Axis {
    let n = r.periods.len();
    Axis::new(area.width.saturating_sub(2), n, label_width(by, n))
}

/// A chart's border with its title and legend ("Decisions per month: █ auto █ approved …")
/// above, and below how to read it; returns what is inside.
fn chart_frame(
    buf: &mut Buffer,
    area: Rect,
    title: String,
    series: &[(&'static str, Style)],
    below: String,
    t: &Theme,
) -> Rect {
    let mut top = vec![Span::styled(format!(" {title}"), t.title)];
    if !series.is_empty() {
        top.push(Span::styled(":", t.title));
    }
    for (name, style) in series {
        top.push(Span::raw(" "));
        top.push(Span::styled("█", *style));
        top.push(Span::styled(format!(" {name}"), t.label));
    }
    top.push(Span::raw(" "));
    let block = Block::bordered()
        .title(Line::from(top))
        .title_bottom(Line::styled(format!(" {below} "), t.dim).right_aligned())
        .border_style(t.border);
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// A chart of `series` per period, bars side by side within each period.
#[allow(clippy::too_many_arguments)]
fn grouped_chart(
    buf: &mut Buffer,
    area: Rect,
    title: &str,
    r: &Report,
    by: Bucket,
    series: &[(&'static str, Style)],
    values: impl Fn(&PeriodRow) -> Vec<u64>,
    t: &Theme,
) {
    let axis = axis(area, r, by);
    let n = r.periods.len();
    let shown = &r.periods[axis.first..];
    let tallest = shown.iter().flat_map(&values).max().unwrap_or(0);
    let inner = chart_frame(
        buf,
        area,
        format!("{title} per {}", by.as_str()),
        series,
        format!("bars left to right · tallest {tallest}{}", axis.note(n, by)),
        t,
    );
    let [chart, labels] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
    axis.labels(buf, labels, &r.periods, by, t);
    if tallest == 0 {
        let middle = Rect::new(chart.x, chart.y + chart.height / 2, chart.width, 1);
        Paragraph::new(Line::styled(
            format!("no {} in the period", title.to_lowercase()),
            t.dim,
        ))
        .alignment(Alignment::Center)
        .render(middle, buf);
        return;
    }
    let bars_per = series.len() as u16;
    let bar = axis.bar(bars_per, 4);
    let group = bar * bars_per;
    let offset = axis.slot.saturating_sub(group) / 2;
    let groups: Vec<BarGroup> = shown
        .iter()
        .map(|p| {
            let bars: Vec<Bar> = values(p)
                .into_iter()
                .zip(series)
                .map(|(v, (_, style))| Bar::default().value(v).style(*style).text_value(""))
                .collect();
            BarGroup::default().bars(&bars)
        })
        .collect();
    let chart = Rect {
        x: chart.x + offset,
        width: chart.width.saturating_sub(offset),
        ..chart
    };
    BarChart::grouped(groups)
        .bar_width(bar)
        .bar_gap(0)
        .group_gap(axis.slot.saturating_sub(group))
        .render(chart, buf);
}

fn draw_decisions(buf: &mut Buffer, area: Rect, r: &Report, by: Bucket, t: &Theme) {
    let series = [
        ("auto", t.auto_approved.add_modifier(Modifier::DIM)),
        ("approved", t.approved),
        ("conditional", t.manual_review),
        ("rejected", t.rejected),
    ];
    grouped_chart(
        buf,
        area,
        "Decisions",
        r,
        by,
        &series,
        |p| vec![p.auto_approved, p.approved, p.conditional, p.rejected],
        t,
    );
}

fn draw_exceptions(buf: &mut Buffer, area: Rect, r: &Report, by: Bucket, t: &Theme) {
    let series = [("requested", t.pending), ("approved", t.approved)];
    grouped_chart(
        buf,
        area,
        "Exceptions",
        r,
        by,
        &series,
        |p| vec![p.exceptions_requested, p.exceptions_approved],
        t,
    );
}

/// The median lead time of each period: a sparkline stretched so that each period is a
/// column of the chart's slot, its value and label below; a period without manual decisions
/// is blank, "n/a" below.
fn draw_lead_time(buf: &mut Buffer, area: Rect, r: &Report, by: Bucket, t: &Theme) {
    let axis = axis(area, r, by);
    let n = r.periods.len();
    let inner = chart_frame(
        buf,
        area,
        format!(
            "Lead time p50 per {}: hours to a manual decision",
            by.as_str()
        ),
        &[],
        format!("median per {}{}", by.as_str(), axis.note(n, by)),
        t,
    );
    let [spark, values, labels] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let shown = &r.periods[axis.first..];
    let bar = axis.bar(1, 8);
    let offset = axis.slot.saturating_sub(bar) / 2;
    let tenths: Vec<Option<u64>> = shown
        .iter()
        .map(|p| {
            p.lead_time_hours_p50
                .map(|h| ((h * 10.0).round().max(0.0) as u64).max(1))
        })
        .collect();
    let mut data: Vec<SparklineBar> = Vec::new();
    for v in &tenths {
        data.extend((0..offset).map(|_| SparklineBar::from(Some(0))));
        data.extend((0..bar).map(|_| SparklineBar::from(*v)));
        data.extend((offset + bar..axis.slot).map(|_| SparklineBar::from(Some(0))));
    }
    Sparkline::default()
        .data(data)
        .max(tenths.iter().flatten().copied().max().unwrap_or(1))
        .style(t.key)
        .absent_value_symbol(" ")
        .render(spark, buf);
    for (i, p) in shown.iter().enumerate() {
        let text = hours(p.lead_time_hours_p50);
        axis.write(buf, values, i, &text, figure(&text, t.label, t));
    }
    axis.labels(buf, labels, &r.periods, by, t);
}

/// Horizontal bars, one a row: the label on the left, the figure written after the longest
/// bar so that it never covers one.
fn rows_chart(
    buf: &mut Buffer,
    area: Rect,
    rows: Vec<(String, u64, String, Style)>,
    max: Option<u64>,
    t: &Theme,
) {
    let text_width = rows.iter().map(|r| r.2.width() as u16).max().unwrap_or(0);
    let [bars_area, texts] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(text_width + 1)]).areas(area);
    for (i, (_, _, text, _)) in rows.iter().enumerate() {
        let y = texts.y + i as u16;
        if y < texts.bottom() {
            let style = figure(text.split(' ').next().unwrap_or(""), Style::new(), t);
            buf.set_stringn(texts.x + 1, y, text, text_width as usize, style);
        }
    }
    let bars: Vec<Bar> = rows
        .into_iter()
        .map(|(label, value, _, style)| {
            Bar::default()
                .label(Line::styled(label, t.label))
                .value(value)
                .text_value("")
                .style(style)
        })
        .collect();
    let mut chart = BarChart::horizontal(bars).bar_width(1).bar_gap(0);
    if let Some(max) = max {
        chart = chart.max(max);
    }
    chart.render(bars_area, buf);
}

fn draw_pending(buf: &mut Buffer, area: Rect, r: &Report, t: &Theme) {
    let inner = framed(buf, area, "Pending at the end, by age in days".into(), t);
    let rows = r
        .pending
        .age_days
        .rows()
        .into_iter()
        .map(|(name, count)| {
            let style = match name {
                ">90" => t.urgent,
                "31-90" => t.warning,
                _ => t.pending,
            };
            (format!("{name:>5}"), count, count.to_string(), style)
        })
        .collect();
    rows_chart(buf, inner, rows, None, t);
}

/// "auto 4% · review 12% · exception 20%": the failure rate of each gate.
fn by_gate(r: &Report) -> String {
    let o = &r.outcomes;
    if o.recorded == 0 {
        return "no outcome recorded for the period's requests".into();
    }
    let g = &o.by_gate;
    format!(
        "by gate: auto {} · review {} · exception {}",
        percent0(g.auto_approved.failure_rate),
        percent0(g.manual_review.failure_rate),
        percent0(g.exception_required.failure_rate)
    )
}

fn draw_outcomes(buf: &mut Buffer, area: Rect, r: &Report, t: &Theme) {
    let inner = chart_frame(
        buf,
        area,
        "Failure rate by risk band".into(),
        &[],
        by_gate(r),
        t,
    );
    let rows = r
        .outcomes
        .by_risk_band
        .iter()
        .map(|b| {
            let permille = b
                .failure_rate
                .map_or(0, |f| (f * 1000.0).round().clamp(0.0, 1000.0) as u64);
            let text = match b.failure_rate {
                Some(_) => format!(
                    "{} ({} of {})",
                    percent0(b.failure_rate),
                    b.failures,
                    b.recorded
                ),
                None => format!("{NA} (none)"),
            };
            let style = if b.failure_rate.is_some() {
                t.rejected
            } else {
                t.dim
            };
            let band = format!("{:>6}", untrusted::line(&b.band));
            (band, permille, text, style)
        })
        .collect();
    rows_chart(buf, inner, rows, Some(1000), t);
}

fn number(n: u64) -> Text<'static> {
    Text::from(Line::from(n.to_string()).alignment(Alignment::Right))
}

fn draw_approvers(buf: &mut Buffer, area: Rect, r: &Report, t: &Theme) {
    let n = r.approvers.len();
    let room = area.height.saturating_sub(3) as usize;
    let title = if n > room {
        format!("Approvers · top {room} of {n}")
    } else {
        "Approvers".to_string()
    };
    let inner = framed(buf, area, title, t);
    if n == 0 {
        Paragraph::new(Line::styled("no manual decision in the period", t.dim)).render(inner, buf);
        return;
    }
    let header = Row::new(
        ["approver", "approved", "cond.", "rejected", "total"].map(|h| {
            if h == "approver" {
                Text::from(h)
            } else {
                Text::from(Line::from(h).alignment(Alignment::Right))
            }
        }),
    )
    .style(t.label.add_modifier(Modifier::BOLD));
    let rows = r.approvers.iter().take(room).map(|a| {
        Row::new(vec![
            Text::from(untrusted::line(&a.approver).into_owned()),
            number(a.approved),
            number(a.conditional),
            number(a.rejected),
            number(a.total()),
        ])
    });
    Widget::render(
        Table::new(
            rows,
            [
                Constraint::Fill(1),
                Constraint::Length(8),
                Constraint::Length(5),
                Constraint::Length(8),
                Constraint::Length(5),
            ],
        )
        .header(header),
        inner,
        buf,
    );
}

/// The words of `text`, each an item, to flow with single spaces.
fn words(text: &str, style: Style) -> Vec<Item> {
    text.split(' ')
        .map(|w| vec![Span::styled(w.to_string(), style)])
        .collect()
}

fn calibration_intro(r: &Report, width: u16, t: &Theme) -> Vec<Line<'static>> {
    match &r.calibration {
        None => flow_with(
            "risk score",
            words(
                "AUC n/a: needs 2 failed and 2 successful deployments among the outcomes",
                t.dim,
            ),
            " ",
            width,
            t,
        ),
        Some(c) => {
            let mut items = vec![vec![
                Span::raw("AUC "),
                Span::styled(format!("{:.2}", c.score_auc), t.title),
            ]];
            items.extend(words("(0.5 = chance, 1 = perfect)", t.dim));
            flow_with("risk score", items, " ", width, t)
        }
    }
}

fn draw_calibration(buf: &mut Buffer, area: Rect, r: &Report, t: &Theme) {
    let inner = framed(
        buf,
        area,
        "Calibration: does risk rank failures first?".into(),
        t,
    );
    let intro = calibration_intro(r, inner.width, t);
    let [top, table] =
        Layout::vertical([Constraint::Length(intro.len() as u16), Constraint::Fill(1)])
            .areas(inner);
    Paragraph::new(intro).render(top, buf);
    let Some(c) = &r.calibration else {
        return;
    };
    let right =
        |s: String, style: Style| Text::from(Line::styled(s, style).alignment(Alignment::Right));
    let header = Row::new([
        Text::from("factor"),
        right("AUC".into(), Style::new()),
        right("mean failed".into(), Style::new()),
        right("mean ok".into(), Style::new()),
    ])
    .style(t.label.add_modifier(Modifier::BOLD));
    let rows = c.factors.iter().map(|(name, f)| {
        let cells = [ratio(f.auc), mean(f.mean_failure), mean(f.mean_success)].map(|s| {
            let style = figure(&s, Style::new(), t);
            right(s, style)
        });
        let [auc, failed, ok] = cells;
        Row::new(vec![
            Text::from(untrusted::line(name).into_owned()),
            auc,
            failed,
            ok,
        ])
    });
    Widget::render(
        Table::new(
            rows,
            [
                Constraint::Fill(1),
                Constraint::Length(5),
                Constraint::Length(11),
                Constraint::Length(8),
            ],
        )
        .header(header),
        table,
        buf,
    );
}
