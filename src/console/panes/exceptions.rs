//! The exceptions pane: every exception with its status and a countdown to expiry, the most
//! urgent first; active ones expiring within 72 hours stand out, expired ones are dimmed. Below,
//! the selected exception's justification and compensating controls in full.

use chrono::{DateTime, Duration, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Wrap};
use uuid::Uuid;

use crate::console::app::App;
use crate::console::layout::exceptions_split;
use crate::console::panes::data_table;
use crate::console::search::{Needle, SearchIndex};
use crate::console::theme::Theme;
use crate::engine::query::EXPIRING_SOON_HOURS;
use crate::engine::{ExceptionStatus, SecurityException, State, short_id, time};
use crate::humanize::{countdown, relative};
use crate::untrusted;

/// The ids of the exceptions listed, most urgent first: pending (oldest first), then active
/// (soonest expiry first), then rejected and expired (newest first).
pub fn rows(state: &State, search: &SearchIndex, now: DateTime<Utc>, needle: &str) -> Vec<Uuid> {
    let needle = Needle::new(needle);
    let text = search.exceptions();
    let mut rows: Vec<&SecurityException> = state
        .exceptions()
        .enumerate()
        .filter(|(i, _)| needle.is_empty() || text.get(*i).is_some_and(|t| needle.in_lowercase(t)))
        .map(|(_, e)| e)
        .collect();
    rows.sort_by_cached_key(|e| match e.status_at(now) {
        ExceptionStatus::Pending => (0, e.requested_at.timestamp(), 0),
        ExceptionStatus::Approved => (1, e.expires_at.timestamp(), 0),
        _ => (2, -e.requested_at.timestamp(), 0),
    });
    rows.into_iter().map(|e| e.id).collect()
}

fn is_urgent(e: &SecurityException, now: DateTime<Utc>) -> bool {
    e.is_active(now) && e.expires_at - now <= Duration::hours(EXPIRING_SOON_HOURS)
}

/// "in 2d 4h" or "expired": fits a narrow column.
fn expiry_cell(e: &SecurityException, now: DateTime<Utc>) -> String {
    match e.status_at(now) {
        ExceptionStatus::Expired => "expired".to_string(),
        // A rejected exception never takes effect: its expiry means nothing any more.
        ExceptionStatus::Rejected => "-".to_string(),
        _ => format!("in {}", countdown(e.expires_at, now)),
    }
}

/// "expires in 2d 4h", "expired 3 days ago", "rejected, never in force".
pub fn expiry_text(e: &SecurityException, now: DateTime<Utc>) -> String {
    if e.status_at(now) == ExceptionStatus::Rejected {
        "rejected, never in force".to_string()
    } else if e.is_expired(now) {
        format!("expired {}", relative(e.expires_at, now))
    } else {
        format!("expires in {}", countdown(e.expires_at, now))
    }
}

fn status_text(e: &SecurityException, now: DateTime<Utc>) -> &'static str {
    if e.is_active(now) {
        "active"
    } else {
        e.status_at(now).as_str()
    }
}

fn row_style(e: &SecurityException, now: DateTime<Utc>, theme: &Theme) -> Style {
    match e.status_at(now) {
        _ if is_urgent(e, now) => theme.urgent,
        ExceptionStatus::Expired | ExceptionStatus::Rejected => theme.dim,
        ExceptionStatus::Pending => theme.pending,
        ExceptionStatus::Approved => Style::new(),
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, focused: bool) {
    let now = app.now();
    let (table_area, detail_area) = exceptions_split(area);
    let pending = app.counts().exceptions_pending;
    let soon = app.counts().expiring_soon;
    let block = Block::bordered()
        .title(Line::from(vec![
            Span::styled(" Exceptions ", theme.title),
            Span::styled(
                format!(
                    "{} · {pending} pending · {soon} expiring soon ",
                    app.exceptions().len()
                ),
                theme.label,
            ),
        ]))
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        });
    if app.exceptions().is_empty() {
        let text = if app.state().exception_count() == 0 {
            "No exception has been requested. High-risk requests (x in the queue) need one."
        } else {
            "No exception matches the filter."
        };
        frame.render_widget(
            Paragraph::new(text)
                .style(theme.label)
                .wrap(Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    let table = data_table::Columns {
        header: Row::new(["ID", "DEPLOYMENT", "STATUS", "EXPIRES"])
            .style(theme.label.add_modifier(Modifier::BOLD)),
        widths: vec![
            Constraint::Length(8),
            Constraint::Fill(1),
            Constraint::Length(8),
            Constraint::Length(10),
        ],
        unfocused_selection: Style::new().add_modifier(Modifier::BOLD),
    };
    let state = app.state();
    data_table::render(
        frame,
        table_area,
        block,
        app.exceptions(),
        table,
        (theme, focused),
        |id| {
            let e = state.exception(id)?;
            let row = Row::new(vec![
                Cell::from(e.short_id()),
                Cell::from(untrusted::line(&e.deployment_intent_id).into_owned()),
                Cell::from(status_text(e, now)),
                Cell::from(expiry_cell(e, now)),
            ]);
            Some((row, row_style(e, now, theme)))
        },
    );
    if let Some(detail_area) = detail_area {
        let block = Block::bordered()
            .title(Line::styled(" Justification and controls ", theme.title))
            .border_style(theme.border);
        let lines = match app.selected_exception().and_then(|id| state.exception(&id)) {
            Some(e) => detail_lines(app, e, theme),
            None => vec![Line::raw("")],
        };
        frame.render_widget(
            Paragraph::new(lines)
                .block(block)
                .wrap(Wrap { trim: false }),
            detail_area,
        );
    }
}

fn detail_lines(app: &App, e: &SecurityException, theme: &Theme) -> Vec<Line<'static>> {
    let now = app.now();
    let clean = |s: &str| untrusted::block(s).into_owned();
    let label = |l: &str| Span::styled(format!("{l:<13}"), theme.label);
    let mut out = vec![
        Line::from(vec![
            label("exception"),
            Span::raw(format!(
                "{} for request {}",
                e.short_id(),
                short_id(&e.request_id)
            )),
        ]),
        Line::from(vec![
            label("status"),
            Span::styled(status_text(e, now), row_style(e, now, theme)),
            Span::raw(format!(
                " · {} · {}",
                expiry_text(e, now),
                time::format_secs(e.expires_at)
            )),
        ]),
        Line::from(vec![
            label("requested"),
            Span::raw(format!(
                "by {} {}",
                untrusted::line(&e.requested_by),
                relative(e.requested_at, now)
            )),
        ]),
        Line::styled("justification", theme.label),
    ];
    for line in clean(&e.justification).lines() {
        out.push(Line::raw(format!("  {line}")));
    }
    out.push(Line::styled("compensating controls", theme.label));
    for c in &e.compensating_controls {
        out.push(Line::raw(format!("  • {}", untrusted::line(c))));
    }
    if let (Some(by), Some(at)) = (&e.reviewed_by, e.reviewed_at) {
        out.push(Line::from(vec![
            label("reviewed"),
            Span::raw(format!(
                "{} by {} {}",
                e.status,
                untrusted::line(by),
                relative(at, now)
            )),
        ]));
    }
    if let Some(r) = &e.review_rationale {
        out.push(Line::from(vec![
            label("rationale"),
            Span::raw(untrusted::line(r).into_owned()),
        ]));
    }
    out
}
