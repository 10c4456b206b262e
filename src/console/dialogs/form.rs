//! The action forms: approve, approve with conditions, reject, request an exception, and
//! approve or reject an exception. Fields validate as they are typed; `Ctrl+S` turns a valid
//! form into a confirmation of exactly what will be recorded; `Esc` cancels.

use chrono::{DateTime, Duration, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use unicode_width::UnicodeWidthStr;
use uuid::Uuid;

use super::confirm::Confirm;
use crate::console::app::UiCommand;
use crate::console::input::TextInput;
use crate::console::keymap::{self, Context};
use crate::console::theme::Theme;
use crate::engine::rules::{DEFAULT_EXPIRY_DAYS, MAX_EXPIRY_DAYS};
use crate::engine::{Actor, Review, State, Verdict, short_id, time};
use crate::humanize::relative;
use crate::untrusted;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    Approve,
    Conditional,
    Reject,
    RequestException,
    ApproveException,
    RejectException,
}

impl FormKind {
    /// What the user is doing, as in "cannot approve this request: …".
    pub fn verb(self) -> &'static str {
        match self {
            FormKind::Approve => "approve this request",
            FormKind::Conditional => "approve this request with conditions",
            FormKind::Reject => "reject this request",
            FormKind::RequestException => "request an exception for this request",
            FormKind::ApproveException => "approve this exception",
            FormKind::RejectException => "reject this exception",
        }
    }

    pub fn is_review(self) -> bool {
        matches!(self, FormKind::ApproveException | FormKind::RejectException)
    }

    fn title(self) -> &'static str {
        match self {
            FormKind::Approve => "Approve request",
            FormKind::Conditional => "Approve with conditions",
            FormKind::Reject => "Reject request",
            FormKind::RequestException => "Request a security exception",
            FormKind::ApproveException => "Approve exception",
            FormKind::RejectException => "Reject exception",
        }
    }
}

/// The record an action is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Request(Uuid),
    Exception(Uuid),
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    Text,
    /// A list the user adds to (type, Enter) and removes from (Ctrl+D on the highlighted item).
    List {
        items: Vec<String>,
        cursor: Option<usize>,
    },
    /// A whole number of days, 1 to 90, checked as it is typed.
    Days,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub label: &'static str,
    pub help: &'static str,
    pub kind: FieldKind,
    pub input: TextInput,
    /// Shown errors only once the user has been in the field (or tried to submit).
    pub touched: bool,
}

impl Field {
    fn text(label: &'static str, help: &'static str) -> Self {
        Field {
            label,
            help,
            kind: FieldKind::Text,
            input: TextInput::new(),
            touched: false,
        }
    }

    fn list(label: &'static str, help: &'static str) -> Self {
        Field {
            kind: FieldKind::List {
                items: Vec::new(),
                cursor: None,
            },
            ..Field::text(label, help)
        }
    }

    fn days() -> Self {
        Field {
            label: "Expires after (days)",
            help: "1 to 90; there are no permanent exceptions",
            kind: FieldKind::Days,
            input: TextInput::with_text(&DEFAULT_EXPIRY_DAYS.to_string()),
            touched: true,
        }
    }

    fn items(&self) -> &[String] {
        match &self.kind {
            FieldKind::List { items, .. } => items,
            _ => &[],
        }
    }

    /// What is wrong with the field now, if anything.
    pub fn error(&self) -> Option<String> {
        match &self.kind {
            FieldKind::Text if self.input.text().trim().is_empty() => {
                Some(format!("{} must not be empty", self.label))
            }
            FieldKind::List { items, .. }
                if items.is_empty() && self.input.text().trim().is_empty() =>
            {
                Some(format!(
                    "add at least one: type it and press Enter ({})",
                    self.help
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
        let mut items = self.items().to_vec();
        let typed = self.input.text().trim();
        if !typed.is_empty() {
            items.push(typed.to_string());
        }
        items
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub kind: FormKind,
    pub target: Target,
    /// One line naming the record, for the title.
    pub subject: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// Set when the record was decided, reviewed or expired while the form was open.
    pub stale: Option<String>,
    /// Why the last submit did not go through.
    pub problem: Option<String>,
}

impl Form {
    pub fn new(kind: FormKind, target: Target, state: &State) -> Self {
        let fields = match kind {
            FormKind::Approve | FormKind::Reject => {
                vec![Field::text("Rationale", "why; recorded with the decision")]
            }
            FormKind::Conditional => vec![
                Field::list("Conditions", "each one a condition of the approval"),
                Field::text("Rationale", "why; recorded with the decision"),
            ],
            FormKind::RequestException => vec![
                Field::text("Justification", "why it must go ahead despite its risk"),
                Field::list("Compensating controls", "what limits the risk meanwhile"),
                Field::days(),
            ],
            FormKind::ApproveException | FormKind::RejectException => {
                vec![Field::text("Rationale", "why; recorded with the review")]
            }
        };
        Form {
            kind,
            target,
            subject: subject(state, target),
            fields,
            focus: 0,
            stale: None,
            problem: None,
        }
    }

    fn focused(&mut self) -> &mut Field {
        let i = self.focus.min(self.fields.len() - 1);
        &mut self.fields[i]
    }

    pub fn next_field(&mut self) {
        self.focused().touched = true;
        self.focus = (self.focus + 1) % self.fields.len();
    }

    pub fn prev_field(&mut self) {
        self.focused().touched = true;
        self.focus = (self.focus + self.fields.len() - 1) % self.fields.len();
    }

    /// Enter: in a list, add what was typed; elsewhere, go to the next field.
    pub fn enter(&mut self) {
        let field = self.focused();
        if let FieldKind::List { items, cursor } = &mut field.kind {
            let typed = field.input.text().trim().to_string();
            if !typed.is_empty() {
                items.push(typed);
                *cursor = Some(items.len() - 1);
                field.input.clear();
                field.touched = true;
                return;
            }
        }
        self.next_field();
    }

    pub fn remove_item(&mut self) {
        if let FieldKind::List { items, cursor } = &mut self.focused().kind
            && let Some(i) = *cursor
            && i < items.len()
        {
            items.remove(i);
            *cursor = if items.is_empty() {
                None
            } else {
                Some(i.min(items.len() - 1))
            };
        }
    }

    pub fn paste(&mut self, text: &str) {
        let field = self.focused();
        if field.kind == FieldKind::Days {
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
    pub fn edit(&mut self, key: KeyEvent) {
        self.problem = None;
        let field = self.focused();
        match (&mut field.kind, key.code) {
            (FieldKind::List { items, cursor }, KeyCode::Up) if !items.is_empty() => {
                *cursor = Some(cursor.map_or(items.len() - 1, |c| c.saturating_sub(1)));
            }
            (FieldKind::List { items, cursor }, KeyCode::Down) if !items.is_empty() => {
                *cursor = Some(cursor.map_or(0, |c| (c + 1).min(items.len() - 1)));
            }
            (FieldKind::Days, KeyCode::Char(c)) if !c.is_ascii_digit() => {}
            _ => {
                if field.input.handle(key) {
                    field.touched = true;
                }
            }
        }
    }

    /// Check every field; on success, the confirmation of exactly what will be recorded.
    pub fn to_confirm(&mut self, me: &Actor, now: DateTime<Utc>) -> Result<Confirm, String> {
        if let Some(stale) = &self.stale {
            return Err(format!("cannot submit: {stale}"));
        }
        for f in &mut self.fields {
            f.touched = true;
        }
        if let Some(bad) = self.fields.iter().find_map(|f| f.error()) {
            return Err(format!("fix the marked field first: {bad}"));
        }
        let text = |i: usize| self.fields[i].input.text().trim().to_string();
        let (command, rows) = match (self.kind, self.target) {
            (FormKind::Approve | FormKind::Conditional | FormKind::Reject, Target::Request(id)) => {
                let (conditions, rationale) = match self.kind {
                    FormKind::Conditional => (self.fields[0].all_items(), text(1)),
                    _ => (Vec::new(), text(0)),
                };
                let decision = match self.kind {
                    FormKind::Reject => "rejected",
                    _ if conditions.is_empty() => "approved",
                    _ => "conditional",
                };
                let mut rows = vec![
                    ("decision".to_string(), decision.to_string()),
                    ("approver".to_string(), me.name.clone()),
                    ("rationale".to_string(), rationale.clone()),
                ];
                for c in &conditions {
                    rows.push(("condition".to_string(), c.clone()));
                }
                let verdict = if self.kind == FormKind::Reject {
                    Verdict::Reject
                } else {
                    Verdict::Approve { conditions }
                };
                (
                    UiCommand::Decide {
                        request: id,
                        verdict,
                        rationale,
                    },
                    rows,
                )
            }
            (FormKind::RequestException, Target::Request(id)) => {
                let controls = self.fields[1].all_items();
                let days: i64 = self.fields[2]
                    .input
                    .text()
                    .parse()
                    .unwrap_or(DEFAULT_EXPIRY_DAYS);
                let expires = now + Duration::days(days);
                let mut rows = vec![
                    ("justification".to_string(), text(0)),
                    ("requested by".to_string(), me.name.clone()),
                    (
                        "expires".to_string(),
                        format!(
                            "{days} day{} after it is recorded (about {}, {})",
                            if days == 1 { "" } else { "s" },
                            time::format_secs(expires),
                            relative(expires, now),
                        ),
                    ),
                ];
                for c in &controls {
                    rows.push(("control".to_string(), c.clone()));
                }
                (
                    UiCommand::RequestException {
                        request: id,
                        justification: text(0),
                        controls,
                        days,
                    },
                    rows,
                )
            }
            (_, Target::Exception(id)) => {
                let review = if self.kind == FormKind::ApproveException {
                    Review::Approve
                } else {
                    Review::Reject
                };
                let rows = vec![
                    (
                        "review".to_string(),
                        if review == Review::Approve {
                            "approved"
                        } else {
                            "rejected"
                        }
                        .to_string(),
                    ),
                    ("reviewer".to_string(), me.name.clone()),
                    ("rationale".to_string(), text(0)),
                ];
                (
                    UiCommand::Review {
                        exception: id,
                        review,
                        rationale: text(0),
                    },
                    rows,
                )
            }
            (_, Target::Request(_)) => return Err("this form needs an exception".into()),
        };
        Ok(Confirm::new(
            self.kind,
            self.target,
            format!("{} · {}", self.kind.title(), self.subject),
            rows,
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
                Span::styled(field.label, label_style),
                Span::styled(format!("  {}", field.help), theme.dim),
            ]));
            for (j, item) in field.items().iter().enumerate() {
                let highlighted = focused
                    && matches!(field.kind, FieldKind::List { cursor: Some(c), .. } if c == j);
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
            let (visible, col) = scroll_input(&field.input, inner_width.saturating_sub(2));
            if focused {
                cursor = Some((col as u16 + 2, lines.len() as u16));
            }
            lines.push(Line::from(vec![
                Span::styled("› ", if focused { theme.key } else { theme.dim }),
                Span::raw(visible),
            ]));
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
                format!(" {} ", self.kind.title()),
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

/// One line naming what a form is about.
fn subject(state: &State, target: Target) -> String {
    match target {
        Target::Request(id) => match state.request(&id) {
            Some(r) => format!(
                "request {} · {} · risk {}{}",
                short_id(&id),
                r.deployment_intent_id,
                r.risk_score,
                r.title
                    .as_ref()
                    .map(|t| format!(" · {t}"))
                    .unwrap_or_default()
            ),
            None => format!("request {}", short_id(&id)),
        },
        Target::Exception(id) => match state.exception(&id) {
            Some(e) => format!(
                "exception {} · {} · requested by {}",
                short_id(&id),
                e.deployment_intent_id,
                e.requested_by
            ),
            None => format!("exception {}", short_id(&id)),
        },
    }
}
