//! Helpers shared by the store's integration tests: running the real `cab` binary with a
//! sealed environment, building fixture stores through the library, and editing store lines
//! byte by byte the way an attacker or a crash would. Test files take it whole:
//! `use crate::support::store::*;`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cab::backend::{Backend, LocalBackend};
use cab::clock::Clock;
use cab::engine::{Actor, Policy, Role, Submission};
use cab::store::FileStore;
use cab::store::line::sha256_hex;

pub use super::{NOW, Sealed, now};

/// A `cab` command on `store` acting as `user` with `roles` (comma-separated), living in the
/// store's nearest existing folder (tests also run `cab` on a store whose folder is not there
/// yet) with nothing from the host's environment that could change what it does.
pub fn cab(store: &Path, user: &str, roles: &str) -> Command {
    let folder = store
        .ancestors()
        .skip(1)
        .find(|p| p.is_dir())
        .expect("the store is somewhere under an existing folder");
    Sealed::new(folder).store(store).user(user, roles).command()
}

/// What one finished `cab` process did.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn from_output(out: Output) -> Ran {
        Ran {
            code: out
                .status
                .code()
                .unwrap_or_else(|| panic!("cab was killed by a signal: {:?}", out.status)),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The one JSON document printed on stdout (`--json`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:?}"))
    }

    pub fn expect_code(&self, code: i32, what: &str) -> &Ran {
        assert_eq!(self.code, code, "{what}: unexpected exit code: {self:#?}");
        self
    }
}

pub fn run(cmd: &mut Command) -> Ran {
    Ran::from_output(cmd.output().expect("cannot start cab"))
}

/// `cab ARGS...` on `store` as `user` with `roles`.
pub fn cab_run(store: &Path, user: &str, roles: &str, args: &[&str]) -> Ran {
    run(cab(store, user, roles).args(args))
}

/// Submit through the binary; returns the request id it acknowledged.
pub fn cab_submit(store: &Path, user: &str, deployment: &str, risk: &str) -> String {
    let ran = cab_run(
        store,
        user,
        "requester",
        &[
            "--json",
            "submit",
            "--deployment",
            deployment,
            "--evidence",
            "EP-1",
            "--risk",
            risk,
        ],
    );
    ran.expect_code(0, "cab submit");
    ran.json()["id"]
        .as_str()
        .expect("a submitted request has an id")
        .to_string()
}

/// A library backend on `store` for `user` with `roles`, on the fixed clock.
pub fn backend(store: &Path, user: &str, roles: &[Role]) -> LocalBackend {
    LocalBackend::new(
        FileStore::new(store),
        Actor::new(user, roles.iter().copied()).expect("a valid actor"),
        Policy::default(),
        Clock::Fixed(now()),
    )
}

pub fn submission(deployment: &str, title: &str, risk: f64) -> Submission {
    Submission {
        deployment_intent_id: deployment.into(),
        evidence_package_id: format!("EP-{deployment}").into(),
        title: Some(title.into()),
        risk_score: risk,
        risk_factors: [("change_size".to_string(), risk / 2.0)]
            .into_iter()
            .collect(),
        correlation_id: None,
    }
}

/// Ids of what `fixture` wrote.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Under review, undecided.
    pub pending: String,
    /// Under review, then approved by carol.
    pub approved: String,
    /// Auto-approved at submission.
    pub auto: String,
    /// Exception required; has an approved exception.
    pub high: String,
    /// The requester of every request.
    pub requester: &'static str,
    pub events: u64,
}

/// A store with every kind of event written by the library, one line each:
/// 1 submit (review), 2 submit (review), 3 decision, 4 submit (auto), 5 submit (high),
/// 6 exception requested, 7 exception reviewed, 8 submit (review).
pub fn fixture(store: &Path) -> Fixture {
    let alice = backend(store, "alice", &[Role::Requester]);
    let carol = backend(store, "carol", &[Role::CabMember]);
    let sam = backend(store, "sam", &[Role::SecurityReviewer]);
    let pending = alice
        .submit(submission("payments-api-r1", "change one", 60.0))
        .expect("submit 1");
    let approved = alice
        .submit(submission("payments-api-r2", "change two", 70.0))
        .expect("submit 2");
    carol
        .decide(
            &approved.request.id.to_string(),
            cab::engine::Verdict::Approve { conditions: vec![] },
            "looks fine",
        )
        .expect("decide 3");
    let auto = alice
        .submit(submission("search-r1", "change four", 20.0))
        .expect("submit 4");
    let high = alice
        .submit(submission("ledger-r1", "change five", 90.0))
        .expect("submit 5");
    let exception = alice
        .request_exception(
            &high.request.id.to_string(),
            "quarter-end freeze fix",
            vec!["extra on-call".to_string()],
            Some(30),
        )
        .expect("exception 6");
    sam.review_exception(
        &exception.exception.id.to_string(),
        cab::engine::Review::Approve,
        "controls are enough",
    )
    .expect("review 7");
    alice
        .submit(submission("billing-r1", "change eight", 65.0))
        .expect("submit 8");
    Fixture {
        pending: pending.request.id.to_string(),
        approved: approved.request.id.to_string(),
        auto: auto.request.id.to_string(),
        high: high.request.id.to_string(),
        requester: "alice",
        events: 8,
    }
}

/// The store's lines, each with its `\n` (a last piece without one is kept as it is).
pub fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Recompute a line's own hash after it was edited, as a forger who knows the format would.
/// `line` may or may not end with `\n`; the result ends with one.
pub fn rehash(line: &[u8]) -> Vec<u8> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let key = b",\"hash\":\"";
    let at = line
        .windows(key.len())
        .rposition(|w| w == key)
        .expect("a line has a hash field");
    let body = &line[..at];
    let mut out = body.to_vec();
    out.extend_from_slice(key);
    out.extend_from_slice(sha256_hex(body).as_bytes());
    out.extend_from_slice(b"\"}\n");
    out
}

/// Replace the first occurrence of `from` in `line` by `to`.
pub fn replace_once(line: &[u8], from: &str, to: &str) -> Vec<u8> {
    let from = from.as_bytes();
    let at = line
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| {
            panic!(
                "{:?} is not in the line {}",
                String::from_utf8_lossy(from),
                String::from_utf8_lossy(line)
            )
        });
    let mut out = line[..at].to_vec();
    out.extend_from_slice(to.as_bytes());
    out.extend_from_slice(&line[at + from.len()..]);
    out
}

/// Every line of the store parsed as JSON (the store must hold complete lines only).
pub fn parsed_lines(path: &Path) -> Vec<serde_json::Value> {
    split_lines(&read(path))
        .iter()
        .map(|l| {
            assert!(l.ends_with(b"\n"), "the store ends with a torn line");
            serde_json::from_slice(l).expect("every line is JSON")
        })
        .collect()
}

/// The ids of every request the store holds, read from its `request_submitted` lines.
pub fn submitted_ids(path: &Path) -> Vec<String> {
    parsed_lines(path)
        .iter()
        .filter(|e| e["type"] == "request_submitted")
        .map(|e| {
            e["data"]["request"]["id"]
                .as_str()
                .expect("a request has an id")
                .to_string()
        })
        .collect()
}

/// Files in a folder, by name.
pub fn dir_entries(dir: &Path) -> BTreeSet<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| {
                e.expect("a readable folder entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// Quarantine files beside `store`.
pub fn quarantine_files(store: &Path) -> Vec<PathBuf> {
    let dir = store.parent().expect("a store has a folder");
    let name = store
        .file_name()
        .expect("a store has a file name")
        .to_string_lossy()
        .into_owned();
    let prefix = format!("{name}.torn-at-");
    let mut found: Vec<PathBuf> = dir_entries(dir)
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .map(|n| dir.join(n))
        .collect();
    found.sort();
    found
}
