//! The harness for the remote tests: a real `cab serve` on an ephemeral loopback port, started
//! as a child process over a store in a temporary folder, with a config of tokens minted by
//! `cab token new`; and the real `cab` command line pointed at it with a user's token. The
//! server is killed when its `Server` drops, whichever way the test ends.
//!
//! Nothing of the host leaks in (config file, CAB_* variables, login name, clock): every process
//! runs sealed (`Sealed`), its home and platform folders inside the test's folder.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

pub use super::{NOW, Sealed, id_of, str_of};

/// How long the server may take to start, or anything to appear. Generous: CI is a loaded
/// two-core machine, and every wait ends as soon as its condition holds.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The server's users, with their roles. Everyone may submit.
pub const USERS: &[(&str, &[&str])] = &[
    ("dana", &[]),
    ("rita", &[]),
    ("carol", &["cab_member"]),
    ("erin", &["cab_member"]),
    ("sam", &["security_reviewer"]),
    ("tess", &["security_reviewer"]),
];

/// The roles of one of `USERS`, comma-separated (as CAB_ROLES takes them for a local run).
pub fn roles_of(user: &str) -> String {
    USERS
        .iter()
        .find(|(name, _)| *name == user)
        .map(|(_, roles)| roles.join(","))
        .unwrap_or_else(|| panic!("{user} is not one of the test users"))
}

/// A temporary folder with a store (created by the first write), the server's config file
/// listing `USERS` with tokens minted by `cab token new`, and a home for every process.
pub struct World {
    dir: TempDir,
    store: PathBuf,
    config: PathBuf,
    tokens: BTreeMap<String, String>,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = dir.path().join("store.jsonl");
        let config = dir.path().join("server.toml");
        let mut world = World {
            dir,
            store,
            config,
            tokens: BTreeMap::new(),
        };
        let mut blocks = String::new();
        for (name, roles) in USERS {
            let mut args = vec!["--json", "token", "new", name];
            for role in *roles {
                args.extend_from_slice(&["--role", role]);
            }
            let out = world.plain(&args).output().expect("cab token new runs");
            let doc = parse_json(&out, &args);
            let token = str_of(&doc, "token");
            blocks.push_str(&str_of(&doc, "config"));
            blocks.push('\n');
            world.tokens.insert((*name).to_string(), token);
        }
        std::fs::write(&world.config, blocks).expect("the server config is written");
        world
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn store(&self) -> &Path {
        &self.store
    }

    /// The store's bytes (empty when it does not exist yet).
    pub fn store_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.store).unwrap_or_default()
    }

    pub fn token(&self, user: &str) -> &str {
        self.tokens
            .get(user)
            .unwrap_or_else(|| panic!("no token for {user}"))
    }

    /// Where a client's default local store would be: it must never appear in remote mode.
    pub fn default_local_store(&self) -> PathBuf {
        self.home().join("data").join("cab").join("store.jsonl")
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `cab ARGS` with no identity, at `NOW`.
    pub fn plain(&self, args: &[&str]) -> Command {
        let mut command = Sealed::new(self.dir.path()).command();
        command.args(args);
        command
    }

    /// `cab ARGS` on the store file directly (local mode) as `user` with their roles, at `now`.
    pub fn local_at(&self, now: &str, user: &str, args: &[&str]) -> Command {
        let mut command = Sealed::new(self.dir.path())
            .at(now)
            .store(&self.store)
            .user(user, &roles_of(user))
            .command();
        command.args(args);
        command
    }

    /// A local command at `now` that must succeed, with `--json`; its document.
    pub fn local_json_at(&self, now: &str, user: &str, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self
            .local_at(now, user, &all)
            .output()
            .expect("cab runs locally");
        parse_json(&out, &all)
    }

    /// Write a file in the world's folder; its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("the file is written");
        path
    }
}

/// A running `cab serve` over a world's store.
pub struct Server {
    world: World,
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
    http: reqwest::blocking::Client,
}

impl Server {
    /// Start a server on a new world.
    pub fn start() -> Server {
        Server::start_on(World::new())
    }

    /// Start a server over `world`'s store, its clock at `NOW`.
    pub fn start_on(world: World) -> Server {
        let store = world.store.clone();
        let (child, url, log) = Server::spawn(&world, &store, "127.0.0.1:0");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        Server {
            world,
            child,
            url,
            log,
            http,
        }
    }

    /// Stop this server and start another at the same address on another store (as an
    /// operator who restarts it with the wrong `--store` would): clients see another history.
    pub fn restart_on_store(&mut self, store: &Path) {
        self.kill();
        let listen = self.url.trim_start_matches("http://").to_string();
        let (child, url, log) = Server::spawn(&self.world, store, &listen);
        assert_eq!(url, self.url, "the same address");
        self.child = child;
        self.log = log;
    }

    fn spawn(world: &World, store: &Path, listen: &str) -> (Child, String, Arc<Mutex<String>>) {
        let config = world.config.display().to_string();
        let store = store.display().to_string();
        let args = [
            "--config", &config, "--store", &store, "serve", "--listen", listen,
        ];
        let mut child = world
            .plain(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cab serve starts");
        let stderr = child.stderr.take().expect("the server's stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, url) = mpsc::channel::<String>();
        let shared = Arc::clone(&log);
        // Reads the server's log for as long as it runs, so its pipe never fills up.
        thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on ").nth(1)
                    && let Some(url) = rest.split_whitespace().next()
                    && let Some(tx) = found.take()
                {
                    let _ = tx.send(url.to_string());
                }
                let mut log = shared.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let url = match url.recv_timeout(TIMEOUT) {
            Ok(url) => url,
            Err(_) => panic!(
                "cab serve did not say where it listens; its log:\n{}",
                log.lock().unwrap_or_else(|e| e.into_inner())
            ),
        };
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "the server listens on loopback: {url}"
        );
        (child, url, log)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    pub fn token(&self, user: &str) -> &str {
        self.world.token(user)
    }

    /// Kill the server now (as a crash or a network failure would end it for its clients).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Wait until the server's log has a line with every one of `words` (a request's line
    /// reaches the log just before its answer reaches the client, and this reader after).
    pub fn wait_log(&self, words: &str) -> String {
        let words: Vec<&str> = words.split_whitespace().collect();
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| words.iter().all(|w| l.contains(w))) {
                return line.to_string();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server never logged {words:?}; its log:\n{log}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// `cab --remote URL ARGS` with `user`'s token in CAB_TOKEN (none for `None`), at `NOW`.
    pub fn cab(&self, user: Option<&str>, args: &[&str]) -> Command {
        let mut command = self.world.plain(&["--remote", &self.url]);
        command.args(args);
        if let Some(user) = user {
            command.env("CAB_TOKEN", self.token(user));
        }
        command
    }

    /// Run `cab --remote URL ARGS` as `user`; the result, whatever it is.
    pub fn run(&self, user: &str, args: &[&str]) -> Output {
        self.cab(Some(user), args).output().expect("cab runs")
    }

    /// Run `cab --remote URL --json ARGS` as `user` and expect exit 0; the document.
    pub fn json(&self, user: &str, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(user, &all);
        parse_json(&out, &all)
    }

    /// One HTTP request to the server: `method` `path` (with query), as `user` (no
    /// Authorization header for `None`), with a raw body; the status and the body as JSON
    /// (a body that is not JSON comes back as a JSON string, which no schema of ours accepts).
    pub fn http_raw(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(user) = user {
            request = request.bearer_auth(self.token(user));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request
            .send()
            .unwrap_or_else(|e| panic!("the server answers {path}: {e}\nits log:\n{}", self.log()));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().expect("the whole answer");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply {
            status,
            body,
            headers,
        }
    }

    /// As `http_raw`, with a JSON body.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        self.http_raw(
            method,
            path,
            user,
            body.map(|b| serde_json::to_vec(b).expect("JSON")),
            &[],
        )
    }

    /// The newest sequence number the server knows.
    pub fn head(&self) -> u64 {
        let reply = self.http("GET", "/v1/events?after=0&limit=1", Some("dana"), None);
        assert_eq!(reply.status, 200, "GET /v1/events: {}", reply.body);
        reply.body["head"].as_u64().expect("a head")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

/// The JSON document a successful command printed; panics with its output otherwise.
pub fn parse_json(out: &Output, args: &[&str]) -> Value {
    assert!(
        out.status.success(),
        "cab {args:?} failed with {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "cab {args:?} did not print JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
