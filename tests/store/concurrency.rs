//! Many `cab` processes on one store at once: every acknowledged write is there, the chain is
//! whole and contiguous, readers never see half a line, and of two reviewers deciding one
//! request at the same moment exactly one wins while the other is told who did.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use cab::backend::Backend;
use cab::engine::Role;
use cab::store::{FileStore, Replica};

use crate::support::store::*;

#[test]
fn eight_processes_submitting_at_once_lose_nothing_and_keep_a_contiguous_chain() {
    const PROCESSES: usize = 8;
    const EACH: usize = 15;
    let dir = tempfile::tempdir().expect("a temp folder");
    // Neither the folder nor the store exists yet: the writers also race to create them.
    let store = dir.path().join("shared").join("store.jsonl");
    let start = Arc::new(Barrier::new(PROCESSES));
    let workers: Vec<_> = (0..PROCESSES)
        .map(|p| {
            let store = store.clone();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                (0..EACH)
                    .map(|i| {
                        // Scores on both sides of the auto-approve threshold, so that both kinds
                        // of submission event interleave.
                        let risk = format!("{}", 40 + (p * EACH + i) % 30);
                        cab_submit(&store, &format!("user{p}"), &format!("svc{p}-r{i}"), &risk)
                    })
                    .collect::<Vec<String>>()
            })
        })
        .collect();
    let acknowledged: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("a writer thread panicked"))
        .collect();
    let total = PROCESSES * EACH;
    assert_eq!(acknowledged.len(), total);

    let verify = cab_run(&store, "alice", "requester", &["--json", "verify"]);
    verify.expect_code(0, "cab verify after concurrent writers");
    let report = verify.json();
    assert_eq!(report["events"], total as u64);
    assert_eq!(report["requests"], total as u64);
    assert_eq!(report["torn_tail"], serde_json::Value::Null);

    let lines = parsed_lines(&store);
    let seqs: Vec<u64> = lines
        .iter()
        .map(|l| l["seq"].as_u64().expect("a seq"))
        .collect();
    assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>(), "seq is 1..=N");

    let stored: Vec<String> = submitted_ids(&store);
    let stored_set: BTreeSet<&String> = stored.iter().collect();
    assert_eq!(stored_set.len(), total, "no request is stored twice");
    for id in &acknowledged {
        assert!(
            stored_set.contains(id),
            "acknowledged request {id} is not in the store"
        );
    }
}

#[test]
fn readers_running_alongside_writers_never_see_a_partial_line_or_a_broken_chain() {
    const WRITERS: usize = 4;
    const EACH: usize = 10;
    let dir = tempfile::tempdir().expect("a temp folder");
    let store = dir.path().join("store.jsonl");
    cab_submit(&store, "first", "first-r1", "60");

    let done = Arc::new(AtomicBool::new(false));
    // Readers through the binary: `cab verify` reads the whole file under a shared lock.
    let process_reader = {
        let (store, done) = (store.clone(), Arc::clone(&done));
        thread::spawn(move || {
            let mut runs = 0u32;
            let mut last = 0u64;
            loop {
                // Read `done` before looking, so that the last look sees every write.
                let finished = done.load(Ordering::SeqCst);
                let ran = cab_run(&store, "reader", "requester", &["--json", "verify"]);
                ran.expect_code(0, "cab verify while others write");
                let body = ran.json();
                assert_eq!(
                    body["torn_tail"],
                    serde_json::Value::Null,
                    "a reader saw half of a line being written: {ran:#?}"
                );
                let events = body["events"].as_u64().expect("events");
                assert!(
                    events >= last,
                    "the store went backwards: {last} -> {events}"
                );
                last = events;
                runs += 1;
                if finished && runs >= 3 {
                    break;
                }
            }
            last
        })
    };
    // A long-lived reader in this process: a replica that only reads what was appended since.
    let replica_reader = {
        let (store, done) = (store.clone(), Arc::clone(&done));
        thread::spawn(move || {
            let fs = FileStore::new(&store);
            let mut replica = Replica::new();
            let mut rounds = 0u32;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let before = replica.head_seq();
                fs.refresh(&mut replica)
                    .unwrap_or_else(|e| panic!("refresh while others write: {e}"));
                assert_eq!(
                    replica.torn, None,
                    "a reader saw half of a line being written"
                );
                assert!(replica.head_seq() >= before);
                assert_eq!(replica.state.request_count() as u64, replica.head_seq());
                rounds += 1;
                if finished && rounds >= 3 {
                    break;
                }
                // Leave the cores to the writers between looks.
                thread::sleep(std::time::Duration::from_millis(1));
            }
            replica.head_seq()
        })
    };

    let start = Arc::new(Barrier::new(WRITERS));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, start) = (store.clone(), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                for i in 0..EACH {
                    cab_submit(&store, &format!("w{w}"), &format!("w{w}-r{i}"), "60");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("a writer thread panicked");
    }
    done.store(true, Ordering::SeqCst);
    let seen_by_process = process_reader.join().expect("the process reader failed");
    let seen = replica_reader.join().expect("the replica reader failed");
    let total = (1 + WRITERS * EACH) as u64;
    assert_eq!(
        seen_by_process, total,
        "cab verify saw every write in the end"
    );
    assert_eq!(
        seen, total,
        "the long-lived reader caught up with every write"
    );
    let report = FileStore::new(&store).verify().expect("verify");
    assert_eq!((report.events, report.torn), (total, None));
}

#[test]
fn two_reviewers_deciding_one_request_at_once_exactly_one_wins_and_the_other_names_the_winner() {
    const ROUNDS: usize = 20;
    let dir = tempfile::tempdir().expect("a temp folder");
    let store = dir.path().join("store.jsonl");
    let alice = backend(&store, "alice", &[Role::Requester]);
    let ids: Vec<String> = (0..ROUNDS)
        .map(|i| {
            alice
                .submit(submission(&format!("race-r{i}"), "race", 60.0))
                .expect("submit")
                .request
                .id
                .to_string()
        })
        .collect();

    // carol approves, dave rejects; each round both start at the same moment.
    let reviewers: [(&str, &str, &str); 2] = [
        ("carol", "approve", "approved"),
        ("dave", "reject", "rejected"),
    ];
    let mut winners = BTreeMap::new();
    for id in &ids {
        let start = Arc::new(Barrier::new(2));
        let runs: Vec<_> = reviewers
            .iter()
            .map(|&(user, verb, _)| {
                let (store, start, id) = (store.clone(), Arc::clone(&start), id.clone());
                thread::spawn(move || {
                    let mut cmd = cab(&store, user, "cab_member");
                    cmd.args(["--json", verb, &id, "--rationale", "at the same moment"]);
                    start.wait();
                    run(&mut cmd)
                })
            })
            .collect();
        let results: Vec<Ran> = runs
            .into_iter()
            .map(|r| r.join().expect("a reviewer thread panicked"))
            .collect();
        let codes: Vec<i32> = results.iter().map(|r| r.code).collect();
        let (winner, loser) = match codes.as_slice() {
            [0, 4] => (0, 1),
            [4, 0] => (1, 0),
            _ => panic!(
                "request {id}: exactly one reviewer wins and the other is refused: {results:#?}"
            ),
        };
        let (win_user, _, win_status) = reviewers[winner];
        assert_eq!(results[winner].json()["status"], win_status);
        assert_eq!(results[winner].json()["decision"]["approver"], win_user);

        let lost = &results[loser];
        assert_eq!(lost.json()["error"]["code"], "already_decided", "{lost:#?}");
        assert!(
            lost.stderr.contains("already decided")
                && lost.stderr.contains(&format!("by {win_user}"))
                && lost.stderr.contains(win_status),
            "the refusal names the winner's decision: {lost:#?}"
        );
        winners.insert(id.clone(), win_user);
    }

    let lines = parsed_lines(&store);
    let mut decisions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines.iter().filter(|l| l["type"] == "request_decided") {
        let decision = &line["data"]["decision"];
        decisions
            .entry(decision["request_id"].as_str().expect("an id").to_string())
            .or_default()
            .push(decision["approver"].as_str().expect("approver").to_string());
    }
    for id in &ids {
        assert_eq!(
            decisions.get(id).map(Vec::as_slice),
            Some(&[winners[id].to_string()][..]),
            "request {id} has exactly one decision, the winner's"
        );
    }
    assert_eq!(lines.len(), 2 * ROUNDS);
    cab_run(&store, "alice", "requester", &["verify"]).expect_code(0, "verify");
}
