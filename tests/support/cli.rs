//! The harness for the command-line tests: a `Cab` with its own temporary store, a fixed clock
//! and an identity per call, so nothing of the host (its config file, its CAB_* variables, its
//! login name, the real clock) can leak into a test. Test files take it whole:
//! `use crate::support::cli::*;`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use uuid::Uuid;

pub use super::{NOW, Sealed, id_of, now, now_plus, parse_time, str_of};

/// A temporary world for one test: a folder holding the store (not created until cab writes
/// it) and, when a test wants them, config files.
pub struct Cab {
    dir: TempDir,
    store: PathBuf,
}

impl Default for Cab {
    fn default() -> Self {
        Self::new()
    }
}

impl Cab {
    pub fn new() -> Cab {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = dir.path().join("data").join("store.jsonl");
        Cab { dir, store }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn store(&self) -> &Path {
        &self.store
    }

    /// The store's bytes, or None when the file does not exist.
    pub fn store_bytes(&self) -> Option<Vec<u8>> {
        std::fs::read(&self.store).ok()
    }

    pub fn write_store(&self, bytes: &[u8]) {
        std::fs::create_dir_all(self.store.parent().unwrap()).unwrap();
        std::fs::write(&self.store, bytes).unwrap();
    }

    /// Write a file in the test's folder; its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A command as user `alice` with no roles beyond requester, at `NOW`.
    pub fn cmd<I, S>(&self, args: I) -> Call
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Sealed::new(self.dir.path())
            .store(&self.store)
            .user("alice", "")
            .command();
        command.args(args);
        Call { command }
    }

    /// Run as `user` with `roles` (comma-separated); the result, whatever it is.
    pub fn run(&self, user: &str, roles: &str, args: &[&str]) -> Run {
        self.cmd(args).user(user, roles).run()
    }

    /// Run with `--json` and expect exit 0; the parsed document.
    pub fn json(&self, user: &str, roles: &str, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.run(user, roles, &all).success().json()
    }

    /// Submit as `user`; the request as JSON.
    pub fn submit(&self, user: &str, deployment: &str, risk: &str) -> Value {
        self.json(
            user,
            "",
            &[
                "submit",
                "--deployment",
                deployment,
                "--evidence",
                "EP-1",
                "--risk",
                risk,
            ],
        )
    }

    /// Submit and return the request id.
    pub fn submit_id(&self, user: &str, deployment: &str, risk: &str) -> String {
        id_of(&self.submit(user, deployment, risk))
    }

    /// Request an exception as `user` for a request; the exception id.
    pub fn exception(&self, user: &str, request_id: &str, days: Option<&str>) -> String {
        let mut args = vec![
            "exception",
            "create",
            request_id,
            "--justification",
            "hotfix for an outage",
            "--control",
            "extra monitoring",
        ];
        if let Some(d) = days {
            args.extend_from_slice(&["--days", d]);
        }
        id_of(&self.json(user, "", &args))
    }

    /// A request for `deployment` from bob that needs an exception, with an exception from bob;
    /// (request id, exception id).
    pub fn pending_exception(&self, deployment: &str, days: Option<&str>) -> (String, String) {
        let request = self.submit_id("bob", deployment, "90");
        let exception = self.exception("bob", &request, days);
        (request, exception)
    }

    /// As `pending_exception`, approved by sam the security reviewer.
    pub fn active_exception(&self, deployment: &str, days: Option<&str>) -> (String, String) {
        let (request, exception) = self.pending_exception(deployment, days);
        self.json(
            "sam",
            "security_reviewer",
            &[
                "exception",
                "approve",
                &exception,
                "--rationale",
                "controls suffice",
            ],
        );
        (request, exception)
    }

    /// Run a command that must fail, once as text and once with `--json`, and check the whole
    /// error contract: the exit code, one `cab: ` line on stderr, nothing on stdout (text) or
    /// the error document (JSON), and a store left byte for byte as it was (or not created).
    /// Returns the JSON error's `code` and `message`.
    pub fn fails(&self, code: i32, user: &str, roles: &str, args: &[&str]) -> Failure {
        self.fails_call(code, || self.cmd(args).user(user, roles))
    }

    /// As `fails`, for a call the test has prepared (extra environment, say).
    pub fn fails_call(&self, code: i32, call: impl Fn() -> Call) -> Failure {
        let before = self.store_bytes();

        let text = call().run();
        text.assert_code(code);
        let line = text.error_line();
        assert!(
            text.stdout.is_empty(),
            "a failed command printed to stdout:\n{}",
            text.stdout
        );
        assert_eq!(
            self.store_bytes(),
            before,
            "the failed command changed the store"
        );

        let json = call().arg("--json").run();
        json.assert_code(code);
        let json_line = json.error_line();
        let doc = json.json();
        let error = doc
            .get("error")
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("no error object in {doc}"));
        let code_str = error
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no error.code string in {doc}"))
            .to_string();
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no error.message string in {doc}"))
            .to_string();
        assert!(!code_str.is_empty() && !message.is_empty(), "{doc}");
        assert_eq!(line, json_line, "text and JSON runs said different things");
        assert_eq!(
            self.store_bytes(),
            before,
            "the failed command changed the store"
        );
        Failure {
            code: code_str,
            message,
            line,
        }
    }

    /// Rewrite the store's text (same-length replacements keep it simple) and recompute the hash
    /// chain as docs/store-format.md describes, so the result is a valid store.
    pub fn rewrite_store(&self, replace: &[(&str, &str)]) {
        let mut text = String::from_utf8(self.store_bytes().expect("a store")).unwrap();
        for (from, to) in replace {
            assert!(text.contains(from), "{from:?} is not in the store");
            text = text.replace(from, to);
        }
        self.write_store(rechain(&text).as_bytes());
    }
}

/// Recompute `prev` and `hash` of every line of a store.
pub fn rechain(text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    super::rechain_lines(&mut lines, 1);
    lines.iter().map(|l| format!("{l}\n")).collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct Call {
    command: Command,
}

impl Call {
    pub fn user(mut self, name: &str, roles: &str) -> Self {
        self.command.env("CAB_USER", name).env("CAB_ROLES", roles);
        self
    }

    /// Neither CAB_USER nor CAB_ROLES: identity comes from the config file (or the login name).
    pub fn no_identity(mut self) -> Self {
        self.command.env_remove("CAB_USER").env_remove("CAB_ROLES");
        self
    }

    pub fn at(mut self, now: &str) -> Self {
        self.command.env("CAB_NOW", now);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.command.env_remove(key);
        self
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    /// The process itself, for a test that spawns it and watches it.
    pub fn into_command(self) -> Command {
        self.command
    }

    pub fn run(mut self) -> Run {
        let out = self.command.output().expect("the cab binary runs");
        Run {
            code: out
                .status
                .code()
                .expect("cab exits with a code, not a signal"),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code {} instead of {code}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    pub fn success(self) -> Self {
        self.assert_code(0);
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }

    /// The one error line on stderr, which starts with "cab: ".
    pub fn error_line(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr is not one line:\n{}", self.stderr);
        assert!(
            lines[0].starts_with("cab: ") && lines[0].len() > "cab: ".len(),
            "stderr does not start with \"cab: \": {}",
            self.stderr
        );
        assert!(self.stderr.ends_with('\n'), "stderr is not a whole line");
        lines[0].to_string()
    }
}

#[derive(Debug)]
pub struct Failure {
    /// `error.code` of the JSON document.
    pub code: String,
    pub message: String,
    /// The stderr line, "cab: ..." included.
    pub line: String,
}

pub fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

pub const REQUEST_FIELDS: [&str; 12] = [
    "id",
    "deployment_intent_id",
    "evidence_package_id",
    "title",
    "risk_score",
    "risk_factors",
    "gate",
    "thresholds",
    "status",
    "requested_by",
    "correlation_id",
    "submitted_at",
];

pub const DECISION_FIELDS: [&str; 8] = [
    "id",
    "request_id",
    "decision",
    "approver",
    "rationale",
    "conditions",
    "decided_at",
    "correlation_id",
];

pub const EXCEPTION_FIELDS: [&str; 14] = [
    "id",
    "request_id",
    "deployment_intent_id",
    "justification",
    "compensating_controls",
    "requested_by",
    "requested_at",
    "expires_at",
    "status",
    "reviewed_by",
    "reviewed_at",
    "review_rationale",
    "is_active",
    "is_expired",
];

pub const OUTCOME_FIELDS: [&str; 8] = [
    "id",
    "request_id",
    "deployment_intent_id",
    "result",
    "incident",
    "note",
    "recorded_by",
    "recorded_at",
];

/// A request view: exactly the fields of SPEC section 1 plus `decision` and `exceptions` (and
/// `history` for `cab show`), each decision and exception of its own exact shape. (An outcome
/// is in the history, not a field of its own: the contract fixes these fields.)
pub fn assert_request_shape(v: &Value, with_history: bool) {
    let mut expected: Vec<&str> = REQUEST_FIELDS.to_vec();
    expected.extend(["decision", "exceptions"]);
    if with_history {
        expected.push("history");
    }
    assert_eq!(keys(v), sorted(&expected), "request fields of {v}");
    assert_uuid_v4(&v["id"]);
    assert_utc(&v["submitted_at"]);
    assert!(v["risk_score"].is_number(), "{v}");
    assert!(v["risk_factors"].is_object(), "{v}");
    assert!(v["title"].is_string() || v["title"].is_null(), "{v}");
    assert_eq!(
        keys(&v["thresholds"]),
        sorted(&["auto_approve_max", "manual_review_max"])
    );
    let status = v["status"].as_str().unwrap();
    assert!(
        [
            "auto_approved",
            "under_review",
            "approved",
            "conditional",
            "rejected",
            "exception_required"
        ]
        .contains(&status),
        "{status}"
    );
    let gate = v["gate"].as_str().unwrap();
    assert!(
        ["auto_approved", "manual_review", "exception_required"].contains(&gate),
        "{gate}"
    );
    match &v["decision"] {
        Value::Null => {}
        d => assert_decision_shape(d),
    }
    for e in v["exceptions"].as_array().expect("exceptions is a list") {
        assert_exception_shape(e);
    }
}

pub fn assert_outcome_shape(o: &Value) {
    assert_eq!(keys(o), sorted(&OUTCOME_FIELDS), "outcome fields of {o}");
    assert_uuid_v4(&o["id"]);
    assert_uuid_v4(&o["request_id"]);
    assert_utc(&o["recorded_at"]);
    assert!(
        ["success", "failure", "rolled_back"].contains(&o["result"].as_str().unwrap()),
        "{o}"
    );
    for optional in ["incident", "note"] {
        assert!(o[optional].is_string() || o[optional].is_null(), "{o}");
    }
}

pub fn assert_decision_shape(d: &Value) {
    assert_eq!(keys(d), sorted(&DECISION_FIELDS), "decision fields of {d}");
    assert_uuid_v4(&d["id"]);
    assert_uuid_v4(&d["request_id"]);
    assert_utc(&d["decided_at"]);
    assert!(d["conditions"].is_array());
    assert!(
        ["auto_approved", "approved", "conditional", "rejected"]
            .contains(&d["decision"].as_str().unwrap()),
        "{d}"
    );
}

pub fn assert_exception_shape(e: &Value) {
    assert_eq!(
        keys(e),
        sorted(&EXCEPTION_FIELDS),
        "exception fields of {e}"
    );
    assert_uuid_v4(&e["id"]);
    assert_uuid_v4(&e["request_id"]);
    assert_utc(&e["requested_at"]);
    assert_utc(&e["expires_at"]);
    if !e["reviewed_at"].is_null() {
        assert_utc(&e["reviewed_at"]);
    }
    assert!(e["is_active"].is_boolean() && e["is_expired"].is_boolean());
    assert!(
        ["pending", "approved", "rejected", "expired"].contains(&e["status"].as_str().unwrap()),
        "{e}"
    );
}

pub fn assert_uuid_v4(v: &Value) {
    let text = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    let id = Uuid::parse_str(text).unwrap_or_else(|e| panic!("{text:?} is not a UUID: {e}"));
    assert_eq!(id.get_version_num(), 4, "{text} is not a UUID v4");
    assert_eq!(
        id.hyphenated().to_string(),
        text,
        "{text} is not in canonical form"
    );
}

/// An RFC 3339 time in UTC, written with `Z`.
pub fn assert_utc(v: &Value) {
    let text = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    parse_time(text);
    assert!(text.ends_with('Z'), "{text} is not written in UTC");
}

/// A character that must never reach a terminal raw: a control character other than the line
/// feed, or a bidirectional, zero-width or other invisible format character.
pub fn is_unsafe_for_terminal(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
        )
}

pub fn assert_terminal_safe(what: &str, text: &str) {
    if let Some((i, c)) = text
        .char_indices()
        .find(|(_, c)| is_unsafe_for_terminal(*c))
    {
        panic!(
            "{what} writes {c:?} (U+{:04X}) at byte {i}:\n{}",
            c as u32,
            text.escape_debug()
        );
    }
}
