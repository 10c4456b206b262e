//! A last line cut off by a crash, at every possible byte: readers report it and never read it
//! as data; the next writer moves exactly those bytes to a quarantine file beside the store,
//! says so, appends, and every earlier event is intact.

use std::path::{Path, PathBuf};

use cab::backend::Backend;
use cab::engine::{RequestFilter, Role};
use cab::store::{FileStore, Replica, TornTail};
use tempfile::TempDir;
use uuid::Uuid;

use crate::support::store::*;

/// A fixture store's bytes, split into the complete lines before the last one and the last one
/// (without its `\n`), plus the id of the request the last line submits.
struct Base {
    prefix: Vec<u8>,
    last: Vec<u8>,
    last_id: Uuid,
    last_deployment: &'static str,
    events: u64,
}

fn base() -> Base {
    let dir = tempfile::tempdir().expect("a temp folder");
    let store = dir.path().join("store.jsonl");
    let fixture = fixture(&store);
    let bytes = read(&store);
    let lines = split_lines(&bytes);
    let last = lines.last().expect("lines").clone();
    let last_json: serde_json::Value = serde_json::from_slice(&last).expect("JSON");
    assert_eq!(last_json["type"], "request_submitted");
    assert_eq!(
        last_json["data"]["request"]["deployment_intent_id"],
        "billing-r1"
    );
    Base {
        prefix: bytes[..bytes.len() - last.len()].to_vec(),
        last: last[..last.len() - 1].to_vec(),
        last_id: last_json["data"]["request"]["id"]
            .as_str()
            .expect("an id")
            .parse()
            .expect("a UUID"),
        last_deployment: "billing-r1",
        events: fixture.events,
    }
}

/// A store holding `base`'s complete lines and the first `k` bytes of its last line.
fn torn_store(dir: &Path, base: &Base, k: usize) -> PathBuf {
    let store = dir.join("store.jsonl");
    let mut bytes = base.prefix.clone();
    bytes.extend_from_slice(&base.last[..k]);
    write(&store, &bytes);
    store
}

fn expected_torn(base: &Base, k: usize) -> TornTail {
    TornTail {
        line: base.events,
        offset: base.prefix.len() as u64,
        len: k as u64,
    }
}

/// Every reader of the library sees the complete lines only and reports the torn bytes.
fn assert_readers_report_torn(store: &Path, base: &Base, k: usize) {
    let fs = FileStore::new(store);
    let torn = Some(expected_torn(base, k));

    let report = fs
        .verify()
        .unwrap_or_else(|e| panic!("cut at {k}: verify failed: {e}"));
    assert_eq!(report.events, base.events - 1, "cut at {k}");
    assert_eq!(report.bytes, base.prefix.len() as u64, "cut at {k}");
    assert_eq!(
        report.torn, torn,
        "cut at {k}: verify reports the torn tail"
    );

    let mut replica = Replica::new();
    fs.refresh(&mut replica)
        .unwrap_or_else(|e| panic!("cut at {k}: refresh failed: {e}"));
    assert_eq!(replica.head_seq(), base.events - 1, "cut at {k}");
    assert_eq!(
        replica.torn, torn,
        "cut at {k}: refresh reports the torn tail"
    );
    assert!(
        replica.state.request(&base.last_id).is_none(),
        "cut at {k}: the torn line was read as data"
    );

    let scan = fs
        .scan_deployment(base.last_deployment)
        .unwrap_or_else(|e| panic!("cut at {k}: scan failed: {e}"));
    assert_eq!(scan.head, base.events - 1, "cut at {k}");
    assert_eq!(
        scan.torn, torn,
        "cut at {k}: the scan reports the torn tail"
    );
    assert_eq!(
        scan.state.request_count(),
        0,
        "cut at {k}: the scan read the torn line as data"
    );
}

#[test]
fn every_cut_of_the_last_line_is_reported_by_readers_and_never_read_as_data() {
    let base = base();
    let dir = tempfile::tempdir().expect("a temp folder");
    // k = len is the whole line without its '\n': still torn, never data.
    for k in 1..=base.last.len() {
        let store = torn_store(dir.path(), &base, k);
        let before = read(&store);
        assert_readers_report_torn(&store, &base, k);

        let reader = backend(&store, "carol", &[Role::CabMember]);
        let all = reader
            .requests(RequestFilter::All, None)
            .unwrap_or_else(|e| panic!("cut at {k}: listing failed: {e}"));
        assert_eq!(all.len(), 4, "cut at {k}: the torn request was listed");
        let notices = reader.take_notices();
        assert!(
            notices.iter().any(|n| n.contains("incomplete")),
            "cut at {k}: a reader reports the torn line: {notices:?}"
        );

        assert_eq!(
            read(&store),
            before,
            "cut at {k}: a reader changed the file"
        );
        assert!(
            quarantine_files(&store).is_empty(),
            "cut at {k}: a reader quarantined"
        );
    }
}

#[test]
fn every_cut_of_the_last_line_is_quarantined_by_the_next_writer_which_then_appends() {
    let base = base();
    // Several folders so that the fsyncs of the cuts can overlap; every cut is still checked.
    const WORKERS: usize = 4;
    let base = &base;
    std::thread::scope(|scope| {
        for worker in 0..WORKERS {
            scope.spawn(move || {
                let dir = tempfile::tempdir().expect("a temp folder");
                for k in (1..=base.last.len()).filter(|k| k % WORKERS == worker) {
                    writer_quarantines_cut(dir.path(), base, k);
                }
            });
        }
    });
}

fn writer_quarantines_cut(dir: &Path, base: &Base, k: usize) {
    let store = torn_store(dir, base, k);
    let writer = backend(&store, "bob", &[Role::Requester]);
    let view = writer
        .submit(submission("after-crash-r1", "after the crash", 10.0))
        .unwrap_or_else(|e| panic!("cut at {k}: the writer failed: {e}"));

    let quarantined = quarantine_files(&store);
    let expected_path = dir.join(format!("store.jsonl.torn-at-{}", base.prefix.len()));
    assert_eq!(
        quarantined,
        vec![expected_path.clone()],
        "cut at {k}: one quarantine file"
    );
    assert_eq!(
        read(&expected_path),
        &base.last[..k],
        "cut at {k}: exactly the torn bytes were quarantined"
    );
    let notices = writer.take_notices();
    assert!(
        notices
            .iter()
            .any(|n| n.contains(&expected_path.display().to_string())),
        "cut at {k}: the writer says where the torn bytes went: {notices:?}"
    );

    let bytes = read(&store);
    assert!(
        bytes.starts_with(&base.prefix),
        "cut at {k}: an earlier event changed"
    );
    let appended = split_lines(&bytes[base.prefix.len()..]);
    assert_eq!(appended.len(), 1, "cut at {k}: one new line");
    let new_line: serde_json::Value = serde_json::from_slice(&appended[0]).expect("JSON");
    assert_eq!(new_line["seq"], base.events, "cut at {k}");
    assert_eq!(
        new_line["data"]["request"]["id"],
        view.request.id.to_string()
    );

    let report = FileStore::new(&store).verify().unwrap_or_else(|e| {
        panic!("cut at {k}: the store fails verification after the write: {e}")
    });
    assert_eq!(report.events, base.events, "cut at {k}");
    assert_eq!(report.torn, None, "cut at {k}");

    std::fs::remove_file(&expected_path).expect("remove the quarantine file");
}

#[test]
fn a_store_whose_only_line_is_torn_is_reported_and_then_quarantined_at_offset_0() {
    let dir = tempfile::tempdir().expect("a temp folder");
    let store = dir.path().join("store.jsonl");
    let alice = backend(&store, "alice", &[Role::Requester]);
    alice
        .submit(submission("solo-r1", "only line", 60.0))
        .expect("submit");
    let line = read(&store);
    let line = &line[..line.len() - 1];
    for k in [1, 2, line.len() / 2, line.len() - 1, line.len()] {
        write(&store, &line[..k]);
        let report = FileStore::new(&store).verify().expect("verify");
        assert_eq!(report.events, 0, "cut at {k}");
        assert_eq!(
            report.torn,
            Some(TornTail {
                line: 1,
                offset: 0,
                len: k as u64
            })
        );

        let writer = backend(&store, "bob", &[Role::Requester]);
        writer
            .submit(submission("next-r1", "next", 10.0))
            .expect("submit after the crash");
        let quarantine = dir.path().join("store.jsonl.torn-at-0");
        assert_eq!(read(&quarantine), &line[..k], "cut at {k}");
        let lines = parsed_lines(&store);
        assert_eq!(lines.len(), 1, "cut at {k}");
        assert_eq!(lines[0]["seq"], 1);
        assert_eq!(lines[0]["prev"], cab::store::line::GENESIS);
        let report = FileStore::new(&store).verify().expect("verify");
        assert_eq!((report.events, report.torn), (1, None), "cut at {k}");
        std::fs::remove_file(&quarantine).expect("remove");
    }
}

#[test]
fn cutting_the_store_at_any_byte_leaves_a_verifiable_prefix_of_whole_lines() {
    let base = base();
    // The first four lines (submissions and a decision) keep this quadratic loop quick.
    let whole: Vec<u8> = split_lines(&base.prefix)[..4].concat();
    let dir = tempfile::tempdir().expect("a temp folder");
    let store = dir.path().join("store.jsonl");
    for cut in 0..=whole.len() {
        write(&store, &whole[..cut]);
        let complete = whole[..cut].iter().filter(|&&b| b == b'\n').count() as u64;
        let line_end = whole[..cut]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let report = FileStore::new(&store)
            .verify()
            .unwrap_or_else(|e| panic!("cut at byte {cut}: {e}"));
        assert_eq!(report.events, complete, "cut at byte {cut}");
        assert_eq!(report.bytes, line_end as u64, "cut at byte {cut}");
        let expected = (cut > line_end).then_some(TornTail {
            line: complete + 1,
            offset: line_end as u64,
            len: (cut - line_end) as u64,
        });
        assert_eq!(report.torn, expected, "cut at byte {cut}");
    }
}

// ---- Through the binary ----

struct TornStore {
    _dir: TempDir,
    store: PathBuf,
    base: Base,
}

fn torn_binary_store(k: impl FnOnce(usize) -> usize) -> (TornStore, usize) {
    let base = base();
    let dir = tempfile::tempdir().expect("a temp folder");
    let k = k(base.last.len());
    let store = torn_store(dir.path(), &base, k);
    (
        TornStore {
            _dir: dir,
            store,
            base,
        },
        k,
    )
}

#[test]
fn cab_verify_passes_and_reports_a_torn_tail_at_sampled_cuts() {
    let base = base();
    let dir = tempfile::tempdir().expect("a temp folder");
    let len = base.last.len();
    for k in [
        1,
        9,
        10,
        11,
        len / 2,
        len - 75,
        len - 66,
        len - 2,
        len - 1,
        len,
    ] {
        let store = torn_store(dir.path(), &base, k);
        let before = read(&store);

        let text = cab_run(&store, "alice", "requester", &["verify"]);
        text.expect_code(0, &format!("cab verify, cut at {k}"));
        assert!(
            text.stdout
                .contains(&format!("line {}, {k} bytes) is incomplete", base.events)),
            "cut at {k}: verify reports the torn line: {text:#?}"
        );

        let json = cab_run(&store, "alice", "requester", &["--json", "verify"]);
        json.expect_code(0, &format!("cab --json verify, cut at {k}"));
        let body = json.json();
        assert_eq!(body["events"], base.events - 1, "cut at {k}");
        assert_eq!(body["torn_tail"]["line"], base.events, "cut at {k}");
        assert_eq!(
            body["torn_tail"]["offset"],
            base.prefix.len() as u64,
            "cut at {k}"
        );
        assert_eq!(body["torn_tail"]["bytes"], k as u64, "cut at {k}");

        assert_eq!(
            read(&store),
            before,
            "cut at {k}: cab verify changed the file"
        );
    }
}

#[test]
fn cab_submit_quarantines_a_torn_tail_says_so_on_stderr_and_appends_at_sampled_cuts() {
    let base = base();
    let len = base.last.len();
    for k in [1, len / 3, len - 67, len - 1, len] {
        let dir = tempfile::tempdir().expect("a temp folder");
        let store = torn_store(dir.path(), &base, k);
        let ran = cab_run(
            &store,
            "bob",
            "requester",
            &[
                "--json",
                "submit",
                "--deployment",
                "after-crash-r1",
                "--evidence",
                "e",
                "--risk",
                "60",
            ],
        );
        ran.expect_code(0, &format!("cab submit, cut at {k}"));
        let q = dir
            .path()
            .join(format!("store.jsonl.torn-at-{}", base.prefix.len()));
        assert!(
            ran.stderr
                .contains(&format!("line {}, {k} bytes", base.events))
                && ran.stderr.contains(&q.display().to_string()),
            "cut at {k}: the writer says what it moved where: {ran:#?}"
        );
        assert_eq!(read(&q), &base.last[..k], "cut at {k}");
        let bytes = read(&store);
        assert!(bytes.starts_with(&base.prefix), "cut at {k}");
        let ids = submitted_ids(&store);
        assert_eq!(
            ids.last().map(String::as_str),
            ran.json()["id"].as_str(),
            "cut at {k}: the new request is the last line"
        );
        let verify = cab_run(&store, "alice", "requester", &["--json", "verify"]);
        verify.expect_code(0, &format!("verify after the quarantine, cut at {k}"));
        assert_eq!(verify.json()["events"], base.events, "cut at {k}");
        assert_eq!(verify.json()["torn_tail"], serde_json::Value::Null);
    }
}

#[test]
fn a_complete_line_missing_only_its_newline_is_torn_not_data() {
    let (t, k) = torn_binary_store(|len| len);
    let id = t.base.last_id.to_string();

    // Readers: not in the queue, unknown to show, reported on stderr.
    let show = cab_run(&t.store, "carol", "cab_member", &["show", &id]);
    show.expect_code(2, "cab show of the torn request");
    assert!(show.stderr.contains("incomplete"), "{show:#?}");
    let queue = cab_run(&t.store, "carol", "cab_member", &["--json", "queue"]);
    queue.expect_code(0, "cab queue on a torn store");
    assert!(
        !queue.stdout.contains(&id),
        "the torn request is queued: {queue:#?}"
    );
    assert!(queue.stderr.contains("incomplete"), "{queue:#?}");
    let status = cab_run(
        &t.store,
        "carol",
        "cab_member",
        &["--json", "status", t.base.last_deployment],
    );
    status.expect_code(0, "cab status on a torn store");
    assert_eq!(status.json()["request"], serde_json::Value::Null);
    assert!(status.stderr.contains("incomplete"), "{status:#?}");

    // Deciding the torn request is deciding a request that does not exist.
    let approve = cab_run(
        &t.store,
        "carol",
        "cab_member",
        &["approve", &id, "--rationale", "ok"],
    );
    approve.expect_code(2, "approving the torn request");
    assert!(
        quarantine_files(&t.store).is_empty(),
        "a refused command quarantined"
    );

    // The next writer quarantines the whole line and says so.
    let submitted = cab_run(
        &t.store,
        "bob",
        "requester",
        &[
            "--json",
            "submit",
            "--deployment",
            "x",
            "--evidence",
            "e",
            "--risk",
            "60",
        ],
    );
    submitted.expect_code(0, "cab submit after a crash");
    let q = t
        .store
        .with_file_name(format!("store.jsonl.torn-at-{}", t.base.prefix.len()));
    assert!(
        submitted.stderr.contains(&q.display().to_string()),
        "the writer names the quarantine file on stderr: {submitted:#?}"
    );
    assert_eq!(read(&q), &t.base.last[..k]);
    let verify = cab_run(&t.store, "alice", "requester", &["--json", "verify"]);
    verify.expect_code(0, "verify after the quarantine");
    assert_eq!(verify.json()["events"], t.base.events);
    assert_eq!(verify.json()["torn_tail"], serde_json::Value::Null);
    assert!(!submitted_ids(&t.store).contains(&id));
}

#[test]
fn read_commands_on_a_torn_store_succeed_warn_and_change_nothing() {
    let (t, _) = torn_binary_store(|len| len / 3);
    let before = read(&t.store);
    for args in [
        vec!["queue"],
        vec!["queue", "--status", "all"],
        vec!["exception", "list"],
        vec!["status", "payments-api-r1"],
        vec!["audit", "export"],
        vec!["verify"],
    ] {
        let ran = cab_run(&t.store, "carol", "cab_member", &args);
        ran.expect_code(0, &format!("cab {args:?} on a torn store"));
        if args != ["verify"] {
            assert!(
                ran.stderr.contains("incomplete"),
                "cab {args:?} reports the torn line: {ran:#?}"
            );
        }
        assert_eq!(read(&t.store), before, "cab {args:?} changed the store");
    }
    assert!(quarantine_files(&t.store).is_empty());
}

#[test]
fn a_refused_write_on_a_torn_store_leaves_the_torn_bytes_in_place() {
    let (t, _) = torn_binary_store(|len| len - 10);
    let before = read(&t.store);
    let lines = parsed_lines_prefix(&t.base.prefix);
    let pending = lines[0]["data"]["request"]["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let ran = cab_run(
        &t.store,
        "dave",
        "requester",
        &["approve", &pending, "--rationale", "ok"],
    );
    ran.expect_code(4, "approve without the role");
    assert_eq!(read(&t.store), before);
    assert!(quarantine_files(&t.store).is_empty());
}

fn parsed_lines_prefix(prefix: &[u8]) -> Vec<serde_json::Value> {
    split_lines(prefix)
        .iter()
        .map(|l| serde_json::from_slice(l).expect("JSON"))
        .collect()
}

#[test]
fn a_second_torn_tail_at_the_same_offset_gets_its_own_quarantine_file() {
    let (t, k) = torn_binary_store(|len| len / 2);
    let offset = t.base.prefix.len();
    cab_submit(&t.store, "bob", "first-r1", "60");
    // The line just written is torn too (a second crash at the same place).
    let bytes = read(&t.store);
    let second_torn = bytes[offset..bytes.len() - 5].to_vec();
    write(&t.store, &bytes[..bytes.len() - 5]);
    cab_submit(&t.store, "bob", "second-r1", "60");

    let first = t
        .store
        .with_file_name(format!("store.jsonl.torn-at-{offset}"));
    let second = t
        .store
        .with_file_name(format!("store.jsonl.torn-at-{offset}.1"));
    assert_eq!(
        quarantine_files(&t.store),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        read(&first),
        &t.base.last[..k],
        "the first is kept as it was"
    );
    assert_eq!(read(&second), second_torn);
    cab_run(&t.store, "alice", "requester", &["verify"]).expect_code(0, "verify");
}
