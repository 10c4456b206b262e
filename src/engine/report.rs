//! The record turned into answers (SPEC section 6): counts over a period, decision lead times,
//! what waits and for how long, exceptions, outcomes by gate and risk band, how well the risk
//! score ranks failed deployments (calibration) and what other thresholds would have changed.
//!
//! [`Report`] is exactly the JSON object of `cab report --json` and `GET /v1/report`; every
//! renderer (text, CSV, HTML, the console's report view) draws from it and computes nothing.
//! [`compute`] reads the state as of the period's end (`--at until`), so the snapshots
//! (`pending`, `active_at_end`, ...) and the counts come from one replay.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::error::Invalid;
use super::model::{DecisionKind, ExceptionStatus, Gate, RequestStatus, Thresholds};
use super::state::State;
use super::time;

/// How `periods` are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Weeks start on Monday 00:00 UTC.
    Week,
    /// Months start on the 1st, 00:00 UTC.
    #[default]
    Month,
}

impl Bucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }
}

impl std::str::FromStr for Bucket {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "week" => Ok(Bucket::Week),
            "month" => Ok(Bucket::Month),
            other => Err(Invalid::new(
                "by",
                format!("reports are cut by week or month, not {other:?}"),
            )),
        }
    }
}

/// What a report is asked for, as given: unset times take their defaults from the clock.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReportQuery {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub by: Bucket,
    pub what_if_auto_max: Option<f64>,
    pub what_if_review_max: Option<f64>,
}

/// A [`ReportQuery`] with its defaults filled in and checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportParams {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub by: Bucket,
    /// The thresholds to re-gate the period's submissions under, when a what-if was asked.
    pub what_if: Option<Thresholds>,
}

/// How far back `--since` goes by default.
pub const DEFAULT_DAYS: i64 = 90;

impl ReportQuery {
    /// Fill in the defaults: `until` is `now` (the clock, or `--at`), `since` 90 days before
    /// `until`; a what-if threshold not given keeps the configured one.
    pub fn resolve(
        &self,
        now: DateTime<Utc>,
        configured: Thresholds,
    ) -> Result<ReportParams, Invalid> {
        let until = self.until.unwrap_or(now);
        let since = match self.since {
            Some(since) => since,
            None => until
                .checked_sub_signed(Duration::days(DEFAULT_DAYS))
                .filter(|t| time::in_range(*t))
                .unwrap_or_else(time::earliest),
        };
        if since >= until {
            return Err(Invalid::new(
                "since",
                format!(
                    "the period must start before it ends: since {} is not before until {}",
                    time::format(since),
                    time::format(until)
                ),
            ));
        }
        let what_if = if self.what_if_auto_max.is_some() || self.what_if_review_max.is_some() {
            let auto = self
                .what_if_auto_max
                .unwrap_or(configured.auto_approve_max());
            let review = self
                .what_if_review_max
                .unwrap_or(configured.manual_review_max());
            Some(Thresholds::new(auto, review).map_err(|e| {
                Invalid::new(
                    "what_if",
                    format!("what-if thresholds: {}", e.message),
                )
            })?)
        } else {
            None
        };
        Ok(ReportParams {
            since,
            until,
            by: self.by,
            what_if,
        })
    }
}

/// The report: SPEC section 6's JSON object, field for field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub period: Period,
    pub requests: RequestCounts,
    pub decisions: DecisionCounts,
    pub approval_rate: Option<f64>,
    pub auto_approval_share: Option<f64>,
    pub decision_lead_time_hours: LeadTime,
    pub pending: Pending,
    pub exceptions: ExceptionCounts,
    pub periods: Vec<PeriodRow>,
    pub approvers: Vec<ApproverRow>,
    pub outcomes: Outcomes,
    pub calibration: Option<Calibration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what_if: Option<WhatIf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    #[serde(with = "time::rfc3339")]
    pub since: DateTime<Utc>,
    #[serde(with = "time::rfc3339")]
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GateCounts {
    pub auto_approved: u64,
    pub manual_review: u64,
    pub exception_required: u64,
}

impl GateCounts {
    pub fn get(&self, gate: Gate) -> u64 {
        match gate {
            Gate::AutoApproved => self.auto_approved,
            Gate::ManualReview => self.manual_review,
            Gate::ExceptionRequired => self.exception_required,
        }
    }

    pub fn add(&mut self, gate: Gate) {
        match gate {
            Gate::AutoApproved => self.auto_approved += 1,
            Gate::ManualReview => self.manual_review += 1,
            Gate::ExceptionRequired => self.exception_required += 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequestCounts {
    pub submitted: u64,
    pub by_gate: GateCounts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DecisionCounts {
    pub auto_approved: u64,
    pub approved: u64,
    pub conditional: u64,
    pub rejected: u64,
}

impl DecisionCounts {
    pub fn add(&mut self, kind: DecisionKind) {
        match kind {
            DecisionKind::AutoApproved => self.auto_approved += 1,
            DecisionKind::Approved => self.approved += 1,
            DecisionKind::Conditional => self.conditional += 1,
            DecisionKind::Rejected => self.rejected += 1,
        }
    }
}

/// Hours from submission to a manual decision; percentiles by nearest rank.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LeadTime {
    pub count: u64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub max: Option<f64>,
}

/// Whole days since submission, rounded down, of what waits at the period's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AgeDays {
    #[serde(rename = "0-1")]
    pub d0_1: u64,
    #[serde(rename = "2-5")]
    pub d2_5: u64,
    #[serde(rename = "6-30")]
    pub d6_30: u64,
    #[serde(rename = "31-90")]
    pub d31_90: u64,
    #[serde(rename = ">90")]
    pub over_90: u64,
}

impl AgeDays {
    /// The buckets' names and counts, in order, for renderers.
    pub fn rows(&self) -> [(&'static str, u64); 5] {
        [
            ("0-1", self.d0_1),
            ("2-5", self.d2_5),
            ("6-30", self.d6_30),
            ("31-90", self.d31_90),
            (">90", self.over_90),
        ]
    }

    pub fn add(&mut self, days: i64) {
        match days {
            i64::MIN..=1 => self.d0_1 += 1,
            2..=5 => self.d2_5 += 1,
            6..=30 => self.d6_30 += 1,
            31..=90 => self.d31_90 += 1,
            _ => self.over_90 += 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pending {
    pub under_review: u64,
    /// Those without an active exception.
    pub exception_required: u64,
    pub age_days: AgeDays,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExceptionCounts {
    pub requested: u64,
    pub approved: u64,
    pub rejected: u64,
    pub expired: u64,
    pub active_at_end: u64,
    pub expiring_within_7_days: u64,
}

/// One week or month of the period, its counts cut to the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodRow {
    #[serde(with = "time::rfc3339")]
    pub start: DateTime<Utc>,
    pub submitted: u64,
    pub auto_approved: u64,
    pub approved: u64,
    pub conditional: u64,
    pub rejected: u64,
    pub exceptions_requested: u64,
    pub exceptions_approved: u64,
    pub lead_time_hours_p50: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproverRow {
    pub approver: String,
    pub approved: u64,
    pub conditional: u64,
    pub rejected: u64,
}

impl ApproverRow {
    pub fn total(&self) -> u64 {
        self.approved + self.conditional + self.rejected
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub recorded: u64,
    pub failures: u64,
    pub failure_rate: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct OutcomesByGate {
    pub auto_approved: OutcomeCounts,
    pub manual_review: OutcomeCounts,
    pub exception_required: OutcomeCounts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandRow {
    /// `0-10`, `10-20`, ... `90-100`: `[0,10)`, ... `[90,100]`.
    pub band: String,
    pub recorded: u64,
    pub failures: u64,
    pub failure_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcomes {
    pub recorded: u64,
    pub failures: u64,
    pub failure_rate: Option<f64>,
    pub by_gate: OutcomesByGate,
    pub by_risk_band: Vec<BandRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub score_auc: f64,
    pub factors: BTreeMap<String, FactorCalibration>,
}

/// One factor alone: how well it ranks failures above successes, and its means on each side
/// (`null` where the factor is on no request of that side).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FactorCalibration {
    pub auc: Option<f64>,
    pub mean_failure: Option<f64>,
    pub mean_success: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WhatIfThresholds {
    pub auto_approve_max: f64,
    pub manual_review_max: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhatIf {
    pub thresholds: WhatIfThresholds,
    pub by_gate: GateCounts,
    /// `"manual_review->auto_approved": 12`: only moves that happen.
    pub changes: BTreeMap<String, u64>,
    pub failures_auto_approved: u64,
}
