//! A real PostgreSQL server for the tests of SPEC section 8, started from the machine's
//! PostgreSQL binaries (`/usr/lib/postgresql/*/bin`, or `CAB_TEST_PG_BIN`) in a temporary folder,
//! on loopback and a socket folder, as the unprivileged user `nobody` when the tests run as
//! root (initdb refuses root). One server is shared by a test binary ([`shared`]); a test that
//! stops and starts its database has one of its own ([`Pg::start`]). Each test gets a database
//! of its own, owned by a role of its own that holds no other right, so cab is shown to need
//! no more than ownership of its database.
//!
//! A watchdog shell, reading a pipe from the test process, stops the server and removes its
//! folder when the test process ends, however it ends. Without PostgreSQL binaries the tests say
//! so and pass, unless `CAB_TEST_POSTGRES=required` (`.ci/run` installs them and sets it).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A running PostgreSQL server.
pub struct Pg {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// More server options (TLS, say).
    extra: String,
    /// The watchdog: closing its stdin stops the server and removes `dir`.
    watchdog: Option<Child>,
}

/// Who runs the server: `nobody` (uid, gid) when we are root.
fn run_as() -> Option<(u32, u32)> {
    // SAFETY: getuid has no preconditions.
    (unsafe { libc::getuid() } == 0).then_some((65534, 65534))
}

/// The folder of the PostgreSQL server binaries, if this machine has them.
fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CAB_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("postgres").exists() && bin.join("initdb").exists())
        .collect();
    // Prefer 15, the version the project is tested against, else the newest.
    found.sort_by_key(|p| (p.to_string_lossy().contains("/15/"), p.clone()));
    found.pop()
}

/// Whether the tests of this file can run here; panics when CI requires them and they cannot.
pub fn available() -> bool {
    if bin_dir().is_some() {
        return true;
    }
    assert_ne!(
        std::env::var("CAB_TEST_POSTGRES").as_deref(),
        Ok("required"),
        "CAB_TEST_POSTGRES=required, but no PostgreSQL server binaries were found under /usr/lib/postgresql/*/bin (install the postgresql package, or set CAB_TEST_PG_BIN)"
    );
    eprintln!("PostgreSQL binaries not found: the PostgreSQL tests do not run here");
    false
}

/// The server this test binary shares, started on first use; `None` (after saying so) when
/// this machine has no PostgreSQL.
pub fn shared() -> Option<&'static Pg> {
    static SHARED: OnceLock<Option<Pg>> = OnceLock::new();
    SHARED.get_or_init(|| available().then(Pg::start)).as_ref()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn chown(path: &Path, (uid, gid): (u32, u32)) {
    let c = std::ffi::CString::new(path.to_str().expect("a UTF-8 path")).expect("no NUL");
    // SAFETY: a valid C string; chown only changes the file's owner.
    assert_eq!(
        unsafe { libc::chown(c.as_ptr(), uid, gid) },
        0,
        "chown {path:?}"
    );
}

impl Pg {
    /// A new server of its own, in a new temporary folder.
    pub fn start() -> Pg {
        let pg = Pg::init();
        pg.start_server();
        pg
    }

    /// A new server that takes TCP connections over TLS only (socket connections as usual), with
    /// a certificate for 127.0.0.1 and localhost signed by a new CA; the server and the CA's
    /// certificate (PEM) to trust. Needs `openssl`.
    pub fn start_tls() -> (Pg, PathBuf) {
        let mut pg = Pg::init();
        let tls = pg.dir.join("tls");
        std::fs::create_dir(&tls).expect("a TLS folder");
        let sh = |script: &str| {
            let out = Command::new("/bin/sh")
                .args(["-ec", script])
                .current_dir(&tls)
                .output()
                .expect("run openssl");
            assert!(
                out.status.success(),
                "openssl: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
              -keyout ca.key -out ca.crt -days 2 -subj /CN=cab-test-ca \
              -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
              -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
              -out server.crt -days 2 -extfile ext 2>/dev/null
            chmod 600 server.key");
        if let Some(user) = run_as() {
            for f in ["", "server.key", "server.crt"] {
                chown(&tls.join(f), user);
            }
        }
        std::fs::write(
            pg.data().join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .expect("pg_hba.conf");
        pg.extra = format!(
            "-c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            tls.join("server.crt").display(),
            tls.join("server.key").display()
        );
        pg.start_server();
        (pg, tls.join("ca.crt"))
    }

    /// A new cluster in a new temporary folder, not started yet.
    fn init() -> Pg {
        let bin = bin_dir().expect("PostgreSQL binaries (check available() first)");
        let dir = tempfile::Builder::new()
            .prefix("cab-pg-")
            .tempdir()
            .expect("a temporary folder")
            .keep();
        if let Some(user) = run_as() {
            chown(&dir, user);
        }
        let out = Pg::as_server_user(&mut Command::new(bin.join("initdb")))
            .args(["-D"])
            .arg(dir.join("data"))
            .args([
                "-U",
                "cab",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = Pg {
            bin,
            dir,
            port: free_port(),
            extra: String::new(),
            watchdog: None,
        };
        pg.watchdog = Some(pg.spawn_watchdog());
        pg
    }

    fn as_server_user(command: &mut Command) -> &mut Command {
        if let Some((uid, gid)) = run_as() {
            command.uid(uid).gid(gid);
        }
        command
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LANG", "C")
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The socket folder: the data folder, where the server's `-k` puts it.
    pub fn socket_dir(&self) -> PathBuf {
        self.data()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres --version`, for reports.
    pub fn version(&self) -> String {
        Command::new(self.bin.join("postgres"))
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    fn spawn_watchdog(&self) -> Child {
        // Reads until the test process's end of the pipe closes, then stops the server at
        // once and removes its folder.
        let script = format!(
            "read -r _; '{}' -D '{}' stop -m immediate >/dev/null 2>&1; rm -rf '{}'",
            self.bin.join("pg_ctl").display(),
            self.data().display(),
            self.dir.display()
        );
        Pg::as_server_user(Command::new("/bin/sh").args(["-c", &script]))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the watchdog")
    }

    /// Start (or start again) the server and wait until it accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c max_connections=300 -c shared_buffers=64MB {}",
            self.port,
            self.socket_dir().display(),
            self.extra
        );
        let out = Pg::as_server_user(&mut Command::new(self.bin.join("pg_ctl")))
            .arg("-D")
            .arg(self.data())
            .args(["-o", &options, "-l"])
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "60", "start"])
            .output()
            .expect("run pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
    }

    /// Stop the server (fast shutdown: connections are closed, what was committed stays).
    pub fn stop_server(&self) {
        let out = Pg::as_server_user(&mut Command::new(self.bin.join("pg_ctl")))
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"])
            .output()
            .expect("run pg_ctl stop");
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// SQL as the superuser on `db`, through psql; its output (tuples only, unaligned).
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self.psql_output(db, sql);
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn psql_output(&self, db: &str, sql: &str) -> Output {
        Pg::as_server_user(&mut Command::new(self.bin.join("psql")))
            .arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", "cab", "-d", db])
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("run psql")
    }

    /// A new, empty database owned by a new role that holds no other right; its name.
    pub fn new_database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "cab_t{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        self.psql(
            "postgres",
            &format!("CREATE ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"),
        );
        self.psql("postgres", &format!("CREATE DATABASE {name} OWNER {name}"));
        name
    }

    /// The URL of a database, over loopback TCP as its owner.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{db}@127.0.0.1:{}/{db}", self.port)
    }

    /// The URL of a database through the socket folder (a percent-encoded path as host).
    pub fn socket_url(&self, db: &str) -> String {
        let host = self.socket_dir().display().to_string().replace('/', "%2F");
        format!("postgresql://{db}@{host}:{}/{db}", self.port)
    }

    /// A new database's URL over loopback TCP.
    pub fn fresh(&self) -> (String, String) {
        let db = self.new_database();
        let url = self.url(&db);
        (db, url)
    }

    /// Wait until `check` holds, with a generous deadline.
    pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !check() {
            assert!(Instant::now() < deadline, "gave up waiting: {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            if let Some(mut stdin) = watchdog.stdin.take() {
                let _ = stdin.write_all(b"\n");
            }
            let _ = watchdog.wait();
        }
    }
}
