//! The help overlay, generated from the keymap itself: what it lists is what the keys do. It
//! scrolls as far as its last line and no further.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::form::centered;
use super::{EventResult, LayerCtx};
use crate::console::keymap::{self, Action, Context};
use crate::console::theme::Theme;

const SECTIONS: [Context; 8] = [
    Context::Global,
    Context::Queue,
    Context::Detail,
    Context::Exceptions,
    Context::Filter,
    Context::Form,
    Context::Confirm,
    Context::Report,
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Help {
    scroll: u16,
}

impl Help {
    pub fn scroll(&self) -> u16 {
        self.scroll
    }

    pub fn handle(&mut self, action: Option<Action>, ctx: &LayerCtx) -> EventResult {
        match action {
            Some(Action::Cancel) => return EventResult::Close(None),
            Some(Action::Up) => self.scroll = self.scroll.saturating_sub(1),
            Some(Action::Down) => self.scroll = self.scroll.saturating_add(1),
            _ => {}
        }
        self.clamp(ctx.viewport);
        EventResult::Consumed
    }

    /// Keep the scroll within what the terminal's size leaves hidden.
    pub fn clamp(&mut self, viewport: Rect) {
        self.scroll = self.scroll.min(geometry(viewport).2);
    }

    pub fn render(&self, frame: &mut Frame, theme: &Theme) {
        let area = frame.area();
        let (width, height, max_scroll) = geometry(area);
        let popup = centered(area, width, height);
        frame.render_widget(Clear, popup);
        let block = Block::bordered()
            .title(Line::styled(" Keys ", theme.title))
            .title_bottom(Line::styled(" ↑↓ scroll · Esc close ", theme.dim))
            .border_style(theme.border_focused);
        frame.render_widget(
            Paragraph::new(lines(theme))
                .block(block)
                .scroll((self.scroll.min(max_scroll), 0)),
            popup,
        );
    }
}

/// The overlay's width and height in `area`, and how far it can scroll.
fn geometry(area: Rect) -> (u16, u16, u16) {
    let count = line_count() as u16;
    let width = area.width.saturating_sub(4).min(72);
    let height = (count + 2).min(area.height.saturating_sub(2));
    (width, height, (count + 2).saturating_sub(height))
}

fn line_count() -> usize {
    SECTIONS
        .iter()
        .map(|c| keymap::bindings(*c).count() + 2)
        .sum()
}

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
