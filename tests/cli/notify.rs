//! `cab notify [--follow]`, `cab webhook list` and `cab webhook test` on a local store, against
//! a real receiver on loopback: what is due is delivered once, a failure is exit 1 naming it
//! and the next run resumes there, progress and errors are listed (never the secret), a test
//! message ignores the filter, and bad webhook blocks are refused by every command.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::cli::*;
use crate::support::receiver::{
    Answer, Receiver, SECRET, assert_signed, webhook_block, webhook_ids,
};

/// A world whose config file holds these blocks; CAB_CONFIG points at it on every call.
struct Hooked {
    cab: Cab,
    config: std::path::PathBuf,
}

impl Hooked {
    fn new(blocks: &str) -> Hooked {
        let cab = Cab::new();
        let config = cab.file("config.toml", blocks);
        Hooked { cab, config }
    }

    fn call(&self, args: &[&str]) -> Call {
        self.cab.cmd(args).env("CAB_CONFIG", &self.config)
    }

    fn run(&self, args: &[&str]) -> Run {
        self.call(args).run()
    }
}

fn one_hook(receiver: &Receiver, extra: &str) -> Hooked {
    Hooked::new(&webhook_block("team", &receiver.url("/hook"), extra))
}

fn store_ids(cab: &Cab) -> Vec<String> {
    webhook_ids(&String::from_utf8(cab.store_bytes().unwrap_or_default()).unwrap())
}

fn received_ids(receiver: &Receiver) -> Vec<String> {
    receiver.acknowledged_ids()
}

#[test]
fn notify_delivers_everything_due_once_and_a_second_run_sends_nothing_again() {
    let receiver = Receiver::start();
    let w = one_hook(&receiver, "");
    w.cab.submit_id("dana", "a", "20");
    w.cab.submit_id("dana", "b", "60");
    let run = w.run(&["--json", "notify"]).success();
    let summary = run.json();
    assert_eq!(summary[0]["name"], "team");
    assert_eq!(summary[0]["delivered"], 2);
    assert_eq!(summary[0]["last_delivered_seq"], 2);
    assert_eq!(summary[0]["error"], serde_json::Value::Null);
    assert_eq!(received_ids(&receiver), store_ids(&w.cab));
    for d in receiver.deliveries() {
        assert_signed(&d, SECRET);
    }
    let again = w.run(&["--json", "notify"]).success().json();
    assert_eq!(again[0]["delivered"], 0);
    assert_eq!(receiver.deliveries().len(), 2, "nothing is sent twice");
    w.cab.submit_id("dana", "c", "30");
    w.run(&["notify"]).success();
    assert_eq!(received_ids(&receiver), store_ids(&w.cab));
}

#[test]
fn a_failed_delivery_is_exit_1_naming_it_and_the_next_run_resumes_from_it() {
    let receiver = Receiver::start();
    let w = one_hook(&receiver, "");
    w.cab.submit_id("dana", "a", "20");
    w.cab.submit_id("dana", "b", "30");
    receiver.script(&[Answer::Status(204), Answer::Status(500)]);
    let run = w.run(&["notify"]);
    run.assert_code(1);
    let line = run.error_line();
    assert!(
        line.contains("webhook team: event 2 (request_submitted): the receiver answered 500"),
        "{line}"
    );
    assert!(
        run.stdout.contains("team"),
        "the table comes first: {}",
        run.stdout
    );
    let failure = w.call(&["--json", "notify"]);
    receiver.script(&[Answer::Status(502)]);
    let out = failure.run();
    out.assert_code(1);
    assert_eq!(out.json()["error"]["code"], "delivery_failed");

    let list = w.run(&["--json", "webhook", "list"]).success().json();
    assert_eq!(list[0]["last_delivered_seq"], 1);
    assert_eq!(list[0]["pending"], 1);
    assert_eq!(list[0]["failures"], 2);
    assert!(
        list[0]["last_error"].as_str().unwrap().contains("502"),
        "{list}"
    );
    let text = w.run(&["webhook", "list"]).success().stdout;
    assert!(text.contains("failing (2 attempts)"), "{text}");

    w.run(&["notify"]).success();
    assert_eq!(received_ids(&receiver), store_ids(&w.cab));
    let list = w.run(&["--json", "webhook", "list"]).success().json();
    assert_eq!(list[0]["failures"], 0);
    assert_eq!(list[0]["pending"], 0);
}

#[test]
fn webhook_list_shows_each_webhook_and_its_progress_and_never_the_secret() {
    let receiver = Receiver::start();
    let mut blocks = webhook_block("team", &receiver.url("/a"), "");
    blocks.push_str(&webhook_block(
        "chat",
        &receiver.url("/b"),
        "format = \"slack\"\nevents = [\"request_decided\"]",
    ));
    let w = Hooked::new(&blocks);
    let id = w.cab.submit_id("dana", "a", "60");
    w.cab.json(
        "carol",
        "cab_member",
        &["approve", &id, "--rationale", "fine"],
    );
    let list = w.run(&["--json", "webhook", "list"]).success().json();
    assert_eq!(
        keys(&list[0]),
        sorted(&[
            "name",
            "url",
            "format",
            "events",
            "last_delivered_seq",
            "last_delivered_at",
            "pending",
            "failures",
            "last_error",
            "last_error_at",
        ])
    );
    assert_eq!(list[0]["pending"], 2);
    assert_eq!(
        list[1]["pending"], 1,
        "only the decision passes chat's filter"
    );
    assert_eq!(list[1]["format"], "slack");
    assert_eq!(list[1]["events"], serde_json::json!(["request_decided"]));
    assert_eq!(list[0]["events"], serde_json::Value::Null);
    let text = w.run(&["webhook", "list"]).success().stdout;
    assert!(
        text.contains("nothing delivered yet") && text.contains("/b"),
        "{text}"
    );
    for out in [list.to_string(), text] {
        assert!(
            !out.contains("MfKQ9r8G") && !out.contains("whsec_"),
            "{out}"
        );
    }
}

#[test]
fn webhook_test_sends_one_signed_test_message_whatever_the_filter_and_touches_no_store() {
    let receiver = Receiver::start();
    let w = one_hook(&receiver, "events = [\"request_decided\"]");
    let out = w
        .run(&["--json", "webhook", "test", "team"])
        .success()
        .json();
    assert_eq!(out["status"], 204);
    let got = receiver.wait_acknowledged(1, Duration::from_secs(10));
    assert_eq!(got[0].event_type(), "webhook_test");
    assert_eq!(got[0].id(), out["webhook_id"].as_str().unwrap());
    assert!(got[0].id().starts_with("test_"));
    assert_signed(&got[0], SECRET);
    assert_eq!(got[0].json()["data"]["webhook"], "team");
    assert!(w.cab.store_bytes().is_none(), "no store was created");
}

#[test]
fn webhook_test_of_an_unknown_name_is_invalid_input_naming_the_configured_ones() {
    let receiver = Receiver::start();
    let w = one_hook(&receiver, "");
    let f = w.cab.fails_call(2, || w.call(&["webhook", "test", "nope"]));
    assert!(
        f.message.contains("no webhook is named \"nope\"") && f.message.contains("team"),
        "{}",
        f.message
    );
}

#[test]
fn a_dead_port_a_redirect_and_a_silent_receiver_are_each_a_failure_in_one_sentence() {
    let dead = Receiver::start().stop();
    let w = Hooked::new(&webhook_block(
        "team",
        &format!("http://127.0.0.1:{dead}/x"),
        "",
    ));
    let f = w.cab.fails_call(1, || w.call(&["webhook", "test", "team"]));
    assert_eq!(f.code, "delivery_failed");
    assert!(
        f.message.contains("cannot connect to the receiver"),
        "{}",
        f.message
    );

    let redirecting = Receiver::start();
    redirecting.answer(Answer::Status(301));
    let w = one_hook(&redirecting, "");
    let f = w.cab.fails_call(1, || w.call(&["webhook", "test", "team"]));
    assert!(
        f.message.contains("301") && f.message.contains("redirects are not followed"),
        "{}",
        f.message
    );
    assert_eq!(
        redirecting.deliveries().len(),
        2,
        "one POST per call, nothing followed"
    );

    let silent = Receiver::start();
    silent.answer(Answer::Slow(204, Duration::from_secs(30)));
    let w = one_hook(&silent, "");
    let run = w.run(&["webhook", "test", "team"]);
    run.assert_code(1);
    assert!(
        run.error_line().contains("did not answer within 10 s"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_webhook_blocks_are_refused_by_every_command_in_one_sentence() {
    let good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let cases = [
        (
            format!("[[webhooks]]\nname = \"a\"\nurl = \"ftp://x/y\"\nsecret = \"{good}\"\n"),
            "http:// or https://",
        ),
        (
            "[[webhooks]]\nname = \"a\"\nurl = \"https://x/y\"\nsecret = \"whsec_c2hvcnQ=\"\n"
                .to_string(),
            "24 to 64",
        ),
        (
            "[[webhooks]]\nname = \"a\"\nurl = \"https://x/y\"\nsecret = \"not base64!\"\n"
                .to_string(),
            "not base64",
        ),
        (
            format!(
                "[[webhooks]]\nname = \"a\"\nurl = \"https://x/y\"\nsecret = \"{good}\"\nevents = [\"nope\"]\n"
            ),
            "unknown event type",
        ),
        (
            format!(
                "[[webhooks]]\nname = \"a\"\nurl = \"https://x/y\"\nsecret = \"{good}\"\n[[webhooks]]\nname = \"a\"\nurl = \"https://x/z\"\nsecret = \"{good}\"\n"
            ),
            "two [[webhooks]] blocks",
        ),
    ];
    for (text, expected) in cases {
        let w = Hooked::new(&text);
        for args in [
            &["queue"][..],
            &["notify"],
            &[
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                "10",
            ],
        ] {
            let f = w.cab.fails_call(2, || w.call(args));
            assert_eq!(f.code, "invalid_config");
            assert!(f.message.contains(expected), "{args:?}: {}", f.message);
            assert!(!f.message.contains("MfKQ9r8G"), "{}", f.message);
        }
    }
}

#[test]
fn notify_follow_delivers_a_new_event_of_another_process_and_exits_0_on_sigterm() {
    let receiver = Receiver::start();
    let w = one_hook(&receiver, "");
    w.cab.submit_id("dana", "a", "20");
    let mut child = w
        .call(&["notify", "--follow"])
        .into_command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    receiver.wait_acknowledged(1, Duration::from_secs(30));
    // While it runs, another delivering process is refused.
    let busy = w.run(&["--json", "notify"]);
    busy.assert_code(1);
    assert_eq!(busy.json()["error"]["code"], "busy");
    w.cab.submit_id("dana", "b", "30");
    receiver.wait_acknowledged(2, Duration::from_secs(30));
    assert_eq!(received_ids(&receiver), store_ids(&w.cab));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "notify --follow did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let mut log = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(
        log.contains("delivered") && !log.contains("MfKQ9r8G"),
        "{log}"
    );
}

#[test]
fn the_expiry_notice_is_sent_once_by_notify_and_only_where_the_filter_takes_it() {
    let receiver = Receiver::start();
    let mut blocks = webhook_block("team", &receiver.url("/all"), "");
    blocks.push_str(&webhook_block(
        "decisions",
        &receiver.url("/decisions"),
        "events = [\"request_decided\"]",
    ));
    let w = Hooked::new(&blocks);
    let (_, exception) = w.cab.active_exception("risky", Some("2"));
    w.run(&["notify"]).success();
    w.run(&["notify"]).success();
    let notices: Vec<_> = receiver
        .acknowledged()
        .into_iter()
        .filter(|d| d.event_type() == "exception_expiring")
        .collect();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].path, "/all");
    assert_eq!(notices[0].id(), format!("exp_{exception}"));
    assert!(receiver.deliveries().iter().all(|d| d.path == "/all"));
    // Days later the exception has expired: no notice is owed any more.
    let later = w
        .call(&["--json", "webhook", "list"])
        .at(&now_plus(chrono::Duration::days(3)))
        .run()
        .success()
        .json();
    assert_eq!(later[0]["pending"], 0);
}

#[test]
fn notify_and_webhook_list_work_on_a_local_store_only() {
    let receiver = Receiver::start();
    let w = one_hook(&receiver, "");
    for args in [&["notify"][..], &["webhook", "list"]] {
        let f = w
            .cab
            .fails_call(2, || w.call(args).env("CAB_REMOTE", "http://127.0.0.1:9"));
        assert!(
            f.message.contains("works on a local store"),
            "{}",
            f.message
        );
    }
}

#[test]
fn notify_without_webhooks_or_without_a_store_says_so_and_succeeds() {
    let w = Hooked::new("");
    let out = w.run(&["notify"]).success();
    assert!(
        out.stdout.contains("No webhooks are configured"),
        "{}",
        out.stdout
    );
    let receiver = Receiver::start();
    let w = one_hook(&receiver, "");
    let out = w.run(&["notify"]).success();
    assert!(out.stdout.contains("holds no events yet"), "{}", out.stdout);
    assert!(w.cab.store_bytes().is_none());
}

/// A python3 child, killed when the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_docs_python_receiver_verifies_each_delivery_and_refuses_a_forged_or_stale_one() {
    use crate::support::docs::{snippet, tools};
    use std::io::BufRead;
    if !tools(&["python3"]) {
        return;
    }
    let w = Hooked::new("");
    let script = format!(
        "{}\n{}",
        snippet("webhook-verify"),
        snippet("webhook-receiver")
    );
    let path = w.cab.file("receiver.py", &script);
    let mut child = Child(
        std::process::Command::new("python3")
            .arg(&path)
            .arg("0")
            .env("WEBHOOK_SECRET", SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let next = || {
        lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a line from the receiver")
    };
    let first = next();
    let port = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first}"));
    let url = format!("http://127.0.0.1:{port}/cab");
    std::fs::write(&w.config, webhook_block("py", &url, "")).unwrap();

    w.cab.submit_id("dana", "a", "20");
    w.cab.submit_id("dana", "b", "60");
    // Exit 0: the receiver acknowledged both, so both signatures verified.
    w.run(&["notify"]).success();
    let ids = store_ids(&w.cab);
    assert_eq!(next(), format!("request_submitted {}", ids[0]));
    assert_eq!(next(), format!("request_submitted {}", ids[1]));

    let client = reqwest::blocking::Client::new();
    let post = |id: &str, timestamp: String, signature: String| {
        client
            .post(&url)
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.clone())
            .header("webhook-signature", signature)
            .body(r#"{"type":"request_decided","timestamp":"x","data":{}}"#)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let body = br#"{"type":"request_decided","timestamp":"x","data":{}}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let good = |ts: u64| {
        crate::support::receiver::expected_signature(SECRET, "forged", &ts.to_string(), body)
    };
    assert_eq!(post("forged", now.to_string(), "v1,AAAA".into()), 401);
    let stale = now - 3600;
    assert_eq!(post("forged", stale.to_string(), good(stale)), 401);
    assert_eq!(
        post("forged", now.to_string(), good(now)),
        204,
        "the control: a good one passes"
    );
    assert_eq!(next(), "request_decided forged");
}

#[test]
fn a_store_replaced_under_a_webhook_stops_it_instead_of_sending_another_history() {
    let receiver = Receiver::start();
    let w = one_hook(&receiver, "");
    w.cab.submit_id("dana", "a", "20");
    w.run(&["notify"]).success();
    // Another store of the same length, then longer: its first line is not the one delivered.
    let other = Cab::new();
    other.submit_id("erin", "x", "30");
    other.submit_id("erin", "y", "30");
    w.cab.write_store(&other.store_bytes().unwrap());
    let run = w.run(&["notify"]);
    run.assert_code(1);
    assert!(
        run.error_line()
            .contains("is not the one this webhook was sent"),
        "{}",
        run.stderr
    );
    assert_eq!(
        receiver.deliveries().len(),
        1,
        "nothing of the other store was sent"
    );
    // A shorter store is caught too.
    let short = Cab::new();
    w.cab.write_store(&short.store_bytes().unwrap_or_default());
    let run = w.run(&["notify"]);
    run.assert_code(1);
    assert!(
        run.error_line().contains("was cut or replaced"),
        "{}",
        run.stderr
    );
}
