//! The detail pane: one request in full. Its risk against both thresholds (a gauge whose
//! colours are the gates, with markers at the thresholds), the factor breakdown as bars, the
//! evidence, correlation id and requester, the decision, its exceptions, how its deployment went
//! (the outcome), and the timeline of its events (who, what, when; relative and absolute), one
//! function per section. It shows the queue's selection, or, once the exceptions pane has had
//! the focus, the request the selected exception belongs to.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use chrono::{DateTime, Utc};

use crate::console::app::{App, History, Pane};
use crate::console::intent::Intent;
use crate::console::theme::Theme;
use crate::engine::{ApprovalRequest, Gate, OutcomeResult, State, Thresholds, short_id, time};
use crate::humanize::relative;
use crate::untrusted;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, focused: bool) {
    let request = app.detail_request().and_then(|id| app.state().request(&id));
    let mut title = vec![Span::styled(" Detail ", theme.title)];
    // Say why the request shown is not the queue's.
    if app.detail_follows() == Pane::Exceptions
        && let Some(e) = app.selected_exception()
    {
        title.push(Span::styled(
            format!("· request of exception {} ", short_id(&e)),
            theme.label,
        ));
    }
    let block = Block::bordered()
        .title(Line::from(title))
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        });
    let inner_width = area.width.saturating_sub(2) as usize;
    let lines = match request {
        Some(request) => lines(app, request, theme, inner_width),
        None => vec![Line::styled(
            if app.loaded() {
                "No request selected."
            } else {
                "Loading…"
            },
            theme.label,
        )],
    };
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((app.detail_scroll(), 0)),
        area,
    );
}

fn field(label: &str, value: String, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{label:<12}"), theme.label),
        Span::raw(value),
    ])
}

fn clean(s: &str) -> String {
    untrusted::line(s).into_owned()
}

/// The request's sections, one after the other.
fn lines(app: &App, r: &ApprovalRequest, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let (state, now) = (app.state(), app.now());
    let mut out = heading(r, theme);
    out.push(Line::raw(""));
    out.extend(risk(r, theme, width));
    out.extend(factors(r, theme, width));
    out.push(Line::raw(""));
    out.extend(provenance(r, now, theme));
    out.push(Line::raw(""));
    out.extend(decision(state, r, now, theme));
    out.extend(exceptions(state, r, now, theme));
    out.extend(outcome(app, r, now, theme));
    out.push(Line::raw(""));
    out.extend(timeline(app.history(&r.id), now, theme));
    out
}

/// Title, deployment and status.
fn heading(r: &ApprovalRequest, theme: &Theme) -> Vec<Line<'static>> {
    vec![
        Line::styled(
            clean(r.title.as_deref().unwrap_or("(no title)")),
            theme.title,
        ),
        field("deployment", clean(&r.deployment_intent_id), theme),
        Line::from(vec![
            Span::styled(format!("{:<12}", "status"), theme.label),
            Span::styled(r.status.to_string(), theme.status(r.status)),
        ]),
    ]
}

/// The score against both thresholds, as a gauge with a scale.
fn risk(r: &ApprovalRequest, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let gauge_width = width.saturating_sub(2).clamp(10, 60);
    vec![
        Line::from(vec![
            Span::styled(format!("{:<12}", "risk"), theme.label),
            Span::styled(
                r.risk_score.to_string(),
                theme
                    .gate(r.gate)
                    .add_modifier(ratatui::style::Modifier::BOLD),
            ),
            Span::styled(
                format!(
                    "  auto ≤ {} · review ≤ {} · exception above",
                    r.thresholds.auto_approve_max(),
                    r.thresholds.manual_review_max()
                ),
                theme.dim,
            ),
        ]),
        gauge(r.risk_score.value(), &r.thresholds, gauge_width, theme),
        scale(&r.thresholds, gauge_width, theme),
    ]
}

/// The factor breakdown as bars, when there are factors.
fn factors(r: &ApprovalRequest, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    if r.risk_factors.is_empty() {
        return Vec::new();
    }
    let mut out = vec![Line::raw(""), Line::styled("factors", theme.label)];
    let name_width = r
        .risk_factors
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    let max = r
        .risk_factors
        .values()
        .fold(20.0_f64, |m, v| m.max(*v))
        .max(f64::MIN_POSITIVE);
    let bar_width = width.saturating_sub(name_width + 12).clamp(4, 30);
    for (name, value) in &r.risk_factors {
        let filled = ((value.max(0.0) / max) * bar_width as f64).round() as usize;
        out.push(Line::from(vec![
            Span::styled(
                format!(
                    "  {:<name_width$} ",
                    crate::humanize::truncate(&clean(name), name_width)
                ),
                theme.label,
            ),
            Span::styled("█".repeat(filled.min(bar_width)), theme.gate(r.gate)),
            Span::styled(
                "░".repeat(bar_width - filled.min(bar_width)),
                theme.bar_empty,
            ),
            Span::raw(format!(" {value}")),
        ]));
    }
    out
}

/// Evidence, correlation id, who asked and when, and the full id.
fn provenance(r: &ApprovalRequest, now: DateTime<Utc>, theme: &Theme) -> Vec<Line<'static>> {
    vec![
        field("evidence", clean(&r.evidence_package_id), theme),
        field("correlation", clean(&r.correlation_id), theme),
        field(
            "requested",
            format!(
                "by {} {} · {}",
                clean(&r.requested_by),
                relative(r.submitted_at, now),
                time::format_secs(r.submitted_at)
            ),
            theme,
        ),
        field("id", r.id.to_string(), theme),
    ]
}

/// The decision with its rationale and conditions, or "none yet".
fn decision(
    state: &State,
    r: &ApprovalRequest,
    now: DateTime<Utc>,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let Some(d) = state.decision(&r.id) else {
        return vec![field("decision", "none yet".into(), theme)];
    };
    let mut out = vec![
        Line::from(vec![
            Span::styled(format!("{:<12}", "decision"), theme.label),
            Span::styled(d.decision.to_string(), theme.status(d.decision.status())),
            Span::raw(format!(
                " by {} {} · {}",
                clean(&d.approver),
                relative(d.decided_at, now),
                time::format_secs(d.decided_at)
            )),
        ]),
        field("rationale", clean(&d.rationale), theme),
    ];
    for c in &d.conditions {
        out.push(field("condition", format!("• {}", clean(c)), theme));
    }
    out
}

/// The request's exceptions with their status and expiry, when it has any.
fn exceptions(
    state: &State,
    r: &ApprovalRequest,
    now: DateTime<Utc>,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let exceptions: Vec<_> = state.exceptions_for(&r.id).collect();
    if exceptions.is_empty() {
        return Vec::new();
    }
    let mut out = vec![Line::raw(""), Line::styled("exceptions", theme.label)];
    for e in exceptions {
        let active = e.is_active(now);
        let expiry = crate::console::panes::exceptions::expiry_text(e, now);
        out.push(Line::from(vec![
            Span::raw(format!("  {} ", e.short_id())),
            Span::styled(
                if active {
                    "active".to_string()
                } else {
                    e.status_at(now).to_string()
                },
                if active { theme.approved } else { theme.dim },
            ),
            Span::styled(format!("  {expiry}"), theme.dim),
        ]));
    }
    out
}

/// How the deployment went, once recorded; for a request that could be deployed and has none
/// yet (as the engine's own rule judges it), that `o` records it.
fn outcome(
    app: &App,
    r: &ApprovalRequest,
    now: DateTime<Utc>,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let state = app.state();
    let Some(o) = state.outcome(&r.id) else {
        if Intent::RecordOutcome(r.id)
            .judge(state, app.me(), now)
            .is_ok()
        {
            return vec![
                Line::raw(""),
                Line::from(vec![
                    Span::styled(format!("{:<12}", "outcome"), theme.label),
                    Span::styled("not recorded yet · o records how it went", theme.dim),
                ]),
            ];
        }
        return Vec::new();
    };
    let mut out = vec![
        Line::raw(""),
        Line::from(vec![
            Span::styled(format!("{:<12}", "outcome"), theme.label),
            Span::styled(
                o.result.to_string(),
                match o.result {
                    OutcomeResult::Success => theme.success,
                    OutcomeResult::Failure | OutcomeResult::RolledBack => theme.error,
                },
            ),
            Span::raw(format!(
                " by {} {} · {}",
                clean(&o.recorded_by),
                relative(o.recorded_at, now),
                time::format_secs(o.recorded_at)
            )),
        ]),
    ];
    if let Some(incident) = &o.incident {
        out.push(field("incident", clean(incident), theme));
    }
    if let Some(note) = &o.note {
        out.push(field("note", clean(note), theme));
    }
    out
}

/// The request's events: who, what, when (relative and absolute).
fn timeline(history: Option<&History>, now: DateTime<Utc>, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = vec![Line::styled("timeline", theme.label)];
    match history {
        Some(History::Loaded(events)) => {
            for e in events {
                out.push(Line::from(vec![
                    Span::styled(format!("  #{:<6}", e.seq), theme.dim),
                    Span::raw(format!("{:<14}", relative(e.event.at, now))),
                    Span::styled(format!("{} ", clean(&e.event.actor)), theme.key),
                    Span::raw(clean(&e.event.kind.summary())),
                    Span::styled(format!("  {}", time::format_secs(e.event.at)), theme.dim),
                ]));
            }
        }
        Some(History::Failed(e)) => out.push(Line::styled(
            format!("  cannot load: {}", clean(e)),
            theme.error,
        )),
        _ => out.push(Line::styled("  loading…", theme.dim)),
    }
    out
}

/// The score as a bar across 0..100 whose cells take the colour of the gate their value falls
/// in, with a marker at each threshold.
pub fn gauge(score: f64, thresholds: &Thresholds, width: usize, theme: &Theme) -> Line<'static> {
    let markers = marker_cells(thresholds, width);
    let mut spans = Vec::with_capacity(width + 2);
    spans.push(Span::styled("▕", theme.dim));
    for i in 0..width {
        let value = (i as f64 + 0.5) / width as f64 * 100.0;
        let gate_style = theme.gate(gate_of(value, thresholds));
        let style: Style;
        let symbol = if markers.contains(&i) {
            style = if value <= score {
                gate_style
            } else {
                theme.label
            };
            "┃"
        } else if value <= score {
            style = gate_style;
            "█"
        } else {
            style = theme.bar_empty;
            "░"
        };
        spans.push(Span::styled(symbol, style));
    }
    spans.push(Span::styled("▏", theme.dim));
    Line::from(spans)
}

/// Labels under the gauge: 0, each threshold under its marker, 100.
fn scale(thresholds: &Thresholds, width: usize, theme: &Theme) -> Line<'static> {
    let mut text = vec![' '; width + 2];
    let mut put = |at: usize, label: &str| {
        let start = at.min((width + 2).saturating_sub(label.len()));
        for (i, c) in label.chars().enumerate() {
            if let Some(slot) = text.get_mut(start + i) {
                *slot = c;
            }
        }
    };
    put(0, "0");
    let markers = marker_cells(thresholds, width);
    let labels = [
        format!("{}", thresholds.auto_approve_max()),
        format!("{}", thresholds.manual_review_max()),
    ];
    for (cell, label) in markers.iter().zip(&labels) {
        put(cell + 1, label);
    }
    put(width + 2 - 3, "100");
    Line::styled(text.into_iter().collect::<String>(), theme.dim)
}

fn marker_cells(thresholds: &Thresholds, width: usize) -> [usize; 2] {
    let cell = |v: f64| (((v / 100.0) * width as f64) as usize).min(width.saturating_sub(1));
    [
        cell(thresholds.auto_approve_max()),
        cell(thresholds.manual_review_max()),
    ]
}

fn gate_of(value: f64, t: &Thresholds) -> Gate {
    if value <= t.auto_approve_max() {
        Gate::AutoApproved
    } else if value <= t.manual_review_max() {
        Gate::ManualReview
    } else {
        Gate::ExceptionRequired
    }
}
