//! The store read as of a moment (`--at`): the verified lines read again, on several threads for
//! a large store, must give exactly the replay of the events dated at or before the moment, and
//! a line that changed after it was verified is reported, never read.

use std::fs;
use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::file::PIPELINE_FROM;
use super::{FileStore, Replica, StoreError};
use crate::engine::{Policy, State, StoredEvent};

fn demo_store(dir: &Path, requests: usize) -> FileStore {
    let store = FileStore::new(dir.join("store.jsonl")).with_checkpoints(None);
    let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    crate::demo::fill(
        &crate::store::Store::from(store.clone()),
        requests,
        7,
        now,
        &Policy::default(),
    )
    .unwrap();
    store
}

fn stored_events(path: &Path) -> Vec<StoredEvent> {
    let text = fs::read_to_string(path).unwrap();
    let mut prev = super::line::GENESIS.to_string();
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let event = super::line::decode(line.as_bytes(), i as u64 + 1, &prev).unwrap();
            prev = event.hash.clone();
            event
        })
        .collect()
}

/// Moments to ask about: before the first event, exactly at events' times (first, middle,
/// last), a second after one, and long after the last.
fn moments(events: &[StoredEvent]) -> Vec<DateTime<Utc>> {
    let time = |i: usize| events[i].event.at;
    let (first, middle, last) = (0, events.len() / 2, events.len() - 1);
    vec![
        time(first) - Duration::days(1),
        time(first),
        time(middle),
        time(middle) + Duration::seconds(1),
        time(last) - Duration::seconds(1),
        time(last),
        time(last) + Duration::days(365),
    ]
}

fn check_every_moment(store: &FileStore) {
    let mut replica = Replica::new();
    store.refresh(&mut replica).unwrap();
    let events = stored_events(store.path());
    // Events rebuilt from the replica's records, or (without them) parsed from every line.
    let verified = replica.verified();
    let parsed = super::Verified {
        state: State::new(),
        ..verified.clone()
    };
    for at in moments(&events) {
        let expected = State::replay_as_of(&events, at).unwrap();
        let rebuilt = store.state_as_of(&verified, at).unwrap();
        assert!(rebuilt == expected, "the store rebuilt as of {at} differs");
        let read = store.state_as_of(&parsed, at).unwrap();
        assert!(read == expected, "the store parsed as of {at} differs");
    }
}

#[test]
fn a_small_store_read_as_of_a_moment_is_the_replay_of_the_events_dated_then() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path(), 40);
    assert!(fs::metadata(store.path()).unwrap().len() < PIPELINE_FROM);
    check_every_moment(&store);
}

#[test]
fn a_large_store_read_as_of_a_moment_on_several_threads_is_the_replay_of_the_events_dated_then() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path(), 6_000);
    assert!(
        fs::metadata(store.path()).unwrap().len() > PIPELINE_FROM,
        "the store is read on several threads"
    );
    check_every_moment(&store);
}

#[test]
fn an_empty_store_read_as_of_any_moment_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("none.jsonl")).with_checkpoints(None);
    let mut replica = Replica::new();
    store.refresh(&mut replica).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    assert_eq!(
        store.state_as_of(&replica.verified(), at).unwrap(),
        State::new()
    );
}

/// A line of the verified prefix rewritten afterwards, hash and chain made to fit again: the
/// line reported, and the one rewritten.
fn rewrite_after_verifying(requests: usize, line: impl Fn(usize) -> usize) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path(), requests);
    let mut replica = Replica::new();
    store.refresh(&mut replica).unwrap();
    let verified = replica.verified();
    let text = fs::read_to_string(store.path()).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let target = line(lines.len());
    lines[target - 1] = lines[target - 1].replacen("\"actor\":\"", "\"actor\":\"x", 1);
    for i in target - 1..lines.len() {
        let prev = if i == 0 {
            super::line::GENESIS.to_string()
        } else {
            let at = lines[i - 1].rfind(",\"hash\":\"").unwrap() + 9;
            lines[i - 1][at..at + 64].to_string()
        };
        let at = lines[i].rfind(",\"prev\":\"").unwrap() + 9;
        let body = format!("{}{}\"", &lines[i][..at], prev);
        let hash = super::line::sha256_hex(body.as_bytes());
        lines[i] = format!("{body},\"hash\":\"{hash}\"}}");
    }
    fs::write(store.path(), lines.join("\n") + "\n").unwrap();
    let far = Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap();
    match store.state_as_of(&verified, far) {
        Err(StoreError::Corrupt { line, .. }) => (line, target as u64),
        other => panic!("a rewritten line was read: {other:?}"),
    }
}

#[test]
fn a_line_rewritten_after_it_was_verified_is_reported_at_its_line_not_read() {
    let (reported, rewritten) = rewrite_after_verifying(40, |_| 7);
    assert_eq!(reported, rewritten);
    let (reported, rewritten) = rewrite_after_verifying(6_000, |n| n - 500);
    assert_eq!(
        reported, rewritten,
        "deep in a large store, read on several threads"
    );
}
