//! Group commit: appends write their lines under the store's lock and make them durable after
//! releasing it, one fsync covering every line written before it started. A write is never
//! acknowledged without an fsync that covers it, and an fsync that covers it is never skipped.

use cab::engine::rules::{self, Command, Ctx, RandomIds, Submission};
use cab::engine::{Actor, Event, Policy};
use cab::store::{AppendError, FileStore, Replica};

fn submission(n: usize) -> Command {
    Command::Submit(Submission {
        deployment_intent_id: format!("svc-r{n}").into(),
        evidence_package_id: format!("EP-{n}").into(),
        title: None,
        risk_score: 60.0,
        risk_factors: Default::default(),
        correlation_id: None,
    })
}

fn judge(n: usize) -> impl FnMut(&Replica) -> Result<(Vec<Event>, ()), String> {
    move |replica| {
        let actor = Actor::new("dana", []).unwrap();
        let policy = Policy::default();
        let ctx = Ctx {
            actor: &actor,
            now: cab::engine::time::parse("2026-11-28T12:00:00Z").unwrap(),
            policy: &policy,
        };
        rules::handle(&replica.state, &submission(n), &ctx, &mut RandomIds)
            .map(|events| (events, ()))
            .map_err(|e| e.to_string())
    }
}

fn store() -> (tempfile::TempDir, FileStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("store.jsonl")).with_checkpoints(None);
    (dir, store)
}

fn unwrap<T>(r: Result<T, AppendError<String>>) -> T {
    match r {
        Ok(t) => t,
        Err(AppendError::Store(e)) => panic!("store: {e}"),
        Err(AppendError::Refused(e)) => panic!("refused: {e}"),
    }
}

#[test]
fn one_fsync_covers_every_line_written_before_it_started() {
    let (_dir, store) = store();
    let mut replica = Replica::new();
    let (_, first) = unwrap(store.append_unsynced(&mut replica, judge(1)));
    let (_, second) = unwrap(store.append_unsynced(&mut replica, judge(2)));
    let (_, third) = unwrap(store.append_unsynced(&mut replica, judge(3)));
    assert_eq!(store.fsyncs(), 0, "nothing is synced before sync is called");
    store.sync(second).unwrap();
    assert_eq!(store.fsyncs(), 1);
    store.sync(first).unwrap();
    store.sync(third).unwrap();
    assert_eq!(
        store.fsyncs(),
        1,
        "the first fsync covered all three lines: they were written before it started"
    );
    assert_eq!(store.verify().unwrap().events, 3);
}

#[test]
fn a_line_written_after_an_fsync_started_gets_its_own() {
    let (_dir, store) = store();
    let mut replica = Replica::new();
    let (_, first) = unwrap(store.append_unsynced(&mut replica, judge(1)));
    store.sync(first).unwrap();
    let (_, later) = unwrap(store.append_unsynced(&mut replica, judge(2)));
    store.sync(later).unwrap();
    assert_eq!(
        store.fsyncs(),
        2,
        "the later line was not covered by the first fsync"
    );
}

#[test]
fn append_syncs_every_write_it_acknowledges() {
    let (_dir, store) = store();
    let mut replica = Replica::new();
    for n in 0..4 {
        unwrap(store.append(&mut replica, judge(n)));
        assert_eq!(
            store.fsyncs(),
            n as u64 + 1,
            "write {n} was acknowledged unsynced"
        );
    }
}

#[test]
fn a_refused_or_empty_append_needs_no_fsync() {
    let (_dir, store) = store();
    let mut replica = Replica::new();
    unwrap(store.append(&mut replica, judge(1)));
    let refused = store.append(&mut replica, |_| {
        Err::<(Vec<Event>, ()), _>("no".to_string())
    });
    assert!(matches!(refused, Err(AppendError::Refused(_))));
    unwrap(store.append(&mut replica, |_| Ok::<_, String>((Vec::new(), ()))));
    assert_eq!(store.fsyncs(), 1);
}

#[test]
fn a_new_file_at_the_same_path_is_never_taken_as_already_synced() {
    let (dir, store) = store();
    let mut replica = Replica::new();
    for n in 0..3 {
        unwrap(store.append(&mut replica, judge(n)));
    }
    let before = store.fsyncs();
    // Another file takes the store's place; its first line ends well before the synced offset.
    std::fs::remove_file(dir.path().join("store.jsonl")).unwrap();
    let mut fresh = Replica::new();
    let (_, commit) = unwrap(store.append_unsynced(&mut fresh, judge(9)));
    store.sync(commit).unwrap();
    assert_eq!(store.fsyncs(), before + 1, "the new file's line was synced");
}

#[test]
fn a_store_cut_back_in_place_is_never_taken_as_already_synced() {
    // The same file (same inode, same device) emptied and written again: its new first line
    // ends before the offset this process had synced, and must be synced all the same.
    let (dir, store) = store();
    let mut replica = Replica::new();
    for n in 0..3 {
        unwrap(store.append(&mut replica, judge(n)));
    }
    let before = store.fsyncs();
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("store.jsonl"))
        .unwrap()
        .set_len(0)
        .unwrap();
    let mut fresh = Replica::new();
    let (_, commit) = unwrap(store.append_unsynced(&mut fresh, judge(9)));
    store.sync(commit).unwrap();
    assert_eq!(
        store.fsyncs(),
        before + 1,
        "the line in the emptied file was synced"
    );
}
