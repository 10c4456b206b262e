//! `GET /v1/snapshot`, the state a console starts from: it decodes to exactly the state a full
//! replay gives; one behind the head is served while a newer one is encoded, and the events
//! after its head make up the difference; the route needs a token.

use std::time::{Duration, Instant};

use cab::backend::Backend;

use crate::support::server::{PATIENCE, World};

/// The state a local replay of the world's store gives.
fn replayed(world: &World) -> cab::engine::State {
    use cab::backend::LocalBackend;
    use cab::clock::Clock;
    use cab::engine::{Actor, Policy};
    use cab::store::FileStore;
    let local = LocalBackend::new(
        FileStore::new(world.store()),
        Actor::new("auditor", []).unwrap(),
        Policy::default(),
        Clock::parse(crate::support::NOW).unwrap(),
    );
    local.snapshot().unwrap().state
}

#[test]
fn a_snapshot_behind_the_head_plus_the_events_after_it_is_exactly_the_replayed_state() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    for n in 0..3 {
        dana.submit(&format!("svc-{n}"), 40.0 + 10.0 * n as f64);
    }
    let console = server.remote(&world, "carol");
    let first = console.snapshot().unwrap();
    assert_eq!(first.head, 3);
    assert_eq!(first.state, replayed(&world));
    // Written since: a second console may get the same snapshot, behind the head, and then
    // reads the events after it.
    dana.submit("svc-late", 62.0);
    world.cli_submit("dana", "svc-cli", "70");
    let second = server.remote(&world, "martin").snapshot().unwrap();
    assert!(second.head == 3 || second.head == 5, "{}", second.head);
    let mut state = second.state;
    let page = console.events(second.head, Duration::ZERO).unwrap();
    assert_eq!(
        page.events.first().map(|e| e.prev.clone()),
        second.head_hash,
        "the first event after the snapshot links to its head"
    );
    for e in page.events {
        state.apply(e.seq, e.event.at, e.event.kind).unwrap();
    }
    assert_eq!(state, replayed(&world));
    // A newer snapshot was encoded meanwhile, off the request that found the old one.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = server.remote(&world, "carol").snapshot().unwrap();
        if now.head == 5 {
            assert_eq!(now.state, replayed(&world));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the snapshot stays at {}",
            now.head
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_snapshot_route_needs_a_token_and_answers_its_media_type() {
    let world = World::new();
    let server = world.start();
    server.as_user(&world, "dana").submit("svc", 20.0);
    let reply = server.api(None).get("/v1/snapshot");
    assert_eq!(reply.status, 401);
    let reply = server.as_user(&world, "dana").get("/v1/snapshot");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some(cab::backend::snapshot::MEDIA_TYPE)
    );
}
