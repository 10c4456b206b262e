//! Every key the console knows, as data. Key handling looks keys up here, and the help
//! overlay and the status bar's hints are generated from the same table, so what the help says
//! is what the keys do.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a key applies. Pane contexts are tried before `Global`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Global,
    Queue,
    Detail,
    Exceptions,
    Filter,
    Form,
    Confirm,
    Help,
    Report,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Everywhere",
            Context::Queue => "Queue",
            Context::Detail => "Detail",
            Context::Exceptions => "Exceptions",
            Context::Filter => "Filter (after /)",
            Context::Form => "Forms",
            Context::Confirm => "Confirmation",
            Context::Help => "Help",
            Context::Report => "Report (after R)",
        }
    }
}

/// What a key asks for. Its meaning may depend on the pane (`a` approves a request in the
/// queue and an exception in the exceptions pane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    Cancel,
    NextPane,
    PrevPane,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    CycleSort,
    Filter,
    CycleStatus,
    Approve,
    Conditional,
    Reject,
    RequestException,
    RecordOutcome,
    ReviewApprove,
    ReviewReject,
    Report,
    // in the report view
    NextPeriod,
    CycleBy,
    // in a filter
    ApplyFilter,
    ClearFilter,
    // in a form
    Submit,
    NextField,
    PrevField,
    AddItem,
    RemoveItem,
    Choose,
    // in a confirmation
    Confirm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
    }
}

const fn code(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}

pub struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    /// How the keys are written in help and hints.
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
    /// The word shown in the status bar's hint line, for the keys worth a hint.
    pub hint: Option<&'static str>,
}

const fn b(
    context: Context,
    keys: &'static [Key],
    label: &'static str,
    action: Action,
    help: &'static str,
    hint: Option<&'static str>,
) -> Binding {
    Binding {
        context,
        keys,
        label,
        action,
        help,
        hint,
    }
}

use Action as A;
use Context as C;

#[rustfmt::skip]
pub static KEYMAP: &[Binding] = &[
    b(C::Global, &[k('q'), ctrl('c')], "q", A::Quit, "quit", Some("quit")),
    b(C::Global, &[k('?')], "?", A::Help, "help: every key", Some("help")),
    b(C::Global, &[code(KeyCode::Tab)], "Tab", A::NextPane, "next pane", Some("pane")),
    b(C::Global, &[code(KeyCode::BackTab)], "S-Tab", A::PrevPane, "previous pane", None),
    b(C::Global, &[code(KeyCode::Up), k('k')], "↑/k", A::Up, "move up", None),
    b(C::Global, &[code(KeyCode::Down), k('j')], "↓/j", A::Down, "move down", None),
    b(C::Global, &[code(KeyCode::PageUp), ctrl('u')], "PgUp", A::PageUp, "page up", None),
    b(C::Global, &[code(KeyCode::PageDown), ctrl('d')], "PgDn", A::PageDown, "page down", None),
    b(C::Global, &[k('g'), code(KeyCode::Home)], "g", A::Top, "first row", None),
    b(C::Global, &[k('G'), code(KeyCode::End)], "G", A::Bottom, "last row", None),
    b(C::Global, &[k('/')], "/", A::Filter, "filter by deployment, title, requester or id", Some("filter")),
    b(C::Global, &[code(KeyCode::Esc)], "Esc", A::Cancel, "clear the filter or the message", None),
    b(C::Global, &[k('R')], "R", A::Report, "the report: charts of the last 90 days, full screen", None),
    b(C::Queue, &[k('s')], "s", A::CycleSort, "sort by risk, age, deployment", Some("sort")),
    b(C::Queue, &[k('f')], "f", A::CycleStatus, "show pending, decided, all, mine", Some("show")),
    b(C::Queue, &[code(KeyCode::Enter)], "Enter", A::Open, "open the request in the detail pane", None),
    b(C::Queue, &[k('a')], "a", A::Approve, "approve the request", Some("approve")),
    b(C::Queue, &[k('c')], "c", A::Conditional, "approve with conditions", Some("conditions")),
    b(C::Queue, &[k('r')], "r", A::Reject, "reject the request", Some("reject")),
    b(C::Queue, &[k('x')], "x", A::RequestException, "request a security exception", Some("exception")),
    b(C::Queue, &[k('o')], "o", A::RecordOutcome, "record how its deployment went (f lists decided requests)", None),
    b(C::Detail, &[k('a')], "a", A::Approve, "approve the request", Some("approve")),
    b(C::Detail, &[k('c')], "c", A::Conditional, "approve with conditions", Some("conditions")),
    b(C::Detail, &[k('r')], "r", A::Reject, "reject the request", Some("reject")),
    b(C::Detail, &[k('x')], "x", A::RequestException, "request a security exception", Some("exception")),
    b(C::Detail, &[k('o')], "o", A::RecordOutcome, "record how its deployment went", None),
    b(C::Exceptions, &[k('a')], "a", A::ReviewApprove, "approve the exception", Some("approve")),
    b(C::Exceptions, &[k('r')], "r", A::ReviewReject, "reject the exception", Some("reject")),
    b(C::Filter, &[code(KeyCode::Enter)], "Enter", A::ApplyFilter, "keep the filter, back to the list", Some("keep")),
    b(C::Filter, &[code(KeyCode::Esc)], "Esc", A::ClearFilter, "clear the filter", Some("clear")),
    b(C::Form, &[ctrl('s')], "C-s", A::Submit, "submit (asks for confirmation)", Some("submit")),
    b(C::Form, &[code(KeyCode::Tab)], "Tab", A::NextField, "next field", Some("next field")),
    b(C::Form, &[code(KeyCode::BackTab)], "S-Tab", A::PrevField, "previous field", None),
    b(C::Form, &[code(KeyCode::Enter)], "Enter", A::AddItem, "add the typed item to a list, or go to the next field", Some("add item")),
    b(C::Form, &[ctrl('d')], "C-d", A::RemoveItem, "remove the highlighted list item (↑↓ to pick it)", Some("remove item")),
    b(C::Form, &[code(KeyCode::Left), code(KeyCode::Right)], "←/→", A::Choose, "pick one of a field's choices (or type its first letter)", None),
    b(C::Form, &[code(KeyCode::Esc)], "Esc", A::Cancel, "cancel: nothing is recorded", Some("cancel")),
    b(C::Confirm, &[k('y'), code(KeyCode::Enter)], "y", A::Confirm, "record it", Some("record it")),
    b(C::Confirm, &[k('n'), code(KeyCode::Esc)], "n/Esc", A::Cancel, "back: nothing is recorded", Some("back")),
    b(C::Help, &[code(KeyCode::Esc), k('?'), k('q')], "Esc", A::Cancel, "close help", Some("close")),
    b(C::Help, &[code(KeyCode::Up), k('k')], "↑/k", A::Up, "scroll up", None),
    b(C::Help, &[code(KeyCode::Down), k('j')], "↓/j", A::Down, "scroll down", None),
    b(C::Report, &[k('p')], "p", A::NextPeriod, "period: last 30, 90, 365 days, all time", Some("period")),
    b(C::Report, &[k('b')], "b", A::CycleBy, "periods by month or by week", Some("by week/month")),
    b(C::Report, &[code(KeyCode::Up), k('k')], "↑/k", A::Up, "scroll up", None),
    b(C::Report, &[code(KeyCode::Down), k('j')], "↓/j", A::Down, "scroll down", Some("scroll")),
    b(C::Report, &[code(KeyCode::PageUp), ctrl('u')], "PgUp", A::PageUp, "page up", None),
    b(C::Report, &[code(KeyCode::PageDown), ctrl('d')], "PgDn", A::PageDown, "page down", None),
    b(C::Report, &[k('g'), code(KeyCode::Home)], "g", A::Top, "top", None),
    b(C::Report, &[k('G'), code(KeyCode::End)], "G", A::Bottom, "bottom", None),
    b(C::Report, &[k('?')], "?", A::Help, "help: every key", Some("help")),
    b(C::Report, &[code(KeyCode::Esc), k('q'), k('R')], "Esc/q", A::Cancel, "back to the panes", Some("back")),
];

/// Compare keys the way terminals send them: an upper-case letter may come with SHIFT.
fn matches(key: &Key, event: &KeyEvent) -> bool {
    let mut mods = event.modifiers;
    if matches!(event.code, KeyCode::Char(_)) {
        mods.remove(KeyModifiers::SHIFT);
    }
    key.code == event.code && key.mods == mods
}

/// The action a key means in the given contexts, tried in order.
pub fn lookup(contexts: &[Context], event: &KeyEvent) -> Option<Action> {
    contexts.iter().find_map(|ctx| {
        KEYMAP
            .iter()
            .filter(|b| b.context == *ctx)
            .find(|b| b.keys.iter().any(|k| matches(k, event)))
            .map(|b| b.action)
    })
}

/// The bindings of one context, in keymap order.
pub fn bindings(context: Context) -> impl Iterator<Item = &'static Binding> {
    KEYMAP.iter().filter(move |b| b.context == context)
}

/// "a approve  c conditions  …" for the status bar: the context's hints, then the global ones.
pub fn hints(contexts: &[Context]) -> Vec<(&'static str, &'static str)> {
    let mut seen: Vec<&'static str> = Vec::new();
    let mut out = Vec::new();
    for ctx in contexts {
        for b in bindings(*ctx) {
            if let Some(hint) = b.hint
                && !seen.contains(&b.label)
            {
                seen.push(b.label);
                out.push((b.label, hint));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn a_approves_a_request_in_the_queue_and_an_exception_in_the_exceptions_pane() {
        assert_eq!(
            lookup(&[C::Queue, C::Global], &press('a')),
            Some(A::Approve)
        );
        assert_eq!(
            lookup(&[C::Exceptions, C::Global], &press('a')),
            Some(A::ReviewApprove)
        );
    }

    #[test]
    fn pane_keys_win_over_global_ones_and_global_keys_work_everywhere() {
        assert_eq!(lookup(&[C::Queue, C::Global], &press('q')), Some(A::Quit));
        assert_eq!(
            lookup(&[C::Exceptions, C::Global], &press('/')),
            Some(A::Filter)
        );
    }

    #[test]
    fn shifted_letters_match_their_upper_case_binding() {
        let g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(lookup(&[C::Global], &g), Some(A::Bottom));
    }

    #[test]
    fn every_spec_key_is_bound() {
        // SPEC section 4: arrows and j/k, Tab, a, c, r, x, a/r in exceptions, /, s, ?, q, Esc,
        // and Ctrl+S in a form.
        let q = [C::Queue, C::Global];
        for (c, action) in [
            ('j', A::Down),
            ('k', A::Up),
            ('a', A::Approve),
            ('c', A::Conditional),
            ('r', A::Reject),
            ('x', A::RequestException),
            ('/', A::Filter),
            ('s', A::CycleSort),
            ('?', A::Help),
            ('q', A::Quit),
        ] {
            assert_eq!(lookup(&q, &press(c)), Some(action), "key {c}");
        }
        let e = [C::Exceptions, C::Global];
        assert_eq!(lookup(&e, &press('r')), Some(A::ReviewReject));
        let tab = KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE);
        assert_eq!(lookup(&q, &tab), Some(A::NextPane));
        let save = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert_eq!(lookup(&[C::Form], &save), Some(A::Submit));
        let esc = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
        assert_eq!(lookup(&[C::Form], &esc), Some(A::Cancel));
    }

    #[test]
    fn capital_r_opens_the_report_whose_keys_are_bound_and_listed_in_help() {
        assert_eq!(lookup(&[C::Queue, C::Global], &press('R')), Some(A::Report));
        let r = [C::Report];
        for (c, action) in [
            ('p', A::NextPeriod),
            ('b', A::CycleBy),
            ('j', A::Down),
            ('k', A::Up),
            ('?', A::Help),
            ('q', A::Cancel),
            ('R', A::Cancel),
        ] {
            assert_eq!(lookup(&r, &press(c)), Some(action), "key {c}");
        }
        let esc = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
        assert_eq!(lookup(&r, &esc), Some(A::Cancel));
        // Nothing of the panes acts in the report view.
        for c in ['a', 'c', 'r', 'x', 'o', '/', 's', 'f'] {
            assert_eq!(lookup(&r, &press(c)), None, "key {c}");
        }

        let help: Vec<String> =
            crate::console::dialogs::help::lines(&crate::console::Theme::monochrome())
                .iter()
                .map(|l| l.to_string())
                .collect();
        let at = |text: &str| help.iter().position(|l| l.contains(text));
        let report = at("Report (after R)").expect("the help has a section for the report view");
        for line in [
            "  p       period: last 30, 90, 365 days, all time",
            "  b       periods by month or by week",
            "  Esc/q   back to the panes",
        ] {
            assert!(
                at(line).is_some_and(|i| i > report),
                "the help lists {line:?} under the report"
            );
        }
        assert!(at("  R       the report").is_some_and(|i| i < report));
    }

    #[test]
    fn hints_come_from_the_keymap_without_duplicates() {
        let hints = hints(&[C::Queue, C::Global]);
        assert!(hints.contains(&("a", "approve")));
        let labels: Vec<_> = hints.iter().map(|h| h.0).collect();
        let mut unique = labels.clone();
        unique.dedup();
        assert_eq!(labels.len(), unique.len());
    }
}
