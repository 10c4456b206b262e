//! Benchmark: what one webhook costs `cab serve`, and how soon its receiver hears of an event.
//!
//! The release binary serves a new store on loopback, with and then without one webhook whose
//! receiver (tests/support/receiver.rs, a real HTTP server in this process) answers each POST
//! after 50 ms. For each run: the requester submits `CAB_BENCH_DECISIONS` requests (risk 60, so
//! each waits for review), then `CAB_BENCH_CLIENTS` CAB members approve them all as fast as the
//! server answers; decisions per second and the API's p50/p99 are compared. Then, with the
//! webhook, decisions are paced at `CAB_BENCH_RATE` per second (below the receiver's 20 per
//! second) and each one's event-to-delivery latency is measured: from the moment the API
//! acknowledged the decision to the moment the receiver got its `request_decided` POST.
//!
//!     cargo bench --bench webhooks
//!     CAB_BENCH_DECISIONS=4000 CAB_BENCH_CLIENTS=16 CAB_BENCH_RATE=10 cargo bench --bench webhooks
//!
//! Last, the local paths, where another process writes the store: `cab notify --follow` (to a
//! receiver answering at once) and `cab audit export --follow`, each timed from the moment a
//! `cab submit` process is started to the moment the POST or the line arrives (so the figure
//! includes that process's own run, shown beside it), over `CAB_BENCH_FOLLOWED` submissions.
//!
//! Figures go in docs/perf.md. Nothing here asserts a speed.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../tests/support/receiver.rs"]
mod receiver;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use receiver::{Answer, Receiver, webhook_block};

const NOW: &str = "2026-11-28T12:00:00Z";
const MEMBERS: &[&str] = &["carol", "dave", "erin"];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mint(cab: &str, name: &str, role: Option<&str>) -> (String, String) {
    let mut args = vec!["token", "new", name, "--json"];
    if let Some(role) = role {
        args.extend(["--role", role]);
    }
    let out = Command::new(cab)
        .args(&args)
        .output()
        .expect("cab token new");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    (
        doc["token"].as_str().unwrap().to_string(),
        doc["config"].as_str().unwrap().to_string(),
    )
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(cab: &str, dir: &Path) -> Server {
        let mut child = Command::new(cab)
            .arg("--config")
            .arg(dir.join("config.toml"))
            .arg("--store")
            .arg(dir.join("store.jsonl"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("CAB_NOW", NOW)
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .env("CAB_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cab serve starts");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let base = loop {
            line.clear();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "cab serve exited");
            if let Some(at) = line.find("listening on ") {
                break line[at + 13..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .to_string();
            }
        };
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
            }
        });
        Server { child, base }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Submit `n` requests under review with `clients` concurrent clients; their ids.
async fn submit_all(base: &str, token: &str, n: usize, clients: usize) -> Vec<String> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (base, token, next) = (base.to_string(), token.to_string(), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let http = client();
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return ids;
                }
                let reply: serde_json::Value = http
                    .post(format!("{base}/v1/requests"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({
                        "deployment_intent_id": format!("svc-{i}"),
                        "evidence_package_id": "EP-1",
                        "risk_score": 60,
                    }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                ids.push(reply["id"].as_str().unwrap().to_string());
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

async fn approve(http: &reqwest::Client, base: &str, token: &str, id: &str) -> Instant {
    let status = http
        .post(format!("{base}/v1/requests/{id}/approve"))
        .bearer_auth(token)
        .json(&serde_json::json!({"rationale": "bench"}))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "approve answered {status}");
    Instant::now()
}

/// Approve every id with `clients` clients as fast as answers come: (decisions/s, latencies ms).
async fn approve_all(
    base: &str,
    tokens: &[String],
    ids: Vec<String>,
    clients: usize,
) -> (f64, Vec<f64>) {
    let ids = Arc::new(ids);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (base, token) = (base.to_string(), tokens[c % tokens.len()].clone());
        let (ids, next) = (Arc::clone(&ids), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let http = client();
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = ids.get(i) else {
                    return latencies;
                };
                let sent = Instant::now();
                let done = approve(&http, &base, &token, id).await;
                latencies.push((done - sent).as_secs_f64() * 1000.0);
            }
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let rate = ids.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    (rate, latencies)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let decisions: usize = env_or("CAB_BENCH_DECISIONS", 3000);
    let clients: usize = env_or("CAB_BENCH_CLIENTS", 16);
    let rate: f64 = env_or("CAB_BENCH_RATE", 10.0);
    let paced_count: usize = env_or("CAB_BENCH_PACED", 150);
    let cab_bin =
        std::env::var("CAB_BENCH_CAB").unwrap_or_else(|_| env!("CARGO_BIN_EXE_cab").into());
    let cab = cab_bin.as_str();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();

    println!("| webhook | decisions | clients | decisions/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|");
    let mut paced_run = None::<()>;
    for with_webhook in [false, true, false, true] {
        let dir = tempfile::tempdir().unwrap();
        let receiver = Receiver::start();
        receiver.answer(Answer::Slow(204, Duration::from_millis(50)));
        let mut config = String::new();
        let mut tokens = Vec::new();
        for name in MEMBERS {
            let (token, block) = mint(cab, name, Some("cab_member"));
            tokens.push(token);
            config.push_str(&block);
        }
        let (requester, block) = mint(cab, "rita", None);
        config.push_str(&block);
        if with_webhook {
            config.push_str(&webhook_block("bench", &receiver.url("/hook"), ""));
        }
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let server = Server::start(cab, dir.path());
        let (per_second, latencies) = runtime.block_on(async {
            let ids = submit_all(&server.base, &requester, decisions, clients).await;
            approve_all(&server.base, &tokens, ids, clients).await
        });
        println!(
            "| {} | {decisions} | {clients} | {per_second:.0} | {:.1} | {:.1} |",
            if with_webhook {
                "one, 50 ms receiver"
            } else {
                "none"
            },
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99)
        );
        if with_webhook {
            let delivered = receiver.acknowledged().len();
            println!(
                "|   (the receiver had {delivered} of {} messages when the decisions ended) | | | | | |",
                decisions * 2
            );
        }
        if with_webhook && paced_run.is_none() {
            paced_run = Some(());
            drop(server);
            drop(receiver);
            paced(cab, &runtime, rate, paced_count);
        }
    }
    followed(cab, env_or("CAB_BENCH_FOLLOWED", 30));
}

fn summary(what: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{what}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} measured)",
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN),
        ms.len()
    );
}

/// `cab notify --follow` and `cab audit export --follow` while other processes write.
fn followed(cab: &str, count: usize) {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, webhook_block("bench", &receiver.url("/hook"), "")).unwrap();
    let store = dir.path().join("store.jsonl");
    let cab_cmd = |args: &[&str]| {
        let mut c = Command::new(cab);
        c.arg("--config")
            .arg(&config)
            .arg("--store")
            .arg(&store)
            .args(args)
            .env("CAB_NOW", NOW)
            .env("CAB_USER", "rita")
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .stdin(Stdio::null());
        c
    };
    let submit = |i: usize| {
        let started = SystemTime::now();
        let d = format!("followed-{i}");
        let ok = cab_cmd(&[
            "submit",
            "--deployment",
            &d,
            "--evidence",
            "E",
            "--risk",
            "20",
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
        assert!(ok, "cab submit");
        (started, SystemTime::now())
    };
    submit(0);
    let mut notify = cab_cmd(&["notify", "--follow"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut follow = cab_cmd(&["audit", "export", "--format", "ocsf", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<SystemTime>();
    let out = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for _ in BufReader::new(out).lines() {
            let _ = tx.send(SystemTime::now());
        }
    });
    // The first submission's two records (it is auto-approved) and its delivery.
    lines.recv_timeout(Duration::from_secs(30)).unwrap();
    lines.recv_timeout(Duration::from_secs(30)).unwrap();
    receiver.wait_acknowledged(1, Duration::from_secs(30));
    let ms = |later: SystemTime, earlier: SystemTime| {
        later
            .duration_since(earlier)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let (mut to_receiver, mut to_line, mut runs) = (Vec::new(), Vec::new(), Vec::new());
    for i in 1..=count {
        std::thread::sleep(Duration::from_millis(150));
        let (written, ended) = submit(i);
        runs.push(ms(ended, written));
        // A submission at risk 20 is auto-approved: one OCSF record for it, one for the decision.
        let line = lines.recv_timeout(Duration::from_secs(30)).unwrap();
        lines.recv_timeout(Duration::from_secs(30)).unwrap();
        to_line.push(ms(line, written));
        let got = receiver.wait_acknowledged(i + 1, Duration::from_secs(30));
        let arrived = got[i].received;
        to_receiver.push(ms(arrived, written));
    }
    summary("a cab submit process, start to exit", runs);
    summary(
        "cab notify --follow, another process writes, receiver answers at once",
        to_receiver,
    );
    summary("cab audit export --follow, another process writes", to_line);
    let _ = notify.kill();
    let _ = follow.kill();
    let _ = notify.wait();
    let _ = follow.wait();
}

/// Decisions at a steady `rate`, each one's event-to-delivery latency.
fn paced(cab: &str, runtime: &tokio::runtime::Runtime, rate: f64, count: usize) {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start();
    receiver.answer(Answer::Slow(204, Duration::from_millis(50)));
    let (member, block) = mint(cab, "carol", Some("cab_member"));
    let (requester, block2) = mint(cab, "rita", None);
    let config = format!(
        "{block}{block2}{}",
        webhook_block(
            "bench",
            &receiver.url("/hook"),
            "events = [\"request_decided\"]"
        )
    );
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let server = Server::start(cab, dir.path());
    let base = server.base.clone();
    let acked: HashMap<String, SystemTime> = runtime.block_on(async {
        let ids = submit_all(&base, &requester, count, 4).await;
        let http = client();
        let gap = Duration::from_secs_f64(1.0 / rate);
        let mut acked = HashMap::new();
        let mut next = Instant::now();
        for id in ids {
            tokio::time::sleep_until(next.into()).await;
            next += gap;
            approve(&http, &base, &member, &id).await;
            acked.insert(id, SystemTime::now());
        }
        acked
    });
    let got = receiver.wait_acknowledged(count, Duration::from_secs(120));
    let mut latencies: Vec<f64> = got
        .iter()
        .filter_map(|d| {
            let body = d.json();
            let id = body["data"]["data"]["decision"]["request_id"]
                .as_str()?
                .to_string();
            let at = acked.get(&id)?;
            // Arrival is when the POST was read, before the receiver's 50 ms answer.
            Some(
                d.received
                    .duration_since(*at)
                    .map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            )
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    println!();
    println!(
        "event-to-delivery, {count} decisions at {rate}/s, 50 ms receiver: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} measured)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.len()
    );
    println!();
}
