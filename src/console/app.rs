//! The console's model and its update function (The Elm Architecture): every key, tick and
//! answer from the backend arrives as a [`Msg`]; [`App::update`] changes the model and returns
//! the [`Effect`]s (backend calls) for the runtime to perform. No I/O happens here, so the
//! console's behaviour is tested without a terminal or a store.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use uuid::Uuid;

use super::dialogs::form::Form;
use super::dialogs::help::Help;
use super::dialogs::{EventResult, LayerCtx, Modal};
use super::input::TextInput;
use super::intent::{Ask, Intent};
use super::keymap::{self, Action, Context};
use super::layout;
use super::panes::data_table::ListCursor;
use super::panes::report::{ReportAnswer, ReportView};
use super::panes::{exceptions, queue};
use super::search::SearchIndex;
use super::theme::Theme;
use crate::backend::EventPage;
use crate::engine::query::{self, Counts};
use crate::engine::report::{Report, ReportQuery};
use crate::engine::{Actor, Command, State, StoredEvent};
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

/// What the runtime is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Record a command through the backend.
    Execute(Command),
    FetchHistory(Uuid),
    /// Load the whole state again: an event could not be applied, so the console's copy has a
    /// gap that following more events would build on.
    Resync,
    /// Compute a report; the answer comes back with the same ticket.
    Report {
        ticket: u64,
        query: ReportQuery,
    },
    Quit,
}

/// Everything that can happen to the console.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Paste(String),
    /// The clock moved on: ages and countdowns change.
    Tick(DateTime<Utc>),
    /// The open requests alone, read ahead of the whole state (`Backend::preview`): the first
    /// screen, drawn while the rest is read. Ignored once a snapshot has arrived.
    Preview(Box<State>),
    /// The whole state, as the backend has it now.
    Snapshot {
        state: Box<State>,
        head: u64,
        /// The hash of event `head`, when the backend knows it: the next event must link to it.
        head_hash: Option<String>,
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
    /// The report asked for with [`Effect::Report`], or why it could not be computed.
    Report {
        ticket: u64,
        result: Result<Box<Report>, String>,
    },
}

/// The console's model. The view reads it through the methods below; only `update` changes it.
pub struct App {
    me: Actor,
    location: String,
    read_only: Option<&'static str>,
    /// Opened as of this moment (`--at`): the state then, read-only.
    as_of: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    state: State,
    head: u64,
    /// The hash of event `head`, when known: an event that does not link to it belongs to
    /// another history (a server restarted on another store), and a new snapshot is loaded.
    head_hash: Option<String>,
    /// Whether the first snapshot (or a preview) has arrived.
    loaded: bool,
    /// What is shown is a preview: the open requests alone, until the first snapshot.
    previewing: bool,
    pane: Pane,
    /// The list whose selection the detail pane shows: the queue, or the exceptions pane (the
    /// request the selected exception belongs to). The last of the two to have the focus.
    detail_follows: Pane,
    sort: SortKey,
    status_filter: StatusFilter,
    filter: TextInput,
    filtering: bool,
    /// The queue's rows, filtered and sorted: request ids.
    queue: ListCursor,
    /// The exception pane's rows: exception ids, most urgent first.
    exceptions: ListCursor,
    detail_scroll: u16,
    histories: HashMap<Uuid, History>,
    modals: Vec<Modal>,
    message: Option<Message>,
    counts: Counts,
    /// The last read of the backend failed (cleared by the next one that succeeds).
    sync_error: Option<String>,
    /// Set while the state is being reloaded after an event that could not be applied.
    resync: Option<Resync>,
    /// A command is on its way to the backend.
    busy: bool,
    /// The terminal's size, for page lengths and scrolling.
    viewport: Rect,
    theme: Theme,
    /// What `/` searches, built when first needed.
    search: SearchIndex,
    /// The report view, full screen in place of the panes while it is open.
    report: Option<ReportView>,
    /// Reports asked for so far: each ask's ticket, so that a late answer to an earlier one
    /// is told apart.
    report_asks: u64,
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
    /// Reloads that failed in a row, and when the next may be asked for: a store that cannot
    /// be read is not re-read every second (each try can be a full replay).
    failures: u32,
    not_before: Option<DateTime<Utc>>,
}

/// How long to wait before asking again after `failures` failed reloads: 2, 4, 8... seconds,
/// at most a minute.
fn resync_backoff(failures: u32) -> chrono::Duration {
    chrono::Duration::seconds(1i64 << failures.clamp(1, 6)).min(chrono::Duration::seconds(60))
}

const READ_ONLY: &str = "opened with --read-only";
const AS_OF: &str = "opened with --at: it shows the past, which cannot be changed";

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
            read_only: read_only.then_some(READ_ONLY),
            as_of: None,
            now,
            state: State::new(),
            head: 0,
            head_hash: None,
            loaded: false,
            previewing: false,
            pane: Pane::Queue,
            detail_follows: Pane::Queue,
            sort: SortKey::Risk,
            status_filter: StatusFilter::Pending,
            filter: TextInput::new(),
            filtering: false,
            queue: ListCursor::default(),
            exceptions: ListCursor::default(),
            detail_scroll: 0,
            histories: HashMap::new(),
            modals: Vec::new(),
            message: None,
            counts: Counts::default(),
            sync_error: None,
            resync: None,
            busy: false,
            viewport: Rect::new(0, 0, 120, 40),
            theme,
            search: SearchIndex::default(),
            report: None,
            report_asks: 0,
        }
    }

    /// Say why the console is read-only when an action key is pressed.
    pub fn read_only_because(&mut self, reason: &'static str) {
        if self.read_only.is_some() {
            self.read_only = Some(reason);
        }
    }

    /// Show the store as of a moment (`--at`): read-only, and the status bar says when.
    pub fn show_as_of(&mut self, at: DateTime<Utc>) {
        self.as_of = Some(at);
        if self.read_only.is_none() {
            self.read_only = Some(AS_OF);
        }
    }

    // ----- what the view reads -----

    /// The moment shown, when opened with `--at`.
    pub fn as_of(&self) -> Option<DateTime<Utc>> {
        self.as_of
    }

    pub fn me(&self) -> &Actor {
        &self.me
    }

    /// Where the data lives, as the backend names it.
    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The sequence number of the last event applied.
    pub fn head(&self) -> u64 {
        self.head
    }

    pub fn loaded(&self) -> bool {
        self.loaded
    }

    /// Whether only the open requests are shown yet, while the whole state is being read.
    pub fn previewing(&self) -> bool {
        self.previewing
    }

    pub fn pane(&self) -> Pane {
        self.pane
    }

    pub fn sort(&self) -> SortKey {
        self.sort
    }

    pub fn status_filter(&self) -> StatusFilter {
        self.status_filter
    }

    pub fn filter(&self) -> &TextInput {
        &self.filter
    }

    /// The filter is being typed.
    pub fn filtering(&self) -> bool {
        self.filtering
    }

    pub fn queue(&self) -> &ListCursor {
        &self.queue
    }

    pub fn exceptions(&self) -> &ListCursor {
        &self.exceptions
    }

    pub fn detail_scroll(&self) -> u16 {
        self.detail_scroll
    }

    pub fn history(&self, request: &Uuid) -> Option<&History> {
        self.histories.get(request)
    }

    /// The layers above the panes, bottom first.
    pub fn modals(&self) -> &[Modal] {
        &self.modals
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// A command is on its way to the backend.
    pub fn busy(&self) -> bool {
        self.busy
    }

    pub fn viewport(&self) -> Rect {
        self.viewport
    }

    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    /// The report view, when it is open.
    pub fn report(&self) -> Option<&ReportView> {
        self.report.as_ref()
    }

    pub fn selected_request(&self) -> Option<Uuid> {
        self.queue.selected()
    }

    pub fn selected_exception(&self) -> Option<Uuid> {
        self.exceptions.selected()
    }

    /// The list the detail pane follows: the queue, or the exceptions pane.
    pub fn detail_follows(&self) -> Pane {
        self.detail_follows
    }

    /// The request the detail pane shows and the request actions apply to: the queue's
    /// selection, or the request of the selected exception once the exceptions pane has had
    /// the focus.
    pub fn detail_request(&self) -> Option<Uuid> {
        match self.detail_follows {
            Pane::Exceptions => self
                .exceptions
                .selected()
                .and_then(|id| self.state.exception(&id))
                .map(|e| e.request_id),
            Pane::Queue | Pane::Detail => self.queue.selected(),
        }
    }

    /// The contexts keys are looked up in, innermost first.
    pub fn contexts(&self) -> Vec<Context> {
        match self.modals.last() {
            Some(modal) => vec![modal.context()],
            None if self.report.is_some() => vec![Context::Report],
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

    fn say(&mut self, level: Level, text: impl Into<String>) {
        self.message = Some(Message {
            level,
            text: text.into(),
        });
    }

    /// Rows in a page of a pane's list, for the current terminal size.
    fn page(&self, pane: Pane) -> usize {
        layout::list_rows(self.viewport, pane).max(1)
    }

    // ----- update -----

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut effects = Vec::new();
        let shown = self.detail_request();
        match msg {
            Msg::Key(key) => self.key(key, &mut effects),
            Msg::Paste(text) => self.paste(&text),
            Msg::Tick(now) => {
                self.now = now;
                // A reload that failed is asked for again once its back-off has passed.
                self.ask_resync(&mut effects);
                self.counts = query::counts(&self.state, now);
                // Exceptions expire and requests leave the pending queue as time passes.
                self.recompute();
                self.recheck_modals();
            }
            Msg::Preview(state) => self.preview(*state),
            Msg::Snapshot {
                state,
                head,
                head_hash,
            } => self.snapshot(*state, head, head_hash, &mut effects),
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
            Msg::SyncFailed(e) => {
                if self.previewing {
                    // The whole store could not be read: nothing read ahead of it stays shown.
                    self.state = State::new();
                    self.search = SearchIndex::default();
                    self.loaded = false;
                    self.previewing = false;
                    self.data_changed(&[]);
                }
                self.sync_error = Some(e);
            }
            Msg::ResyncFailed(e) => {
                if let Some(resync) = &mut self.resync {
                    resync.asked = false;
                    resync.failures += 1;
                    resync.not_before = Some(self.now + resync_backoff(resync.failures));
                }
                self.sync_error = Some(e);
            }
            Msg::Resize(w, h) => {
                self.viewport = Rect::new(0, 0, w, h);
                self.queue.scroll(self.page(Pane::Queue));
                self.exceptions.scroll(self.page(Pane::Exceptions));
                if let Some(report) = &mut self.report {
                    report.clamp(self.viewport);
                }
                self.recheck_modals();
            }
            Msg::Report { ticket, result } => {
                let viewport = self.viewport;
                let failed = self.report.as_mut().and_then(|report| {
                    let failed = report.answer(ticket, result);
                    report.clamp(viewport);
                    failed
                });
                if let Some(e) = failed {
                    self.say(Level::Error, format!("report not computed: {e}"));
                }
            }
        }
        if self.detail_request() != shown {
            self.detail_scroll = 0;
        }
        self.want_history(&mut effects);
        self.want_report(&mut effects);
        effects
    }

    /// Ask for the report the open report view wants, unless it is shown for the newest
    /// event or on its way. Only the backend computes it, with its own clock (or `--at`).
    fn want_report(&mut self, effects: &mut Vec<Effect>) {
        let state = &self.state;
        let Some(report) = &mut self.report else {
            return;
        };
        let first = || state.requests().map(|r| r.submitted_at).min();
        if let Some((choice, query)) = report.next_ask(self.head, first) {
            self.report_asks += 1;
            report.asked(self.report_asks, choice, self.head);
            effects.push(Effect::Report {
                ticket: self.report_asks,
                query,
            });
        }
    }

    /// Show the open requests while the whole state is read; nothing once it has arrived.
    fn preview(&mut self, state: State) {
        if self.loaded {
            return;
        }
        self.state = state;
        self.search = SearchIndex::default();
        self.loaded = true;
        self.previewing = true;
        self.data_changed(&[]);
    }

    fn snapshot(
        &mut self,
        state: State,
        head: u64,
        head_hash: Option<String>,
        effects: &mut Vec<Effect>,
    ) {
        self.state = state;
        self.search = SearchIndex::default();
        self.head = head;
        self.head_hash = head_hash;
        self.loaded = true;
        self.previewing = false;
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
                effects,
            );
        }
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
        if page.head < self.head {
            let reason = format!(
                "the backend now holds {} events, fewer than the {} shown: it is not the same store",
                page.head, self.head
            );
            self.start_resync(reason, effects);
            return;
        }
        let mut touched = Vec::new();
        for stored in page.events {
            if stored.seq <= self.head {
                continue; // already seen
            }
            let linked = self.head_hash.as_ref().is_none_or(|h| *h == stored.prev);
            if stored.seq == self.head + 1 && !linked {
                let reason = format!(
                    "event {} does not follow the one before it: the backend's history is not the one shown (a server restarted on another store?)",
                    stored.seq
                );
                self.start_resync(reason, effects);
                break;
            }
            touched.push(stored.event.kind.request_id());
            let hash = stored.hash;
            if let Err(e) = self
                .state
                .apply(stored.seq, stored.event.at, stored.event.kind)
            {
                // The rest of this page is older than the snapshot about to be asked for.
                self.start_resync(
                    format!("event {} cannot be applied: {e}", stored.seq),
                    effects,
                );
                break;
            }
            self.head = stored.seq;
            if self.head_hash.is_some() {
                self.head_hash = Some(hash);
            }
        }
        if !touched.is_empty() {
            self.data_changed(&touched);
        }
    }

    /// What is shown can no longer be followed: load a fresh snapshot.
    fn start_resync(&mut self, reason: String, effects: &mut Vec<Effect>) {
        self.resync = Some(Resync {
            reason,
            asked: false,
            later: Vec::new(),
            failures: 0,
            not_before: None,
        });
        self.ask_resync(effects);
    }

    /// Ask for a fresh snapshot, unless one is on its way. Events kept so far existed before
    /// the snapshot is read, so it holds them: only later ones need keeping.
    fn ask_resync(&mut self, effects: &mut Vec<Effect>) {
        if let Some(resync) = &mut self.resync
            && !resync.asked
            && resync.not_before.is_none_or(|at| self.now >= at)
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

    /// Let every layer look at the current state and terminal size again.
    fn recheck_modals(&mut self) {
        let ctx = LayerCtx {
            me: &self.me,
            now: self.now,
            state: &self.state,
            viewport: self.viewport,
        };
        for modal in &mut self.modals {
            modal.recheck(&ctx);
        }
    }

    /// Rebuild both lists, keeping each selection on the same record when it is still listed,
    /// or at the same position when it is not (so deciding a request moves on to the next).
    fn recompute(&mut self) {
        let needle = self.filter.text().to_string();
        if !needle.trim().is_empty() {
            self.search.update(&self.state);
        }
        let queue = queue::rows(
            &self.state,
            &self.search,
            self.now,
            &self.me.name,
            self.status_filter,
            &needle,
            self.sort,
        );
        self.queue.set_rows(queue, self.page(Pane::Queue));
        let exceptions = exceptions::rows(&self.state, &self.search, self.now, &needle);
        self.exceptions
            .set_rows(exceptions, self.page(Pane::Exceptions));
    }

    fn want_history(&mut self, effects: &mut Vec<Effect>) {
        if let Some(id) = self.detail_request()
            && !self.histories.contains_key(&id)
        {
            self.histories.insert(id, History::Loading);
            effects.push(Effect::FetchHistory(id));
        }
    }

    fn paste(&mut self, text: &str) {
        if let Some(modal) = self.modals.last_mut() {
            modal.paste(text);
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
        let action = keymap::lookup(&self.contexts(), &key);
        // The topmost layer has the keys and says what becomes of it.
        if let Some(top) = self.modals.last_mut() {
            let ctx = LayerCtx {
                me: &self.me,
                now: self.now,
                state: &self.state,
                viewport: self.viewport,
            };
            let result = top.handle(action, key, &ctx);
            self.layer_answered(result, effects);
        } else if let Some(report) = &mut self.report {
            match report.handle(action, self.viewport) {
                ReportAnswer::Consumed => {}
                ReportAnswer::Close => self.report = None,
                ReportAnswer::Help => self.act(Action::Help, effects),
            }
        } else if self.filtering {
            self.filter_key(action, key);
        } else if let Some(action) = action {
            self.act(action, effects);
        }
    }

    fn layer_answered(&mut self, result: EventResult, effects: &mut Vec<Effect>) {
        match result {
            EventResult::Consumed => {}
            EventResult::Close(said) => {
                self.modals.pop();
                if let Some((level, text)) = said {
                    self.say(level, text);
                }
            }
            EventResult::Push(modal) => self.modals.push(modal),
            EventResult::Submit(command) => {
                // The confirmation and the form it came from.
                self.modals.pop();
                while matches!(self.modals.last(), Some(Modal::Form(_))) {
                    self.modals.pop();
                }
                self.busy = true;
                self.say(Level::Info, "recording…");
                effects.push(Effect::Execute(command));
            }
        }
    }

    fn filter_key(&mut self, action: Option<Action>, key: KeyEvent) {
        match action {
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
        }
    }

    fn act(&mut self, action: Action, effects: &mut Vec<Effect>) {
        match action {
            Action::Quit => effects.push(Effect::Quit),
            Action::Help => {
                let mut help = Help::default();
                help.clamp(self.viewport);
                self.modals.push(Modal::Help(help));
            }
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
                if self.pane != Pane::Detail {
                    self.detail_follows = self.pane;
                }
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
            Action::Report => {
                self.report = Some(ReportView::new());
                self.message = None;
            }
            Action::Approve
            | Action::Conditional
            | Action::Reject
            | Action::RequestException
            | Action::RecordOutcome
            | Action::ReviewApprove
            | Action::ReviewReject => {
                if let Some(ask) = Ask::of(action) {
                    self.open_form(ask);
                }
            }
            // Keys of the layers' and the filter's contexts never reach here.
            Action::ApplyFilter
            | Action::ClearFilter
            | Action::Submit
            | Action::NextField
            | Action::PrevField
            | Action::AddItem
            | Action::RemoveItem
            | Action::Choose
            | Action::NextPeriod
            | Action::CycleBy
            | Action::Confirm => {}
        }
    }

    fn move_by(&mut self, delta: i64) {
        let page = self.page(self.pane);
        match self.pane {
            Pane::Queue => {
                self.queue.move_by(delta, page);
            }
            Pane::Exceptions => {
                self.exceptions.move_by(delta, page);
            }
            Pane::Detail => {
                self.detail_scroll = (self.detail_scroll as i64 + delta).clamp(0, 10_000) as u16;
            }
        }
    }

    /// Open the form for an action, or say why the user may not take it: the engine's own
    /// rules judge a dry run against the console's state, so the reason is the rule's.
    fn open_form(&mut self, ask: Ask) {
        let verb = ask.verb();
        if let Some(reason) = self.read_only {
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
        let intent = match ask.on(self.detail_request(), self.exceptions.selected()) {
            Ok(intent) => intent,
            Err(missing) => {
                self.say(Level::Warning, missing);
                return;
            }
        };
        if let Err(reason) = intent.judge(&self.state, &self.me, self.now) {
            let mut text = format!("cannot {verb}: {reason}");
            // The pending queue holds no request that could have been deployed.
            if matches!(intent, Intent::RecordOutcome(_))
                && self.status_filter == StatusFilter::Pending
            {
                text.push_str("; f lists decided requests");
            }
            self.say(Level::Warning, text);
            return;
        }
        self.modals
            .push(Modal::Form(Form::new(intent, &self.state)));
    }
}
