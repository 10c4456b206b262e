//! Re-judging a record: would the rules have written this event, from the state before it, at
//! its own time? The store asks this of every line it reads, so a line appended and re-chained
//! by someone who can write the file, but that breaks a rule, is found with the rule it breaks.
//!
//! Nothing here restates a rule: each event is turned back into the command that would have
//! produced it, the rules judge that command (`rules::handle_one`), and what they would have
//! written is compared with what was recorded, field by field.

use std::cell::RefCell;
use std::sync::Arc;

use chrono::Duration;
use serde::Serialize;
use thiserror::Error;
use uuid::Uuid;

use super::event::{Event, EventKind};
use super::model::{Actor, DecisionKind, ExceptionStatus, Policy, Role};
use super::rules::{self, Command, Ctx, IdSource, Review, Submission, Verdict};
use super::state::State;
use super::text::{HashMap, Text};

/// A recorded event that the rules would not have written.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("it breaks the rule {rule}: {message}")]
pub struct Violation {
    /// A stable name: the engine's refusal code (`separation_of_duties`, `already_decided`, ...),
    /// the field it found invalid, or `not_as_the_rules_write_it` when the rules would have
    /// written something else.
    pub rule: String,
    pub message: String,
}

impl Violation {
    fn new(rule: impl Into<String>, message: impl Into<String>) -> Self {
        Violation {
            rule: rule.into(),
            message: message.into(),
        }
    }
}

/// The rule named when the rules accept the command but would have written another event.
pub const NOT_AS_WRITTEN: &str = "not_as_the_rules_write_it";

/// Judge `event` against `state` (the state just before it): `Ok` when the rules, asked by the
/// same actor at the same moment, write exactly this event. Roles are not part of the record,
/// so the actor is judged as holding every role; everything else is checked.
pub fn rejudge(state: &State, event: &Event) -> Result<(), Violation> {
    let actor = actor(&event.actor)?;
    let (command, mut ids, policy) = match command_for(state, &event.kind)? {
        Some(found) => found,
        // An expiry is not a command of its own: it is one of what cleanup would record now.
        None => return expiry_is_due(state, event, &actor),
    };
    let ctx = Ctx {
        actor: &actor,
        now: event.at,
        policy: &policy,
    };
    let Some(written) = rules::handle_one(state, &command, &ctx, &mut ids) else {
        return Err(Violation::new(
            NOT_AS_WRITTEN,
            "the rules would have written another number of events for this command",
        ));
    };
    let written = written.map_err(|e| {
        let rule = match &e {
            super::EngineError::Invalid(invalid) => invalid.field.to_string(),
            other => other.code().to_string(),
        };
        Violation::new(rule, e.to_string())
    })?;
    same(written, event)
}

/// The actor who wrote `name`'s events, holding every role, or why no actor has that name.
/// A store's events are written by a few names again and again: each thread keeps the actors
/// it has made (up to a bound), rather than making one for every event.
fn actor(name: &str) -> Result<Arc<Actor>, Violation> {
    const KEPT: usize = 1024;
    type Made = Result<Arc<Actor>, Violation>;
    thread_local! {
        static MADE: RefCell<HashMap<Box<str>, Made>> = RefCell::new(HashMap::default());
    }
    MADE.with_borrow_mut(|made| {
        if let Some(found) = made.get(name) {
            return found.clone();
        }
        let actor = match Actor::new(name, Role::ALL) {
            Err(e) => Err(Violation::new("actor", e.message)),
            Ok(actor) if actor.name != name => Err(Violation::new(
                NOT_AS_WRITTEN,
                format!("the actor {name:?} is not written as the rules write names"),
            )),
            Ok(actor) => Ok(Arc::new(actor)),
        };
        if made.len() >= KEPT {
            made.clear();
        }
        made.insert(name.into(), actor.clone());
        actor
    })
}

/// The command that would have produced this event, the ids it would have drawn, in order, and
/// the policy it was judged under. `None` for an expiry, which cleanup records.
fn command_for(
    state: &State,
    kind: &EventKind,
) -> Result<Option<(Command, Recorded, Policy)>, Violation> {
    let policy = Policy::default();
    Ok(Some(match kind {
        EventKind::RequestSubmitted(e) => {
            let r = &e.request;
            let ids = Recorded::new([Some(r.id), e.decision.as_ref().map(|d| d.id)]);
            let submission = Submission {
                deployment_intent_id: r.deployment_intent_id.clone(),
                evidence_package_id: r.evidence_package_id.clone(),
                title: r.title.clone(),
                risk_score: r.risk_score.value(),
                risk_factors: r.risk_factors.clone(),
                correlation_id: Some(r.correlation_id.clone()),
            };
            // The thresholds recorded with the request are the policy it was gated under.
            let policy = Policy {
                thresholds: r.thresholds,
                ..policy
            };
            (Command::Submit(submission), ids, policy)
        }
        EventKind::RequestDecided(e) => {
            let d = &e.decision;
            let verdict = match d.decision {
                DecisionKind::Approved => Verdict::Approve {
                    conditions: Vec::new(),
                },
                DecisionKind::Conditional => Verdict::Approve {
                    conditions: d.conditions.iter().map(Text::to_string).collect(),
                },
                DecisionKind::Rejected => Verdict::Reject,
                DecisionKind::AutoApproved => {
                    return Err(Violation::new(
                        NOT_AS_WRITTEN,
                        format!(
                            "request {} is auto-approved after its submission; only the gate auto-approves, when the request is submitted",
                            d.request_id
                        ),
                    ));
                }
            };
            let command = Command::Decide {
                request_id: d.request_id,
                verdict,
                rationale: d.rationale.to_string(),
            };
            (command, Recorded::one(d.id), policy)
        }
        EventKind::ExceptionRequested(e) => {
            let x = &e.exception;
            let span = x.expires_at - x.requested_at;
            let days = span.num_days();
            if Duration::days(days) != span {
                return Err(Violation::new(
                    "expiry_days",
                    format!(
                        "exception {} expires {} after it was requested, which is not a whole number of days",
                        x.id, span
                    ),
                ));
            }
            let command = Command::RequestException {
                request_id: x.request_id,
                justification: x.justification.to_string(),
                compensating_controls: x
                    .compensating_controls
                    .iter()
                    .map(Text::to_string)
                    .collect(),
                expiry_days: Some(days),
            };
            (command, Recorded::one(x.id), policy)
        }
        EventKind::ExceptionReviewed(e) => {
            let review = match e.status {
                ExceptionStatus::Approved => Review::Approve,
                ExceptionStatus::Rejected => Review::Reject,
                other => {
                    return Err(Violation::new(
                        NOT_AS_WRITTEN,
                        format!(
                            "exception {} is reviewed as {other}; a review approves or rejects",
                            e.exception_id
                        ),
                    ));
                }
            };
            if state.exception(&e.exception_id).is_none() {
                return Err(Violation::new(
                    "not_found",
                    format!(
                        "exception {} is reviewed but was never requested",
                        e.exception_id
                    ),
                ));
            }
            let command = Command::ReviewException {
                exception_id: e.exception_id,
                review,
                rationale: e.review_rationale.to_string(),
            };
            (command, Recorded::new([None, None]), policy)
        }
        EventKind::ExceptionExpired(_) => return Ok(None),
        EventKind::OutcomeRecorded(e) => {
            let o = &e.outcome;
            let command = Command::RecordOutcome {
                request_id: o.request_id,
                result: o.result,
                incident: o.incident.as_ref().map(Text::to_string),
                note: o.note.as_ref().map(Text::to_string),
            };
            (command, Recorded::one(o.id), policy)
        }
    }))
}

/// An expiry is right when cleanup, run by the same actor at the same moment, would record it.
fn expiry_is_due(state: &State, event: &Event, actor: &Actor) -> Result<(), Violation> {
    let EventKind::ExceptionExpired(expired) = &event.kind else {
        return Ok(());
    };
    let policy = Policy::default();
    let ctx = Ctx {
        actor,
        now: event.at,
        policy: &policy,
    };
    // What cleanup would record for this one exception (cleanup itself visits them all).
    let due = state
        .exception(&expired.exception_id)
        .and_then(|x| rules::expiry(state, x, &ctx));
    match due {
        Some(written) => same(written, event),
        None => Err(Violation::new(
            "not_expired",
            match state.exception(&expired.exception_id) {
                Some(x) => format!(
                    "exception {} is recorded as expired at {}, but it is {} then (it expires at {})",
                    x.id,
                    super::time::format(event.at),
                    x.status_at(event.at),
                    super::time::format(x.expires_at)
                ),
                None => format!(
                    "exception {} is recorded as expired but was never requested",
                    expired.exception_id
                ),
            },
        )),
    }
}

/// The rules' event against the recorded one; the first field that differs is named.
fn same(mut written: Event, recorded: &Event) -> Result<(), Violation> {
    written.idempotency.clone_from(&recorded.idempotency);
    if &written == recorded {
        return Ok(());
    }
    let (a, b) = (as_json(&written), as_json(recorded));
    let (path, rules_say, record_says) =
        first_difference(&a, &b, String::new()).unwrap_or_default();
    Err(Violation::new(
        NOT_AS_WRITTEN,
        format!(
            "{path} is recorded as {record_says}, but the rules write {rules_say} from the state before it"
        ),
    ))
}

/// An event as the fields a reader sees, for naming a difference.
fn as_json(event: &Event) -> serde_json::Value {
    #[derive(Serialize)]
    struct View<'a> {
        at: String,
        actor: &'a str,
        correlation_id: &'a str,
        #[serde(flatten)]
        kind: &'a EventKind,
    }
    serde_json::to_value(View {
        at: super::time::format(event.at),
        actor: &event.actor,
        correlation_id: &event.correlation_id,
        kind: &event.kind,
    })
    .unwrap_or_default()
}

/// The path and the two values of the first place where `a` and `b` differ.
fn first_difference(
    a: &serde_json::Value,
    b: &serde_json::Value,
    path: String,
) -> Option<(String, String, String)> {
    use serde_json::Value;
    let here = |p: &str| {
        if p.is_empty() {
            "the event".to_string()
        } else {
            p.to_string()
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (key, va) in x {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match y.get(key) {
                    Some(vb) => {
                        if let Some(found) = first_difference(va, vb, sub) {
                            return Some(found);
                        }
                    }
                    None => return Some((sub, va.to_string(), "missing".into())),
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| (format!("{path}.{k}"), "nothing".into(), y[k].to_string()))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (va, vb))| first_difference(va, vb, format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some((here(&path), a.to_string(), b.to_string())),
    }
}

/// The ids the recorded event carries, handed out in the order the rules draw them. Running
/// out gives the nil id, which no recorded event has, so the comparison then fails.
/// (An event carries at most two: a submission's request and its automatic decision.)
struct Recorded {
    ids: [Option<Uuid>; 2],
    drawn: usize,
}

impl Recorded {
    fn new(ids: [Option<Uuid>; 2]) -> Self {
        Recorded { ids, drawn: 0 }
    }

    fn one(id: Uuid) -> Self {
        Recorded::new([Some(id), None])
    }
}

impl IdSource for Recorded {
    fn next_id(&mut self) -> Uuid {
        let id = self.ids.get(self.drawn).copied().flatten();
        self.drawn += 1;
        id.unwrap_or(Uuid::nil())
    }
}

/// Judge `event` when that needs nothing of the state before it: a submission is judged by what
/// it carries alone (its gate, its decision, its fields), so a reader can judge submissions on
/// any thread, ahead of applying the events before them. `None` when the judgement needs the
/// state (every other event).
pub fn rejudge_alone(event: &Event) -> Option<Result<(), Violation>> {
    static NOTHING: std::sync::LazyLock<State> = std::sync::LazyLock::new(State::new);
    matches!(event.kind, EventKind::RequestSubmitted(_)).then(|| rejudge(&NOTHING, event))
}

/// Apply an event whose judgement [`rejudge_alone`] gave already: what [`admit`] does after
/// judging, with the same words on a contradiction.
pub fn admit_judged(state: &mut State, seq: u64, event: Event) -> Result<(), String> {
    apply(state, seq, event)
}

fn apply(state: &mut State, seq: u64, event: Event) -> Result<(), String> {
    state
        .apply(seq, event.at, event.kind)
        .map_err(|e| format!("the event contradicts the ones before it: {e}"))
}

/// Re-judge an event read from a record, then apply it: the way history that the rules did not
/// just write (a store's lines, a server's events) enters a [`State`]. The message says which
/// rule the event breaks, or how it contradicts the events before it.
pub fn admit(state: &mut State, seq: u64, event: Event) -> Result<(), String> {
    rejudge(state, &event).map_err(|v| v.to_string())?;
    apply(state, seq, event)
}
