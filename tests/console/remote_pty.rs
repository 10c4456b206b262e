//! The console against a real `cab serve`: the real binary with `--remote URL` and a token in a
//! pseudo-terminal (the harness of tests/support/pty.rs), the server started by
//! tests/support/remote.rs. Who the console acts as comes from the token: every console here runs
//! with CAB_USER=mallory, who is no user of the server.

use serde_json::{Value, json};

use crate::support::pty::{self, CTRL_S, Console, ENTER, lines_with};
use crate::support::remote::{Server, id_of};

const WIDE: (u16, u16) = (120, 40);

/// Rows of the queue table: lines inside a pane's border showing a request's status.
fn queue_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|l| l.starts_with('│'))
        .filter(|l| l.contains("under review") || l.contains("needs exception"))
        .collect()
}

/// Submit a request of dana's through the server's API; its id.
fn submit(server: &Server, deployment: &str, risk: f64) -> String {
    let body = json!({
        "deployment_intent_id": deployment,
        "evidence_package_id": format!("EP-{deployment}"),
        "risk_score": risk,
        "title": format!("Change to {deployment}"),
    });
    let reply = server.http("POST", "/v1/requests", Some("dana"), Some(&body));
    assert_eq!(reply.status, 201, "{}", reply.body);
    id_of(&reply.body)
}

/// The console on `server` with `user`'s token, as CAB_USER=mallory with no roles.
fn console(server: &Server, user: &str) -> (pty::World, Console) {
    let pty = pty::World::new();
    let console = pty.console(
        "mallory",
        "",
        &["--remote", server.url(), "--token", server.token(user)],
        WIDE,
    );
    (pty, console)
}

fn quit(console: &mut Console) {
    console.send("q");
    let status = console.wait_exit();
    assert!(status.success(), "the console exited with {status:?}");
}

#[test]
fn the_console_over_a_server_shows_its_queue_and_names_the_server_and_the_tokens_user() {
    let server = Server::start();
    submit(&server, "payments-api", 62.0);
    let (_pty, mut console) = console(&server, "carol");
    let location = format!("server {}", server.url());
    let screen = console.wait_for_checks(&[
        ("the queue lists the server's request", &|s| {
            queue_rows(s).iter().any(|r| r.contains("payments-api"))
        }),
        ("the status bar names the server", &|s| {
            s.contains(&location)
        }),
        ("the status bar names the token's user and roles", &|s| {
            !lines_with(s, &["carol (cab_member)", &location]).is_empty()
        }),
    ]);
    assert!(
        !screen.contains("mallory"),
        "CAB_USER is not who the console acts as:\n{screen}"
    );
    quit(&mut console);
}

#[test]
fn a_request_submitted_by_another_client_appears_without_a_key_being_pressed() {
    let server = Server::start();
    submit(&server, "payments-api", 62.0);
    let (_pty, mut console) = console(&server, "carol");
    console.wait_until("the queue", |s| {
        queue_rows(s).iter().any(|r| r.contains("payments-api"))
    });

    // Another client, through the server; the console only follows its events.
    submit(&server, "checkout-svc", 70.0);
    submit(&server, "ledger-db", 91.0);
    console.wait_for_checks(&[
        ("the new request under review", &|s| {
            queue_rows(s)
                .iter()
                .any(|r| r.contains("checkout-svc") && r.contains("under review"))
        }),
        ("the new request that needs an exception", &|s| {
            queue_rows(s).iter().any(|r| r.contains("ledger-db"))
        }),
    ]);

    // And a decision made elsewhere takes the request out of the queue.
    let checkout = queue_rows(&console.screen())
        .iter()
        .any(|r| r.contains("checkout-svc"));
    assert!(checkout, "checkout-svc is in the queue before the decision");
    let reply = server.http(
        "GET",
        "/v1/requests?deployment=checkout-svc",
        Some("erin"),
        None,
    );
    let id = reply.body[0]["id"]
        .as_str()
        .expect("the request's id")
        .to_string();
    let reply = server.http(
        "POST",
        &format!("/v1/requests/{id}/approve"),
        Some("erin"),
        Some(&json!({"rationale": "reviewed elsewhere"})),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    console.wait_until("checkout-svc to leave the queue", |s| {
        let rows = queue_rows(s);
        !rows.iter().any(|r| r.contains("checkout-svc")) && rows.len() == 2
    });
    quit(&mut console);
}

#[test]
fn approving_in_the_console_is_recorded_on_the_server_with_the_tokens_user_as_approver() {
    let server = Server::start();
    submit(&server, "payments-api", 62.0);
    let id = submit(&server, "checkout-svc", 66.0);
    let rationale = "Rollback plan reviewed with on-call";
    let (_pty, mut console) = console(&server, "carol");
    console.wait_until("the queue", |s| queue_rows(s).len() == 2);

    console.send("/");
    console.send("checkout-svc");
    console.send(ENTER);
    console.wait_until("the queue narrowed to checkout-svc", |s| {
        let rows = queue_rows(s);
        rows.len() == 1 && rows[0].contains("checkout-svc")
    });
    console.send("a");
    console.wait_for("Rationale");
    console.send(rationale);
    console.wait_for(rationale);
    console.send(CTRL_S);
    console.wait_for_checks(&[
        ("the confirmation shows the decision", &|s| {
            !lines_with(s, &["decision", "approved"]).is_empty()
        }),
        (
            "the confirmation names the token's user as approver",
            &|s| !lines_with(s, &["approver", "carol"]).is_empty(),
        ),
    ]);
    let before = server.http("GET", &format!("/v1/requests/{id}"), Some("erin"), None);
    assert_eq!(
        before.body["status"], "under_review",
        "nothing is recorded before the confirmation"
    );

    console.send("y");
    console.wait_until("the result message", |s| {
        !lines_with(s, &["recorded", &id[..8], "approved"]).is_empty()
    });
    quit(&mut console);

    let after = server.http("GET", &format!("/v1/requests/{id}"), Some("erin"), None);
    let d: &Value = &after.body["decision"];
    assert_eq!(after.body["status"], "approved", "{}", after.body);
    assert_eq!(d["approver"], "carol", "{d}");
    assert_eq!(d["rationale"], rationale, "{d}");
    server.wait_log("route=/v1/requests/{id}/approve status=200 user=carol");
}

#[test]
fn a_token_the_server_does_not_accept_ends_the_console_with_exit_1_naming_the_server() {
    let server = Server::start();
    let pty = pty::World::new();
    let mut console = pty.console(
        "carol",
        "cab_member",
        &["--remote", server.url(), "--token", "cab_not-a-token"],
        WIDE,
    );
    let status = console.wait_exit();
    assert_eq!(status.exit_code(), 1, "{status:?}");
    let screen = console.screen();
    assert!(
        screen.contains(server.url()) && screen.contains("token"),
        "one sentence names the server and the token:\n{screen}"
    );
}

#[test]
fn when_the_server_goes_away_the_status_bar_says_the_console_is_not_up_to_date() {
    let mut server = Server::start();
    submit(&server, "payments-api", 62.0);
    let (_pty, mut console) = console(&server, "carol");
    console.wait_until("the queue", |s| {
        queue_rows(s).iter().any(|r| r.contains("payments-api"))
    });
    server.kill();
    console.wait_for_checks(&[
        (
            "the status bar says it is not up to date, at 120 columns",
            &|s| !lines_with(s, &["carol (cab_member)", "not up to date"]).is_empty(),
        ),
        ("the queue is still shown", &|s| {
            queue_rows(s).iter().any(|r| r.contains("payments-api"))
        }),
    ]);
    quit(&mut console);
}

#[test]
fn a_server_restarted_on_another_store_is_noticed_and_the_console_shows_that_store_instead() {
    let mut server = Server::start();
    submit(&server, "payments-api", 62.0);
    // Another store, with a history of its own, longer than the first.
    let other = server.world().file("other.jsonl", "");
    std::fs::remove_file(&other).unwrap();
    for (deployment, risk) in [("billing-api", "61"), ("ledger-db", "70"), ("search", "66")] {
        let out = server
            .world()
            .plain(&[
                "--store",
                other.to_str().unwrap(),
                "submit",
                "--deployment",
                deployment,
                "--evidence",
                "EP-1",
                "--risk",
                risk,
            ])
            .env("CAB_USER", "dana")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let (_pty, mut console) = console(&server, "carol");
    console.wait_until("the first store's queue", |s| {
        queue_rows(s).iter().any(|r| r.contains("payments-api"))
    });
    server.restart_on_store(&other);
    console.wait_for_checks(&[
        ("the other store's requests are shown", &|s| {
            let rows = queue_rows(s);
            rows.iter().any(|r| r.contains("billing-api"))
                && rows.iter().any(|r| r.contains("ledger-db"))
        }),
        ("nothing of the first store is left", &|s| {
            !queue_rows(s).iter().any(|r| r.contains("payments-api"))
        }),
    ]);
    quit(&mut console);
}
