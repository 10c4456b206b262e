//! Benchmark: time to first frame of the real console, in a pseudo-terminal read through a
//! terminal emulator. Three moments are reported for each run: the first frame at all (the
//! layout, "Loading…"), the first frame with the store's data (the status bar counts requests
//! under review), and the first with the whole store read (the same, and the queue no longer
//! says "reading the whole store…", as it does while only the open requests are read: a local
//! start with no checkpoint). Three cases for each store size:
//!
//! - local, warm: the store file with its checkpoint in the cache folder (written by a first,
//!   uncounted start);
//! - local, cold: the store file with an empty cache folder each time (a new store, a new user);
//! - remote: `--remote` to a `cab serve` (release) on the same store, already started.
//!
//! Run it so:
//!
//!     cargo bench --bench first_frame                                  # 100,000 requests
//!     CAB_BENCH_REQUESTS=10000,100000,1000000 cargo bench --bench first_frame
//!     CAB_BENCH_CASES=cold cargo bench --bench first_frame             # some cases: warm,cold,remote
//!     CAB_BENCH_BIN=/path/to/an/older/cab cargo bench --bench first_frame  # another build
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

/// The three moments of one start: first frame, with data, with the whole store read.
type Moments = (Duration, Duration, Duration);

/// One console start with these arguments and environment.
fn run(cab: &str, args: &[&str], env: &[(&str, &str)]) -> Option<Moments> {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .ok()?;
    let mut cmd = CommandBuilder::new(cab);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
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
    let mut data = None;
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
            data = data.or(Some(started.elapsed()));
            if !screen.contains("reading the whole store") {
                break first.zip(data).map(|(f, d)| (f, d, started.elapsed()));
            }
        }
    };
    let _ = writer.write_all(b"q");
    let _ = writer.flush();
    let _ = child.wait();
    result
}

/// A `cab serve` on the store, stopped when dropped.
struct Served {
    child: std::process::Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(cab: &str, dir: &std::path::Path, store: &str) -> (Served, String) {
    use std::io::BufRead;
    let out = Command::new(cab)
        .args(["token", "new", "carol", "--role", "cab_member", "--json"])
        .output()
        .expect("cab token new");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let config = dir.join("server.toml");
    std::fs::write(&config, doc["config"].as_str().unwrap()).unwrap();
    let mut child = Command::new(cab)
        .arg("--config")
        .arg(&config)
        .args(["--store", store, "serve", "--listen", "127.0.0.1:0"])
        .env("CAB_NOW", NOW)
        .env("CAB_LOG", "warn")
        .env("XDG_CACHE_HOME", dir.join("server-cache"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cab serve");
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("cab serve says where").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    thread::spawn(move || for _ in lines {});
    // The server reads the store once before the first console asks.
    let token = doc["token"].as_str().unwrap().to_string();
    let ready = Command::new(cab)
        .args(["--remote", &url, "--token", &token, "queue", "--json"])
        .output()
        .expect("a first read");
    assert!(ready.status.success(), "the server answers");
    (Served { child, url }, token)
}

fn report(label: &str, runs: &mut impl FnMut() -> Option<Moments>) {
    let mut firsts = Vec::new();
    let mut datas = Vec::new();
    let mut wholes = Vec::new();
    for _ in 0..RUNS {
        match runs() {
            Some((first, data, whole)) => {
                firsts.push(first);
                datas.push(data);
                wholes.push(whole);
            }
            None => println!("  {label}: a run did not show data within 120 s"),
        }
    }
    let ms = |d: &Duration| format!("{:.0}", d.as_secs_f64() * 1e3);
    let in_order = datas.iter().map(ms).collect::<Vec<_>>().join(", ");
    firsts.sort();
    datas.sort();
    wholes.sort();
    if !datas.is_empty() {
        println!(
            "| {label} | {} | {} | {} | {in_order} |",
            ms(&firsts[firsts.len() / 2]),
            ms(&datas[datas.len() / 2]),
            ms(&wholes[wholes.len() / 2]),
        );
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let sizes: Vec<usize> = std::env::var("CAB_BENCH_REQUESTS")
        .unwrap_or_else(|_| "100000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let cases = std::env::var("CAB_BENCH_CASES").unwrap_or_else(|_| "warm,cold,remote".into());
    let wanted = |case: &str| cases.split(',').any(|c| c.trim() == case);
    // Another build of cab (an older one, to compare with) when CAB_BENCH_BIN names it.
    let other = std::env::var("CAB_BENCH_BIN").ok();
    let cab = other.as_deref().unwrap_or(env!("CARGO_BIN_EXE_cab"));
    for requests in sizes {
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
        println!();
        println!(
            "{requests} requests ({:.1} MiB), 120x40 pty, median of {RUNS} runs",
            size as f64 / (1024.0 * 1024.0)
        );
        println!(
            "| case | first frame ms | with data ms | whole store read ms | each run in order, with data ms |"
        );
        println!("|---|---|---|---|---|");
        let warm = dir.path().join("cache");
        let warm = warm.to_str().unwrap().to_string();
        let local = ["--store", store];
        let env = |cache: &str| {
            vec![
                ("CAB_USER", "carol".to_string()),
                ("CAB_ROLES", "cab_member".to_string()),
                ("CAB_NOW", NOW.to_string()),
                ("XDG_CACHE_HOME", cache.to_string()),
            ]
        };
        let pairs = |v: &[(&'static str, String)]| -> Vec<(&'static str, String)> { v.to_vec() };
        let call = |args: &[&str], env: &[(&'static str, String)]| {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            run(cab, args, &env)
        };
        if wanted("warm") {
            // The checkpoint, written by a start that is not counted.
            call(&local, &pairs(&env(&warm)));
            report("local, with a checkpoint", &mut || {
                call(&local, &pairs(&env(&warm)))
            });
        }
        if wanted("cold") {
            report("local, no checkpoint (a new cache each run)", &mut || {
                let cold = tempfile::tempdir().unwrap();
                call(&local, &pairs(&env(cold.path().to_str().unwrap())))
            });
        }
        if !wanted("remote") {
            continue;
        }
        let (served, token) = serve(cab, dir.path(), store);
        let remote = ["--remote", served.url.as_str(), "--token", token.as_str()];
        report("remote, over cab serve", &mut || {
            let cold = tempfile::tempdir().unwrap();
            call(&remote, &pairs(&env(cold.path().to_str().unwrap())))
        });
    }
}
