//! The domain's nouns: risk scores, thresholds, gates, requests, decisions, exceptions, roles.
//! A value of these types that exists is valid: constructors parse, they do not merely check.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::Invalid;
use super::factors::RiskFactors;
use super::text::Text;
use super::time;

/// A risk score: a finite number from 0 to 100 inclusive.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct RiskScore(f64);

impl RiskScore {
    pub fn new(value: f64) -> Result<Self, Invalid> {
        if value.is_finite() && (0.0..=100.0).contains(&value) {
            // -0.0 is 0; keep it from ever reading "-0".
            Ok(RiskScore(value + 0.0))
        } else {
            Err(Invalid::new(
                "risk_score",
                format!("risk score must be a number from 0 to 100, got {value}"),
            ))
        }
    }

    pub fn value(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for RiskScore {
    type Error = Invalid;
    fn try_from(value: f64) -> Result<Self, Invalid> {
        RiskScore::new(value)
    }
}

impl From<RiskScore> for f64 {
    fn from(score: RiskScore) -> f64 {
        score.0
    }
}

impl FromStr for RiskScore {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let value: f64 = s.trim().parse().map_err(|_| {
            Invalid::new(
                "risk_score",
                format!("risk score must be a number from 0 to 100, got {s:?}"),
            )
        })?;
        RiskScore::new(value)
    }
}

impl fmt::Display for RiskScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Scores are usually whole or have one or two decimals; show what was given.
        if self.0.fract() == 0.0 {
            write!(f, "{:.0}", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// The two thresholds that split scores into gates: 0 <= auto_approve_max <= manual_review_max <= 100.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawThresholds")]
pub struct Thresholds {
    auto_approve_max: f64,
    manual_review_max: f64,
}

#[derive(Deserialize)]
struct RawThresholds {
    auto_approve_max: f64,
    manual_review_max: f64,
}

impl TryFrom<RawThresholds> for Thresholds {
    type Error = Invalid;
    fn try_from(raw: RawThresholds) -> Result<Self, Invalid> {
        Thresholds::new(raw.auto_approve_max, raw.manual_review_max)
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            auto_approve_max: 50.0,
            manual_review_max: 75.0,
        }
    }
}

impl Thresholds {
    pub fn new(auto_approve_max: f64, manual_review_max: f64) -> Result<Self, Invalid> {
        let in_range = |v: f64| v.is_finite() && (0.0..=100.0).contains(&v);
        if !in_range(auto_approve_max) || !in_range(manual_review_max) {
            return Err(Invalid::new(
                "thresholds",
                "thresholds must be numbers from 0 to 100",
            ));
        }
        if auto_approve_max > manual_review_max {
            return Err(Invalid::new(
                "thresholds",
                format!(
                    "auto_approve_max ({auto_approve_max}) must not be above manual_review_max ({manual_review_max})"
                ),
            ));
        }
        Ok(Thresholds {
            auto_approve_max,
            manual_review_max,
        })
    }

    pub fn auto_approve_max(&self) -> f64 {
        self.auto_approve_max
    }

    pub fn manual_review_max(&self) -> f64 {
        self.manual_review_max
    }

    /// The gate a score falls into. Monotonic in the score by construction.
    pub fn gate(&self, score: RiskScore) -> Gate {
        let s = score.value();
        if s <= self.auto_approve_max {
            Gate::AutoApproved
        } else if s <= self.manual_review_max {
            Gate::ManualReview
        } else {
            Gate::ExceptionRequired
        }
    }
}

/// Which path a request takes, decided by its score at submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    AutoApproved,
    ManualReview,
    ExceptionRequired,
}

impl Gate {
    pub const ALL: [Gate; 3] = [
        Gate::AutoApproved,
        Gate::ManualReview,
        Gate::ExceptionRequired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Gate::AutoApproved => "auto_approved",
            Gate::ManualReview => "manual_review",
            Gate::ExceptionRequired => "exception_required",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    AutoApproved,
    UnderReview,
    Approved,
    Conditional,
    Rejected,
    ExceptionRequired,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 6] = [
        RequestStatus::AutoApproved,
        RequestStatus::UnderReview,
        RequestStatus::Approved,
        RequestStatus::Conditional,
        RequestStatus::Rejected,
        RequestStatus::ExceptionRequired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::AutoApproved => "auto_approved",
            RequestStatus::UnderReview => "under_review",
            RequestStatus::Approved => "approved",
            RequestStatus::Conditional => "conditional",
            RequestStatus::Rejected => "rejected",
            RequestStatus::ExceptionRequired => "exception_required",
        }
    }
}

impl FromStr for RequestStatus {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        RequestStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                Invalid::new(
                    "status",
                    format!(
                        "unknown request status {s:?}; expected one of {}",
                        RequestStatus::ALL.map(RequestStatus::as_str).join(", ")
                    ),
                )
            })
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a decision record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    AutoApproved,
    Approved,
    Conditional,
    Rejected,
}

impl DecisionKind {
    pub const ALL: [DecisionKind; 4] = [
        DecisionKind::AutoApproved,
        DecisionKind::Approved,
        DecisionKind::Conditional,
        DecisionKind::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::AutoApproved => "auto_approved",
            DecisionKind::Approved => "approved",
            DecisionKind::Conditional => "conditional",
            DecisionKind::Rejected => "rejected",
        }
    }

    pub fn status(self) -> RequestStatus {
        match self {
            DecisionKind::AutoApproved => RequestStatus::AutoApproved,
            DecisionKind::Approved => RequestStatus::Approved,
            DecisionKind::Conditional => RequestStatus::Conditional,
            DecisionKind::Rejected => RequestStatus::Rejected,
        }
    }
}

impl fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionStatus {
    Pending,
    Approved,
    Rejected,
    Expired,
}

impl ExceptionStatus {
    pub const ALL: [ExceptionStatus; 4] = [
        ExceptionStatus::Pending,
        ExceptionStatus::Approved,
        ExceptionStatus::Rejected,
        ExceptionStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionStatus::Pending => "pending",
            ExceptionStatus::Approved => "approved",
            ExceptionStatus::Rejected => "rejected",
            ExceptionStatus::Expired => "expired",
        }
    }
}

impl fmt::Display for ExceptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user's role. Everyone is a `requester`; `system` is not a role but the automatic approver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Requester,
    CabMember,
    SecurityReviewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Requester, Role::CabMember, Role::SecurityReviewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::CabMember => "cab_member",
            Role::SecurityReviewer => "security_reviewer",
        }
    }
}

impl FromStr for Role {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let wanted = s.trim();
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == wanted)
            .ok_or_else(|| {
                Invalid::new(
                    "roles",
                    format!(
                        "unknown role {wanted:?}; roles are requester, cab_member and security_reviewer"
                    ),
                )
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name under which automatic decisions are recorded. No user may take it.
pub const SYSTEM_ACTOR: &str = "system";

/// Who is acting: a user name and the roles they hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub name: String,
    pub roles: BTreeSet<Role>,
}

impl Actor {
    pub fn new(name: &str, roles: impl IntoIterator<Item = Role>) -> Result<Self, Invalid> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Invalid::new("user", "the user name must not be empty"));
        }
        if name == SYSTEM_ACTOR {
            return Err(Invalid::new(
                "user",
                "\"system\" is reserved for automatic decisions and cannot be a user",
            ));
        }
        let mut roles: BTreeSet<Role> = roles.into_iter().collect();
        roles.insert(Role::Requester);
        Ok(Actor {
            name: name.to_string(),
            roles,
        })
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn roles_text(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A deployment's request for approval, as submitted. Its `status` moves on with decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    pub id: Uuid,
    pub deployment_intent_id: Text,
    pub evidence_package_id: Text,
    pub title: Option<Text>,
    pub risk_score: RiskScore,
    #[serde(default)]
    pub risk_factors: RiskFactors,
    pub gate: Gate,
    pub thresholds: Thresholds,
    pub status: RequestStatus,
    pub requested_by: Text,
    pub correlation_id: Text,
    #[serde(with = "time::rfc3339")]
    pub submitted_at: DateTime<Utc>,
}

impl ApprovalRequest {
    pub fn short_id(&self) -> String {
        short_id(&self.id)
    }
}

/// The one, immutable decision a request may have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub id: Uuid,
    pub request_id: Uuid,
    pub decision: DecisionKind,
    pub approver: Text,
    pub rationale: Text,
    #[serde(default)]
    pub conditions: Vec<Text>,
    #[serde(with = "time::rfc3339")]
    pub decided_at: DateTime<Utc>,
    pub correlation_id: Text,
}

/// A time-limited security exception for a high-risk request.
/// `status` here is what was recorded; [`SecurityException::status_at`] is what queries report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityException {
    pub id: Uuid,
    pub request_id: Uuid,
    pub deployment_intent_id: Text,
    pub justification: Text,
    pub compensating_controls: Vec<Text>,
    pub requested_by: Text,
    #[serde(with = "time::rfc3339")]
    pub requested_at: DateTime<Utc>,
    #[serde(with = "time::rfc3339")]
    pub expires_at: DateTime<Utc>,
    pub status: ExceptionStatus,
    pub reviewed_by: Option<Text>,
    #[serde(with = "time::rfc3339_option", default)]
    pub reviewed_at: Option<DateTime<Utc>>,
    pub review_rationale: Option<Text>,
}

impl SecurityException {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// The status every query reports: a pending or approved exception past its expiry is expired,
    /// whether or not cleanup has recorded it.
    pub fn status_at(&self, now: DateTime<Utc>) -> ExceptionStatus {
        match self.status {
            ExceptionStatus::Pending | ExceptionStatus::Approved if self.is_expired(now) => {
                ExceptionStatus::Expired
            }
            status => status,
        }
    }

    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.status_at(now) == ExceptionStatus::Approved
    }

    /// Pending or active: while one exists, no other exception may be requested for the request.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        matches!(
            self.status_at(now),
            ExceptionStatus::Pending | ExceptionStatus::Approved
        )
    }

    pub fn short_id(&self) -> String {
        short_id(&self.id)
    }
}

/// How a deployment went, as recorded after the fact by `cab outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeResult {
    Success,
    Failure,
    RolledBack,
}

impl OutcomeResult {
    pub const ALL: [OutcomeResult; 3] = [
        OutcomeResult::Success,
        OutcomeResult::Failure,
        OutcomeResult::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeResult::Success => "success",
            OutcomeResult::Failure => "failure",
            OutcomeResult::RolledBack => "rolled_back",
        }
    }

    /// Whether reports count it as a failure: `failure` and `rolled_back` both are.
    pub fn is_failure(self) -> bool {
        !matches!(self, OutcomeResult::Success)
    }
}

impl FromStr for OutcomeResult {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        OutcomeResult::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                Invalid::new(
                    "result",
                    format!("unknown outcome {s:?}; expected success, failure or rolled_back"),
                )
            })
    }
}

impl fmt::Display for OutcomeResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the deployment of an eligible request went: one per request, never changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub id: Uuid,
    pub request_id: Uuid,
    pub deployment_intent_id: Text,
    pub result: OutcomeResult,
    /// The incident it caused, as the incident tracker names it.
    pub incident: Option<Text>,
    pub note: Option<Text>,
    pub recorded_by: Text,
    #[serde(with = "time::rfc3339")]
    pub recorded_at: DateTime<Utc>,
}

/// The first eight characters of an id: what people read and type.
pub fn short_id(id: &Uuid) -> String {
    let mut s = id.to_string();
    s.truncate(8);
    s
}

/// Everything configurable that shapes decisions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub thresholds: Thresholds,
    /// Rings below this one are always eligible for promotion.
    pub approval_required_from_ring: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            thresholds: Thresholds::default(),
            approval_required_from_ring: 2,
        }
    }
}
