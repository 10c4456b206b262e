//! The checkpoint cache is a shortcut, never a source of truth: a store opens from it only when
//! the store still is what the checkpoint was made from, and any damage to the store is still
//! reported with its line number. Real files, a real cache folder, the library's FileStore.

use std::fs;
use std::path::{Path, PathBuf};

use cab::backend::{Backend, LocalBackend};
use cab::clock::Clock;
use cab::engine::{Actor, Policy, Role, Submission, Verdict};
use cab::store::{CheckpointPolicy, FileStore, Replica, StoreError};
use tempfile::TempDir;

const EVERY: u64 = 5;

struct Setup {
    _dir: TempDir,
    store: PathBuf,
    cache: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store.jsonl");
        let cache = dir.path().join("cache");
        Setup {
            store,
            cache,
            _dir: dir,
        }
    }

    fn policy(&self) -> Option<CheckpointPolicy> {
        Some(CheckpointPolicy {
            dir: self.cache.clone(),
            every: EVERY,
        })
    }

    fn file_store(&self) -> FileStore {
        FileStore::new(&self.store).with_checkpoints(self.policy())
    }

    fn backend(&self, user: &str, roles: &[Role]) -> LocalBackend {
        self.backend_on(self.file_store(), user, roles)
    }

    fn backend_on(&self, store: FileStore, user: &str, roles: &[Role]) -> LocalBackend {
        LocalBackend::new(
            store,
            Actor::new(user, roles.iter().copied()).unwrap(),
            Policy::default(),
            Clock::parse("2026-11-28T12:00:00Z").unwrap(),
        )
    }

    /// Submit `n` requests (half under review) and reject the first under review, through
    /// writers that make no checkpoints (so each test decides when one is made).
    fn fill(&self, n: usize) {
        self.fill_with(n, true)
    }

    fn fill_with(&self, n: usize, decide: bool) {
        let plain = || FileStore::new(&self.store).with_checkpoints(None);
        let dana = self.backend_on(plain(), "dana", &[]);
        let mut first_review = None;
        for i in 0..n {
            let view = dana
                .submit(Submission {
                    deployment_intent_id: format!("svc-r{i}").into(),
                    evidence_package_id: format!("EP-{i}").into(),
                    title: Some(format!("change {i}").into()),
                    risk_score: if i % 2 == 0 { 30.0 } else { 60.0 },
                    risk_factors: Default::default(),
                    correlation_id: None,
                })
                .unwrap();
            if i % 2 == 1 && first_review.is_none() {
                first_review = Some(view.request.id);
            }
        }
        if let Some(id) = first_review.filter(|_| decide) {
            self.backend_on(plain(), "carol", &[Role::CabMember])
                .decide(&id.to_string(), Verdict::Reject, "not now")
                .unwrap();
        }
    }

    fn checkpoint_files(&self) -> Vec<PathBuf> {
        cab::store::checkpoint::finish_writes();
        fs::read_dir(&self.cache)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    }

    /// A fresh replica of the store, as a new process would read it.
    fn read(&self) -> Result<Replica, StoreError> {
        let mut replica = Replica::new();
        let read = self.file_store().refresh(&mut replica);
        // As a process does before it exits: the checkpoint it began is finished.
        cab::store::checkpoint::finish_writes();
        read?;
        Ok(replica)
    }

    /// The same, replaying every line, checkpoints off.
    fn replay(&self) -> Replica {
        let mut replica = Replica::new();
        FileStore::new(&self.store)
            .with_checkpoints(None)
            .refresh(&mut replica)
            .unwrap();
        replica
    }
}

fn rewrite_line(path: &Path, line: usize, f: impl FnOnce(&str) -> String) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[line - 1] = f(&lines[line - 1]);
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_large_enough_store_gets_a_checkpoint_and_the_next_reader_starts_from_it() {
    let s = Setup::new();
    s.fill(12);
    let first = s.read().unwrap();
    assert_eq!(first.restored_lines(), 0, "nothing to restore from yet");
    assert_eq!(
        s.checkpoint_files().len(),
        1,
        "the first full read wrote one"
    );
    let second = s.read().unwrap();
    assert_eq!(
        second.restored_lines(),
        13,
        "all 13 lines came from the checkpoint"
    );
    assert_eq!(
        second.state,
        s.replay().state,
        "and the state is what a replay gives"
    );
}

#[test]
fn events_appended_after_the_checkpoint_are_read_on_top_of_it() {
    let s = Setup::new();
    s.fill(12);
    s.read().unwrap();
    s.fill_with(2, false);
    let replica = s.read().unwrap();
    assert_eq!(replica.restored_lines(), 13);
    assert_eq!(replica.head_seq(), s.replay().head_seq());
    assert_eq!(replica.state, s.replay().state);
}

#[test]
fn an_edited_line_before_the_checkpoint_is_still_reported_with_its_line_number() {
    let s = Setup::new();
    s.fill(12);
    s.read().unwrap();
    rewrite_line(&s.store, 4, |l| l.replacen("change 3", "change 9", 1));
    match s.read() {
        Err(StoreError::Corrupt { line, .. }) => assert_eq!(line, 4),
        other => panic!("expected the store to fail at line 4, got {other:?}"),
    }
}

#[test]
fn a_deleted_line_before_the_checkpoint_is_still_reported() {
    let s = Setup::new();
    s.fill(12);
    s.read().unwrap();
    let text = fs::read_to_string(&s.store).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, l)| l)
        .collect();
    fs::write(&s.store, kept.join("\n") + "\n").unwrap();
    match s.read() {
        Err(StoreError::Corrupt { line, .. }) => assert_eq!(line, 3),
        other => panic!("expected the store to fail at line 3, got {other:?}"),
    }
}

#[test]
fn a_store_replaced_by_another_file_ignores_the_old_checkpoint() {
    let s = Setup::new();
    s.fill(12);
    s.read().unwrap();
    // Another store of the same length and path, written anew: a new file.
    let other = Setup::new();
    other.fill(12);
    fs::remove_file(&s.store).unwrap();
    fs::copy(&other.store, &s.store).unwrap();
    let replica = s.read().unwrap();
    assert_eq!(
        replica.restored_lines(),
        0,
        "the checkpoint belongs to the old file"
    );
    assert_eq!(replica.state, s.replay().state);
}

#[test]
fn a_store_cut_shorter_than_the_checkpoint_ignores_it() {
    let s = Setup::new();
    s.fill(12);
    s.read().unwrap();
    let text = fs::read_to_string(&s.store).unwrap();
    let kept: Vec<&str> = text.lines().take(6).collect();
    fs::write(&s.store, kept.join("\n") + "\n").unwrap();
    let replica = s.read().unwrap();
    assert_eq!(replica.restored_lines(), 0);
    assert_eq!(replica.head_seq(), 6);
}

#[test]
fn a_damaged_checkpoint_file_is_ignored() {
    let s = Setup::new();
    s.fill(12);
    s.read().unwrap();
    for file in s.checkpoint_files() {
        let mut bytes = fs::read(&file).unwrap();
        let n = bytes.len();
        bytes.truncate(n / 2);
        fs::write(&file, bytes).unwrap();
    }
    let replica = s.read().unwrap();
    assert_eq!(replica.restored_lines(), 0);
    assert_eq!(replica.state, s.replay().state);
}

#[test]
fn verify_replays_every_line_and_never_takes_a_checkpoint_on_trust() {
    let s = Setup::new();
    s.fill(12); // 12 requests and a decision: 13 lines
    s.read().unwrap();
    // Forge the cache: the real header, another store's state of 13 lines (13 requests).
    let other = Setup::new();
    other.fill_with(13, false);
    let file = s.policy().unwrap().file_for(&s.store);
    let real = cab::store::checkpoint::load(&file).unwrap();
    let forged_state = other.replay().state;
    assert_eq!(forged_state.head(), 13);
    cab::store::checkpoint::save(&file, &real.header, &forged_state).unwrap();
    // Readers trust the user's own cache when it matches the store...
    assert_eq!(s.read().unwrap().state.request_count(), 13);
    // ...but verification replays the store itself.
    let report = s.file_store().verify().unwrap();
    assert_eq!(report.events, 13);
    assert_eq!(report.requests, 12);
}

#[test]
fn no_checkpoint_is_written_below_the_threshold() {
    let s = Setup::new();
    s.fill(3);
    s.read().unwrap();
    assert!(s.checkpoint_files().is_empty());
}

#[test]
fn a_writer_refuses_a_store_damaged_before_its_checkpoint() {
    let s = Setup::new();
    s.fill(12);
    s.read().unwrap();
    rewrite_line(&s.store, 2, |l| l.replacen("EP-1", "EP-7", 1));
    let before = fs::read(&s.store).unwrap();
    let result = s.backend("dana", &[]).submit(Submission {
        deployment_intent_id: "late-r1".into(),
        evidence_package_id: "EP-late".into(),
        title: None,
        risk_score: 10.0,
        risk_factors: Default::default(),
        correlation_id: None,
    });
    assert!(
        result.is_err(),
        "a store that fails verification is not written to"
    );
    assert_eq!(fs::read(&s.store).unwrap(), before);
}

// ----- a cache never changes an answer (SPEC section 2, issue 7) -----

fn only_checkpoint(s: &Setup) -> PathBuf {
    let files = s.checkpoint_files();
    assert_eq!(files.len(), 1, "one checkpoint was written: {files:?}");
    files.into_iter().next().unwrap()
}

#[test]
fn a_checkpoint_with_any_single_byte_flipped_is_no_checkpoint() {
    let s = Setup::new();
    s.fill(12);
    s.read().unwrap();
    let file = only_checkpoint(&s);
    let original = fs::read(&file).unwrap();
    let expected = s.replay().state;
    // Flip a byte at 40 places spread over the whole file: header, state and digest.
    let step = (original.len() / 40).max(1);
    for at in (0..original.len()).step_by(step) {
        let mut bytes = original.clone();
        bytes[at] ^= 0x20;
        fs::write(&file, &bytes).unwrap();
        let replica = s.read().unwrap();
        assert_eq!(replica.restored_lines(), 0, "byte {at} flipped, still used");
        assert_eq!(
            replica.state, expected,
            "byte {at} flipped changed the state"
        );
        fs::write(&file, &original).unwrap();
    }
    assert_eq!(
        s.read().unwrap().restored_lines(),
        13,
        "the intact one is used"
    );
}

#[test]
fn a_requester_renamed_inside_the_checkpoint_still_cannot_decide_their_own_request() {
    let s = Setup::new();
    s.fill(12); // every request is dana's
    s.read().unwrap();
    let file = only_checkpoint(&s);
    let bytes = fs::read(&file).unwrap();
    // Rename the requester in the cached state, same length so it still decodes.
    let (from, to) = (b"dana".as_slice(), b"dora".as_slice());
    let mut forged = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            forged.extend_from_slice(to);
            i += from.len();
        } else {
            forged.push(bytes[i]);
            i += 1;
        }
    }
    assert_ne!(forged, bytes, "the checkpoint holds the requester's name");
    fs::write(&file, &forged).unwrap();
    let dana = s.backend("dana", &[Role::CabMember]);
    let pending = s.replay().state.awaiting().next().unwrap().id;
    let refused = dana.decide(
        &pending.to_string(),
        Verdict::Approve { conditions: vec![] },
        "mine",
    );
    let error = refused.expect_err("dana may not decide her own request");
    assert!(
        error.to_string().contains("separation of duties"),
        "{error}"
    );
}

/// Run `f` on another thread; fail the test if it has not finished within a minute (a hang).
fn without_hanging<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} hung"))
}

/// Put something else where the store's checkpoint was, then read the store as a new process
/// would, failing the test if the read hangs; the read must ignore it and replay.
fn read_with_checkpoint_replaced_by(what: &str, put: impl FnOnce(&Path)) {
    let s = Setup::new();
    s.fill(12);
    s.read().unwrap();
    let file = only_checkpoint(&s);
    fs::remove_file(&file).unwrap();
    put(&file);
    let store = s.store.clone();
    let policy = s.policy();
    let replica = without_hanging(
        &format!("reading a store whose checkpoint is {what}"),
        move || {
            let mut replica = Replica::new();
            FileStore::new(&store)
                .with_checkpoints(policy)
                .refresh(&mut replica)
                .map(|_| replica)
        },
    )
    .unwrap();
    assert_eq!(replica.restored_lines(), 0);
    assert_eq!(replica.state, s.replay().state);
}

#[test]
fn a_fifo_in_place_of_the_checkpoint_is_ignored_without_blocking() {
    read_with_checkpoint_replaced_by("a FIFO", crate::support::mkfifo);
}

#[test]
fn a_checkpoint_linked_to_dev_zero_is_ignored_without_reading_it_forever() {
    read_with_checkpoint_replaced_by("/dev/zero", |file| {
        std::os::unix::fs::symlink("/dev/zero", file).unwrap()
    });
}

/// Recompute `prev` and `hash` of every line of the store from `from` (1-based) on.
fn rechain_from(path: &Path, from: usize) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    crate::support::rechain_lines(&mut lines, from);
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_consistent_rewrite_of_early_lines_warns_naming_the_first_differing_line() {
    let s = Setup::new();
    s.fill(12);
    s.read().unwrap();
    rewrite_line(&s.store, 4, |l| l.replacen("change 3", "change X", 1));
    rechain_from(&s.store, 4);
    // The rewrite is consistent: a full replay accepts it.
    assert_eq!(s.file_store().verify().unwrap().events, 13);
    let mut replica = s.read().unwrap();
    assert_eq!(replica.restored_lines(), 0, "the checkpoint is not used");
    assert_eq!(replica.state, s.replay().state);
    let warnings = replica.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("WARNING"), "{warnings:?}");
    assert!(warnings[0].contains("line 4 "), "{warnings:?}");
}

#[test]
fn the_rewrite_warning_reaches_the_user_of_a_command() {
    let s = Setup::new();
    s.fill(12);
    s.read().unwrap();
    rewrite_line(&s.store, 2, |l| l.replacen("change 1", "change Y", 1));
    rechain_from(&s.store, 2);
    let backend = s.backend("dana", &[]);
    backend.counts().unwrap();
    let notices = backend.take_notices();
    assert!(notices.iter().any(|n| n.contains("line 2 ")), "{notices:?}");
}

#[test]
fn a_store_cut_shorter_than_its_checkpoint_warns_that_lines_were_removed() {
    let s = Setup::new();
    s.fill(12);
    s.read().unwrap();
    let text = fs::read_to_string(&s.store).unwrap();
    let kept: Vec<&str> = text.lines().take(9).collect();
    fs::write(&s.store, kept.join("\n") + "\n").unwrap();
    let mut replica = s.read().unwrap();
    let warnings = replica.take_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("lines 10 to 13 were removed")),
        "{warnings:?}"
    );
}

#[test]
fn an_intact_store_read_from_its_checkpoint_gives_no_warning() {
    let s = Setup::new();
    s.fill(12);
    s.read().unwrap();
    let mut replica = s.read().unwrap();
    assert_eq!(replica.restored_lines(), 13);
    assert!(replica.take_warnings().is_empty());
}
