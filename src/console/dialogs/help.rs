//! The help overlay, generated from the keymap itself: what it lists is what the keys do.

use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::form::centered;
use crate::console::keymap::{self, Context};
use crate::console::theme::Theme;

const SECTIONS: [Context; 7] = [
    Context::Global,
    Context::Queue,
    Context::Detail,
    Context::Exceptions,
    Context::Filter,
    Context::Form,
    Context::Confirm,
];

/// Every binding, section by section, as lines.
pub fn lines(theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for context in SECTIONS {
        lines.push(Line::styled(context.title(), theme.title));
        for b in keymap::bindings(context) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<8}", b.label), theme.key),
                Span::raw(b.help),
            ]));
        }
        lines.push(Line::raw(""));
    }
    lines
}

pub fn render(frame: &mut Frame, theme: &Theme, scroll: u16) {
    let area = frame.area();
    let lines = lines(theme);
    let width = area.width.saturating_sub(4).min(72);
    let height = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let popup = centered(area, width, height);
    let max_scroll = (lines.len() as u16 + 2).saturating_sub(height);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(Line::styled(" Keys ", theme.title))
        .title_bottom(Line::styled(" ↑↓ scroll · Esc close ", theme.dim))
        .border_style(theme.border_focused);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll.min(max_scroll), 0)),
        popup,
    );
}
