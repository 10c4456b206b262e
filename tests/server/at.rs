//! The `at` query parameter (`cab --at` over HTTP): the read routes answer as of that moment,
//! exactly as a local `cab --at` does on the same store; a bad `at` is 400; and
//! `cab --remote URL --at T` prints what the local command prints.

use serde_json::Value;

use crate::support::remote::{Server, World, id_of, parse_json, stderr, stdout};

/// A store written locally with the clock stepping forward, then served; request ids
/// (web, api, db) and the exception of api (approved for two days, never cleaned up).
fn served() -> (Server, Vec<String>, String) {
    let world = World::new();
    let submit = |now: &str, user: &str, deployment: &str, risk: &str| {
        id_of(&world.local_json_at(
            now,
            user,
            &[
                "submit",
                "--deployment",
                deployment,
                "--evidence",
                "EP-1",
                "--risk",
                risk,
            ],
        ))
    };
    let web = submit("2026-11-01T09:00:00Z", "dana", "web", "60");
    world.local_json_at(
        "2026-11-01T09:30:00Z",
        "carol",
        &["approve", &web, "--rationale", "tested"],
    );
    let api = submit("2026-11-01T10:00:00Z", "rita", "api", "90");
    let exception = id_of(&world.local_json_at(
        "2026-11-01T11:00:00Z",
        "rita",
        &[
            "exception",
            "create",
            &api,
            "--justification",
            "outage",
            "--control",
            "canary",
            "--days",
            "2",
        ],
    ));
    world.local_json_at(
        "2026-11-01T12:00:00Z",
        "sam",
        &["exception", "approve", &exception, "--rationale", "ok"],
    );
    let db = submit("2026-11-02T09:00:00Z", "dana", "db", "70");
    (Server::start_on(world), vec![web, api, db], exception)
}

const MOMENTS: [&str; 6] = [
    "2026-10-01T00:00:00Z",
    "2026-11-01T09:30:00Z",
    "2026-11-01T11:30:00Z",
    "2026-11-02T00:00:00Z",
    "2026-11-04T00:00:00Z",
    "2026-12-01T00:00:00Z",
];

/// `cab --at MOMENT --json ARGS` on the store file; its document (or error) and exit code.
fn local(server: &Server, moment: &str, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["--json", "--at", moment];
    all.extend_from_slice(args);
    let out = server
        .world()
        .local_at(crate::support::NOW, "dana", &all)
        .output()
        .expect("cab runs");
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

#[test]
fn each_read_route_with_at_answers_as_the_local_command_does_as_of_that_moment() {
    let (server, requests, _) = served();
    let get = |path: &str| {
        let reply = server.http("GET", path, Some("carol"), None);
        (reply.status, reply.body)
    };
    for moment in MOMENTS {
        for status in ["all", "pending"] {
            let (code, body) = get(&format!("/v1/requests?status={status}&at={moment}"));
            assert_eq!(code, 200, "{body}");
            assert_eq!(
                body,
                local(&server, moment, &["queue", "--status", status]).1,
                "requests ({status}) as of {moment}"
            );
        }
        let (code, body) = get(&format!("/v1/exceptions?at={moment}"));
        assert_eq!(code, 200, "{body}");
        assert_eq!(
            body,
            local(&server, moment, &["exception", "list"]).1,
            "exceptions as of {moment}"
        );
        for id in &requests {
            let (code, body) = get(&format!("/v1/requests/{id}?at={moment}"));
            let (local_code, local_body) = local(&server, moment, &["show", id]);
            match local_code {
                Some(0) => assert_eq!((code, &body), (200, &local_body), "{id} as of {moment}"),
                _ => {
                    assert_eq!(
                        code, 404,
                        "{id} is not submitted yet as of {moment}: {body}"
                    );
                    assert_eq!(body["error"]["code"], "not_found");
                }
            }
        }
        for deployment in ["web", "api", "db", "nowhere"] {
            let (code, body) = get(&format!("/v1/deployments/{deployment}/status?at={moment}"));
            assert_eq!(code, 200, "{body}");
            assert_eq!(
                body,
                local(&server, moment, &["status", deployment]).1,
                "status of {deployment} as of {moment}"
            );
        }
    }
}

#[test]
fn an_exception_expired_without_cleanup_is_expired_in_the_answer_as_of_then() {
    let (server, _, exception) = served();
    let status_at = |moment: &str| {
        let reply = server.http(
            "GET",
            &format!("/v1/exceptions?at={moment}"),
            Some("dana"),
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let e = reply.body.as_array().unwrap()[0].clone();
        assert_eq!(id_of(&e), exception);
        (e["status"].clone(), e["is_active"].clone())
    };
    assert_eq!(
        status_at("2026-11-02T00:00:00Z"),
        ("approved".into(), true.into())
    );
    assert_eq!(
        status_at("2026-11-03T11:00:00Z"),
        ("expired".into(), false.into())
    );
    let eligible = |moment: &str| {
        server
            .http(
                "GET",
                &format!("/v1/deployments/api/status?at={moment}"),
                Some("dana"),
                None,
            )
            .body["eligible"]
            .clone()
    };
    assert_eq!(eligible("2026-11-02T00:00:00Z"), true);
    assert_eq!(eligible("2026-11-03T11:00:00Z"), false);
}

#[test]
fn a_bad_at_is_400_on_every_read_route_that_takes_it() {
    let (server, requests, _) = served();
    let routes = [
        "/v1/requests?".to_string(),
        format!("/v1/requests/{}?", requests[0]),
        "/v1/exceptions?".to_string(),
        "/v1/deployments/web/status?".to_string(),
    ];
    for route in &routes {
        for bad in [
            "",
            "yesterday",
            "2026-11-01",
            "1999-12-31T23:59:59Z",
            "9001-01-01T00:00:00Z",
        ] {
            let reply = server.http("GET", &format!("{route}at={bad}"), Some("carol"), None);
            assert_eq!(reply.status, 400, "{route}at={bad}: {}", reply.body);
            assert_eq!(reply.body["error"]["code"], "invalid_input");
            assert!(
                reply.body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("at ")),
                "{}",
                reply.body
            );
        }
    }
    // The events route answers the store as it is; it takes no `at`.
    let reply = server.http(
        "GET",
        "/v1/events?at=2026-11-01T00:00:00Z",
        Some("carol"),
        None,
    );
    assert_eq!(reply.status, 400, "{}", reply.body);
}

#[test]
fn remote_commands_with_at_print_what_the_local_commands_print() {
    let (server, requests, _) = served();
    for moment in MOMENTS {
        let mut commands: Vec<Vec<&str>> = vec![
            vec!["--json", "queue"],
            vec!["--json", "queue", "--status", "all"],
            vec!["queue", "--status", "all"],
            vec!["--json", "exception", "list"],
            vec!["exception", "list", "--status", "expired"],
            vec!["audit", "export"],
            vec!["gate", "api"],
            vec!["--json", "status", "api", "--ring", "3"],
        ];
        for id in &requests {
            commands.push(vec!["--json", "show", id]);
            commands.push(vec!["show", id]);
        }
        for args in commands {
            let mut all = vec!["--at", moment];
            all.extend_from_slice(&args);
            let remote = server.run("dana", &all);
            let local = server
                .world()
                .local_at(crate::support::NOW, "dana", &all)
                .output()
                .expect("cab runs");
            assert_eq!(
                (remote.status.code(), stdout(&remote)),
                (local.status.code(), stdout(&local)),
                "cab --remote --at {moment} {args:?}: remote stderr {}",
                stderr(&remote)
            );
        }
    }
    // The console's way in: every event, replayed as of the moment on the client.
    let remote = server.json("dana", &["--at", "2026-11-01T11:30:00Z", "queue"]);
    let ids: Vec<String> = remote.as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(
        ids,
        vec![requests[1].clone()],
        "api waits for its exception"
    );
}

#[test]
fn remote_writes_with_at_are_invalid_input_and_reach_no_server() {
    let (server, requests, _) = served();
    let before = server.world().store_bytes();
    for args in [
        vec!["approve", requests[2].as_str(), "--rationale", "fine"],
        vec!["cleanup"],
        vec![
            "submit",
            "--deployment",
            "web",
            "--evidence",
            "E",
            "--risk",
            "5",
        ],
    ] {
        let mut all = vec!["--at", "2026-11-02T12:00:00Z"];
        all.extend_from_slice(&args);
        let out = server.run("carol", &all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("--at"), "{}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
    assert_eq!(server.world().store_bytes(), before);
    let doc = parse_json(
        &server.run(
            "carol",
            &["--json", "--at", "2026-11-02T12:00:00Z", "queue"],
        ),
        &["queue"],
    );
    assert!(doc.is_array());
}
