//! The last step before anything irreversible: exactly what will be recorded, and a choice to
//! record it or go back. Nothing reaches the backend without passing through here.

use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::EventResult;
use super::form::{centered, hint_line};
use crate::console::app::Level;
use crate::console::intent::Intent;
use crate::console::keymap::{Action, Context};
use crate::console::theme::Theme;
use crate::engine::Command;
use crate::untrusted;

#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub intent: Intent,
    pub title: String,
    /// Field name and value, in the order they will be recorded.
    pub rows: Vec<(String, String)>,
    pub command: Command,
    /// Set when the record changed meanwhile; confirming then records nothing.
    pub stale: Option<String>,
}

impl Confirm {
    pub fn new(
        intent: Intent,
        title: String,
        rows: Vec<(String, String)>,
        command: Command,
    ) -> Self {
        Confirm {
            intent,
            title,
            rows,
            command,
            stale: None,
        }
    }

    /// Confirming submits the command (and closes the form it came from); going back returns
    /// to the form.
    pub fn handle(&mut self, action: Option<Action>) -> EventResult {
        match action {
            Some(Action::Confirm) => match &self.stale {
                Some(reason) => {
                    EventResult::Close(Some((Level::Warning, format!("not recorded: {reason}"))))
                }
                None => EventResult::Submit(self.command.clone()),
            },
            Some(Action::Cancel) => EventResult::Close(None),
            _ => EventResult::Consumed,
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
            None => lines.push(Line::styled(self.intent.permanence(), theme.warning)),
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
