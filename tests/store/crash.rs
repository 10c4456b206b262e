//! kill -9 in the middle of a stream of writes loses no acknowledged event: an event is
//! acknowledged only after it is written whole and synced, so whatever a killed writer
//! acknowledged is in the store, the store verifies, and a torn tail left by a crash is
//! quarantined by the next writer.
//!
//! The long-lived writer is this test binary itself, re-executed with an environment variable
//! that turns the test into a loop of `LocalBackend::submit` calls printing each acknowledged
//! id; no test-only code is needed in `cab`.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use cab::backend::Backend;
use cab::engine::Role;
use cab::store::FileStore;

use crate::support::store::*;

/// Set in a re-executed child: the store its writer loop appends to.
const WRITER_STORE: &str = "CAB_STORE_TEST_CRASH_WRITER_STORE";
/// Set in a re-executed child: the user it writes as.
const WRITER_USER: &str = "CAB_STORE_TEST_CRASH_WRITER_USER";
/// The test that re-executes itself as the writer.
const WRITER_TEST: &str = "kill_9_during_a_stream_of_writes_loses_no_acknowledged_event";

/// The writer test's full name in this binary (its module path, then its name), as
/// `--exact` wants it.
fn writer_test_path() -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    format!("{module}::{WRITER_TEST}")
}
/// A child stops on its own after this many writes, in case its parent is gone.
const WRITER_MAX: usize = 5_000;

/// A small deterministic generator; the seed is printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn from_env_or_clock() -> Rng {
        let seed = std::env::var("CAB_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
                    ^ u64::from(std::process::id())
            });
        eprintln!("random moments from CAB_TEST_SEED={seed}");
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// The child's side: submit forever, print `ACK <id>` after each submit returned (so after its
/// fsync), and `NOTE <text>` for what the backend tells the user.
fn writer_loop(store: &Path, user: &str) {
    let backend = backend(store, user, &[Role::Requester]);
    let mut out = std::io::stdout().lock();
    // The test harness may have printed "test NAME ... " without a newline: start afresh.
    writeln!(out).expect("stdout");
    for i in 0..WRITER_MAX {
        // Both sides of the auto-approve threshold: one event each, of different sizes.
        let risk = if i % 2 == 0 { 30.0 } else { 60.0 };
        let view = backend
            .submit(submission(&format!("{user}-r{i}"), "stream", risk))
            .unwrap_or_else(|e| panic!("the writer could not submit: {e}"));
        for note in backend.take_notices() {
            writeln!(out, "NOTE {note}").expect("stdout");
        }
        writeln!(out, "ACK {}", view.request.id).expect("stdout");
        out.flush().expect("stdout");
    }
}

/// What one killed writer acknowledged and said.
struct Killed {
    acks: Vec<String>,
    notes: Vec<String>,
}

/// Start a writer child, let it acknowledge `acks_before_kill` events, wait `delay` more, then
/// SIGKILL it; everything it printed in whole lines before dying counts.
fn run_and_kill(store: &Path, user: &str, acks_before_kill: u64, delay: Duration) -> Killed {
    let log = store.with_file_name(format!("{user}.stderr"));
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            writer_test_path().as_str(),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_STORE, store)
        .env(WRITER_USER, user)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("a log file"))
        .spawn()
        .expect("cannot re-execute the test binary");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut acks = Vec::new();
    let mut notes = Vec::new();
    let mut killed = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = stdout.read_until(b'\n', &mut line).expect("read the child");
        if n == 0 {
            break;
        }
        // A line cut off by the kill proves nothing either way.
        let Some(text) = line.strip_suffix(b"\n") else {
            break;
        };
        let text = String::from_utf8_lossy(text);
        if let Some(id) = text.strip_prefix("ACK ") {
            acks.push(id.to_string());
        } else if let Some(note) = text.strip_prefix("NOTE ") {
            notes.push(note.to_string());
        }
        if !killed && acks.len() as u64 >= acks_before_kill {
            thread::sleep(delay);
            child.kill().expect("SIGKILL the writer");
            killed = true;
            // Keep reading: whatever it printed before it died was acknowledged.
        }
    }
    let status = child.wait().expect("reap the writer");
    assert_eq!(
        status.signal(),
        Some(9),
        "writer {user} should have been killed by SIGKILL after {acks_before_kill} acknowledgements, \
         but it ended with {status:?} after {}; its stderr:\n{}",
        acks.len(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    Killed { acks, notes }
}

#[test]
fn kill_9_during_a_stream_of_writes_loses_no_acknowledged_event() {
    if let Some(store) = std::env::var_os(WRITER_STORE) {
        let user = std::env::var(WRITER_USER).unwrap_or_else(|_| "writer".into());
        writer_loop(Path::new(&store), &user);
        return;
    }

    const ROUNDS: usize = 12;
    const WRITERS: usize = 2;
    let mut rng = Rng::from_env_or_clock();
    let dir = tempfile::tempdir().expect("a temp folder");
    let store = dir.path().join("store.jsonl");
    let mut acknowledged: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    // (offset, bytes) of each torn tail a simulated power loss left behind.
    let mut injected: Vec<(usize, Vec<u8>)> = Vec::new();

    for round in 0..ROUNDS {
        let plans: Vec<(String, u64, Duration)> = (0..WRITERS)
            .map(|w| {
                (
                    format!("w{round}x{w}"),
                    rng.range(1, 30),
                    Duration::from_micros(rng.range(0, 3_000)),
                )
            })
            .collect();
        let store_ref = &store;
        let results: Vec<Killed> = thread::scope(|scope| {
            let handles: Vec<_> = plans
                .iter()
                .map(|(user, acks, delay)| {
                    scope.spawn(move || run_and_kill(store_ref, user, *acks, *delay))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a writer round panicked"))
                .collect()
        });
        for killed in results {
            acknowledged.extend(killed.acks);
            notes.extend(killed.notes);
        }

        // Every other round, a crash that also lost the page cache: a line cut off mid-way.
        // The next round's writers must quarantine it and go on.
        if round % 2 == 0 && round + 1 < ROUNDS {
            let bytes = read(&store);
            if bytes.ends_with(b"\n") {
                let lines = split_lines(&bytes);
                let last = lines.last().expect("acknowledged lines");
                let cut = rng.range(1, last.len() as u64 - 1) as usize;
                let torn = last[..cut].to_vec();
                let mut file = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&store)
                    .expect("open the store");
                file.write_all(&torn).expect("tear the tail");
                injected.push((bytes.len(), torn));
            }
        }
    }

    // A kill may itself have left a torn tail: readers report it, the next writer moves it.
    let report = FileStore::new(&store)
        .verify()
        .unwrap_or_else(|e| panic!("the store fails verification after kill -9: {e}"));
    if let Some(torn) = report.torn {
        let ran = cab_run(
            &store,
            "after",
            "requester",
            &[
                "submit",
                "--deployment",
                "after-r1",
                "--evidence",
                "e",
                "--risk",
                "10",
            ],
        );
        ran.expect_code(0, "the writer after the crashes");
        assert!(
            ran.stderr.contains(&format!("torn-at-{}", torn.offset)),
            "{ran:#?}"
        );
    }
    let report = FileStore::new(&store)
        .verify()
        .unwrap_or_else(|e| panic!("the store fails verification: {e}"));
    assert_eq!(report.torn, None);

    assert!(
        acknowledged.len() >= ROUNDS * WRITERS,
        "every writer acknowledged at least one event"
    );
    let stored: Vec<String> = submitted_ids(&store);
    let stored_set: BTreeSet<&String> = stored.iter().collect();
    assert_eq!(stored_set.len(), stored.len(), "no request is stored twice");
    for id in &acknowledged {
        assert!(
            stored_set.contains(id),
            "acknowledged request {id} is missing after kill -9"
        );
    }

    for (offset, bytes) in &injected {
        let q: PathBuf = store.with_file_name(format!("store.jsonl.torn-at-{offset}"));
        assert_eq!(
            &read(&q),
            bytes,
            "the torn tail at {offset} was quarantined whole"
        );
        assert!(
            notes.iter().any(|n| n.contains(&q.display().to_string())),
            "a writer said it moved the torn tail at {offset}: {notes:?}"
        );
    }
    cab_run(&store, "alice", "requester", &["verify"]).expect_code(0, "cab verify");
}

#[test]
fn kill_9_of_cab_submit_processes_at_random_moments_loses_no_acknowledged_request() {
    const BATCHES: usize = 8;
    const AT_ONCE: usize = 3;
    let mut rng = Rng::from_env_or_clock();
    let dir = tempfile::tempdir().expect("a temp folder");
    let store = dir.path().join("store.jsonl");
    cab_submit(&store, "first", "first-r1", "60");
    let mut acknowledged = vec![];
    for batch in 0..BATCHES {
        let children: Vec<_> = (0..AT_ONCE)
            .map(|i| {
                let delay = Duration::from_micros(rng.range(0, 20_000));
                let child = cab(&store, &format!("u{batch}x{i}"), "requester")
                    .args([
                        "--json",
                        "submit",
                        "--deployment",
                        &format!("k{batch}-{i}"),
                        "--evidence",
                        "e",
                        "--risk",
                        "60",
                    ])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start cab");
                (child, delay)
            })
            .collect();
        for (mut child, delay) in children {
            thread::sleep(delay);
            // Killing a process that has already exited is harmless.
            let _ = child.kill();
            let out = child.wait_with_output().expect("reap cab");
            match out.status.code() {
                Some(0) => {
                    let ran = Ran::from_output(out);
                    acknowledged.push(ran.json()["id"].as_str().expect("an id").to_string());
                }
                Some(code) => panic!(
                    "cab submit failed on its own with {code}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
                None => assert_eq!(out.status.signal(), Some(9)),
            }
        }
    }
    let report = FileStore::new(&store)
        .verify()
        .unwrap_or_else(|e| panic!("the store fails verification after kill -9: {e}"));
    if report.torn.is_some() {
        cab_submit(&store, "after", "after-r1", "10");
    }
    cab_run(&store, "alice", "requester", &["verify"]).expect_code(0, "cab verify");
    let stored = submitted_ids(&store);
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged request {id} is missing");
    }
}
