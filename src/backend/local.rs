//! The store file on this machine as a backend: the engine's rules applied under the store's
//! lock, against state replayed from the file.
//!
//! [`LocalStore`] serves any number of users (the HTTP server shares one); each call names who
//! acts, and may carry an idempotency key. [`LocalBackend`] is one user's view of it, the
//! [`Backend`] the command line and the console use, with identity from the environment or the
//! config file.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Backend, BackendError, CleanupReport, EventPage};
use crate::clock::Clock;
use crate::engine::event::Idempotency;
use crate::engine::query::{self, Counts};
use crate::engine::report::{self, Report, ReportQuery};
use crate::engine::rules::{self, Command, Ctx, IdSource, RandomIds};
use crate::engine::{
    Actor, EngineError, EventKind, ExceptionFilter, ExceptionView, Invalid, Outcome, OutcomeResult,
    Policy, RequestDetail, RequestFilter, RequestView, Review, State, StatusView, StoredEvent,
    Submission, Verdict,
};
use crate::store::{AppendError, Job, Replica, Store, StoreError, TornTail};

/// How often a waiting `events` call looks at the file again.
const POLL: Duration = Duration::from_millis(100);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves a replica that is at worst behind; catching up
    // again from its offset is always safe.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One store, for many users.
pub struct LocalStore {
    store: Store,
    replica: Mutex<Replica>,
    /// Whether the replica has been read at least once (a one-shot status can skip it).
    loaded: Mutex<bool>,
    policy: Policy,
    clock: Clock,
    notices: Mutex<Vec<String>>,
    /// Writes waiting to be committed together (a database store): see `execute_together`.
    queue: Mutex<Vec<Box<dyn Job>>>,
    /// Refreshes of a database's replica begun and the last one done (by number): a reader
    /// that finds one done that began after it arrived needs no round trip of its own, so
    /// concurrent readers share one.
    refreshes: (AtomicU64, AtomicU64),
    /// The last state computed as of a moment before the newest event (`--at`), so that
    /// repeated questions about one moment (a server's clients polling) replay once.
    past: Mutex<Option<Past>>,
    /// The last snapshot encoded for a console (`GET /v1/snapshot`), with the head it is at:
    /// consoles starting together, or before the next write, share one encoding.
    encoded: Mutex<Option<Encoded>>,
    /// Held while a snapshot is encoded, so consoles starting together encode it once.
    encoding: Mutex<()>,
}

/// A snapshot in its wire form, and the head (sequence number and hash) it is at.
struct Encoded {
    head: u64,
    head_hash: String,
    bytes: Arc<Vec<u8>>,
}

/// A state as of a moment, and the store's head it was replayed from.
struct Past {
    at: DateTime<Utc>,
    head: u64,
    head_hash: String,
    state: Arc<State>,
}

impl LocalStore {
    pub fn new(store: impl Into<Store>, policy: Policy, clock: Clock) -> Self {
        LocalStore {
            store: store.into(),
            replica: Mutex::new(Replica::new()),
            loaded: Mutex::new(false),
            policy,
            clock,
            notices: Mutex::new(Vec::new()),
            queue: Mutex::new(Vec::new()),
            refreshes: (AtomicU64::new(0), AtomicU64::new(0)),
            past: Mutex::new(None),
            encoded: Mutex::new(None),
            encoding: Mutex::new(()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Is the store there to be used (a database reachable)? What `GET /v1/readyz` asks.
    pub fn ready(&self) -> Result<(), BackendError> {
        Ok(self.store.ping()?)
    }

    /// Call `changed` when another process writes, where the store can tell (a database).
    pub fn watch(&self, changed: Arc<dyn Fn() + Send + Sync>) {
        self.store.watch(changed);
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Keep notices for the user, each once: a long-lived holder (the server) that never
    /// takes them must not collect the same one on every read.
    fn notice(&self, notices: impl IntoIterator<Item = String>) {
        let mut pending = lock(&self.notices);
        for n in notices {
            if !pending.contains(&n) {
                pending.push(n);
            }
        }
    }

    fn notice_torn(&self, torn: Option<TornTail>) {
        if let Some(t) = torn {
            self.notice([format!(
                "the store's last line (line {}, {} bytes) is incomplete, cut off by a crash or a failed write; it is not read as data, and the next write will move it to a quarantine file",
                t.line, t.len
            )]);
        }
    }

    /// The up-to-date replica, read under the store's shared lock.
    fn fresh(&self) -> Result<MutexGuard<'_, Replica>, BackendError> {
        let (begun, done) = &self.refreshes;
        let arrived = begun.load(Ordering::SeqCst);
        let mut replica = lock(&self.replica);
        if self.store.file().is_none() && done.load(Ordering::SeqCst) > arrived {
            // A database's replica refreshed by a reader that began after this one arrived:
            // it saw every commit made before then.
            return Ok(replica);
        }
        let number = begun.fetch_add(1, Ordering::SeqCst) + 1;
        let refreshed = self.store.refresh(&mut replica);
        if refreshed.is_ok() {
            done.store(number, Ordering::SeqCst);
        }
        self.notice(replica.take_warnings());
        refreshed?;
        *lock(&self.loaded) = true;
        self.notice_torn(replica.torn);
        Ok(replica)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&State, DateTime<Utc>) -> Result<T, EngineError>,
    ) -> Result<T, BackendError> {
        let replica = self.fresh()?;
        Ok(f(&replica.state, self.clock.now())?)
    }

    /// Judge a command under the store's exclusive lock and append its events. `command`
    /// builds the command from the up-to-date state (so id prefixes resolve against it);
    /// `view` then reads the answer from the state that includes the new events. With an
    /// idempotency key seen before (same user), nothing is written and `view` reads the answer
    /// from the events that first request wrote.
    fn execute<T: Send + 'static>(
        &self,
        actor: &Actor,
        idempotency: Option<&Idempotency>,
        command: impl Fn(&State) -> Result<Command, EngineError> + Send + 'static,
        view: impl FnOnce(&State, &[StoredEvent], DateTime<Utc>) -> Result<T, EngineError>
        + Send
        + 'static,
    ) -> Result<T, BackendError> {
        if self.store.file().is_none() {
            return self.execute_together(actor, idempotency, command, view);
        }
        let mut replica = lock(&self.replica);
        let mut ids = RandomIds;
        let mut now = self.clock.now();
        let mut replay: Option<Vec<u64>> = None;
        let appended = self
            .store
            .append_unsynced(&mut replica, |r| {
                if let Some(idem) = idempotency
                    && let Some((seqs, fingerprint)) = r.idempotent(&actor.name, &idem.key)
                {
                    if fingerprint != idem.fingerprint {
                        return Err(EngineError::Invalid(Invalid::new(
                            "Idempotency-Key",
                            "this Idempotency-Key was already used for a different request; use a new key for a new request",
                        )));
                    }
                    replay = Some(seqs.to_vec());
                    return Ok((Vec::new(), ()));
                }
                now = self.clock.now();
                let ctx = Ctx {
                    actor,
                    now,
                    policy: &self.policy,
                };
                let cmd = command(&r.state)?;
                let mut events =
                    rules::handle(&r.state, &cmd, &ctx, &mut ids as &mut dyn IdSource)?;
                for event in &mut events {
                    event.idempotency = idempotency.cloned();
                }
                Ok::<_, EngineError>((events, ()))
            })
            .map_err(|e| match e {
                AppendError::Store(e) => BackendError::Store(e),
                AppendError::Refused(e) => BackendError::Engine(e),
            });
        self.notice(replica.take_warnings());
        let (appended, commit) = appended?;
        *lock(&self.loaded) = true;
        self.notice(appended.notices);
        let (stored, commit) = match replay {
            Some(seqs) => {
                let last = seqs.iter().copied().max().unwrap_or(0);
                // A retry: nothing was appended now, but the first request's events may be
                // another thread's, still being synced.
                drop(commit);
                (
                    self.store.read_events(&replica, seqs)?,
                    self.store.commit_through(&replica, last)?,
                )
            }
            None => (appended.stored, commit),
        };
        let answer = view(&replica.state, &stored, now);
        // Let the next writer append while this one's lines reach the disk (group commit);
        // nothing is acknowledged before they have.
        drop(replica);
        self.store.sync(commit)?;
        Ok(answer?)
    }

    /// [`Self::execute`] on a database: the command joins the queue of writes, and whichever
    /// writer holds the replica next commits every queued one in one transaction (group
    /// commit: one lock, one round trip, one commit for all), each judged in turn against the
    /// state with the ones before it applied, so each is judged exactly as it would be alone.
    fn execute_together<T: Send + 'static>(
        &self,
        actor: &Actor,
        idempotency: Option<&Idempotency>,
        command: impl Fn(&State) -> Result<Command, EngineError> + Send + 'static,
        view: impl FnOnce(&State, &[StoredEvent], DateTime<Utc>) -> Result<T, EngineError>
        + Send
        + 'static,
    ) -> Result<T, BackendError> {
        let slot: Slot<T> = Arc::new(Mutex::new(None));
        lock(&self.queue).push(Box::new(Together {
            actor: actor.clone(),
            idempotency: idempotency.cloned(),
            command: Box::new(command),
            view: Some(Box::new(view)),
            policy: self.policy,
            clock: self.clock,
            now: self.clock.now(),
            done: None,
            slot: Arc::clone(&slot),
        }));
        let mut replica = lock(&self.replica);
        if lock(&slot).is_none() {
            // Not taken by a writer before this one: this one commits every queued write.
            let jobs = std::mem::take(&mut *lock(&self.queue));
            if let Some(left) = self.store.append_batch(&mut replica, jobs) {
                for job in left {
                    job.finish(Some(crate::store::StoreError::Db {
                        store: self.store.name(),
                        action: "write to",
                        detail: "this store does not commit writes together".into(),
                    }));
                }
            }
            self.notice(replica.take_warnings());
            *lock(&self.loaded) = true;
        }
        let done = lock(&slot).take();
        match done {
            Some(Done::Answer(answer)) => Ok(answer?),
            Some(Done::Failed(e)) => Err(e.into()),
            Some(Done::Replay { seqs, view, now }) => {
                // A retry: the events the first request wrote, read back, committed.
                let stored = self.store.read_events(&replica, seqs)?;
                Ok(view(&replica.state, &stored, now)?)
            }
            None => Err(BackendError::Unsupported(
                "the write was not committed by any writer, which is a bug in cab".into(),
            )),
        }
    }

    pub fn submit(
        &self,
        actor: &Actor,
        idempotency: Option<&Idempotency>,
        submission: Submission,
    ) -> Result<RequestView, BackendError> {
        self.execute(
            actor,
            idempotency,
            move |_| Ok(Command::Submit(submission.clone())),
            |state, stored, now| view_of(state, &subject(stored)?.0, now),
        )
    }

    pub fn decide(
        &self,
        actor: &Actor,
        idempotency: Option<&Idempotency>,
        request: &str,
        verdict: Verdict,
        rationale: &str,
    ) -> Result<RequestView, BackendError> {
        let (request, rationale) = (request.to_string(), rationale.to_string());
        self.execute(
            actor,
            idempotency,
            move |state| {
                Ok(Command::Decide {
                    request_id: state.resolve_request(&request)?,
                    verdict: verdict.clone(),
                    rationale: rationale.clone(),
                })
            },
            |state, stored, now| view_of(state, &subject(stored)?.0, now),
        )
    }

    pub fn record_outcome(
        &self,
        actor: &Actor,
        idempotency: Option<&Idempotency>,
        request: &str,
        result: OutcomeResult,
        incident: Option<&str>,
        note: Option<&str>,
    ) -> Result<Outcome, BackendError> {
        let request = request.to_string();
        let (incident, note) = (incident.map(str::to_string), note.map(str::to_string));
        self.execute(
            actor,
            idempotency,
            move |state| {
                Ok(Command::RecordOutcome {
                    request_id: state.resolve_request(&request)?,
                    result,
                    incident: incident.clone(),
                    note: note.clone(),
                })
            },
            |state, stored, _| {
                let request_id = subject(stored)?.0;
                state
                    .outcome(&request_id)
                    .cloned()
                    .ok_or_else(|| not_written("outcome"))
            },
        )
    }

    pub fn request_exception(
        &self,
        actor: &Actor,
        idempotency: Option<&Idempotency>,
        request: &str,
        justification: &str,
        compensating_controls: Vec<String>,
        expiry_days: Option<i64>,
    ) -> Result<ExceptionView, BackendError> {
        let (request, justification) = (request.to_string(), justification.to_string());
        self.execute(
            actor,
            idempotency,
            move |state| {
                Ok(Command::RequestException {
                    request_id: state.resolve_request(&request)?,
                    justification: justification.clone(),
                    compensating_controls: compensating_controls.clone(),
                    expiry_days,
                })
            },
            |state, stored, now| match subject(stored)?.1 {
                Some(id) => exception_view(state, &id, now),
                None => Err(not_written("exception")),
            },
        )
    }

    pub fn review_exception(
        &self,
        actor: &Actor,
        idempotency: Option<&Idempotency>,
        exception: &str,
        review: Review,
        rationale: &str,
    ) -> Result<ExceptionView, BackendError> {
        let (exception, rationale) = (exception.to_string(), rationale.to_string());
        self.execute(
            actor,
            idempotency,
            move |state| {
                Ok(Command::ReviewException {
                    exception_id: state.resolve_exception(&exception)?,
                    review,
                    rationale: rationale.clone(),
                })
            },
            |state, stored, now| match subject(stored)?.1 {
                Some(id) => exception_view(state, &id, now),
                None => Err(not_written("exception")),
            },
        )
    }

    pub fn cleanup(
        &self,
        actor: &Actor,
        idempotency: Option<&Idempotency>,
    ) -> Result<CleanupReport, BackendError> {
        self.execute(
            actor,
            idempotency,
            |_| Ok(Command::Cleanup),
            |state, stored, now| {
                let exceptions = stored
                    .iter()
                    .filter_map(|e| match &e.event.kind {
                        EventKind::ExceptionExpired(x) => state.exception(&x.exception_id),
                        _ => None,
                    })
                    .map(|x| ExceptionView::at(x, now))
                    .collect::<Vec<_>>();
                Ok(CleanupReport {
                    recorded: exceptions.len(),
                    exceptions,
                })
            },
        )
    }

    pub fn requests(
        &self,
        filter: RequestFilter,
        deployment: Option<&str>,
    ) -> Result<Vec<RequestView>, BackendError> {
        self.read(|state, now| Ok(query::requests(state, filter, deployment, now)))
    }

    pub fn request(&self, id: &str) -> Result<RequestDetail, BackendError> {
        let replica = self.fresh()?;
        let now = self.clock.now();
        let request_id = replica.state.resolve_request(id)?;
        let view = view_of(&replica.state, &request_id, now)?;
        let history = self
            .store
            .read_events(&replica, replica.state.history(&request_id).iter().copied())?;
        Ok(RequestDetail { view, history })
    }

    pub fn exceptions(&self, filter: ExceptionFilter) -> Result<Vec<ExceptionView>, BackendError> {
        self.read(|state, now| Ok(query::exceptions(state, filter, now)))
    }

    pub fn status(&self, deployment: &str, ring: Option<u32>) -> Result<StatusView, BackendError> {
        self.status_as_of(deployment, ring, None)
    }

    /// [`Self::status`], or with `at` as of that moment (`--at`).
    pub(super) fn status_as_of(
        &self,
        deployment: &str,
        ring: Option<u32>,
        at: Option<DateTime<Utc>>,
    ) -> Result<StatusView, BackendError> {
        if deployment.trim().is_empty() {
            return Err(EngineError::Invalid(Invalid::new(
                "deployment_intent_id",
                "the deployment id must not be empty",
            ))
            .into());
        }
        let ask =
            |state: &State, now| Ok(query::status(state, deployment, ring, &self.policy, now));
        if *lock(&self.loaded) {
            return match at {
                None => self.read(ask),
                Some(at) => self.read_at(at, ask),
            };
        }
        // A one-shot question: read only this deployment's events, check the whole chain
        // (a file can be read that way; a database is read whole).
        let Some(scan) = self.store.scan_deployment_at(deployment, at) else {
            return match at {
                None => self.read(ask),
                Some(at) => self.read_at(at, ask),
            };
        };
        let now = self.clock.now();
        let scan = scan?;
        self.notice_torn(scan.torn);
        Ok(match (at, &scan.as_of) {
            (Some(at), Some(past)) => ask(past, at),
            _ => ask(&scan.state, now),
        }?)
    }

    pub fn counts(&self) -> Result<Counts, BackendError> {
        self.read(|state, now| Ok(query::counts(state, now)))
    }

    /// The report of a period, from the state as of its end.
    pub fn report(&self, query: ReportQuery) -> Result<Report, BackendError> {
        let params = query
            .resolve(self.clock.now(), self.policy.thresholds)
            .map_err(EngineError::Invalid)?;
        self.read_at(params.until, |state, _| Ok(report::compute(state, &params)))
    }

    /// Approved exceptions that expire within 72 hours (their expiry notices are due), and the
    /// clock's now they were judged at.
    pub fn expiring_soon(&self) -> Result<(Vec<ExceptionView>, DateTime<Utc>), BackendError> {
        self.read(|state, now| Ok((query::expiring_soon(state, now), now)))
    }

    /// The newest sequence number, after catching up.
    pub fn head(&self) -> Result<u64, BackendError> {
        Ok(self.fresh()?.head_seq())
    }

    /// Up to `limit` events after `after`; when there are none yet, wait up to `wait`.
    pub fn events(
        &self,
        after: u64,
        wait: Duration,
        limit: usize,
    ) -> Result<EventPage, BackendError> {
        let deadline = Instant::now() + wait;
        loop {
            let replica = self.fresh()?;
            let head = replica.head_seq();
            if head > after || Instant::now() >= deadline {
                let last = head.min(after.saturating_add(limit as u64));
                let events = self.store.read_events(&replica, after + 1..=last)?;
                return Ok(EventPage { events, head });
            }
            drop(replica);
            std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
        }
    }

    /// The open requests' state read ahead of the whole one (`store::preview`): only before
    /// the replica is first read, and only from a file.
    pub fn preview(&self) -> Option<State> {
        if *lock(&self.loaded) {
            return None;
        }
        self.store.file()?.preview()
    }

    pub fn snapshot(&self) -> Result<super::Snapshot, BackendError> {
        let replica = self.fresh()?;
        Ok(super::Snapshot {
            state: replica.state.clone(),
            head: replica.head_seq(),
            head_hash: (replica.head_seq() > 0).then(|| replica.head_hash().to_string()),
        })
    }

    /// The latest snapshot in the wire form of `backend::snapshot`, and whether events came
    /// after it. A snapshot of this store's history may be behind its head: a console starts
    /// from it and reads the events after it, so the answer stays exact while a busy server
    /// encodes (about 0.2 s per 100,000 requests) at most once per [`Self::refresh_snapshot`]
    /// and never while a console waits. One of another history (the store replaced) is never
    /// served.
    pub fn encoded_snapshot(&self) -> Result<(Arc<Vec<u8>>, bool), BackendError> {
        {
            let replica = self.fresh()?;
            if let Some(e) = &*lock(&self.encoded)
                && (e.head == 0 || replica.has_hash_at(e.head, &e.head_hash))
                && e.head <= replica.head_seq()
            {
                return Ok((Arc::clone(&e.bytes), e.head < replica.head_seq()));
            }
        }
        Ok((self.refresh_snapshot()?, false))
    }

    /// Encode the current state as the snapshot consoles start from; one encoding at a time,
    /// the others waiting for it and taking it.
    pub fn refresh_snapshot(&self) -> Result<Arc<Vec<u8>>, BackendError> {
        let _one = lock(&self.encoding);
        let snapshot = self.snapshot()?;
        let hash = snapshot.head_hash.clone().unwrap_or_else(|| "0".repeat(64));
        if let Some(e) = &*lock(&self.encoded)
            && (e.head, e.head_hash.as_str()) == (snapshot.head, hash.as_str())
        {
            return Ok(Arc::clone(&e.bytes));
        }
        // Encoded from a copy, outside the replica's lock: writers go on meanwhile.
        let bytes = super::snapshot::encode(&snapshot.state, snapshot.head, &hash)
            .map_err(|e| BackendError::Inconsistent(format!("cannot encode the snapshot: {e}")))?;
        let bytes = Arc::new(bytes);
        *lock(&self.encoded) = Some(Encoded {
            head: snapshot.head,
            head_hash: hash,
            bytes: Arc::clone(&bytes),
        });
        Ok(bytes)
    }

    pub fn take_notices(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.notices))
    }

    // ----- as of a moment (`--at`; the read-only backend over it is in `as_of.rs`) -----

    /// The state as of `at` (SPEC section 3, `--at`): the events whose time is at or before
    /// it, replayed in store order, after the store has been read and verified as usual. When
    /// no event is later than `at`, that is the current state, and nothing is read again.
    /// Queries on it take `at` as their clock.
    pub fn state_at(&self, at: DateTime<Utc>) -> Result<Arc<State>, BackendError> {
        Ok(self.snapshot_at(at)?.0)
    }

    /// [`Self::state_at`], with the sequence number of the store's head it was taken from.
    pub fn snapshot_at(&self, at: DateTime<Utc>) -> Result<(Arc<State>, u64), BackendError> {
        let replica = self.fresh()?;
        let head = replica.head_seq();
        if is_then(&replica.state, at) {
            return Ok((Arc::new(replica.state.clone()), head));
        }
        Ok((self.past(replica, at)?, head))
    }

    /// Answer from the state as of `at`, with the clock at `at`.
    pub fn read_at<T>(
        &self,
        at: DateTime<Utc>,
        f: impl FnOnce(&State, DateTime<Utc>) -> Result<T, EngineError>,
    ) -> Result<T, BackendError> {
        let replica = self.fresh()?;
        if is_then(&replica.state, at) {
            return Ok(f(&replica.state, at)?);
        }
        let state = self.past(replica, at)?;
        Ok(f(&state, at)?)
    }

    /// The state as of a moment before the newest event: the one kept, if it was replayed
    /// from this same head, or a replay of the verified lines (without holding the replica,
    /// so writers go on meanwhile).
    fn past(
        &self,
        replica: MutexGuard<'_, Replica>,
        at: DateTime<Utc>,
    ) -> Result<Arc<State>, BackendError> {
        let (head, head_hash) = (replica.head_seq(), replica.head_hash().to_string());
        if let Some(p) = &*lock(&self.past)
            && (p.at, p.head, p.head_hash.as_str()) == (at, head, head_hash.as_str())
        {
            return Ok(Arc::clone(&p.state));
        }
        let verified = replica.verified();
        drop(replica);
        let state = Arc::new(self.store.state_as_of(&verified, at)?);
        *lock(&self.past) = Some(Past {
            at,
            head,
            head_hash,
            state: Arc::clone(&state),
        });
        Ok(state)
    }

    /// Stored events by sequence number, among those already read (a request's history).
    pub(super) fn stored_events(&self, seqs: &[u64]) -> Result<Vec<StoredEvent>, BackendError> {
        let replica = lock(&self.replica);
        Ok(self.store.read_events(&replica, seqs.iter().copied())?)
    }
}

/// What a write committed with others learns: its answer, a retry to answer from the events
/// its key first wrote, or the batch's failure.
enum Done<T> {
    Answer(Result<T, EngineError>),
    Replay {
        seqs: Vec<u64>,
        view: View<T>,
        now: DateTime<Utc>,
    },
    Failed(StoreError),
}

type View<T> =
    Box<dyn FnOnce(&State, &[StoredEvent], DateTime<Utc>) -> Result<T, EngineError> + Send>;
type Slot<T> = Arc<Mutex<Option<Done<T>>>>;
/// The command a write asks for, built from the up-to-date state (ids resolved against it).
type CommandFor = Box<dyn Fn(&State) -> Result<Command, EngineError> + Send>;

/// One write waiting in a database store's queue: the command as `execute` judges it.
struct Together<T> {
    actor: Actor,
    idempotency: Option<Idempotency>,
    command: CommandFor,
    view: Option<View<T>>,
    policy: Policy,
    clock: Clock,
    now: DateTime<Utc>,
    /// What it will say once the batch is committed.
    done: Option<Done<T>>,
    slot: Slot<T>,
}

impl<T: Send + 'static> Job for Together<T> {
    fn judge(&mut self, replica: &Replica) -> Vec<crate::engine::Event> {
        if let Some(idem) = &self.idempotency
            && let Some((seqs, fingerprint)) = replica.idempotent(&self.actor.name, &idem.key)
        {
            self.done = Some(if fingerprint != idem.fingerprint {
                Done::Answer(Err(EngineError::Invalid(Invalid::new(
                    "Idempotency-Key",
                    "this Idempotency-Key was already used for a different request; use a new key for a new request",
                ))))
            } else {
                match self.view.take() {
                    Some(view) => Done::Replay {
                        seqs: seqs.to_vec(),
                        view,
                        now: self.now,
                    },
                    None => Done::Answer(Err(not_written("event"))),
                }
            });
            return Vec::new();
        }
        self.now = self.clock.now();
        let ctx = Ctx {
            actor: &self.actor,
            now: self.now,
            policy: &self.policy,
        };
        let judged = (self.command)(&replica.state)
            .and_then(|cmd| rules::handle(&replica.state, &cmd, &ctx, &mut RandomIds));
        match judged {
            Ok(mut events) => {
                for event in &mut events {
                    event.idempotency = self.idempotency.clone();
                }
                events
            }
            Err(refused) => {
                self.done = Some(Done::Answer(Err(refused)));
                Vec::new()
            }
        }
    }

    fn written(&mut self, replica: &Replica, stored: &[StoredEvent]) {
        let answer = match self.view.take() {
            Some(view) => view(&replica.state, stored, self.now),
            None => Err(not_written("event")),
        };
        self.done = Some(Done::Answer(answer));
    }

    fn finish(self: Box<Self>, failed: Option<StoreError>) {
        let this = *self;
        let done = match failed {
            Some(e) => Done::Failed(e),
            None => this
                .done
                .unwrap_or_else(|| Done::Answer(Err(not_written("event")))),
        };
        *lock(&this.slot) = Some(done);
    }
}

/// Is the state as of `at` this state: is no event in it later than `at`?
fn is_then(state: &State, at: DateTime<Utc>) -> bool {
    state.last_at().is_none_or(|last| last <= at)
}

/// One user's view of a local store: what the command line and the console use.
pub struct LocalBackend {
    store: Arc<LocalStore>,
    actor: Actor,
}

impl LocalBackend {
    pub fn new(store: impl Into<Store>, actor: Actor, policy: Policy, clock: Clock) -> Self {
        LocalBackend {
            store: Arc::new(LocalStore::new(store, policy, clock)),
            actor,
        }
    }

    pub fn store(&self) -> &Store {
        self.store.store()
    }

    pub fn policy(&self) -> &Policy {
        self.store.policy()
    }

    /// This backend as of a moment (`--at`): read-only, every answer the state then.
    pub fn as_of(self, at: DateTime<Utc>) -> super::AsOfBackend {
        super::AsOfBackend::new(self.store, self.actor, at)
    }
}

/// The request (and exception, if any) that the one event a command wrote is about.
fn subject(stored: &[StoredEvent]) -> Result<(Uuid, Option<Uuid>), EngineError> {
    let kind = &stored
        .first()
        .ok_or_else(|| not_written("event"))?
        .event
        .kind;
    let exception = match kind {
        EventKind::ExceptionRequested(e) => Some(e.exception.id),
        EventKind::ExceptionReviewed(e) => Some(e.exception_id),
        EventKind::ExceptionExpired(e) => Some(e.exception_id),
        EventKind::RequestSubmitted(_)
        | EventKind::RequestDecided(_)
        | EventKind::OutcomeRecorded(_) => None,
    };
    Ok((kind.request_id(), exception))
}

/// A command that succeeded always writes its event; this names the impossible otherwise.
fn not_written(what: &'static str) -> EngineError {
    EngineError::NotFound {
        what,
        id: "(the one just written)".into(),
    }
}

fn view_of(state: &State, id: &Uuid, now: DateTime<Utc>) -> Result<RequestView, EngineError> {
    let request = state.request(id).ok_or_else(|| EngineError::NotFound {
        what: "request",
        id: id.to_string(),
    })?;
    Ok(query::request_view(state, request, now))
}

fn exception_view(
    state: &State,
    id: &Uuid,
    now: DateTime<Utc>,
) -> Result<ExceptionView, EngineError> {
    state
        .exception(id)
        .map(|e| ExceptionView::at(e, now))
        .ok_or_else(|| EngineError::NotFound {
            what: "exception",
            id: id.to_string(),
        })
}

impl Backend for LocalBackend {
    fn location(&self) -> String {
        self.store.store().describe()
    }

    fn whoami(&self) -> Result<Actor, BackendError> {
        Ok(self.actor.clone())
    }

    fn submit(&self, submission: Submission) -> Result<RequestView, BackendError> {
        self.store.submit(&self.actor, None, submission)
    }

    fn decide(
        &self,
        request: &str,
        verdict: Verdict,
        rationale: &str,
    ) -> Result<RequestView, BackendError> {
        self.store
            .decide(&self.actor, None, request, verdict, rationale)
    }

    fn record_outcome(
        &self,
        request: &str,
        result: OutcomeResult,
        incident: Option<&str>,
        note: Option<&str>,
    ) -> Result<Outcome, BackendError> {
        self.store
            .record_outcome(&self.actor, None, request, result, incident, note)
    }

    fn request_exception(
        &self,
        request: &str,
        justification: &str,
        compensating_controls: Vec<String>,
        expiry_days: Option<i64>,
    ) -> Result<ExceptionView, BackendError> {
        self.store.request_exception(
            &self.actor,
            None,
            request,
            justification,
            compensating_controls,
            expiry_days,
        )
    }

    fn review_exception(
        &self,
        exception: &str,
        review: Review,
        rationale: &str,
    ) -> Result<ExceptionView, BackendError> {
        self.store
            .review_exception(&self.actor, None, exception, review, rationale)
    }

    fn cleanup(&self) -> Result<CleanupReport, BackendError> {
        self.store.cleanup(&self.actor, None)
    }

    fn requests(
        &self,
        filter: RequestFilter,
        deployment: Option<&str>,
    ) -> Result<Vec<RequestView>, BackendError> {
        self.store.requests(filter, deployment)
    }

    fn request(&self, id: &str) -> Result<RequestDetail, BackendError> {
        self.store.request(id)
    }

    fn exceptions(&self, filter: ExceptionFilter) -> Result<Vec<ExceptionView>, BackendError> {
        self.store.exceptions(filter)
    }

    fn status(&self, deployment: &str, ring: Option<u32>) -> Result<StatusView, BackendError> {
        self.store.status(deployment, ring)
    }

    fn report(&self, query: ReportQuery) -> Result<Report, BackendError> {
        self.store.report(query)
    }

    fn counts(&self) -> Result<Counts, BackendError> {
        self.store.counts()
    }

    fn events(&self, after: u64, wait: Duration) -> Result<EventPage, BackendError> {
        self.store.events(after, wait, usize::MAX)
    }

    fn snapshot(&self) -> Result<super::Snapshot, BackendError> {
        self.store.snapshot()
    }

    fn preview(&self) -> Option<State> {
        self.store.preview()
    }

    fn take_notices(&self) -> Vec<String> {
        self.store.take_notices()
    }
}
