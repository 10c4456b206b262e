//! Webhooks delivered by `cab serve` (SPEC section 7) to a real receiver on loopback: signed
//! per Standard Webhooks (checked with the algorithm written in the test), every stored event
//! in store order, retried through an outage, nothing acknowledged sent again after a restart,
//! at most the unacknowledged one after kill -9, the expiry notice once, filters, Slack.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::NOW;
use crate::support::receiver::{
    Answer, Delivery, Receiver, SECRET, assert_signed, expected_signature, webhook_block,
};
use crate::support::server::{PATIENCE, Server, World, json_of};

fn world_with(receiver: &Receiver, extra: &str) -> World {
    let world = World::new();
    world.add_config(&webhook_block("team", &receiver.url("/hook"), extra));
    world
}

fn approve(server: &Server, world: &World, id: &str) {
    server
        .as_user(world, "carol")
        .post(
            &format!("/v1/requests/{id}/approve"),
            &json!({"rationale": "tested in staging"}),
        )
        .expect(200, "approve");
}

/// `cab webhook list --json` on the world's store and config.
fn webhook_list(world: &World) -> Value {
    let config = world.config().to_str().unwrap();
    let store = world.store_arg();
    let out = world
        .cab_command(
            NOW,
            &[
                "--config", config, "--store", store, "--json", "webhook", "list",
            ],
        )
        .output()
        .unwrap();
    json_of(&out, "cab webhook list")
}

fn ids(deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(|d| d.id().to_string()).collect()
}

/// The webhook-id each stored event is delivered under.
fn event_id(event: &Value) -> String {
    format!(
        "evt_{}_{}",
        event["seq"],
        &event["hash"].as_str().unwrap()[..16]
    )
}

#[test]
fn the_hand_written_hmac_of_the_tests_matches_the_specification_example() {
    assert_eq!(
        expected_signature(
            SECRET,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            br#"{"test": 2432232314}"#
        ),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[test]
fn every_event_arrives_signed_in_store_order_with_the_stored_event_as_its_data() {
    let receiver = Receiver::start();
    let world = world_with(&receiver, "");
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let review = dana.submit("payments-api-r1", 62.0);
    dana.submit("search-r2", 20.0);
    approve(&server, &world, &review);
    // And a write by another process, which the server sees in the file.
    world.cli_submit("dana", "batch-r3", "30");

    let got = receiver.wait_acknowledged(4, PATIENCE);
    let events = world.store_events();
    let lines: Vec<String> = String::from_utf8(world.store_bytes())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(events.len(), 4);
    assert_eq!(ids(&got), events.iter().map(event_id).collect::<Vec<_>>());
    for ((delivery, event), line) in got.iter().zip(&events).zip(&lines) {
        assert_signed(delivery, SECRET);
        assert_eq!(delivery.path, "/hook");
        assert_eq!(delivery.header("content-type"), "application/json");
        let body = delivery.json();
        assert_eq!(body["type"], event["type"]);
        assert_eq!(body["timestamp"], event["at"]);
        assert_eq!(body["data"], *event, "data is the whole stored event");
        // Byte for byte the store's canonical line, so a receiver can check its hash.
        let text = String::from_utf8(delivery.body.clone()).unwrap();
        assert!(text.contains(&format!("\"data\":{line}")), "{text}");
    }
    let list = webhook_list(&world);
    assert_eq!(list[0]["name"], "team");
    assert_eq!(list[0]["last_delivered_seq"], 4);
    assert_eq!(list[0]["pending"], 0);
    assert!(
        !list.to_string().contains("MfKQ9r8G"),
        "never the secret: {list}"
    );
}

#[test]
fn an_outage_of_the_receiver_delays_delivery_but_loses_and_reorders_nothing() {
    let receiver = Receiver::start();
    // The first attempt is refused with 503, the retry is dropped mid-answer: then all is well.
    receiver.script(&[Answer::Status(503), Answer::Drop]);
    let world = world_with(&receiver, "");
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    for n in 0..5 {
        dana.submit(&format!("svc-{n}"), 20.0 + n as f64);
    }
    let got = receiver.wait_acknowledged(5, PATIENCE);
    let events = world.store_events();
    assert_eq!(ids(&got), events.iter().map(event_id).collect::<Vec<_>>());
    let all = receiver.deliveries();
    assert_eq!(all[0].answered, 503);
    assert_eq!(all[1].answered, 0);
    assert_eq!(all[0].id(), all[2].id(), "a retry keeps the webhook-id");
    assert!(all[0].id() == event_id(&events[0]));
    let seconds = all[2]
        .received
        .duration_since(all[0].received)
        .unwrap_or_default();
    assert!(
        seconds < Duration::from_secs(60),
        "the retries came: {seconds:?}"
    );
    for d in &all {
        assert_signed(d, SECRET);
    }
    let log = server.kill();
    assert!(
        log.contains("delivery failed") && log.contains("503"),
        "{log}"
    );
    assert!(!log.contains("MfKQ9r8G"), "the log never shows the secret");
}

#[test]
fn after_a_graceful_restart_nothing_acknowledged_is_sent_again() {
    let receiver = Receiver::start();
    let world = world_with(&receiver, "");
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    dana.submit("a", 20.0);
    dana.submit("b", 30.0);
    receiver.wait_acknowledged(2, PATIENCE);
    let (status, _) = server.terminate();
    assert!(status.success());
    // Written while no server runs; delivered by the next one.
    world.cli_submit("dana", "c", "40");
    let server = world.start();
    let got = receiver.wait_acknowledged(3, PATIENCE);
    server.as_user(&world, "dana").submit("d", 10.0);
    let got_all = receiver.wait_acknowledged(4, PATIENCE);
    let events = world.store_events();
    assert_eq!(
        ids(&got_all),
        events.iter().map(event_id).collect::<Vec<_>>()
    );
    assert_eq!(got[..3].len(), 3);
    let unique: BTreeSet<String> = ids(&receiver.deliveries()).into_iter().collect();
    assert_eq!(
        unique.len(),
        receiver.deliveries().len(),
        "no message twice"
    );
}

#[test]
fn after_kill_9_only_the_unacknowledged_message_is_sent_again_with_the_same_id() {
    let receiver = Receiver::start();
    let world = world_with(&receiver, "");
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    dana.submit("a", 20.0);
    receiver.wait_acknowledged(1, PATIENCE);
    // The next message is held by the receiver while the server is killed.
    receiver.script(&[Answer::Slow(204, Duration::from_secs(3))]);
    dana.submit("b", 20.0);
    let deadline = std::time::Instant::now() + PATIENCE;
    while receiver.deliveries().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "b was never sent");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill();
    world.cli_submit("dana", "c", "20");
    let _server = world.start();
    let events = world.store_events();
    let expected: Vec<String> = events.iter().map(event_id).collect();
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let all = ids(&receiver.deliveries());
        if all.contains(&expected[2]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "c never arrived: {all:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = ids(&receiver.deliveries());
    assert_eq!(
        all.iter().filter(|i| **i == expected[0]).count(),
        1,
        "{all:?}"
    );
    assert!(
        all.iter().filter(|i| **i == expected[1]).count() <= 2,
        "{all:?}"
    );
    assert_eq!(
        all.iter().filter(|i| **i == expected[2]).count(),
        1,
        "{all:?}"
    );
    // In store order: the unacknowledged one again before the next.
    let last_b = all.iter().rposition(|i| *i == expected[1]).unwrap();
    let c = all.iter().position(|i| *i == expected[2]).unwrap();
    assert!(last_b < c, "{all:?}");
}

/// A request with an approved exception that expires within 72 hours (1 day): its id.
fn expiring_exception(world: &World) -> String {
    let request = world.cli_submit("dana", "risky-r9", "90");
    let out = world.cli(
        "dana",
        "",
        &[
            "--json",
            "exception",
            "create",
            &request,
            "--justification",
            "partner launch",
            "--control",
            "extra monitoring",
            "--days",
            "1",
        ],
    );
    let exception = json_of(&out, "exception create")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = world.cli(
        "sam",
        "security_reviewer",
        &[
            "--json",
            "exception",
            "approve",
            &exception,
            "--rationale",
            "controls suffice",
        ],
    );
    json_of(&out, "exception approve");
    exception
}

#[test]
fn the_expiry_notice_goes_out_once_even_across_a_restart() {
    let receiver = Receiver::start();
    let world = world_with(&receiver, "");
    let exception = expiring_exception(&world);
    let server = world.start();
    // Three stored events, then the notice.
    let got = receiver.wait_acknowledged(4, PATIENCE);
    let notice = &got[3];
    assert_eq!(notice.event_type(), "exception_expiring");
    assert_eq!(notice.id(), format!("exp_{exception}"));
    assert_signed(notice, SECRET);
    let body = notice.json();
    assert_eq!(body["data"]["id"], exception.as_str());
    assert_eq!(body["data"]["status"], "approved");
    assert_eq!(body["data"]["is_active"], true);
    server.terminate();
    let server = world.start();
    server.as_user(&world, "dana").submit("after-restart", 10.0);
    let got = receiver.wait_acknowledged(5, PATIENCE);
    assert_eq!(got[4].event_type(), "request_submitted");
    // The restarted server looked for due notices when that event came, and sent none again.
    std::thread::sleep(Duration::from_millis(500));
    let notices = receiver
        .deliveries()
        .iter()
        .filter(|d| d.event_type() == "exception_expiring")
        .count();
    assert_eq!(notices, 1);
}

#[test]
fn the_event_filter_applies_to_stored_events_and_to_the_expiry_notice() {
    let receiver = Receiver::start();
    let world = world_with(&receiver, "events = [\"exception_reviewed\"]");
    world.add_config(&webhook_block(
        "notices",
        &receiver.url("/notices"),
        "events = [\"exception_expiring\", \"request_decided\"]",
    ));
    expiring_exception(&world);
    let _server = world.start();
    let got = receiver.wait_acknowledged(2, PATIENCE);
    std::thread::sleep(Duration::from_millis(500));
    let got_all = receiver.acknowledged();
    assert_eq!(got_all.len(), 2, "{:?}", ids(&got_all));
    let by_path = |p: &str| -> Vec<String> {
        got.iter()
            .filter(|d| d.path == p)
            .map(Delivery::event_type)
            .collect()
    };
    assert_eq!(by_path("/hook"), ["exception_reviewed"]);
    assert_eq!(by_path("/notices"), ["exception_expiring"]);
    let list = webhook_list(&world);
    assert_eq!(
        list[0]["last_delivered_seq"], 3,
        "skipped events count as handled"
    );
    assert_eq!(list[1]["pending"], 0);
}

#[test]
fn slack_messages_say_what_happened_to_which_deployment_who_and_what_next() {
    let receiver = Receiver::start();
    let world = world_with(&receiver, "format = \"slack\"");
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let reply = dana.post(
        "/v1/requests",
        &json!({
            "deployment_intent_id": "payments-api-r4821",
            "evidence_package_id": "EP-1",
            "risk_score": 62,
            "title": "<!channel> \u{202e}evil & <https://x|click>",
        }),
    );
    reply.expect(201, "submit");
    let id = reply.id();
    server
        .as_user(&world, "carol")
        .post(
            &format!("/v1/requests/{id}/approve"),
            &json!({"rationale": "fine", "conditions": ["watch p99", "roll back on errors"]}),
        )
        .expect(200, "approve");
    let got = receiver.wait_acknowledged(2, PATIENCE);
    let submitted = got[0].json();
    let text = submitted["text"].as_str().unwrap();
    assert_eq!(
        text,
        "payments-api-r4821 waits for CAB review, risk 62, requested by dana"
    );
    let blocks = submitted["blocks"].to_string();
    assert!(
        blocks.contains(&format!("cab approve {}", &id[..8])),
        "{blocks}"
    );
    assert!(
        blocks.contains("&lt;!channel&gt;") && blocks.contains("&amp;"),
        "{blocks}"
    );
    assert!(
        !blocks.contains("<!channel>") && !blocks.contains('\u{202e}'),
        "{blocks}"
    );
    let decided = got[1].json();
    assert_eq!(
        decided["text"],
        "payments-api-r4821 approved with 2 conditions by carol"
    );
    assert!(decided["blocks"].to_string().contains("watch p99"));
    for d in &got {
        assert_signed(d, SECRET);
        assert!(d.id().starts_with("evt_"));
    }
}

#[test]
fn a_receiver_that_never_answers_holds_back_only_its_own_webhook_not_the_api() {
    let stuck = Receiver::start();
    stuck.answer(Answer::Slow(204, Duration::from_secs(120)));
    let healthy = Receiver::start();
    let world = World::new();
    world.add_config(&webhook_block("stuck", &stuck.url("/"), ""));
    world.add_config(&webhook_block("healthy", &healthy.url("/"), ""));
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let ids_submitted: Vec<String> = (0..10)
        .map(|n| dana.submit(&format!("s{n}"), 60.0))
        .collect();
    for id in &ids_submitted {
        approve(&server, &world, id);
    }
    healthy.wait_acknowledged(20, PATIENCE);
    assert!(stuck.acknowledged().is_empty());
    let list = webhook_list(&world);
    assert_eq!(list[0]["name"], "stuck");
    assert_eq!(list[0]["last_delivered_seq"], 0);
    assert_eq!(list[0]["pending"], 20);
    assert_eq!(list[1]["last_delivered_seq"], 20);
}
