//! `cab audit export --format ocsf|cef` and `--follow` (SPEC section 7): every kind of record
//! with the OCSF class, category, type and activity ids SPEC gives it, the event's time in
//! milliseconds and the request, deployment and correlation ids; CEF read back by a parser
//! written here from the CEF rules, hostile text included; one record per line; and a record
//! stored while `--follow` runs reaching its stdout.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::support::cli::*;

const CAB: &str = "cab_member";
const SEC: &str = "security_reviewer";

/// Everything a reviewer types that a SIEM line must survive: CEF's separators, both line
/// breaks, a `key=value` look-alike.
const HOSTILE: &str = "ok|but \\ not=fine\r\nmsg=forged cs1=x";

/// A store with every kind of record: an auto-approved submission (and its decision) with an
/// outcome, a submission approved by carol with hostile text, an exception requested, approved,
/// and (two days later) expired.
fn every_kind(cab: &Cab) {
    let auto = cab.submit_id("alice", "auto", "10"); // 1: submission + decision
    let review = cab.submit_id("alice", "review", "60"); // 2: submission
    cab.json("carol", CAB, &["approve", &review, "--rationale", HOSTILE]); // 3: decision
    let (_, x) = cab.pending_exception("risky", Some("1")); // 4: submission, 5: exception request
    cab.json(
        "sam",
        SEC,
        &["exception", "approve", &x, "--rationale", "controls ok"],
    ); // 6: review
    cab.json("alice", "", &["outcome", &auto, "--result", "failure"]); // 7: outcome
    let later = now_plus(chrono::Duration::days(2));
    cab.cmd(["cleanup"]).at(&later).run().success(); // 8: expiry
}

fn export(cab: &Cab, format: &str) -> String {
    cab.run("auditor", "", &["audit", "export", "--format", format])
        .success()
        .stdout
}

/// The store's events by sequence number.
fn stored(cab: &Cab) -> BTreeMap<u64, Value> {
    String::from_utf8(cab.store_bytes().unwrap())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|e| (e["seq"].as_u64().unwrap(), e))
        .collect()
}

fn millis(rfc3339: &Value) -> i64 {
    parse_time(rfc3339.as_str().unwrap()).timestamp_millis()
}

#[test]
fn ocsf_gives_each_kind_its_api_activity_ids_time_in_ms_and_the_ids() {
    let cab = Cab::new();
    every_kind(&cab);
    let events = stored(&cab);
    let text = export(&cab, "ocsf");
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["api"]["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "submission",
            "decision",
            "submission",
            "decision",
            "submission",
            "exception_requested",
            "exception_review",
            "outcome",
            "exception_expired",
        ]
    );
    for r in &records {
        let kind = r["api"]["operation"].as_str().unwrap();
        let activity = match kind {
            "submission" | "exception_requested" | "outcome" => 1,
            _ => 3,
        };
        assert_eq!(r["class_uid"], 6003, "{r}");
        assert_eq!(r["category_uid"], 6, "{r}");
        assert_eq!(r["activity_id"], activity, "{kind}");
        assert_eq!(r["type_uid"], 600300 + activity, "{kind}");
        assert!(r["severity_id"].is_u64() && r["status_id"] == 1, "{r}");
        let version = r["metadata"]["version"].as_str().unwrap();
        assert!(version.starts_with("1.") && version >= "1.1", "{version}");
        assert_eq!(r["metadata"]["product"]["name"], "cab");
        assert!(r["src_endpoint"].is_object(), "{r}");

        let event = &events[&r["metadata"]["sequence"].as_u64().unwrap()];
        assert_eq!(r["time"].as_i64().unwrap(), millis(&event["at"]), "{kind}");
        assert_eq!(r["metadata"]["correlation_uid"], event["correlation_id"]);
        let request = r["unmapped"]["request_id"].as_str().unwrap();
        let deployment = r["unmapped"]["deployment_intent_id"].as_str().unwrap();
        assert!(
            r["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["uid"] == request),
            "{r}"
        );
        assert!(
            r["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["uid"] == deployment),
            "{r}"
        );
        assert_eq!(r["unmapped"]["correlation_id"], event["correlation_id"]);
        assert!(r["actor"]["user"]["name"].is_string(), "{r}");
    }
    let decided = &records[3];
    assert_eq!(decided["actor"]["user"]["name"], "carol");
    assert_eq!(decided["message"], HOSTILE, "JSON keeps the exact text");
    assert_eq!(
        records[2]["actor"]["user"]["name"], "alice",
        "the requester"
    );
}

#[test]
fn jsonl_and_csv_keep_their_records_without_submissions() {
    let cab = Cab::new();
    every_kind(&cab);
    let jsonl = export(&cab, "jsonl");
    assert_eq!(jsonl.lines().count(), 6, "{jsonl}");
    assert!(!jsonl.contains("\"kind\":\"submission\""), "{jsonl}");
    let csv = export(&cab, "csv");
    assert!(csv.starts_with("seq,at,kind,"), "{csv}");
    assert!(!csv.contains(",submission,"), "{csv}");
}

/// A CEF line read by the rules of the CEF format: seven `|`-separated header fields after
/// `CEF:0` (`\|` and `\\` escaped), then `key=value` pairs where a key is the word before an
/// unescaped `=` and a value runs to the space before the next key.
fn parse_cef(line: &str) -> (Vec<String>, BTreeMap<String, String>) {
    let mut header = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars();
    while header.len() < 7 {
        match chars.next().expect("a whole header") {
            '\\' => field.push(chars.next().expect("an escaped character")),
            '|' => header.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    let rest: Vec<char> = chars.collect();
    // Positions of unescaped `=`: each ends a key.
    let mut equals = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            '\\' => i += 1,
            '=' => equals.push(i),
            _ => {}
        }
        i += 1;
    }
    let mut ext = BTreeMap::new();
    for (n, &eq) in equals.iter().enumerate() {
        let key_start = rest[..eq]
            .iter()
            .rposition(|&c| c == ' ')
            .map_or(0, |p| p + 1);
        let key: String = rest[key_start..eq].iter().collect();
        let value_end = match equals.get(n + 1) {
            Some(&next) => rest[..next].iter().rposition(|&c| c == ' ').unwrap(),
            None => rest.len(),
        };
        let mut value = String::new();
        let mut v = rest[eq + 1..value_end].iter();
        while let Some(&c) = v.next() {
            if c == '\\' {
                match v.next() {
                    Some('n') => value.push('\n'),
                    Some('r') => value.push('\r'),
                    Some(&other) => value.push(other),
                    None => panic!("a dangling backslash in {line}"),
                }
            } else {
                value.push(c);
            }
        }
        assert!(
            ext.insert(key.clone(), value).is_none(),
            "{key} twice in {line}"
        );
    }
    (header, ext)
}

#[test]
fn cef_header_and_extensions_parse_back_with_the_hostile_text_exact() {
    let cab = Cab::new();
    every_kind(&cab);
    let events = stored(&cab);
    let ocsf: Vec<Value> = export(&cab, "ocsf")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let text = export(&cab, "cef");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), ocsf.len(), "one record per line:\n{text}");
    for (line, o) in lines.iter().zip(&ocsf) {
        assert!(!line.chars().any(char::is_control), "{line:?}");
        let (header, ext) = parse_cef(line);
        assert_eq!(header[0], "CEF:0");
        assert_eq!((header[1].as_str(), header[2].as_str()), ("cab", "cab"));
        assert!(!header[3].is_empty());
        assert_eq!(header[4], o["api"]["operation"].as_str().unwrap());
        assert!(!header[5].is_empty());
        let severity: u8 = header[6].parse().unwrap();
        assert!(severity <= 10);
        let event = &events[&o["metadata"]["sequence"].as_u64().unwrap()];
        assert_eq!(ext["rt"], millis(&event["at"]).to_string());
        assert_eq!(ext["suser"], o["actor"]["user"]["name"].as_str().unwrap());
        assert_eq!(ext["act"], header[4]);
        assert_eq!(ext["outcome"], o["unmapped"]["outcome"].as_str().unwrap());
        assert_eq!(ext["cs1Label"], "request_id");
        assert_eq!(ext["cs1"], o["unmapped"]["request_id"].as_str().unwrap());
        assert_eq!(ext["cs2Label"], "deployment_intent_id");
        assert_eq!(
            ext["cs2"],
            o["unmapped"]["deployment_intent_id"].as_str().unwrap()
        );
        assert_eq!(ext["cs3Label"], "correlation_id");
        assert_eq!(ext["cs3"], event["correlation_id"].as_str().unwrap());
        assert_eq!(ext["msg"], o["message"].as_str().unwrap());
    }
    let (_, decided) = parse_cef(lines[3]);
    assert_eq!(decided["msg"], HOSTILE);
    assert_eq!(decided["suser"], "carol");
}

#[test]
fn cef_writes_no_raw_control_or_bidi_character_and_json_escapes_them() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "web", "60");
    let nasty = "a\u{1b}[31mred\u{202e}evil\u{7}\tb|c";
    cab.json("carol", CAB, &["reject", &id, "--rationale", nasty]);
    let cef = export(&cab, "cef");
    assert_eq!(cef.lines().count(), 2, "{cef}");
    assert!(
        !cef.chars().any(|c| c != '\n' && is_unsafe_for_terminal(c)),
        "{cef:?}"
    );
    let ocsf = export(&cab, "ocsf");
    assert!(ocsf.to_lowercase().contains("\\u202e"), "{ocsf}");
    let decided: Value = serde_json::from_str(ocsf.lines().nth(1).unwrap()).unwrap();
    assert_eq!(decided["message"], nasty);
}

#[test]
fn follow_with_at_is_invalid_input() {
    let cab = Cab::new();
    cab.submit_id("alice", "auto", "10");
    let f = cab.fails(
        2,
        "auditor",
        "",
        &["--at", NOW, "audit", "export", "--follow"],
    );
    assert!(f.message.contains("--follow"), "{}", f.message);
}

/// `cab audit export --follow` in the background; its stdout lines arrive on the receiver.
fn follow(cab: &Cab, format: &str) -> (std::process::Child, mpsc::Receiver<String>) {
    spawn_lines(
        cab.cmd(["audit", "export", "--format", format, "--follow"])
            .user("auditor", "")
            .into_command(),
    )
}

/// Start `command`; its stdout lines arrive on the receiver, so a test waits with a deadline.
fn spawn_lines(
    mut command: std::process::Command,
) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// Generous: the test proves delivery, not speed (benchmarks measure that).
const PATIENCE: Duration = Duration::from_secs(60);

#[test]
fn follow_prints_what_is_there_then_a_decision_stored_by_another_process() {
    let cab = Cab::new();
    cab.submit_id("alice", "auto", "10");
    let review = cab.submit_id("alice", "review", "60");
    let (mut child, lines) = follow(&cab, "jsonl");
    let first: Value = serde_json::from_str(&lines.recv_timeout(PATIENCE).unwrap()).unwrap();
    assert_eq!(first["outcome"], "auto_approved");

    cab.json("carol", CAB, &["approve", &review, "--rationale", "go"]);
    let next: Value = serde_json::from_str(&lines.recv_timeout(PATIENCE).unwrap()).unwrap();
    assert_eq!(next["kind"], "decision");
    assert_eq!(next["request_id"], review.as_str());
    assert_eq!(next["actor"], "carol");

    // SIGTERM stops it cleanly, after the line it is writing.
    // SAFETY: kill(2) on our own child's pid; it touches no memory.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        lines.recv_timeout(PATIENCE).is_err(),
        "nothing after the stop"
    );
}

#[test]
fn follow_in_cef_streams_a_submission_and_its_automatic_decision() {
    let cab = Cab::new();
    let (mut child, lines) = follow(&cab, "cef");
    cab.submit_id("alice", "auto", "10");
    let submitted = lines.recv_timeout(PATIENCE).unwrap();
    let decided = lines.recv_timeout(PATIENCE).unwrap();
    assert_eq!(parse_cef(&submitted).0[4], "submission");
    assert_eq!(parse_cef(&decided).0[4], "decision");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn follow_ends_with_exit_0_when_its_reader_goes_away() {
    let cab = Cab::new();
    cab.submit_id("alice", "auto", "10");
    let mut child = cab
        .cmd(["audit", "export", "--format", "ocsf", "--follow"])
        .user("auditor", "")
        .into_command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.contains("\"class_uid\":6003"), "{first}");
    drop(reader); // as `| head -1` does
    let deadline = std::time::Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("--follow kept running with nobody reading");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn follow_over_a_server_delivers_a_decision_made_through_it() {
    use crate::support::remote::Server;
    let server = Server::start();
    let id = id_of(&server.json(
        "dana",
        &[
            "submit",
            "--deployment",
            "web",
            "--evidence",
            "EP-1",
            "--risk",
            "60",
        ],
    ));
    let (mut child, lines) = spawn_lines(server.cab(
        Some("dana"),
        &["audit", "export", "--format", "cef", "--follow"],
    ));
    let submitted = lines.recv_timeout(PATIENCE).unwrap();
    assert_eq!(parse_cef(&submitted).0[4], "submission");

    server.json("carol", &["approve", &id, "--rationale", "go"]);
    let decided = lines.recv_timeout(PATIENCE).unwrap();
    let (header, ext) = parse_cef(&decided);
    assert_eq!(header[4], "decision");
    assert_eq!(
        (ext["suser"].as_str(), ext["cs1"].as_str()),
        ("carol", id.as_str())
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
