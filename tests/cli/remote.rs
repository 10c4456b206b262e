//! The command line against a real `cab serve` on loopback: every command of SPEC section 3
//! with `--remote`, printing what it prints on a local store; exit codes mapped from the
//! server's statuses; the three ways to name the server and token; identity from the token.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::remote::{NOW, Server, World, id_of, parse_json, stderr, stdout};

/// One step of the workflow: who runs what, and what came back.
struct Step {
    label: String,
    code: i32,
    /// The JSON document printed (a string for text output such as an audit export).
    out: Value,
}

/// Runs the commands of a workflow on one side (a local store, or a server).
struct Side<'a> {
    run: &'a dyn Fn(&str, &[&str]) -> Output,
    steps: Vec<Step>,
}

impl Side<'_> {
    /// Run `args` as `user`; the output parsed as JSON when it is, else as text.
    fn step(&mut self, user: &str, args: &[&str]) -> Value {
        let out = (self.run)(user, args);
        let code = out.status.code().unwrap_or(-1);
        let text = stdout(&out);
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        assert!(
            matches!(code, 0 | 3),
            "cab {args:?} as {user} failed with {code}: {}",
            stderr(&out)
        );
        self.steps.push(Step {
            label: format!("{user}: cab {}", args.join(" ")),
            code,
            out: value.clone(),
        });
        value
    }

    fn submit(&mut self, deployment: &str, risk: &str) -> String {
        let args = [
            "--json",
            "submit",
            "--deployment",
            deployment,
            "--evidence",
            &format!("EP-{deployment}"),
            "--risk",
            risk,
        ];
        id_of(&self.step("dana", &args))
    }
}

/// Every command of SPEC section 3 that works on both backends, in a realistic order.
fn workflow(side: &mut Side<'_>) {
    let pay = id_of(&side.step(
        "dana",
        &[
            "--json",
            "submit",
            "--deployment",
            "payments-api",
            "--evidence",
            "EP-payments",
            "--risk",
            "62",
            "--factor",
            "blast_radius=30",
            "--factor",
            "change_size=32",
            "--title",
            "Payments API v2",
            "--correlation-id",
            "corr-payments",
        ],
    ));
    let search = side.submit("search-api", "70");
    let billing = side.submit("billing", "65");
    let ledger = side.submit("ledger-db", "91");
    let vault = side.submit("vault", "88");
    side.submit("docs-site", "20");
    side.step("carol", &["--json", "queue"]);
    side.step("carol", &["--json", "queue", "--status", "all"]);
    side.step("carol", &["--json", "show", &pay[..8]]);
    let r = "rollback plan reviewed";
    side.step("carol", &["--json", "approve", &pay[..8], "--rationale", r]);
    side.step(
        "erin",
        &[
            "--json",
            "approve",
            &search,
            "--rationale",
            "fine with guard rails",
            "--condition",
            "deploy after 18:00",
            "--condition",
            "watch p99",
        ],
    );
    let r = "no rollback plan";
    side.step("carol", &["--json", "reject", &billing, "--rationale", r]);
    let exc = id_of(&side.step(
        "rita",
        &[
            "--json",
            "exception",
            "create",
            &ledger[..8],
            "--justification",
            "outage fix that cannot wait",
            "--control",
            "canary at 1%",
            "--control",
            "on-call watching",
            "--days",
            "14",
        ],
    ));
    let r = "controls suffice";
    side.step(
        "sam",
        &[
            "--json",
            "exception",
            "approve",
            &exc[..8],
            "--rationale",
            r,
        ],
    );
    let exc2 = id_of(&side.step(
        "rita",
        &[
            "--json",
            "exception",
            "create",
            &vault,
            "--justification",
            "key rotation",
            "--control",
            "pairing",
        ],
    ));
    let r = "controls too weak";
    side.step(
        "tess",
        &["--json", "exception", "reject", &exc2, "--rationale", r],
    );
    side.step("dana", &["--json", "exception", "list"]);
    side.step(
        "dana",
        &["--json", "exception", "list", "--status", "active"],
    );
    side.step("dana", &["--json", "show", &ledger]);
    side.step("dana", &["--json", "status", "payments-api"]);
    side.step("dana", &["--json", "status", "search-api", "--ring", "3"]);
    side.step("dana", &["--json", "status", "ledger-db"]);
    side.step("dana", &["--json", "status", "never-submitted"]);
    for (deployment, ring) in [
        ("payments-api", None),
        ("billing", None),
        ("billing", Some("1")),
        ("ledger-db", None),
        ("vault", None),
    ] {
        let mut args = vec!["--json", "gate", deployment];
        if let Some(ring) = ring {
            args.extend_from_slice(&["--ring", ring]);
        }
        side.step("dana", &args);
    }
    side.step("dana", &["--json", "cleanup"]);
    side.step("dana", &["audit", "export"]);
    side.step("dana", &["audit", "export", "--format", "csv"]);
    side.step("dana", &["audit", "export", "--since", "2026-11-28"]);
}

/// The ids (UUIDs) anywhere in a value.
fn collect_ids(value: &Value, ids: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => {
            for word in s.split(|c: char| !(c.is_ascii_hexdigit() || c == '-')) {
                if uuid::Uuid::parse_str(word).is_ok() && word.len() == 36 {
                    ids.insert(word.to_string());
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_ids(v, ids)),
        Value::Object(map) => map.values().for_each(|v| collect_ids(v, ids)),
        _ => {}
    }
}

/// Text with every id (whole or as its 8-character short form) and every 64-digit hash
/// replaced by a placeholder: what differs between two runs of the same workflow.
fn normalize_text(text: &str, ids: &BTreeSet<String>) -> String {
    let mut out = text.to_string();
    for id in ids {
        out = out.replace(id.as_str(), "<id>").replace(&id[..8], "<id>");
    }
    let mut result = String::new();
    let mut run = String::new();
    for c in out.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() && c.is_ascii_lowercase() || c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        if run.len() == 64 {
            result.push_str("<hash>");
        } else {
            result.push_str(&run);
        }
        run.clear();
        result.push(c);
    }
    result.pop();
    result
}

/// A document with ids and hashes replaced, and without the idempotency keys a server
/// records with each event (the remote client sends one with every POST; the local command
/// line has no use for them).
fn normalize(value: &Value, ids: &BTreeSet<String>) -> Value {
    match value {
        Value::String(s) => {
            // An audit export is JSON lines: compare line by line, normalized.
            let lines: Vec<Value> = s
                .lines()
                .map(|l| match serde_json::from_str::<Value>(l) {
                    Ok(v) if v.is_object() => normalize(&v, ids),
                    _ => Value::String(normalize_text(l, ids)),
                })
                .collect();
            if lines.len() == 1 && s.lines().count() == 1 && lines[0].is_string() {
                lines.into_iter().next().unwrap_or(Value::Null)
            } else {
                Value::Array(lines)
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| normalize(v, ids)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "idempotency")
                .map(|(k, v)| (k.clone(), normalize(v, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn normalized_steps(steps: &[Step]) -> Vec<(String, i32, Value)> {
    let mut ids = BTreeSet::new();
    for s in steps {
        collect_ids(&s.out, &mut ids);
    }
    steps
        .iter()
        .map(|s| {
            (
                normalize_text(&s.label, &ids),
                s.code,
                normalize(&s.out, &ids),
            )
        })
        .collect()
}

#[test]
fn every_command_over_the_server_prints_what_it_prints_on_a_local_store() {
    let server = Server::start();
    let local_world = World::new();
    let remote_run = |user: &str, args: &[&str]| server.run(user, args);
    let local_run = |user: &str, args: &[&str]| {
        local_world
            .local_at(NOW, user, args)
            .output()
            .expect("cab runs")
    };
    let mut remote = Side {
        run: &remote_run,
        steps: Vec::new(),
    };
    let mut local = Side {
        run: &local_run,
        steps: Vec::new(),
    };
    workflow(&mut remote);
    workflow(&mut local);

    let remote_steps = normalized_steps(&remote.steps);
    let local_steps = normalized_steps(&local.steps);
    assert_eq!(remote_steps.len(), local_steps.len());
    for (r, l) in remote_steps.iter().zip(&local_steps) {
        assert_eq!(r.0, l.0, "the same step on both sides");
        assert_eq!(r.1, l.1, "{}: exit code remote vs local", r.0);
        assert!(
            r.2 == l.2,
            "{}: remote and local output differ\nremote: {:#}\nlocal:  {:#}",
            r.0,
            r.2,
            l.2
        );
    }
    // The workflow did what it says: the comparison is of real outcomes, not of two errors.
    let codes: Vec<i32> = remote.steps.iter().map(|s| s.code).collect();
    assert!(codes.contains(&3), "some gate said not eligible: {codes:?}");
    let decisions: Vec<&Value> = remote
        .steps
        .iter()
        .filter(|s| s.label.contains(" approve ") || s.label.contains(" reject "))
        .map(|s| &s.out["status"])
        .collect();
    assert_eq!(
        decisions,
        [
            "approved",
            "conditional",
            "rejected",
            "approved",
            "rejected"
        ],
        "decisions and reviews as recorded on the server"
    );
    let audit = remote
        .steps
        .iter()
        .find(|s| s.label.ends_with("cab audit export"))
        .expect("an audit export");
    assert!(
        audit.out.as_str().is_some_and(|t| t.lines().count() >= 5),
        "the audit trail lists decisions and reviews: {}",
        audit.out
    );

    // verify: the server's chain, event by event, as the local store's.
    let verified = server.json("dana", &["verify"]);
    let local_verified = local_world.local_json_at(NOW, "dana", &["verify"]);
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["server"], server.url(), "{verified}");
    assert_eq!(
        verified["events"], local_verified["events"],
        "the same number of events"
    );
    let events = server.http("GET", "/v1/events", Some("dana"), None).body;
    let last = events["events"]
        .as_array()
        .and_then(|e| e.last())
        .expect("events");
    assert_eq!(
        verified["head_hash"], last["hash"],
        "verify names the hash of the newest event"
    );
}

/// Run a remote command that must fail with `code`, with `--json`; the error document. Checks
/// that it writes nothing: the server's head does not move.
fn fails(server: &Server, code: i32, user: &str, args: &[&str]) -> Value {
    let head = server.head();
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = server.run(user, &all);
    assert_eq!(
        out.status.code(),
        Some(code),
        "cab {args:?} as {user}\nstdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.starts_with("cab: ") && err.trim_end().lines().count() == 1,
        "one sentence on stderr: {err:?}"
    );
    assert_eq!(server.head(), head, "a failed command wrote to the server");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("a JSON error document");
    assert!(doc["error"]["code"].is_string(), "{doc}");
    doc
}

fn code_of(doc: &Value) -> &str {
    doc["error"]["code"].as_str().unwrap_or_default()
}

fn submit(server: &Server, user: &str, deployment: &str, risk: &str) -> String {
    id_of(&server.json(
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
}

#[test]
fn server_statuses_map_to_exit_codes_400_and_404_to_2_and_403_and_409_to_4() {
    let server = Server::start();
    let id = submit(&server, "dana", "payments-api", "62");

    // 400: the server judges the score (the client only parses it).
    let doc = fails(
        &server,
        2,
        "dana",
        &[
            "submit",
            "--deployment",
            "d",
            "--evidence",
            "e",
            "--risk",
            "101",
        ],
    );
    assert_eq!(code_of(&doc), "invalid_input", "{doc}");
    server.wait_log("route=/v1/requests status=400");
    // 400: an id prefix too short for the server.
    let doc = fails(&server, 2, "carol", &["show", &id[..7]]);
    assert_eq!(code_of(&doc), "invalid_input", "{doc}");
    // 404: an id the server does not know.
    let unknown = uuid::Uuid::new_v4().to_string();
    let doc = fails(&server, 2, "carol", &["show", &unknown]);
    assert_eq!(code_of(&doc), "not_found", "{doc}");
    server.wait_log("route=/v1/requests/{id} status=404");
    let doc = fails(
        &server,
        2,
        "carol",
        &["approve", &unknown, "--rationale", "x"],
    );
    assert_eq!(code_of(&doc), "not_found", "{doc}");

    // 403: missing role, and separation of duties.
    let doc = fails(&server, 4, "dana", &["approve", &id, "--rationale", "mine"]);
    assert_eq!(code_of(&doc), "missing_role", "{doc}");
    server.wait_log("route=/v1/requests/{id}/approve status=403");
    let own = submit(&server, "carol", "carol-tool", "60");
    let doc = fails(
        &server,
        4,
        "carol",
        &["reject", &own, "--rationale", "mine"],
    );
    assert_eq!(code_of(&doc), "separation_of_duties", "{doc}");

    // 409: already decided (naming the decision), and an exception where none is needed.
    server.json("carol", &["approve", &id, "--rationale", "reviewed"]);
    let doc = fails(
        &server,
        4,
        "erin",
        &["reject", &id, "--rationale", "too late"],
    );
    assert_eq!(code_of(&doc), "already_decided", "{doc}");
    let message = doc["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("carol"),
        "the refusal names the decision: {message}"
    );
    server.wait_log("route=/v1/requests/{id}/reject status=409");
    let doc = fails(
        &server,
        4,
        "rita",
        &[
            "exception",
            "create",
            &id,
            "--justification",
            "j",
            "--control",
            "c",
        ],
    );
    assert_eq!(code_of(&doc), "wrong_state", "{doc}");

    // Exit 2 for the command line's own usage errors too, without asking the server.
    let doc = fails(&server, 2, "carol", &["queue", "--status", "bogus"]);
    assert_eq!(code_of(&doc), "usage", "{doc}");
}

#[test]
fn a_token_the_server_does_not_accept_exits_1_with_a_sentence_naming_the_server() {
    let server = Server::start();
    let head = server.head();
    for (what, token) in [("a wrong token", Some("cab_wrong")), ("no token", None)] {
        let mut command = server.cab(None, &["--json", "queue"]);
        if let Some(token) = token {
            command.env("CAB_TOKEN", token);
        }
        let out = command.output().expect("cab runs");
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(server.url()),
            "{what}: names the server: {err}"
        );
        assert!(err.contains("token"), "{what}: says it is the token: {err}");
        let doc: Value = serde_json::from_slice(&out.stdout).expect("a JSON error");
        assert_eq!(code_of(&doc), "unauthorized", "{what}: {doc}");
    }
    let out = server
        .cab(
            None,
            &[
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                "10",
            ],
        )
        .env("CAB_TOKEN", "cab_wrong")
        .output()
        .expect("cab runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        server.head(),
        head,
        "nothing was written without a valid token"
    );
}

#[test]
fn an_unreachable_server_exits_1_with_a_sentence_naming_its_url() {
    // Port 1 (tcpmux): below the range ports are handed out from, so no test's server can
    // be listening there, and nothing else is.
    let url = "http://127.0.0.1:1".to_string();
    let world = World::new();
    for args in [
        vec!["--json", "queue"],
        vec![
            "--json",
            "submit",
            "--deployment",
            "d",
            "--evidence",
            "e",
            "--risk",
            "10",
        ],
        vec!["--json", "gate", "payments-api"],
    ] {
        let out = world
            .plain(&["--remote", &url])
            .args(&args)
            .env("CAB_TOKEN", world.token("dana"))
            .output()
            .expect("cab runs");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with("cab: ") && err.contains(&url),
            "{args:?}: one sentence naming {url}: {err}"
        );
        let doc: Value = serde_json::from_slice(&out.stdout).expect("a JSON error");
        assert_eq!(code_of(&doc), "unreachable", "{doc}");
    }
    assert!(
        !world.default_local_store().exists(),
        "no local store was used instead"
    );
}

#[test]
fn cab_remote_and_cab_token_in_the_environment_select_the_server() {
    let server = Server::start();
    let run = |token_user: &str, args: &[&str]| -> Output {
        let mut command: Command = server.world().plain(&["--json"]);
        command
            .args(args)
            .env("CAB_REMOTE", server.url())
            .env("CAB_TOKEN", server.token(token_user));
        command.output().expect("cab runs")
    };
    let args = [
        "submit",
        "--deployment",
        "env-set",
        "--evidence",
        "e",
        "--risk",
        "62",
    ];
    let doc = parse_json(&run("dana", &args), &args);
    assert_eq!(doc["requested_by"], "dana", "{doc}");
    let list = parse_json(&run("carol", &["queue"]), &["queue"]);
    assert_eq!(
        list[0]["id"], doc["id"],
        "the queue comes from the server: {list}"
    );
    assert!(
        !server.world().default_local_store().exists(),
        "no local store was written"
    );
}

#[test]
fn the_config_files_remote_url_and_token_select_the_server_and_cab_token_overrides_the_token() {
    let server = Server::start();
    let world = server.world();
    let config_dir = world.dir().join("home").join("config").join("cab");
    std::fs::create_dir_all(&config_dir).expect("the config folder");
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "[remote]\nurl = \"{}\"\ntoken = \"{}\"\n",
            server.url(),
            world.token("dana")
        ),
    )
    .expect("the config file");

    let args = [
        "--json",
        "submit",
        "--deployment",
        "from-config",
        "--evidence",
        "e",
        "--risk",
        "62",
    ];
    let doc = parse_json(&world.plain(&args).output().expect("cab runs"), &args);
    assert_eq!(
        doc["requested_by"], "dana",
        "the config's token is dana's: {doc}"
    );
    let id = id_of(&doc);

    // CAB_TOKEN overrides the config's token: carol may decide dana's request.
    let args = ["--json", "approve", &id, "--rationale", "reviewed"];
    let out = world
        .plain(&args)
        .env("CAB_TOKEN", world.token("carol"))
        .output()
        .expect("cab runs");
    let doc = parse_json(&out, &args);
    assert_eq!(doc["decision"]["approver"], "carol", "{doc}");

    // The same file named with --config works too.
    let file = world.file(
        "client.toml",
        &format!(
            "[remote]\nurl = \"{}\"\ntoken = \"{}\"\n",
            server.url(),
            world.token("erin")
        ),
    );
    let file = file.display().to_string();
    let args = ["--config", &file, "--json", "show", &id[..8]];
    let doc = parse_json(&world.plain(&args).output().expect("cab runs"), &args);
    assert_eq!(doc["id"], id.as_str(), "{doc}");
    assert!(
        !world.default_local_store().exists(),
        "no local store was written"
    );
}

#[test]
fn demo_with_remote_is_refused_with_exit_2_and_writes_nothing() {
    let server = Server::start();
    submit(&server, "dana", "payments-api", "62");
    let head = server.head();
    let before = server.world().store_bytes();
    for args in [vec!["demo"], vec!["--json", "demo", "--requests", "5"]] {
        let out = server.run("dana", &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("local store") && err.contains(server.url()),
            "the refusal says why and names the server: {err}"
        );
    }
    assert_eq!(server.head(), head, "the server recorded nothing");
    assert_eq!(
        server.world().store_bytes(),
        before,
        "the store is untouched"
    );
    assert!(
        !server.world().default_local_store().exists(),
        "no local demo store was made instead"
    );
}

#[test]
fn an_id_prefix_of_8_characters_works_over_the_server() {
    let server = Server::start();
    let id = submit(&server, "dana", "payments-api", "62");
    let high = submit(&server, "dana", "ledger-db", "91");

    let shown = server.json("carol", &["show", &id[..8]]);
    assert_eq!(shown["id"], id.as_str(), "{shown}");
    let decided = server.json("carol", &["approve", &id[..8], "--rationale", "ok"]);
    assert_eq!(decided["id"], id.as_str(), "{decided}");
    assert_eq!(decided["status"], "approved", "{decided}");

    let exception = id_of(&server.json(
        "rita",
        &[
            "exception",
            "create",
            &high[..8],
            "--justification",
            "j",
            "--control",
            "c",
        ],
    ));
    let reviewed = server.json(
        "sam",
        &[
            "exception",
            "approve",
            &exception[..8],
            "--rationale",
            "fine",
        ],
    );
    assert_eq!(reviewed["id"], exception.as_str(), "{reviewed}");
    assert_eq!(reviewed["status"], "approved", "{reviewed}");
}

#[test]
fn identity_comes_from_the_token_and_cab_user_and_cab_roles_are_ignored() {
    let server = Server::start();
    let as_env = |token_user: &str, env_user: &str, env_roles: &str, args: &[&str]| {
        server
            .cab(Some(token_user), args)
            .env("CAB_USER", env_user)
            .env("CAB_ROLES", env_roles)
            .output()
            .expect("cab runs")
    };
    let args = [
        "--json",
        "submit",
        "--deployment",
        "who",
        "--evidence",
        "e",
        "--risk",
        "62",
    ];
    let doc = parse_json(&as_env("dana", "carol", "cab_member", &args), &args);
    assert_eq!(
        doc["requested_by"], "dana",
        "dana's token, whatever CAB_USER says: {doc}"
    );
    let id = id_of(&doc);

    // dana's token has no role, whatever CAB_ROLES claims.
    let head = server.head();
    let args = ["--json", "approve", &id, "--rationale", "self-granted"];
    let out = as_env("dana", "carol", "cab_member", &args);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("a JSON error");
    assert_eq!(code_of(&doc), "missing_role", "{doc}");
    assert_eq!(server.head(), head);

    // carol's token decides dana's request, though CAB_USER says dana.
    let out = as_env("carol", "dana", "", &args);
    let doc = parse_json(&out, &args);
    assert_eq!(doc["decision"]["approver"], "carol", "{doc}");
}
