//! Benchmark: `cab --at TIME queue --json` on a 200,000-request demo store, warm (the
//! checkpoint written by a first `cab queue`, the file in the page cache), for a moment in the
//! middle of the store (the time of its middle line: half the events are replayed again) and
//! one after its last event (the current state answers, nothing is read again), beside plain
//! `cab queue --json` and the other read commands as of the middle. Reports wall time (median
//! and best of several runs, with the spread) and peak memory.
//!
//!     cargo bench --bench at                     # 200,000 requests
//!     CAB_BENCH_REQUESTS=20000 cargo bench --bench at
//!
//! Figures go in docs/perf.md. Nothing here asserts a speed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const RUNS: usize = 5;
const NOW: &str = "2026-11-28T12:00:00Z";

struct Sample {
    seconds: f64,
    max_rss_kb: i64,
}

/// Run `cab` to completion with its output discarded, its checkpoints in `cache`; its wall
/// time and peak memory.
fn measure(cab: &str, cache: &Path, args: &[&str]) -> Option<Sample> {
    let started = Instant::now();
    let child = Command::new(cab)
        .args(args)
        .env("CAB_NOW", NOW)
        .env("XDG_CACHE_HOME", cache)
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
    (waited == pid && status == 0).then_some(Sample {
        seconds,
        max_rss_kb: usage.ru_maxrss,
    })
}

fn row(name: &str, cab: &str, cache: &Path, store: &str, args: &[&str]) {
    let mut all = vec!["--store", store];
    all.extend_from_slice(args);
    let mut samples: Vec<Sample> = (0..RUNS)
        .filter_map(|_| measure(cab, cache, &all))
        .collect();
    if samples.is_empty() {
        println!("| {name} | `cab {}` | failed | | | |", args.join(" "));
        return;
    }
    samples.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let median = samples[samples.len() / 2].seconds;
    let best = samples[0].seconds;
    let worst = samples[samples.len() - 1].seconds;
    let rss = samples.iter().map(|s| s.max_rss_kb).max().unwrap_or(0);
    println!(
        "| {name} | `cab {}` | {median:.3} s | {best:.3} s | {best:.2}–{worst:.2} s | {:.1} MiB |",
        args.join(" "),
        rss as f64 / 1024.0
    );
}

/// The time and deployment of the store's line at `fraction` of its lines, and the time of its
/// last line.
fn moments(store: &Path, fraction: f64) -> (String, String, String) {
    let text = std::fs::read_to_string(store).expect("the store reads");
    let lines: Vec<&str> = text.lines().collect();
    let field = |line: &str, key: &str| {
        let at = line.find(&format!("\"{key}\":\"")).expect("the field") + key.len() + 4;
        line[at..at + line[at..].find('"').expect("a closing quote")].to_string()
    };
    let middle = lines[((lines.len() as f64 * fraction) as usize).min(lines.len() - 1)];
    (
        field(middle, "at"),
        field(middle, "deployment_intent_id"),
        field(lines[lines.len() - 1], "at"),
    )
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
    let cache = dir.path().join("cache");
    let store = dir.path().join("store.jsonl");
    let store_arg = store.to_str().expect("a UTF-8 temp path");

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
        .env("XDG_CACHE_HOME", &cache)
        .stdout(Stdio::null())
        .status()
        .expect("cab demo runs");
    assert!(made.success(), "cab demo failed");
    let size = std::fs::metadata(&store).map(|m| m.len()).unwrap_or(0);
    let (middle, deployment, last) = moments(&store, 0.5);
    // After the last event, by a second: the current state is the answer.
    let after = {
        let at = chrono::DateTime::parse_from_rfc3339(&last).expect("RFC 3339")
            + chrono::Duration::seconds(1);
        at.to_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    // Warm: the first read writes the checkpoint.
    measure(cab, &cache, &["--store", store_arg, "queue"]).expect("cab queue runs");

    println!(
        "Store: {requests} requests, {:.1} MiB; middle line at {middle}, last at {last}; {RUNS} runs each, warm\n",
        size as f64 / (1024.0 * 1024.0)
    );
    println!("| what | command | median | best | spread | peak memory |");
    println!("|---|---|---|---|---|---|");
    row("queue now", cab, &cache, store_arg, &["queue", "--json"]);
    row(
        "queue as of the middle",
        cab,
        &cache,
        store_arg,
        &["--at", &middle, "queue", "--json"],
    );
    row(
        "queue after the last event",
        cab,
        &cache,
        store_arg,
        &["--at", &after, "queue", "--json"],
    );
    row(
        "exceptions as of the middle",
        cab,
        &cache,
        store_arg,
        &["--at", &middle, "exception", "list", "--json"],
    );
    row(
        "status as of the middle",
        cab,
        &cache,
        store_arg,
        &["--at", &middle, "status", &deployment],
    );
}
