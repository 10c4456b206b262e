//! `cab store copy` between a file and PostgreSQL, `cab verify` on a database, and the store
//! URL wherever a store path goes.

use std::path::Path;
use std::process::{Command, Output};

use super::pg;
use crate::support::{NOW, Sealed};

/// `cab ARGS...` in `dir` as a CAB member and security reviewer named `user`.
fn cab(dir: &Path, user: &str, args: &[&str]) -> Output {
    Sealed::new(dir)
        .user(user, "cab_member,security_reviewer")
        .command()
        .args(args)
        .output()
        .expect("run cab")
}

fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The documented verifier of docs/store-format.md, run with python3 on a store file; `None`
/// where there is no python3.
fn documented_verifier(store: &Path) -> Option<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/store-format.md"))
        .unwrap();
    let start = doc.find("```python\n").expect("the verifier") + "```python\n".len();
    let script = &doc[start..start + doc[start..].find("```").unwrap()];
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(store)
        .output()
        .ok()?;
    assert!(out.status.success(), "the documented verifier: {out:?}");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_store_copied_from_a_file_to_postgres_and_back_is_byte_for_byte_the_same_file_and_verifies() {
    let Some(pg) = pg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("store.jsonl");
    let file = file.to_str().unwrap();
    ok(
        &cab(d, "demo", &["--store", file, "demo", "--requests", "300"]),
        "demo",
    );
    let (_, url) = pg.fresh();
    let dry = cab(
        d,
        "x",
        &[
            "--json",
            "store",
            "copy",
            "--from",
            file,
            "--to",
            &url,
            "--dry-run",
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&ok(&dry, "dry run")).unwrap();
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["written"], 0);
    let events = doc["events"].as_u64().unwrap();
    assert!(events > 300, "{doc}");
    assert_eq!(
        pg.psql(&url_db(&url), "SELECT count(*) FROM cab_events"),
        "0",
        "a dry run writes nothing"
    );

    let copied = cab(
        d,
        "x",
        &["--json", "store", "copy", "--from", file, "--to", &url],
    );
    let doc: serde_json::Value = serde_json::from_str(&ok(&copied, "copy in")).unwrap();
    assert_eq!(doc["written"], events);
    let verified = cab(d, "x", &["--json", "--store", &url, "verify"]);
    let report: serde_json::Value =
        serde_json::from_str(&ok(&verified, "verify the database")).unwrap();
    assert_eq!(report["events"], events);
    assert_eq!(report["head_hash"], doc["head_hash"]);

    let back = d.join("back.jsonl");
    let back = back.to_str().unwrap();
    ok(
        &cab(d, "x", &["store", "copy", "--from", &url, "--to", back]),
        "copy out",
    );
    assert_eq!(
        std::fs::read(file).unwrap(),
        std::fs::read(back).unwrap(),
        "the export is byte for byte the file"
    );
    ok(
        &cab(d, "x", &["--store", back, "verify"]),
        "the file backend accepts the export",
    );
    if let Some(said) = documented_verifier(Path::new(back)) {
        assert!(said.starts_with(&format!("ok: {events} lines")), "{said}");
    }
    // The same answers from either, now and as of a moment in the past.
    for args in [
        vec!["--json", "queue"],
        vec!["--json", "exception", "list"],
        vec![
            "--json",
            "--at",
            "2026-11-01T00:00:00Z",
            "queue",
            "--status",
            "all",
        ],
        vec!["--json", "--at", "2026-11-01T00:00:00Z", "report"],
    ] {
        let on = |store: &str| {
            let mut all = vec!["--store", store];
            all.extend(&args);
            ok(&cab(d, "x", &all), &format!("{args:?} on {store}"))
        };
        assert_eq!(on(file), on(&url), "{args:?}");
    }
}

#[test]
fn demo_data_written_into_a_database_is_the_demo_file_line_for_line() {
    let Some(pg) = pg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (file, export) = (d.join("demo.jsonl"), d.join("export.jsonl"));
    let (file, export) = (file.to_str().unwrap(), export.to_str().unwrap());
    let (_, url) = pg.fresh();
    for store in [file, url.as_str()] {
        ok(
            &cab(
                d,
                "demo",
                &["--store", store, "demo", "--requests", "40", "--seed", "3"],
            ),
            "demo",
        );
    }
    let again = cab(d, "demo", &["--store", &url, "demo", "--requests", "5"]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "a database that holds events: {again:?}"
    );
    ok(
        &cab(d, "x", &["store", "copy", "--from", &url, "--to", export]),
        "export",
    );
    assert_eq!(std::fs::read(file).unwrap(), std::fs::read(export).unwrap());
}

/// The database name at the end of a URL.
fn url_db(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

#[test]
fn store_copy_refuses_a_target_that_holds_events_with_exit_2_and_writes_nothing() {
    let Some(pg) = pg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = (d.join("a.jsonl"), d.join("b.jsonl"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    ok(
        &cab(d, "demo", &["--store", a, "demo", "--requests", "20"]),
        "demo a",
    );
    ok(
        &cab(
            d,
            "demo",
            &["--store", b, "demo", "--requests", "5", "--seed", "9"],
        ),
        "demo b",
    );
    let (db, url) = pg.fresh();
    ok(
        &cab(d, "x", &["store", "copy", "--from", b, "--to", &url]),
        "fill the database",
    );
    let held = pg.psql(&db, "SELECT count(*) FROM cab_events");
    let b_bytes = std::fs::read(b).unwrap();
    for (to, dry) in [(url.as_str(), false), (url.as_str(), true), (b, false)] {
        let mut args = vec!["store", "copy", "--from", a, "--to", to];
        if dry {
            args.push("--dry-run");
        }
        let out = cab(d, "x", &args);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("already holds") && stderr.contains("nothing was written"),
            "{stderr}"
        );
    }
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM cab_events"), held);
    assert_eq!(std::fs::read(b).unwrap(), b_bytes);
}

/// A demo store of `requests` requests made in `d` and copied into a new database: its name
/// and URL.
fn demo_in_a_database(
    pg: &crate::support::postgres::Pg,
    d: &Path,
    requests: u32,
) -> (String, String) {
    let file = d.join("store.jsonl");
    let file = file.to_str().unwrap();
    let requests = requests.to_string();
    ok(
        &cab(
            d,
            "demo",
            &["--store", file, "demo", "--requests", &requests],
        ),
        "demo",
    );
    let (db, url) = pg.fresh();
    ok(
        &cab(d, "x", &["store", "copy", "--from", file, "--to", &url]),
        "copy in",
    );
    (db, url)
}

#[test]
fn a_tampered_row_is_caught_by_verify_with_its_sequence_number_and_the_database_is_not_written_to()
{
    let Some(pg) = pg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (db, url) = demo_in_a_database(pg, d, 30);
    // Someone with the database's password edits one line (its hash column left as it was).
    pg.psql(
        &db,
        "UPDATE cab_events SET line = replace(line, '\"actor\":\"', '\"actor\":\"z') WHERE seq = 7",
    );
    let out = cab(d, "x", &["--json", "--store", &url, "verify"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "store_corrupt");
    assert_eq!(doc["error"]["line"], 7);
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains("sequence number 7"), "{message}");
    let count = pg.psql(&db, "SELECT count(*) FROM cab_events");
    let submit = cab(
        d,
        "dana",
        &[
            "--store",
            &url,
            "submit",
            "--deployment",
            "web",
            "--evidence",
            "E",
            "--risk",
            "10",
        ],
    );
    assert_eq!(submit.status.code(), Some(1), "{submit:?}");
    assert_eq!(
        pg.psql(&db, "SELECT count(*) FROM cab_events"),
        count,
        "not written to"
    );
}

#[test]
fn a_row_edited_where_the_row_checkers_runs_meet_fails_every_read_as_verify_words_it() {
    let Some(pg) = pg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (db, url) = demo_in_a_database(pg, d, 800);
    let rows: u64 = pg
        .psql(&db, "SELECT count(*) FROM cab_events")
        .parse()
        .unwrap();
    assert!(rows > 1_000 && rows < 5_000, "one page of rows: {rows}");
    // A long page is checked in runs, one per core (two at least), each run's first row
    // linked to the row before by the reader: edit that row, and one inside a run.
    let runs = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8)) as u64;
    let edge = 1 + rows.div_ceil(runs);
    for seq in [edge, edge - 1, 3] {
        let edit = format!(
            "UPDATE cab_events SET line = replace(line, '\"actor\":\"', '\"actor\":\"z') WHERE seq = {seq}"
        );
        let undo = format!(
            "UPDATE cab_events SET line = replace(line, '\"actor\":\"z', '\"actor\":\"') WHERE seq = {seq}"
        );
        pg.psql(&db, &edit);
        let verify = cab(d, "x", &["--json", "--store", &url, "verify"]);
        let queue = cab(d, "x", &["--json", "--store", &url, "queue"]);
        for (out, what) in [(&verify, "verify"), (&queue, "queue")] {
            assert_eq!(out.status.code(), Some(1), "{what} at {seq}: {out:?}");
        }
        let error = |out: &std::process::Output| {
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["error"].clone()
        };
        assert_eq!(error(&verify)["line"], seq, "{verify:?}");
        assert_eq!(error(&queue), error(&verify), "row {seq}");
        pg.psql(&db, &undo);
    }
    ok(
        &cab(d, "x", &["--store", &url, "verify"]),
        "verify once undone",
    );
}

#[test]
fn the_database_itself_refuses_a_gap_a_fork_and_a_second_decision() {
    let Some(pg) = pg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (db, url) = pg.fresh();
    let out = cab(
        d,
        "dana",
        &[
            "--json",
            "--store",
            &url,
            "submit",
            "--deployment",
            "web",
            "--evidence",
            "E",
            "--risk",
            "60",
        ],
    );
    let id = serde_json::from_str::<serde_json::Value>(&ok(&out, "submit")).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &cab(
            d,
            "carol",
            &["--store", &url, "approve", &id, "--rationale", "ok"],
        ),
        "approve",
    );
    let head = pg.psql(&db, "SELECT hash FROM cab_events WHERE seq = 2");
    let row = |seq: u32, prev: &str, kind: &str| {
        format!(
            "INSERT INTO cab_events (seq, prev, hash, type, request_id, line) VALUES ({seq}, '{prev}', repeat('e', 64), '{kind}', '{id}', 'x')"
        )
    };
    for (sql, what) in [
        (row(4, &head, "request_decided"), "a gap"),
        (row(2, &"0".repeat(64), "exception_expired"), "a fork"),
        (
            row(3, &"1".repeat(64), "exception_expired"),
            "a broken chain",
        ),
        (row(3, &head, "request_decided"), "a second decision"),
    ] {
        let out = pg.psql_output(&db, &sql);
        assert!(!out.status.success(), "the database accepted {what}");
    }
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM cab_events"), "2");
}

#[test]
fn a_store_url_of_another_kind_is_invalid_input_and_never_a_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for url in [
        "mysql://cab:secret@db/cab",
        "http://example.com/store.jsonl",
        "sqlite://x",
    ] {
        let out = cab(d, "x", &["--store", url, "queue"]);
        assert_eq!(out.status.code(), Some(2), "{url}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("only postgres://"), "{stderr}");
        assert!(!stderr.contains("secret"), "{stderr}");
        let out = Sealed::new(d)
            .user("x", "")
            .env("CAB_STORE", url)
            .command()
            .args([
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                "1",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "CAB_STORE={url}: {out:?}");
    }
    let config = d.join("config.toml");
    std::fs::write(&config, "store = \"https://example.com/cab\"\n").unwrap();
    let out = cab(d, "x", &["--config", config.to_str().unwrap(), "queue"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = cab(
        d,
        "x",
        &["--store", "postgres://h/db?sslmode=sometimes", "queue"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "config.toml" && n != "home")
        .collect();
    assert!(left.is_empty(), "no file was made of a URL: {left:?}");
}

#[test]
fn a_socket_folder_as_host_reaches_the_database_and_every_command_runs_on_it() {
    let Some(pg) = pg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = pg.new_database();
    let url = pg.socket_url(&db);
    let json = |out: Output, what: &str| -> serde_json::Value {
        serde_json::from_str(&ok(&out, what)).unwrap()
    };
    let store = ["--json", "--store", url.as_str()];
    let with = |args: &[&str]| -> Vec<String> {
        store.iter().chain(args).map(|s| s.to_string()).collect()
    };
    let run = |user: &str, args: &[&str]| {
        let args = with(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cab(d, user, &args)
    };
    let high = json(
        run(
            "dana",
            &[
                "submit",
                "--deployment",
                "api",
                "--evidence",
                "E",
                "--risk",
                "90",
            ],
        ),
        "submit",
    );
    let id = high["id"].as_str().unwrap();
    let x = json(
        run(
            "dana",
            &[
                "exception",
                "create",
                id,
                "--justification",
                "hotfix",
                "--control",
                "watch",
                "--days",
                "3",
            ],
        ),
        "exception",
    );
    let xid = x["id"].as_str().unwrap();
    json(
        run("sam", &["exception", "approve", xid, "--rationale", "ok"]),
        "review",
    );
    let status = json(run("dana", &["status", "api"]), "status");
    assert_eq!(status["eligible"], true, "{status}");
    assert_eq!(run("dana", &["gate", "api"]).status.code(), Some(0));
    json(
        run("dana", &["outcome", id, "--result", "success"]),
        "outcome",
    );
    json(run("dana", &["show", id]), "show");
    json(run("dana", &["report"]), "report");
    ok(&run("dana", &["audit", "export"]), "audit export");
    let at = json(run("dana", &["--at", NOW, "exception", "list"]), "--at");
    assert_eq!(at.as_array().unwrap().len(), 1);
    let report = json(run("dana", &["verify"]), "verify");
    assert_eq!(report["events"], 4);
}
