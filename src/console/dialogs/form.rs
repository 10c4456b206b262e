//! The action forms, each built from its intent's description (`intent.rs`) and read by field
//! name. Fields validate as they are typed; `Ctrl+S` turns a valid form into a confirmation of
//! exactly what the engine will record; `Esc` cancels.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use unicode_width::UnicodeWidthStr;

use super::confirm::Confirm;
use super::{EventResult, LayerCtx, Modal};
use crate::console::app::Level;
use crate::console::input::TextInput;
use crate::console::intent::{self, FieldKind, FieldSpec, Intent, Values};
use crate::console::keymap::{self, Action, Context};
use crate::console::theme::Theme;
use crate::engine::State;
use crate::engine::rules::{DEFAULT_EXPIRY_DAYS, MAX_EXPIRY_DAYS};
use crate::untrusted;

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub spec: FieldSpec,
    /// A list's items (added with Enter, removed with Ctrl+D on the highlighted one).
    items: Vec<String>,
    /// The highlighted item of a list.
    cursor: Option<usize>,
    /// The chosen option of a choice field (the first until another is picked).
    choice: usize,
    pub input: TextInput,
    /// Shown errors only once the user has been in the field (or tried to submit).
    pub touched: bool,
}

impl Field {
    fn new(spec: FieldSpec) -> Self {
        let days = spec.kind == FieldKind::Days;
        Field {
            spec,
            items: Vec::new(),
            cursor: None,
            choice: 0,
            input: if days {
                TextInput::with_text(&DEFAULT_EXPIRY_DAYS.to_string())
            } else {
                TextInput::new()
            },
            // A prefilled number of days is checked from the start.
            touched: days,
        }
    }

    /// What is wrong with the field now, if anything.
    pub fn error(&self) -> Option<String> {
        match self.spec.kind {
            FieldKind::Text if self.input.text().trim().is_empty() => {
                Some(format!("{} must not be empty", self.spec.label))
            }
            FieldKind::List if self.items.is_empty() && self.input.text().trim().is_empty() => {
                Some(format!(
                    "add at least one: type it and press Enter ({})",
                    self.spec.help
                ))
            }
            FieldKind::Days => match self.input.text().parse::<i64>() {
                Ok(d) if (1..=MAX_EXPIRY_DAYS).contains(&d) => None,
                _ => Some(format!(
                    "must be a whole number of days from 1 to {MAX_EXPIRY_DAYS}"
                )),
            },
            _ => None,
        }
    }

    /// The list's items, with anything still typed in its input taken as one more.
    fn all_items(&self) -> Vec<String> {
        let mut items = self.items.clone();
        let typed = self.input.text().trim();
        if !typed.is_empty() {
            items.push(typed.to_string());
        }
        items
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub intent: Intent,
    /// One line naming the record, for the title.
    pub subject: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// Set when the record was decided, reviewed or expired while the form was open.
    pub stale: Option<String>,
    /// Why the last submit did not go through.
    pub problem: Option<String>,
}

impl Values for Form {
    fn text(&self, name: &str) -> String {
        self.field(name)
            .map_or(String::new(), |f| f.input.text().trim().to_string())
    }

    fn items(&self, name: &str) -> Vec<String> {
        self.field(name).map_or(Vec::new(), Field::all_items)
    }

    fn days(&self, name: &str) -> Option<i64> {
        self.field(name).and_then(|f| f.input.text().parse().ok())
    }

    fn choice(&self, name: &str) -> usize {
        self.field(name).map_or(0, |f| f.choice)
    }
}

impl Form {
    /// The form for an intent, built from its description.
    pub fn new(intent: Intent, state: &State) -> Self {
        Form {
            intent,
            subject: intent.subject(state),
            fields: intent.form().iter().copied().map(Field::new).collect(),
            focus: 0,
            stale: None,
            problem: None,
        }
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.spec.name == name)
    }

    pub fn handle(&mut self, action: Option<Action>, key: KeyEvent, ctx: &LayerCtx) -> EventResult {
        match action {
            Some(Action::Cancel) => {
                return EventResult::Close(Some((
                    Level::Info,
                    "cancelled: nothing was recorded".into(),
                )));
            }
            Some(Action::Submit) => match self.confirmation(ctx) {
                Ok(confirm) => return EventResult::Push(Modal::Confirm(confirm)),
                Err(problem) => self.problem = Some(problem),
            },
            Some(Action::NextField) => self.next_field(),
            Some(Action::PrevField) => self.prev_field(),
            Some(Action::AddItem) => self.enter(),
            Some(Action::RemoveItem) => self.remove_item(),
            Some(Action::Choose) => self.choose(key),
            _ => self.edit(key),
        }
        EventResult::Consumed
    }

    fn focused(&mut self) -> Option<&mut Field> {
        let i = self.focus.min(self.fields.len().saturating_sub(1));
        self.fields.get_mut(i)
    }

    fn next_field(&mut self) {
        if let Some(f) = self.focused() {
            f.touched = true;
        }
        self.focus = (self.focus + 1) % self.fields.len().max(1);
    }

    fn prev_field(&mut self) {
        if let Some(f) = self.focused() {
            f.touched = true;
        }
        let n = self.fields.len().max(1);
        self.focus = (self.focus + n - 1) % n;
    }

    /// Enter: in a list, add what was typed; elsewhere, go to the next field.
    fn enter(&mut self) {
        if let Some(field) = self.focused()
            && field.spec.kind == FieldKind::List
        {
            let typed = field.input.text().trim().to_string();
            if !typed.is_empty() {
                field.items.push(typed);
                field.cursor = Some(field.items.len() - 1);
                field.input.clear();
                field.touched = true;
                return;
            }
        }
        self.next_field();
    }

    fn remove_item(&mut self) {
        if let Some(field) = self.focused()
            && let Some(i) = field.cursor
            && i < field.items.len()
        {
            field.items.remove(i);
            field.cursor = if field.items.is_empty() {
                None
            } else {
                Some(i.min(field.items.len() - 1))
            };
        }
    }

    /// ←/→: the previous or next option of a choice field; in a text field, the cursor moves.
    fn choose(&mut self, key: KeyEvent) {
        let Some(field) = self.focused() else { return };
        let FieldKind::Choice(options) = field.spec.kind else {
            return self.edit(key);
        };
        let n = options.len().max(1);
        field.choice = if key.code == KeyCode::Left {
            (field.choice + n - 1) % n
        } else {
            (field.choice + 1) % n
        };
        field.touched = true;
        self.problem = None;
    }

    pub fn paste(&mut self, text: &str) {
        let Some(field) = self.focused() else { return };
        if matches!(field.spec.kind, FieldKind::Choice(_)) {
            return;
        }
        if field.spec.kind == FieldKind::Days {
            field.input.insert_str(
                &text
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>(),
            );
        } else {
            field.input.insert_str(text);
        }
        field.touched = true;
        self.problem = None;
    }

    /// A key that is not a form command: editing, or moving in a list.
    fn edit(&mut self, key: KeyEvent) {
        self.problem = None;
        let Some(field) = self.focused() else { return };
        let count = field.items.len();
        match (field.spec.kind, key.code) {
            (FieldKind::List, KeyCode::Up) if count > 0 => {
                field.cursor = Some(field.cursor.map_or(count - 1, |c| c.saturating_sub(1)));
            }
            (FieldKind::List, KeyCode::Down) if count > 0 => {
                field.cursor = Some(field.cursor.map_or(0, |c| (c + 1).min(count - 1)));
            }
            (FieldKind::Days, KeyCode::Char(c)) if !c.is_ascii_digit() => {}
            // A letter picks the first option that begins with it.
            (FieldKind::Choice(options), KeyCode::Char(c)) => {
                if let Some(i) = options
                    .iter()
                    .position(|o| o.starts_with(c.to_ascii_lowercase()))
                {
                    field.choice = i;
                    field.touched = true;
                }
            }
            (FieldKind::Choice(_), _) => {}
            _ => {
                if field.input.handle(key) {
                    field.touched = true;
                }
            }
        }
    }

    /// Check every field; on success, the confirmation of exactly what will be recorded: the
    /// engine's own dry run of the command.
    fn confirmation(&mut self, ctx: &LayerCtx) -> Result<Confirm, String> {
        if let Some(stale) = &self.stale {
            return Err(format!("cannot submit: {stale}"));
        }
        for f in &mut self.fields {
            f.touched = true;
        }
        if let Some(bad) = self.fields.iter().find_map(Field::error) {
            return Err(format!("fix the marked field first: {bad}"));
        }
        let command = self.intent.command(self);
        let events = intent::dry_run(ctx.state, ctx.me, ctx.now, &command)
            .map_err(|reason| format!("cannot submit: {reason}"))?;
        Ok(Confirm::new(
            self.intent,
            format!("{} · {}", self.intent.title(), self.subject),
            intent::recorded(&command, &events, ctx.now),
            command,
        ))
    }

    pub fn render(&self, frame: &mut Frame, theme: &Theme) {
        let area = frame.area();
        let width = area.width.saturating_sub(4).clamp(20, 90);
        let inner_width = width.saturating_sub(4) as usize;
        // Height: title lines + each field (label, input, items, error) + hints.
        let mut lines: Vec<Line> = Vec::new();
        let mut cursor: Option<(u16, u16)> = None;
        let fit = |text: String| crate::humanize::truncate(&text, inner_width);
        lines.push(Line::styled(
            fit(untrusted::line(&self.subject).into_owned()),
            theme.label,
        ));
        if let Some(stale) = &self.stale {
            lines.push(Line::styled(
                fit(format!("⚠ {}", untrusted::line(stale))),
                theme.error,
            ));
        }
        lines.push(Line::raw(""));
        for (i, field) in self.fields.iter().enumerate() {
            let focused = i == self.focus;
            let label_style = if focused { theme.key } else { theme.title };
            lines.push(Line::from(vec![
                Span::styled(field.spec.label, label_style),
                Span::styled(format!("  {}", field.spec.help), theme.dim),
            ]));
            for (j, item) in field.items.iter().enumerate() {
                let highlighted = focused && field.cursor == Some(j);
                let text = format!("  • {}", untrusted::line(item));
                lines.push(Line::styled(
                    crate::humanize::truncate(&text, inner_width),
                    if highlighted {
                        theme.selected
                    } else {
                        Style::new()
                    },
                ));
            }
            let marker = Span::styled("› ", if focused { theme.key } else { theme.dim });
            if let FieldKind::Choice(options) = field.spec.kind {
                lines.push(choice_line(marker, options, field.choice, theme));
            } else {
                let (visible, col) = scroll_input(&field.input, inner_width.saturating_sub(2));
                if focused {
                    cursor = Some((col as u16 + 2, lines.len() as u16));
                }
                lines.push(Line::from(vec![marker, Span::raw(visible)]));
            }
            if field.touched
                && let Some(err) = field.error()
            {
                lines.push(Line::styled(fit(format!("  {err}")), theme.error));
            }
            lines.push(Line::raw(""));
        }
        if let Some(problem) = &self.problem {
            lines.push(Line::styled(
                fit(untrusted::line(problem).into_owned()),
                theme.warning,
            ));
        }
        lines.push(hint_line(Context::Form, theme));
        let height = (lines.len() as u16 + 2).min(area.height);
        let popup = centered(area, width, height);
        frame.render_widget(Clear, popup);
        let block = Block::bordered()
            .title(Line::styled(
                format!(" {} ", self.intent.title()),
                theme.title,
            ))
            .border_style(theme.border_focused);
        let inner = block.inner(popup);
        frame.render_widget(Paragraph::new(lines).block(block), popup);
        if let Some((x, y)) = cursor
            && y < inner.height
        {
            frame.set_cursor_position(Position::new(inner.x + x, inner.y + y));
        }
    }
}

/// A choice field's options on one line, the chosen one marked.
fn choice_line(
    marker: Span<'static>,
    options: &[&'static str],
    chosen: usize,
    theme: &Theme,
) -> Line<'static> {
    let mut spans = vec![marker];
    for (i, option) in options.iter().enumerate() {
        let (dot, style) = if i == chosen {
            ("● ", theme.key)
        } else {
            ("○ ", theme.dim)
        };
        spans.push(Span::styled(format!("{dot}{option}   "), style));
    }
    Line::from(spans)
}

/// The part of an input that fits `width` columns, and the cursor's column in it.
fn scroll_input(input: &TextInput, width: usize) -> (String, usize) {
    let chars: Vec<char> = input.text().chars().collect();
    let cursor = input.cursor();
    let width = width.max(1);
    let start = (cursor + 1).saturating_sub(width);
    let visible: String = chars[start..].iter().take(width).collect();
    let col = chars[start..cursor].iter().collect::<String>().width();
    (visible, col)
}

/// A line of "key what" hints for a context, from the keymap.
pub fn hint_line(context: Context, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for (label, help) in keymap::hints(&[context]) {
        spans.push(Span::styled(label, theme.key));
        spans.push(Span::styled(format!(" {help}  "), theme.dim));
    }
    Line::from(spans)
}

/// A `width` x `height` rectangle in the middle of `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [_, row, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(height.min(area.height)),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, cell, _] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(width.min(area.width)),
        Constraint::Fill(1),
    ])
    .areas(row);
    cell
}
