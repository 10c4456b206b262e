//! The store in PostgreSQL (SPEC section 8): the same canonical lines and hash chain as the
//! file, one row per event, so that several `cab serve` instances and `cab` processes share it.
//!
//! The database decides order: a writer locks the events table against other writers
//! (`LOCK TABLE ... IN EXCLUSIVE MODE`, readers go on), catches up with the rows others
//! appended, lets the engine judge against that up-to-date state, inserts its rows and commits.
//! The table's own constraints (a primary key on `seq`, each row's `(seq - 1, prev)` a foreign
//! key to the row before, one decision and one outcome per request) refuse a gap, a fork or a
//! second decision whatever wrote it. See docs/store-format.md, "PostgreSQL".

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::file::{AppendError, Appended, Commit, Replica, StoreError, VerifyReport};
use super::line::{self, GENESIS};
use crate::engine::{Event, State, StoredEvent};

/// How long one exchange with the database may take before cab gives up on the connection.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long connecting may take, unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows read at a time when catching up or verifying.
const PAGE: i64 = 5000;
/// The advisory lock key that serializes migrations across instances ("cab" in ASCII).
const MIGRATION_LOCK: i64 = 0x0063_6162;
/// The advisory lock held, on a connection of its own, by the one process that delivers a
/// database's webhooks ("cabw" in ASCII); released when that connection ends.
const WEBHOOK_LOCK: i64 = 0x6361_6277;
/// The channel a commit notifies (by the table's trigger), for live refresh across instances.
pub const CHANNEL: &str = "cab_events";

/// The schema, one migration per version, applied in order inside one transaction under an
/// advisory lock. Never edit a released migration: add the next one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE cab_events (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    prev text NOT NULL CHECK (prev ~ '^[0-9a-f]{64}$'),
    hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    type text NOT NULL,
    request_id text NOT NULL,
    line text NOT NULL,
    prev_seq bigint GENERATED ALWAYS AS (NULLIF(seq - 1, 0)) STORED,
    UNIQUE (seq, hash),
    FOREIGN KEY (prev_seq, prev) REFERENCES cab_events (seq, hash),
    CHECK (seq > 1 OR prev = repeat('0', 64))
);
CREATE UNIQUE INDEX cab_events_one_decision ON cab_events (request_id)
    WHERE type = 'request_decided';
CREATE UNIQUE INDEX cab_events_one_outcome ON cab_events (request_id)
    WHERE type = 'outcome_recorded';
CREATE FUNCTION cab_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cab_events', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER cab_events_notify AFTER INSERT ON cab_events
    FOR EACH STATEMENT EXECUTE FUNCTION cab_events_notify();
"#,
    r#"
CREATE TABLE cab_webhook_progress (
    name text PRIMARY KEY,
    progress text NOT NULL
);
"#,
];

const SELECT_FROM: &str = "SELECT seq, prev, hash, type, request_id, line FROM cab_events WHERE seq >= $1 ORDER BY seq LIMIT $2";
/// The rows from a replica's head on: the head row without its line (only its hash is
/// compared), every later row whole.
const SELECT_AFTER: &str = "SELECT seq, prev, hash, type, request_id, CASE WHEN seq = $1 THEN '' ELSE line END FROM cab_events WHERE seq >= $1 ORDER BY seq LIMIT $2";
const SELECT_SEQS: &str = "SELECT seq, line FROM cab_events WHERE seq = ANY($1) ORDER BY seq";
const INSERT: &str = "INSERT INTO cab_events (seq, prev, hash, type, request_id, line) \
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])";
const BEGIN_WRITE: &str = "BEGIN; LOCK TABLE cab_events IN EXCLUSIVE MODE";

/// TLS to the database, as the URL's `sslmode` asks.
#[derive(Debug, Clone, PartialEq)]
enum Tls {
    /// No `sslmode`, or `disable`, `allow`: plain TCP or a socket.
    Off,
    /// `prefer`, `require`, `verify-ca`, `verify-full`: rustls, the server's certificate checked
    /// against `sslrootcert` (a PEM file) or the system's roots.
    On {
        required: bool,
        roots: Option<PathBuf>,
    },
}

/// A `postgres://` or `postgresql://` URL, parsed.
#[derive(Debug, Clone)]
pub struct PgTarget {
    config: tokio_postgres::Config,
    tls: Tls,
    shown: String,
}

impl PgTarget {
    /// Does this text name a PostgreSQL database (rather than a file)?
    pub fn is_url(text: &str) -> bool {
        let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
        lower.starts_with("postgres://") || lower.starts_with("postgresql://")
    }

    /// Parse a URL: the usual libpq parameters, a socket folder as host (`host=/run/...` or a
    /// percent-encoded path), `sslmode` and `sslrootcert`. The error is a sentence.
    pub fn parse(url: &str) -> Result<PgTarget, String> {
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        let mut kept = Vec::new();
        let mut mode = None;
        let mut roots = None;
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            if pair.is_empty() {
                continue;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => mode = Some(percent_decode(value)?),
                "sslrootcert" => roots = Some(PathBuf::from(percent_decode(value)?)),
                _ => kept.push(pair),
            }
        }
        let tls = match mode.as_deref() {
            None | Some("disable") | Some("allow") => Tls::Off,
            Some("prefer") => Tls::On {
                required: false,
                roots: roots.clone(),
            },
            Some("require") | Some("verify-ca") | Some("verify-full") => Tls::On {
                required: true,
                roots: roots.clone(),
            },
            Some(other) => {
                return Err(format!(
                    "sslmode={other:?} is not one PostgreSQL knows; use disable, prefer, require, verify-ca or verify-full"
                ));
            }
        };
        if roots.is_some() && tls == Tls::Off {
            return Err(
                "sslrootcert is given but TLS is not: add sslmode=verify-full (or require)".into(),
            );
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e| format!("it is not a PostgreSQL URL cab can use: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("cab");
        }
        config.ssl_mode(match &tls {
            Tls::Off => SslMode::Disable,
            Tls::On {
                required: false, ..
            } => SslMode::Prefer,
            Tls::On { required: true, .. } => SslMode::Require,
        });
        let shown = show(&config);
        Ok(PgTarget { config, tls, shown })
    }

    /// The URL without its password: what messages and the status bar show.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// `postgres://user@host:port/db`, never the password.
fn show(config: &tokio_postgres::Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string().replace('/', "%2F"),
            };
            match ports.get(i).or(ports.first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{}/{db}", hosts.join(","))
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("{text:?} has a bad percent escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} is not UTF-8 once decoded"))
}

/// One session with the database and its prepared statements.
struct Session {
    client: Client,
    from: Statement,
    after: Statement,
    seqs: Statement,
    insert: Statement,
}

/// The events table of one database.
pub struct PgStore {
    target: PgTarget,
    /// Runs the connections' drivers and every exchange; shut down without waiting on drop.
    runtime: std::mem::ManuallyDrop<tokio::runtime::Runtime>,
    session: Mutex<Option<Session>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStore({})", self.target.shown)
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // SAFETY: the runtime is taken once, here, and `self` is not used after `drop`.
        let runtime = unsafe { std::mem::ManuallyDrop::take(&mut self.runtime) };
        // Dropped inside the server's runtime too, where a blocking shutdown would panic.
        runtime.shutdown_background();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The webhook delivery lock of a database, held by this process on a connection of its own
/// for as long as this value lives.
pub struct WebhookLock {
    client: Mutex<Option<Client>>,
}

/// A failure of one exchange: the session is dropped (and made again next time) unless the
/// database itself answered with an error.
enum Failure {
    Db(tokio_postgres::Error),
    Timeout,
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Db(e)
    }
}

impl PgStore {
    /// The store at this URL; nothing is connected until it is first used.
    pub fn new(target: PgTarget) -> Result<PgStore, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cab-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Db {
                store: target.shown.clone(),
                action: "start the client of",
                detail: e.to_string(),
            })?;
        Ok(PgStore {
            target,
            runtime: std::mem::ManuallyDrop::new(runtime),
            session: Mutex::new(None),
        })
    }

    pub fn target(&self) -> &PgTarget {
        &self.target
    }

    pub fn shown(&self) -> &str {
        &self.target.shown
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Run one exchange on this store's runtime, within the exchange timeout.
    fn block<T>(
        &self,
        fut: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, Failure> {
        self.runtime().block_on(async {
            match tokio::time::timeout(EXCHANGE_TIMEOUT, fut).await {
                Ok(result) => result.map_err(Failure::Db),
                Err(_) => Err(Failure::Timeout),
            }
        })
    }

    fn unreachable(&self, detail: impl Into<String>) -> StoreError {
        StoreError::DbUnreachable {
            store: self.target.shown.clone(),
            detail: detail.into(),
        }
    }

    pub(super) fn corrupt(&self, seq: u64, reason: impl ToString) -> StoreError {
        StoreError::DbCorrupt {
            store: self.target.shown.clone(),
            seq,
            reason: reason.to_string(),
        }
    }

    /// A failure as the user's sentence; `session` is emptied when the connection is suspect.
    fn failed(
        &self,
        session: &mut Option<Session>,
        action: &'static str,
        f: Failure,
    ) -> StoreError {
        match f {
            Failure::Timeout => {
                *session = None;
                self.unreachable(format!("no answer within {} s", EXCHANGE_TIMEOUT.as_secs()))
            }
            Failure::Db(e) => {
                // Connection exceptions (08) and a server shutting down (57) mean the database
                // cannot be used now, like a refused connection.
                let gone = e.code().is_some_and(|c| {
                    let code = c.code();
                    code.starts_with("08") || code.starts_with("57")
                });
                if gone {
                    *session = None;
                    return self.unreachable(error_text(&e));
                }
                if let Some(db) = e.as_db_error() {
                    // The database answered: the session is fine, unless the error ended it.
                    if session.as_ref().is_some_and(|s| s.client.is_closed()) {
                        *session = None;
                    }
                    StoreError::Db {
                        store: self.target.shown.clone(),
                        action,
                        detail: db.message().to_string(),
                    }
                } else {
                    *session = None;
                    self.unreachable(error_text(&e))
                }
            }
        }
    }

    /// The session, connected (and the schema migrated) if it is not yet or was lost.
    fn session(&self) -> Result<MutexGuard<'_, Option<Session>>, StoreError> {
        let mut guard = lock(&self.session);
        if guard.as_ref().is_some_and(|s| s.client.is_closed()) {
            *guard = None;
        }
        if guard.is_none() {
            let client = self.connect()?;
            // The timer is made inside the runtime: it needs its clock.
            let migrated = self
                .runtime()
                .block_on(async { tokio::time::timeout(EXCHANGE_TIMEOUT, migrate(&client)).await });
            match migrated {
                Ok(Ok(())) => {}
                Ok(Err(Migration::Newer(version))) => {
                    return Err(StoreError::Db {
                        store: self.target.shown.clone(),
                        action: "use",
                        detail: format!(
                            "its schema is version {version}, made by a newer cab than this one (which knows up to {}); upgrade cab",
                            MIGRATIONS.len()
                        ),
                    });
                }
                Ok(Err(Migration::Db(e))) => {
                    return Err(self.failed(&mut None, "set up the schema of", Failure::Db(e)));
                }
                Err(_) => {
                    return Err(self.failed(&mut None, "set up the schema of", Failure::Timeout));
                }
            }
            let prepared = self.block(async {
                let from = client.prepare(SELECT_FROM).await?;
                let after = client.prepare(SELECT_AFTER).await?;
                let seqs = client.prepare(SELECT_SEQS).await?;
                let insert = client.prepare(INSERT).await?;
                Ok((from, after, seqs, insert))
            });
            let (from, after, seqs, insert) = match prepared {
                Ok(p) => p,
                Err(f) => return Err(self.failed(&mut None, "set up the schema of", f)),
            };
            *guard = Some(Session {
                client,
                from,
                after,
                seqs,
                insert,
            });
        }
        Ok(guard)
    }

    /// A new connection, its driver running on this store's runtime.
    fn connect(&self) -> Result<Client, StoreError> {
        let target = self.target.clone();
        let connected = self
            .runtime()
            .block_on(async move { connect(&target).await });
        connected.map_err(|e| self.unreachable(e))
    }

    /// Take the webhook delivery lock (SPEC section 7: one process delivers at a time), on a
    /// connection of its own; `None` while another process holds it.
    pub fn lock_webhooks(&self) -> Result<Option<WebhookLock>, StoreError> {
        drop(self.session()?); // the schema, migrated
        let client = self.connect()?;
        if !self.try_webhook_lock(&client)? {
            return Ok(None);
        }
        Ok(Some(WebhookLock {
            client: Mutex::new(Some(client)),
        }))
    }

    fn try_webhook_lock(&self, client: &Client) -> Result<bool, StoreError> {
        let row = self
            .block(client.query_one("SELECT pg_try_advisory_lock($1)", &[&WEBHOOK_LOCK]))
            .map_err(|f| self.failed(&mut None, "take the webhook lock of", f))?;
        row.try_get::<_, bool>(0)
            .map_err(|e| self.failed(&mut None, "take the webhook lock of", Failure::Db(e)))
    }

    /// Every webhook's delivery progress as last saved: (name, its JSON).
    pub fn webhook_progress(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut guard = self.session()?;
        let Some(session) = guard.as_ref() else {
            return Err(self.unreachable("no session"));
        };
        let rows = self.block(session.client.query(
            "SELECT name, progress FROM cab_webhook_progress ORDER BY name",
            &[],
        ));
        let rows = rows.map_err(|f| self.failed(&mut guard, "read the webhook progress of", f))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(|e| self.failed(&mut guard, "read the webhook progress of", Failure::Db(e)))
    }

    /// Save one webhook's progress while holding `lock`. A lock whose connection was lost is
    /// taken again first; `Ok(false)` when another process took it meanwhile (nothing saved).
    pub fn save_webhook_progress(
        &self,
        lock: &WebhookLock,
        name: &str,
        progress: &str,
    ) -> Result<bool, StoreError> {
        let mut held = self::lock(&lock.client);
        if held.as_ref().is_none_or(Client::is_closed) {
            *held = None;
            let client = self.connect()?;
            if !self.try_webhook_lock(&client)? {
                return Ok(false);
            }
            *held = Some(client);
        }
        let Some(client) = held.as_ref() else {
            return Ok(false);
        };
        let saved = self.block(client.execute(
            "INSERT INTO cab_webhook_progress (name, progress) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET progress = EXCLUDED.progress",
            &[&name, &progress],
        ));
        match saved {
            Ok(_) => Ok(true),
            Err(f) => {
                let mut dropped = None;
                let e = self.failed(&mut dropped, "save the webhook progress of", f);
                if client.is_closed() {
                    *held = None;
                }
                Err(e)
            }
        }
    }

    /// Is the database reachable and its schema in place? (`GET /v1/readyz`.)
    pub fn ping(&self) -> Result<(), StoreError> {
        let mut guard = self.session()?;
        let Some(session) = guard.as_ref() else {
            return Err(self.unreachable("no session"));
        };
        let pinged = self.block(session.client.simple_query("SELECT 1"));
        pinged
            .map(drop)
            .map_err(|f| self.failed(&mut guard, "query", f))
    }

    /// Bring a replica up to date with the table, without writing.
    pub fn refresh(&self, replica: &mut Replica) -> Result<(), StoreError> {
        let mut guard = self.session()?;
        let result = self.catch_up(&mut guard, replica, None);
        result.map_err(|(f, action)| match f {
            Caught::Failure(f) => self.failed(&mut guard, action, f),
            Caught::Store(e) => e,
        })
    }

    /// Read and verify the rows after the replica's head (and the head row itself, to see that
    /// it is still the one read). `first` is a page already fetched, from the replica's head.
    fn catch_up(
        &self,
        guard: &mut MutexGuard<'_, Option<Session>>,
        replica: &mut Replica,
        mut first: Option<Vec<Row>>,
    ) -> Result<(), (Caught, &'static str)> {
        loop {
            let from = replica.head_seq();
            let rows = match first.take() {
                Some(rows) => rows,
                None => {
                    let Some(session) = guard.as_ref() else {
                        return Err((Caught::Store(self.unreachable("no session")), "read"));
                    };
                    let from_param = from as i64;
                    self.block(session.client.query(&session.after, &[&from_param, &PAGE]))
                        .map_err(|f| (Caught::Failure(f), "read"))?
                }
            };
            let mut rows = rows.as_slice();
            let full = rows.len() as i64 == PAGE;
            if from > 0 {
                let same = rows.first().is_some_and(|row| {
                    row_seq(row) == Some(from) && row_text(row, 2) == Some(replica.head_hash())
                });
                if !same {
                    let seen = from;
                    *replica = Replica::new();
                    replica.warn(format!(
                        "WARNING: the database {} changed under this process: the {seen} event{} it had read are no longer all there as they were (deleted or rewritten); reading it again from the start",
                        self.target.shown,
                        if seen == 1 { "" } else { "s" }
                    ));
                    continue;
                }
                rows = &rows[1..];
            }
            let fault = |seq, reason| (Caught::Store(self.corrupt(seq, reason)), "read");
            for checked in check_rows(rows, replica.head_seq() + 1) {
                if checked
                    .first_prev
                    .is_some_and(|prev| prev != replica.head_hash())
                {
                    let broken = line::LineError::BrokenChain.to_string();
                    return Err(fault(checked.first_seq, broken));
                }
                for event in checked.events {
                    let seq = event.seq;
                    replica.admit(event).map_err(|reason| fault(seq, reason))?;
                }
                if let Some((seq, reason)) = checked.failed {
                    return Err(fault(seq, reason));
                }
            }
            if !full || rows.is_empty() {
                return Ok(());
            }
        }
    }

    /// The writer's protocol, in one transaction: lock the table against other writers, catch
    /// up, judge, insert, commit. Durable when this returns (the commit waited for the WAL);
    /// the [`Commit`] is only there to match the file store's two halves.
    pub fn append_unsynced<T, E>(
        &self,
        replica: &mut Replica,
        mut judge: impl FnMut(&Replica) -> Result<(Vec<Event>, T), E>,
    ) -> Result<(Appended<T>, Commit), AppendError<E>> {
        let mut guard = self.session()?;
        self.begin_write(&mut guard, replica)?;
        let (events, value) = match judge(replica) {
            Ok(judged) => judged,
            Err(refused) => {
                self.rollback(&mut guard);
                return Err(AppendError::Refused(refused));
            }
        };
        let nothing = |value| {
            (
                Appended {
                    stored: Vec::new(),
                    notices: Vec::new(),
                    value,
                },
                Commit::durable(),
            )
        };
        if events.is_empty() {
            self.rollback(&mut guard);
            return Ok(nothing(value));
        }
        let (rows, stored) = Rows::of(encode(replica.head_seq(), replica.head_hash(), events));
        let committed = {
            let Some(session) = guard.as_ref() else {
                return Err(self.unreachable("no session").into());
            };
            self.block(async {
                let (inserted, commit) = futures_util::future::join(
                    session.client.execute(
                        &session.insert,
                        &[
                            &rows.seqs,
                            &rows.prevs,
                            &rows.hashes,
                            &rows.types,
                            &rows.requests,
                            &rows.lines,
                        ],
                    ),
                    session.client.batch_execute("COMMIT"),
                )
                .await;
                inserted?;
                commit
            })
        };
        if let Err(f) = committed {
            return Err(self.commit_failed(&mut guard, f).into());
        }
        replica
            .written(&stored)
            .map_err(|(seq, e)| self.corrupt(seq, e))?;
        Ok((
            Appended {
                stored,
                notices: Vec::new(),
                value,
            },
            Commit::durable(),
        ))
    }

    /// Several commands in one transaction (a database's group commit): lock, catch up, then
    /// each job judged in turn against the replica with the earlier jobs' events applied, all
    /// their rows inserted at once, one commit. Every job is then finished with the outcome,
    /// so each learns whether what it was told (`written`) counts. A failed batch leaves the
    /// replica to be read again from the table.
    pub fn append_batch(&self, replica: &mut Replica, jobs: Vec<Box<dyn Job>>) {
        let mut jobs = jobs;
        let outcome = self.commit_jobs(replica, &mut jobs);
        if outcome.is_err() {
            *replica = Replica::new();
        }
        for job in jobs {
            job.finish(outcome.as_ref().err().map(copy_error));
        }
    }

    fn commit_jobs(
        &self,
        replica: &mut Replica,
        jobs: &mut [Box<dyn Job>],
    ) -> Result<(), StoreError> {
        let mut guard = self.session()?;
        self.begin_write(&mut guard, replica)?;
        let mut rows = Rows::default();
        for job in jobs.iter_mut() {
            let events = job.judge(replica);
            if events.is_empty() {
                continue;
            }
            let (more, stored) = Rows::of(encode(replica.head_seq(), replica.head_hash(), events));
            if let Err((seq, e)) = replica.written(&stored) {
                self.rollback(&mut guard);
                return Err(self.corrupt(seq, e));
            }
            job.written(replica, &stored);
            rows.extend(more);
        }
        if rows.seqs.is_empty() {
            self.rollback(&mut guard);
            return Ok(());
        }
        let committed = {
            let Some(session) = guard.as_ref() else {
                return Err(self.unreachable("no session"));
            };
            self.block(async {
                let (inserted, commit) = futures_util::future::join(
                    session.client.execute(
                        &session.insert,
                        &[
                            &rows.seqs,
                            &rows.prevs,
                            &rows.hashes,
                            &rows.types,
                            &rows.requests,
                            &rows.lines,
                        ],
                    ),
                    session.client.batch_execute("COMMIT"),
                )
                .await;
                inserted?;
                commit
            })
        };
        committed.map_err(|f| self.commit_failed(&mut guard, f))
    }

    /// A batch's insert or commit failed: the session is not used again, and when the
    /// commit's answer was lost the user is told the command may have been recorded.
    fn commit_failed(&self, guard: &mut MutexGuard<'_, Option<Session>>, f: Failure) -> StoreError {
        let refused = matches!(&f, Failure::Db(e) if e.as_db_error().is_some());
        **guard = None;
        match self.failed(&mut None, "append to", f) {
            StoreError::DbUnreachable { store, detail } if !refused => StoreError::DbUnreachable {
                store,
                detail: format!(
                    "{detail}; the command's events may or may not have been committed, so check before repeating it"
                ),
            },
            other => other,
        }
    }

    /// End a write transaction that writes nothing. A failure drops the session (the server
    /// rolls back a transaction whose connection ends).
    /// Begin a write: take the table's lock and catch up with the rows others wrote since the
    /// replica's head, in one round trip; rolled back if catching up fails.
    fn begin_write(
        &self,
        guard: &mut MutexGuard<'_, Option<Session>>,
        replica: &mut Replica,
    ) -> Result<(), StoreError> {
        let begun = {
            let Some(session) = guard.as_ref() else {
                return Err(self.unreachable("no session"));
            };
            let from = replica.head_seq() as i64;
            // One round trip: the lock, then the rows from the head on.
            self.block(async {
                let (begin, rows) = futures_util::future::join(
                    session.client.batch_execute(BEGIN_WRITE),
                    session.client.query(&session.after, &[&from, &PAGE]),
                )
                .await;
                begin?;
                rows
            })
        };
        let rows = begun.map_err(|f| self.failed(guard, "lock the events of", f))?;
        if let Err((caught, action)) = self.catch_up(guard, replica, Some(rows)) {
            self.rollback(guard);
            return Err(match caught {
                Caught::Failure(f) => self.failed(guard, action, f),
                Caught::Store(e) => e,
            });
        }
        Ok(())
    }

    fn rollback(&self, guard: &mut MutexGuard<'_, Option<Session>>) {
        let rolled = match guard.as_ref() {
            Some(session) => self.block(session.client.batch_execute("ROLLBACK")).is_ok(),
            None => true,
        };
        if !rolled {
            **guard = None;
        }
    }

    /// Stored events by sequence number, read back and checked against the hashes the replica
    /// verified.
    pub fn read_events(
        &self,
        replica: &Replica,
        seqs: impl IntoIterator<Item = u64>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let wanted: Vec<i64> = seqs
            .into_iter()
            .filter(|&s| s >= 1 && s <= replica.head_seq())
            .map(|s| s as i64)
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut guard = self.session()?;
        let rows = {
            let Some(session) = guard.as_ref() else {
                return Err(self.unreachable("no session"));
            };
            self.block(session.client.query(&session.seqs, &[&wanted]))
        };
        let rows = rows.map_err(|f| self.failed(&mut guard, "read", f))?;
        drop(guard);
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let seq = row_seq(row).unwrap_or(0);
            let text = row_text(row, 1).unwrap_or("");
            let hash = replica
                .line_hash(seq)
                .ok_or_else(|| self.corrupt(seq, "the database changed while it was read"))?;
            let event = line::decode_verified(text.as_bytes(), seq, hash)
                .map_err(|e| self.corrupt(seq, e))?;
            out.push(event);
        }
        // In the order asked (a request's history is in store order already).
        let mut by_seq: std::collections::HashMap<u64, StoredEvent> =
            out.into_iter().map(|e| (e.seq, e)).collect();
        let mut ordered = Vec::with_capacity(wanted.len());
        for seq in wanted {
            let seq = seq as u64;
            match by_seq.remove(&seq) {
                Some(e) => ordered.push(e),
                None => return Err(self.corrupt(seq, "the event is no longer in the database")),
            }
        }
        Ok(ordered)
    }

    /// Check every row: the line's format, canonical form, chain and every rule, and that the
    /// row's columns say what its line says.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let mut replica = Replica::new();
        let mut bytes = 0u64;
        self.each_row(|row| {
            let expected = replica.head_seq() + 1;
            bytes += row_text(row, 5).map_or(0, |l| l.len() as u64 + 1);
            let event = check_row(row, expected, replica.head_hash())
                .map_err(|reason| self.corrupt(expected, reason))?;
            replica
                .admit(event)
                .map_err(|reason| self.corrupt(expected, reason))
        })?;
        Ok(VerifyReport {
            events: replica.head_seq(),
            head_hash: replica.head_hash().to_string(),
            requests: replica.state.request_count(),
            exceptions: replica.state.exception_count(),
            bytes,
            torn: None,
        })
    }

    /// Every row in order, a page at a time.
    fn each_row(
        &self,
        mut f: impl FnMut(&Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut from = 0i64;
        loop {
            let mut guard = self.session()?;
            let rows = {
                let Some(session) = guard.as_ref() else {
                    return Err(self.unreachable("no session"));
                };
                self.block(session.client.query(&session.from, &[&from, &PAGE]))
            };
            let rows = rows.map_err(|f| self.failed(&mut guard, "read", f))?;
            drop(guard);
            for row in &rows {
                f(row)?;
            }
            match rows.last().and_then(row_seq) {
                Some(last) if rows.len() as i64 == PAGE => from = last as i64 + 1,
                _ => return Ok(()),
            }
        }
    }

    /// Every line, in order, checked as `cab verify` checks them (for `cab store copy`).
    pub fn lines(
        &self,
        mut f: impl FnMut(&str) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut seq = 0u64;
        let mut prev = GENESIS.to_string();
        self.each_row(|row| {
            seq += 1;
            let text = row_text(row, 5).unwrap_or("");
            let link =
                line::check_link(text.as_bytes(), seq, &prev).map_err(|e| self.corrupt(seq, e))?;
            prev = link.hash.to_string();
            f(text)
        })
    }

    /// The number of events in the table.
    pub fn count(&self) -> Result<u64, StoreError> {
        let mut guard = self.session()?;
        let rows = {
            let Some(session) = guard.as_ref() else {
                return Err(self.unreachable("no session"));
            };
            self.block(session.client.query("SELECT count(*) FROM cab_events", &[]))
        };
        let rows = rows.map_err(|f| self.failed(&mut guard, "count the events of", f))?;
        Ok(rows
            .first()
            .and_then(|r| r.try_get::<_, i64>(0).ok())
            .unwrap_or(0) as u64)
    }

    /// Insert whole lines into an empty table, in one transaction, under the writers' lock
    /// (the demo, `cab store copy`). Refused, writing nothing, when the table holds events.
    /// Returns how many were written.
    pub fn fill_lines(
        &self,
        lines: &mut dyn Iterator<Item = Result<String, StoreError>>,
    ) -> Result<u64, StoreError> {
        const BATCH: usize = 2000;
        let mut guard = self.session()?;
        let begun = {
            let Some(session) = guard.as_ref() else {
                return Err(self.unreachable("no session"));
            };
            self.block(async {
                session.client.batch_execute(BEGIN_WRITE).await?;
                session
                    .client
                    .query("SELECT count(*) FROM cab_events", &[])
                    .await
            })
        };
        let rows = begun.map_err(|f| self.failed(&mut guard, "lock the events of", f))?;
        let held = rows
            .first()
            .and_then(|r| r.try_get::<_, i64>(0).ok())
            .unwrap_or(0);
        if held > 0 {
            self.rollback(&mut guard);
            return Err(StoreError::TargetNotEmpty {
                store: self.target.shown.clone(),
                events: held as u64,
            });
        }
        let mut seq = 0u64;
        let mut prev = GENESIS.to_string();
        let mut batch = Rows::default();
        let flush = |guard: &mut MutexGuard<'_, Option<Session>>, batch: &mut Rows| {
            if batch.seqs.is_empty() {
                return Ok(());
            }
            let inserted = {
                let Some(session) = guard.as_ref() else {
                    return Err(self.unreachable("no session"));
                };
                self.block(session.client.execute(
                    &session.insert,
                    &[
                        &batch.seqs,
                        &batch.prevs,
                        &batch.hashes,
                        &batch.types,
                        &batch.requests,
                        &batch.lines,
                    ],
                ))
            };
            *batch = Rows::default();
            inserted
                .map(drop)
                .map_err(|f| self.failed(guard, "append to", f))
        };
        for text in lines {
            let text = match text {
                Ok(text) => text,
                Err(e) => {
                    *guard = None;
                    return Err(e);
                }
            };
            seq += 1;
            let event = match line::decode(text.as_bytes(), seq, &prev) {
                Ok(event) => event,
                Err(e) => {
                    *guard = None;
                    return Err(self.corrupt(seq, e));
                }
            };
            batch.push(&event, text);
            prev = event.hash;
            if batch.seqs.len() == BATCH
                && let Err(e) = flush(&mut guard, &mut batch)
            {
                *guard = None;
                return Err(e);
            }
        }
        if let Err(e) = flush(&mut guard, &mut batch) {
            *guard = None;
            return Err(e);
        }
        let committed = match guard.as_ref() {
            Some(session) => self.block(session.client.batch_execute("COMMIT")),
            None => return Err(self.unreachable("no session")),
        };
        committed.map_err(|f| self.failed(&mut guard, "commit to", f))?;
        Ok(seq)
    }

    /// The state after the verified events whose time is at or before `at`, in store order
    /// (`--at`). Each line read again must hash to what the replica verified.
    pub fn state_as_of(
        &self,
        verified: &super::Verified,
        at: DateTime<Utc>,
    ) -> Result<State, StoreError> {
        let mut state = State::new();
        let lines = verified.lines();
        let mut seq = 0u64;
        self.each_row(|row| {
            seq += 1;
            if seq > lines {
                return Ok(());
            }
            let text = row_text(row, 5).unwrap_or("").as_bytes();
            let hash = verified
                .hash(seq)
                .ok_or_else(|| self.corrupt(seq, "the database changed while it was read"))?;
            match line::time_of(text) {
                Some(time) if time > at => return Ok(()),
                Some(_) => {}
                None => return Err(self.corrupt(seq, "the line has no readable time")),
            }
            let event = line::decode_verified(text, seq, hash).map_err(|e| self.corrupt(seq, e))?;
            state
                .apply(seq, event.event.at, event.event.kind)
                .map_err(|e| self.corrupt(seq, e))
        })?;
        if seq < lines {
            return Err(self.corrupt(seq + 1, "the database changed while it was read"));
        }
        Ok(state)
    }

    /// Call `changed` whenever any process commits events to this database (LISTEN/NOTIFY on
    /// a connection of its own, made again after a failure), for as long as the store lives.
    pub fn watch(&self, changed: Arc<dyn Fn() + Send + Sync>) {
        let target = self.target.clone();
        self.runtime().spawn(async move {
            loop {
                if let Err(e) = listen(&target, &changed).await {
                    tracing::warn!(database = %target.shown, error = %e, "listening for new events failed; trying again in 1 s");
                }
                // Whatever was missed while not listening: readers catch up on their own, this
                // only wakes them sooner.
                changed();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

/// One command of a batch ([`PgStore::append_batch`]).
pub trait Job: Send {
    /// The events to write, judged against the up-to-date replica (with the batch's earlier
    /// jobs applied); none when the command is refused or is a retry, which the job keeps for
    /// its answer.
    fn judge(&mut self, replica: &Replica) -> Vec<Event>;
    /// Its events as stored, just applied to the replica: the job reads its answer now.
    fn written(&mut self, replica: &Replica, stored: &[StoredEvent]);
    /// The batch is committed (`None`) or failed: what the job says to whoever waits for it.
    fn finish(self: Box<Self>, failed: Option<StoreError>);
}

/// A batch's failure, for each of its jobs.
fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Db {
            store,
            action,
            detail,
        } => StoreError::Db {
            store: store.clone(),
            action,
            detail: detail.clone(),
        },
        StoreError::DbUnreachable { store, detail } => StoreError::DbUnreachable {
            store: store.clone(),
            detail: detail.clone(),
        },
        StoreError::DbCorrupt { store, seq, reason } => StoreError::DbCorrupt {
            store: store.clone(),
            seq: *seq,
            reason: reason.clone(),
        },
        other => StoreError::Db {
            store: String::new(),
            action: "write to",
            detail: other.to_string(),
        },
    }
}

/// What a catch-up can fail with: an exchange, or what was read.
enum Caught {
    Failure(Failure),
    Store(StoreError),
}

/// The text of a connection failure, without the `db error:` wrapper.
fn error_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// Connect, with TLS if the URL asks, and drive the connection on the current runtime.
async fn connect(target: &PgTarget) -> Result<Client, String> {
    match &target.tls {
        Tls::Off => {
            let (client, connection) = target
                .config
                .connect(NoTls)
                .await
                .map_err(|e| error_text(&e))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(client)
        }
        Tls::On { roots, .. } => {
            let tls = tls_connector(roots.as_ref())?;
            let (client, connection) = target
                .config
                .connect(tls)
                .await
                .map_err(|e| error_text(&e))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(client)
        }
    }
}

/// rustls, trusting `roots` (a PEM file) or else the system's certificates.
fn tls_connector(
    roots: Option<&PathBuf>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut store = rustls::RootCertStore::empty();
    match roots {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
            for cert in certs {
                let cert =
                    cert.map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
                store
                    .add(cert)
                    .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = store.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Create or bring the schema up to date: every instance may try at once; the advisory lock
/// lets one do it while the others wait and then find it done.
async fn migrate(client: &Client) -> Result<(), Migration> {
    let have = client
        .query(
            "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'cab_schema'",
            &[],
        )
        .await?;
    if !have.is_empty() {
        let version = client
            .query("SELECT max(version) FROM cab_schema", &[])
            .await?;
        let version = version
            .first()
            .and_then(|r| r.try_get::<_, Option<i32>>(0).ok().flatten())
            .unwrap_or(0);
        if version as usize > MIGRATIONS.len() {
            return Err(Migration::Newer(version));
        }
        if version as usize == MIGRATIONS.len() {
            return Ok(());
        }
    }
    client.batch_execute("BEGIN").await?;
    let result = async {
        client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS cab_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .await?;
        let rows = client
            .query("SELECT coalesce(max(version), 0) FROM cab_schema", &[])
            .await?;
        let version = rows
            .first()
            .and_then(|r| r.try_get::<_, i32>(0).ok())
            .unwrap_or(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            client.batch_execute(sql).await?;
            let v = i as i32 + 1;
            client
                .execute("INSERT INTO cab_schema (version) VALUES ($1)", &[&v])
                .await?;
        }
        client.batch_execute("COMMIT").await
    }
    .await;
    if result.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    Ok(result?)
}

/// Why the schema could not be brought up to date.
enum Migration {
    Db(tokio_postgres::Error),
    /// The database was migrated by a newer cab, to this version.
    Newer(i32),
}

impl From<tokio_postgres::Error> for Migration {
    fn from(e: tokio_postgres::Error) -> Self {
        Migration::Db(e)
    }
}

/// LISTEN on a connection of its own, calling `changed` on each notification, until the
/// connection ends.
async fn listen(target: &PgTarget, changed: &Arc<dyn Fn() + Send + Sync>) -> Result<(), String> {
    use futures_util::future::poll_fn;
    let (client, mut connection) = match &target.tls {
        Tls::Off => {
            let (client, connection) = target
                .config
                .connect(NoTls)
                .await
                .map_err(|e| error_text(&e))?;
            (
                client,
                Box::pin(connection) as std::pin::Pin<Box<dyn Pollable>>,
            )
        }
        Tls::On { roots, .. } => {
            let tls = tls_connector(roots.as_ref())?;
            let (client, connection) = target
                .config
                .connect(tls)
                .await
                .map_err(|e| error_text(&e))?;
            (
                client,
                Box::pin(connection) as std::pin::Pin<Box<dyn Pollable>>,
            )
        }
    };
    let notified = Arc::clone(changed);
    let driver = tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.as_mut().poll_message_dyn(cx)).await {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => notified(),
                Some(Ok(_)) => {}
                Some(Err(e)) => return error_text(&e),
                None => return "the connection ended".to_string(),
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(|e| error_text(&e))?;
    // Anything committed before LISTEN took effect is caught up by the readers themselves.
    changed();
    let ended = driver.await.unwrap_or_else(|e| e.to_string());
    drop(client);
    Err(ended)
}

/// A connection whose messages can be polled, whatever its TLS stream.
trait Pollable: Send {
    fn poll_message_dyn(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<tokio_postgres::AsyncMessage, tokio_postgres::Error>>>;
}

impl<S, T> Pollable for tokio_postgres::Connection<S, T>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    fn poll_message_dyn(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<tokio_postgres::AsyncMessage, tokio_postgres::Error>>> {
        self.get_mut().poll_message(cx)
    }
}

/// New events as lines after `head`: their sequence numbers, chain and hashes, and each
/// line's text (without its `\n`).
fn encode(head: u64, head_hash: &str, events: Vec<Event>) -> Vec<(StoredEvent, String)> {
    let mut prev = head_hash.to_string();
    let mut seq = head;
    let mut buf = Vec::with_capacity(1024);
    events
        .into_iter()
        .map(|event| {
            seq += 1;
            buf.clear();
            let hash = line::encode(&mut buf, seq, &prev, &event);
            buf.pop();
            let text = String::from_utf8_lossy(&buf).into_owned();
            let stored = StoredEvent {
                seq,
                prev: std::mem::replace(&mut prev, hash.clone()),
                hash,
                event,
            };
            (stored, text)
        })
        .collect()
}

/// Rows to insert, column by column (one `unnest` insert for any number of rows).
#[derive(Default)]
struct Rows {
    seqs: Vec<i64>,
    prevs: Vec<String>,
    hashes: Vec<String>,
    types: Vec<&'static str>,
    requests: Vec<String>,
    lines: Vec<String>,
}

impl Rows {
    /// Rows for encoded events; the events alone are given back.
    fn of(encoded: Vec<(StoredEvent, String)>) -> (Rows, Vec<StoredEvent>) {
        let mut rows = Rows::default();
        let mut stored = Vec::with_capacity(encoded.len());
        for (e, line) in encoded {
            rows.push(&e, line);
            stored.push(e);
        }
        (rows, stored)
    }

    fn extend(&mut self, more: Rows) {
        self.seqs.extend(more.seqs);
        self.prevs.extend(more.prevs);
        self.hashes.extend(more.hashes);
        self.types.extend(more.types);
        self.requests.extend(more.requests);
        self.lines.extend(more.lines);
    }

    fn push(&mut self, e: &StoredEvent, line: String) {
        self.seqs.push(e.seq as i64);
        self.prevs.push(e.prev.clone());
        self.hashes.push(e.hash.clone());
        self.types.push(e.event.kind.type_name());
        self.requests.push(e.event.kind.request_id().to_string());
        self.lines.push(line);
    }
}

fn row_seq(row: &Row) -> Option<u64> {
    row.try_get::<_, i64>(0).ok().map(|s| s as u64)
}

fn row_text(row: &Row, column: usize) -> Option<&str> {
    row.try_get::<_, &str>(column).ok()
}

/// A run of rows checked on one thread ([`check_rows`]): the `prev` its first row is written
/// with (linked to the row before in order, by the caller), its events, and the failure that
/// ended it early.
struct Checked {
    first_seq: u64,
    first_prev: Option<String>,
    events: Vec<StoredEvent>,
    failed: Option<(u64, String)>,
}

/// Rows checked as [`check_row`] does, a long page on every core: each thread checks a run of
/// them and the links inside it; the caller links each run to the one before, in order, so a
/// fault is reported with the words a row-by-row read gives.
fn check_rows(rows: &[Row], first_seq: u64) -> Vec<Checked> {
    const ALONE: usize = 512;
    let runs = if rows.len() < ALONE {
        1
    } else {
        super::blocks::parsers()
    };
    let size = rows.len().div_ceil(runs).max(1);
    let check_run = |i: usize, run: &[Row]| {
        let first_seq = first_seq + (i * size) as u64;
        let mut checked = Checked {
            first_seq,
            first_prev: None,
            events: Vec::with_capacity(run.len()),
            failed: None,
        };
        for (seq, row) in (first_seq..).zip(run) {
            let event = match checked.events.last() {
                Some(before) => check_row_after(row, seq, Some(&before.hash)),
                None => check_row_after(row, seq, None).inspect(|event| {
                    checked.first_prev = Some(event.prev.clone());
                }),
            };
            match event {
                Ok(event) => checked.events.push(event),
                Err((prev, reason)) => {
                    checked.first_prev = checked.first_prev.take().or(prev);
                    checked.failed = Some((seq, reason));
                    break;
                }
            }
        }
        checked
    };
    if runs == 1 {
        return vec![check_run(0, rows)];
    }
    std::thread::scope(|s| {
        let threads: Vec<_> = rows
            .chunks(size)
            .enumerate()
            .map(|(i, run)| {
                (
                    first_seq + (i * size) as u64,
                    s.spawn(move || check_run(i, run)),
                )
            })
            .collect();
        threads
            .into_iter()
            .map(|(first_seq, thread)| {
                thread.join().unwrap_or_else(|_| Checked {
                    first_seq,
                    first_prev: None,
                    events: Vec::new(),
                    failed: Some((first_seq, "the row checker failed".into())),
                })
            })
            .collect()
    })
}

/// One row as the next event: its line checked as a file's line is (chain, hash, format,
/// canonical form), and every column agreeing with it.
fn check_row(row: &Row, expected: u64, prev: &str) -> Result<StoredEvent, String> {
    check_row_after(row, expected, Some(prev)).map_err(|(_, reason)| reason)
}

/// [`check_row`]; with no `prev`, every check but the link to the row before, and on a
/// failure found after that link would have been checked, the `prev` the line is written with.
fn check_row_after(
    row: &Row,
    expected: u64,
    prev: Option<&str>,
) -> Result<StoredEvent, (Option<String>, String)> {
    let seq = row_seq(row).ok_or((None, "the row has no sequence number".to_string()))?;
    if seq != expected {
        return Err((
            None,
            format!("sequence number {seq} where {expected} was expected (a row was removed)"),
        ));
    }
    let text = row_text(row, 5).ok_or((None, "the row has no line".to_string()))?;
    let event = match prev {
        Some(prev) => line::decode(text.as_bytes(), expected, prev).map_err(|e| (None, e)),
        None => line::decode_unlinked(text.as_bytes(), expected),
    }
    .map_err(|(written, e)| (written, e.to_string()))?;
    // Past the link: a failure from here on comes with the `prev` an unlinked row is written with.
    let fail = |reason: String| (prev.is_none().then(|| event.prev.clone()), reason);
    let columns = [
        ("prev", row_text(row, 1), event.prev.as_str()),
        ("hash", row_text(row, 2), event.hash.as_str()),
        ("type", row_text(row, 3), event.event.kind.type_name()),
    ];
    for (name, column, line_says) in columns {
        if column != Some(line_says) {
            return Err(fail(format!(
                "the row's {name} column does not say what its line says"
            )));
        }
    }
    if row_text(row, 4) != Some(event.event.kind.request_id().to_string().as_str()) {
        return Err(fail(
            "the row's request_id column does not say what its line says".into(),
        ));
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_url_names_its_database_without_its_password_and_takes_tls_settings() {
        let t =
            PgTarget::parse("postgres://cab:secret@db.example:5433/cab?sslmode=require").unwrap();
        assert_eq!(t.shown(), "postgres://cab@db.example:5433/cab");
        assert!(matches!(
            t.tls,
            Tls::On {
                required: true,
                roots: None
            }
        ));
        let t = PgTarget::parse("postgresql://cab@%2Frun%2Fpostgresql/cab").unwrap();
        assert_eq!(t.tls, Tls::Off);
        assert!(t.shown().contains("%2Frun%2Fpostgresql"), "{}", t.shown());
        let t = PgTarget::parse("postgres:///cab?host=/tmp/sock&port=5999&user=me").unwrap();
        assert_eq!(t.shown(), "postgres://me@%2Ftmp%2Fsock:5999/cab");
        let t = PgTarget::parse("postgres://h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem")
            .unwrap();
        assert_eq!(
            t.tls,
            Tls::On {
                required: true,
                roots: Some(PathBuf::from("/etc/ca.pem"))
            }
        );
    }

    #[test]
    fn a_url_with_an_unknown_sslmode_or_parameter_is_refused_with_a_sentence() {
        let e = PgTarget::parse("postgres://h/db?sslmode=maybe").unwrap_err();
        assert!(e.contains("sslmode"), "{e}");
        let e = PgTarget::parse("postgres://h/db?frobnicate=1").unwrap_err();
        assert!(e.contains("PostgreSQL URL"), "{e}");
        let e = PgTarget::parse("postgres://h/db?sslrootcert=/x").unwrap_err();
        assert!(e.contains("sslmode"), "{e}");
    }

    #[test]
    fn only_postgres_and_postgresql_schemes_name_a_database() {
        assert!(PgTarget::is_url("postgres://h/db"));
        assert!(PgTarget::is_url("PostgreSQL://h/db"));
        assert!(!PgTarget::is_url("postgres.jsonl"));
        assert!(!PgTarget::is_url("mysql://h/db"));
    }
}
