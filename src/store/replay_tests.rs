//! Long runs of lines are read on every core (blocks of lines parsed on several threads, then
//! linked, re-judged and applied in order on one): the result must be exactly what reading them
//! one by one gives, and a damaged or rule-breaking line is reported at its own line number with
//! the same words, whichever thread finds it. Stores here are larger than the size from which
//! the parallel reading starts.

use std::fs;
use std::path::Path;

use chrono::{TimeZone, Utc};

use super::file::PIPELINE_FROM;
use super::{FileStore, Replica, StoreError};
use crate::engine::{Policy, State};

fn demo_store(dir: &Path) -> FileStore {
    let store = FileStore::new(dir.join("store.jsonl")).with_checkpoints(None);
    let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    crate::demo::fill(
        &crate::store::Store::from(store.clone()),
        6_000,
        7,
        now,
        &Policy::default(),
    )
    .unwrap();
    let len = fs::metadata(store.path()).unwrap().len();
    assert!(
        len > PIPELINE_FROM,
        "the store ({len} bytes) is read on two threads"
    );
    store
}

/// The events of the store's lines, replayed one by one without the store's reader.
fn replayed_line_by_line(path: &Path) -> State {
    let text = fs::read_to_string(path).unwrap();
    let mut state = State::new();
    let mut prev = super::line::GENESIS.to_string();
    for (i, line) in text.lines().enumerate() {
        let event = super::line::decode(line.as_bytes(), i as u64 + 1, &prev).unwrap();
        prev = event.hash.clone();
        crate::engine::admit(&mut state, event.seq, event.event).unwrap();
    }
    state
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Give line `from` (1-based) and every later one a correct `prev` and `hash` again.
fn rechain_from(lines: &mut [String], from: usize) {
    for i in from - 1..lines.len() {
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
}

fn failing_line(store: &FileStore) -> (u64, String) {
    let mut replica = Replica::new();
    match store.refresh(&mut replica) {
        Err(StoreError::Corrupt { line, reason, .. }) => (line, reason),
        other => panic!("expected the store to fail verification, got {other:?}"),
    }
}

#[test]
fn reading_on_two_threads_gives_the_state_of_reading_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path());
    let mut replica = Replica::new();
    store.refresh(&mut replica).unwrap();
    assert_eq!(replica.state, replayed_line_by_line(store.path()));
    assert_eq!(replica.head_seq(), lines(store.path()).len() as u64);
    assert_eq!(store.verify().unwrap().events, replica.head_seq());
}

#[test]
fn an_edited_line_deep_in_a_large_store_is_reported_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path());
    let mut all = lines(store.path());
    let target = all.len() - 700;
    all[target - 1] = all[target - 1].replacen("\"v\":1", "\"v\":1 ", 1);
    write_lines(store.path(), &all);
    assert_eq!(failing_line(&store).0, target as u64);
}

#[test]
fn a_rechained_rule_breaking_line_deep_in_a_large_store_is_reported_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path());
    let mut all = lines(store.path());
    // The first decision after line 3000: its approver becomes the request's own requester.
    let target = (3000..all.len())
        .find(|&i| all[i].contains("\"type\":\"request_decided\""))
        .unwrap();
    let actor_at = all[target].find("\"actor\":\"").unwrap() + 9;
    let actor_end = actor_at + all[target][actor_at..].find('"').unwrap();
    let approver = all[target][actor_at..actor_end].to_string();
    let request_id = {
        let at = all[target].find("\"request_id\":\"").unwrap() + 14;
        all[target][at..at + 36].to_string()
    };
    let submitted = all
        .iter()
        .find(|l| l.contains(&format!("\"request\":{{\"id\":\"{request_id}\"")))
        .unwrap();
    let at = submitted.find("\"requested_by\":\"").unwrap() + 16;
    let requester = &submitted[at..at + submitted[at..].find('"').unwrap()];
    all[target] = all[target]
        .replace(
            &format!("\"actor\":\"{approver}\""),
            &format!("\"actor\":\"{requester}\""),
        )
        .replace(
            &format!("\"approver\":\"{approver}\""),
            &format!("\"approver\":\"{requester}\""),
        );
    rechain_from(&mut all, target + 1);
    write_lines(store.path(), &all);
    let (line, reason) = failing_line(&store);
    assert_eq!(line, target as u64 + 1);
    assert!(reason.contains("separation_of_duties"), "{reason}");
    // An earlier broken line is the one reported, though the parser reads ahead of it.
    let early = 40;
    all[early - 1] = all[early - 1].replacen("\"v\":1", "\"v\":1 ", 1);
    write_lines(store.path(), &all);
    assert_eq!(failing_line(&store).0, early as u64);
}

#[test]
fn a_torn_tail_after_a_large_store_is_reported_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path());
    let whole = lines(store.path()).len() as u64;
    let mut bytes = fs::read(store.path()).unwrap();
    bytes.extend_from_slice(b"{\"v\":1,\"seq\":");
    fs::write(store.path(), &bytes).unwrap();
    let mut replica = Replica::new();
    store.refresh(&mut replica).unwrap();
    assert_eq!(replica.head_seq(), whole);
    let torn = replica.torn.expect("the torn tail is reported");
    assert_eq!(torn.line, whole + 1);
    assert_eq!(torn.len, 13);
}

/// The first fault of a store read line by line, in order: its line and its words.
fn first_fault_line_by_line(path: &Path) -> Option<(u64, String)> {
    let text = fs::read_to_string(path).unwrap();
    let mut state = State::new();
    let mut prev = super::line::GENESIS.to_string();
    for (i, line) in text.lines().enumerate() {
        let seq = i as u64 + 1;
        let event = match super::line::decode(line.as_bytes(), seq, &prev) {
            Ok(event) => event,
            Err(e) => return Some((seq, e.to_string())),
        };
        prev = event.hash.clone();
        if let Err(e) = crate::engine::admit(&mut state, seq, event.event) {
            return Some((seq, e));
        }
    }
    None
}

/// Line `n` (1-based) with another `prev` and its own hash made right again: a line that is
/// whole by itself but does not follow the one before it.
fn relinked_wrongly(line: &str) -> String {
    let at = line.rfind(",\"prev\":\"").unwrap() + 9;
    let wrong = if &line[at..at + 1] == "f" { "e" } else { "f" };
    let body = format!("{}{}{}\"", &line[..at], wrong, &line[at + 1..at + 64]);
    let hash = super::line::sha256_hex(body.as_bytes());
    format!("{body},\"hash\":\"{hash}\"}}")
}

/// A non-canonical line (a space after the version) with its own hash made right again.
fn respelled(line: &str) -> String {
    let body_end = line.rfind(",\"hash\":\"").unwrap();
    let body = line[..body_end].replacen("\"v\":1", "\"v\": 1", 1);
    let hash = super::line::sha256_hex(body.as_bytes());
    format!("{body},\"hash\":\"{hash}\"}}")
}

#[test]
fn faults_where_the_parsers_blocks_meet_are_reported_as_a_line_by_line_read_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path());
    let original = lines(store.path());
    // The lines around the first two block boundaries (blocks are BLOCK bytes of whole
    // lines): a block's first line is linked to the one before by the applier, not its parser.
    let mut around = Vec::new();
    let mut offset = 0;
    for (i, line) in original.iter().enumerate() {
        let end = offset + line.len() + 1;
        for k in [1, 2] {
            let edge = k * super::blocks::BLOCK;
            if offset <= edge + 2_000 && end + 2_000 >= edge {
                around.push(i);
            }
        }
        offset = end;
    }
    around.dedup();
    assert!(around.len() >= 4, "{around:?}");
    type Fault = fn(&str) -> String;
    let faults: [(&str, Fault); 4] = [
        ("broken link", relinked_wrongly),
        ("broken link and not canonical", |l| {
            relinked_wrongly(&respelled(l))
        }),
        ("edited", |l| l.replacen("\"v\":1", "\"v\":2", 1)),
        ("not canonical", respelled),
    ];
    let mut submissions = 0;
    for &i in &around {
        for (name, fault) in faults {
            let mut all = original.clone();
            all[i] = fault(&all[i]);
            write_lines(store.path(), &all);
            let expected = first_fault_line_by_line(store.path()).unwrap();
            assert_eq!(failing_line(&store), expected, "{name} at line {}", i + 1);
        }
        // A submission that breaks a rule (requested by someone other than its actor), chained
        // as cab chains: found by the parser that judges it, reported as the applier would.
        if original[i].contains("\"type\":\"request_submitted\"") {
            let mut all = original.clone();
            all[i] = all[i].replacen("\"requested_by\":\"", "\"requested_by\":\"x", 1);
            rechain_from(&mut all, i + 1);
            write_lines(store.path(), &all);
            let expected = first_fault_line_by_line(store.path()).unwrap();
            assert_eq!(expected.0, i as u64 + 1, "{}", expected.1);
            assert!(expected.1.contains("breaks the rule"), "{}", expected.1);
            assert_eq!(
                failing_line(&store),
                expected,
                "submission at line {}",
                i + 1
            );
            submissions += 1;
        }
        // A line removed: the next one is out of sequence.
        let mut all = original.clone();
        all.remove(i);
        write_lines(store.path(), &all);
        assert_eq!(
            failing_line(&store),
            first_fault_line_by_line(store.path()).unwrap(),
            "line {} removed",
            i + 1
        );
    }
    assert!(submissions >= 2, "{submissions} submissions near the edges");
}
