//! The last step before anything irreversible: exactly what will be recorded, and a choice to
//! record it or go back. Nothing reaches the backend without passing through here.

use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::form::{FormKind, Target, centered, hint_line};
use crate::console::app::UiCommand;
use crate::console::keymap::Context;
use crate::console::theme::Theme;
use crate::untrusted;

#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub kind: FormKind,
    pub target: Target,
    pub title: String,
    /// Field name and value, in the order they will be recorded.
    pub rows: Vec<(String, String)>,
    pub command: UiCommand,
    /// Opened from a form: confirming closes both, going back returns to the form.
    pub from_form: bool,
    /// Set when the record changed meanwhile; confirming then records nothing.
    pub stale: Option<String>,
}

impl Confirm {
    pub fn new(
        kind: FormKind,
        target: Target,
        title: String,
        rows: Vec<(String, String)>,
        command: UiCommand,
    ) -> Self {
        Confirm {
            kind,
            target,
            title,
            rows,
            command,
            from_form: true,
            stale: None,
        }
    }

    fn permanence(&self) -> &'static str {
        match self.kind {
            FormKind::RequestException => {
                "The request is recorded now; a security reviewer approves or rejects it."
            }
            FormKind::ApproveException | FormKind::RejectException => {
                "A review is permanent: it can never be changed or deleted."
            }
            _ => "A decision is permanent: it can never be changed or deleted.",
        }
    }

    pub fn render(&self, frame: &mut Frame, theme: &Theme) {
        let area = frame.area();
        let width = area.width.saturating_sub(4).clamp(20, 90);
        let label_width = self.rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let mut lines = vec![Line::styled("Record this?", theme.title), Line::raw("")];
        for (label, value) in &self.rows {
            lines.push(Line::from(vec![
                Span::styled(format!("{label:<label_width$}  "), theme.label),
                Span::raw(untrusted::line(value).into_owned()),
            ]));
        }
        lines.push(Line::raw(""));
        match &self.stale {
            Some(stale) => lines.push(Line::styled(
                format!("⚠ {}: confirming records nothing", untrusted::line(stale)),
                theme.error,
            )),
            None => lines.push(Line::styled(self.permanence(), theme.warning)),
        }
        lines.push(Line::raw(""));
        lines.push(hint_line(Context::Confirm, theme));
        // Long values wrap: leave room for them.
        let text_width = width.saturating_sub(2).max(1) as usize;
        let wrapped: usize = lines
            .iter()
            .map(|l| l.width().max(1).div_ceil(text_width))
            .sum();
        let height = (wrapped as u16 + 2).min(area.height);
        let popup = centered(area, width, height);
        frame.render_widget(Clear, popup);
        let title = crate::humanize::truncate(
            &untrusted::line(&self.title),
            width.saturating_sub(4) as usize,
        );
        let block = Block::bordered()
            .title(Line::styled(format!(" {title} "), theme.title))
            .border_style(theme.border_focused);
        frame.render_widget(
            Paragraph::new(lines)
                .block(block)
                .wrap(Wrap { trim: false }),
            popup,
        );
    }
}
