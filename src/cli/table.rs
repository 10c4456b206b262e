//! Aligned columns for text output. Cells are cleaned of unsafe characters here, so no caller
//! can forget to; widths count terminal columns, not bytes.

use unicode_width::UnicodeWidthStr;

pub use crate::humanize::truncate;

use crate::untrusted;

pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    /// The widest a cell of each column may be before it is cut with "…".
    limits: Vec<Option<usize>>,
    /// Columns of figures, aligned on the right.
    right: Vec<bool>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
            limits: vec![None; headers.len()],
            right: vec![false; headers.len()],
        }
    }

    /// Align the columns from `first` on to the right (figures).
    pub fn right_from(mut self, first: usize) -> Self {
        for (i, right) in self.right.iter_mut().enumerate() {
            *right = i >= first;
        }
        self
    }

    /// Align these columns to the right (figures), the others to the left.
    pub fn right_columns(mut self, columns: &[usize]) -> Self {
        for (i, right) in self.right.iter_mut().enumerate() {
            *right = columns.contains(&i);
        }
        self
    }

    /// Cut cells of column `index` longer than `width` columns.
    pub fn limit(mut self, index: usize, width: usize) -> Self {
        if let Some(limit) = self.limits.get_mut(index) {
            *limit = Some(width);
        }
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        let cells = cells
            .into_iter()
            .zip(&self.limits)
            .map(|(cell, limit)| {
                let clean = untrusted::line(&cell).into_owned();
                match limit {
                    Some(max) => truncate(&clean, *max),
                    None => clean,
                }
            })
            .collect();
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.width());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let last = row.len().saturating_sub(1);
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
                let pad = " ".repeat(w - cell.width());
                if self.right[i] {
                    line.push_str(&pad);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
                if i < last {
                    line.push_str("  ");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_by_display_width() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["a".into(), "x".into()]);
        t.row(vec!["日本".into(), "y".into()]);
        assert_eq!(t.render(), "ID    NAME\na     x\n日本  y\n");
    }

    #[test]
    fn figures_align_on_the_right_from_the_column_asked() {
        let mut t = Table::new(&["NAME", "N"]).right_from(1);
        t.row(vec!["a".into(), "1".into()]);
        t.row(vec!["b".into(), "1,234".into()]);
        assert_eq!(t.render(), "NAME      N\na         1\nb     1,234\n");
    }

    #[test]
    fn hostile_cells_are_cleaned() {
        let mut t = Table::new(&["T"]);
        t.row(vec!["\u{1b}[2Jx\u{202E}".into()]);
        assert!(
            !t.render()
                .chars()
                .any(|c| c != '\n' && untrusted::is_unsafe(c))
        );
    }

    #[test]
    fn long_cells_are_cut_with_an_ellipsis() {
        assert_eq!(truncate("abcdefghij", 5), "abcd…");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
