//! Several `cab serve` instances and `cab` processes on one database: the database decides
//! order and exactly-one decisions; a retry lands once whatever instance it reaches; a long-poll
//! hears writes through another instance; an instance killed mid-load loses nothing it
//! acknowledged.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use serde_json::{Value, json};

use super::pg;
use crate::support::server::{Server, World, json_of};

/// A world on a new database of `pg`, and its URL.
fn world_on_database(pg: &crate::support::postgres::Pg) -> World {
    let (_, url) = pg.fresh();
    World::new().on_database(&url)
}

/// The events of the world's database, exported by `cab store copy` into a file and parsed.
fn exported_events(world: &World) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    let out = world.cli(
        "auditor",
        "",
        &[
            "store",
            "copy",
            "--from",
            world.store_arg(),
            "--to",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "export: {out:?}");
    std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn two_instances_and_cli_processes_racing_to_decide_record_exactly_one_decision_and_outcome_and_refuse_the_rest_naming_the_winner()
 {
    let Some(pg) = pg() else { return };
    let world = world_on_database(pg);
    let (a, b) = (world.start(), world.start());
    for round in 0..4 {
        let id = a
            .as_user(&world, "dana")
            .submit(&format!("race-{round}"), 60.0);
        // Two deciders on each instance (one instance commits concurrent writes together) and
        // two `cab` processes writing to the database directly.
        let barrier = Arc::new(Barrier::new(6));
        let mut racers = Vec::new();
        for (server, user) in [(&a, "carol"), (&a, "martin"), (&b, "martin"), (&b, "carol")] {
            let api = server.as_user(&world, user);
            let (barrier, id) = (barrier.clone(), id.clone());
            racers.push(thread::spawn(move || {
                barrier.wait();
                let reply = api.post(
                    &format!("/v1/requests/{id}/approve"),
                    &json!({"rationale": format!("{user} says yes")}),
                );
                (user.to_string(), reply.status == 200, reply.text)
            }));
        }
        for user in ["cli-one", "cli-two"] {
            let barrier = barrier.clone();
            let (store, id) = (world.store_arg().to_string(), id.clone());
            let mut cmd = world.cab_command(
                crate::support::NOW,
                &["--store", &store, "reject", &id, "--rationale", "no"],
            );
            cmd.env("CAB_USER", user).env("CAB_ROLES", "cab_member");
            racers.push(thread::spawn(move || {
                barrier.wait();
                let out = cmd.output().unwrap();
                if !out.status.success() {
                    assert_eq!(out.status.code(), Some(4), "a refusal is exit 4: {out:?}");
                }
                (
                    user.to_string(),
                    out.status.success(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            }));
        }
        let results: Vec<(String, bool, String)> =
            racers.into_iter().map(|r| r.join().unwrap()).collect();
        let winners: Vec<&String> = results.iter().filter(|r| r.1).map(|r| &r.0).collect();
        assert_eq!(winners.len(), 1, "exactly one decision wins: {results:#?}");
        let winner = winners[0];
        for (user, won, text) in &results {
            if !won {
                assert!(
                    text.contains("already decided") && text.contains(winner.as_str()),
                    "{user}'s refusal names the winner {winner}: {text}"
                );
            }
        }
        // Outcomes race the same way when the request could be deployed.
        if winner == "carol" || winner == "martin" {
            let barrier = Arc::new(Barrier::new(2));
            let racers: Vec<_> = [(&a, "dana"), (&b, "sam")]
                .into_iter()
                .map(|(server, user)| {
                    let api = server.as_user(&world, user);
                    let (barrier, id) = (barrier.clone(), id.clone());
                    thread::spawn(move || {
                        barrier.wait();
                        api.post(
                            &format!("/v1/requests/{id}/outcome"),
                            &json!({"result": "success"}),
                        )
                        .status
                    })
                })
                .collect();
            let mut statuses: Vec<u16> = racers.into_iter().map(|r| r.join().unwrap()).collect();
            statuses.sort();
            assert_eq!(statuses, [201, 409], "exactly one outcome");
        }
    }
    let events = exported_events(&world);
    let decisions = events
        .iter()
        .filter(|e| e["type"] == "request_decided")
        .count();
    assert_eq!(decisions, 4, "one decision per request");
    world.verify();
}

#[test]
fn two_hundred_concurrent_submits_across_two_instances_make_one_contiguous_sequence_that_verifies()
{
    let Some(pg) = pg() else { return };
    let world = world_on_database(pg);
    let servers = [world.start(), world.start()];
    let ids = Arc::new(Mutex::new(BTreeSet::new()));
    thread::scope(|s| {
        for client in 0..20 {
            let api = servers[client % 2].as_user(&world, "dana");
            let ids = ids.clone();
            s.spawn(move || {
                for n in 0..10 {
                    let id = api.submit(&format!("load-{client}-{n}"), 60.0);
                    ids.lock().unwrap().insert(id);
                }
            });
        }
    });
    let ids = ids.lock().unwrap().clone();
    assert_eq!(ids.len(), 200);
    let report = world.verify();
    assert_eq!(report["events"], 200, "{report}");
    let events = exported_events(&world);
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=200).collect::<Vec<_>>(),
        "contiguous, no gap, no fork"
    );
    let stored: BTreeSet<String> = events
        .iter()
        .map(|e| e["data"]["request"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored, ids, "every acknowledged submit, once");
}

#[test]
fn an_instance_killed_mid_load_loses_no_acknowledged_write_and_the_other_keeps_serving() {
    let Some(pg) = pg() else { return };
    let world = world_on_database(pg);
    let victim = world.start();
    let survivor = world.start();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let killed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut victim = Some(victim);
    thread::scope(|s| {
        for client in 0..8 {
            let api = if client % 2 == 0 {
                victim.as_ref().unwrap().as_user(&world, "dana")
            } else {
                survivor.as_user(&world, "dana")
            };
            let (acknowledged, killed) = (acknowledged.clone(), killed.clone());
            s.spawn(move || {
                for n in 0..40 {
                    let sent = api.try_post(
                        "/v1/requests",
                        &json!({
                            "deployment_intent_id": format!("kill-{client}-{n}"),
                            "evidence_package_id": "EP",
                            "risk_score": 60.0,
                        }),
                    );
                    match sent {
                        Some(reply) if reply.status == 201 && reply.json["id"].is_string() => {
                            acknowledged.lock().unwrap().push(reply.id())
                        }
                        // The victim's clients fail once it is gone; the survivor's never do.
                        _ => assert!(
                            client % 2 == 0 && killed.load(std::sync::atomic::Ordering::SeqCst),
                            "client {client} on the survivor failed: {sent:?}"
                        ),
                    }
                }
            });
        }
        crate::support::server::wait_until("some writes acknowledged", || {
            acknowledged.lock().unwrap().len() >= 40
        });
        killed.store(true, std::sync::atomic::Ordering::SeqCst);
        victim.take().unwrap().kill();
    });
    // The survivor still serves reads and writes.
    let after = survivor
        .as_user(&world, "dana")
        .submit("after-the-kill", 60.0);
    let listed = survivor
        .as_user(&world, "carol")
        .get("/v1/requests?status=all");
    assert_eq!(listed.status, 200);
    let acknowledged = acknowledged.lock().unwrap().clone();
    let events = exported_events(&world);
    let stored: BTreeSet<String> = events
        .iter()
        .map(|e| e["data"]["request"]["id"].as_str().unwrap().to_string())
        .collect();
    for id in acknowledged.iter().chain([&after]) {
        assert!(stored.contains(id), "acknowledged {id} is in the database");
    }
    world.verify();
}

#[test]
fn a_retry_with_the_same_idempotency_key_on_another_instance_writes_once() {
    let Some(pg) = pg() else { return };
    let world = world_on_database(pg);
    let (a, b) = (world.start(), world.start());
    let body =
        json!({"deployment_intent_id": "idem", "evidence_package_id": "EP", "risk_score": 60.0});
    let first = a
        .as_user(&world, "dana")
        .post_idem("/v1/requests", "key-1", &body);
    first.expect(201, "first");
    let retry = b
        .as_user(&world, "dana")
        .post_idem("/v1/requests", "key-1", &body);
    retry.expect(201, "retry on the other instance");
    assert_eq!(retry.id(), first.id(), "the earlier result");
    let other = b.as_user(&world, "dana").post_idem(
        "/v1/requests",
        "key-1",
        &json!({"deployment_intent_id": "other", "evidence_package_id": "EP", "risk_score": 60.0}),
    );
    other.expect_error(400, "invalid_input", "the key reused for another request");
    assert_eq!(exported_events(&world).len(), 1, "written once");
}

#[test]
fn a_long_poll_on_one_instance_wakes_on_a_write_through_another() {
    let Some(pg) = pg() else { return };
    let world = world_on_database(pg);
    let (a, b) = (world.start(), world.start());
    a.as_user(&world, "dana").submit("before", 60.0);
    let waiting = {
        let api = b.as_user(&world, "carol");
        thread::spawn(move || api.get("/v1/events?after=1&wait=25"))
    };
    // Let the long-poll start waiting (it would answer an empty page only after 25 s).
    thread::sleep(std::time::Duration::from_millis(300));
    let id = a.as_user(&world, "dana").submit("after", 60.0);
    let page = waiting.join().unwrap();
    page.expect(200, "long-poll");
    let events = page.json["events"].as_array().unwrap();
    assert_eq!(
        events.len(),
        1,
        "woken by the write, not by its timeout: {page:?}"
    );
    assert_eq!(events[0]["data"]["request"]["id"], id.as_str());
}

#[test]
fn instances_starting_at_the_same_moment_on_an_empty_database_all_come_up_and_serve() {
    let Some(pg) = pg() else { return };
    let world = world_on_database(pg);
    let servers: Vec<Server> = thread::scope(|s| {
        let starting: Vec<_> = (0..4).map(|_| s.spawn(|| world.start())).collect();
        starting.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, server) in servers.iter().enumerate() {
        crate::support::server::wait_until("ready", || {
            server.api(None).get("/v1/readyz").status == 200
        });
        server
            .as_user(&world, "dana")
            .submit(&format!("start-{i}"), 60.0);
    }
    let doc = json_of(
        &world.cli("auditor", "", &["--json", "verify"]),
        "cab verify",
    );
    assert_eq!(doc["events"], 4);
}
