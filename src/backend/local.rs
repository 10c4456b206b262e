//! The backend over a store file on this machine: the engine's rules applied under the store's
//! lock, against state replayed from the file. Identity comes from the environment or config.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Backend, BackendError, CleanupReport, EventPage};
use crate::clock::Clock;
use crate::engine::query::{self, Counts};
use crate::engine::rules::{self, Command, Ctx, IdSource, RandomIds};
use crate::engine::{
    Actor, EngineError, EventKind, ExceptionFilter, ExceptionView, Policy, RequestDetail,
    RequestFilter, RequestView, Review, State, StatusView, StoredEvent, Submission, Verdict,
};
use crate::store::{AppendError, FileStore, Replica, TornTail};

pub struct LocalBackend {
    store: FileStore,
    replica: Mutex<Replica>,
    /// Whether the replica has been read at least once (a one-shot status can skip it).
    loaded: Mutex<bool>,
    actor: Actor,
    policy: Policy,
    clock: Clock,
    notices: Mutex<Vec<String>>,
}

/// How often a waiting `events` call looks at the file again.
const POLL: Duration = Duration::from_millis(100);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves a replica that is at worst behind; catching up
    // again from its offset is always safe.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LocalBackend {
    pub fn new(store: FileStore, actor: Actor, policy: Policy, clock: Clock) -> Self {
        LocalBackend {
            store,
            replica: Mutex::new(Replica::new()),
            loaded: Mutex::new(false),
            actor,
            policy,
            clock,
            notices: Mutex::new(Vec::new()),
        }
    }

    pub fn store(&self) -> &FileStore {
        &self.store
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn notice_torn(&self, torn: Option<TornTail>) {
        if let Some(t) = torn {
            lock(&self.notices).push(format!(
                "the store's last line (line {}, {} bytes) is incomplete, probably cut off by a crash; it is not read as data, and the next write will move it to a quarantine file",
                t.line, t.len
            ));
        }
    }

    /// The up-to-date replica, read under the store's shared lock.
    fn fresh(&self) -> Result<MutexGuard<'_, Replica>, BackendError> {
        let mut replica = lock(&self.replica);
        self.store.refresh(&mut replica)?;
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

    /// Judge a command under the store's exclusive lock and append its events. `command` builds
    /// the command from the up-to-date state (so id prefixes resolve against it); `view` then
    /// reads the answer from the state that includes the new events.
    fn execute<T>(
        &self,
        command: impl Fn(&State) -> Result<Command, EngineError>,
        view: impl FnOnce(&State, &[StoredEvent], DateTime<Utc>) -> Result<T, EngineError>,
    ) -> Result<T, BackendError> {
        let mut replica = lock(&self.replica);
        let mut ids = RandomIds;
        let mut now = self.clock.now();
        let appended = self
            .store
            .append(&mut replica, |state| {
                now = self.clock.now();
                let ctx = Ctx {
                    actor: &self.actor,
                    now,
                    policy: &self.policy,
                };
                let cmd = command(state)?;
                let events = rules::handle(state, &cmd, &ctx, &mut ids as &mut dyn IdSource)?;
                Ok::<_, EngineError>((events, ()))
            })
            .map_err(|e| match e {
                AppendError::Store(e) => BackendError::Store(e),
                AppendError::Refused(e) => BackendError::Engine(e),
            })?;
        *lock(&self.loaded) = true;
        lock(&self.notices).extend(appended.notices);
        Ok(view(&replica.state, &appended.stored, now)?)
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
        EventKind::RequestSubmitted(_) | EventKind::RequestDecided(_) => None,
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
        format!("store {}", self.store.path().display())
    }

    fn whoami(&self) -> Result<Actor, BackendError> {
        Ok(self.actor.clone())
    }

    fn submit(&self, submission: Submission) -> Result<RequestView, BackendError> {
        self.execute(
            |_| Ok(Command::Submit(submission.clone())),
            |state, stored, now| view_of(state, &subject(stored)?.0, now),
        )
    }

    fn decide(
        &self,
        request: &str,
        verdict: Verdict,
        rationale: &str,
    ) -> Result<RequestView, BackendError> {
        self.execute(
            |state| {
                Ok(Command::Decide {
                    request_id: state.resolve_request(request)?,
                    verdict: verdict.clone(),
                    rationale: rationale.to_string(),
                })
            },
            |state, stored, now| view_of(state, &subject(stored)?.0, now),
        )
    }

    fn request_exception(
        &self,
        request: &str,
        justification: &str,
        compensating_controls: Vec<String>,
        expiry_days: Option<i64>,
    ) -> Result<ExceptionView, BackendError> {
        self.execute(
            |state| {
                Ok(Command::RequestException {
                    request_id: state.resolve_request(request)?,
                    justification: justification.to_string(),
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

    fn review_exception(
        &self,
        exception: &str,
        review: Review,
        rationale: &str,
    ) -> Result<ExceptionView, BackendError> {
        self.execute(
            |state| {
                Ok(Command::ReviewException {
                    exception_id: state.resolve_exception(exception)?,
                    review,
                    rationale: rationale.to_string(),
                })
            },
            |state, stored, now| match subject(stored)?.1 {
                Some(id) => exception_view(state, &id, now),
                None => Err(not_written("exception")),
            },
        )
    }

    fn cleanup(&self) -> Result<CleanupReport, BackendError> {
        self.execute(
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

    fn requests(
        &self,
        filter: RequestFilter,
        deployment: Option<&str>,
    ) -> Result<Vec<RequestView>, BackendError> {
        self.read(|state, now| Ok(query::requests(state, filter, deployment, now)))
    }

    fn request(&self, id: &str) -> Result<RequestDetail, BackendError> {
        let replica = self.fresh()?;
        let now = self.clock.now();
        let request_id = replica.state.resolve_request(id)?;
        let view = view_of(&replica.state, &request_id, now)?;
        let history = self
            .store
            .read_events(&replica, replica.state.history(&request_id).iter().copied())?;
        Ok(RequestDetail { view, history })
    }

    fn exceptions(&self, filter: ExceptionFilter) -> Result<Vec<ExceptionView>, BackendError> {
        self.read(|state, now| Ok(query::exceptions(state, filter, now)))
    }

    fn status(&self, deployment: &str, ring: Option<u32>) -> Result<StatusView, BackendError> {
        if deployment.trim().is_empty() {
            return Err(EngineError::Invalid(crate::engine::Invalid::new(
                "deployment_intent_id",
                "the deployment id must not be empty",
            ))
            .into());
        }
        let now = self.clock.now();
        if *lock(&self.loaded) {
            return self
                .read(|state, now| Ok(query::status(state, deployment, ring, &self.policy, now)));
        }
        // A one-shot question: read only this deployment's events, check the whole chain.
        let scan = self.store.scan_deployment(deployment)?;
        self.notice_torn(scan.torn);
        Ok(query::status(
            &scan.state,
            deployment,
            ring,
            &self.policy,
            now,
        ))
    }

    fn counts(&self) -> Result<Counts, BackendError> {
        self.read(|state, now| Ok(query::counts(state, now)))
    }

    fn events(&self, after: u64, wait: Duration) -> Result<EventPage, BackendError> {
        let deadline = Instant::now() + wait;
        loop {
            let replica = self.fresh()?;
            let head = replica.head_seq();
            if head > after || Instant::now() >= deadline {
                let events = self.store.events_after(&replica, after)?;
                return Ok(EventPage { events, head });
            }
            drop(replica);
            std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
        }
    }

    fn snapshot(&self) -> Result<(State, u64), BackendError> {
        let replica = self.fresh()?;
        Ok((replica.state.clone(), replica.head_seq()))
    }

    fn take_notices(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.notices))
    }
}
