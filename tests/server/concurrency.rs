//! Concurrency over loopback against a real `cab serve`: many clients deciding one request at
//! once, the long-poll waking on writes (through the server and by another process), and the
//! store's lock still guarding `cab` processes that write the same file while the server runs.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use cab::backend::Backend;
use serde_json::{Value, json};

use crate::support::server::{Api, NOW, Reply, World};

const CLIENTS: usize = 20;

fn decisions_for(world: &World, id: &str) -> Vec<Value> {
    world
        .store_events()
        .into_iter()
        .filter(|e| e["type"] == "request_decided" && e["data"]["decision"]["request_id"] == id)
        .collect()
}

#[test]
fn twenty_clients_deciding_one_request_at_once_exactly_one_wins_and_the_rest_get_409_naming_the_winner()
 {
    let names: Vec<String> = (0..CLIENTS).map(|i| format!("member{i:02}")).collect();
    let mut users: Vec<(&str, &[&str])> = names
        .iter()
        .map(|n| (n.as_str(), &["cab_member"][..]))
        .collect();
    users.push(("dana", &[]));
    let world = World::with_users(&users);
    let server = world.start();
    let dana = server.as_user(&world, "dana");

    for round in 0..3 {
        let id = dana.submit(&format!("payments-{round}"), 60.0);
        // Each client its own HTTP client and connection, warmed up, then all released at once.
        let barrier = Arc::new(Barrier::new(CLIENTS));
        let handles: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let api = server.as_user(&world, name);
                let barrier = barrier.clone();
                let id = id.clone();
                let name = name.clone();
                std::thread::spawn(move || {
                    api.get("/v1/healthz").expect(200, "warm-up");
                    let (verb, body) = if i % 2 == 0 {
                        ("approve", json!({"rationale": format!("{name} says yes")}))
                    } else {
                        ("reject", json!({"rationale": format!("{name} says no")}))
                    };
                    let path = format!("/v1/requests/{id}/{verb}");
                    barrier.wait();
                    (name, verb, api.post(&path, &body))
                })
            })
            .collect();
        let replies: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("a client thread"))
            .collect();

        let winners: Vec<_> = replies.iter().filter(|(_, _, r)| r.status == 200).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one decision wins: {:?}",
            replies
                .iter()
                .map(|(n, _, r)| (n, r.status))
                .collect::<Vec<_>>()
        );
        let (winner, verb, reply) = winners[0];
        let decision = &reply.json["decision"];
        assert_eq!(decision["approver"], winner.as_str());
        let expected = if *verb == "approve" {
            "approved"
        } else {
            "rejected"
        };
        assert_eq!(decision["decision"], expected);
        for (name, _, r) in replies.iter().filter(|(n, _, _)| n != winner) {
            let message = r.expect_error(409, "already_decided", &format!("{name}, round {round}"));
            assert!(
                message.contains(winner.as_str()) && message.contains(expected),
                "{name}'s refusal names the winner {winner} and what they decided: {message}"
            );
        }
        let stored = decisions_for(&world, &id);
        assert_eq!(
            stored.len(),
            1,
            "round {round}: the store holds one decision"
        );
        assert_eq!(stored[0]["data"]["decision"]["approver"], winner.as_str());
    }
    let report = world.verify();
    assert_eq!(report["events"], 6);
}

#[test]
fn the_same_post_with_the_same_idempotency_key_from_many_clients_at_once_writes_once() {
    let world = World::new();
    let server = world.start();
    let barrier = Arc::new(Barrier::new(10));
    let body =
        json!({"deployment_intent_id": "payments", "evidence_package_id": "EP", "risk_score": 60});
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let api = server.as_user(&world, "dana");
            let (barrier, body) = (barrier.clone(), body.clone());
            std::thread::spawn(move || {
                api.get("/v1/healthz").expect(200, "warm-up");
                barrier.wait();
                api.post_idem("/v1/requests", "one-key", &body)
            })
        })
        .collect();
    let replies: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("a client thread"))
        .collect();
    let first = replies[0].id();
    for reply in &replies {
        reply.expect(201, "every retry answers as the first did");
        assert_eq!(reply.id(), first, "one request for all");
    }
    assert_eq!(world.store_events().len(), 1, "written once");
    world.verify();
}

#[test]
fn a_cli_process_and_the_server_deciding_one_request_at_once_exactly_one_wins() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let carol = server.as_user(&world, "carol");
    for round in 0..4 {
        let id = dana.submit(&format!("web-{round}"), 60.0);
        let barrier = Arc::new(Barrier::new(2));
        let http = {
            let (barrier, carol, id) = (barrier.clone(), carol.clone(), id.clone());
            std::thread::spawn(move || {
                barrier.wait();
                carol.post(
                    &format!("/v1/requests/{id}/approve"),
                    &json!({"rationale": "over HTTP"}),
                )
            })
        };
        let mut cli = world.cab_command(
            NOW,
            &[
                "--store",
                world.store().to_str().expect("utf-8"),
                "--json",
                "reject",
                &id,
                "--rationale",
                "from the command line",
            ],
        );
        cli.env("CAB_USER", "martin").env("CAB_ROLES", "cab_member");
        barrier.wait();
        let cli = cli.output().expect("run cab reject");
        let http = http.join().expect("the HTTP thread");
        let cli_won = cli.status.success();
        let http_won = http.status == 200;
        assert!(
            cli_won != http_won,
            "round {round}: exactly one wins: cli {:?} {}, http {http:?}",
            cli.status,
            String::from_utf8_lossy(&cli.stderr)
        );
        if cli_won {
            let message = http.expect_error(409, "already_decided", "the server's loser");
            assert!(message.contains("martin"), "{message}");
        } else {
            assert_eq!(cli.status.code(), Some(4), "refused by a workflow rule");
            let stderr = String::from_utf8_lossy(&cli.stderr);
            assert!(
                stderr.contains("carol"),
                "the CLI's refusal names carol: {stderr}"
            );
        }
        assert_eq!(decisions_for(&world, &id).len(), 1);
    }
    world.verify();
}

/// The head of the event stream as the server sees it.
fn head(api: &Api) -> u64 {
    let reply = api.get("/v1/events?after=0&limit=1");
    reply.expect(200, "events");
    reply.json["head"].as_u64().expect("a head")
}

/// Start a long-poll for events after `after`, waiting up to 20 s; its answer and how long it
/// took, from another thread.
fn long_poll(api: &Api, after: u64) -> std::thread::JoinHandle<(Reply, Duration)> {
    let api = api.clone();
    std::thread::spawn(move || {
        let started = Instant::now();
        let reply = api.get(&format!("/v1/events?after={after}&wait=20"));
        (reply, started.elapsed())
    })
}

/// The poll answered with exactly the events after `after` up to `head`, and it woke up: it
/// returned well before its 20 s wait ran out (an enormous margin: 15 s).
fn assert_woke(reply: &Reply, took: Duration, after: u64, head: u64) {
    reply.expect(200, "the long-poll");
    let seqs: Vec<u64> = reply.json["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, ((after + 1)..=head).collect::<Vec<_>>());
    assert_eq!(reply.json["head"], head);
    assert!(
        took < Duration::from_secs(15),
        "the long-poll woke up on the write instead of waiting out its 20 s (took {took:?})"
    );
}

#[test]
fn a_long_poll_wakes_and_returns_the_new_event_when_a_write_comes_through_the_server() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    dana.submit("first", 60.0);
    dana.submit("second", 60.0);
    let before = head(&dana);
    assert_eq!(before, 2);

    let poll = long_poll(&server.as_user(&world, "carol"), before);
    // Give the poll a moment to be waiting (if it is not yet, it still must see the event).
    std::thread::sleep(Duration::from_millis(300));
    let id = dana.submit("third", 60.0);
    let (reply, took) = poll.join().expect("the poll thread");
    assert_woke(&reply, took, before, 3);
    assert_eq!(
        reply.json["events"][0]["data"]["request"]["id"],
        id.as_str()
    );
}

#[test]
fn a_long_poll_wakes_and_returns_the_new_event_when_another_cab_process_writes_the_store() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    dana.submit("first", 60.0);
    let before = head(&dana);

    // Through the real client, as the console follows a server.
    let client = server.remote(&world, "carol");
    let poll = std::thread::spawn(move || {
        let started = Instant::now();
        let page = client.events(before, Duration::from_secs(20));
        (page, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    let id = world.cli_submit("erin", "written-directly", "65");
    let (page, took) = poll.join().expect("the poll thread");
    let page = page.expect("the long-poll answers");
    assert_eq!(page.head, before + 1);
    assert_eq!(
        page.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![before + 1]
    );
    assert_eq!(page.events[0].event.actor, "erin");
    assert_eq!(page.events[0].event.kind.request_id().to_string(), id);
    assert!(
        took < Duration::from_secs(15),
        "the long-poll woke up on the other process's write instead of waiting out its 20 s (took {took:?})"
    );

    // And the same over raw HTTP.
    let poll = long_poll(&dana, before + 1);
    std::thread::sleep(Duration::from_millis(300));
    world.cli_submit("erin", "written-directly", "70");
    let (reply, took) = poll.join().expect("the poll thread");
    assert_woke(&reply, took, before + 1, before + 2);
}

#[test]
fn a_long_poll_with_nothing_written_returns_an_empty_page_with_the_head() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    dana.submit("first", 60.0);
    dana.submit("second", 60.0);
    let reply = dana.get("/v1/events?after=2&wait=1");
    reply.expect(200, "a poll that times out");
    assert_eq!(reply.json, json!({"events": [], "head": 2}));
    // On an empty store too.
    let world = World::new();
    let server = world.start();
    let reply = server
        .as_user(&world, "dana")
        .get("/v1/events?after=0&wait=1");
    reply.expect(200, "a poll on an empty store");
    assert_eq!(reply.json, json!({"events": [], "head": 0}));
    assert!(world.store_bytes().is_empty(), "a read creates nothing");
}

#[test]
fn cab_processes_and_server_posts_writing_one_store_at_once_keep_the_chain_intact_and_every_acknowledged_id()
 {
    let world = World::new();
    let server = world.start();
    let barrier = Arc::new(Barrier::new(4));
    let mut handles = Vec::new();
    for t in 0..2 {
        let api = server.as_user(&world, "dana");
        let barrier = barrier.clone();
        handles.push(std::thread::spawn(move || {
            barrier.wait();
            (0..12)
                .map(|i| api.submit(&format!("http-{t}-{i}"), 60.0))
                .collect::<Vec<_>>()
        }));
    }
    let world = Arc::new(world);
    for t in 0..2 {
        let world = world.clone();
        let barrier = barrier.clone();
        handles.push(std::thread::spawn(move || {
            barrier.wait();
            (0..6)
                .map(|i| world.cli_submit("erin", &format!("cli-{t}-{i}"), "60"))
                .collect::<Vec<_>>()
        }));
    }
    let mut acknowledged: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("a writer thread"))
        .collect();
    acknowledged.sort();
    assert_eq!(acknowledged.len(), 36);

    let report = world.verify();
    assert_eq!(
        report["events"], 36,
        "one event per write, none lost: {report}"
    );
    let events = world.store_events();
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, (1..=36).collect::<Vec<_>>());
    let mut stored: Vec<String> = events
        .iter()
        .map(|e| e["data"]["request"]["id"].as_str().expect("id").to_string())
        .collect();
    stored.sort();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged id is in the store"
    );

    // The server sees the other processes' writes too.
    let listed = server.as_user(&world, "carol").get("/v1/requests");
    listed.expect(200, "list");
    let mut ids: Vec<String> = listed
        .json
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, acknowledged);
}
