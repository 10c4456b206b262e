//! The life of a real `cab serve` process: graceful shutdown on SIGTERM with writes in flight,
//! idempotent retries across a restart, the request log (and what it must never contain), and
//! refusing to start when it cannot serve.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::server::{NOW, PATIENCE, World, wait_until};

const NOBODY: &str = "00000000-0000-4000-8000-000000000000";

#[test]
fn sigterm_with_posts_in_flight_keeps_every_acknowledged_write_and_exits_0_saying_it_stopped() {
    let world = World::new();
    let server = world.start();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let answered = Arc::new(AtomicUsize::new(0));
    let odd = Arc::new(Mutex::new(Vec::<String>::new()));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let api = server.as_user(&world, "dana");
            let (acknowledged, answered, odd) =
                (acknowledged.clone(), answered.clone(), odd.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let body = json!({
                        "deployment_intent_id": format!("d-{t}-{i}"),
                        "evidence_package_id": "EP",
                        "risk_score": 60,
                    });
                    let sent = api
                        .request("POST", "/v1/requests")
                        .json(&body)
                        .send()
                        .and_then(|r| {
                            let status = r.status().as_u16();
                            r.text().map(|text| (status, text))
                        });
                    // Once the server stops taking connections, this client is done.
                    let Ok((status, text)) = sent else { break };
                    answered.fetch_add(1, Ordering::SeqCst);
                    if (200..300).contains(&status) {
                        let doc: serde_json::Value =
                            serde_json::from_str(&text).expect("a 2xx answer is JSON");
                        let id = doc["id"].as_str().expect("an id").to_string();
                        acknowledged.lock().expect("lock").push(id);
                    } else {
                        odd.lock().expect("lock").push(format!("{status} {text}"));
                        break;
                    }
                }
            })
        })
        .collect();
    // Let writes flow, then stop the server in the middle of them.
    wait_until("some writes were acknowledged", || {
        answered.load(Ordering::SeqCst) >= 40
    });
    server.signal(libc::SIGTERM);
    let (status, log) = server.wait_exit();
    for t in threads {
        t.join().expect("a client thread");
    }

    assert_eq!(status.code(), Some(0), "exit status {status}; log:\n{log}");
    assert!(
        log.contains("stopping") && log.lines().any(|l| l.ends_with("stopped")),
        "the log says it stopped:\n{log}"
    );
    let odd = odd.lock().expect("lock");
    assert!(
        odd.is_empty(),
        "every answer was a 201 or no answer: {odd:?}"
    );
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() >= 40);
    let stored: std::collections::BTreeSet<String> = world
        .store_events()
        .iter()
        .map(|e| e["data"]["request"]["id"].as_str().expect("id").to_string())
        .collect();
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged {id} is in the store");
    }
    world.verify();
}

#[test]
fn sigterm_answers_a_waiting_long_poll_and_the_server_exits_0() {
    let world = World::new();
    let server = world.start();
    let api = server.as_user(&world, "carol");
    api.get("/v1/healthz").expect(200, "warm-up");
    let poll = std::thread::spawn(move || {
        let started = Instant::now();
        let reply = api.get("/v1/events?after=0&wait=20");
        (reply, started.elapsed())
    });
    server.wait_for_log_lines(&["route=/v1/healthz"], 1);
    std::thread::sleep(Duration::from_millis(300));
    let (status, log) = server.terminate();
    let (reply, took) = poll.join().expect("the poll thread");
    assert_eq!(status.code(), Some(0), "{status}; log:\n{log}");
    reply.expect(200, "the poll is answered, not cut off");
    assert_eq!(reply.json, json!({"events": [], "head": 0}));
    assert!(
        took < Duration::from_secs(15),
        "shutting down woke the long-poll instead of waiting out its 20 s (took {took:?})"
    );
}

#[test]
fn an_idempotent_retry_after_a_server_restart_returns_the_first_result_and_writes_nothing() {
    let world = World::new();
    let body =
        json!({"deployment_intent_id": "payments", "evidence_package_id": "EP", "risk_score": 60});
    let decision = json!({"rationale": "fine", "conditions": ["canary"]});
    let (first, decided) = {
        let server = world.start();
        let first = server
            .as_user(&world, "dana")
            .post_idem("/v1/requests", "submit-1", &body);
        first.expect(201, "submit");
        let decided = server.as_user(&world, "carol").post_idem(
            &format!("/v1/requests/{}/approve", first.id()),
            "decide-1",
            &decision,
        );
        decided.expect(200, "decide");
        // Killed outright: nothing but the store survives.
        server.kill();
        (first, decided)
    };
    let before = world.store_bytes();
    assert_eq!(world.store_events().len(), 2);

    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let retried = dana.post_idem("/v1/requests", "submit-1", &body);
    retried.expect(201, "the submission retried after the restart");
    assert_eq!(retried.id(), first.id(), "the first request, not a new one");
    assert_eq!(retried.json["requested_by"], "dana");
    assert_eq!(retried.json["submitted_at"], first.json["submitted_at"]);
    let path = format!("/v1/requests/{}/approve", first.id());
    let redecided = server
        .as_user(&world, "carol")
        .post_idem(&path, "decide-1", &decision);
    redecided.expect(200, "the decision retried after the restart");
    assert_eq!(redecided.json, decided.json, "the first decision's answer");
    assert_eq!(world.store_bytes(), before, "the retries wrote nothing");

    // The key is still bound to its first request.
    let mut other = body.clone();
    other["risk_score"] = json!(61);
    dana.post_idem("/v1/requests", "submit-1", &other)
        .expect_error(400, "invalid_input", "the key with another body");
    assert_eq!(world.store_bytes(), before);
    // A new key is a new request.
    let fresh = dana.post_idem("/v1/requests", "submit-2", &body);
    fresh.expect(201, "a new key");
    assert_ne!(fresh.id(), first.id());
    world.verify();
}

#[test]
fn the_request_log_has_one_line_per_request_with_method_route_status_latency_and_user_and_never_a_token()
 {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let carol = server.as_user(&world, "carol");
    let wrong_token = format!("cab_{}", "e".repeat(64));

    // (method, route as logged, status, user) of every request made.
    let mut expected: Vec<(&str, String, u16, &str)> = Vec::new();
    server.api(None).get("/v1/healthz").expect(200, "healthz");
    expected.push(("GET", "/v1/healthz".into(), 200, "-"));
    let id = dana.submit("payments", 60.0);
    expected.push(("POST", "/v1/requests".into(), 201, "dana"));
    carol
        .get("/v1/requests?status=under_review")
        .expect(200, "list");
    expected.push(("GET", "/v1/requests".into(), 200, "carol"));
    carol
        .post(
            &format!("/v1/requests/{id}/approve"),
            &json!({"rationale": "ok"}),
        )
        .expect(200, "approve");
    expected.push(("POST", "/v1/requests/{id}/approve".into(), 200, "carol"));
    server
        .as_user(&world, "martin")
        .post(
            &format!("/v1/requests/{id}/reject"),
            &json!({"rationale": "no"}),
        )
        .expect(409, "too late");
    expected.push(("POST", "/v1/requests/{id}/reject".into(), 409, "martin"));
    carol
        .get(&format!("/v1/requests/{NOBODY}"))
        .expect(404, "unknown id");
    expected.push(("GET", "/v1/requests/{id}".into(), 404, "carol"));
    dana.post_raw("/v1/requests", "{oops")
        .expect(400, "malformed");
    expected.push(("POST", "/v1/requests".into(), 400, "dana"));
    dana.post_raw("/v1/requests", vec![b' '; 70_000])
        .expect(413, "too large");
    expected.push(("POST", "/v1/requests".into(), 413, "dana"));
    server
        .api(Some(&wrong_token))
        .get("/v1/exceptions")
        .expect(401, "wrong token");
    expected.push(("GET", "/v1/exceptions".into(), 401, "-"));
    server.api(None).get("/v1/events").expect(401, "no token");
    expected.push(("GET", "/v1/events".into(), 401, "-"));
    carol.get("/v1/nothing").expect(404, "unknown route");
    expected.push(("GET", "/v1/nothing".into(), 404, "-"));
    carol
        .send(carol.request("DELETE", "/v1/requests"))
        .expect(405, "wrong method");
    expected.push(("DELETE", "/v1/requests".into(), 405, "-"));
    server
        .as_user(&world, "sam")
        .get("/v1/deployments/payments/status?ring=3")
        .expect(200, "status");
    expected.push(("GET", "/v1/deployments/{id}/status".into(), 200, "sam"));

    let log = server.wait_for_log_lines(&[" method=", " route=", " status="], expected.len());
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" method=") && l.contains(" status="))
        .collect();
    assert_eq!(
        lines.len(),
        expected.len(),
        "one line per request, no more:\n{log}"
    );
    let field = |line: &str, name: &str| -> String {
        let start = line
            .find(&format!(" {name}="))
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
            + name.len()
            + 2;
        line[start..]
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches('"')
            .to_string()
    };
    for (line, (method, route, status, user)) in lines.iter().zip(&expected) {
        assert_eq!(field(line, "method"), *method, "{line}");
        assert_eq!(field(line, "route"), *route, "{line}");
        assert_eq!(field(line, "status"), status.to_string(), "{line}");
        assert_eq!(field(line, "user"), *user, "{line}");
        let latency = field(line, "latency_ms");
        assert!(
            latency.parse::<f64>().is_ok_and(|ms| ms >= 0.0),
            "a latency in milliseconds: {line}"
        );
    }

    let (_, log) = server.terminate();
    let mut secrets: Vec<String> = world.users().map(|u| u.token.clone()).collect();
    secrets.push(wrong_token);
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a token is in the log:\n{log}"
        );
        // Not even its random part.
        assert!(!log.contains(&secret[4..]), "a token is in the log:\n{log}");
    }
    for user in world.users() {
        assert!(
            !log.contains(&user.token_sha256),
            "a token hash is in the log:\n{log}"
        );
    }
}

#[test]
fn the_server_refuses_to_start_without_users_or_on_a_taken_port_and_says_why() {
    let world = World::new();
    let server = world.start();
    let taken = server.base().trim_start_matches("http://").to_string();
    let store = world.store().to_str().expect("utf-8").to_string();
    let config = world.dir().join("config.toml");
    let config = config.to_str().expect("utf-8");
    let out = world
        .cab_command(
            NOW,
            &[
                "--config", config, "--store", &store, "serve", "--listen", &taken,
            ],
        )
        .output()
        .expect("run cab serve");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a taken port is a failure: {out:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&taken), "names the address: {stderr}");

    let empty = world.dir().join("empty.toml");
    std::fs::write(&empty, "").expect("write");
    let out = world
        .cab_command(
            NOW,
            &[
                "--config",
                empty.to_str().expect("utf-8"),
                "--store",
                &store,
                "serve",
                "--listen",
                "127.0.0.1:0",
            ],
        )
        .output()
        .expect("run cab serve");
    assert!(!out.status.success(), "no users, no server: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("server.users") && stderr.contains("cab token new"),
        "says how to add a user: {stderr}"
    );
    assert!(world.store_bytes().is_empty());
    drop(server);
}

#[test]
fn two_users_sharing_one_token_hash_is_a_config_error_at_start_naming_both() {
    let world = World::new();
    let carol = world.user("carol");
    let shared = world.dir().join("shared.toml");
    std::fs::write(
        &shared,
        format!(
            "[[server.users]]\nname = \"carol\"\nroles = [\"cab_member\"]\ntoken_sha256 = \"{hash}\"\n\n\
             [[server.users]]\nname = \"mallory\"\nroles = []\ntoken_sha256 = \"{hash}\"\n",
            hash = carol.token_sha256
        ),
    )
    .expect("write the config file");
    let store = world.store().to_str().expect("utf-8").to_string();
    let mut child = world
        .cab_command(
            NOW,
            &[
                "--config",
                shared.to_str().expect("utf-8"),
                "--store",
                &store,
                "serve",
                "--listen",
                "127.0.0.1:0",
            ],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run cab serve");
    // A server that starts anyway never exits by itself: stop it and fail.
    let started = Instant::now();
    while child.try_wait().expect("wait for cab serve").is_none() {
        if started.elapsed() > PATIENCE {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("its output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a configuration error, as the command line maps them: {stderr}"
    );
    assert!(
        !stderr.contains("listening"),
        "the server never started: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
    assert!(
        stderr.contains("\"carol\"")
            && stderr.contains("\"mallory\"")
            && stderr.contains("same token_sha256"),
        "names both users and the cause: {stderr}"
    );
    assert!(
        !stderr.contains(&carol.token_sha256),
        "the hash itself stays out of the message: {stderr}"
    );
}
