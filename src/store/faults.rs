//! Every write path of the store driven through the faults a disk really has (no space, a
//! file-size limit, an I/O error, a short write), through the seam in `disk`: on a real file,
//! with real fsyncs and locks, only the failing call is made up. Each test proves that nothing
//! acknowledged is lost, that a command's events are all or nothing, and that the store works
//! again once the fault clears, with no file to remove by hand.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use super::disk::{Disk, Os, Target};
use super::{FileStore, StoreError};
use crate::backend::{BackendError, LocalStore};
use crate::clock::Clock;
use crate::engine::{Actor, Policy, Role, Submission};

const ENOSPC: i32 = libc::ENOSPC;
const EFBIG: i32 = libc::EFBIG;
const EIO: i32 = libc::EIO;

/// One call of the seam.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Write,
    Sync,
    SetLen,
    SyncDir,
}

/// A failure armed on one kind of call: the first `pass` bytes (writes) or calls (the others)
/// still go through, then every call fails with `errno` until cleared.
#[derive(Debug, Clone, Copy)]
struct Fault {
    op: Op,
    target: Option<Target>,
    errno: i32,
    pass: usize,
}

/// The real disk, with faults a test arms and clears; it counts the syncs it let through.
#[derive(Debug, Default)]
struct Faulty {
    faults: Mutex<Vec<Fault>>,
    /// Writes pass at most this many bytes each (0: no limit), without failing.
    short: Mutex<usize>,
    syncs: Mutex<Vec<(Op, Option<Target>)>>,
}

impl Faulty {
    fn arm(&self, op: Op, target: Option<Target>, errno: i32, pass: usize) {
        self.faults.lock().unwrap().push(Fault {
            op,
            target,
            errno,
            pass,
        });
    }

    fn clear(&self) {
        self.faults.lock().unwrap().clear();
        *self.short.lock().unwrap() = 0;
    }

    /// How much of `want` may go through, or the error to fail with.
    fn check(&self, op: Op, target: Option<Target>, want: usize) -> io::Result<usize> {
        let mut faults = self.faults.lock().unwrap();
        for fault in faults.iter_mut() {
            if fault.op == op && (fault.target.is_none() || fault.target == target) {
                if fault.pass == 0 {
                    return Err(io::Error::from_raw_os_error(fault.errno));
                }
                let through = fault.pass.min(want);
                fault.pass -= through;
                return Ok(through);
            }
        }
        Ok(want)
    }
}

impl Disk for Faulty {
    fn write(&self, file: &File, target: Target, buf: &[u8]) -> io::Result<usize> {
        let mut n = self.check(Op::Write, Some(target), buf.len())?;
        let short = *self.short.lock().unwrap();
        if short > 0 {
            n = n.min(short);
        }
        Os.write(file, target, &buf[..n])
    }

    fn sync_data(&self, file: &File, target: Target) -> io::Result<()> {
        self.check(Op::Sync, Some(target), 1)?;
        self.syncs.lock().unwrap().push((Op::Sync, Some(target)));
        Os.sync_data(file, target)
    }

    fn sync_all(&self, file: &File, target: Target) -> io::Result<()> {
        self.check(Op::Sync, Some(target), 1)?;
        self.syncs.lock().unwrap().push((Op::Sync, Some(target)));
        Os.sync_all(file, target)
    }

    fn set_len(&self, file: &File, target: Target, len: u64) -> io::Result<()> {
        self.check(Op::SetLen, Some(target), 1)?;
        Os.set_len(file, target, len)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check(Op::SyncDir, None, 1)?;
        self.syncs.lock().unwrap().push((Op::SyncDir, None));
        Os.sync_dir(dir)
    }
}

fn t0() -> DateTime<Utc> {
    crate::engine::time::parse("2026-11-28T09:00:00Z").unwrap()
}

/// A store on the faulty disk, and a `LocalStore` on it at `now`.
struct World {
    _dir: tempfile::TempDir,
    path: PathBuf,
    disk: Arc<Faulty>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.jsonl");
        World {
            _dir: dir,
            path,
            disk: Arc::new(Faulty::default()),
        }
    }

    fn store(&self) -> FileStore {
        FileStore::new(&self.path)
            .with_checkpoints(None)
            .with_disk(self.disk.clone())
    }

    fn local(&self, now: DateTime<Utc>) -> LocalStore {
        LocalStore::new(self.store(), Policy::default(), Clock::Fixed(now))
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap_or_default()
    }

    /// Every file beside the store other than the store.
    fn others(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self._dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p != &self.path)
            .collect();
        v.sort();
        v
    }

    /// `n` requests needing an exception, each with a one-day exception: two days later,
    /// cleanup records `n` expiries in one batch.
    fn with_expiring_exceptions(&self, n: usize) {
        let local = self.local(t0());
        let alice = actor("alice", Role::Requester);
        for i in 0..n {
            let request = local
                .submit(&alice, None, submission(&format!("svc-{i}")))
                .unwrap();
            local
                .request_exception(
                    &alice,
                    None,
                    &request.request.id.to_string(),
                    "hotfix",
                    vec!["extra monitoring".into()],
                    Some(1),
                )
                .unwrap();
        }
    }

    fn verified_events(&self) -> u64 {
        let report = FileStore::new(&self.path)
            .with_checkpoints(None)
            .verify()
            .unwrap();
        assert_eq!(report.torn, None, "no torn line is left");
        report.events
    }
}

fn actor(name: &str, role: Role) -> Actor {
    Actor::new(name, [role]).unwrap()
}

fn submission(deployment: &str) -> Submission {
    Submission {
        deployment_intent_id: deployment.into(),
        evidence_package_id: "EP-1".into(),
        title: None,
        risk_score: 90.0,
        risk_factors: Default::default(),
        correlation_id: None,
    }
}

fn later() -> DateTime<Utc> {
    t0() + Duration::days(3)
}

fn io_error(e: BackendError) -> String {
    match e {
        BackendError::Store(e @ StoreError::Io { .. }) => e.to_string(),
        other => panic!("expected an I/O failure of the store, got {other:?}"),
    }
}

const FAULTS: [(&str, i32); 3] = [("ENOSPC", ENOSPC), ("EFBIG", EFBIG), ("EIO", EIO)];

#[test]
fn a_batch_whose_write_fails_part_way_is_cut_back_whole_and_applies_nowhere() {
    for (name, errno) in FAULTS {
        for pass in [0, 1, 300, 900] {
            let world = World::new();
            world.with_expiring_exceptions(5);
            let before = world.bytes();
            let events = world.verified_events();
            let local = world.local(later());
            let bob = actor("bob", Role::CabMember);
            world.disk.arm(Op::Write, Some(Target::Store), errno, pass);
            let message = io_error(local.cleanup(&bob, None).unwrap_err());
            assert!(
                message.contains("nothing of this command was recorded"),
                "{name} after {pass} bytes: {message}"
            );
            assert_eq!(
                world.bytes(),
                before,
                "{name} after {pass}: the file as it was"
            );
            world.disk.clear();
            let report = local.cleanup(&bob, None).unwrap();
            // The same process records all five: none of them was applied in its memory.
            assert_eq!(
                report.recorded, 5,
                "{name} after {pass}: all once it clears"
            );
            assert_eq!(world.verified_events(), events + 5);
            assert!(
                world.others().is_empty(),
                "{name}: no file left beside the store"
            );
        }
    }
}

#[test]
fn short_writes_are_continued_until_the_whole_batch_is_in() {
    let world = World::new();
    world.with_expiring_exceptions(3);
    let events = world.verified_events();
    *world.disk.short.lock().unwrap() = 7;
    let report = world
        .local(later())
        .cleanup(&actor("bob", Role::CabMember), None)
        .unwrap();
    assert_eq!(report.recorded, 3);
    assert_eq!(world.verified_events(), events + 3);
}

#[test]
fn a_cut_back_that_fails_too_is_reported_as_possibly_leaving_part_of_the_command() {
    let world = World::new();
    world.with_expiring_exceptions(3);
    world.disk.arm(Op::Write, Some(Target::Store), EIO, 100);
    world.disk.arm(Op::SetLen, Some(Target::Store), EIO, 0);
    let message = io_error(
        world
            .local(later())
            .cleanup(&actor("bob", Role::CabMember), None)
            .unwrap_err(),
    );
    assert!(
        message.contains("could not be cut off") && message.contains("may hold part of it"),
        "{message}"
    );
    // Once the disk works again, the next writer quarantines the torn bytes and goes on.
    world.disk.clear();
    let report = world
        .local(later())
        .cleanup(&actor("bob", Role::CabMember), None)
        .unwrap();
    assert_eq!(report.recorded, 3);
    world.verified_events();
}

#[test]
fn a_failed_sync_acknowledges_nothing_and_the_store_works_once_it_clears() {
    for (name, errno) in FAULTS {
        let world = World::new();
        world.with_expiring_exceptions(4);
        let events = world.verified_events();
        let local = world.local(later());
        let bob = actor("bob", Role::CabMember);
        world.disk.arm(Op::Sync, Some(Target::Store), errno, 0);
        io_error(local.cleanup(&bob, None).unwrap_err());
        world.disk.clear();
        // All or nothing: either the batch is in whole (written, its sync failed) or not at all.
        let after = world.verified_events();
        assert!(after == events || after == events + 4, "{name}: {after}");
        local.cleanup(&bob, None).unwrap();
        assert_eq!(world.verified_events(), events + 4, "{name}");
    }
}

/// A store whose last line was cut off after `keep` bytes: those bytes, and the quarantine
/// file they belong in.
fn torn(world: &World, keep: usize) -> (Vec<u8>, PathBuf) {
    world.with_expiring_exceptions(2);
    let mut bytes = world.bytes();
    let last_start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    bytes.truncate(last_start + keep);
    std::fs::write(&world.path, &bytes).unwrap();
    let qpath = world
        .path
        .with_file_name(format!("store.jsonl.torn-at-{last_start}"));
    (bytes[last_start..].to_vec(), qpath)
}

#[test]
fn failed_quarantines_leave_no_file_behind_however_often_they_fail() {
    for (name, errno) in FAULTS {
        for pass in [0, 10] {
            let world = World::new();
            let (tail, qpath) = torn(&world, 40);
            let alice = actor("alice", Role::Requester);
            world
                .disk
                .arm(Op::Write, Some(Target::Quarantine), errno, pass);
            // Far more attempts than the thousand names that used to run out.
            let attempts = if errno == ENOSPC && pass == 0 {
                1005
            } else {
                3
            };
            for _ in 0..attempts {
                let local = world.local(t0());
                io_error(local.submit(&alice, None, submission("late")).unwrap_err());
                assert!(world.others().is_empty(), "{name}: {:?}", world.others());
            }
            world.disk.clear();
            let local = world.local(t0());
            local.submit(&alice, None, submission("late")).unwrap();
            assert_eq!(world.others(), vec![qpath.clone()], "{name}: one file");
            assert_eq!(
                std::fs::read(&qpath).unwrap(),
                tail,
                "{name}: the torn bytes"
            );
            let notices = local.take_notices().join("\n");
            assert!(
                notices.contains("a crash or a failed write") && notices.contains("moved it to"),
                "{notices}"
            );
            world.verified_events();
        }
    }
}

#[test]
fn a_torn_tail_already_quarantined_whole_is_not_copied_again() {
    for op in [Op::SetLen, Op::Sync] {
        let world = World::new();
        let (tail, qpath) = torn(&world, 55);
        let alice = actor("alice", Role::Requester);
        // The copy is made, but the store cannot be cut (or the cut not synced): the command
        // fails, the copy stays, and later attempts find it there.
        world.disk.arm(op, Some(Target::Store), EIO, 0);
        for _ in 0..3 {
            io_error(
                world
                    .local(t0())
                    .submit(&alice, None, submission("late"))
                    .unwrap_err(),
            );
            assert_eq!(world.others(), vec![qpath.clone()], "{op:?}");
        }
        world.disk.clear();
        let local = world.local(t0());
        local.submit(&alice, None, submission("late")).unwrap();
        assert_eq!(
            world.others(),
            vec![qpath.clone()],
            "{op:?}: still one file"
        );
        assert_eq!(std::fs::read(&qpath).unwrap(), tail);
        if op == Op::SetLen {
            let notices = local.take_notices().join("\n");
            assert!(notices.contains("already kept in"), "{notices}");
        }
        world.verified_events();
    }
}

#[test]
fn a_quarantine_copy_cut_short_is_completed_not_duplicated() {
    let world = World::new();
    let (tail, qpath) = torn(&world, 80);
    // What an earlier copy that failed half way (and could not be removed) leaves.
    std::fs::write(&qpath, &tail[..30]).unwrap();
    let local = world.local(t0());
    local
        .submit(&actor("alice", Role::Requester), None, submission("late"))
        .unwrap();
    assert_eq!(world.others(), vec![qpath.clone()]);
    assert_eq!(std::fs::read(&qpath).unwrap(), tail);
    world.verified_events();
}

#[test]
fn a_quarantine_name_holding_other_bytes_or_a_fifo_is_stepped_around() {
    let world = World::new();
    let (tail, qpath) = torn(&world, 33);
    std::fs::write(&qpath, b"someone else's bytes").unwrap();
    let fifo = qpath.with_file_name(format!(
        "{}.1",
        qpath.file_name().unwrap().to_string_lossy()
    ));
    let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let local = world.local(t0());
    local
        .submit(&actor("alice", Role::Requester), None, submission("late"))
        .unwrap();
    let second = qpath.with_file_name(format!(
        "{}.2",
        qpath.file_name().unwrap().to_string_lossy()
    ));
    assert_eq!(std::fs::read(&second).unwrap(), tail);
    assert_eq!(std::fs::read(&qpath).unwrap(), b"someone else's bytes");
    world.verified_events();
}

#[test]
fn a_failed_sync_of_the_quarantine_or_its_folder_keeps_nothing_half_done() {
    for (op, target) in [(Op::Sync, Some(Target::Quarantine)), (Op::SyncDir, None)] {
        let world = World::new();
        let (tail, qpath) = torn(&world, 21);
        let before = world.bytes();
        world.disk.arm(op, target, EIO, 0);
        io_error(
            world
                .local(t0())
                .submit(&actor("alice", Role::Requester), None, submission("late"))
                .unwrap_err(),
        );
        assert_eq!(
            world.bytes(),
            before,
            "{op:?}: the torn tail is still in the store"
        );
        world.disk.clear();
        world
            .local(t0())
            .submit(&actor("alice", Role::Requester), None, submission("late"))
            .unwrap();
        assert_eq!(world.others(), vec![qpath.clone()], "{op:?}");
        assert_eq!(std::fs::read(&qpath).unwrap(), tail);
        world.verified_events();
    }
}

#[test]
fn a_new_store_whose_first_sync_failed_is_synced_by_the_next_writer() {
    let world = World::new();
    world.disk.arm(Op::SyncDir, None, EIO, 0);
    let alice = actor("alice", Role::Requester);
    io_error(
        world
            .local(t0())
            .submit(&alice, None, submission("first"))
            .unwrap_err(),
    );
    assert_eq!(world.bytes(), b"", "an empty store is left, nothing in it");
    world.disk.clear();
    world.disk.syncs.lock().unwrap().clear();
    world
        .local(t0())
        .submit(&alice, None, submission("first"))
        .unwrap();
    let syncs = world.disk.syncs.lock().unwrap().clone();
    assert!(
        syncs.contains(&(Op::SyncDir, None)),
        "the folder is synced before the first event is acknowledged: {syncs:?}"
    );
    assert_eq!(world.verified_events(), 1);
}

#[test]
fn a_demo_fill_that_fails_anywhere_leaves_an_empty_store_that_fills_once_it_clears() {
    let faults = [
        (Op::Write, 0),
        (Op::Write, 5000),
        (Op::Write, 200_000),
        (Op::Sync, 0),
    ];
    for (name, errno) in FAULTS {
        for (op, pass) in faults {
            let world = World::new();
            let store = world.store();
            world.disk.arm(op, Some(Target::Store), errno, pass);
            let e = crate::demo::fill(
                &crate::store::Store::from(store.clone()),
                300,
                7,
                t0(),
                &Policy::default(),
            )
            .unwrap_err();
            assert!(
                matches!(e, crate::demo::DemoError::Store(StoreError::Io { .. })),
                "{name} {op:?}: {e}"
            );
            assert_eq!(
                world.bytes(),
                b"",
                "{name} {op:?} after {pass}: nothing kept"
            );
            world.disk.clear();
            let summary = crate::demo::fill(
                &crate::store::Store::from(store.clone()),
                300,
                7,
                t0(),
                &Policy::default(),
            )
            .unwrap();
            assert_eq!(world.verified_events(), summary.events, "{name} {op:?}");
        }
    }
}

#[test]
fn a_failed_write_never_leaves_a_poisoned_line_for_later_writers() {
    // Fault, clear, fault, clear: every command after a fault succeeds and verify passes.
    let world = World::new();
    let alice = actor("alice", Role::Requester);
    for (i, (_, errno)) in FAULTS.iter().cycle().take(9).enumerate() {
        world
            .disk
            .arm(Op::Write, Some(Target::Store), *errno, i * 97);
        let local = world.local(t0());
        let _ = local.submit(&alice, None, submission(&format!("a{i}")));
        world.disk.clear();
        local
            .submit(&alice, None, submission(&format!("b{i}")))
            .unwrap();
        world.verified_events();
        assert!(world.others().is_empty());
    }
}
