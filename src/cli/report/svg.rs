//! The report's charts as inline SVG: columns (stacked series, dashed reference lines, a note
//! above each) and horizontal bars. Sized in A4's printable width and scaled by the page; each
//! is an image with a title and a description for screen readers, and every text in it is
//! escaped.

use std::fmt::Write as _;

use super::html::esc;
use super::{count, hours, percent};

/// The drawing's width in SVG units: A4's printable width at 96 dots per inch, so a chart
/// prints at its natural size.
const W: f64 = 680.0;

/// What a value axis counts, and how its ticks read.
#[derive(Clone, Copy)]
pub enum Axis {
    Count,
    Hours,
    /// A fraction drawn as a percentage.
    Share,
}

impl Axis {
    fn tick(self, v: f64) -> String {
        match self {
            Axis::Count => count(v.round() as u64),
            Axis::Hours => format!("{} h", trim_number(v)),
            Axis::Share => format!("{}%", trim_number(v * 100.0)),
        }
    }

    /// A value as the tables write it.
    fn value(self, v: f64) -> String {
        match self {
            Axis::Count => count(v.round() as u64),
            Axis::Hours => hours(Some(v)),
            Axis::Share => percent(Some(v)),
        }
    }

    /// The top of the axis and the step between ticks: a round number above the largest
    /// value, in 1, 2 or 5 times a power of ten, at most five steps.
    fn scale(self, largest: f64) -> (f64, f64) {
        let largest = if largest > 0.0 && largest.is_finite() {
            largest
        } else {
            match self {
                Axis::Share => 1.0,
                _ => 4.0,
            }
        };
        let rough = largest / 4.0;
        let power = 10f64.powf(rough.log10().floor());
        let mut step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * power)
            .find(|s| *s >= rough)
            .unwrap_or(10.0 * power);
        if matches!(self, Axis::Count) {
            step = step.max(1.0).round();
        }
        let top = (largest / step).ceil() * step;
        (top, step)
    }
}

fn trim_number(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub values: Vec<Option<f64>>,
}

/// Vertical columns, one per label, with the series stacked; optional dashed reference lines
/// and a note above each column.
pub struct Columns<'a> {
    pub id: &'a str,
    pub title: String,
    pub desc: String,
    pub labels: Vec<String>,
    pub series: Vec<Series<'a>>,
    pub lines: Vec<(String, f64)>,
    pub notes: Vec<String>,
    pub axis: Axis,
}

impl Columns<'_> {
    pub fn svg(&self) -> String {
        let n = self.labels.len().max(1);
        let legend = if self.series.len() > 1 { 24.0 } else { 0.0 };
        let notes = if self.notes.is_empty() { 0.0 } else { 14.0 };
        let (left, right, top, bottom) = (56.0, 14.0, 12.0 + legend + notes, 40.0);
        let height = 280.0 + legend;
        let plot_w = W - left - right;
        let plot_h = height - top - bottom;
        let totals: Vec<f64> = (0..n)
            .map(|i| {
                self.series
                    .iter()
                    .filter_map(|s| s.values.get(i).copied().flatten())
                    .sum()
            })
            .collect();
        let largest = totals
            .iter()
            .copied()
            .chain(self.lines.iter().map(|l| l.1))
            .fold(0.0, f64::max);
        let (max, step) = self.axis.scale(largest);
        let y = |v: f64| top + plot_h - v / max * plot_h;
        let mut s = svg_open(self.id, &self.title, &self.desc, height);
        // Grid and value axis.
        let mut tick = 0.0;
        while tick <= max + step / 2.0 {
            let _ = writeln!(
                s,
                "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e2e2e2\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
                left + plot_w,
                y(tick),
                y(tick),
                left - 6.0,
                y(tick) + 4.0,
                esc(&self.axis.tick(tick))
            );
            tick += step;
        }
        // Legend.
        if self.series.len() > 1 {
            let mut x = left;
            for series in &self.series {
                let _ = writeln!(
                    s,
                    "<rect x=\"{x:.1}\" y=\"4\" width=\"12\" height=\"12\" fill=\"{}\"/>\
                     <text x=\"{:.1}\" y=\"14\" font-size=\"12\">{}</text>",
                    series.color,
                    x + 16.0,
                    esc(series.name)
                );
                x += 24.0 + series.name.chars().count() as f64 * 7.0;
            }
        }
        // Columns.
        let slot = plot_w / n as f64;
        let bar = (slot * 0.72).clamp(1.0, 56.0);
        for (i, label) in self.labels.iter().enumerate() {
            let x = left + slot * i as f64 + (slot - bar) / 2.0;
            let mut base = 0.0;
            for series in &self.series {
                let Some(v) = series.values.get(i).copied().flatten() else {
                    continue;
                };
                if v <= 0.0 {
                    continue;
                }
                let _ = writeln!(
                    s,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{}\">\
                     <title>{}: {} {}</title></rect>",
                    y(base + v),
                    y(base) - y(base + v),
                    series.color,
                    esc(label),
                    esc(&self.axis.value(v)),
                    esc(series.name),
                );
                base += v;
            }
            if let Some(note) = self.notes.get(i) {
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                    x + bar / 2.0,
                    y(base) - 4.0,
                    esc(note)
                );
            }
        }
        // Category axis: as many labels as fit, evenly spaced.
        let widest = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(1) as f64
            * 6.6
            + 8.0;
        let every = ((widest / slot).ceil() as usize).max(1);
        for (i, label) in self.labels.iter().enumerate() {
            if i % every != 0 {
                continue;
            }
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                left + slot * (i as f64 + 0.5),
                top + plot_h + 16.0,
                esc(label)
            );
        }
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#555\"/>",
            left + plot_w,
            top + plot_h,
            top + plot_h
        );
        // Reference lines, labelled at their right end.
        for (name, v) in &self.lines {
            let _ = writeln!(
                s,
                "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#1a1a1a\" \
                 stroke-dasharray=\"5 4\"/><text class=\"halo\" x=\"{:.1}\" y=\"{:.1}\" \
                 font-size=\"11\" text-anchor=\"end\">{}</text>",
                left + plot_w,
                y(*v),
                y(*v),
                left + plot_w,
                y(*v) - 4.0,
                esc(name)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

fn svg_open(id: &str, title: &str, desc: &str, height: f64) -> String {
    format!(
        "<svg viewBox=\"0 0 {W} {height}\" width=\"{W}\" height=\"{height}\" role=\"img\" \
         aria-labelledby=\"{id}-t {id}-d\">\n<title id=\"{id}-t\">{}</title>\n\
         <desc id=\"{id}-d\">{}</desc>\n",
        esc(title),
        esc(desc)
    )
}

/// Horizontal bars, one per item: its name, the bar, its figure.
pub fn hbars(
    id: &str,
    title: &str,
    desc: &str,
    items: &[(String, f64, String)],
    color: &str,
) -> String {
    let row = 24.0;
    let height = items.len() as f64 * row + 8.0;
    let (label_w, figure_w) = (170.0, 90.0);
    let bar_max = W - label_w - figure_w;
    let largest = items.iter().map(|i| i.1).fold(0.0, f64::max);
    let mut s = svg_open(id, title, desc, height);
    for (i, (name, value, figure)) in items.iter().enumerate() {
        let y = 4.0 + i as f64 * row;
        let w = if largest > 0.0 {
            (value / largest * bar_max).max(if *value > 0.0 { 2.0 } else { 0.0 })
        } else {
            0.0
        };
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{color}\">\
             <title>{}: {}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{}</text>",
            label_w - 8.0,
            y + 15.0,
            esc(name),
            y + 3.0,
            row - 8.0,
            esc(name),
            esc(figure),
            label_w + w + 6.0,
            y + 15.0,
            esc(figure)
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{label_w}\" x2=\"{label_w}\" y1=\"2\" y2=\"{:.1}\" stroke=\"#555\"/>\n</svg>",
        height - 2.0
    );
    s
}
