//! The real `cab` binary against a disk that is really full (a tiny tmpfs) and a real file-size
//! limit (RLIMIT_FSIZE): every failing command prints one sentence and exits 1, never dies by a
//! signal, leaves the store exactly as it was (a command's events all or nothing), piles up no
//! quarantine files, and once space is freed the store works with no hand repair.
//!
//! Mounting needs root (as in CI); elsewhere the tmpfs tests say so and check nothing.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use cab::backend::Backend;
use cab::engine::Role;

use crate::support::store::*;

/// A tmpfs of `size` mounted on a fresh temporary folder, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("not root: the tmpfs fault tests need `mount` and check nothing here");
            return None;
        }
        let dir = tempfile::tempdir().expect("a temp folder");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mount a tmpfs: {status}");
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fill every free byte with a file of its own, then give back `spare` bytes of it.
    fn fill(&self, spare: u64) -> PathBuf {
        let filler = self.path().join("filler");
        let mut f = std::fs::File::create(&filler).expect("create the filler");
        let chunk = vec![0u8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("fill the tmpfs: {e}"),
            }
        }
        let len = f.metadata().expect("filler size").len();
        f.set_len(len.saturating_sub(spare))
            .expect("give back space");
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn cab_cmd(store: &Path, roles: &str, now: &str) -> Command {
    let mut cmd = cab(store, "alice", roles);
    cmd.env("CAB_NOW", now).env("CAB_CHECKPOINTS", "off");
    cmd
}

/// `cmd` with a file-size limit of `bytes` (what `ulimit -f` sets).
fn limited(cmd: &mut Command, bytes: u64) -> &mut Command {
    // SAFETY: setrlimit is async-signal-safe and touches nothing of the parent.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Three days after `NOW`: the fixture's one-day exceptions have expired.
const LATER: &str = "2026-12-01T09:00:00Z";

/// `n` requests needing an exception, each with a one-day exception.
fn expiring(store: &Path, n: usize) {
    let alice = backend(store, "alice", &[Role::Requester]);
    for i in 0..n {
        let request = alice
            .submit(submission(&format!("svc-{i}"), "needs an exception", 90.0))
            .expect("submit");
        alice
            .request_exception(
                &request.request.id.to_string(),
                "hotfix",
                vec!["extra monitoring".into()],
                Some(1),
            )
            .expect("request an exception");
    }
}

/// A failure as SPEC section 2 wants it: exit 1, one sentence on stderr naming `cause`.
fn assert_one_sentence_failure(ran: &Ran, cause: &str, what: &str) {
    ran.expect_code(1, what);
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: one line on stderr: {ran:#?}");
    assert!(
        lines[0].contains(cause),
        "{what}: names {cause:?}: {ran:#?}"
    );
}

fn beside(store: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(store.parent().expect("a folder"))
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("store.jsonl."))
        })
        .collect();
    v.sort();
    v
}

fn verify(store: &Path) -> u64 {
    let ran = run(cab_cmd(store, "requester", LATER).args(["--json", "verify"]));
    ran.expect_code(0, "cab verify");
    assert!(!ran.stderr.contains("incomplete"), "no torn line: {ran:#?}");
    ran.json()["events"].as_u64().expect("an event count")
}

fn expired_recorded(store: &Path) -> usize {
    let bytes = std::fs::read(store).expect("read the store");
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| l.contains("\"exception_expired\""))
        .count()
}

#[test]
fn cleanup_on_a_nearly_full_disk_records_all_twenty_expiries_or_none() {
    let Some(fs) = Tmpfs::mount("1m") else { return };
    let store = fs.path().join("store.jsonl");
    expiring(&store, 20);
    let before = std::fs::read(&store).expect("read");
    // Room for a few of the twenty lines, not for all of them.
    let filler = fs.fill(4096);
    let ran = run(cab_cmd(&store, "cab_member", LATER).arg("cleanup"));
    assert_one_sentence_failure(&ran, "No space left on device", "cleanup on a full disk");
    assert_eq!(
        expired_recorded(&store),
        0,
        "none of the twenty is recorded"
    );
    assert_eq!(
        std::fs::read(&store).expect("read"),
        before,
        "the store as it was"
    );

    std::fs::remove_file(&filler).expect("free the space");
    run(cab_cmd(&store, "cab_member", LATER).arg("cleanup")).expect_code(0, "cleanup");
    assert_eq!(
        expired_recorded(&store),
        20,
        "all twenty once there is room"
    );
    assert_eq!(verify(&store), 60);
    assert!(beside(&store).is_empty(), "nothing beside the store");
}

#[test]
fn cleanup_at_the_file_size_limit_records_all_twenty_expiries_or_none() {
    let dir = tempfile::tempdir().expect("a temp folder");
    let store = dir.path().join("store.jsonl");
    expiring(&store, 20);
    let before = std::fs::read(&store).expect("read");
    let limit = before.len() as u64 + 3000;
    let ran = run(limited(
        cab_cmd(&store, "cab_member", LATER).arg("cleanup"),
        limit,
    ));
    assert_one_sentence_failure(&ran, "File too large", "cleanup past the size limit");
    assert_eq!(
        std::fs::read(&store).expect("read"),
        before,
        "the store as it was"
    );

    run(cab_cmd(&store, "cab_member", LATER).arg("cleanup")).expect_code(0, "cleanup");
    assert_eq!(expired_recorded(&store), 20);
    assert_eq!(verify(&store), 60);
    assert!(beside(&store).is_empty());
}

#[test]
fn a_file_size_limit_fails_a_submit_with_one_sentence_and_exit_1_not_a_signal() {
    let dir = tempfile::tempdir().expect("a temp folder");
    let store = dir.path().join("store.jsonl");
    cab_submit(&store, "alice", "billing-r1", "20");
    let before = std::fs::read(&store).expect("read");
    for room in [0, 1, 100] {
        let mut cmd = cab_cmd(&store, "requester", NOW);
        cmd.args([
            "submit",
            "--deployment",
            "billing-r2",
            "--evidence",
            "EP-2",
            "--risk",
            "20",
        ]);
        // A signal would make `Ran` panic: "cab was killed by a signal".
        let ran = run(limited(&mut cmd, before.len() as u64 + room));
        assert_one_sentence_failure(&ran, "File too large", "submit past the size limit");
        assert_eq!(
            std::fs::read(&store).expect("read"),
            before,
            "{room}: no torn line"
        );
    }
    cab_submit(&store, "alice", "billing-r2", "20");
    assert_eq!(verify(&store), 2);
    assert!(beside(&store).is_empty(), "nothing to clean up by hand");
}

#[test]
fn failed_quarantines_on_a_full_disk_leave_no_files_and_one_once_space_is_freed() {
    let Some(fs) = Tmpfs::mount("1m") else { return };
    let store = fs.path().join("store.jsonl");
    cab_submit(&store, "alice", "billing-r1", "20");
    let whole = std::fs::read(&store).expect("read").len();
    cab_submit(&store, "alice", "billing-r2", "20");
    // A crash cut the last line: 50 of its bytes are left.
    let mut bytes = std::fs::read(&store).expect("read");
    bytes.truncate(whole + 50);
    std::fs::write(&store, &bytes).expect("write");
    let torn = bytes[whole..].to_vec();
    let filler = fs.fill(0);
    let submit = || {
        let mut cmd = cab_cmd(&store, "requester", NOW);
        cmd.args([
            "submit",
            "--deployment",
            "billing-r3",
            "--evidence",
            "EP-3",
            "--risk",
            "20",
        ]);
        run(&mut cmd)
    };
    for attempt in 0..12 {
        let ran = submit();
        assert_one_sentence_failure(&ran, "No space left on device", "quarantine on a full disk");
        assert!(
            beside(&store).is_empty(),
            "attempt {attempt}: no quarantine file left: {:?}",
            beside(&store)
        );
    }
    assert_eq!(
        std::fs::read(&store).expect("read"),
        bytes,
        "store untouched"
    );

    std::fs::remove_file(&filler).expect("free the space");
    let ran = submit();
    ran.expect_code(0, "submit once there is room");
    assert!(
        ran.stderr.contains("a crash or a failed write"),
        "the notice does not blame a crash alone: {ran:#?}"
    );
    let quarantined = store.with_file_name(format!("store.jsonl.torn-at-{whole}"));
    assert_eq!(
        beside(&store),
        vec![quarantined.clone()],
        "one quarantine file"
    );
    assert_eq!(std::fs::read(&quarantined).expect("read"), torn);
    assert_eq!(verify(&store), 2);
}

#[test]
fn a_demo_that_runs_out_of_room_leaves_an_empty_store_it_can_fill_later() {
    let Some(fs) = Tmpfs::mount("2m") else { return };
    let store = fs.path().join("store.jsonl");
    let filler = fs.fill(256 << 10);
    let demo = || {
        let mut cmd = cab_cmd(&store, "requester", NOW);
        cmd.args(["demo", "--requests", "600", "--seed", "3"]);
        run(&mut cmd)
    };
    assert_one_sentence_failure(&demo(), "No space left on device", "demo on a full disk");
    assert_eq!(std::fs::metadata(&store).expect("store").len(), 0);

    // Past the file-size limit: the same, never a signal.
    let mut cmd = cab_cmd(&store, "requester", NOW);
    cmd.args(["demo", "--requests", "600", "--seed", "3"]);
    std::fs::remove_file(&filler).expect("free the space");
    let ran = run(limited(&mut cmd, 100_000));
    assert_one_sentence_failure(&ran, "File too large", "demo past the size limit");
    assert_eq!(std::fs::metadata(&store).expect("store").len(), 0);

    demo().expect_code(0, "demo once there is room");
    assert!(verify(&store) > 600);
    assert!(beside(&store).is_empty());
}

#[test]
fn a_checkpoint_that_cannot_be_saved_on_a_full_disk_changes_no_answer() {
    let Some(cache) = Tmpfs::mount("16m") else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temp folder");
    let store = dir.path().join("store.jsonl");
    let mut demo = cab_cmd(&store, "requester", NOW);
    demo.args(["demo", "--requests", "7500", "--seed", "5"]);
    run(&mut demo).expect_code(0, "demo");
    let queue = |checkpoints: &str| {
        let mut cmd = cab_cmd(&store, "requester", NOW);
        cmd.env("CAB_CHECKPOINTS", checkpoints)
            .env("XDG_CACHE_HOME", cache.path())
            .args(["--json", "queue", "--status", "all"]);
        run(&mut cmd)
    };
    let truth = queue("off");
    truth.expect_code(0, "queue without checkpoints");
    let filler = cache.fill(0);
    let ran = queue("on");
    ran.expect_code(0, "queue while the checkpoint cannot be saved");
    assert_eq!(ran.stdout, truth.stdout, "the same answer");
    let left: Vec<_> = walk(cache.path())
        .into_iter()
        .filter(|p| p != &filler)
        .collect();
    assert!(
        left.iter()
            .all(|p| std::fs::metadata(p).is_ok_and(|m| m.len() == 0) || p.is_dir()),
        "no half-written checkpoint: {left:?}"
    );
    std::fs::remove_file(&filler).expect("free the space");
    let ran = queue("on");
    assert_eq!(ran.stdout, truth.stdout, "the same answer once it is saved");
    assert!(
        walk(cache.path())
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "ckpt")),
        "a checkpoint was saved once there was room"
    );
    assert_eq!(queue("on").stdout, truth.stdout, "and read back");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}
