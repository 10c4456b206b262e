//! The database stopped and started again under a running server: clear errors while it is
//! down (503 `store_unavailable`, readiness failing, a sentence and exit 1 on the command line),
//! and the same server working again once it is back, without a restart.

use serde_json::json;

use super::pg;
use crate::support::postgres::Pg;
use crate::support::server::{World, wait_until};

#[test]
fn the_database_restarted_under_a_running_server_gives_clear_errors_while_down_and_recovers_without_restart()
 {
    if pg().is_none() {
        return;
    }
    let own = Pg::start();
    let (_, url) = own.fresh();
    let world = World::new().on_database(&url);
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let before = dana.submit("before", 60.0);
    assert_eq!(server.api(None).get("/v1/readyz").status, 200);
    assert_eq!(server.api(None).get("/v1/healthz").status, 200);

    own.stop_server();
    let ready = server.api(None).get("/v1/readyz");
    let message = ready.expect_error(
        503,
        "store_unavailable",
        "readyz while the database is down",
    );
    assert_eq!(
        server.api(None).get("/v1/healthz").status,
        200,
        "still alive"
    );
    let submit = dana.post(
        "/v1/requests",
        &json!({"deployment_intent_id": "down", "evidence_package_id": "EP", "risk_score": 60.0}),
    );
    let refused = submit.expect_error(
        503,
        "store_unavailable",
        "a write while the database is down",
    );
    for text in [&message, &refused] {
        assert!(
            !text.contains("127.0.0.1") && !text.contains("refused") && !text.contains(&url),
            "no address or database error in a 5xx body: {text}"
        );
    }
    let read = server
        .as_user(&world, "carol")
        .get("/v1/requests?status=all");
    read.expect_error(
        503,
        "store_unavailable",
        "a read while the database is down",
    );
    let out = world.cli("carol", "cab_member", &["queue"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("cab: cannot reach the database") && stderr.trim().lines().count() == 1,
        "one sentence: {stderr}"
    );
    assert!(
        server.log().contains("cannot reach the database"),
        "the reason is in the log"
    );

    own.start_server();
    wait_until("ready again", || {
        server.api(None).get("/v1/readyz").status == 200
    });
    let after = dana.submit("after", 60.0);
    let listed = server
        .as_user(&world, "carol")
        .get("/v1/requests?status=all");
    listed.expect(200, "reads again");
    let ids: Vec<&str> = listed
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&before.as_str()) && ids.contains(&after.as_str()),
        "{ids:?}"
    );
    assert_eq!(ids.len(), 2, "the refused write left nothing");
    world.verify();
}
