//! A one-line text input: a string and a cursor, edited with the keys people expect from a
//! shell prompt (arrows, Home/End, Backspace/Delete, Ctrl+U, Ctrl+W, Ctrl+A/E).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    text: String,
    /// Cursor position in characters.
    cursor: usize,
}

impl TextInput {
    pub fn new() -> Self {
        TextInput::default()
    }

    pub fn with_text(text: &str) -> Self {
        TextInput {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
    }

    fn byte_at(&self, char_index: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_index)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Insert text at the cursor; line breaks and tabs become spaces (inputs are one line).
    pub fn insert_str(&mut self, s: &str) {
        for c in s.chars() {
            self.insert(c);
        }
    }

    pub fn insert(&mut self, c: char) {
        let c = if c.is_control() { ' ' } else { c };
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    /// Apply an editing key. Returns whether the key was an editing key.
    pub fn handle(&mut self, key: KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => {
                let at = self.byte_at(self.cursor);
                self.text.replace_range(..at, "");
                self.cursor = 0;
            }
            KeyCode::Char('w') if ctrl => {
                let chars: Vec<char> = self.text.chars().collect();
                let mut start = self.cursor;
                while start > 0 && chars[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && chars[start - 1] != ' ' {
                    start -= 1;
                }
                let (a, b) = (self.byte_at(start), self.byte_at(self.cursor));
                self.text.replace_range(a..b, "");
                self.cursor = start;
            }
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = self.text.chars().count(),
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => {
                self.insert(c)
            }
            KeyCode::Backspace if self.cursor > 0 => {
                let at = self.byte_at(self.cursor - 1);
                self.text.remove(at);
                self.cursor -= 1;
            }
            KeyCode::Delete if self.cursor < self.text.chars().count() => {
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.text.chars().count()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.text.chars().count(),
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    #[test]
    fn typing_inserts_at_the_cursor_and_backspace_deletes_before_it() {
        let mut input = TextInput::new();
        for c in "helo".chars() {
            input.handle(key(KeyCode::Char(c)));
        }
        input.handle(key(KeyCode::Left));
        input.handle(key(KeyCode::Char('l')));
        assert_eq!(input.text(), "hello");
        input.handle(key(KeyCode::End));
        input.handle(key(KeyCode::Backspace));
        assert_eq!(input.text(), "hell");
    }

    #[test]
    fn ctrl_w_deletes_the_previous_word_and_ctrl_u_the_line_before_the_cursor() {
        let mut input = TextInput::with_text("roll back now");
        input.handle(ctrl('w'));
        assert_eq!(input.text(), "roll back ");
        input.handle(ctrl('u'));
        assert_eq!(input.text(), "");
    }

    #[test]
    fn multibyte_characters_are_edited_whole() {
        let mut input = TextInput::with_text("zoë");
        input.handle(key(KeyCode::Backspace));
        assert_eq!(input.text(), "zo");
    }

    #[test]
    fn pasted_line_breaks_become_spaces() {
        let mut input = TextInput::new();
        input.insert_str("a\nb\tc");
        assert_eq!(input.text(), "a b c");
    }
}
