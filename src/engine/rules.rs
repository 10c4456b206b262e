//! The workflow rules: state + command + clock in, events or a refusal out.
//! Nothing here touches a file, a socket or the system clock; ids and time come in through
//! [`Ctx`], so every rule can be tested by the thousand and behaves the same on every backend.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::error::{EngineError, Invalid, Refusal};
use super::event::{
    Event, EventKind, ExceptionExpired, ExceptionRequested, ExceptionReviewed, OutcomeRecorded,
    RequestDecided, RequestSubmitted,
};
use super::factors::RiskFactors;
use super::model::{
    Actor, ApprovalRequest, Decision, DecisionKind, ExceptionStatus, Gate, Outcome, OutcomeResult,
    Policy, RequestStatus, RiskScore, Role, SYSTEM_ACTOR, SecurityException,
};
use super::state::State;
use super::text::Text;

/// Where new ids come from: random in production, seeded in the demo, counted in tests.
pub trait IdSource {
    fn next_id(&mut self) -> Uuid;
}

/// Fresh random UUID v4s.
pub struct RandomIds;

impl IdSource for RandomIds {
    fn next_id(&mut self) -> Uuid {
        Uuid::new_v4()
    }
}

/// Everything about "who, when and under which policy" a command is judged with.
pub struct Ctx<'a> {
    pub actor: &'a Actor,
    pub now: DateTime<Utc>,
    pub policy: &'a Policy,
}

/// A new request, as given by the caller: validated here, not before.
///
/// Its texts are [`Text`]s, so the request written from it shares them rather than copying
/// them (and a recorded request is turned back into its submission without a copy either).
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub deployment_intent_id: Text,
    pub evidence_package_id: Text,
    pub title: Option<Text>,
    pub risk_score: f64,
    pub risk_factors: RiskFactors,
    pub correlation_id: Option<Text>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Approve; with one or more conditions this is a conditional approval.
    Approve {
        conditions: Vec<String>,
    },
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    Approve,
    Reject,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Submit(Submission),
    Decide {
        request_id: Uuid,
        verdict: Verdict,
        rationale: String,
    },
    RequestException {
        request_id: Uuid,
        justification: String,
        compensating_controls: Vec<String>,
        expiry_days: Option<i64>,
    },
    ReviewException {
        exception_id: Uuid,
        review: Review,
        rationale: String,
    },
    /// Record the expiry of every pending or approved exception whose time has passed.
    Cleanup,
    /// Record how the deployment of an eligible request went.
    RecordOutcome {
        request_id: Uuid,
        result: OutcomeResult,
        incident: Option<String>,
        note: Option<String>,
    },
}

pub const DEFAULT_EXPIRY_DAYS: i64 = 30;
pub const MAX_EXPIRY_DAYS: i64 = 90;
/// Identifiers (deployment, evidence, correlation, factor names) longer than this are refused.
pub const MAX_ID_LEN: usize = 256;
/// Free text (titles, rationales, justifications, conditions, controls) longer than this is refused.
pub const MAX_TEXT_LEN: usize = 10_000;
/// Lists (conditions, controls, factors) longer than this are refused.
pub const MAX_ITEMS: usize = 100;

/// Judge one command against the state. On success, the events to append, in order;
/// an empty list means there was nothing to record (a cleanup with nothing expired).
pub fn handle(
    state: &State,
    command: &Command,
    ctx: &Ctx,
    ids: &mut dyn IdSource,
) -> Result<Vec<Event>, EngineError> {
    match handle_one(state, command, ctx, ids) {
        Some(one) => one.map(|event| vec![event]),
        None => Ok(cleanup(state, ctx)),
    }
}

/// Judge a command that writes exactly one event when it is accepted: every command but
/// [`Command::Cleanup`], for which this is `None`. What [`handle`] does, without a list.
pub(super) fn handle_one(
    state: &State,
    command: &Command,
    ctx: &Ctx,
    ids: &mut dyn IdSource,
) -> Option<Result<Event, EngineError>> {
    Some(match command {
        Command::Submit(submission) => submit(submission, ctx, ids),
        Command::Decide {
            request_id,
            verdict,
            rationale,
        } => decide(state, *request_id, verdict, rationale, ctx, ids),
        Command::RequestException {
            request_id,
            justification,
            compensating_controls,
            expiry_days,
        } => request_exception(
            state,
            *request_id,
            justification,
            compensating_controls,
            *expiry_days,
            ctx,
            ids,
        ),
        Command::ReviewException {
            exception_id,
            review,
            rationale,
        } => review_exception(state, *exception_id, *review, rationale, ctx),
        Command::Cleanup => return None,
        Command::RecordOutcome {
            request_id,
            result,
            incident,
            note,
        } => record_outcome(
            state,
            *request_id,
            *result,
            incident.as_deref(),
            note.as_deref(),
            ctx,
            ids,
        ),
    })
}

/// Takes no state, by design: a submission is judged by what it carries alone, which lets a
/// reader judge recorded submissions in parallel (`rejudge::rejudge_alone`).
fn submit(s: &Submission, ctx: &Ctx, ids: &mut dyn IdSource) -> Result<Event, EngineError> {
    required_id("deployment_intent_id", &s.deployment_intent_id)?;
    required_id("evidence_package_id", &s.evidence_package_id)?;
    let score = RiskScore::new(s.risk_score)?;
    let title = match &s.title {
        Some(t) if !t.trim().is_empty() => {
            bounded_text("title", t)?;
            Some(t.clone())
        }
        _ => None,
    };
    if s.risk_factors.len() > MAX_ITEMS {
        return Err(Invalid::new(
            "risk_factors",
            format!("at most {MAX_ITEMS} risk factors may be given"),
        )
        .into());
    }
    for (name, value) in &s.risk_factors {
        named_id("risk_factors", "a risk factor's name", name)?;
        if !value.is_finite() {
            return Err(Invalid::new(
                "risk_factors",
                format!("risk factor {name:?} must be a finite number"),
            )
            .into());
        }
    }
    let correlation_id = match &s.correlation_id {
        Some(c) => {
            required_id("correlation_id", c)?;
            c.clone()
        }
        None => Text::from(ids.next_id().to_string()),
    };

    let thresholds = ctx.policy.thresholds;
    let gate = thresholds.gate(score);
    let id = ids.next_id();
    let (status, decision) = match gate {
        Gate::AutoApproved => {
            let decision = Decision {
                id: ids.next_id(),
                request_id: id,
                decision: DecisionKind::AutoApproved,
                approver: SYSTEM_ACTOR.into(),
                rationale: Text::from(format!(
                    "risk score {score} is at or below the auto-approve maximum {}",
                    thresholds.auto_approve_max()
                )),
                conditions: Vec::new(),
                decided_at: ctx.now,
                correlation_id: correlation_id.clone(),
            };
            (RequestStatus::AutoApproved, Some(decision))
        }
        Gate::ManualReview => (RequestStatus::UnderReview, None),
        Gate::ExceptionRequired => (RequestStatus::ExceptionRequired, None),
    };
    let request = ApprovalRequest {
        id,
        deployment_intent_id: s.deployment_intent_id.clone(),
        evidence_package_id: s.evidence_package_id.clone(),
        title,
        risk_score: score,
        risk_factors: s.risk_factors.clone(),
        gate,
        thresholds,
        status,
        requested_by: ctx.actor.name.as_str().into(),
        correlation_id: correlation_id.clone(),
        submitted_at: ctx.now,
    };
    Ok(Event {
        at: ctx.now,
        actor: ctx.actor.name.clone(),
        correlation_id,
        idempotency: None,
        kind: EventKind::RequestSubmitted(RequestSubmitted { request, decision }),
    })
}

fn decide(
    state: &State,
    request_id: Uuid,
    verdict: &Verdict,
    rationale: &str,
    ctx: &Ctx,
    ids: &mut dyn IdSource,
) -> Result<Event, EngineError> {
    let rationale = required_text("rationale", rationale)?;
    let conditions = match verdict {
        Verdict::Approve { conditions } => list("conditions", conditions, false)?,
        Verdict::Reject => Vec::new(),
    };
    let request = find_request(state, request_id)?;
    let action = match verdict {
        Verdict::Approve { .. } => "approve requests",
        Verdict::Reject => "reject requests",
    };
    require_role(ctx.actor, Role::CabMember, action)?;
    if request.requested_by == ctx.actor.name {
        return Err(Refusal::SeparationOfDuties {
            user: ctx.actor.name.clone(),
            relation: format!("submitted request {}", request.short_id()),
            action: "decide it",
        }
        .into());
    }
    if let Some(existing) = state.decision(&request_id) {
        return Err(Refusal::AlreadyDecided(Box::new(existing.clone())).into());
    }
    if request.status == RequestStatus::ExceptionRequired {
        return Err(Refusal::ExceptionRequired {
            request_id,
            score: request.risk_score.to_string(),
            max: request.thresholds.manual_review_max(),
        }
        .into());
    }
    not_before(ctx, request.submitted_at, || {
        format!("request {} was submitted", request.short_id())
    })?;
    let kind = match verdict {
        Verdict::Reject => DecisionKind::Rejected,
        Verdict::Approve { .. } if conditions.is_empty() => DecisionKind::Approved,
        Verdict::Approve { .. } => DecisionKind::Conditional,
    };
    let decision = Decision {
        id: ids.next_id(),
        request_id,
        decision: kind,
        approver: ctx.actor.name.as_str().into(),
        rationale: rationale.into(),
        conditions: conditions.into_iter().map(Text::from).collect(),
        decided_at: ctx.now,
        correlation_id: request.correlation_id.clone(),
    };
    Ok(Event {
        at: ctx.now,
        actor: ctx.actor.name.clone(),
        correlation_id: request.correlation_id.clone(),
        idempotency: None,
        kind: EventKind::RequestDecided(RequestDecided {
            deployment_intent_id: request.deployment_intent_id.clone(),
            decision,
        }),
    })
}

fn request_exception(
    state: &State,
    request_id: Uuid,
    justification: &str,
    controls: &[String],
    expiry_days: Option<i64>,
    ctx: &Ctx,
    ids: &mut dyn IdSource,
) -> Result<Event, EngineError> {
    let justification = required_text("justification", justification)?;
    let controls = list("compensating_controls", controls, true)?;
    let days = expiry_days.unwrap_or(DEFAULT_EXPIRY_DAYS);
    if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
        return Err(Invalid::new(
            "expiry_days",
            format!(
                "expiry must be a whole number of days from 1 to {MAX_EXPIRY_DAYS}, got {days}; there are no permanent exceptions"
            ),
        )
        .into());
    }
    let expires_at = ctx.now + Duration::days(days);
    if !super::time::in_range(expires_at) {
        return Err(Invalid::new(
            "expiry_days",
            format!(
                "an exception of {days} days requested at {} would expire after the year 9000, beyond the times cab keeps",
                super::time::format(ctx.now)
            ),
        )
        .into());
    }
    let request = find_request(state, request_id)?;
    if request.status != RequestStatus::ExceptionRequired {
        return Err(Refusal::NoExceptionNeeded {
            request_id,
            status: request.status.to_string(),
        }
        .into());
    }
    if let Some(open) = state
        .exceptions_for(&request_id)
        .find(|e| e.is_open(ctx.now))
    {
        return Err(Refusal::ExceptionOpen {
            request_id,
            exception_id: open.id,
            status: open.status_at(ctx.now),
        }
        .into());
    }
    not_before(ctx, request.submitted_at, || {
        format!("request {} was submitted", request.short_id())
    })?;
    let exception = SecurityException {
        id: ids.next_id(),
        request_id,
        deployment_intent_id: request.deployment_intent_id.clone(),
        justification: justification.into(),
        compensating_controls: controls.into_iter().map(Text::from).collect(),
        requested_by: ctx.actor.name.as_str().into(),
        requested_at: ctx.now,
        expires_at,
        status: ExceptionStatus::Pending,
        reviewed_by: None,
        reviewed_at: None,
        review_rationale: None,
    };
    Ok(Event {
        at: ctx.now,
        actor: ctx.actor.name.clone(),
        correlation_id: request.correlation_id.clone(),
        idempotency: None,
        kind: EventKind::ExceptionRequested(ExceptionRequested { exception }),
    })
}

fn review_exception(
    state: &State,
    exception_id: Uuid,
    review: Review,
    rationale: &str,
    ctx: &Ctx,
) -> Result<Event, EngineError> {
    let rationale = required_text("rationale", rationale)?;
    let exception = state
        .exception(&exception_id)
        .ok_or_else(|| EngineError::NotFound {
            what: "exception",
            id: exception_id.to_string(),
        })?;
    let request = find_request(state, exception.request_id)?;
    let action = match review {
        Review::Approve => "approve exceptions",
        Review::Reject => "reject exceptions",
    };
    require_role(ctx.actor, Role::SecurityReviewer, action)?;
    if exception.requested_by == ctx.actor.name {
        return Err(Refusal::SeparationOfDuties {
            user: ctx.actor.name.clone(),
            relation: format!("requested exception {}", exception.short_id()),
            action: "review it",
        }
        .into());
    }
    if request.requested_by == ctx.actor.name {
        return Err(Refusal::SeparationOfDuties {
            user: ctx.actor.name.clone(),
            relation: format!(
                "submitted request {}, which exception {} is for,",
                request.short_id(),
                exception.short_id()
            ),
            action: "review it",
        }
        .into());
    }
    match exception.status_at(ctx.now) {
        ExceptionStatus::Pending => {}
        ExceptionStatus::Expired => {
            return Err(Refusal::ExceptionExpired {
                exception_id,
                expires_at: exception.expires_at,
            }
            .into());
        }
        status @ (ExceptionStatus::Approved | ExceptionStatus::Rejected) => {
            return Err(Refusal::AlreadyReviewed {
                exception_id,
                status,
                by: exception
                    .reviewed_by
                    .as_ref()
                    .map(Text::to_string)
                    .unwrap_or_default(),
                at: exception.reviewed_at.unwrap_or(exception.requested_at),
            }
            .into());
        }
    }
    not_before(ctx, exception.requested_at, || {
        format!("exception {} was requested", exception.short_id())
    })?;
    Ok(Event {
        at: ctx.now,
        actor: ctx.actor.name.clone(),
        correlation_id: request.correlation_id.clone(),
        idempotency: None,
        kind: EventKind::ExceptionReviewed(ExceptionReviewed {
            exception_id,
            request_id: request.id,
            deployment_intent_id: request.deployment_intent_id.clone(),
            status: match review {
                Review::Approve => ExceptionStatus::Approved,
                Review::Reject => ExceptionStatus::Rejected,
            },
            reviewed_by: ctx.actor.name.as_str().into(),
            reviewed_at: ctx.now,
            review_rationale: rationale.into(),
        }),
    })
}

fn cleanup(state: &State, ctx: &Ctx) -> Vec<Event> {
    state
        .exceptions()
        .filter_map(|e| expiry(state, e, ctx))
        .collect()
}

/// The expiry that cleanup records now for one exception: `None` unless it is pending or
/// approved and its time has passed. Re-judging a recorded expiry asks this of its one
/// exception, instead of running the whole cleanup (which visits every exception) per line.
pub fn expiry(state: &State, e: &SecurityException, ctx: &Ctx) -> Option<Event> {
    let due = matches!(
        e.status,
        ExceptionStatus::Pending | ExceptionStatus::Approved
    ) && e.is_expired(ctx.now);
    due.then(|| Event {
        at: ctx.now,
        actor: ctx.actor.name.clone(),
        correlation_id: state
            .request(&e.request_id)
            .map(|r| r.correlation_id.clone())
            .unwrap_or_default(),
        idempotency: None,
        kind: EventKind::ExceptionExpired(ExceptionExpired {
            exception_id: e.id,
            request_id: e.request_id,
            deployment_intent_id: e.deployment_intent_id.clone(),
            expires_at: e.expires_at,
        }),
    })
}

fn record_outcome(
    state: &State,
    request_id: Uuid,
    result: OutcomeResult,
    incident: Option<&str>,
    note: Option<&str>,
    ctx: &Ctx,
    ids: &mut dyn IdSource,
) -> Result<Event, EngineError> {
    let incident = incident.map(|i| required_id("incident", i)).transpose()?;
    let note = note.map(|n| given_text("note", n)).transpose()?;
    let request = find_request(state, request_id)?;
    if let Some(existing) = state.outcome(&request_id) {
        return Err(Refusal::OutcomeRecorded(Box::new(existing.clone())).into());
    }
    // Eligible now, and since when: the record that made it so is what the outcome acts on.
    let since = match request.status {
        RequestStatus::AutoApproved | RequestStatus::Approved | RequestStatus::Conditional => {
            state.decision(&request_id).map(|d| d.decided_at)
        }
        RequestStatus::ExceptionRequired => state
            .exceptions_for(&request_id)
            .find(|e| e.is_active(ctx.now))
            .and_then(|e| e.reviewed_at),
        RequestStatus::UnderReview | RequestStatus::Rejected => None,
    };
    let Some(since) = since else {
        let status = match request.status {
            RequestStatus::ExceptionRequired => "exception_required without an active exception",
            other => other.as_str(),
        };
        return Err(Refusal::NotEligible {
            request_id,
            status: status.to_string(),
        }
        .into());
    };
    not_before(ctx, since, || {
        format!("request {} became eligible", request.short_id())
    })?;
    let outcome = Outcome {
        id: ids.next_id(),
        request_id,
        deployment_intent_id: request.deployment_intent_id.clone(),
        result,
        incident: incident.map(Text::from),
        note: note.map(Text::from),
        recorded_by: ctx.actor.name.as_str().into(),
        recorded_at: ctx.now,
    };
    Ok(Event {
        at: ctx.now,
        actor: ctx.actor.name.clone(),
        correlation_id: request.correlation_id.clone(),
        idempotency: None,
        kind: EventKind::OutcomeRecorded(OutcomeRecorded { outcome }),
    })
}

// ----- small parsers shared by the rules -----

fn find_request(state: &State, id: Uuid) -> Result<&ApprovalRequest, EngineError> {
    state.request(&id).ok_or_else(|| EngineError::NotFound {
        what: "request",
        id: id.to_string(),
    })
}

/// An action is dated at or after the record it acts on: a clock set back (CAB_NOW) must not
/// write a decision that seems to come before its request.
fn not_before(ctx: &Ctx, at: DateTime<Utc>, what: impl FnOnce() -> String) -> Result<(), Refusal> {
    if ctx.now < at {
        return Err(Refusal::BeforeRecord {
            what: what(),
            at,
            now: ctx.now,
        });
    }
    Ok(())
}

fn require_role(actor: &Actor, role: Role, action: &'static str) -> Result<(), Refusal> {
    if actor.has(role) {
        Ok(())
    } else {
        Err(Refusal::MissingRole {
            user: actor.name.clone(),
            action,
            role,
            has: actor.roles_text(),
        })
    }
}

fn required_id<'a>(field: &'static str, value: &'a str) -> Result<&'a str, Invalid> {
    named_id(field, field, value)
}

/// An identifier in `field`, refused in words about `what` (the field itself, or a part of it
/// such as a risk factor's name).
fn named_id<'a>(field: &'static str, what: &str, value: &'a str) -> Result<&'a str, Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid::new(field, format!("{what} must not be empty")));
    }
    // No more bytes than the limit is no more characters either (counting them is slower).
    if value.len() > MAX_ID_LEN && value.chars().count() > MAX_ID_LEN {
        return Err(Invalid::new(
            field,
            format!("{what} must be at most {MAX_ID_LEN} characters"),
        ));
    }
    Ok(value)
}

fn bounded_text<'a>(field: &'static str, value: &'a str) -> Result<&'a str, Invalid> {
    if value.len() > MAX_TEXT_LEN && value.chars().count() > MAX_TEXT_LEN {
        return Err(Invalid::new(
            field,
            format!("{field} must be at most {MAX_TEXT_LEN} characters"),
        ));
    }
    Ok(value)
}

fn required_text<'a>(field: &'static str, value: &'a str) -> Result<&'a str, Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid::new(
            field,
            format!("a {field} is required and must not be empty"),
        ));
    }
    bounded_text(field, value)
}

/// Text that may be left out, but is not blank when given.
fn given_text<'a>(field: &'static str, value: &'a str) -> Result<&'a str, Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid::new(
            field,
            format!("a {field}, when given, must not be empty; leave it out for none"),
        ));
    }
    bounded_text(field, value)
}

fn list(field: &'static str, items: &[String], at_least_one: bool) -> Result<Vec<String>, Invalid> {
    if at_least_one && items.is_empty() {
        return Err(Invalid::new(
            field,
            format!("at least one of {field} is required"),
        ));
    }
    if items.len() > MAX_ITEMS {
        return Err(Invalid::new(
            field,
            format!("at most {MAX_ITEMS} {field} may be given"),
        ));
    }
    items
        .iter()
        .map(|item| {
            if item.trim().is_empty() {
                Err(Invalid::new(
                    field,
                    format!("each of {field} must be non-empty"),
                ))
            } else {
                bounded_text(field, item).map(str::to_string)
            }
        })
        .collect()
}
