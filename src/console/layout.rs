//! Where the panes go for a terminal size: side by side when wide, the queue above detail and
//! exceptions when there is room, one pane at a time (tabs) when narrow, and a plain message
//! below the minimum size. The update function uses it too, to know how long a page is.

use ratatui::layout::{Constraint, Layout, Rect};

use super::app::Pane;

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;
const SIDE_BY_SIDE_WIDTH: u16 = 180;
const STACKED_WIDTH: u16 = 100;
const STACKED_HEIGHT: u16 = 30;
/// The status bar: a status line and a hint line.
pub const STATUS_HEIGHT: u16 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrangement {
    SideBySide,
    Stacked,
    Tabs,
    TooSmall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub arrangement: Arrangement,
    pub tabs: Option<Rect>,
    pub queue: Option<Rect>,
    pub detail: Option<Rect>,
    pub exceptions: Option<Rect>,
    pub status: Rect,
}

pub fn areas(area: Rect, focused: Pane) -> Areas {
    let none = Areas {
        arrangement: Arrangement::TooSmall,
        tabs: None,
        queue: None,
        detail: None,
        exceptions: None,
        status: Rect::default(),
    };
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return none;
    }
    let [main, status] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(STATUS_HEIGHT)]).areas(area);
    if area.width >= SIDE_BY_SIDE_WIDTH {
        let [q, d, e] = Layout::horizontal([
            Constraint::Percentage(48),
            Constraint::Percentage(28),
            Constraint::Percentage(24),
        ])
        .areas(main);
        return Areas {
            arrangement: Arrangement::SideBySide,
            queue: Some(q),
            detail: Some(d),
            exceptions: Some(e),
            status,
            ..none
        };
    }
    if area.width >= STACKED_WIDTH && area.height >= STACKED_HEIGHT {
        let [q, bottom] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Fill(1)]).areas(main);
        let [d, e] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Fill(1)]).areas(bottom);
        return Areas {
            arrangement: Arrangement::Stacked,
            queue: Some(q),
            detail: Some(d),
            exceptions: Some(e),
            status,
            ..none
        };
    }
    let [tabs, pane] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(main);
    let mut out = Areas {
        arrangement: Arrangement::Tabs,
        tabs: Some(tabs),
        status,
        ..none
    };
    match focused {
        Pane::Queue => out.queue = Some(pane),
        Pane::Detail => out.detail = Some(pane),
        Pane::Exceptions => out.exceptions = Some(pane),
    }
    out
}

/// The exception pane: its table above, the selected exception's details below.
pub fn exceptions_split(area: Rect) -> (Rect, Option<Rect>) {
    if area.height < 14 {
        return (area, None);
    }
    let [table, detail] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(area);
    (table, Some(detail))
}

/// How many rows of a pane's list are visible (borders and header excluded).
pub fn list_rows(area: Rect, pane: Pane) -> usize {
    let a = areas(area, pane);
    match pane {
        Pane::Queue => a.queue.map_or(0, |r| r.height.saturating_sub(3) as usize),
        Pane::Exceptions => a.exceptions.map_or(0, |r| {
            exceptions_split(r).0.height.saturating_sub(3) as usize
        }),
        Pane::Detail => a.detail.map_or(0, |r| r.height.saturating_sub(2) as usize),
    }
}

/// The first visible row, so that `index` stays in a window of `rows` rows, moving as little
/// as possible from `offset`.
pub fn scroll_into_view(index: usize, offset: usize, rows: usize) -> usize {
    let rows = rows.max(1);
    if index < offset {
        index
    } else if index >= offset + rows {
        index + 1 - rows
    } else {
        offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrangement_follows_the_terminal_size() {
        let at = |w, h| areas(Rect::new(0, 0, w, h), Pane::Queue).arrangement;
        assert_eq!(at(200, 50), Arrangement::SideBySide);
        assert_eq!(at(120, 40), Arrangement::Stacked);
        assert_eq!(at(80, 24), Arrangement::Tabs);
        assert_eq!(at(59, 24), Arrangement::TooSmall);
        assert_eq!(at(80, 15), Arrangement::TooSmall);
    }

    #[test]
    fn tabs_show_only_the_focused_pane() {
        let a = areas(Rect::new(0, 0, 80, 24), Pane::Exceptions);
        assert!(a.exceptions.is_some() && a.queue.is_none() && a.detail.is_none());
    }

    #[test]
    fn scrolling_keeps_the_selection_visible_and_moves_little() {
        assert_eq!(scroll_into_view(5, 0, 10), 0);
        assert_eq!(scroll_into_view(12, 0, 10), 3);
        assert_eq!(scroll_into_view(2, 3, 10), 2);
        assert_eq!(scroll_into_view(7, 3, 10), 3);
    }
}
