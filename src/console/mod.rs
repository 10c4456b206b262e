//! The review console: a full-screen terminal application over any [`Backend`].
//!
//! The runtime here is the imperative shell around the model (`app`), the view (`view`) and the
//! keymap: it owns the terminal (restored on every exit, panics and signals included) and three
//! threads (keyboard input; following the backend's events; performing the backend calls the
//! model asks for), all feeding one channel of messages into `App::update`.

pub mod app;
pub mod dialogs;
pub mod input;
pub mod intent;
pub mod keymap;
pub mod layout;
pub mod panes;
pub mod search;
pub mod theme;
pub mod view;

#[cfg(test)]
mod tests;

use std::io::{self, Stdout, stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossterm::event::{self, DisableBracketedPaste, EnableBracketedPaste, Event};
use crossterm::execute;
use crossterm::terminal::{Clear, ClearType};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use thiserror::Error;

use crate::backend::{Backend, BackendError};
use crate::clock::Clock;
use crate::engine::{Command, short_id};
use app::{App, Effect, Msg};
pub use theme::Theme;

#[derive(Debug, Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("the terminal failed: {0}")]
    Terminal(#[from] io::Error),
}

pub struct Options {
    pub read_only: bool,
    /// Why the console is read-only, for the message an action key shows.
    pub read_only_reason: &'static str,
    pub theme: Theme,
    pub clock: Clock,
    /// Opened as of this moment (`--at`): the status bar says so.
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
}

/// How often the clock moves the screen on (ages, countdowns), and how long a signal may wait.
const TICK: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(200);
/// How long one request for new events may wait on the backend: a long-poll that answers as
/// soon as something is written, so the wait only bounds how often an idle console asks.
const FOLLOW_WAIT: Duration = Duration::from_secs(10);

/// Set once a frame with a preview is on the screen: the follower waits for it before it reads
/// the whole state, which takes every core and would hold that very frame back.
#[derive(Default)]
struct Shown {
    done: Mutex<bool>,
    cond: Condvar,
}

impl Shown {
    fn set(&self) {
        *self.done.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cond.notify_all();
    }

    /// Wait until [`Self::set`], or at most `most` (a terminal that cannot be drawn on).
    fn wait(&self, most: Duration) {
        let done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.cond.wait_timeout_while(done, most, |done| !*done);
    }
}

/// Raw mode and the alternate screen for as long as it lives; restored when it drops,
/// whichever way the console ends. ratatui's panic hook restores them on a panic.
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    fn enter() -> io::Result<Self> {
        let terminal = ratatui::try_init()?;
        // ratatui's hook restores the terminal and prints the panic. A panic on any of the
        // console's threads then ends the process, so nothing goes on drawing onto a terminal
        // that is no longer in raw mode.
        let restore_and_report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_and_report(info);
            let _ = execute!(stdout(), DisableBracketedPaste, crossterm::cursor::Show);
            std::process::exit(101);
        }));
        let screen = Screen { terminal };
        // Clear without `Terminal::clear`, which asks the terminal where its cursor is and
        // fails after two seconds when no answer comes (a slow link, a terminal that does not
        // answer): the first frame is drawn whole onto the cleared screen either way.
        execute!(stdout(), EnableBracketedPaste, Clear(ClearType::All))?;
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(stdout(), DisableBracketedPaste);
        ratatui::restore();
        let _ = self.terminal.show_cursor();
    }
}

/// Run the console until the user quits.
pub fn run(backend: Arc<dyn Backend>, options: Options) -> Result<(), ConsoleError> {
    let me = backend.whoami()?;
    let mut app = App::new(
        me,
        backend.location(),
        options.read_only,
        options.clock.now(),
        options.theme,
    );
    app.read_only_because(options.read_only_reason);
    if let Some(at) = options.as_of {
        app.show_as_of(at);
    }

    // SIGTERM, SIGHUP and SIGINT end the console cleanly, terminal restored.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }

    let mut screen = Screen::enter()?;
    let (tx, rx) = mpsc::channel::<Msg>();
    spawn_input(tx.clone());
    let shown = Arc::new(Shown::default());
    spawn_follower(Arc::clone(&backend), tx.clone(), Arc::clone(&shown));
    let effects = spawn_worker(Arc::clone(&backend), tx);

    let size = screen.terminal.size()?;
    app.update(Msg::Resize(size.width, size.height));
    screen.terminal.draw(|f| view::view(&app, f))?;
    event_loop(
        &mut screen,
        &mut app,
        &rx,
        &effects,
        &options.clock,
        &stop,
        &shown,
    )
}

fn event_loop(
    screen: &mut Screen,
    app: &mut App,
    rx: &Receiver<Msg>,
    effects: &Sender<Effect>,
    clock: &Clock,
    stop: &AtomicBool,
    shown: &Shown,
) -> Result<(), ConsoleError> {
    let mut last_tick = Instant::now();
    loop {
        let mut batch = Vec::new();
        match rx.recv_timeout(POLL) {
            Ok(msg) => batch.push(msg),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        // Whatever else is waiting goes into the same frame.
        batch.extend(rx.try_iter());
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            batch.push(Msg::Tick(clock.now()));
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        if batch.is_empty() {
            continue;
        }
        for msg in batch {
            for effect in app.update(msg) {
                if effect == Effect::Quit {
                    return Ok(());
                }
                // The worker lives as long as the console; a send cannot fail before we return.
                let _ = effects.send(effect);
            }
        }
        screen.terminal.draw(|f| view::view(app, f))?;
        if app.previewing() {
            shown.set();
        }
    }
}

fn spawn_input(tx: Sender<Msg>) {
    thread::spawn(move || {
        loop {
            let msg = match event::read() {
                Ok(Event::Key(key)) => Msg::Key(key),
                Ok(Event::Paste(text)) => Msg::Paste(text),
                Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
                Ok(_) => continue,
                Err(_) => break,
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
    });
}

/// Load the state, then follow new events: the screen shows another process's or user's change
/// within about a second.
fn spawn_follower(backend: Arc<dyn Backend>, tx: Sender<Msg>, shown: Arc<Shown>) {
    thread::spawn(move || {
        // The open requests first, when they come much sooner than the whole state; drawn
        // before the whole state is read.
        if let Some(state) = backend.preview() {
            if tx.send(Msg::Preview(Box::new(state))).is_err() {
                return;
            }
            shown.wait(Duration::from_secs(2));
        }
        let mut head = loop {
            match backend.snapshot() {
                Ok(snapshot) => {
                    notices(backend.as_ref(), &tx);
                    let head = snapshot.head;
                    if tx
                        .send(Msg::Snapshot {
                            state: Box::new(snapshot.state),
                            head,
                            head_hash: snapshot.head_hash,
                        })
                        .is_err()
                    {
                        return;
                    }
                    break head;
                }
                Err(e) => {
                    if tx.send(Msg::SyncFailed(e.to_string())).is_err() {
                        return;
                    }
                    thread::sleep(TICK);
                }
            }
        };
        loop {
            let sent = match backend.events(head, FOLLOW_WAIT) {
                Ok(page) => {
                    // A backend that holds fewer events than followed is another store: follow
                    // it from its own head (the model loads a fresh snapshot meanwhile).
                    head = page.events.last().map_or(head.min(page.head), |e| e.seq);
                    notices(backend.as_ref(), &tx);
                    tx.send(Msg::Events(page))
                }
                Err(e) => {
                    let sent = tx.send(Msg::SyncFailed(e.to_string()));
                    thread::sleep(TICK);
                    sent
                }
            };
            if sent.is_err() {
                return;
            }
        }
    });
}

fn notices(backend: &dyn Backend, tx: &Sender<Msg>) {
    for n in backend.take_notices() {
        let _ = tx.send(Msg::Done(Err(n)));
    }
}

/// Perform the backend calls the model asks for, one at a time, and report each result.
fn spawn_worker(backend: Arc<dyn Backend>, tx: Sender<Msg>) -> Sender<Effect> {
    let (effects, requests) = mpsc::channel::<Effect>();
    thread::spawn(move || {
        for effect in requests {
            let msg = match effect {
                Effect::FetchHistory(id) => Msg::History(
                    id,
                    backend
                        .request(&id.to_string())
                        .map(|d| d.history)
                        .map_err(|e| e.to_string()),
                ),
                Effect::Execute(command) => Msg::Done(execute(backend.as_ref(), command)),
                Effect::Resync => match backend.snapshot() {
                    Ok(snapshot) => Msg::Snapshot {
                        state: Box::new(snapshot.state),
                        head: snapshot.head,
                        head_hash: snapshot.head_hash,
                    },
                    Err(e) => Msg::ResyncFailed(e.to_string()),
                },
                Effect::Report { ticket, query } => Msg::Report {
                    ticket,
                    result: backend
                        .report(query)
                        .map(Box::new)
                        .map_err(|e| e.to_string()),
                },
                Effect::Quit => continue,
            };
            notices(backend.as_ref(), &tx);
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
    effects
}

/// Record one command through the backend; the sentence to show either way.
fn execute(backend: &dyn Backend, command: Command) -> Result<String, String> {
    match command {
        Command::Decide {
            request_id,
            verdict,
            rationale,
        } => backend
            .decide(&request_id.to_string(), verdict, &rationale)
            .map(|view| {
                let d = view.decision.as_ref();
                format!(
                    "recorded: request {} ({}) {}",
                    short_id(&request_id),
                    view.request.deployment_intent_id,
                    d.map_or("decided".to_string(), |d| d.decision.to_string())
                )
            }),
        Command::RequestException {
            request_id,
            justification,
            compensating_controls,
            expiry_days,
        } => backend
            .request_exception(
                &request_id.to_string(),
                &justification,
                compensating_controls,
                expiry_days,
            )
            .map(|view| {
                format!(
                    "recorded: exception {} requested for {} until {}; a security reviewer must approve it",
                    view.exception.short_id(),
                    view.exception.deployment_intent_id,
                    crate::engine::time::format_secs(view.exception.expires_at)
                )
            }),
        Command::ReviewException {
            exception_id,
            review,
            rationale,
        } => backend
            .review_exception(&exception_id.to_string(), review, &rationale)
            .map(|view| {
                format!(
                    "recorded: exception {} {} ({})",
                    short_id(&exception_id),
                    view.exception.status,
                    view.exception.deployment_intent_id
                )
            }),
        Command::Submit(submission) => backend.submit(submission).map(|view| {
            format!(
                "recorded: request {} ({}) submitted",
                view.request.short_id(),
                view.request.deployment_intent_id
            )
        }),
        Command::Cleanup => backend
            .cleanup()
            .map(|report| format!("recorded: {} expiries", report.recorded)),
        Command::RecordOutcome {
            request_id,
            result,
            incident,
            note,
        } => backend
            .record_outcome(
                &request_id.to_string(),
                result,
                incident.as_deref(),
                note.as_deref(),
            )
            .map(|outcome| {
                format!(
                    "recorded: outcome {} for request {} ({})",
                    result,
                    short_id(&outcome.request_id),
                    outcome.deployment_intent_id
                )
            }),
    }
    .map_err(|e| format!("not recorded: {e}"))
}
