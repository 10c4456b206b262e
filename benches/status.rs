//! Benchmark: `cab status DEP` on a 200,000-request demo store, side by side with
//! `openssl dgst -sha256 store.jsonl` (hashing the file once on one core: the floor a scan that
//! checks every line's hash is measured against), `jq -c 'select(tostring|contains("DEP"))'
//! store.jsonl` and `grep -c DEP store.jsonl` on the same file, in the same run. Reports wall time (median and best of several runs) and peak
//! memory (max RSS) of each command, plus the store's size.
//!
//!     cargo bench --bench status                 # 200,000 requests
//!     CAB_BENCH_REQUESTS=20000 cargo bench --bench status
//!
//! Figures go in docs/perf.md. Nothing here asserts a speed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const RUNS: usize = 9;
const NOW: &str = "2026-11-28T12:00:00Z";

struct Sample {
    seconds: f64,
    max_rss_kb: i64,
}

/// Run a command to completion with its output discarded; its wall time and peak memory.
fn measure(program: &str, args: &[&str]) -> Option<Sample> {
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .env("CAB_NOW", NOW)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for the child we just spawned.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = started.elapsed().as_secs_f64();
    std::mem::forget(child); // already reaped by wait4
    (waited == pid).then_some(Sample {
        seconds,
        max_rss_kb: usage.ru_maxrss,
    })
}

fn row(name: &str, command: &str, program: &str, args: &[&str]) -> Option<f64> {
    let mut samples: Vec<Sample> = (0..RUNS).filter_map(|_| measure(program, args)).collect();
    if samples.is_empty() {
        println!("| {name} | `{command}` | not available | | |");
        return None;
    }
    samples.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let median = samples[samples.len() / 2].seconds;
    let best = samples[0].seconds;
    let rss = samples.iter().map(|s| s.max_rss_kb).max().unwrap_or(0);
    println!(
        "| {name} | `{command}` | {median:.3} s | {best:.3} s | {:.1} MiB |",
        rss as f64 / 1024.0
    );
    Some(median)
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

fn main() {
    // `cargo bench` passes --bench; anything else (cargo test's listing) only wants a quick exit.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let requests: usize = std::env::var("CAB_BENCH_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let cab = env!("CARGO_BIN_EXE_cab");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = dir.path().join("store.jsonl");
    let store_arg = store.to_str().expect("a UTF-8 temp path");

    let started = Instant::now();
    let made = Command::new(cab)
        .args([
            "--store",
            store_arg,
            "demo",
            "--requests",
            &requests.to_string(),
            "--seed",
            "1",
        ])
        .env("CAB_NOW", NOW)
        .stdout(Stdio::null())
        .status()
        .expect("cab demo runs");
    assert!(made.success(), "cab demo failed");
    let demo_seconds = started.elapsed().as_secs_f64();
    let size = std::fs::metadata(&store).map(|m| m.len()).unwrap_or(0);

    // A deployment from three quarters into the file: an ordinary one, not the first or last.
    let dep = pick_deployment(&store, 0.75).expect("a deployment in the store");

    println!("Machine: {}", machine());
    println!(
        "Store: {requests} requests, {:.1} MiB ({size} bytes), made by `cab demo` in {demo_seconds:.1} s",
        size as f64 / (1024.0 * 1024.0)
    );
    println!("Deployment: {dep}; {RUNS} runs each\n");
    println!("| what | command | median | best | peak memory |");
    println!("|---|---|---|---|---|");
    let cab_cmd = format!("cab --store store.jsonl status {dep}");
    let cab_time = row(
        "cab status",
        &cab_cmd,
        cab,
        &["--store", store_arg, "status", &dep],
    );
    let openssl_time = row(
        "openssl",
        "openssl dgst -sha256 store.jsonl",
        "openssl",
        &["dgst", "-sha256", store_arg],
    );
    let jq_filter = format!("select(tostring|contains(\"{dep}\"))");
    let jq_cmd = format!("jq -c '{jq_filter}' store.jsonl");
    let jq_time = row("jq", &jq_cmd, "jq", &["-c", &jq_filter, store_arg]);
    let grep_cmd = format!("grep -c {dep} store.jsonl");
    row("grep", &grep_cmd, "grep", &["-c", &dep, store_arg]);
    row(
        "cab verify",
        "cab --store store.jsonl verify",
        cab,
        &["--store", store_arg, "verify"],
    );
    row(
        "cab queue",
        "cab --store store.jsonl queue",
        cab,
        &["--store", store_arg, "queue"],
    );
    if let (Some(c), Some(j)) = (cab_time, jq_time) {
        println!("\ncab status is {:.1}x faster than jq (median)", j / c);
    }
    if let (Some(c), Some(o)) = (cab_time, openssl_time) {
        println!(
            "cab status takes {:.2}x the time of hashing the file once with openssl (median)",
            c / o
        );
    }
}

/// Reads only a window of the file: the benchmark process must stay small, because a child's
/// peak memory (ru_maxrss) counts the pages it shares with its parent right after fork.
fn pick_deployment(store: &Path, at: f64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(store).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start((len as f64 * at) as u64)).ok()?;
    let mut window = vec![0u8; 64 * 1024];
    let n = file.read(&mut window).ok()?;
    let rest = &window[..n];
    let key = b"\"deployment_intent_id\":\"";
    let pos = rest.windows(key.len()).position(|w| w == key)? + key.len();
    let end = rest[pos..].iter().position(|&b| b == b'"')?;
    String::from_utf8(rest[pos..pos + end].to_vec()).ok()
}
