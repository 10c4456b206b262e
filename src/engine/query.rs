//! Questions asked of the state: the queue, one request with its decision and exceptions, the
//! exception list, and whether a deployment may be promoted. The views here are exactly the JSON
//! shapes of SPEC section 3, shared by the command line, the server and the remote client.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::Invalid;
use super::event::StoredEvent;
use super::model::{
    ApprovalRequest, Decision, ExceptionStatus, Policy, RequestStatus, SecurityException,
};
use super::state::State;
use super::time;

/// A request with its decision and its exceptions as of a moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestView {
    #[serde(flatten)]
    pub request: ApprovalRequest,
    pub decision: Option<Decision>,
    pub exceptions: Vec<ExceptionView>,
}

/// A request with its event history, as `cab show` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestDetail {
    #[serde(flatten)]
    pub view: RequestView,
    pub history: Vec<StoredEvent>,
}

/// An exception with the status a query reports (expired once its time has passed) and the
/// derived flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionView {
    #[serde(flatten)]
    pub exception: SecurityException,
    pub is_active: bool,
    pub is_expired: bool,
}

impl ExceptionView {
    pub fn at(exception: &SecurityException, now: DateTime<Utc>) -> Self {
        let mut exception = exception.clone();
        let is_expired = exception.is_expired(now);
        let is_active = exception.is_active(now);
        exception.status = exception.status_at(now);
        ExceptionView {
            exception,
            is_active,
            is_expired,
        }
    }
}

pub fn request_view(state: &State, request: &ApprovalRequest, now: DateTime<Utc>) -> RequestView {
    RequestView {
        request: request.clone(),
        decision: state.decision(&request.id).cloned(),
        exceptions: state
            .exceptions_for(&request.id)
            .map(|e| ExceptionView::at(e, now))
            .collect(),
    }
}

/// Which requests a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequestFilter {
    /// Those awaiting action: under review, or needing an exception that is not active.
    #[default]
    Pending,
    Status(RequestStatus),
    All,
}

impl FromStr for RequestFilter {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "pending" => Ok(RequestFilter::Pending),
            "all" => Ok(RequestFilter::All),
            other => RequestStatus::from_str(other).map(RequestFilter::Status),
        }
    }
}

impl RequestFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestFilter::Pending => "pending",
            RequestFilter::All => "all",
            RequestFilter::Status(s) => s.as_str(),
        }
    }

    pub fn matches(self, state: &State, request: &ApprovalRequest, now: DateTime<Utc>) -> bool {
        match self {
            RequestFilter::All => true,
            RequestFilter::Status(status) => request.status == status,
            RequestFilter::Pending => match request.status {
                RequestStatus::UnderReview => true,
                RequestStatus::ExceptionRequired => {
                    !state.exceptions_for(&request.id).any(|e| e.is_active(now))
                }
                _ => false,
            },
        }
    }
}

/// Requests matching a filter, optionally of one deployment, oldest first.
pub fn requests(
    state: &State,
    filter: RequestFilter,
    deployment: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<RequestView> {
    let candidates: Box<dyn Iterator<Item = &ApprovalRequest>> = match filter {
        RequestFilter::Pending => Box::new(state.awaiting()),
        _ => Box::new(state.requests()),
    };
    candidates
        .filter(|r| deployment.is_none_or(|d| r.deployment_intent_id == d))
        .filter(|r| filter.matches(state, r, now))
        .map(|r| request_view(state, r, now))
        .collect()
}

/// Which exceptions a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExceptionFilter {
    #[default]
    All,
    Status(ExceptionStatus),
    /// Approved and not expired.
    Active,
}

impl FromStr for ExceptionFilter {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Ok(match s {
            "all" => ExceptionFilter::All,
            "active" => ExceptionFilter::Active,
            "pending" => ExceptionFilter::Status(ExceptionStatus::Pending),
            "approved" => ExceptionFilter::Status(ExceptionStatus::Approved),
            "rejected" => ExceptionFilter::Status(ExceptionStatus::Rejected),
            "expired" => ExceptionFilter::Status(ExceptionStatus::Expired),
            other => {
                return Err(Invalid::new(
                    "status",
                    format!(
                        "unknown exception status {other:?}; expected pending, approved, rejected, expired or active"
                    ),
                ));
            }
        })
    }
}

impl ExceptionFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionFilter::All => "all",
            ExceptionFilter::Active => "active",
            ExceptionFilter::Status(s) => s.as_str(),
        }
    }

    pub fn matches(self, exception: &SecurityException, now: DateTime<Utc>) -> bool {
        match self {
            ExceptionFilter::All => true,
            ExceptionFilter::Active => exception.is_active(now),
            ExceptionFilter::Status(status) => exception.status_at(now) == status,
        }
    }
}

/// Exceptions matching a filter, oldest first.
pub fn exceptions(
    state: &State,
    filter: ExceptionFilter,
    now: DateTime<Utc>,
) -> Vec<ExceptionView> {
    state
        .exceptions()
        .filter(|e| filter.matches(e, now))
        .map(|e| ExceptionView::at(e, now))
        .collect()
}

/// Why a deployment may or may not be promoted: a stable code for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    AutoApproved,
    Approved,
    Conditional,
    ActiveException,
    RingExempt,
    NoRequest,
    UnderReview,
    Rejected,
    ExceptionNotRequested,
    ExceptionPending,
    ExceptionRejected,
    ExceptionExpired,
}

/// The answer to "may this deployment be promoted, and if not, why?".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    pub deployment_intent_id: String,
    pub eligible: bool,
    pub reason: String,
    pub reason_code: ReasonCode,
    pub ring: Option<u32>,
    pub request: Option<RequestView>,
    pub active_exception: Option<ExceptionView>,
}

/// Promotion eligibility of a deployment, from its most recently submitted request.
pub fn status(
    state: &State,
    deployment: &str,
    ring: Option<u32>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> StatusView {
    let request = state.latest_for_deployment(deployment);
    let view = request.map(|r| request_view(state, r, now));
    let active = view
        .as_ref()
        .and_then(|v| v.exceptions.iter().rev().find(|e| e.is_active).cloned());

    let (eligible, code, reason) = match (ring, &view) {
        (Some(ring), _) if ring < policy.approval_required_from_ring => (
            true,
            ReasonCode::RingExempt,
            format!(
                "ring {ring} is below ring {}, from which approval is required",
                policy.approval_required_from_ring
            ),
        ),
        (_, None) => (
            false,
            ReasonCode::NoRequest,
            "no approval request has been submitted for this deployment".to_string(),
        ),
        (_, Some(view)) => judge(view, active.as_ref()),
    };
    StatusView {
        deployment_intent_id: deployment.to_string(),
        eligible,
        reason,
        reason_code: code,
        ring,
        request: view,
        active_exception: active,
    }
}

fn judge(view: &RequestView, active: Option<&ExceptionView>) -> (bool, ReasonCode, String) {
    let r = &view.request;
    let decided = |d: &Decision| format!("by {} at {}", d.approver, time::format(d.decided_at));
    match (r.status, &view.decision) {
        (RequestStatus::AutoApproved, _) => (
            true,
            ReasonCode::AutoApproved,
            format!(
                "auto-approved: risk {} is at or below {}",
                r.risk_score,
                r.thresholds.auto_approve_max()
            ),
        ),
        (RequestStatus::Approved, Some(d)) => (
            true,
            ReasonCode::Approved,
            format!("approved {}", decided(d)),
        ),
        (RequestStatus::Conditional, Some(d)) => (
            true,
            ReasonCode::Conditional,
            format!(
                "approved with conditions {}: {}",
                decided(d),
                d.conditions.join("; ")
            ),
        ),
        (RequestStatus::Rejected, Some(d)) => (
            false,
            ReasonCode::Rejected,
            format!("rejected {}: {}", decided(d), d.rationale),
        ),
        (RequestStatus::UnderReview, _) => (
            false,
            ReasonCode::UnderReview,
            "under review: waiting for a CAB member's decision".to_string(),
        ),
        (RequestStatus::ExceptionRequired, _) => match active {
            Some(e) => (
                true,
                ReasonCode::ActiveException,
                format!(
                    "security exception {} approved by {} is active until {}",
                    e.exception.short_id(),
                    e.exception.reviewed_by.as_deref().unwrap_or("?"),
                    time::format(e.exception.expires_at)
                ),
            ),
            None => exception_missing(view),
        },
        // A decided status without its decision record cannot come out of a replay.
        (_, None) => (
            false,
            ReasonCode::UnderReview,
            "the request's decision record is missing".to_string(),
        ),
    }
}

fn exception_missing(view: &RequestView) -> (bool, ReasonCode, String) {
    let r = &view.request;
    let head = format!(
        "exception required (risk {} above {})",
        r.risk_score,
        r.thresholds.manual_review_max()
    );
    match view.exceptions.last() {
        None => (
            false,
            ReasonCode::ExceptionNotRequested,
            format!("{head}: none requested"),
        ),
        Some(e) => {
            let x = &e.exception;
            match x.status {
                ExceptionStatus::Pending => (
                    false,
                    ReasonCode::ExceptionPending,
                    format!(
                        "{head}: exception {} is pending security review",
                        x.short_id()
                    ),
                ),
                ExceptionStatus::Rejected => (
                    false,
                    ReasonCode::ExceptionRejected,
                    format!(
                        "{head}: exception {} was rejected by {}",
                        x.short_id(),
                        x.reviewed_by.as_deref().unwrap_or("?")
                    ),
                ),
                ExceptionStatus::Expired | ExceptionStatus::Approved => (
                    false,
                    ReasonCode::ExceptionExpired,
                    format!(
                        "{head}: exception {} expired at {}",
                        x.short_id(),
                        time::format(x.expires_at)
                    ),
                ),
            }
        }
    }
}

/// Where a deployment stands, in the five words a deploy tool waits on (`GET /v1/gate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateState {
    Approved,
    Pending,
    Rejected,
    Expired,
    None,
}

impl ReasonCode {
    /// The gate state this reason puts a deployment in. Every reason is listed: a new one must
    /// say whether a tool keeps waiting (`pending`) or stops (`rejected`, `expired`).
    pub fn gate_state(self) -> GateState {
        match self {
            ReasonCode::AutoApproved
            | ReasonCode::Approved
            | ReasonCode::Conditional
            | ReasonCode::ActiveException
            | ReasonCode::RingExempt => GateState::Approved,
            ReasonCode::UnderReview
            | ReasonCode::ExceptionNotRequested
            | ReasonCode::ExceptionPending => GateState::Pending,
            ReasonCode::Rejected | ReasonCode::ExceptionRejected => GateState::Rejected,
            ReasonCode::ExceptionExpired => GateState::Expired,
            ReasonCode::NoRequest => GateState::None,
        }
    }
}

/// The answer of `GET /v1/gate`: the status without the request, for tools that poll a URL
/// and test one field (SPEC section 7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateView {
    pub deployment_intent_id: String,
    pub ring: Option<u32>,
    pub eligible: bool,
    pub state: GateState,
    pub reason: String,
    pub reason_code: ReasonCode,
}

impl From<&StatusView> for GateView {
    fn from(status: &StatusView) -> Self {
        GateView {
            deployment_intent_id: status.deployment_intent_id.clone(),
            ring: status.ring,
            eligible: status.eligible,
            state: status.reason_code.gate_state(),
            reason: status.reason.clone(),
            reason_code: status.reason_code,
        }
    }
}

/// Counts for a status bar or a summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    pub under_review: usize,
    pub exception_required: usize,
    pub exceptions_pending: usize,
    /// Active exceptions that expire within 72 hours.
    pub expiring_soon: usize,
}

pub const EXPIRING_SOON_HOURS: i64 = 72;

/// Whether an exception is approved, not yet expired, and expires within 72 hours: the ones
/// the status bar counts and whose expiry notice is due.
pub fn is_expiring_soon(exception: &SecurityException, now: DateTime<Utc>) -> bool {
    exception.status_at(now) == ExceptionStatus::Approved
        && exception.expires_at <= now + chrono::Duration::hours(EXPIRING_SOON_HOURS)
}

/// Approved exceptions that expire within 72 hours, soonest first.
pub fn expiring_soon(state: &State, now: DateTime<Utc>) -> Vec<ExceptionView> {
    let mut soon: Vec<ExceptionView> = state
        .exceptions()
        .filter(|e| is_expiring_soon(e, now))
        .map(|e| ExceptionView::at(e, now))
        .collect();
    soon.sort_by_key(|x| (x.exception.expires_at, x.exception.id));
    soon
}

pub fn counts(state: &State, now: DateTime<Utc>) -> Counts {
    let mut counts = Counts::default();
    for r in state.awaiting() {
        match r.status {
            RequestStatus::UnderReview => counts.under_review += 1,
            RequestStatus::ExceptionRequired if RequestFilter::Pending.matches(state, r, now) => {
                counts.exception_required += 1
            }
            _ => {}
        }
    }
    for e in state.exceptions() {
        if e.status_at(now) == ExceptionStatus::Pending {
            counts.exceptions_pending += 1;
        } else if is_expiring_soon(e, now) {
            counts.expiring_soon += 1;
        }
    }
    counts
}
