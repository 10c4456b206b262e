//! The harness for the end-to-end console tests: the real `cab` binary in a pseudo-terminal of a
//! fixed size, its output fed to a terminal emulator (vt100) by a reader thread, so a test reads
//! the screen a person would see and types keys as a person would. Nothing needs installing.
//!
//! Every wait polls the parsed screen for content, with a generous deadline for a loaded CI
//! machine; no test sleeps and hopes, and none asserts how long anything took. A console still
//! running when its test ends (a failing assertion included) is killed on drop.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, ExitStatus, MasterPty, PtySize, native_pty_system};
use serde_json::Value;
use tempfile::TempDir;

pub use super::{NOW, Sealed, id_of};

/// How long any one thing may take to appear. Generous: CI is a loaded two-core machine, and a
/// wait ends as soon as the screen shows what it waits for.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Keys as the terminal sends them.
pub const ENTER: &str = "\r";
pub const ESC: &str = "\x1b";
pub const TAB: &str = "\t";
pub const CTRL_S: &str = "\x13";

/// "Where is the cursor?" (DSR 6), which a terminal answers; crossterm asks it when ratatui
/// clears the screen.
const CURSOR_QUERY: &[u8] = b"\x1b[6n";

/// A temporary folder with a store (created by the first command that writes it), a home and
/// platform folders inside it, so nothing of the host (config file, CAB_* variables, login
/// name, clock) leaks into a test.
pub struct World {
    dir: TempDir,
    store: PathBuf,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = dir.path().join("store.jsonl");
        World { dir, store }
    }

    pub fn store(&self) -> &Path {
        &self.store
    }

    /// The store's bytes (empty when it does not exist yet).
    pub fn store_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.store).unwrap_or_default()
    }

    /// Every `cab` of this world: in its folder, on its store, as `user` with `roles`, at `now`.
    fn sealed(&self, user: &str, roles: &str, now: &str) -> Sealed {
        Sealed::new(self.dir.path())
            .at(now)
            .store(&self.store)
            .user(user, roles)
    }

    /// `cab ARGS` as a plain command (no terminal) for `user` with `roles`, at `now`.
    pub fn command_at(&self, now: &str, user: &str, roles: &str, args: &[&str]) -> Command {
        let mut command = self.sealed(user, roles, now).command();
        command.args(args);
        command
    }

    pub fn command(&self, user: &str, roles: &str, args: &[&str]) -> Command {
        self.command_at(NOW, user, roles, args)
    }

    /// Run a command that must succeed; its standard output.
    pub fn cab_at(&self, now: &str, user: &str, roles: &str, args: &[&str]) -> String {
        let out = self
            .command_at(now, user, roles, args)
            .output()
            .expect("the cab binary runs");
        check_success(&out, args);
        String::from_utf8(out.stdout).expect("stdout is UTF-8")
    }

    pub fn cab(&self, user: &str, roles: &str, args: &[&str]) -> String {
        self.cab_at(NOW, user, roles, args)
    }

    /// Run with `--json` and parse the document.
    pub fn json_at(&self, now: &str, user: &str, roles: &str, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.cab_at(now, user, roles, &all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    pub fn json(&self, user: &str, roles: &str, args: &[&str]) -> Value {
        self.json_at(NOW, user, roles, args)
    }

    /// Fill the store with the generator's realistic data.
    pub fn demo(&self) {
        self.cab("seeder", "", &["demo", "--requests", "40", "--seed", "3"]);
    }

    /// Submit a request as `user` at `now`; its id.
    pub fn submit_at(&self, now: &str, user: &str, deployment: &str, risk: &str) -> String {
        let doc = self.json_at(
            now,
            user,
            "",
            &[
                "submit",
                "--deployment",
                deployment,
                "--evidence",
                &format!("EP-{deployment}"),
                "--risk",
                risk,
                "--title",
                &format!("Change to {deployment}"),
                "--correlation-id",
                &format!("corr-{deployment}"),
            ],
        );
        id_of(&doc)
    }

    pub fn submit(&self, user: &str, deployment: &str, risk: &str) -> String {
        self.submit_at(NOW, user, deployment, risk)
    }

    /// `cab show ID --json`.
    pub fn show(&self, id: &str) -> Value {
        self.json("auditor", "", &["show", id])
    }

    /// The console (`cab ARGS`) for `user` with `roles`, in a terminal of `cols` x `rows` that
    /// answers queries as terminals do.
    pub fn console(&self, user: &str, roles: &str, args: &[&str], size: (u16, u16)) -> Console {
        self.console_in(Answers::Yes, user, roles, args, size)
    }

    /// As `console`, in a terminal that answers `answers` to queries.
    pub fn console_in(
        &self,
        answers: Answers,
        user: &str,
        roles: &str,
        args: &[&str],
        (cols, rows): (u16, u16),
    ) -> Console {
        // The console as a person's terminal shows it: in colour, with a terminal type.
        let mut builder = self
            .sealed(user, roles, NOW)
            .without("NO_COLOR")
            .env("TERM", "xterm-256color")
            .pty_command();
        builder.args(args);
        Console::spawn(builder, cols, rows, answers)
    }
}

fn check_success(out: &Output, args: &[&str]) {
    assert!(
        out.status.success(),
        "cab {args:?} failed with {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A named condition on the screen's text.
pub type Check<'a> = (&'a str, &'a dyn Fn(&str) -> bool);

/// Whether the emulated terminal answers the console's queries (where is the cursor?), as
/// real terminals do, or never (a terminal or link that does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    Yes,
    Never,
}

/// What the reader thread has seen: the emulated screen and every byte, raw.
struct Term {
    parser: vt100::Parser,
    raw: Vec<u8>,
    /// The pty reported end of file: the console and everything it started are gone.
    eof: bool,
}

/// A running console in a pseudo-terminal.
pub struct Console {
    master: Box<dyn MasterPty + Send>,
    /// Shared with the reader thread, which answers the terminal queries the console sends.
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    child: Box<dyn Child + Send + Sync>,
    term: Arc<(Mutex<Term>, Condvar)>,
    exit: Option<ExitStatus>,
}

fn size(cols: u16, rows: u16) -> (NonZeroU16, NonZeroU16) {
    (
        NonZeroU16::new(rows).expect("rows > 0"),
        NonZeroU16::new(cols).expect("cols > 0"),
    )
}

impl Console {
    fn spawn(builder: CommandBuilder, cols: u16, rows: u16, answers: Answers) -> Console {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pseudo-terminal");
        let child = pair
            .slave
            .spawn_command(builder)
            .expect("cab starts in the pseudo-terminal");
        // Only the child holds the terminal's side now: when it exits, reads see end of file.
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("a pty reader");
        let writer = pair.master.take_writer().expect("a pty writer");
        let (r, c) = size(cols, rows);
        let term = Arc::new((
            Mutex::new(Term {
                parser: vt100::Parser::new(r, c, 0),
                raw: Vec::new(),
                eof: false,
            }),
            Condvar::new(),
        ));
        let writer = Arc::new(Mutex::new(writer));
        let shared = Arc::clone(&term);
        let answer_to = Arc::clone(&writer);
        thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                let n = reader.read(&mut buf).unwrap_or(0);
                let (lock, changed) = &*shared;
                let mut t = lock.lock().unwrap_or_else(|e| e.into_inner());
                if n == 0 {
                    t.eof = true;
                    changed.notify_all();
                    return;
                }
                // A query may be split across reads: look again at the last few bytes.
                let from = t.raw.len().saturating_sub(CURSOR_QUERY.len() - 1);
                t.parser.process(&buf[..n]);
                t.raw.extend_from_slice(&buf[..n]);
                let queries = t.raw[from..]
                    .windows(CURSOR_QUERY.len())
                    .filter(|w| *w == CURSOR_QUERY)
                    .count();
                if queries > 0 && answers == Answers::Yes {
                    // Answer as a terminal does: "ESC [ row ; col R", one-based.
                    let (row, col) = t.parser.screen().cursor_position();
                    let answer = format!("\x1b[{};{}R", row + 1, col + 1).repeat(queries);
                    let mut w = answer_to.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = w.write_all(answer.as_bytes()).and_then(|()| w.flush());
                }
                changed.notify_all();
            }
        });
        Console {
            master: pair.master,
            writer,
            child,
            term,
            exit: None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Term> {
        self.term.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The screen as text: one line per row, trailing blanks trimmed.
    pub fn screen(&self) -> String {
        screen_of(&self.lock())
    }

    /// Every byte the console has written so far.
    pub fn raw(&self) -> Vec<u8> {
        self.lock().raw.clone()
    }

    pub fn pid(&self) -> i32 {
        self.child
            .process_id()
            .expect("the console has a process id") as i32
    }

    /// Type keys (text, or the constants above).
    pub fn send(&self, keys: &str) {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        w.write_all(keys.as_bytes())
            .and_then(|()| w.flush())
            .expect("the console's terminal takes input");
    }

    /// Wait until the screen satisfies `ok`; the screen then. `what` names it for the failure.
    pub fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        self.wait_for_checks(&[(what, &ok)])
    }

    /// Wait until every check holds on one screen; the screen then. Each check is named, and a
    /// failure lists those that did not hold. Since a frame may reach the terminal in several
    /// writes, everything a test asserts about one screen belongs in one wait.
    pub fn wait_for_checks(&self, checks: &[Check<'_>]) -> String {
        let all = |s: &str| checks.iter().all(|(_, ok)| ok(s));
        let deadline = Instant::now() + TIMEOUT;
        let (lock, changed) = &*self.term;
        let mut t = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let screen = screen_of(&t);
            if all(&screen) {
                return screen;
            }
            let now = Instant::now();
            if t.eof || now >= deadline {
                let failed: Vec<&str> = checks
                    .iter()
                    .filter(|(_, ok)| !ok(&screen))
                    .map(|(name, _)| *name)
                    .collect();
                let why = if t.eof {
                    "the console exited"
                } else {
                    "timed out"
                };
                panic!("{why}; still not true: {failed:#?}\nthe screen:\n{screen}");
            }
            t = changed
                .wait_timeout(t, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Wait until `text` is on the screen; the screen then.
    pub fn wait_for(&self, text: &str) -> String {
        self.wait_until(&format!("{text:?}"), |s| s.contains(text))
    }

    /// Wait until every one of `texts` is on the screen at once.
    pub fn wait_for_all(&self, texts: &[&str]) -> String {
        self.wait_until(&format!("all of {texts:?}"), |s| {
            texts.iter().all(|t| s.contains(t))
        })
    }

    /// Wait until `text` is no longer on the screen.
    pub fn wait_gone(&self, text: &str) -> String {
        self.wait_until(&format!("{text:?} to go"), |s| !s.contains(text))
    }

    /// Change the terminal's size, as a person resizing the window: the emulator first, then
    /// the pty, which tells the console (SIGWINCH).
    pub fn resize(&mut self, cols: u16, rows: u16) {
        let (r, c) = size(cols, rows);
        self.lock().parser.set_size(r, c);
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("the pty resizes");
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.exit.is_none()
            && match self.child.try_wait().expect("the console's status") {
                Some(status) => {
                    self.exit = Some(status);
                    false
                }
                None => true,
            }
    }

    /// Wait for the console to exit by itself and for all its output to be read; its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        while self.running() {
            if Instant::now() >= deadline {
                panic!("the console did not exit; the screen:\n{}", self.screen());
            }
            // Waiting for the process itself: nothing on the screen says it is gone.
            thread::sleep(Duration::from_millis(20));
        }
        let (lock, changed) = &*self.term;
        let mut t = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !t.eof {
            let now = Instant::now();
            assert!(
                now < deadline,
                "the console exited but its terminal never reported end of output"
            );
            t = changed
                .wait_timeout(t, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        self.exit.clone().expect("an exit status")
    }

    /// The terminal's line discipline flags (`c_lflag`) as the console left them.
    pub fn local_flags(&self) -> libc::tcflag_t {
        let fd = self.master.as_raw_fd().expect("a pty file descriptor");
        // SAFETY: a zeroed termios is a valid out-parameter; fd is the open pty master.
        let mut termios: libc::termios = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::tcgetattr(fd, &mut termios) };
        assert_eq!(rc, 0, "tcgetattr: {}", std::io::Error::last_os_error());
        termios.c_lflag
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn screen_of(t: &Term) -> String {
    let (_, cols) = t.parser.screen().size();
    t.parser
        .screen()
        .rows(0, cols.get())
        .map(|row| row.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines of `screen` that contain every one of `words`.
pub fn lines_with<'a>(screen: &'a str, words: &[&str]) -> Vec<&'a str> {
    screen
        .lines()
        .filter(|l| words.iter().all(|w| l.contains(w)))
        .collect()
}

/// The position of the last occurrence of `needle` in `hay`.
pub fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}
