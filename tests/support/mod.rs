//! The one harness of every integration test binary (tests/<area>/main.rs), which each
//! includes the same way: `#[path = "../support/mod.rs"] mod support;`. It owns the fixed
//! clock (`NOW`) and the one way to start `cab` ([`Sealed`]); the submodules hold what one area
//! needs: a world for command-line tests (`cli`), stores built through the library (`store`), a
//! `cab serve` child and raw HTTP (`server` for the server's own tests, `remote` for clients of
//! it), and the console in a pseudo-terminal (`pty`).
//!
//! Each binary uses a different subset, so unused helpers are expected.
#![allow(dead_code, unused_imports)]

pub mod cli;
pub mod docs;
pub mod postgres;
pub mod pty;
pub mod receiver;
pub mod remote;
pub mod server;
pub mod store;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// The fixed "now" of every test (of `cab`'s clock, through CAB_NOW), unless a test moves it.
pub const NOW: &str = "2026-11-28T09:00:00Z";

/// The binary under test.
pub const CAB: &str = env!("CARGO_BIN_EXE_cab");

pub fn now() -> DateTime<Utc> {
    parse_time(NOW)
}

/// `NOW` moved by `d`, as RFC 3339 (whole seconds, `Z`).
pub fn now_plus(d: Duration) -> String {
    (now() + d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `NOW` moved by whole days, as RFC 3339.
pub fn now_plus_days(days: i64) -> String {
    now_plus(Duration::days(days))
}

pub fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// The `id` string of a JSON document.
pub fn id_of(v: &Value) -> String {
    str_of(v, "id")
}

pub fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string {key:?} in {v}"))
        .to_string()
}

/// The one builder of a `cab` process, for every test: an empty environment but for what is
/// set here, so nothing of the host (its config file, CAB_* variables, login name, locale,
/// colours, clock, working folder, stdin) reaches the binary.
///
/// By default: HOME and the XDG folders inside the test's folder (so no host config file is
/// read and the default store lands there), CAB_NOW at `NOW`, NO_COLOR, LANG=C.UTF-8, the
/// test's folder as working folder and stdin empty. No identity: `user` sets CAB_USER and
/// CAB_ROLES; without them `cab` falls back to its config file or the account name.
#[derive(Debug, Clone)]
pub struct Sealed {
    dir: PathBuf,
    vars: BTreeMap<OsString, OsString>,
}

impl Sealed {
    /// A `cab` living in `dir`, the test's temporary folder.
    pub fn new(dir: &Path) -> Sealed {
        let home = dir.join("home");
        let vars = [
            ("HOME", home.clone()),
            ("XDG_CONFIG_HOME", home.join("config")),
            ("XDG_DATA_HOME", home.join("data")),
            ("XDG_STATE_HOME", home.join("state")),
            ("XDG_CACHE_HOME", home.join("cache")),
            ("LANG", "C.UTF-8".into()),
            ("NO_COLOR", "1".into()),
            ("CAB_NOW", NOW.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
        Sealed {
            dir: dir.to_path_buf(),
            vars,
        }
    }

    /// The clock fixed at `now` instead of `NOW`.
    pub fn at(self, now: &str) -> Sealed {
        self.env("CAB_NOW", now)
    }

    /// Acting as `name` with `roles` (comma-separated, may be empty).
    pub fn user(self, name: &str, roles: &str) -> Sealed {
        self.env("CAB_USER", name).env("CAB_ROLES", roles)
    }

    /// The store file, through CAB_STORE.
    pub fn store(self, path: &Path) -> Sealed {
        self.env("CAB_STORE", path)
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Sealed {
        self.vars.insert(key.into(), value.as_ref().to_os_string());
        self
    }

    /// Leave `key` unset (NO_COLOR, say, for a console seen in colour).
    pub fn without(mut self, key: &str) -> Sealed {
        self.vars.remove(OsStr::new(key));
        self
    }

    /// The process to run, with no arguments yet.
    pub fn command(&self) -> Command {
        let mut command = Command::new(CAB);
        command
            .env_clear()
            .envs(&self.vars)
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        command
    }

    /// The same process for a pseudo-terminal, with no arguments yet.
    pub fn pty_command(&self) -> portable_pty::CommandBuilder {
        let mut builder = portable_pty::CommandBuilder::new(CAB);
        builder.env_clear();
        for (k, v) in &self.vars {
            builder.env(k, v);
        }
        builder.cwd(&self.dir);
        builder
    }
}

/// A FIFO at `path`: what someone may put where cab expects a store, a config or a cache file.
pub fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.to_str().expect("a UTF-8 path")).expect("no NUL");
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Give store lines (without their `\n`) from line `from` (1-based) on a correct `prev` and
/// `hash` again, as a forger who can write the file and knows the format would after editing.
pub fn rechain_lines(lines: &mut [String], from: usize) {
    for i in from - 1..lines.len() {
        let prev = if i == 0 {
            "0".repeat(64)
        } else {
            let at = lines[i - 1].rfind(",\"hash\":\"").expect("a hash field") + 9;
            lines[i - 1][at..at + 64].to_string()
        };
        let at = lines[i].rfind(",\"prev\":\"").expect("a prev field") + 9;
        let body = format!("{}{}\"", &lines[i][..at], prev);
        let hash = cab::store::line::sha256_hex(body.as_bytes());
        lines[i] = format!("{body},\"hash\":\"{hash}\"}}");
    }
}
