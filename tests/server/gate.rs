//! `GET /v1/gate` for deploy tools: every state over HTTP on a store written before the server
//! started (so exceptions have had time to expire), 200 for unknown deployments, a ring below
//! the approval ring approved, `at`, bad parameters 400 and no token 401; and the curl + jq
//! snippet of docs/integrations.md, run as the doc prints it, polling until a CAB member
//! approves.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::remote::{Server, TIMEOUT, World, id_of};

/// Long before `NOW`: an exception requested then for a day has long expired.
const LONG_AGO: &str = "2026-10-01T09:00:00Z";
/// After the long-ago exceptions expired, when cleanup records one of them.
const CLEANUP_AT: &str = "2026-10-05T09:00:00Z";
/// A day before `NOW`: what is written then is current.
const YESTERDAY: &str = "2026-11-27T09:00:00Z";

fn submit(world: &World, now: &str, user: &str, deployment: &str, risk: &str) -> String {
    let args = [
        "submit",
        "--deployment",
        deployment,
        "--evidence",
        "EP-1",
        "--risk",
        risk,
    ];
    id_of(&world.local_json_at(now, user, &args))
}

fn ask_exception(world: &World, now: &str, request: &str, days: &str) -> String {
    let args = [
        "exception",
        "create",
        request,
        "--justification",
        "outage fix",
        "--control",
        "canary at 1%",
        "--days",
        days,
    ];
    id_of(&world.local_json_at(now, "rita", &args))
}

fn decide(world: &World, now: &str, user: &str, args: &[&str]) {
    world.local_json_at(now, user, args);
}

/// A store with one deployment in every situation the gate tells apart, named after it.
fn served() -> Server {
    let world = World::new();
    let w = &world;
    submit(w, YESTERDAY, "dana", "auto", "12");
    let approved = submit(w, YESTERDAY, "dana", "approved", "60");
    decide(
        w,
        YESTERDAY,
        "carol",
        &["approve", &approved, "--rationale", "ok"],
    );
    let conditional = submit(w, YESTERDAY, "dana", "conditional", "60");
    let with_condition = [
        "approve",
        &conditional,
        "--rationale",
        "ok",
        "--condition",
        "after 18:00",
    ];
    decide(w, YESTERDAY, "carol", &with_condition);
    let active = submit(w, YESTERDAY, "dana", "active-exception", "90");
    let exception = ask_exception(w, YESTERDAY, &active, "30");
    let ok = ["exception", "approve", &exception, "--rationale", "ok"];
    decide(w, YESTERDAY, "sam", &ok);
    submit(w, YESTERDAY, "dana", "under-review", "60");
    submit(w, YESTERDAY, "dana", "exception-not-requested", "90");
    let pending = submit(w, YESTERDAY, "dana", "exception-pending", "90");
    ask_exception(w, YESTERDAY, &pending, "30");
    let rejected = submit(w, YESTERDAY, "dana", "rejected", "60");
    decide(
        w,
        YESTERDAY,
        "carol",
        &["reject", &rejected, "--rationale", "no"],
    );
    let exception_rejected = submit(w, YESTERDAY, "dana", "exception-rejected", "90");
    let exception = ask_exception(w, YESTERDAY, &exception_rejected, "30");
    let no = ["exception", "reject", &exception, "--rationale", "too weak"];
    decide(w, YESTERDAY, "sam", &no);
    // Expired and recorded by cleanup, then expired with no cleanup since.
    let cleaned = submit(w, LONG_AGO, "dana", "expired-cleaned", "90");
    let exception = ask_exception(w, LONG_AGO, &cleaned, "1");
    let ok = ["exception", "approve", &exception, "--rationale", "ok"];
    decide(w, LONG_AGO, "sam", &ok);
    decide(w, CLEANUP_AT, "dana", &["cleanup"]);
    let lapsed = submit(w, CLEANUP_AT, "dana", "expired-uncleaned", "90");
    let exception = ask_exception(w, CLEANUP_AT, &lapsed, "1");
    let ok = ["exception", "approve", &exception, "--rationale", "ok"];
    decide(w, CLEANUP_AT, "sam", &ok);
    Server::start_on(world)
}

fn gate(server: &Server, query: &str) -> Value {
    let reply = server.http("GET", &format!("/v1/gate{query}"), Some("dana"), None);
    assert_eq!(reply.status, 200, "GET /v1/gate{query}: {}", reply.body);
    reply.body
}

#[test]
fn every_state_over_http_with_exactly_the_spec_fields() {
    let server = served();
    let cases = [
        ("auto", "approved", "auto_approved"),
        ("approved", "approved", "approved"),
        ("conditional", "approved", "conditional"),
        ("active-exception", "approved", "active_exception"),
        ("under-review", "pending", "under_review"),
        (
            "exception-not-requested",
            "pending",
            "exception_not_requested",
        ),
        ("exception-pending", "pending", "exception_pending"),
        ("rejected", "rejected", "rejected"),
        ("exception-rejected", "rejected", "exception_rejected"),
        ("expired-cleaned", "expired", "exception_expired"),
        ("expired-uncleaned", "expired", "exception_expired"),
        ("never-submitted", "none", "no_request"),
    ];
    for (deployment, state, code) in cases {
        let g = gate(&server, &format!("?deployment={deployment}"));
        let fields: Vec<&str> = g.as_object().unwrap().keys().map(String::as_str).collect();
        let mut fields = fields;
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "deployment_intent_id",
                "eligible",
                "reason",
                "reason_code",
                "ring",
                "state"
            ],
            "{g}"
        );
        assert_eq!(g["deployment_intent_id"], deployment, "{g}");
        assert_eq!(g["state"], state, "{deployment}: {g}");
        assert_eq!(g["reason_code"], code, "{deployment}: {g}");
        assert_eq!(g["eligible"], state == "approved", "{deployment}: {g}");
        assert_eq!(g["ring"], Value::Null, "{g}");
        assert!(!g["reason"].as_str().unwrap().is_empty(), "{g}");
    }
}

#[test]
fn the_gate_agrees_with_the_status_route() {
    let server = served();
    for deployment in [
        "auto",
        "under-review",
        "expired-uncleaned",
        "never-submitted",
    ] {
        let g = gate(&server, &format!("?deployment={deployment}&ring=3"));
        let path = format!("/v1/deployments/{deployment}/status?ring=3");
        let s = server.http("GET", &path, Some("dana"), None).body;
        for field in [
            "deployment_intent_id",
            "eligible",
            "reason",
            "reason_code",
            "ring",
        ] {
            assert_eq!(g[field], s[field], "{deployment} {field}: {g} vs {s}");
        }
    }
}

#[test]
fn a_ring_below_the_approval_ring_is_approved_whatever_the_request() {
    let server = served();
    for deployment in ["under-review", "rejected", "never-submitted"] {
        for ring in [0, 1] {
            let g = gate(&server, &format!("?deployment={deployment}&ring={ring}"));
            assert_eq!(g["state"], "approved", "{g}");
            assert_eq!(g["eligible"], true, "{g}");
            assert_eq!(g["reason_code"], "ring_exempt", "{g}");
            assert_eq!(g["ring"], ring, "{g}");
        }
        let g = gate(&server, &format!("?deployment={deployment}&ring=2"));
        assert_eq!(g["eligible"], false, "from ring 2 the rules apply: {g}");
    }
}

#[test]
fn at_answers_as_of_that_moment() {
    let server = served();
    let before = gate(
        &server,
        "?deployment=expired-cleaned&at=2026-10-01T12:00:00Z",
    );
    assert_eq!(
        before["state"], "approved",
        "the exception was active: {before}"
    );
    let earlier = gate(&server, "?deployment=auto&at=2026-10-01T12:00:00Z");
    assert_eq!(earlier["state"], "none", "not yet submitted: {earlier}");
}

#[test]
fn bad_parameters_are_400_and_no_token_is_401() {
    let server = served();
    for query in [
        "",
        "?deployment=",
        "?deployment=%20",
        "?ring=3",
        "?deployment=auto&ring=-1",
        "?deployment=auto&ring=two",
        "?deployment=auto&ring=1.5",
        "?deployment=auto&at=yesterday",
        "?deployment=auto&state=approved",
    ] {
        let reply = server.http("GET", &format!("/v1/gate{query}"), Some("dana"), None);
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        assert_eq!(reply.body["error"]["code"], "invalid_input", "{query}");
    }
    let reply = server.http("GET", "/v1/gate?deployment=auto", None, None);
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(reply.headers.get("www-authenticate").is_some());
    let wrong = [("Authorization", "Bearer cab_not-a-token")];
    let reply = server.http_raw("GET", "/v1/gate?deployment=auto", None, None, &wrong);
    assert_eq!(reply.status, 401, "{}", reply.body);
}

// ----- docs/integrations.md -----

use crate::support::docs::snippet;

/// Whether the snippets' tools are here (curl and jq).
fn snippet_tools() -> bool {
    crate::support::docs::tools(&["curl", "jq"])
}

/// The snippet under `sh`, with the variables the doc tells its reader to set.
fn run_snippet(server: &Server, name: &str, deployment: &str, ring: &str) -> Child {
    Command::new("sh")
        .args(["-eu", "-c", &snippet(name)])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CAB_REMOTE", server.url())
        .env("CAB_TOKEN", server.token("dana"))
        .env("DEPLOYMENT", deployment)
        .env("RING", ring)
        .env("CAB_POLL_SECONDS", "0.2")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("sh runs")
}

/// The snippet's exit status once it ends; killed, and the test failed, if it never does.
fn finish(mut child: Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("a child") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: the snippet never ended");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills the snippet if the test fails while it runs.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn gate_requests(server: &Server) -> usize {
    server
        .log()
        .lines()
        .filter(|l| l.contains("/v1/gate"))
        .count()
}

#[test]
fn the_docs_curl_jq_poll_ends_at_once_when_eligible() {
    if !snippet_tools() {
        return;
    }
    let server = served();
    let status = finish(run_snippet(&server, "gate-poll", "auto", "3"), "auto");
    assert!(status.success(), "{status}");
}

#[test]
fn the_docs_curl_jq_poll_waits_until_a_cab_member_approves() {
    if !snippet_tools() {
        return;
    }
    let server = served();
    let mut running = Running(Some(run_snippet(&server, "gate-poll", "under-review", "2")));
    // It keeps asking while the request waits for review.
    let deadline = Instant::now() + TIMEOUT;
    while gate_requests(&server) < 3 {
        assert!(
            Instant::now() < deadline,
            "the snippet never polled three times"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let child = running.0.as_mut().expect("running");
    assert!(
        child.try_wait().expect("a child").is_none(),
        "the snippet stopped before the request was approved"
    );
    let id = server.http(
        "GET",
        "/v1/requests?deployment=under-review",
        Some("dana"),
        None,
    );
    let id = id.body[0]["id"].as_str().expect("the request").to_string();
    let approve = server.http(
        "POST",
        &format!("/v1/requests/{id}/approve"),
        Some("carol"),
        Some(&json!({"rationale": "rollback plan tested"})),
    );
    assert_eq!(approve.status, 200, "{}", approve.body);
    let child = running.0.take().expect("running");
    let status = finish(child, "after the approval");
    assert!(status.success(), "the snippet ends with {status}");
}

#[test]
fn the_docs_wait_loop_ends_0_when_approved_and_3_when_rejected_or_expired() {
    if !snippet_tools() {
        return;
    }
    let server = served();
    for (deployment, code) in [("conditional", 0), ("rejected", 3), ("expired-cleaned", 3)] {
        let status = finish(
            run_snippet(&server, "gate-wait", deployment, "2"),
            deployment,
        );
        assert_eq!(status.code(), Some(code), "{deployment}: {status}");
    }
}

/// The `cab gate` line of a CI snippet, as its shell runs it: the YAML's `run: ` or list
/// item's `- ` taken off.
fn ci_command(name: &str) -> String {
    let block = snippet(name);
    let line = block
        .lines()
        .find(|l| l.contains("cab gate"))
        .unwrap_or_else(|| panic!("{name}: no cab gate line in {block}"));
    let line = line.trim();
    line.strip_prefix("run: ")
        .or_else(|| line.strip_prefix("- "))
        .unwrap_or(line)
        .to_string()
}

#[test]
fn the_docs_ci_jobs_cab_gate_line_exits_0_when_eligible_and_3_when_not() {
    let server = served();
    let cab = std::path::Path::new(crate::support::CAB);
    let bin = cab.parent().expect("the binary's folder");
    let sealed = crate::support::Sealed::new(server.world().dir()).command();
    // The job's shell finds this build's `cab` first, and `sh` where the system keeps it.
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("a PATH");
    for name in ["github-actions", "gitlab-ci"] {
        let command = ci_command(name);
        for (deployment, code) in [("approved", 0), ("under-review", 3), ("never-submitted", 3)] {
            let mut sh = Command::new("sh");
            sh.args(["-c", &command]).env_clear();
            for (key, value) in sealed.get_envs() {
                if let Some(value) = value {
                    sh.env(key, value);
                }
            }
            let out = sh
                .env("PATH", &path)
                .env("CAB_REMOTE", server.url())
                .env("CAB_TOKEN", server.token("dana"))
                .env("DEPLOYMENT", deployment)
                .output()
                .expect("sh runs");
            assert_eq!(
                out.status.code(),
                Some(code),
                "{name}: {command:?} for {deployment}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
