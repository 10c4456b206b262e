//! The status bar: where the data lives, who you are, what is waiting, the last message; and
//! below it the keys that work here, from the keymap.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use crate::console::app::{App, Level};
use crate::console::keymap;
use crate::console::theme::Theme;
use crate::untrusted;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let [top, bottom] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let c = app.counts();
    let roles: Vec<&str> = app
        .me()
        .roles
        .iter()
        .filter(|r| **r != crate::engine::Role::Requester)
        .map(|r| r.as_str())
        .collect();
    let mut spans = vec![
        Span::styled(untrusted::line(&app.me().name).into_owned(), theme.key),
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
    // A console opened with `--at` says so beside the location, which is never cut.
    if app.is_read_only() && app.as_of().is_none() {
        spans.push(Span::styled(" │ ", theme.dim));
        spans.push(Span::styled("READ-ONLY", theme.warning));
    }
    if let Some(e) = &app.out_of_sync() {
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
    // The counts matter more than the full path: when the line is too long, the location
    // gives up its leading directories first (down to the file name), and only then do the
    // counts give way (ending in "…"). The location keeps the right end of the bar, whole if it
    // fits beside the user, and with it the moment a console opened with `--at` shows.
    let head = Line::from(spans);
    let separator = Span::styled(" │ ", theme.dim);
    let mut tail = Line::default();
    if let Some(at) = app.as_of() {
        tail.spans.push(separator.clone());
        tail.spans.push(Span::styled(
            format!("READ-ONLY as of {}", crate::engine::time::format(at)),
            theme.warning,
        ));
    }
    let room = (top.width as usize).saturating_sub(head.width() + tail.width() + separator.width());
    let location = shorten_location(&untrusted::line(app.location()), room);
    tail.spans
        .extend([separator, Span::styled(location, theme.label)]);
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

    let line = match app.message() {
        Some(m) => {
            let style = match m.level {
                Level::Info => theme.label,
                Level::Success => theme.success,
                Level::Warning => theme.warning,
                Level::Error => theme.error,
            };
            let text = untrusted::line(&m.text);
            if text.width() > bottom.width as usize {
                long_message(frame, top, &text, style, theme);
                // Its start stays here, cut.
                frame.render_widget(
                    Paragraph::new(Line::styled(text.into_owned(), style)),
                    bottom,
                );
                if bottom.width > 0 {
                    frame.buffer_mut()[(bottom.right() - 1, bottom.y)].set_symbol("…");
                }
                return;
            }
            Line::styled(text.into_owned(), style)
        }
        None => hints(app, theme),
    };
    frame.render_widget(Paragraph::new(line), bottom);
}

/// The keys that work here, from the keymap.
fn hints(app: &App, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for (label, help) in keymap::hints(&app.contexts()) {
        spans.push(Span::styled(label, theme.key));
        spans.push(Span::styled(format!(" {help}  "), theme.dim));
    }
    Line::from(spans)
}

/// Most rows a message may take.
const MESSAGE_ROWS: u16 = 6;

/// A message wider than the message line, shown whole as well: wrapped at spaces in a box just
/// above the status line (at most [`MESSAGE_ROWS`] rows of text), over the panes' last rows,
/// until it is cleared (`Esc`, or the next message). The status line and the message line
/// below it stay as they are.
fn long_message(
    frame: &mut Frame,
    status: Rect,
    text: &str,
    style: ratatui::style::Style,
    theme: &Theme,
) {
    let lines = wrap(text, status.width.saturating_sub(2) as usize);
    let rows = (lines.len() as u16 + 2).min(MESSAGE_ROWS + 2).min(status.y);
    if rows < 3 {
        return;
    }
    let area = Rect {
        x: status.x,
        y: status.y - rows,
        width: status.width,
        height: rows,
    };
    let shown: Vec<Line> = lines
        .into_iter()
        .take(rows as usize - 2)
        .map(|l| Line::styled(l, style))
        .collect();
    let block = ratatui::widgets::Block::bordered()
        .title(Span::styled(
            " the whole message · Esc clears it ",
            theme.label,
        ))
        .border_style(style);
    frame.render_widget(ratatui::widgets::Clear, area);
    frame.render_widget(Paragraph::new(shown).block(block), area);
}

/// `text` in lines of at most `width` columns, broken at spaces (a word longer than a line is
/// broken where the line ends).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let sep = usize::from(!line.is_empty());
        if line.width() + sep + word.width() <= width {
            if sep == 1 {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            if line.width() + unicode_width::UnicodeWidthChar::width(c).unwrap_or(0) > width {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// "store /var/lib/cab/store.jsonl" in at most `width` columns: whole when it fits, else with
/// its leading directories replaced by "…" ("store …/cab/store.jsonl"), never shorter than the
/// file name ("store …/store.jsonl"), which is returned when nothing fits.
fn shorten_location(location: &str, width: usize) -> String {
    if location.width() <= width {
        return location.to_string();
    }
    let (kind, path) = location.split_once(' ').unwrap_or(("", location));
    let kind = if kind.is_empty() {
        String::new()
    } else {
        format!("{kind} ")
    };
    let cuts: Vec<usize> = path
        .char_indices()
        .filter(|(i, c)| *c == '/' && *i > 0 && !path[..*i].ends_with('/'))
        .map(|(i, _)| i)
        .filter(|i| !path[*i + 1..].is_empty() && !path[*i + 1..].starts_with('/'))
        .collect();
    let shortened = |at: usize| format!("{kind}…{}", &path[at..]);
    cuts.iter()
        .map(|at| shortened(*at))
        .find(|s| s.width() <= width)
        .or_else(|| cuts.last().map(|at| shortened(*at)))
        .unwrap_or_else(|| location.to_string())
}

#[cfg(test)]
mod tests {
    use super::shorten_location;

    const STORE: &str = "store /var/lib/cab/store.jsonl";

    #[test]
    fn a_location_that_fits_is_kept_whole() {
        assert_eq!(shorten_location(STORE, 40), STORE);
        assert_eq!(shorten_location(STORE, STORE.len()), STORE);
    }

    #[test]
    fn a_long_path_loses_its_leading_directories_first_down_to_the_file_name() {
        assert_eq!(shorten_location(STORE, 29), "store …/lib/cab/store.jsonl");
        assert_eq!(shorten_location(STORE, 23), "store …/cab/store.jsonl");
        assert_eq!(shorten_location(STORE, 22), "store …/store.jsonl");
        assert_eq!(
            shorten_location(STORE, 5),
            "store …/store.jsonl",
            "the file name is kept whatever the width"
        );
    }

    #[test]
    fn a_server_address_and_a_bare_file_name_are_kept_whole() {
        let server = "server https://cab.example.com:8443";
        assert_eq!(shorten_location(server, 80), server);
        assert_eq!(
            shorten_location(server, 10),
            server,
            "an address has no directories"
        );
        assert_eq!(shorten_location("store.jsonl", 3), "store.jsonl");
    }
}
