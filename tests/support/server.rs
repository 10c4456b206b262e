//! The harness for the server tests: a temporary folder with a config file of users whose
//! tokens were minted by `cab token new`, a real `cab serve` child process on an ephemeral
//! loopback port (its stderr log kept in a buffer), raw HTTP through `reqwest::blocking`, and
//! the real `cab` binary on the same store. Children are killed on drop; every wait polls for
//! its condition with a generous deadline, so a loaded CI machine is slow but never flaky.
//! (`remote` starts the same server for tests of its clients: the command line, the console.)

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::Value;
use tempfile::TempDir;

pub use super::{NOW, Sealed, now_plus_days};

/// How long anything may take on a loaded machine before a test gives up.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A user of the server, with the token `cab token new` minted for them.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub roles: Vec<String>,
    pub token: String,
    pub token_sha256: String,
}

/// The usual cast: two CAB members, a security reviewer and a requester with no role.
pub const CAST: &[(&str, &[&str])] = &[
    ("carol", &["cab_member"]),
    ("martin", &["cab_member"]),
    ("sam", &["security_reviewer"]),
    ("dana", &[]),
];

/// A temporary folder with a config file listing users, and the store a server will serve.
pub struct World {
    dir: TempDir,
    config: PathBuf,
    store: PathBuf,
    /// What `--store` names for the servers and commands of this world: the store file, or a
    /// database's URL ([`World::on_database`]).
    store_arg: String,
    users: BTreeMap<String, User>,
}

impl World {
    /// A world with the usual cast.
    pub fn new() -> World {
        World::with_users(CAST)
    }

    /// A world whose config file lists these users (name, roles), each with a fresh token
    /// minted by `cab token new NAME --role ROLE... --json`.
    pub fn with_users(users: &[(&str, &[&str])]) -> World {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let config = dir.path().join("config.toml");
        let store = dir.path().join("store.jsonl");
        let store_arg = store.to_str().expect("a UTF-8 path").to_string();
        let mut world = World {
            dir,
            config,
            store,
            store_arg,
            users: BTreeMap::new(),
        };
        let mut text = String::new();
        for (name, roles) in users {
            let mut args = vec!["token", "new", name, "--json"];
            for role in *roles {
                args.extend(["--role", role]);
            }
            let out = world.cab_command(NOW, &args).output().expect("run cab");
            let doc = json_of(&out, "cab token new");
            let user = User {
                name: doc["name"].as_str().expect("name").to_string(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                token: doc["token"].as_str().expect("token").to_string(),
                token_sha256: doc["token_sha256"].as_str().expect("hash").to_string(),
            };
            assert_eq!(user.name, *name);
            let block = doc["config"].as_str().expect("config block");
            assert!(
                block.contains(&user.token_sha256) && !block.contains(&user.token),
                "the config block carries the hash, never the token: {block}"
            );
            text.push_str(block);
            text.push('\n');
            world.users.insert(name.to_string(), user);
        }
        std::fs::write(&world.config, text).expect("write the config file");
        world
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The same world on a PostgreSQL database instead of its store file.
    pub fn on_database(mut self, url: &str) -> World {
        self.store_arg = url.to_string();
        self
    }

    /// What `--store` names: the store file's path or the database's URL.
    pub fn store_arg(&self) -> &str {
        &self.store_arg
    }

    pub fn config(&self) -> &Path {
        &self.config
    }

    pub fn store(&self) -> &Path {
        &self.store
    }

    pub fn user(&self, name: &str) -> &User {
        self.users
            .get(name)
            .unwrap_or_else(|| panic!("no user {name} in this world"))
    }

    pub fn token(&self, name: &str) -> &str {
        &self.user(name).token
    }

    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// Add lines to the config file (a `[[webhooks]]` block, say).
    pub fn add_config(&self, text: &str) {
        let mut config = std::fs::read_to_string(&self.config).expect("the config file");
        config.push_str(text);
        std::fs::write(&self.config, config).expect("write the config file");
    }

    /// The store's bytes; empty when it does not exist yet.
    pub fn store_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.store).unwrap_or_default()
    }

    /// The store's events, parsed, in order.
    pub fn store_events(&self) -> Vec<Value> {
        String::from_utf8(self.store_bytes())
            .expect("the store is UTF-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("each store line is JSON"))
            .collect()
    }

    /// A `cab` command in this world's folder with the clock fixed at `now`.
    pub fn cab_command(&self, now: &str, args: &[&str]) -> Command {
        let mut cmd = Sealed::new(self.dir.path()).at(now).command();
        cmd.args(args);
        cmd
    }

    /// `cab --store STORE ARGS...` in local mode as `user` with `roles` (comma-separated).
    pub fn cli(&self, user: &str, roles: &str, args: &[&str]) -> Output {
        let mut all = vec!["--store", self.store_arg.as_str()];
        all.extend_from_slice(args);
        self.cab_command(NOW, &all)
            .env("CAB_USER", user)
            .env("CAB_ROLES", roles)
            .output()
            .expect("run cab")
    }

    /// `cab submit` by a separate process writing the store file directly; the new id.
    pub fn cli_submit(&self, user: &str, deployment: &str, risk: &str) -> String {
        let out = self.cli(
            user,
            "",
            &[
                "--json",
                "submit",
                "--deployment",
                deployment,
                "--evidence",
                "EP-cli",
                "--risk",
                risk,
            ],
        );
        let doc = json_of(&out, "cab submit");
        doc["id"].as_str().expect("an id").to_string()
    }

    /// `cab verify` on the store must pass; its report.
    pub fn verify(&self) -> Value {
        let out = self.cli("auditor", "", &["--json", "verify"]);
        let doc = json_of(&out, "cab verify");
        assert_eq!(doc["ok"], true, "cab verify: {doc}");
        doc
    }

    /// Start `cab serve` on an ephemeral loopback port at the fixed clock.
    pub fn start(&self) -> Server {
        self.start_at(NOW)
    }

    /// Start `cab serve` with the clock fixed at `now`.
    pub fn start_at(&self, now: &str) -> Server {
        self.start_with(now, |_| {})
    }

    /// Start `cab serve` with the clock fixed at `now`, its command adjusted first (limits of
    /// the process, say).
    pub fn start_with(&self, now: &str, adjust: impl FnOnce(&mut Command)) -> Server {
        let store = self.store_arg.as_str();
        let config = self.config.to_str().expect("a UTF-8 path");
        let mut cmd = self.cab_command(
            now,
            &[
                "--config",
                config,
                "--store",
                store,
                "serve",
                "--listen",
                "127.0.0.1:0",
            ],
        );
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        adjust(&mut cmd);
        Server::spawn(cmd)
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

/// The one JSON document a successful `cab --json ...` printed.
pub fn json_of(out: &Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what} failed ({}): stdout {} stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A running `cab serve`; killed on drop.
pub struct Server {
    child: Option<Child>,
    base: String,
    log: Arc<Mutex<String>>,
    drain: Option<JoinHandle<()>>,
}

impl Server {
    fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd.spawn().expect("start cab serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        // Keep reading stderr for the server's whole life: the log is inspected by tests, and
        // a full pipe would block the server.
        let drain = std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
                let mut log = sink.lock().unwrap_or_else(|p| p.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut server = Server {
            child: Some(child),
            base: String::new(),
            log,
            drain: Some(drain),
        };
        match rx.recv_timeout(PATIENCE) {
            Ok(addr) => server.base = format!("http://{addr}"),
            Err(_) => panic!(
                "cab serve never said where it listens; its log:\n{}",
                server.wait_log_closed()
            ),
        }
        server
    }

    /// The server's address, `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// Everything the server has written to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Wait until the log holds `count` lines that contain every one of `needles`.
    pub fn wait_for_log_lines(&self, needles: &[&str], count: usize) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = self.log();
            let found = log
                .lines()
                .filter(|l| needles.iter().all(|n| l.contains(n)))
                .count();
            if found >= count {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "the log never had {count} line(s) with {needles:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send a signal to the server.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill({}, {signal})", self.pid());
    }

    /// Wait for the server to exit by itself (after a signal); its status and whole log.
    pub fn wait_exit(self) -> (ExitStatus, String) {
        self.wait_exit_within(PATIENCE)
    }

    /// Wait for the server to exit by itself, for at most `bound`; its status and whole log.
    pub fn wait_exit_within(mut self, bound: Duration) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + bound;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for cab serve") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "cab serve did not exit within {bound:?}; its log:\n{}",
                    self.wait_log_closed()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, self.wait_log_closed())
    }

    /// SIGTERM, then wait for the exit; its status and whole log.
    pub fn terminate(self) -> (ExitStatus, String) {
        self.signal(libc::SIGTERM);
        self.wait_exit()
    }

    /// Kill the server outright (SIGKILL) and wait for it.
    pub fn kill(mut self) -> String {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.wait_log_closed()
    }

    /// The log once stderr is closed (the process is gone).
    fn wait_log_closed(&mut self) -> String {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
        self.log()
    }

    /// A client for this server with `token` (or none).
    pub fn api(&self, token: Option<&str>) -> Api {
        Api::new(&self.base, token)
    }

    /// A client with this user's token.
    pub fn as_user(&self, world: &World, name: &str) -> Api {
        self.api(Some(world.token(name)))
    }

    /// The real client, through the library's `Backend` trait.
    pub fn remote(&self, world: &World, name: &str) -> cab::remote::RemoteBackend {
        cab::remote::RemoteBackend::new(&self.base, Some(world.token(name).to_string()))
            .expect("a remote backend")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Raw HTTP to the server, with or without a bearer token.
#[derive(Clone)]
pub struct Api {
    client: Client,
    base: String,
    token: Option<String>,
}

impl Api {
    pub fn new(base: &str, token: Option<&str>) -> Api {
        let client = Client::builder()
            .timeout(PATIENCE)
            .build()
            .expect("an HTTP client");
        Api {
            client,
            base: base.to_string(),
            token: token.map(str::to_string),
        }
    }

    fn with_token(
        &self,
        builder: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Any request; the builder is given the URL and the token.
    pub fn request(&self, method: &str, path: &str) -> reqwest::blocking::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        self.with_token(self.client.request(method, format!("{}{path}", self.base)))
    }

    pub fn send(&self, builder: reqwest::blocking::RequestBuilder) -> Reply {
        Reply::from(builder.send().expect("the server answers"))
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send(self.request("GET", path))
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(self.request("POST", path).json(body))
    }

    /// A POST whose transport may fail (a server killed under it): `None` then.
    pub fn try_post(&self, path: &str, body: &Value) -> Option<Reply> {
        self.request("POST", path)
            .json(body)
            .send()
            .ok()
            .map(Reply::from_sent)
    }

    /// A POST with a raw body (sent as `application/json`, whatever it holds).
    pub fn post_raw(&self, path: &str, body: impl Into<Vec<u8>>) -> Reply {
        self.send(
            self.request("POST", path)
                .header("content-type", "application/json")
                .body(body.into()),
        )
    }

    /// A POST carrying an `Idempotency-Key`.
    pub fn post_idem(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.send(
            self.request("POST", path)
                .header("Idempotency-Key", key)
                .json(body),
        )
    }

    /// Submit `deployment` at `risk`; the 201 answer's id.
    pub fn submit(&self, deployment: &str, risk: f64) -> String {
        let reply = self.post(
            "/v1/requests",
            &serde_json::json!({
                "deployment_intent_id": deployment,
                "evidence_package_id": format!("EP-{deployment}"),
                "risk_score": risk,
            }),
        );
        reply.expect(201, "submit");
        reply.id()
    }
}

/// One answer: status, headers and body (parsed as JSON when it is JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    /// An answer whose body may be cut off (a server killed while answering): an empty text.
    fn from_sent(response: reqwest::blocking::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }
}

impl From<reqwest::blocking::Response> for Reply {
    fn from(response: reqwest::blocking::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().expect("a whole answer");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }
}

impl Reply {
    /// The status must be `status`; the body must be JSON.
    pub fn expect(&self, status: u16, what: &str) -> &Reply {
        assert_eq!(self.status, status, "{what}: {self:#?}");
        self.assert_json(what);
        self
    }

    fn assert_json(&self, what: &str) {
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            content_type.starts_with("application/json"),
            "{what}: answered {content_type:?}, not JSON: {self:#?}"
        );
        assert!(
            serde_json::from_str::<Value>(&self.text).is_ok(),
            "{what}: the body is not JSON: {self:#?}"
        );
    }

    /// The answer must be the error `{"error": {"code", "message"}}` with this status and
    /// code, and nothing else; the message.
    pub fn expect_error(&self, status: u16, code: &str, what: &str) -> String {
        self.expect(status, what);
        let error = self.json["error"]
            .as_object()
            .unwrap_or_else(|| panic!("{what}: no error object: {self:#?}"));
        assert_eq!(
            self.json.as_object().map(|o| o.len()),
            Some(1),
            "{what}: the body is only the error: {self:#?}"
        );
        assert_eq!(error["code"], code, "{what}: {self:#?}");
        let message = error["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: the error has no message: {self:#?}"));
        assert!(!message.trim().is_empty(), "{what}: an empty message");
        assert_eq!(error.len(), 2, "{what}: code and message only: {self:#?}");
        message.to_string()
    }

    /// The `id` of the JSON answer.
    pub fn id(&self) -> String {
        self.json["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {self:#?}"))
            .to_string()
    }
}

/// Poll `check` until it holds, with a generous deadline.
pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
