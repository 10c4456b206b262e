//! What every list pane shares (bottom's `data_table/`): a cursor over the list's rows that
//! keeps its record selected across refreshes, and a table drawn from only the visible window
//! of rows, so a list of 100,000 draws as fast as one of ten.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, Row, Table};
use uuid::Uuid;

use crate::console::layout::scroll_into_view;
use crate::console::theme::Theme;

/// A list's rows (record ids, in order), the selected row, and the first visible one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListCursor {
    rows: Vec<Uuid>,
    index: usize,
    /// The record the selection is on, followed when the rows change.
    selected: Option<Uuid>,
    offset: usize,
}

impl ListCursor {
    pub fn rows(&self) -> &[Uuid] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn index(&self) -> usize {
        self.index
    }

    pub fn selected(&self) -> Option<Uuid> {
        self.rows.get(self.index).copied()
    }

    /// New rows: the selection stays on the same record when it is still listed, or at the
    /// same position when it is not (so deciding a request moves on to the next).
    pub fn set_rows(&mut self, rows: Vec<Uuid>, page: usize) {
        self.index = self
            .selected
            .and_then(|id| rows.iter().position(|r| *r == id))
            .unwrap_or_else(|| self.index.min(rows.len().saturating_sub(1)));
        self.rows = rows;
        self.selected = self.selected();
        self.scroll(page);
    }

    /// Move the selection by `delta` rows, stopping at the ends. Returns whether it moved.
    pub fn move_by(&mut self, delta: i64, page: usize) -> bool {
        if self.rows.is_empty() {
            return false;
        }
        let before = self.index;
        self.index = (self.index as i64 + delta).clamp(0, self.rows.len() as i64 - 1) as usize;
        self.selected = self.selected();
        self.scroll(page);
        self.index != before
    }

    /// Keep the selection inside a window of `page` rows.
    pub fn scroll(&mut self, page: usize) {
        self.offset = scroll_into_view(self.index, self.offset, page);
    }
}

/// How a list pane draws its table: the header, the column widths, and how the selected row
/// stands out while the pane does not have the focus.
pub struct Columns<'a> {
    pub header: Row<'a>,
    pub widths: Vec<Constraint>,
    /// Patched onto the selected row's own style when the pane is not focused (the focused
    /// pane's selection takes the theme's `selected` style).
    pub unfocused_selection: Style,
}

/// Draw the rows of `cursor` that fit in `area` as a table in `block`. `row` builds the cells
/// of one record and its style; it is called only for the visible rows.
pub fn render<'a>(
    frame: &mut Frame,
    area: Rect,
    block: Block<'a>,
    cursor: &ListCursor,
    columns: Columns<'a>,
    (theme, focused): (&Theme, bool),
    row: impl Fn(&Uuid) -> Option<(Row<'a>, Style)>,
) {
    let visible = area.height.saturating_sub(3) as usize;
    let offset = scroll_into_view(cursor.index, cursor.offset, visible);
    let end = (offset + visible).min(cursor.rows.len());
    let selected = cursor.selected();
    let rows = cursor.rows[offset.min(end)..end].iter().filter_map(|id| {
        let (r, style) = row(id)?;
        Some(if Some(*id) != selected {
            r.style(style)
        } else if focused {
            r.style(style.patch(theme.selected))
        } else {
            r.style(style.patch(columns.unfocused_selection))
        })
    });
    frame.render_widget(
        Table::new(rows, columns.widths)
            .header(columns.header)
            .column_spacing(1)
            .block(block),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u128) -> Vec<Uuid> {
        (1..=n).map(Uuid::from_u128).collect()
    }

    #[test]
    fn the_selection_follows_its_record_when_rows_are_added_above_it() {
        let mut c = ListCursor::default();
        c.set_rows(ids(3), 10);
        c.move_by(2, 10);
        let mut more = vec![Uuid::from_u128(99)];
        more.extend(ids(3));
        c.set_rows(more, 10);
        assert_eq!(c.selected(), Some(Uuid::from_u128(3)));
        assert_eq!(c.index(), 3);
    }

    #[test]
    fn a_removed_selection_stays_at_its_position_clamped_to_the_list() {
        let mut c = ListCursor::default();
        c.set_rows(ids(3), 10);
        c.move_by(1, 10);
        c.set_rows(vec![Uuid::from_u128(1), Uuid::from_u128(3)], 10);
        assert_eq!(c.selected(), Some(Uuid::from_u128(3)));
        c.move_by(5, 10);
        c.set_rows(vec![Uuid::from_u128(1)], 10);
        assert_eq!(c.selected(), Some(Uuid::from_u128(1)));
        c.set_rows(Vec::new(), 10);
        assert_eq!(c.selected(), None);
        assert!(!c.move_by(1, 10), "an empty list has nothing to move to");
    }

    #[test]
    fn moving_stops_at_the_ends_and_keeps_the_selection_in_the_window() {
        let mut c = ListCursor::default();
        c.set_rows(ids(20), 5);
        assert!(c.move_by(i64::MAX / 2, 5));
        assert_eq!((c.index(), c.offset), (19, 15));
        assert!(!c.move_by(1, 5));
        c.move_by(-7, 5);
        assert_eq!((c.index(), c.offset), (12, 12));
    }
}
