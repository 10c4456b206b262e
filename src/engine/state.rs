//! The state every query reads: what replaying the events in order gives.
//! `apply` is the only way in; it refuses an event that contradicts what came before, which is
//! how a replay notices a store whose events could not have been written by the rules.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use super::error::EngineError;
use super::event::{
    EventKind, ExceptionExpired, ExceptionRequested, ExceptionReviewed, OutcomeRecorded,
    RequestDecided, RequestSubmitted, StoredEvent,
};
use super::model::{
    ApprovalRequest, Decision, DecisionKind, ExceptionStatus, Gate, Outcome, RequestStatus,
    SecurityException,
};
use super::text::{HashMap, Interner, Text};

/// An event that cannot follow the ones before it.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{0}")]
pub struct ApplyError(pub String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RequestEntry {
    request: ApprovalRequest,
    /// Boxed, as is the outcome: most requests have both, but the entry's own allocation is then
    /// a size the allocator has a class for, and a request without one does not pay its room.
    decision: Option<Box<Decision>>,
    /// Indexes into `State::exceptions`, in the order they were requested.
    exceptions: Box<[usize]>,
    /// Sequence numbers of the events that concern this request (a few each: a boxed slice,
    /// grown by one when an event comes, takes no room for growth).
    history: Box<[u64]>,
    /// How its deployment went, once recorded.
    #[serde(default)]
    outcome: Option<Box<Outcome>>,
}

/// Records sit behind `Arc`s, so cloning a State (a console's copy of its backend's) copies
/// pointers and indexes, not every string; a record is copied only when it changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    requests: Vec<Arc<RequestEntry>>,
    request_index: HashMap<Uuid, usize>,
    exceptions: Vec<Arc<SecurityException>>,
    exception_index: HashMap<Uuid, usize>,
    /// The most recently submitted request of each deployment.
    latest_by_deployment: HashMap<Text, usize>,
    /// Requests under review or needing an exception, in submission order: what the pending
    /// queue is drawn from, without looking at every request.
    awaiting: BTreeSet<usize>,
    head: u64,
    /// The latest time of any event applied: a question about a moment at or after it is
    /// answered by this state as it is (`--at`).
    last_at: Option<DateTime<Utc>>,
    /// One copy of each name, title and rationale in the records (see `share_*`).
    interner: Interner,
}

/// Push onto a boxed slice: a new allocation of exactly the new length.
fn pushed<T: Copy>(items: &mut Box<[T]>, item: T) {
    let mut grown = Vec::with_capacity(items.len() + 1);
    grown.extend_from_slice(items);
    grown.push(item);
    *items = grown.into_boxed_slice();
}

/// The state as plain data (records in order), for the store's checkpoint; the indexes are
/// rebuilt when it is read back.
#[derive(Serialize)]
struct PartsOut<'a> {
    requests: &'a [Arc<RequestEntry>],
    exceptions: &'a [Arc<SecurityException>],
    head: u64,
    #[serde(with = "super::time::rfc3339_option")]
    last_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct PartsIn {
    requests: SharedEntries,
    exceptions: Vec<Arc<SecurityException>>,
    head: u64,
    #[serde(with = "super::time::rfc3339_option")]
    last_at: Option<DateTime<Utc>>,
}

/// The records as they are read back, each one's texts shared with the records before it as
/// soon as it is decoded: a large state is never in memory with a copy of every text each.
/// The same form as `Vec<Arc<RequestEntry>>`.
struct SharedEntries {
    entries: Vec<Arc<RequestEntry>>,
    interner: Interner,
}

impl<'de> Deserialize<'de> for SharedEntries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = SharedEntries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence of requests")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<SharedEntries, A::Error> {
                // A length read from a file is not trusted for more than a modest reservation.
                let mut entries = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                let mut interner = Interner::default();
                while let Some(mut entry) = seq.next_element::<RequestEntry>()? {
                    share_entry(&mut interner, &mut entry);
                    entries.push(Arc::new(entry));
                }
                Ok(SharedEntries { entries, interner })
            }
        }
        d.deserialize_seq(Entries)
    }
}

impl Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PartsOut {
            requests: &self.requests,
            exceptions: &self.exceptions,
            head: self.head,
            last_at: self.last_at,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for State {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let parts = PartsIn::deserialize(d)?;
        State::from_parts(parts).map_err(serde::de::Error::custom)
    }
}

impl State {
    pub fn new() -> Self {
        State::default()
    }

    fn from_parts(parts: PartsIn) -> Result<State, String> {
        let mut interner = parts.requests.interner;
        let mut state = State {
            requests: parts.requests.entries,
            exceptions: parts.exceptions,
            head: parts.head,
            last_at: parts.last_at,
            ..State::default()
        };
        state.request_index.reserve(state.requests.len());
        for (i, entry) in state.requests.iter().enumerate() {
            if entry
                .exceptions
                .iter()
                .any(|&x| x >= state.exceptions.len())
            {
                return Err(format!(
                    "request {} names an exception that is not there",
                    entry.request.id
                ));
            }
            state.request_index.insert(entry.request.id, i);
            let deployment = &entry.request.deployment_intent_id;
            match state.latest_by_deployment.get_mut(deployment.as_str()) {
                Some(latest) => *latest = i,
                None => {
                    state.latest_by_deployment.insert(deployment.clone(), i);
                }
            }
        }
        state.awaiting = state
            .requests
            .iter()
            .enumerate()
            .filter(|(_, e)| awaits(e.request.status))
            .map(|(i, _)| i)
            .collect();
        state.exception_index.reserve(state.exceptions.len());
        for (i, exception) in state.exceptions.iter_mut().enumerate() {
            let Some(&request) = state.request_index.get(&exception.request_id) else {
                return Err(format!(
                    "exception {} names a request that is not there",
                    exception.id
                ));
            };
            share_exception(
                &mut interner,
                Arc::make_mut(exception),
                &state.requests[request].request,
            );
            state.exception_index.insert(exception.id, i);
        }
        state.interner = interner;
        Ok(state)
    }

    /// Replay events from the start.
    pub fn replay(
        events: impl IntoIterator<Item = (u64, DateTime<Utc>, EventKind)>,
    ) -> Result<State, (u64, ApplyError)> {
        let mut state = State::new();
        for (seq, at, kind) in events {
            state.apply(seq, at, kind).map_err(|e| (seq, e))?;
        }
        Ok(state)
    }

    /// The state as of a moment (`--at`): the events whose time is at or before `at`, applied
    /// in store order. The events were judged by the rules when they were read; an action is
    /// never dated before what it acts on, so every event kept finds what it needs.
    pub fn replay_as_of<'a>(
        events: impl IntoIterator<Item = &'a StoredEvent>,
        at: DateTime<Utc>,
    ) -> Result<State, (u64, ApplyError)> {
        State::replay(
            events
                .into_iter()
                .filter(|e| e.event.at <= at)
                .map(|e| (e.seq, e.event.at, e.event.kind.clone())),
        )
    }

    /// The latest time of any event in this state (`None` for none).
    pub fn last_at(&self) -> Option<DateTime<Utc>> {
        self.last_at
    }

    /// The sequence number of the last event applied (0 for none).
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Fold one event into the state, refusing one that cannot follow the events before it.
    pub fn apply(
        &mut self,
        seq: u64,
        at: DateTime<Utc>,
        kind: EventKind,
    ) -> Result<(), ApplyError> {
        match kind {
            EventKind::RequestSubmitted(e) => self.submitted(seq, e)?,
            EventKind::RequestDecided(e) => self.decided(seq, e)?,
            EventKind::ExceptionRequested(e) => self.exception_requested(seq, e)?,
            EventKind::ExceptionReviewed(e) => self.exception_reviewed(seq, e)?,
            EventKind::ExceptionExpired(e) => self.exception_expired(seq, e)?,
            EventKind::OutcomeRecorded(e) => self.outcome_recorded(seq, e)?,
        }
        self.head = seq;
        self.last_at = self.last_at.max(Some(at));
        Ok(())
    }

    fn submitted(&mut self, seq: u64, e: RequestSubmitted) -> Result<(), ApplyError> {
        let request = e.request;
        if self.request_index.contains_key(&request.id) {
            return Err(ApplyError(format!(
                "request {} is submitted a second time",
                request.id
            )));
        }
        let expected = match request.gate {
            Gate::AutoApproved => RequestStatus::AutoApproved,
            Gate::ManualReview => RequestStatus::UnderReview,
            Gate::ExceptionRequired => RequestStatus::ExceptionRequired,
        };
        if request.status != expected {
            return Err(ApplyError(format!(
                "request {} is submitted with status {} but its gate is {}",
                request.id,
                request.status,
                request.gate.as_str()
            )));
        }
        let auto = request.gate == Gate::AutoApproved;
        match &e.decision {
            Some(d) if !auto || d.decision != DecisionKind::AutoApproved => {
                return Err(ApplyError(format!(
                    "request {} is submitted with a {} decision it cannot have",
                    request.id, d.decision
                )));
            }
            Some(d) if d.request_id != request.id => {
                return Err(ApplyError(format!(
                    "the automatic decision {} names another request",
                    d.id
                )));
            }
            None if auto => {
                return Err(ApplyError(format!(
                    "auto-approved request {} has no decision record",
                    request.id
                )));
            }
            _ => {}
        }
        let index = self.requests.len();
        self.request_index.insert(request.id, index);
        let mut entry = RequestEntry {
            request,
            decision: e.decision.map(Box::new),
            exceptions: Box::default(),
            history: Box::new([seq]),
            outcome: None,
        };
        share_entry(&mut self.interner, &mut entry);
        let deployment = &entry.request.deployment_intent_id;
        match self.latest_by_deployment.get_mut(deployment.as_str()) {
            Some(latest) => *latest = index,
            None => {
                self.latest_by_deployment.insert(deployment.clone(), index);
            }
        }
        if awaits(entry.request.status) {
            self.awaiting.insert(index);
        }
        self.requests.push(Arc::new(entry));
        Ok(())
    }

    fn decided(&mut self, seq: u64, e: RequestDecided) -> Result<(), ApplyError> {
        let mut decision = e.decision;
        let index = self.index_of(&decision.request_id)?;
        let entry = Arc::make_mut(&mut self.requests[index]);
        if let Some(existing) = &entry.decision {
            return Err(ApplyError(format!(
                "request {} is decided a second time (first: {} by {})",
                decision.request_id, existing.decision, existing.approver
            )));
        }
        if entry.request.status != RequestStatus::UnderReview
            || decision.decision == DecisionKind::AutoApproved
        {
            return Err(ApplyError(format!(
                "request {} in status {} cannot be decided {}",
                decision.request_id, entry.request.status, decision.decision
            )));
        }
        share_decision(&mut self.interner, &mut decision, &entry.request);
        entry.request.status = decision.decision.status();
        entry.decision = Some(Box::new(decision));
        pushed(&mut entry.history, seq);
        self.awaiting.remove(&index);
        Ok(())
    }

    fn exception_requested(&mut self, seq: u64, e: ExceptionRequested) -> Result<(), ApplyError> {
        let mut exception = e.exception;
        if self.exception_index.contains_key(&exception.id) {
            return Err(ApplyError(format!(
                "exception {} is requested a second time",
                exception.id
            )));
        }
        if exception.status != ExceptionStatus::Pending
            || exception.expires_at <= exception.requested_at
        {
            return Err(ApplyError(format!(
                "exception {} is requested without a pending status and a future expiry",
                exception.id
            )));
        }
        let index = self.exceptions.len();
        let interner = &mut self.interner;
        let entry = Self::entry_in(
            &mut self.requests,
            &self.request_index,
            &exception.request_id,
        )?;
        if entry.request.status != RequestStatus::ExceptionRequired {
            return Err(ApplyError(format!(
                "exception {} is for request {} which is {}",
                exception.id, exception.request_id, entry.request.status
            )));
        }
        share_exception(interner, &mut exception, &entry.request);
        pushed(&mut entry.exceptions, index);
        pushed(&mut entry.history, seq);
        self.exception_index.insert(exception.id, index);
        self.exceptions.push(Arc::new(exception));
        Ok(())
    }

    fn exception_reviewed(&mut self, seq: u64, e: ExceptionReviewed) -> Result<(), ApplyError> {
        let exception = self.exception_mut(&e.exception_id)?;
        if exception.status != ExceptionStatus::Pending
            || !matches!(
                e.status,
                ExceptionStatus::Approved | ExceptionStatus::Rejected
            )
        {
            return Err(ApplyError(format!(
                "exception {} in status {} cannot be reviewed {}",
                e.exception_id, exception.status, e.status
            )));
        }
        let mut reviewed_by = e.reviewed_by;
        let mut review_rationale = e.review_rationale;
        exception.status = e.status;
        exception.reviewed_at = Some(e.reviewed_at);
        let request_id = exception.request_id;
        self.interner.share(&mut reviewed_by);
        self.interner.share(&mut review_rationale);
        let exception = self.exception_mut(&e.exception_id)?;
        exception.reviewed_by = Some(reviewed_by);
        exception.review_rationale = Some(review_rationale);
        pushed(&mut self.entry_mut(&request_id)?.history, seq);
        Ok(())
    }

    fn exception_expired(&mut self, seq: u64, e: ExceptionExpired) -> Result<(), ApplyError> {
        let exception = self.exception_mut(&e.exception_id)?;
        if !matches!(
            exception.status,
            ExceptionStatus::Pending | ExceptionStatus::Approved
        ) {
            return Err(ApplyError(format!(
                "exception {} in status {} cannot expire",
                e.exception_id, exception.status
            )));
        }
        exception.status = ExceptionStatus::Expired;
        let request_id = exception.request_id;
        pushed(&mut self.entry_mut(&request_id)?.history, seq);
        Ok(())
    }

    fn outcome_recorded(&mut self, seq: u64, e: OutcomeRecorded) -> Result<(), ApplyError> {
        let mut outcome = e.outcome;
        let interner = &mut self.interner;
        let entry = Self::entry_in(&mut self.requests, &self.request_index, &outcome.request_id)?;
        if let Some(existing) = &entry.outcome {
            return Err(ApplyError(format!(
                "request {} has a second outcome (first: {} by {})",
                outcome.request_id, existing.result, existing.recorded_by
            )));
        }
        if matches!(
            entry.request.status,
            RequestStatus::UnderReview | RequestStatus::Rejected
        ) {
            return Err(ApplyError(format!(
                "request {} in status {} cannot have an outcome",
                outcome.request_id, entry.request.status
            )));
        }
        share_outcome(interner, &mut outcome, &entry.request);
        entry.outcome = Some(Box::new(outcome));
        pushed(&mut entry.history, seq);
        Ok(())
    }

    fn index_of(&self, id: &Uuid) -> Result<usize, ApplyError> {
        self.request_index
            .get(id)
            .copied()
            .ok_or_else(|| ApplyError(format!("request {id} is not known")))
    }

    fn entry_mut(&mut self, id: &Uuid) -> Result<&mut RequestEntry, ApplyError> {
        Self::entry_in(&mut self.requests, &self.request_index, id)
    }

    /// [`Self::entry_mut`] borrowing only the records, so the interner stays free to use.
    fn entry_in<'a>(
        requests: &'a mut [Arc<RequestEntry>],
        index: &HashMap<Uuid, usize>,
        id: &Uuid,
    ) -> Result<&'a mut RequestEntry, ApplyError> {
        let index = *index
            .get(id)
            .ok_or_else(|| ApplyError(format!("request {id} is not known")))?;
        Ok(Arc::make_mut(&mut requests[index]))
    }

    fn exception_mut(&mut self, id: &Uuid) -> Result<&mut SecurityException, ApplyError> {
        let index = *self
            .exception_index
            .get(id)
            .ok_or_else(|| ApplyError(format!("exception {id} is not known")))?;
        Ok(Arc::make_mut(&mut self.exceptions[index]))
    }

    // ----- reading -----

    pub fn request_count(&self) -> usize {
        self.requests.len()
    }

    pub fn exception_count(&self) -> usize {
        self.exceptions.len()
    }

    /// All requests in the order they were submitted.
    pub fn requests(&self) -> impl DoubleEndedIterator<Item = &ApprovalRequest> + '_ {
        self.requests.iter().map(|e| &e.request)
    }

    /// Requests under review or needing an exception (active or not), in submission order.
    pub fn awaiting(&self) -> impl DoubleEndedIterator<Item = &ApprovalRequest> + '_ {
        self.awaiting.iter().map(|&i| &self.requests[i].request)
    }

    /// The same, with each request's position in submission order (as in `requests()`).
    pub fn awaiting_indexed(
        &self,
    ) -> impl DoubleEndedIterator<Item = (usize, &ApprovalRequest)> + '_ {
        self.awaiting
            .iter()
            .map(|&i| (i, &self.requests[i].request))
    }

    /// All exceptions in the order they were requested.
    pub fn exceptions(&self) -> impl DoubleEndedIterator<Item = &SecurityException> + '_ {
        self.exceptions.iter().map(|e| &**e)
    }

    pub fn request(&self, id: &Uuid) -> Option<&ApprovalRequest> {
        self.request_index
            .get(id)
            .map(|&i| &self.requests[i].request)
    }

    pub fn decision(&self, request_id: &Uuid) -> Option<&Decision> {
        self.request_index
            .get(request_id)
            .and_then(|&i| self.requests[i].decision.as_deref())
    }

    /// How the request's deployment went, once recorded.
    pub fn outcome(&self, request_id: &Uuid) -> Option<&Outcome> {
        self.request_index
            .get(request_id)
            .and_then(|&i| self.requests[i].outcome.as_deref())
    }

    /// Every request with its decision and outcome, in submission order: what reports read.
    pub fn records(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&ApprovalRequest, Option<&Decision>, Option<&Outcome>)> + '_
    {
        self.requests
            .iter()
            .map(|e| (&e.request, e.decision.as_deref(), e.outcome.as_deref()))
    }

    pub fn exception(&self, id: &Uuid) -> Option<&SecurityException> {
        self.exception_index.get(id).map(|&i| &*self.exceptions[i])
    }

    /// The exceptions of one request, oldest first.
    pub fn exceptions_for(&self, request_id: &Uuid) -> impl Iterator<Item = &SecurityException> {
        self.request_index
            .get(request_id)
            .map(|&i| &*self.requests[i].exceptions)
            .unwrap_or(&[])
            .iter()
            .map(|&i| &*self.exceptions[i])
    }

    /// Sequence numbers of the events that concern one request, in order.
    pub fn history(&self, request_id: &Uuid) -> &[u64] {
        self.request_index
            .get(request_id)
            .map(|&i| &*self.requests[i].history)
            .unwrap_or(&[])
    }

    pub fn latest_for_deployment(&self, deployment_intent_id: &str) -> Option<&ApprovalRequest> {
        self.latest_by_deployment
            .get(deployment_intent_id)
            .map(|&i| &self.requests[i].request)
    }

    /// A request by its whole id or a unique prefix of at least eight characters.
    pub fn resolve_request(&self, id: &str) -> Result<Uuid, EngineError> {
        resolve(
            "request",
            id,
            self.requests.iter().map(|e| e.request.id),
            |uuid| self.request_index.contains_key(uuid),
        )
    }

    /// An exception by its whole id or a unique prefix of at least eight characters.
    pub fn resolve_exception(&self, id: &str) -> Result<Uuid, EngineError> {
        resolve(
            "exception",
            id,
            self.exceptions.iter().map(|e| &**e).map(|e| e.id),
            |uuid| self.exception_index.contains_key(uuid),
        )
    }
}

// ----- sharing -----
// Names, titles, rationales and the lists of factor names repeat across records: each record
// gets the interner's copy. A deployment id and a correlation id mostly repeat only within one
// request's records: those take the request's copy when they are equal to it.

fn share_entry(interner: &mut Interner, entry: &mut RequestEntry) {
    let request = &mut entry.request;
    request.deployment_intent_id.own();
    request.evidence_package_id.own();
    request.correlation_id.own();
    interner.share(&mut request.requested_by);
    interner.share_opt(&mut request.title);
    interner.share_list(request.risk_factors.names_mut());
    request.risk_factors.own_values();
    if let Some(decision) = &mut entry.decision {
        share_decision(interner, decision, &entry.request);
    }
    if let Some(outcome) = &mut entry.outcome {
        share_outcome(interner, outcome, &entry.request);
    }
}

fn share_decision(interner: &mut Interner, decision: &mut Decision, request: &ApprovalRequest) {
    interner.share(&mut decision.approver);
    interner.share(&mut decision.rationale);
    if !decision.conditions.is_empty() {
        decision.conditions = decision.conditions.clone();
        interner.share_all(&mut decision.conditions);
    }
    if !same_as(&mut decision.correlation_id, &request.correlation_id) {
        decision.correlation_id.own();
    }
}

fn share_outcome(interner: &mut Interner, outcome: &mut Outcome, request: &ApprovalRequest) {
    interner.share(&mut outcome.recorded_by);
    if !same_as(
        &mut outcome.deployment_intent_id,
        &request.deployment_intent_id,
    ) {
        outcome.deployment_intent_id.own();
    }
    interner.share_opt(&mut outcome.incident);
    interner.share_opt(&mut outcome.note);
}

fn share_exception(
    interner: &mut Interner,
    exception: &mut SecurityException,
    request: &ApprovalRequest,
) {
    if !same_as(
        &mut exception.deployment_intent_id,
        &request.deployment_intent_id,
    ) {
        exception.deployment_intent_id.own();
    }
    interner.share(&mut exception.justification);
    if !exception.compensating_controls.is_empty() {
        exception.compensating_controls = exception.compensating_controls.clone();
        interner.share_all(&mut exception.compensating_controls);
    }
    interner.share(&mut exception.requested_by);
    interner.share_opt(&mut exception.reviewed_by);
    interner.share_opt(&mut exception.review_rationale);
}

/// Take `kept`'s copy when the text is the same (and say whether it was).
fn same_as(text: &mut Text, kept: &Text) -> bool {
    let same = *text == *kept;
    if same && !text.shares(kept) {
        *text = kept.clone();
    }
    same
}

/// Statuses that await an action: a CAB decision, or a security exception.
fn awaits(status: RequestStatus) -> bool {
    matches!(
        status,
        RequestStatus::UnderReview | RequestStatus::ExceptionRequired
    )
}

/// Minimum length of an id prefix: long enough that a typo rarely lands on another record.
pub const MIN_PREFIX: usize = 8;

fn resolve(
    what: &'static str,
    given: &str,
    all: impl Iterator<Item = Uuid>,
    contains: impl Fn(&Uuid) -> bool,
) -> Result<Uuid, EngineError> {
    // Ids are compared without their hyphens, so a prefix may be typed with or without them.
    let wanted: String = given
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| *c != '-')
        .collect();
    if let Ok(uuid) = Uuid::parse_str(&wanted) {
        return if contains(&uuid) {
            Ok(uuid)
        } else {
            Err(EngineError::NotFound {
                what,
                id: given.to_string(),
            })
        };
    }
    if wanted.chars().count() < MIN_PREFIX {
        return Err(super::error::Invalid::new(
            "id",
            format!(
                "{what} id {given:?} is too short: give the whole id or at least {MIN_PREFIX} characters of it"
            ),
        )
        .into());
    }
    let mut found = None;
    let mut buf = Uuid::encode_buffer();
    for uuid in all {
        if uuid.simple().encode_lower(&mut buf).starts_with(&wanted) {
            if let Some(first) = found {
                return Err(super::error::Invalid::new(
                    "id",
                    format!(
                        "{what} id prefix {given:?} is ambiguous: it matches {first} and {uuid}; give more characters"
                    ),
                )
                .into());
            }
            found = Some(uuid);
        }
    }
    found.ok_or_else(|| EngineError::NotFound {
        what,
        id: given.to_string(),
    })
}
