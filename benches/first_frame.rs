//! Benchmark: time to first frame of the real console on a 100,000-request store, in a
//! pseudo-terminal read through a terminal emulator. Two moments are reported for each run:
//! the first frame at all (the layout, "Loading…"), and the first frame with the store's data
//! (the status bar counts requests under review).
//!
//!     cargo bench --bench first_frame
//!     CAB_BENCH_REQUESTS=20000 cargo bench --bench first_frame
//!
//! Figures go in docs/perf.md. Nothing here asserts a speed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const NOW: &str = "2026-11-28T12:00:00Z";
const RUNS: usize = 5;

fn has_data(screen: &str) -> bool {
    // "<n> under review" with n > 0, in the status bar.
    screen.split(" under review").next().is_some_and(|before| {
        before
            .rsplit(|c: char| !c.is_ascii_digit())
            .next()
            .is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n > 0))
    })
}

/// One console start: (first frame, first frame with data).
fn run(cab: &str, store: &str) -> Option<(Duration, Duration)> {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .ok()?;
    let mut cmd = CommandBuilder::new(cab);
    cmd.args(["--store", store]);
    cmd.env("TERM", "xterm-256color");
    cmd.env("CAB_USER", "carol");
    cmd.env("CAB_ROLES", "cab_member");
    cmd.env("CAB_NOW", NOW);
    let started = Instant::now();
    let mut child = pair.slave.spawn_command(cmd).ok()?;
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().ok()?;
    let mut writer = pair.master.take_writer().ok()?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let rows = std::num::NonZeroU16::new(40)?;
    let cols = std::num::NonZeroU16::new(120)?;
    let mut parser = vt100::Parser::new(rows, cols, 0);
    let mut first = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    let result = loop {
        let Ok(bytes) = rx.recv_timeout(Duration::from_secs(1)) else {
            if Instant::now() > deadline {
                break None;
            }
            continue;
        };
        parser.process(&bytes);
        let screen = parser.screen().contents();
        if first.is_none() && screen.contains("Queue") {
            first = Some(started.elapsed());
        }
        if has_data(&screen) {
            break first.map(|f| (f, started.elapsed()));
        }
    };
    let _ = writer.write_all(b"q");
    let _ = writer.flush();
    let _ = child.wait();
    result
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let requests: usize = std::env::var("CAB_BENCH_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let cab = env!("CARGO_BIN_EXE_cab");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = dir.path().join("store.jsonl");
    let store = store.to_str().expect("a UTF-8 temp path");
    let made = Command::new(cab)
        .args([
            "--store",
            store,
            "demo",
            "--requests",
            &requests.to_string(),
        ])
        .env("CAB_NOW", NOW)
        .output()
        .expect("cab demo runs");
    assert!(made.status.success(), "cab demo failed");
    let size = std::fs::metadata(store).map(|m| m.len()).unwrap_or(0);
    println!(
        "Console start on a {requests}-request store ({:.1} MiB), 120x40 pty, {RUNS} runs",
        size as f64 / (1024.0 * 1024.0)
    );
    let mut firsts = Vec::new();
    let mut datas = Vec::new();
    for _ in 0..RUNS {
        match run(cab, store) {
            Some((first, data)) => {
                println!(
                    "  first frame {:.0} ms, first frame with data {:.0} ms",
                    first.as_secs_f64() * 1e3,
                    data.as_secs_f64() * 1e3
                );
                firsts.push(first);
                datas.push(data);
            }
            None => println!("  run did not show data within 120 s"),
        }
    }
    firsts.sort();
    datas.sort();
    if !datas.is_empty() {
        println!(
            "median: first frame {:.0} ms, with data {:.0} ms",
            firsts[firsts.len() / 2].as_secs_f64() * 1e3,
            datas[datas.len() / 2].as_secs_f64() * 1e3
        );
    }
}
