//! The queue pane: requests as a table (short id, deployment, title, risk coloured by gate,
//! status, age, requester), filtered and sorted. Only the visible window of rows is built, so a
//! store of 100,000 requests draws as fast as one of ten.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Wrap};
use uuid::Uuid;

use crate::console::app::{App, SortKey, StatusFilter};
use crate::console::panes::data_table;
use crate::console::search::{Needle, SearchIndex};
use crate::console::theme::Theme;
use crate::engine::query::RequestFilter;
use crate::engine::{ApprovalRequest, RequestStatus, State};
use crate::untrusted;

/// The ids of the requests the queue lists, in order.
pub fn rows(
    state: &State,
    search: &SearchIndex,
    now: DateTime<Utc>,
    me: &str,
    status: StatusFilter,
    needle: &str,
    sort: SortKey,
) -> Vec<Uuid> {
    let needle = Needle::new(needle);
    let text = search.requests();
    // The pending queue is drawn from the requests awaiting action, not from all of them.
    let candidates: Box<dyn Iterator<Item = (usize, &ApprovalRequest)>> = match status {
        StatusFilter::Pending => Box::new(state.awaiting_indexed()),
        _ => Box::new(state.requests().enumerate()),
    };
    let mut rows: Vec<&ApprovalRequest> = candidates
        .filter(|(i, _)| needle.is_empty() || text.get(*i).is_some_and(|t| needle.in_lowercase(t)))
        .map(|(_, r)| r)
        .filter(|r| match status {
            StatusFilter::Pending => RequestFilter::Pending.matches(state, r, now),
            StatusFilter::Decided => matches!(
                r.status,
                RequestStatus::AutoApproved
                    | RequestStatus::Approved
                    | RequestStatus::Conditional
                    | RequestStatus::Rejected
            ),
            StatusFilter::All => true,
            StatusFilter::Mine => r.requested_by == me,
        })
        .collect();
    match sort {
        // Highest risk first; among equals, who waited longest.
        SortKey::Risk => rows.sort_by(|a, b| {
            b.risk_score
                .value()
                .total_cmp(&a.risk_score.value())
                .then(a.submitted_at.cmp(&b.submitted_at))
        }),
        SortKey::Age => rows.sort_by_key(|r| r.submitted_at),
        SortKey::Deployment => rows.sort_by(|a, b| {
            a.deployment_intent_id
                .cmp(&b.deployment_intent_id)
                .then(a.submitted_at.cmp(&b.submitted_at))
        }),
    }
    rows.into_iter().map(|r| r.id).collect()
}

/// How wide the queue's columns are. The title shows only when it has room to be read; the
/// deployment id, which people search and act on, gets room first.
struct Columns {
    deployment: u16,
    title: bool,
    requester: u16,
}

impl Columns {
    /// ID, RISK, STATUS and AGE, and a space between each of seven columns.
    const FIXED: u16 = 8 + 5 + 15 + 4 + 6;
    const DEPLOYMENT: u16 = 26;
    const REQUESTER: u16 = 16;
    const MIN_TITLE: u16 = 16;

    fn fit(inner: u16) -> Self {
        let flexible = inner.saturating_sub(Self::FIXED);
        let requester = Self::REQUESTER.min(flexible / 4);
        let title = flexible >= Self::DEPLOYMENT + requester + Self::MIN_TITLE;
        let deployment = if title {
            Self::DEPLOYMENT
        } else {
            flexible.saturating_sub(requester)
        };
        Columns {
            deployment,
            title,
            requester,
        }
    }

    fn widths(&self) -> Vec<Constraint> {
        let mut widths = vec![Constraint::Length(8), Constraint::Length(self.deployment)];
        if self.title {
            widths.push(Constraint::Fill(1));
        }
        widths.extend([
            Constraint::Length(5),
            Constraint::Length(15),
            Constraint::Length(4),
            Constraint::Length(self.requester),
        ]);
        widths
    }
}

/// A status as a few words for a narrow column.
pub fn status_label(status: RequestStatus) -> &'static str {
    match status {
        RequestStatus::AutoApproved => "auto-approved",
        RequestStatus::UnderReview => "under review",
        RequestStatus::Approved => "approved",
        RequestStatus::Conditional => "conditional",
        RequestStatus::Rejected => "rejected",
        RequestStatus::ExceptionRequired => "needs exception",
    }
}

/// "45s", "12m", "3h", "2d", "5w": an age that fits four columns.
pub fn compact_age(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s if s < 14 * 86_400 => format!("{}d", s / 86_400),
        s => format!("{}w", s / (7 * 86_400)),
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, focused: bool) {
    let total = app.state().request_count();
    let mut title = vec![
        Span::styled(" Queue ", theme.title),
        Span::styled(
            format!(
                "{} · sort {} · {}",
                app.status_filter().label(),
                app.sort().label(),
                app.queue().len()
            ),
            theme.label,
        ),
    ];
    if !app.filter().is_empty() || app.filtering() {
        title.push(Span::styled(
            format!(" · /{}", untrusted::line(app.filter().text())),
            theme.key,
        ));
    }
    // Only the open requests are there yet (`Msg::Preview`): what another filter lists may
    // still be missing some.
    if app.previewing() {
        title.push(Span::styled(" · reading the whole store…", theme.label));
    }
    title.push(Span::raw(" "));
    let block = Block::bordered()
        .title(Line::from(title))
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        });
    if app.queue().is_empty() {
        let text = empty_text(app, total);
        frame.render_widget(
            Paragraph::new(text)
                .style(theme.label)
                .wrap(Wrap { trim: false })
                .block(block),
            area,
        );
        return;
    }
    let columns = Columns::fit(area.width.saturating_sub(2));
    let mut names = vec!["ID", "DEPLOYMENT"];
    if columns.title {
        names.push("TITLE");
    }
    names.extend(["RISK", "STATUS", "AGE", "REQUESTER"]);
    let table = data_table::Columns {
        header: Row::new(names).style(theme.label.add_modifier(Modifier::BOLD)),
        widths: columns.widths(),
        unfocused_selection: theme.label.add_modifier(Modifier::BOLD),
    };
    let (state, now) = (app.state(), app.now());
    data_table::render(
        frame,
        area,
        block,
        app.queue(),
        table,
        (theme, focused),
        |id| {
            let r = state.request(id)?;
            let mut cells = vec![
                Cell::from(r.short_id()),
                Cell::from(untrusted::line(&r.deployment_intent_id).into_owned()),
            ];
            if columns.title {
                cells.push(Cell::from(
                    untrusted::line(r.title.as_deref().unwrap_or("")).into_owned(),
                ));
            }
            cells.extend([
                Cell::from(Line::from(r.risk_score.to_string()).right_aligned())
                    .style(theme.gate(r.gate)),
                Cell::from(status_label(r.status)).style(theme.status(r.status)),
                Cell::from(compact_age(r.submitted_at, now)),
                Cell::from(untrusted::line(&r.requested_by).into_owned()),
            ]);
            Some((Row::new(cells), Style::new()))
        },
    );
}

fn empty_text(app: &App, total: usize) -> Vec<Line<'static>> {
    if !app.loaded() {
        return vec![Line::raw("Loading…")];
    }
    if total == 0 {
        return vec![
            Line::raw("The store is empty: no request has been submitted yet."),
            Line::raw(""),
            Line::raw("Submit one from a shell or a pipeline:"),
            Line::raw("  cab submit --deployment payments-api-r42 --evidence EP-1 --risk 62"),
            Line::raw(""),
            Line::raw("or look around with demo data: cab --demo"),
        ];
    }
    if !app.filter().is_empty() {
        return vec![Line::raw(format!(
            "No {} request matches “{}”. Esc clears the filter.",
            app.status_filter().label(),
            untrusted::line(app.filter().text())
        ))];
    }
    match app.status_filter() {
        StatusFilter::Pending => vec![
            Line::raw("Nothing is waiting for a decision."),
            Line::raw(format!(
                "{total} request{} in the store; f shows decided, all and your own.",
                if total == 1 { "" } else { "s" }
            )),
        ],
        other => vec![Line::raw(format!(
            "No {} request. f switches the list.",
            other.label()
        ))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_age_fits_four_columns() {
        let now = crate::engine::time::parse("2026-11-28T12:00:00Z").unwrap();
        let ago = |s: i64| compact_age(now - chrono::Duration::seconds(s), now);
        assert_eq!(ago(30), "30s");
        assert_eq!(ago(600), "10m");
        assert_eq!(ago(7200), "2h");
        assert_eq!(ago(3 * 86_400), "3d");
        assert_eq!(ago(30 * 86_400), "4w");
    }
}
