//! The console's model and its update function (The Elm Architecture): every key, tick and
//! answer from the backend arrives as a [`Msg`]; [`App::update`] changes the model and returns
//! the [`Effect`]s (backend calls) for the runtime to perform. No I/O happens here, so the
//! console's behaviour is tested without a terminal or a store.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use uuid::Uuid;

use super::dialogs::confirm::Confirm;
use super::dialogs::form::{Form, FormKind, Target};
use super::input::TextInput;
use super::keymap::{self, Action, Context};
use super::layout;
use super::panes::{exceptions, queue};
use super::search::SearchIndex;
use super::theme::Theme;
use crate::backend::EventPage;
use crate::engine::query::{self, Counts};
use crate::engine::rules::{self, Command, Ctx, IdSource};
use crate::engine::{Actor, Policy, Review, State, StoredEvent, Verdict};
use ratatui::layout::Rect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Queue,
    Detail,
    Exceptions,
}

impl Pane {
    pub const ALL: [Pane; 3] = [Pane::Queue, Pane::Detail, Pane::Exceptions];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Queue => "Queue",
            Pane::Detail => "Detail",
            Pane::Exceptions => "Exceptions",
        }
    }

    fn context(self) -> Context {
        match self {
            Pane::Queue => Context::Queue,
            Pane::Detail => Context::Detail,
            Pane::Exceptions => Context::Exceptions,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Highest risk first.
    Risk,
    /// Oldest first: who has waited longest.
    Age,
    Deployment,
}

impl SortKey {
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Risk => "risk",
            SortKey::Age => "age",
            SortKey::Deployment => "deployment",
        }
    }

    fn next(self) -> Self {
        match self {
            SortKey::Risk => SortKey::Age,
            SortKey::Age => SortKey::Deployment,
            SortKey::Deployment => SortKey::Risk,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Awaiting action: under review, or needing an exception that is not active.
    Pending,
    Decided,
    All,
    /// Requested by the console's user.
    Mine,
}

impl StatusFilter {
    pub fn label(self) -> &'static str {
        match self {
            StatusFilter::Pending => "pending",
            StatusFilter::Decided => "decided",
            StatusFilter::All => "all",
            StatusFilter::Mine => "mine",
        }
    }

    fn next(self) -> Self {
        match self {
            StatusFilter::Pending => StatusFilter::Decided,
            StatusFilter::Decided => StatusFilter::All,
            StatusFilter::All => StatusFilter::Mine,
            StatusFilter::Mine => StatusFilter::Pending,
        }
    }
}

/// The event history of one request, fetched from the backend when it is first shown.
#[derive(Debug, Clone, PartialEq)]
pub enum History {
    Loading,
    Loaded(Vec<StoredEvent>),
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Success,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub level: Level,
    pub text: String,
}

/// A layer above the panes; it gets keys first and closes itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Modal {
    Help { scroll: u16 },
    Form(Form),
    Confirm(Confirm),
}

/// A change to record, as the backend will be asked to record it.
#[derive(Debug, Clone, PartialEq)]
pub enum UiCommand {
    Decide {
        request: Uuid,
        verdict: Verdict,
        rationale: String,
    },
    RequestException {
        request: Uuid,
        justification: String,
        controls: Vec<String>,
        days: i64,
    },
    Review {
        exception: Uuid,
        review: Review,
        rationale: String,
    },
}

/// What the runtime is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Execute(UiCommand),
    FetchHistory(Uuid),
    /// Load the whole state again: an event could not be applied, so the console's copy has a
    /// gap that following more events would build on.
    Resync,
    Quit,
}

/// Everything that can happen to the console.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Paste(String),
    /// The clock moved on: ages and countdowns change.
    Tick(DateTime<Utc>),
    /// The whole state, as the backend has it now.
    Snapshot {
        state: Box<State>,
        head: u64,
    },
    /// Events written since the console last looked.
    Events(EventPage),
    History(Uuid, Result<Vec<StoredEvent>, String>),
    /// A command finished: what to tell the user.
    Done(Result<String, String>),
    /// The backend could not be read.
    SyncFailed(String),
    /// The fresh snapshot asked for by [`Effect::Resync`] could not be loaded.
    ResyncFailed(String),
    /// The terminal's size changed.
    Resize(u16, u16),
}

pub struct App {
    pub me: Actor,
    pub location: String,
    pub read_only: bool,
    pub read_only_reason: &'static str,
    pub now: DateTime<Utc>,
    pub state: State,
    pub head: u64,
    /// Whether the first snapshot has arrived.
    pub loaded: bool,
    pub pane: Pane,
    pub sort: SortKey,
    pub status_filter: StatusFilter,
    pub filter: TextInput,
    pub filtering: bool,
    /// The queue's rows, filtered and sorted: request ids.
    pub queue: Vec<Uuid>,
    pub queue_index: usize,
    queue_selected: Option<Uuid>,
    /// The exception pane's rows: exception ids, most urgent first.
    pub exceptions: Vec<Uuid>,
    pub exception_index: usize,
    exception_selected: Option<Uuid>,
    pub detail_scroll: u16,
    pub histories: HashMap<Uuid, History>,
    pub modals: Vec<Modal>,
    pub message: Option<Message>,
    pub counts: Counts,
    /// The last read of the backend failed (cleared by the next one that succeeds).
    pub sync_error: Option<String>,
    /// Set while the state is being reloaded after an event that could not be applied.
    resync: Option<Resync>,
    /// A command is on its way to the backend.
    pub busy: bool,
    /// The terminal's size, for page lengths and scrolling.
    pub viewport: Rect,
    pub queue_offset: usize,
    pub exception_offset: usize,
    pub theme: Theme,
    /// What `/` searches, built when first needed.
    search: SearchIndex,
}

/// The console's copy of the state stopped at an event it could not apply: nothing more is
/// applied on top of that gap until a fresh snapshot replaces the state.
#[derive(Debug, Clone, PartialEq)]
struct Resync {
    /// What went wrong, for the status bar.
    reason: String,
    /// A snapshot has been asked for and not yet answered.
    asked: bool,
    /// Events that arrived after the snapshot was asked for: the snapshot may predate them.
    later: Vec<StoredEvent>,
}

/// Ids for a dry run of the rules: never stored.
struct NoIds;

impl IdSource for NoIds {
    fn next_id(&mut self) -> Uuid {
        Uuid::nil()
    }
}

impl App {
    pub fn new(
        me: Actor,
        location: String,
        read_only: bool,
        now: DateTime<Utc>,
        theme: Theme,
    ) -> Self {
        App {
            me,
            location,
            read_only,
            read_only_reason: "opened with --read-only",
            now,
            state: State::new(),
            head: 0,
            loaded: false,
            pane: Pane::Queue,
            sort: SortKey::Risk,
            status_filter: StatusFilter::Pending,
            filter: TextInput::new(),
            filtering: false,
            queue: Vec::new(),
            queue_index: 0,
            queue_selected: None,
            exceptions: Vec::new(),
            exception_index: 0,
            exception_selected: None,
            detail_scroll: 0,
            histories: HashMap::new(),
            modals: Vec::new(),
            message: None,
            counts: Counts::default(),
            sync_error: None,
            resync: None,
            busy: false,
            viewport: Rect::new(0, 0, 120, 40),
            queue_offset: 0,
            exception_offset: 0,
            theme,
            search: SearchIndex::default(),
        }
    }

    /// Rows in a page of a pane's list, for the current terminal size.
    fn page(&self, pane: Pane) -> usize {
        layout::list_rows(self.viewport, pane).max(1)
    }

    /// Keep both selections inside their visible windows.
    fn scroll(&mut self) {
        self.queue_offset =
            layout::scroll_into_view(self.queue_index, self.queue_offset, self.page(Pane::Queue));
        self.exception_offset = layout::scroll_into_view(
            self.exception_index,
            self.exception_offset,
            self.page(Pane::Exceptions),
        );
    }

    // ----- what the view reads -----

    pub fn selected_request(&self) -> Option<Uuid> {
        self.queue.get(self.queue_index).copied()
    }

    pub fn selected_exception(&self) -> Option<Uuid> {
        self.exceptions.get(self.exception_index).copied()
    }

    /// The contexts keys are looked up in, innermost first.
    pub fn contexts(&self) -> Vec<Context> {
        match self.modals.last() {
            Some(Modal::Help { .. }) => vec![Context::Help],
            Some(Modal::Form(_)) => vec![Context::Form],
            Some(Modal::Confirm(_)) => vec![Context::Confirm],
            None if self.filtering => vec![Context::Filter],
            None => vec![self.pane.context(), Context::Global],
        }
    }

    /// Why the screen may not show the backend's current state, if it may not.
    pub fn out_of_sync(&self) -> Option<String> {
        match (&self.resync, &self.sync_error) {
            (Some(r), Some(e)) => Some(format!("{}; reloading failed: {e}", r.reason)),
            (Some(r), None) => Some(format!("{}; reloading", r.reason)),
            (None, e) => e.clone(),
        }
    }

    pub fn say(&mut self, level: Level, text: impl Into<String>) {
        self.message = Some(Message {
            level,
            text: text.into(),
        });
    }

    // ----- update -----

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut effects = Vec::new();
        match msg {
            Msg::Key(key) => self.key(key, &mut effects),
            Msg::Paste(text) => self.paste(&text),
            Msg::Tick(now) => {
                self.now = now;
                // A reload that failed is asked for again, as often as the clock ticks.
                self.ask_resync(&mut effects);
                self.counts = query::counts(&self.state, now);
                // Exceptions expire and requests leave the pending queue as time passes.
                self.recompute();
                self.recheck_modals();
            }
            Msg::Snapshot { state, head } => {
                self.state = *state;
                self.search = SearchIndex::default();
                self.head = head;
                self.loaded = true;
                self.sync_error = None;
                self.histories.clear();
                self.data_changed(&[]);
                if let Some(resync) = self.resync.take() {
                    self.say(
                        Level::Warning,
                        format!("reloaded from the backend after: {}", resync.reason),
                    );
                    // What arrived while the snapshot was being read, where it is newer.
                    self.events(
                        EventPage {
                            events: resync.later,
                            head,
                        },
                        &mut effects,
                    );
                }
            }
            Msg::Events(page) => self.events(page, &mut effects),
            Msg::History(id, result) => {
                self.histories.insert(
                    id,
                    match result {
                        Ok(events) => History::Loaded(events),
                        Err(e) => History::Failed(e),
                    },
                );
            }
            Msg::Done(result) => {
                self.busy = false;
                match result {
                    Ok(text) => self.say(Level::Success, text),
                    Err(text) => self.say(Level::Error, text),
                }
            }
            Msg::SyncFailed(e) => self.sync_error = Some(e),
            Msg::ResyncFailed(e) => {
                if let Some(resync) = &mut self.resync {
                    resync.asked = false;
                }
                self.sync_error = Some(e);
            }
            Msg::Resize(w, h) => {
                self.viewport = Rect::new(0, 0, w, h);
                self.scroll();
            }
        }
        self.want_history(&mut effects);
        effects
    }

    fn events(&mut self, page: EventPage, effects: &mut Vec<Effect>) {
        // The backend answered: an earlier failure to read it is over.
        self.sync_error = None;
        if let Some(resync) = &mut self.resync {
            // Nothing is applied on top of a gap; what the snapshot may miss is kept for it.
            let head = self.head;
            resync
                .later
                .extend(page.events.into_iter().filter(|e| e.seq > head));
            return;
        }
        let mut touched = Vec::new();
        for stored in page.events {
            if stored.seq <= self.head {
                continue; // already seen
            }
            touched.push(stored.event.kind.request_id());
            if let Err(e) = self.state.apply(stored.seq, stored.event.kind) {
                // The rest of this page is older than the snapshot about to be asked for.
                self.resync = Some(Resync {
                    reason: format!("event {} cannot be applied: {e}", stored.seq),
                    asked: false,
                    later: Vec::new(),
                });
                self.ask_resync(effects);
                break;
            }
            self.head = stored.seq;
        }
        if !touched.is_empty() {
            self.data_changed(&touched);
        }
    }

    /// Ask for a fresh snapshot, unless one is on its way. Events kept so far existed before
    /// the snapshot is read, so it holds them: only later ones need keeping.
    fn ask_resync(&mut self, effects: &mut Vec<Effect>) {
        if let Some(resync) = &mut self.resync
            && !resync.asked
        {
            resync.asked = true;
            resync.later.clear();
            effects.push(Effect::Resync);
        }
    }

    /// New data: histories of touched requests are stale, lists and counts are recomputed,
    /// and an open form learns if its request or exception was decided meanwhile.
    fn data_changed(&mut self, touched: &[Uuid]) {
        for id in touched {
            self.histories.remove(id);
        }
        self.counts = query::counts(&self.state, self.now);
        self.recompute();
        self.recheck_modals();
    }

    /// Judge open forms and confirmations again against the current state, so that one whose
    /// request was decided (or whose exception was reviewed or expired) meanwhile says so
    /// before anything is submitted.
    fn recheck_modals(&mut self) {
        let verdicts: Vec<Option<String>> = self
            .modals
            .iter()
            .map(|m| match m {
                Modal::Form(f) => self.dry_run(f.kind, f.target).err(),
                Modal::Confirm(c) => self.dry_run(c.kind, c.target).err(),
                Modal::Help { .. } => None,
            })
            .collect();
        for (modal, stale) in self.modals.iter_mut().zip(verdicts) {
            match modal {
                Modal::Form(f) => f.stale = stale,
                Modal::Confirm(c) => c.stale = stale,
                Modal::Help { .. } => {}
            }
        }
    }

    /// Rebuild both lists, keeping each selection on the same record when it is still listed,
    /// or at the same position when it is not (so deciding a request moves on to the next).
    pub fn recompute(&mut self) {
        let needle = self.filter.text().to_string();
        if !needle.trim().is_empty() {
            self.search.update(&self.state);
        }
        self.queue = queue::rows(
            &self.state,
            &self.search,
            self.now,
            &self.me.name,
            self.status_filter,
            &needle,
            self.sort,
        );
        self.queue_index = reselect(&self.queue, self.queue_selected, self.queue_index);
        self.queue_selected = self.selected_request();
        self.exceptions = exceptions::rows(&self.state, &self.search, self.now, &needle);
        self.exception_index = reselect(
            &self.exceptions,
            self.exception_selected,
            self.exception_index,
        );
        self.exception_selected = self.selected_exception();
        self.scroll();
    }

    fn want_history(&mut self, effects: &mut Vec<Effect>) {
        if let Some(id) = self.selected_request()
            && !self.histories.contains_key(&id)
        {
            self.histories.insert(id, History::Loading);
            effects.push(Effect::FetchHistory(id));
        }
    }

    fn paste(&mut self, text: &str) {
        if let Some(Modal::Form(form)) = self.modals.last_mut() {
            form.paste(text);
        } else if self.filtering {
            self.filter.insert_str(text);
            self.recompute();
        }
    }

    fn key(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) {
        if key.kind == crossterm::event::KeyEventKind::Release {
            return;
        }
        // Ctrl+C always leaves, whatever has the keys.
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            effects.push(Effect::Quit);
            return;
        }
        let contexts = self.contexts();
        let action = keymap::lookup(&contexts, &key);
        match self.modals.last_mut() {
            Some(Modal::Help { scroll }) => match action {
                Some(Action::Cancel) => {
                    self.modals.pop();
                }
                Some(Action::Up) => *scroll = scroll.saturating_sub(1),
                Some(Action::Down) => *scroll = scroll.saturating_add(1),
                _ => {}
            },
            Some(Modal::Confirm(confirm)) => match action {
                Some(Action::Confirm) => {
                    if let Some(reason) = &confirm.stale {
                        let text = format!("not recorded: {reason}");
                        self.modals.pop();
                        self.say(Level::Warning, text);
                        return;
                    }
                    let command = confirm.command.clone();
                    let from_form = confirm.from_form;
                    self.modals.pop();
                    if from_form {
                        self.modals.pop();
                    }
                    self.busy = true;
                    self.say(Level::Info, "recording…");
                    effects.push(Effect::Execute(command));
                }
                Some(Action::Cancel) => {
                    self.modals.pop();
                }
                _ => {}
            },
            Some(Modal::Form(form)) => match action {
                Some(Action::Cancel) => {
                    self.modals.pop();
                    self.say(Level::Info, "cancelled: nothing was recorded");
                }
                Some(Action::Submit) => match form.to_confirm(&self.me, self.now) {
                    Ok(confirm) => self.modals.push(Modal::Confirm(confirm)),
                    Err(problem) => form.problem = Some(problem),
                },
                Some(Action::NextField) => form.next_field(),
                Some(Action::PrevField) => form.prev_field(),
                Some(Action::AddItem) => form.enter(),
                Some(Action::RemoveItem) => form.remove_item(),
                _ => form.edit(key),
            },
            None if self.filtering => match action {
                Some(Action::ApplyFilter) => self.filtering = false,
                Some(Action::ClearFilter) => {
                    self.filtering = false;
                    self.filter.clear();
                    self.recompute();
                }
                _ => {
                    if self.filter.handle(key) {
                        self.recompute();
                    }
                }
            },
            None => {
                if let Some(action) = action {
                    self.act(action, effects);
                }
            }
        }
    }

    fn act(&mut self, action: Action, effects: &mut Vec<Effect>) {
        match action {
            Action::Quit => effects.push(Effect::Quit),
            Action::Help => self.modals.push(Modal::Help { scroll: 0 }),
            Action::Cancel => {
                if !self.filter.is_empty() {
                    self.filter.clear();
                    self.recompute();
                } else {
                    self.message = None;
                }
            }
            Action::NextPane | Action::PrevPane => {
                let i = Pane::ALL.iter().position(|p| *p == self.pane).unwrap_or(0);
                let step = if action == Action::NextPane { 1 } else { 2 };
                self.pane = Pane::ALL[(i + step) % 3];
            }
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-(self.page(self.pane) as i64)),
            Action::PageDown => self.move_by(self.page(self.pane) as i64),
            Action::Top => self.move_by(i64::MIN / 2),
            Action::Bottom => self.move_by(i64::MAX / 2),
            Action::Open => {
                self.pane = Pane::Detail;
                self.detail_scroll = 0;
            }
            Action::CycleSort => {
                self.sort = self.sort.next();
                self.recompute();
                self.say(Level::Info, format!("sorted by {}", self.sort.label()));
            }
            Action::CycleStatus => {
                self.status_filter = self.status_filter.next();
                self.recompute();
                self.say(
                    Level::Info,
                    format!("showing {} requests", self.status_filter.label()),
                );
            }
            Action::Filter => self.filtering = true,
            Action::Approve => self.open_form(FormKind::Approve),
            Action::Conditional => self.open_form(FormKind::Conditional),
            Action::Reject => self.open_form(FormKind::Reject),
            Action::RequestException => self.open_form(FormKind::RequestException),
            Action::ReviewApprove => self.open_form(FormKind::ApproveException),
            Action::ReviewReject => self.open_form(FormKind::RejectException),
            // Keys of other contexts never reach here.
            Action::ApplyFilter
            | Action::ClearFilter
            | Action::Submit
            | Action::NextField
            | Action::PrevField
            | Action::AddItem
            | Action::RemoveItem
            | Action::Confirm => {}
        }
    }

    fn move_by(&mut self, delta: i64) {
        let (len, index) = match self.pane {
            Pane::Queue => (self.queue.len(), &mut self.queue_index),
            Pane::Exceptions => (self.exceptions.len(), &mut self.exception_index),
            Pane::Detail => {
                self.detail_scroll = (self.detail_scroll as i64 + delta).clamp(0, 10_000) as u16;
                return;
            }
        };
        if len == 0 {
            return;
        }
        *index = (*index as i64 + delta).clamp(0, len as i64 - 1) as usize;
        match self.pane {
            Pane::Queue => {
                self.queue_selected = self.selected_request();
                self.detail_scroll = 0;
            }
            Pane::Exceptions => self.exception_selected = self.selected_exception(),
            Pane::Detail => {}
        }
        self.scroll();
    }

    /// Open the form for an action, or say why the user may not take it: the engine's own
    /// rules judge a dry run against the console's state, so the reason is the rule's.
    fn open_form(&mut self, kind: FormKind) {
        let verb = kind.verb();
        if self.read_only {
            let reason = self.read_only_reason;
            self.say(
                Level::Warning,
                format!("read-only console: cannot {verb} ({reason})"),
            );
            return;
        }
        if self.busy {
            self.say(
                Level::Warning,
                "wait: the last action is still being recorded",
            );
            return;
        }
        let target = if kind.is_review() {
            match self.selected_exception() {
                Some(id) => Target::Exception(id),
                None => {
                    self.say(Level::Warning, format!("no exception selected to {verb}"));
                    return;
                }
            }
        } else {
            match self.focused_request() {
                Some(id) => Target::Request(id),
                None => {
                    self.say(Level::Warning, format!("no request selected to {verb}"));
                    return;
                }
            }
        };
        if let Err(reason) = self.dry_run(kind, target) {
            self.say(Level::Warning, format!("cannot {verb}: {reason}"));
            return;
        }
        self.modals
            .push(Modal::Form(Form::new(kind, target, &self.state)));
    }

    /// The request the request actions apply to: the queue's selection (the detail pane shows
    /// the same one).
    fn focused_request(&self) -> Option<Uuid> {
        self.selected_request()
    }

    fn dry_run(&self, kind: FormKind, target: Target) -> Result<(), String> {
        let placeholder = "-".to_string();
        let command = match (kind, target) {
            (FormKind::Approve | FormKind::Conditional | FormKind::Reject, Target::Request(id)) => {
                Command::Decide {
                    request_id: id,
                    verdict: if kind == FormKind::Reject {
                        Verdict::Reject
                    } else {
                        Verdict::Approve {
                            conditions: Vec::new(),
                        }
                    },
                    rationale: placeholder,
                }
            }
            (FormKind::RequestException, Target::Request(id)) => Command::RequestException {
                request_id: id,
                justification: placeholder.clone(),
                compensating_controls: vec![placeholder],
                expiry_days: None,
            },
            (_, Target::Exception(id)) => Command::ReviewException {
                exception_id: id,
                review: if kind == FormKind::ApproveException {
                    Review::Approve
                } else {
                    Review::Reject
                },
                rationale: placeholder,
            },
            (_, Target::Request(_)) => return Err("that action needs an exception".into()),
        };
        let policy = Policy::default();
        let ctx = Ctx {
            actor: &self.me,
            now: self.now,
            policy: &policy,
        };
        rules::handle(&self.state, &command, &ctx, &mut NoIds)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The index of `selected` in `rows`, or the old position clamped to the new length.
fn reselect(rows: &[Uuid], selected: Option<Uuid>, old: usize) -> usize {
    selected
        .and_then(|id| rows.iter().position(|r| *r == id))
        .unwrap_or_else(|| old.min(rows.len().saturating_sub(1)))
}
