//! The status bar: where the data lives, who you are, what is waiting, the last message; and
//! below it the keys that work here, from the keymap.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::console::app::{App, Level};
use crate::console::keymap;
use crate::console::theme::Theme;
use crate::untrusted;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let [top, bottom] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let c = app.counts;
    let roles: Vec<&str> = app
        .me
        .roles
        .iter()
        .filter(|r| **r != crate::engine::Role::Requester)
        .map(|r| r.as_str())
        .collect();
    let mut spans = vec![
        Span::styled(untrusted::line(&app.me.name).into_owned(), theme.key),
        Span::styled(
            if roles.is_empty() {
                " (requester)".to_string()
            } else {
                format!(" ({})", roles.join(", "))
            },
            theme.label,
        ),
    ];
    // Warnings come before the counts, which give way first when the line is too long.
    if app.read_only {
        spans.push(Span::styled(" │ ", theme.dim));
        spans.push(Span::styled("READ-ONLY", theme.warning));
    }
    if let Some(e) = &app.sync_error {
        spans.push(Span::styled(" │ ", theme.dim));
        spans.push(Span::styled(
            format!("not up to date: {}", untrusted::line(e)),
            theme.error,
        ));
    }
    spans.extend([
        Span::styled(" │ ", theme.dim),
        Span::styled(format!("{} under review", c.under_review), theme.pending),
        Span::styled(" · ", theme.dim),
        Span::styled(
            format!("{} need exception", c.exception_required),
            theme.exception_required,
        ),
        Span::styled(" · ", theme.dim),
        Span::raw(format!("{} exceptions pending", c.exceptions_pending)),
        Span::styled(" · ", theme.dim),
        Span::styled(
            format!("{} expiring soon", c.expiring_soon),
            if c.expiring_soon > 0 {
                theme.urgent
            } else {
                theme.label
            },
        ),
    ]);
    // Where the data lives is never cut off: when the line is too long, the counts give way
    // (ending in "…") and the location keeps the right end of the bar, whole if it fits beside
    // the user.
    let head = Line::from(spans);
    let tail = Line::from(vec![
        Span::styled(" │ ", theme.dim),
        Span::styled(untrusted::line(&app.location).into_owned(), theme.label),
    ]);
    if head.width() + tail.width() <= top.width as usize {
        let mut line = head;
        line.spans.extend(tail.spans);
        frame.render_widget(Paragraph::new(line), top);
    } else {
        let user = head.spans.iter().take(2).map(Span::width).sum::<usize>() as u16;
        let tail_width = (tail.width() as u16).min(top.width.saturating_sub(user + 1));
        let [left, right] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(tail_width)]).areas(top);
        frame.render_widget(Paragraph::new(head), left);
        if left.width > 0 {
            frame.buffer_mut()[(left.right() - 1, left.y)].set_symbol("…");
        }
        frame.render_widget(Paragraph::new(tail), right);
    }

    let line = match &app.message {
        Some(m) => {
            let style = match m.level {
                Level::Info => theme.label,
                Level::Success => theme.success,
                Level::Warning => theme.warning,
                Level::Error => theme.error,
            };
            Line::styled(untrusted::line(&m.text).into_owned(), style)
        }
        None => {
            let mut spans = Vec::new();
            for (label, help) in keymap::hints(&app.contexts()) {
                spans.push(Span::styled(label, theme.key));
                spans.push(Span::styled(format!(" {help}  "), theme.dim));
            }
            Line::from(spans)
        }
    };
    frame.render_widget(Paragraph::new(line), bottom);
}
