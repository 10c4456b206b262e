//! Unit and property tests of the workflow engine, and the small harness they share: counted
//! ids, named actors with roles, a clock that only moves when a test moves it, and a `World`
//! that runs commands and applies their events with consecutive sequence numbers.

mod as_of;
mod audit;
mod cleanup;
mod decisions;
mod exceptions;
mod gate;
mod gate_state;
mod outcomes;
mod props;
mod queries;
mod rejudge;
mod replay;
mod report;
mod submission;

use std::collections::VecDeque;

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::engine::rules::{self, Command, Ctx, IdSource, Review, Submission, Verdict};
use crate::engine::{
    Actor, ApprovalRequest, EngineError, Event, Policy, Refusal, Role, SecurityException, State,
    StoredEvent,
};

/// Ids 1, 2, 3... with the counter in the first eight hex digits too, so that every id has its
/// own short id (`00000001`, `00000002`, ...) and prefixes resolve uniquely.
#[derive(Debug, Default)]
pub(super) struct CountingIds {
    issued: u32,
}

impl IdSource for CountingIds {
    fn next_id(&mut self) -> Uuid {
        self.issued += 1;
        let n = u128::from(self.issued);
        Uuid::from_u128((n << 96) | n)
    }
}

/// Exactly the ids a test lists, in order; for ids that must share a prefix.
pub(super) struct ScriptedIds(pub VecDeque<Uuid>);

impl IdSource for ScriptedIds {
    fn next_id(&mut self) -> Uuid {
        self.0.pop_front().expect("the test scripted too few ids")
    }
}

/// The moment every test starts at.
pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 22, 9, 0, 0).unwrap()
}

fn actor(name: &str, roles: &[Role]) -> Actor {
    Actor::new(name, roles.iter().copied()).unwrap()
}

/// Submits requests and requests exceptions; holds no other role.
pub(super) fn rita() -> Actor {
    actor("rita", &[])
}

/// Another plain requester.
pub(super) fn ravi() -> Actor {
    actor("ravi", &[])
}

pub(super) fn carol() -> Actor {
    actor("carol", &[Role::CabMember])
}

pub(super) fn colin() -> Actor {
    actor("colin", &[Role::CabMember])
}

pub(super) fn sven() -> Actor {
    actor("sven", &[Role::SecurityReviewer])
}

pub(super) fn sara() -> Actor {
    actor("sara", &[Role::SecurityReviewer])
}

/// Holds both reviewing roles: the one to catch separation-of-duties holes with.
pub(super) fn bea() -> Actor {
    actor("bea", &[Role::CabMember, Role::SecurityReviewer])
}

pub(super) fn submission(deployment: &str, score: f64) -> Submission {
    Submission {
        deployment_intent_id: deployment.into(),
        evidence_package_id: format!("evidence-{deployment}").into(),
        title: None,
        risk_score: score,
        risk_factors: Default::default(),
        correlation_id: None,
    }
}

pub(super) fn submit(deployment: &str, score: f64) -> Command {
    Command::Submit(submission(deployment, score))
}

pub(super) fn approve(request_id: Uuid) -> Command {
    approve_with(request_id, &[])
}

pub(super) fn approve_with(request_id: Uuid, conditions: &[&str]) -> Command {
    Command::Decide {
        request_id,
        verdict: Verdict::Approve {
            conditions: conditions.iter().map(|c| c.to_string()).collect(),
        },
        rationale: "evidence reviewed, rollback plan tested".to_string(),
    }
}

pub(super) fn reject(request_id: Uuid) -> Command {
    Command::Decide {
        request_id,
        verdict: Verdict::Reject,
        rationale: "no rollback plan".to_string(),
    }
}

pub(super) fn ask_exception(request_id: Uuid, expiry_days: Option<i64>) -> Command {
    Command::RequestException {
        request_id,
        justification: "customer outage fix cannot wait".to_string(),
        compensating_controls: vec!["canary at 1%".to_string(), "on-call watching".to_string()],
        expiry_days,
    }
}

pub(super) fn review(exception_id: Uuid, review: Review) -> Command {
    Command::ReviewException {
        exception_id,
        review,
        rationale: "controls are adequate".to_string(),
    }
}

/// A state, its event log and a clock, driven one command at a time.
pub(super) struct World {
    pub state: State,
    pub log: Vec<StoredEvent>,
    pub ids: CountingIds,
    pub now: DateTime<Utc>,
    pub policy: Policy,
}

impl World {
    pub fn new() -> Self {
        World::with_policy(Policy::default())
    }

    pub fn with_policy(policy: Policy) -> Self {
        World {
            state: State::new(),
            log: Vec::new(),
            ids: CountingIds::default(),
            now: t0(),
            policy,
        }
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Judge a command now and, if accepted, apply its events with the next sequence numbers.
    /// An event that the rules produced but the state refuses fails the test on the spot.
    pub fn run(&mut self, actor: &Actor, command: Command) -> Result<Vec<Event>, EngineError> {
        let ctx = Ctx {
            actor,
            now: self.now,
            policy: &self.policy,
        };
        let events = rules::handle(&self.state, &command, &ctx, &mut self.ids)?;
        for event in &events {
            let seq = self.state.head() + 1;
            if let Err(e) = self.state.apply(seq, event.at, event.kind.clone()) {
                panic!("event {seq} produced for {command:?} does not apply: {e}");
            }
            self.log.push(StoredEvent {
                seq,
                prev: self.log.last().map(|s| s.hash.clone()).unwrap_or_default(),
                hash: format!("hash-{seq}"),
                event: event.clone(),
            });
        }
        Ok(events)
    }

    /// A command the test expects to be accepted.
    pub fn ok(&mut self, actor: &Actor, command: Command) -> Vec<Event> {
        let shown = format!("{command:?}");
        self.run(actor, command)
            .unwrap_or_else(|e| panic!("{shown} by {} was refused: {e}", actor.name))
    }

    /// A command the test expects to be refused: it must produce no events at all.
    pub fn refuse(&mut self, actor: &Actor, command: Command) -> EngineError {
        let before = self.state.clone();
        let shown = format!("{command:?}");
        match self.run(actor, command) {
            Ok(events) => panic!("{shown} by {} was accepted: {events:?}", actor.name),
            Err(e) => {
                assert_eq!(self.state, before, "a refused command changed the state");
                e
            }
        }
    }

    /// A request submitted by rita for `deployment`; its id.
    pub fn submit(&mut self, deployment: &str, score: f64) -> Uuid {
        self.submit_as(&rita(), deployment, score)
    }

    pub fn submit_as(&mut self, actor: &Actor, deployment: &str, score: f64) -> Uuid {
        let events = self.ok(actor, submit(deployment, score));
        events[0].kind.request_id()
    }

    /// A request of rita's in `under_review`.
    pub fn under_review(&mut self, deployment: &str) -> Uuid {
        self.submit(deployment, 60.0)
    }

    /// A request of rita's in `exception_required`.
    pub fn needing_exception(&mut self, deployment: &str) -> Uuid {
        self.submit(deployment, 90.0)
    }

    /// An exception requested by rita; its id.
    pub fn ask_exception(&mut self, request_id: Uuid, expiry_days: Option<i64>) -> Uuid {
        self.ask_exception_as(&rita(), request_id, expiry_days)
    }

    pub fn ask_exception_as(
        &mut self,
        actor: &Actor,
        request_id: Uuid,
        expiry_days: Option<i64>,
    ) -> Uuid {
        match &self.ok(actor, ask_exception(request_id, expiry_days))[0].kind {
            crate::engine::EventKind::ExceptionRequested(e) => e.exception.id,
            other => panic!("expected an exception request, got {other:?}"),
        }
    }

    /// An exception reviewed by sven.
    pub fn review_exception(&mut self, exception_id: Uuid, verdict: Review) {
        self.ok(&sven(), review(exception_id, verdict));
    }

    /// A request needing an exception, with an exception approved by sven; (request, exception).
    pub fn with_active_exception(&mut self, deployment: &str, expiry_days: i64) -> (Uuid, Uuid) {
        let request = self.needing_exception(deployment);
        let exception = self.ask_exception(request, Some(expiry_days));
        self.review_exception(exception, Review::Approve);
        (request, exception)
    }

    pub fn request(&self, id: Uuid) -> &ApprovalRequest {
        self.state
            .request(&id)
            .expect("the request is in the state")
    }

    pub fn exception(&self, id: Uuid) -> &SecurityException {
        self.state
            .exception(&id)
            .expect("the exception is in the state")
    }
}

/// The field an `Invalid` error names; fails the test for any other error.
pub(super) fn invalid_field(error: &EngineError) -> &'static str {
    match error {
        EngineError::Invalid(invalid) => invalid.field,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

/// The refusal inside an error; fails the test for any other error.
pub(super) fn refusal(error: EngineError) -> Refusal {
    match error {
        EngineError::Refused(refusal) => refusal,
        other => panic!("expected a workflow refusal, got {other:?}"),
    }
}
