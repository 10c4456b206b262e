//! Webhooks on a database store: progress and the delivery lock live in the database, so of
//! several instances exactly one delivers, and another takes over when it dies, carrying on
//! from the progress recorded there (SPEC sections 7 and 8).

use std::time::{Duration, Instant};

use super::pg;
use crate::support::NOW;
use crate::support::receiver::{Receiver, webhook_block, webhook_ids};
use crate::support::server::{PATIENCE, World, json_of};

fn world_with_webhook(receiver: &Receiver) -> World {
    let (_, url) = pg().expect("checked by the caller").fresh();
    let world = World::new().on_database(&url);
    world.add_config(&webhook_block("team", &receiver.url("/hook"), ""));
    world
}

/// `cab ARGS` with the world's config and database.
fn cab(world: &World, args: &[&str]) -> std::process::Output {
    let config = world.config().to_str().unwrap();
    let mut all = vec!["--config", config, "--store", world.store_arg()];
    all.extend_from_slice(args);
    world
        .cab_command(NOW, &all)
        .env("CAB_USER", "dana")
        .output()
        .unwrap()
}

/// The webhook-ids of the database's events, in order.
fn event_ids(world: &World) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("copy.jsonl");
    let copied = cab(
        world,
        &[
            "store",
            "copy",
            "--from",
            world.store_arg(),
            "--to",
            file.to_str().unwrap(),
        ],
    );
    assert!(copied.status.success(), "{copied:?}");
    webhook_ids(&std::fs::read_to_string(&file).unwrap())
}

fn acknowledged_ids(receiver: &Receiver) -> Vec<String> {
    receiver.acknowledged_ids()
}

#[test]
fn cab_notify_on_a_database_delivers_once_and_keeps_its_progress_in_the_database() {
    if pg().is_none() {
        return;
    }
    let receiver = Receiver::start();
    let world = world_with_webhook(&receiver);
    world.cli_submit("dana", "a", "20");
    world.cli_submit("dana", "b", "60");
    let out = cab(&world, &["--json", "notify"]);
    let summary = json_of(&out, "cab notify");
    assert_eq!(summary[0]["delivered"], 2);
    assert_eq!(acknowledged_ids(&receiver), event_ids(&world));
    let again = json_of(&cab(&world, &["--json", "notify"]), "cab notify");
    assert_eq!(again[0]["delivered"], 0, "nothing twice");
    let list = json_of(&cab(&world, &["--json", "webhook", "list"]), "webhook list");
    assert_eq!(list[0]["last_delivered_seq"], 2);
    assert_eq!(list[0]["pending"], 0);
    assert!(
        !world.dir().join("store.jsonl.webhooks.json").exists(),
        "no progress file: it is in the database"
    );
}

#[test]
fn of_two_instances_one_delivers_and_the_other_takes_over_when_it_is_killed() {
    if pg().is_none() {
        return;
    }
    let receiver = Receiver::start();
    let world = world_with_webhook(&receiver);
    let a = world.start();
    let b = world.start();
    for n in 0..3 {
        a.as_user(&world, "dana")
            .submit(&format!("via-a-{n}"), 20.0);
        b.as_user(&world, "dana")
            .submit(&format!("via-b-{n}"), 20.0);
    }
    receiver.wait_acknowledged(6, PATIENCE);
    assert_eq!(
        acknowledged_ids(&receiver),
        event_ids(&world),
        "once each, in order"
    );
    let delivering = |s: &crate::support::server::Server| s.log().contains("webhooks: delivering");
    let (deliverer, other) = if delivering(&a) { (a, b) } else { (b, a) };
    assert!(!delivering(&other), "only one instance delivers");
    assert!(
        other.log().contains("not delivering here"),
        "{}",
        other.log()
    );
    deliverer.kill();
    for n in 0..3 {
        other
            .as_user(&world, "dana")
            .submit(&format!("after-{n}"), 20.0);
    }
    // The survivor tries the lock every 10 s; the killed one's session is gone with it.
    let deadline = Instant::now() + PATIENCE;
    while acknowledged_ids(&receiver).len() < 9 {
        assert!(
            Instant::now() < deadline,
            "the survivor never took over:\n{}",
            other.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let expected = event_ids(&world);
    let got = acknowledged_ids(&receiver);
    let mut unique = got.clone();
    unique.dedup();
    assert_eq!(
        unique, expected,
        "in order, nothing lost (at most the one in flight twice)"
    );
    assert!(
        other.log().contains("delivering from here"),
        "{}",
        other.log()
    );
}
