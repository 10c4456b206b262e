//! The view: draws the model, changes nothing. Panes where the layout puts them, then the
//! layers (forms, confirmation, help) on top, or one sentence when the terminal is too small.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::app::{App, Pane};
use super::layout::{self, Arrangement, MIN_HEIGHT, MIN_WIDTH, STATUS_HEIGHT};
use super::panes::{detail, exceptions, queue, report, status_bar};

pub fn view(app: &App, frame: &mut Frame) {
    let theme = app.theme();
    let area = frame.area();
    let areas = layout::areas(area, app.pane());
    if areas.arrangement == Arrangement::TooSmall {
        let text = format!(
            "Terminal too small: cab needs at least {MIN_WIDTH}x{MIN_HEIGHT}, this one is {}x{}. Enlarge it, or press q to quit.",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(text)
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    if let Some(view) = app.report() {
        // The report takes the panes' place; the status bar and the layers stay.
        let [main, status] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(STATUS_HEIGHT)]).areas(area);
        report::render(frame, main, view, theme);
        status_bar::render(frame, status, app, theme);
        for modal in app.modals() {
            modal.render(frame, theme);
        }
        return;
    }
    if let Some(tabs) = areas.tabs {
        let mut spans = Vec::new();
        for pane in Pane::ALL {
            let style = if pane == app.pane() {
                theme.selected
            } else {
                theme.label
            };
            spans.push(Span::styled(format!(" {} ", pane.title()), style));
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled("Tab switches", theme.dim));
        frame.render_widget(Paragraph::new(Line::from(spans)), tabs);
    }
    let no_modal = app.modals().is_empty();
    if let Some(a) = areas.queue {
        queue::render(frame, a, app, theme, no_modal && app.pane() == Pane::Queue);
    }
    if let Some(a) = areas.detail {
        detail::render(frame, a, app, theme, no_modal && app.pane() == Pane::Detail);
    }
    if let Some(a) = areas.exceptions {
        exceptions::render(
            frame,
            a,
            app,
            theme,
            no_modal && app.pane() == Pane::Exceptions,
        );
    }
    status_bar::render(frame, areas.status, app, theme);
    for modal in app.modals() {
        modal.render(frame, theme);
    }
}
