//! A local store as of a moment (`--at`, SPEC section 3): every read answers from the state
//! after the events dated at or before that moment, with the clock set to it, so exceptions
//! are active or expired as they were then; every write is refused. The remote client does the
//! same over the server's `at` parameter (`remote/mod.rs`); both share [`Follow`] and
//! [`read_only`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Backend, BackendError, CleanupReport, EventPage, LocalStore};
use crate::engine::query::{self, Counts};
use crate::engine::report::{Report, ReportQuery};
use crate::engine::{
    Actor, EngineError, ExceptionFilter, ExceptionView, Invalid, Outcome, OutcomeResult,
    RequestDetail, RequestFilter, RequestView, Review, StatusView, StoredEvent, Submission,
    Verdict, time,
};

/// The refusal of every write as of a moment: the past cannot be changed.
pub fn read_only(at: DateTime<Utc>) -> BackendError {
    EngineError::Invalid(Invalid::new(
        "--at",
        format!(
            "--at shows the store as it was at {} and is read-only; leave --at out to record anything",
            time::format(at)
        ),
    ))
    .into()
}

/// A report asked for as of a moment: its period ends at that moment unless `--until` says
/// earlier; a period ending later would need events the moment has not seen.
pub fn report_query(at: DateTime<Utc>, query: ReportQuery) -> Result<ReportQuery, BackendError> {
    let until = query.until.unwrap_or(at);
    if until > at {
        return Err(EngineError::Invalid(Invalid::new(
            "until",
            format!(
                "--until {} is after --at {}: a report as of a moment cannot look past it",
                time::format(until),
                time::format(at)
            ),
        ))
        .into());
    }
    Ok(ReportQuery {
        until: Some(until),
        ..query
    })
}

/// Following a backend's events as of a moment: only those dated at or before it are passed
/// on, and the ones left out are not asked for again, so a follower with nothing new waits
/// for the backend's next event instead of asking again at once.
#[derive(Debug)]
pub struct Follow {
    at: DateTime<Utc>,
    /// The newest sequence number looked at so far.
    scanned: AtomicU64,
}

impl Follow {
    pub fn new(at: DateTime<Utc>) -> Self {
        Follow {
            at,
            scanned: AtomicU64::new(0),
        }
    }

    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// Events after `after` dated at or before the moment; `fetch(after, wait)` asks the
    /// backend for a page of all of them.
    pub fn page(
        &self,
        after: u64,
        wait: Duration,
        fetch: impl FnOnce(u64, Duration) -> Result<EventPage, BackendError>,
    ) -> Result<EventPage, BackendError> {
        let from = after.max(self.scanned.load(Ordering::Relaxed));
        let page = fetch(from, wait)?;
        if let Some(last) = page.events.last() {
            self.scanned.fetch_max(last.seq, Ordering::Relaxed);
        }
        Ok(EventPage {
            events: self.then(page.events),
            head: page.head,
        })
    }

    /// Only the events dated at or before the moment, in store order.
    pub fn then(&self, events: Vec<StoredEvent>) -> Vec<StoredEvent> {
        let mut events = events;
        events.retain(|e| e.event.at <= self.at);
        events
    }
}

/// A local store's reads as of a moment: what `cab --at` and the server's `at` parameter
/// answer.
#[derive(Clone, Copy)]
pub struct AsOf<'a> {
    store: &'a LocalStore,
    at: DateTime<Utc>,
}

impl<'a> AsOf<'a> {
    pub fn new(store: &'a LocalStore, at: DateTime<Utc>) -> Self {
        AsOf { store, at }
    }

    pub fn requests(
        self,
        filter: RequestFilter,
        deployment: Option<&str>,
    ) -> Result<Vec<RequestView>, BackendError> {
        self.store.read_at(self.at, |state, now| {
            Ok(query::requests(state, filter, deployment, now))
        })
    }

    /// One request with its decision, exceptions and the events of its history, as of then.
    pub fn request(self, id: &str) -> Result<RequestDetail, BackendError> {
        let (view, seqs) = self.store.read_at(self.at, |state, now| {
            let id = state.resolve_request(id)?;
            let request = state.request(&id).ok_or_else(|| EngineError::NotFound {
                what: "request",
                id: id.to_string(),
            })?;
            Ok((
                query::request_view(state, request, now),
                state.history(&id).to_vec(),
            ))
        })?;
        let history = self.store.stored_events(&seqs)?;
        Ok(RequestDetail { view, history })
    }

    pub fn exceptions(self, filter: ExceptionFilter) -> Result<Vec<ExceptionView>, BackendError> {
        self.store.read_at(self.at, |state, now| {
            Ok(query::exceptions(state, filter, now))
        })
    }

    pub fn status(self, deployment: &str, ring: Option<u32>) -> Result<StatusView, BackendError> {
        self.store.status_as_of(deployment, ring, Some(self.at))
    }

    pub fn counts(self) -> Result<Counts, BackendError> {
        self.store
            .read_at(self.at, |state, now| Ok(query::counts(state, now)))
    }
}

/// One user's view of a local store as of a moment: what `cab --at TIME` uses.
pub struct AsOfBackend {
    store: Arc<LocalStore>,
    actor: Actor,
    follow: Follow,
}

impl AsOfBackend {
    pub fn new(store: Arc<LocalStore>, actor: Actor, at: DateTime<Utc>) -> Self {
        AsOfBackend {
            store,
            actor,
            follow: Follow::new(at),
        }
    }

    pub fn at(&self) -> DateTime<Utc> {
        self.follow.at()
    }

    fn view(&self) -> AsOf<'_> {
        AsOf::new(&self.store, self.at())
    }
}

impl Backend for AsOfBackend {
    fn location(&self) -> String {
        // The console shows the moment on its own, where it cannot be cut off.
        self.store.store().describe()
    }

    fn whoami(&self) -> Result<Actor, BackendError> {
        Ok(self.actor.clone())
    }

    fn submit(&self, _: Submission) -> Result<RequestView, BackendError> {
        Err(read_only(self.at()))
    }

    fn decide(&self, _: &str, _: Verdict, _: &str) -> Result<RequestView, BackendError> {
        Err(read_only(self.at()))
    }

    fn request_exception(
        &self,
        _: &str,
        _: &str,
        _: Vec<String>,
        _: Option<i64>,
    ) -> Result<ExceptionView, BackendError> {
        Err(read_only(self.at()))
    }

    fn review_exception(&self, _: &str, _: Review, _: &str) -> Result<ExceptionView, BackendError> {
        Err(read_only(self.at()))
    }

    fn cleanup(&self) -> Result<CleanupReport, BackendError> {
        Err(read_only(self.at()))
    }

    fn record_outcome(
        &self,
        _: &str,
        _: OutcomeResult,
        _: Option<&str>,
        _: Option<&str>,
    ) -> Result<Outcome, BackendError> {
        Err(read_only(self.at()))
    }

    fn report(&self, query: ReportQuery) -> Result<Report, BackendError> {
        self.store.report(report_query(self.at(), query)?)
    }

    fn requests(
        &self,
        filter: RequestFilter,
        deployment: Option<&str>,
    ) -> Result<Vec<RequestView>, BackendError> {
        self.view().requests(filter, deployment)
    }

    fn request(&self, id: &str) -> Result<RequestDetail, BackendError> {
        self.view().request(id)
    }

    fn exceptions(&self, filter: ExceptionFilter) -> Result<Vec<ExceptionView>, BackendError> {
        self.view().exceptions(filter)
    }

    fn status(&self, deployment: &str, ring: Option<u32>) -> Result<StatusView, BackendError> {
        self.view().status(deployment, ring)
    }

    fn counts(&self) -> Result<Counts, BackendError> {
        self.view().counts()
    }

    fn events(&self, after: u64, wait: Duration) -> Result<EventPage, BackendError> {
        self.follow.page(after, wait, |after, wait| {
            self.store.events(after, wait, usize::MAX)
        })
    }

    fn snapshot(&self) -> Result<super::Snapshot, BackendError> {
        let (state, head) = self.store.snapshot_at(self.at())?;
        // As of a moment the events followed are those dated by then, not a chain.
        Ok(super::Snapshot {
            state: Arc::unwrap_or_clone(state),
            head,
            head_hash: None,
        })
    }

    fn all_events(&self) -> Result<Vec<StoredEvent>, BackendError> {
        let page = self.store.events(0, Duration::ZERO, usize::MAX)?;
        Ok(self.follow.then(page.events))
    }

    fn take_notices(&self) -> Vec<String> {
        self.store.take_notices()
    }
}

#[cfg(test)]
mod tests {
    //! The local store as of a moment: the state kept for one moment is used again only while
    //! the store has not changed, and following events as of a moment passes on only those
    //! dated by then, without asking twice for those it left out.

    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::clock::Clock;
    use crate::engine::{Policy, Role};
    use crate::store::FileStore;

    fn at(text: &str) -> DateTime<Utc> {
        time::parse(text).unwrap()
    }

    /// The store as a process with its clock at `now` sees it.
    fn store_at(path: &std::path::Path, now: &str) -> LocalStore {
        LocalStore::new(
            FileStore::new(path).with_checkpoints(None),
            Policy::default(),
            Clock::Fixed(at(now)),
        )
    }

    fn submit(store: &LocalStore, deployment: &str) -> RequestView {
        let alice = Actor::new("alice", [Role::Requester]).unwrap();
        store
            .submit(
                &alice,
                None,
                Submission {
                    deployment_intent_id: deployment.into(),
                    evidence_package_id: "EP".into(),
                    title: None,
                    risk_score: 60.0,
                    risk_factors: Default::default(),
                    correlation_id: None,
                },
            )
            .unwrap()
    }

    #[test]
    fn a_moment_asked_about_again_is_answered_from_the_state_kept_until_the_store_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.jsonl");
        submit(&store_at(&path, "2026-11-01T09:00:00Z"), "web");
        submit(&store_at(&path, "2026-11-03T09:00:00Z"), "api");
        let reader = store_at(&path, "2026-11-28T09:00:00Z");
        let moment = at("2026-11-02T00:00:00Z");
        let first = reader.state_at(moment).unwrap();
        let again = reader.state_at(moment).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "replayed twice");
        assert_eq!(first.request_count(), 1);
        // Another process records an event dated before the moment: it is in the next answer.
        submit(&store_at(&path, "2026-11-01T12:00:00Z"), "db");
        let after = reader.state_at(moment).unwrap();
        assert_eq!(after.request_count(), 2);
        assert!(after.latest_for_deployment("db").is_some());
        // A moment after every event is the current state.
        let now = reader.state_at(at("2026-12-01T00:00:00Z")).unwrap();
        assert_eq!(now.request_count(), 3);
    }

    fn page(seqs: &[(u64, &str)], head: u64) -> EventPage {
        EventPage {
            events: seqs
                .iter()
                .map(|&(seq, time)| StoredEvent {
                    seq,
                    prev: String::new(),
                    hash: String::new(),
                    event: crate::engine::Event {
                        at: at(time),
                        actor: "a".into(),
                        correlation_id: "c".into(),
                        idempotency: None,
                        kind: crate::engine::EventKind::ExceptionExpired(
                            crate::engine::event::ExceptionExpired {
                                exception_id: uuid::Uuid::nil(),
                                request_id: uuid::Uuid::nil(),
                                deployment_intent_id: "d".into(),
                                expires_at: at(time),
                            },
                        ),
                    },
                })
                .collect(),
            head,
        }
    }

    #[test]
    fn following_as_of_a_moment_passes_on_events_dated_by_then_and_never_asks_twice() {
        let follow = Follow::new(at("2026-11-02T00:00:00Z"));
        let mut asked = Vec::new();
        let got = follow
            .page(0, Duration::ZERO, |after, _| {
                asked.push(after);
                Ok(page(
                    &[
                        (1, "2026-11-01T00:00:00Z"),
                        (2, "2026-11-03T00:00:00Z"),
                        (3, "2026-11-02T00:00:00Z"),
                    ],
                    3,
                ))
            })
            .unwrap();
        let seqs: Vec<u64> = got.events.iter().map(|e| e.seq).collect();
        assert_eq!((seqs, got.head), (vec![1, 3], 3));
        // The follower asks again after the last event it was given (3): nothing is missed.
        // Had it been given only 1, it would ask after 1, and 2 and 3 are not asked for again.
        let follow = Follow::new(at("2026-11-01T12:00:00Z"));
        let first = follow
            .page(0, Duration::ZERO, |_, _| {
                Ok(page(
                    &[(1, "2026-11-01T00:00:00Z"), (2, "2026-11-03T00:00:00Z")],
                    2,
                ))
            })
            .unwrap();
        assert_eq!(first.events.len(), 1);
        follow
            .page(1, Duration::from_secs(10), |after, wait| {
                asked.push(after);
                assert_eq!(wait, Duration::from_secs(10), "the follower waits");
                Ok(page(&[], 2))
            })
            .unwrap();
        assert_eq!(asked, vec![0, 2]);
    }
}
