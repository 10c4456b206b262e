//! Benchmark: `cab serve` under load on loopback. Makes a demo store, mints tokens for three
//! CAB members and a requester, starts the release binary on 127.0.0.1 (port 0) and runs
//! concurrent clients against it, one scenario at a time, each for a fixed time (approve: until
//! every request submit wrote is decided):
//!
//! - reads: the queue (`GET /v1/requests?status=pending`), the queue of one deployment
//!   (`...&deployment=D`), a deployment's status (`GET /v1/deployments/{id}/status`) and one
//!   request with its history (`GET /v1/requests/{id}`), for deployments and requests taken
//!   from the store;
//! - writes: submit (`POST /v1/requests`, by the requester, risk 60 so each lands under review)
//!   and approve (`POST /v1/requests/{id}/approve`, by the CAB members, on the requests just
//!   submitted, so each succeeds); every POST carries an `Idempotency-Key`, as `cab --remote`
//!   sends;
//! - a mix: of 100 requests, 55 status, 30 one request, 4 one deployment's queue, 1 queue,
//!   5 submit, 5 approve.
//!
//! Each client is a task with its own HTTP client and one keep-alive connection, sending one
//! request after another. Reports requests per second, p50 and p99 latency, errors (any answer
//! that is not 2xx, and transport failures), and the CPU the server and the load generator used
//! per request; for writes, the durable writes per second (each acknowledged after an fsync that
//! covers it; group commit lets one fsync cover several) next to this disk's raw fsync rate,
//! measured just before the scenario with the server idle (append a line of the store's mean
//! line length + fdatasync, one thread, one second).
//!
//!     cargo bench --bench load                              # 20,000 requests, 10 s each
//!     CAB_BENCH_REQUESTS=100000 CAB_BENCH_SECONDS=5 CAB_BENCH_CLIENTS=32 cargo bench --bench load
//!
//! `CAB_BENCH_SCENARIOS=status,submit` runs only those (queue, deployment-queue, status, request,
//! submit, approve, mixed; approve decides what submit wrote, so it needs submit before it).
//! `CAB_BENCH_CAB=/path/to/cab` benchmarks another build of cab (a before/after comparison).
//! `CAB_BENCH_CLIENT_THREADS` (default 1) is how many threads the load generator's runtime has:
//! on a 2-core machine it shares the cores with the server, so it is kept to one.
//!
//! `CAB_BENCH_BACKEND=postgres` runs the same scenarios against `CAB_BENCH_INSTANCES` (default
//! 2) `cab serve` instances on one PostgreSQL database instead of one server on the file: the
//! benchmark starts a PostgreSQL server of its own on this machine (as the tests do,
//! tests/support/postgres.rs), copies the demo store into it with `cab store copy`, and spreads
//! the clients over the instances (client n talks to instance n mod N). Server CPU is then the
//! instances' together; the database's own CPU is not in it.
//!
//!     CAB_BENCH_BACKEND=postgres cargo bench --bench load
//!
//! (`CAB_BENCH_PG_SOCKET=1`: the instances reach the database through its socket folder
//! instead of loopback TCP.)
//! Figures go in docs/perf.md. Nothing here asserts a speed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../tests/support/postgres.rs"]
mod postgres;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NOW: &str = "2026-11-28T12:00:00Z";
const MEMBERS: &[&str] = &["carol", "dave", "erin"];
const REQUESTER: &str = "rita";
/// How many deployments and requests the read scenarios cycle through.
const SAMPLE: usize = 1000;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

/// `cab token new NAME --role ROLE --json`: the token and the config block with its hash.
fn mint(cab: &str, name: &str, role: &str) -> (String, String) {
    let out = Command::new(cab)
        .args(["token", "new", name, "--role", role, "--json"])
        .output()
        .expect("cab token new runs");
    assert!(out.status.success(), "cab token new failed");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("token JSON");
    (
        v["token"].as_str().expect("a token").to_string(),
        v["config"].as_str().expect("a config block").to_string(),
    )
}

/// Deployments and request ids spread evenly over the store, and its mean line length.
fn sample_store(store: &Path) -> (Vec<String>, Vec<String>, usize) {
    let file = std::fs::File::open(store).expect("the store opens");
    let mut deployments = BTreeSet::new();
    let mut requests = Vec::new();
    let (mut lines, mut bytes) = (0usize, 0usize);
    for line in BufReader::new(file).lines() {
        let line = line.expect("a line");
        lines += 1;
        bytes += line.len() + 1;
        if !line.contains("\"type\":\"request_submitted\"") {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        let r = &v["data"]["request"];
        requests.push(r["id"].as_str().expect("an id").to_string());
        deployments.insert(
            r["deployment_intent_id"]
                .as_str()
                .expect("a deployment")
                .to_string(),
        );
    }
    let spread = |all: Vec<String>| -> Vec<String> {
        let step = (all.len() / SAMPLE).max(1);
        all.into_iter().step_by(step).take(SAMPLE).collect()
    };
    (
        spread(deployments.into_iter().collect()),
        spread(requests),
        bytes / lines.max(1),
    )
}

/// This disk's raw durable-append rate: one thread appending a line and fdatasync-ing it.
fn raw_fsync_rate(dir: &Path, line_len: usize) -> f64 {
    let path = dir.join("fsync-probe.jsonl");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("a probe file");
    let mut line = vec![b'x'; line_len.max(2) - 1];
    line.push(b'\n');
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(1) {
        file.write_all(&line).expect("append");
        file.sync_data().expect("fdatasync");
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    drop(file);
    let _ = std::fs::remove_file(path);
    rate
}

/// The server, stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    base: String,
    log_lines: Arc<AtomicU64>,
}

impl Server {
    fn start(cab: &str, dir: &Path, store: &std::ffi::OsStr) -> Server {
        let mut child = Command::new(cab)
            .arg("--config")
            .arg(dir.join("config.toml"))
            .arg("--store")
            .arg(store)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("CAB_NOW", NOW)
            // Checkpoints go to the temporary folder, not the user's cache.
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .env_remove("CAB_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cab serve starts");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        let base = loop {
            line.clear();
            let n = stderr.read_line(&mut line).expect("cab serve's stderr");
            assert!(n > 0, "cab serve exited before listening");
            if let Some(at) = line.find("listening on ") {
                let rest = &line[at + "listening on ".len()..];
                break rest
                    .split_whitespace()
                    .next()
                    .expect("an address")
                    .to_string();
            }
        };
        // The request log (one line per request) must be drained, or the server would block.
        let log_lines = Arc::new(AtomicU64::new(0));
        let counter = log_lines.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
                counter.fetch_add(1, Ordering::Relaxed);
                line.clear();
            }
        });
        Server {
            child,
            base,
            log_lines,
        }
    }

    /// CPU seconds (user + system) the server has used so far.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
            .sum();
        // SAFETY: sysconf only reads a configuration value.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
        ticks as f64 / hz as f64
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: signalling the child we started.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// CPU seconds this process (the load generator) has used so far.
fn own_cpu_seconds() -> f64 {
    // SAFETY: rusage is plain data that getrusage fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Queue,
    DeploymentQueue,
    Status,
    Request,
    Submit,
    Approve,
    Mixed,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Queue => "read: queue",
            Scenario::DeploymentQueue => "read: one deployment's queue",
            Scenario::Status => "read: deployment status",
            Scenario::Request => "read: one request",
            Scenario::Submit => "write: submit",
            Scenario::Approve => "write: approve",
            Scenario::Mixed => "mixed",
        }
    }

    /// The name `CAB_BENCH_SCENARIOS` selects it by.
    fn key(self) -> &'static str {
        match self {
            Scenario::Queue => "queue",
            Scenario::DeploymentQueue => "deployment-queue",
            Scenario::Status => "status",
            Scenario::Request => "request",
            Scenario::Submit => "submit",
            Scenario::Approve => "approve",
            Scenario::Mixed => "mixed",
        }
    }

    fn route(self) -> &'static str {
        match self {
            Scenario::Queue => "`GET /v1/requests?status=pending`",
            Scenario::DeploymentQueue => "`GET /v1/requests?status=pending&deployment=D`",
            Scenario::Status => "`GET /v1/deployments/{id}/status`",
            Scenario::Request => "`GET /v1/requests/{id}`",
            Scenario::Submit => "`POST /v1/requests`",
            Scenario::Approve => "`POST /v1/requests/{id}/approve`",
            Scenario::Mixed => {
                "of 100: 55 status, 30 one request, 4 one deployment's queue, 1 queue, 5 submit, 5 approve"
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    Queue,
    DeploymentQueue,
    Status,
    Request,
    Submit,
    Approve,
}

fn op_for(scenario: Scenario, i: usize) -> Op {
    match scenario {
        Scenario::Queue => Op::Queue,
        Scenario::DeploymentQueue => Op::DeploymentQueue,
        Scenario::Status => Op::Status,
        Scenario::Request => Op::Request,
        Scenario::Submit => Op::Submit,
        Scenario::Approve => Op::Approve,
        Scenario::Mixed => match i % 100 {
            0 => Op::Queue,
            1..=4 => Op::DeploymentQueue,
            5..=9 => Op::Submit,
            10..=14 => Op::Approve,
            15..=44 => Op::Request,
            _ => Op::Status,
        },
    }
}

struct Shared {
    /// The instances' addresses.
    bases: Vec<String>,
    members: Vec<String>,
    requester: String,
    deployments: Vec<String>,
    requests: Vec<String>,
    /// Requests the requester submitted and nobody has decided yet: what approvers take.
    undecided: Mutex<Vec<String>>,
    submitted: AtomicU64,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    writes: u64,
}

async fn client(shared: Arc<Shared>, scenario: Scenario, n: usize, until: Instant) -> Tally {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(1)
        .build()
        .expect("an HTTP client");
    let member = format!("Bearer {}", shared.members[n % shared.members.len()]);
    let requester = format!("Bearer {}", shared.requester);
    let base = &shared.bases[n % shared.bases.len()];
    let mut tally = Tally::default();
    // Clients start at different places in the samples and the mix.
    let mut i = n * 7;
    // Approving runs until every request submitted so far is decided (so the queue is back to
    // its size for what follows); the rest run for their time.
    while scenario == Scenario::Approve || Instant::now() < until {
        let k = i;
        i += 1;
        let mut op = op_for(scenario, k);
        let pick = |list: &Vec<String>| list[(k * 31 + n) % list.len()].clone();
        let mut approve_id = None;
        if let Op::Approve = op {
            approve_id = shared.undecided.lock().unwrap().pop();
            if approve_id.is_none() {
                if scenario == Scenario::Approve {
                    break;
                }
                op = Op::Status;
            }
        }
        let started = Instant::now();
        let request = match op {
            Op::Queue => http
                .get(format!("{base}/v1/requests?status=pending"))
                .header("authorization", &member),
            Op::DeploymentQueue => http
                .get(format!("{base}/v1/requests"))
                .query(&[
                    ("status", "pending"),
                    ("deployment", &pick(&shared.deployments)),
                ])
                .header("authorization", &member),
            Op::Status => http
                .get(format!(
                    "{base}/v1/deployments/{}/status",
                    pick(&shared.deployments)
                ))
                .header("authorization", &member),
            Op::Request => http
                .get(format!("{base}/v1/requests/{}", pick(&shared.requests)))
                .header("authorization", &member),
            Op::Submit => {
                let k = shared.submitted.fetch_add(1, Ordering::Relaxed);
                http.post(format!("{base}/v1/requests"))
                    .header("authorization", &requester)
                    .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                    .json(&serde_json::json!({
                        "deployment_intent_id": format!("load-test-r{k}"),
                        "evidence_package_id": format!("EP-LOAD-{k}"),
                        "title": "Load test change",
                        "risk_score": 60.0,
                        "risk_factors": {"change_size": 30.0, "blast_radius": 30.0},
                    }))
            }
            Op::Approve => http
                .post(format!(
                    "{base}/v1/requests/{}/approve",
                    approve_id.as_deref().unwrap_or_default()
                ))
                .header("authorization", &member)
                .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                .json(&serde_json::json!({"rationale": "load test: reviewed"})),
        };
        let answer = match request.send().await {
            Ok(response) => {
                let ok = response.status().is_success();
                response.bytes().await.ok().filter(|_| ok)
            }
            Err(_) => None,
        };
        tally
            .latencies_us
            .push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
        let Some(body) = answer else {
            tally.errors += 1;
            continue;
        };
        match op {
            Op::Submit => {
                tally.writes += 1;
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                if let Some(id) = v["id"].as_str() {
                    shared.undecided.lock().unwrap().push(id.to_string());
                }
            }
            Op::Approve => tally.writes += 1,
            _ => {}
        }
    }
    tally
}

struct Outcome {
    requests: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    writes: u64,
    server_cpu: f64,
    client_cpu: f64,
}

fn run(
    runtime: &tokio::runtime::Runtime,
    servers: &[Server],
    shared: &Arc<Shared>,
    scenario: Scenario,
    clients: usize,
    duration: Duration,
) -> Outcome {
    let cpu = || servers.iter().map(Server::cpu_seconds).sum::<f64>();
    let (server_cpu0, client_cpu0) = (cpu(), own_cpu_seconds());
    let started = Instant::now();
    let until = started + duration;
    let tallies: Vec<Tally> = runtime.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|n| tokio::spawn(client(shared.clone(), scenario, n, until)))
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("a client task"));
        }
        out
    });
    let seconds = started.elapsed().as_secs_f64();
    let (server_cpu, client_cpu) = (cpu() - server_cpu0, own_cpu_seconds() - client_cpu0);
    let mut latencies: Vec<u32> = tallies
        .iter()
        .flat_map(|t| t.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let pct = |p: usize| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        latencies[(latencies.len() * p / 100).min(latencies.len() - 1)] as f64 / 1000.0
    };
    Outcome {
        requests: latencies.len(),
        seconds,
        p50_ms: pct(50),
        p99_ms: pct(99),
        errors: tallies.iter().map(|t| t.errors).sum(),
        writes: tallies.iter().map(|t| t.writes).sum(),
        server_cpu,
        client_cpu,
    }
}

fn main() {
    // `cargo bench` passes --bench; anything else (cargo test's listing) only wants a quick exit.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let requests: usize = env_or("CAB_BENCH_REQUESTS", 20_000);
    let seconds: f64 = env_or("CAB_BENCH_SECONDS", 10.0);
    let clients: usize = env_or("CAB_BENCH_CLIENTS", 16);
    let client_threads: usize = env_or("CAB_BENCH_CLIENT_THREADS", 1);
    let duration = Duration::from_secs_f64(seconds);
    let cab_bin =
        std::env::var("CAB_BENCH_CAB").unwrap_or_else(|_| env!("CARGO_BIN_EXE_cab").into());
    let cab = cab_bin.as_str();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = dir.path().join("store.jsonl");

    let made = Command::new(cab)
        .arg("--store")
        .arg(&store)
        .args(["demo", "--requests", &requests.to_string(), "--seed", "1"])
        .env("CAB_NOW", NOW)
        .stdout(Stdio::null())
        .status()
        .expect("cab demo runs");
    assert!(made.success(), "cab demo failed");
    let size = std::fs::metadata(&store).map(|m| m.len()).unwrap_or(0);

    let mut config = String::new();
    let mut members = Vec::new();
    for name in MEMBERS {
        let (token, block) = mint(cab, name, "cab_member");
        members.push(token);
        config.push_str(&block);
    }
    let (requester, block) = mint(cab, REQUESTER, "requester");
    config.push_str(&block);
    std::fs::write(dir.path().join("config.toml"), config).expect("config written");

    let (deployments, request_ids, line_len) = sample_store(&store);
    let fsync_rate = raw_fsync_rate(dir.path(), line_len);

    // The file, or a PostgreSQL database holding the same events, served by several instances.
    let postgres = std::env::var("CAB_BENCH_BACKEND").is_ok_and(|b| b == "postgres");
    let instances: usize = if postgres {
        env_or("CAB_BENCH_INSTANCES", 2)
    } else {
        1
    };
    let pg = postgres.then(postgres::Pg::start);
    let store_arg: std::ffi::OsString = match &pg {
        Some(pg) => {
            let (db, url) = pg.fresh();
            // Loopback TCP, or with CAB_BENCH_PG_SOCKET=1 the socket folder.
            let url = if std::env::var("CAB_BENCH_PG_SOCKET").is_ok_and(|v| v == "1") {
                pg.socket_url(&db)
            } else {
                url
            };
            let copied = Command::new(cab)
                .arg("store")
                .arg("copy")
                .arg("--from")
                .arg(&store)
                .args(["--to", &url])
                .env("CAB_NOW", NOW)
                .stdout(Stdio::null())
                .status()
                .expect("cab store copy runs");
            assert!(copied.success(), "cab store copy failed");
            url.into()
        }
        None => store.clone().into(),
    };
    let started = Instant::now();
    let servers: Vec<Server> = (0..instances)
        .map(|_| Server::start(cab, dir.path(), &store_arg))
        .collect();
    let listening = started.elapsed().as_secs_f64();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads.max(1))
        .enable_all()
        .build()
        .expect("a runtime");
    let shared = Arc::new(Shared {
        bases: servers.iter().map(|s| s.base.clone()).collect(),
        members,
        requester,
        deployments,
        requests: request_ids,
        undecided: Mutex::new(Vec::new()),
        submitted: AtomicU64::new(0),
    });

    // The first answers: a status (what a pipeline asks first), then the queue, whose size the
    // report gives. Either may be the one that reads the store, if the server has not yet.
    let (first_status, first_queue, queue) = runtime.block_on(async {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("an HTTP client");
        let started = Instant::now();
        let status = http
            .get(format!(
                "{}/v1/deployments/{}/status",
                shared.bases[0], shared.deployments[0]
            ))
            .bearer_auth(&shared.members[0])
            .send()
            .await
            .expect("a status");
        assert!(status.status().is_success(), "the first status failed");
        status.bytes().await.expect("a status body");
        let first_status = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let queue: Vec<serde_json::Value> = http
            .get(format!("{}/v1/requests?status=pending", shared.bases[0]))
            .bearer_auth(&shared.members[0])
            .send()
            .await
            .expect("the queue")
            .json()
            .await
            .expect("the queue as JSON");
        (first_status, started.elapsed().as_secs_f64(), queue)
    });
    let queue_bytes = serde_json::to_vec(&queue).map_or(0, |b| b.len());

    println!("Machine: {}", machine());
    println!(
        "Backend: {}",
        match &pg {
            Some(pg) => format!(
                "PostgreSQL ({}) on this machine, port {}, {instances} cab serve instances",
                pg.version(),
                pg.port()
            ),
            None => "the store file, one cab serve".to_string(),
        }
    );
    println!(
        "Store: {requests} requests, {:.1} MiB, mean line {line_len} bytes; queue: {} pending requests ({:.2} MB of JSON)",
        size as f64 / (1024.0 * 1024.0),
        queue.len(),
        queue_bytes as f64 / 1e6,
    );
    println!(
        "Server: listening {:.0} ms after start; first status answer {:.1} ms, first queue answer {:.1} ms",
        listening * 1000.0,
        first_status * 1000.0,
        first_queue * 1000.0
    );
    println!(
        "Raw fsync rate (append {line_len} bytes + fdatasync, one thread, same disk, 1 s): {fsync_rate:.0}/s before the server started"
    );
    println!(
        "Load: {clients} clients (one keep-alive connection each) on {client_threads} load-generator thread(s), {seconds} s per scenario\n"
    );
    println!(
        "| scenario | route | requests | per second | p50 | p99 | errors | server CPU per request | load generator CPU per request |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let scenarios = [
        Scenario::Queue,
        Scenario::DeploymentQueue,
        Scenario::Status,
        Scenario::Request,
        Scenario::Submit,
        Scenario::Approve,
        Scenario::Mixed,
    ];
    let only = std::env::var("CAB_BENCH_SCENARIOS").unwrap_or_default();
    let mut write_notes = Vec::new();
    for scenario in scenarios {
        if !only.is_empty() && !only.split(',').any(|k| k.trim() == scenario.key()) {
            continue;
        }
        let writes = matches!(
            scenario,
            Scenario::Submit | Scenario::Approve | Scenario::Mixed
        );
        let raw = writes.then(|| raw_fsync_rate(dir.path(), line_len));
        let o = run(&runtime, &servers, &shared, scenario, clients, duration);
        let rate = o.requests as f64 / o.seconds;
        let per = |cpu: f64| {
            if o.requests == 0 {
                "-".to_string()
            } else {
                format!("{:.0} µs", cpu / o.requests as f64 * 1e6)
            }
        };
        println!(
            "| {} | {} | {} | {rate:.0} | {:.2} ms | {:.2} ms | {} | {} | {} |",
            scenario.name(),
            scenario.route(),
            o.requests,
            o.p50_ms,
            o.p99_ms,
            o.errors,
            per(o.server_cpu),
            per(o.client_cpu),
        );
        if let Some(raw) = raw {
            // Each write is acknowledged after an fsync covering it; with group commit one
            // fsync may cover several writes, so writes per second may pass the raw rate.
            let writes = o.writes as f64 / o.seconds;
            write_notes.push(format!(
                "- {}: {} writes in {:.1} s = {writes:.0} durable writes/s; raw fsync rate just before: {raw:.0}/s, so {:.0}% of it; server CPU {:.0}% of one core",
                scenario.name(),
                o.writes,
                o.seconds,
                writes / raw * 100.0,
                o.server_cpu / o.seconds * 100.0,
            ));
        }
    }
    println!();
    for note in write_notes {
        println!("{note}");
    }
    println!(
        "\nServer request log: {} lines",
        servers
            .iter()
            .map(|s| s.log_lines.load(Ordering::Relaxed))
            .sum::<u64>()
    );
}
