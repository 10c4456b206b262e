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
use super::factors::RiskFactors;
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
                Invalid::new("what_if", format!("what-if thresholds: {}", e.message))
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

/// The gates in the order every renderer lists them.
pub const GATES: [Gate; 3] = [
    Gate::AutoApproved,
    Gate::ManualReview,
    Gate::ExceptionRequired,
];

impl GateCounts {
    /// Each gate with its count, in [`GATES`] order.
    pub fn rows(&self) -> [(Gate, u64); 3] {
        GATES.map(|g| (g, self.get(g)))
    }

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

impl ExceptionCounts {
    /// The figures with the words renderers label them by, in order.
    pub fn rows(&self) -> [(&'static str, u64); 6] {
        [
            ("requested", self.requested),
            ("approved", self.approved),
            ("rejected", self.rejected),
            ("expired", self.expired),
            ("active at the end", self.active_at_end),
            ("expiring within 7 days", self.expiring_within_7_days),
        ]
    }
}

/// One week or month of the period, its counts cut to the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodRow {
    /// A bucket may start before the period, and so before the year 2000 when the period
    /// starts on 2000-01-01: written as RFC 3339 like every time, read back without the range
    /// check of times in the record.
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

impl OutcomesByGate {
    pub fn get(&self, gate: Gate) -> &OutcomeCounts {
        match gate {
            Gate::AutoApproved => &self.auto_approved,
            Gate::ManualReview => &self.manual_review,
            Gate::ExceptionRequired => &self.exception_required,
        }
    }

    /// Each gate with its outcomes, in [`GATES`] order.
    pub fn rows(&self) -> [(Gate, &OutcomeCounts); 3] {
        GATES.map(|g| (g, self.get(g)))
    }
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

/// Risk bands of `outcomes.by_risk_band`: `[0,10)`, ..., `[80,90)`, `[90,100]`.
pub const BANDS: usize = 10;

/// The name of band `i`: `0-10`, ..., `90-100`.
pub fn band_name(i: usize) -> String {
    format!("{}-{}", i * 10, i * 10 + 10)
}

/// The band a score falls in.
pub fn band_of(score: f64) -> usize {
    ((score / 10.0).floor().max(0.0) as usize).min(BANDS - 1)
}

/// The report of `state`, which must be the state as of `params.until` (what `--at until`
/// gives): counts over `[since, until)`, snapshots at `until`.
pub fn compute(state: &State, params: &ReportParams) -> Report {
    let (since, until) = (params.since, params.until);
    let within = |t: DateTime<Utc>| since <= t && t < until;
    let buckets = bucket_starts(params.by, since, until);
    let bucket = |t: DateTime<Utc>| buckets.partition_point(|start| *start <= t) - 1;
    let mut rows: Vec<PeriodRow> = buckets.iter().map(|&start| PeriodRow::new(start)).collect();
    let mut row_leads: Vec<Vec<f64>> = vec![Vec::new(); buckets.len()];

    let mut requests = RequestCounts::default();
    let mut decisions = DecisionCounts::default();
    let mut leads = Vec::new();
    let mut approvers: BTreeMap<&str, ApproverRow> = BTreeMap::new();
    let mut pending = Pending::default();
    let mut outcomes = OutcomeTally::default();
    let mut what_if = params.what_if.map(WhatIfTally::new);

    for (request, decision, outcome) in state.records() {
        if request.submitted_at > until {
            continue;
        }
        let submitted_here = within(request.submitted_at);
        if submitted_here {
            requests.submitted += 1;
            requests.by_gate.add(request.gate);
            rows[bucket(request.submitted_at)].submitted += 1;
            if let Some(w) = &mut what_if {
                w.regate(request.gate, request.risk_score.value());
            }
        }
        if let Some(d) = decision.filter(|d| within(d.decided_at)) {
            decisions.add(d.decision);
            let row = bucket(d.decided_at);
            rows[row].add(d.decision);
            if d.decision != DecisionKind::AutoApproved {
                let hours = hours(d.decided_at - request.submitted_at);
                leads.push(hours);
                row_leads[row].push(hours);
                approvers
                    .entry(d.approver.as_str())
                    .or_insert_with(|| ApproverRow {
                        approver: d.approver.to_string(),
                        approved: 0,
                        conditional: 0,
                        rejected: 0,
                    })
                    .add(d.decision);
            }
        }
        let waiting = match request.status {
            RequestStatus::UnderReview => {
                pending.under_review += 1;
                true
            }
            RequestStatus::ExceptionRequired
                if !state
                    .exceptions_for(&request.id)
                    .any(|e| e.is_active(until)) =>
            {
                pending.exception_required += 1;
                true
            }
            _ => false,
        };
        if waiting {
            pending
                .age_days
                .add((until - request.submitted_at).num_days());
        }
        if let Some(o) = outcome.filter(|o| submitted_here && o.recorded_at <= until) {
            let failed = o.result.is_failure();
            outcomes.add(request.gate, request.risk_score.value(), failed);
            outcomes
                .ranked
                .push((request.risk_score.value(), &request.risk_factors, failed));
            if let Some(w) = &mut what_if {
                w.failure(failed, request.risk_score.value());
            }
        }
    }

    let mut exceptions = ExceptionCounts::default();
    let week_after = until + Duration::days(7);
    for x in state.exceptions() {
        if x.requested_at > until {
            continue;
        }
        if within(x.requested_at) {
            exceptions.requested += 1;
            rows[bucket(x.requested_at)].exceptions_requested += 1;
        }
        // Only an approval can be followed by an expiry; a rejection is final.
        let approved = matches!(
            x.status,
            ExceptionStatus::Approved | ExceptionStatus::Expired
        ) && x.reviewed_at.is_some();
        if let Some(reviewed) = x.reviewed_at.filter(|t| within(*t) && *t <= until) {
            if approved {
                exceptions.approved += 1;
                rows[bucket(reviewed)].exceptions_approved += 1;
            } else if x.status == ExceptionStatus::Rejected {
                exceptions.rejected += 1;
            }
        }
        if x.status != ExceptionStatus::Rejected && within(x.expires_at) {
            exceptions.expired += 1;
        }
        if x.is_active(until) {
            exceptions.active_at_end += 1;
            if x.expires_at <= week_after {
                exceptions.expiring_within_7_days += 1;
            }
        }
    }

    for (row, mut hours) in rows.iter_mut().zip(row_leads) {
        row.lead_time_hours_p50 = nearest_rank(&mut hours, 50);
    }
    let mut approvers: Vec<ApproverRow> = approvers.into_values().collect();
    approvers.sort_by(|a, b| {
        b.total()
            .cmp(&a.total())
            .then_with(|| a.approver.cmp(&b.approver))
    });
    let manual = decisions.approved + decisions.conditional + decisions.rejected;
    let lead_count = leads.len() as u64;
    let decision_lead_time_hours = LeadTime {
        count: lead_count,
        p50: nearest_rank(&mut leads, 50),
        p90: nearest_rank(&mut leads, 90),
        max: leads.last().copied(),
    };
    Report {
        period: Period { since, until },
        requests,
        decisions,
        approval_rate: ratio(decisions.approved + decisions.conditional, manual),
        auto_approval_share: ratio(requests.by_gate.auto_approved, requests.submitted),
        decision_lead_time_hours,
        pending,
        exceptions,
        periods: rows,
        approvers,
        calibration: calibration(&outcomes.ranked),
        outcomes: outcomes.finish(),
        what_if: what_if.map(WhatIfTally::finish),
    }
}

impl PeriodRow {
    /// A period with nothing in it yet.
    pub fn new(start: DateTime<Utc>) -> Self {
        PeriodRow {
            start,
            submitted: 0,
            auto_approved: 0,
            approved: 0,
            conditional: 0,
            rejected: 0,
            exceptions_requested: 0,
            exceptions_approved: 0,
            lead_time_hours_p50: None,
        }
    }

    fn add(&mut self, kind: DecisionKind) {
        match kind {
            DecisionKind::AutoApproved => self.auto_approved += 1,
            DecisionKind::Approved => self.approved += 1,
            DecisionKind::Conditional => self.conditional += 1,
            DecisionKind::Rejected => self.rejected += 1,
        }
    }
}

impl ApproverRow {
    fn add(&mut self, kind: DecisionKind) {
        match kind {
            DecisionKind::Approved => self.approved += 1,
            DecisionKind::Conditional => self.conditional += 1,
            DecisionKind::Rejected => self.rejected += 1,
            DecisionKind::AutoApproved => {}
        }
    }
}

impl OutcomeCounts {
    fn add(&mut self, failed: bool) {
        self.recorded += 1;
        self.failures += u64::from(failed);
        self.failure_rate = ratio(self.failures, self.recorded);
    }
}

/// Outcomes as they are counted, and what calibration ranks: score, factors, failed.
#[derive(Default)]
struct OutcomeTally<'a> {
    all: OutcomeCounts,
    by_gate: OutcomesByGate,
    bands: [OutcomeCounts; BANDS],
    ranked: Vec<(f64, &'a RiskFactors, bool)>,
}

impl OutcomeTally<'_> {
    fn add(&mut self, gate: Gate, score: f64, failed: bool) {
        self.all.add(failed);
        match gate {
            Gate::AutoApproved => self.by_gate.auto_approved.add(failed),
            Gate::ManualReview => self.by_gate.manual_review.add(failed),
            Gate::ExceptionRequired => self.by_gate.exception_required.add(failed),
        }
        self.bands[band_of(score)].add(failed);
    }

    fn finish(self) -> Outcomes {
        Outcomes {
            recorded: self.all.recorded,
            failures: self.all.failures,
            failure_rate: self.all.failure_rate,
            by_gate: self.by_gate,
            by_risk_band: self
                .bands
                .iter()
                .enumerate()
                .map(|(i, c)| BandRow {
                    band: band_name(i),
                    recorded: c.recorded,
                    failures: c.failures,
                    failure_rate: c.failure_rate,
                })
                .collect(),
        }
    }
}

/// The period's submissions re-gated under other thresholds.
struct WhatIfTally {
    thresholds: Thresholds,
    by_gate: GateCounts,
    changes: BTreeMap<String, u64>,
    failures_auto_approved: u64,
}

impl WhatIfTally {
    fn new(thresholds: Thresholds) -> Self {
        WhatIfTally {
            thresholds,
            by_gate: GateCounts::default(),
            changes: BTreeMap::new(),
            failures_auto_approved: 0,
        }
    }

    fn gate(&self, score: f64) -> Gate {
        // Scores in the state are valid; a score outside 0..=100 cannot reach here.
        match super::model::RiskScore::new(score) {
            Ok(score) => self.thresholds.gate(score),
            Err(_) => Gate::ExceptionRequired,
        }
    }

    fn regate(&mut self, recorded: Gate, score: f64) {
        let gate = self.gate(score);
        self.by_gate.add(gate);
        if gate != recorded {
            *self
                .changes
                .entry(format!("{}->{}", recorded.as_str(), gate.as_str()))
                .or_default() += 1;
        }
    }

    fn failure(&mut self, failed: bool, score: f64) {
        if failed && self.gate(score) == Gate::AutoApproved {
            self.failures_auto_approved += 1;
        }
    }

    fn finish(self) -> WhatIf {
        WhatIf {
            thresholds: WhatIfThresholds {
                auto_approve_max: self.thresholds.auto_approve_max(),
                manual_review_max: self.thresholds.manual_review_max(),
            },
            by_gate: self.by_gate,
            changes: self.changes,
            failures_auto_approved: self.failures_auto_approved,
        }
    }
}

/// How well the score, and each factor alone, ranks failures above successes; `None` below
/// two of either.
fn calibration(ranked: &[(f64, &RiskFactors, bool)]) -> Option<Calibration> {
    let failures = ranked.iter().filter(|r| r.2).count();
    if failures < 2 || ranked.len() - failures < 2 {
        return None;
    }
    let score_auc = auc(ranked.iter().map(|r| (r.0, r.2)))?;
    let mut names: Vec<&str> = ranked.iter().flat_map(|r| r.1.names()).collect();
    names.sort_unstable();
    names.dedup();
    let factors = names
        .into_iter()
        .map(|name| {
            let values: Vec<(f64, bool)> = ranked
                .iter()
                .filter_map(|r| r.1.get(name).map(|v| (*v, r.2)))
                .collect();
            let mean = |failed: bool| {
                let side: Vec<f64> = values
                    .iter()
                    .filter(|v| v.1 == failed)
                    .map(|v| v.0)
                    .collect();
                (!side.is_empty()).then(|| side.iter().sum::<f64>() / side.len() as f64)
            };
            let figures = FactorCalibration {
                auc: auc(values.iter().copied()),
                mean_failure: mean(true),
                mean_success: mean(false),
            };
            (name.to_string(), figures)
        })
        .collect();
    Some(Calibration { score_auc, factors })
}

/// The area under the ROC curve of `(value, failed)`: the chance that a failure's value is
/// above a success's, ties counting half. Computed from ranks (Mann-Whitney U), so it takes
/// n log n, not failures x successes. `None` without at least one of each.
pub fn auc(values: impl IntoIterator<Item = (f64, bool)>) -> Option<f64> {
    let mut values: Vec<(f64, bool)> = values.into_iter().collect();
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let failures = values.iter().filter(|v| v.1).count() as f64;
    let successes = values.len() as f64 - failures;
    if failures == 0.0 || successes == 0.0 {
        return None;
    }
    // Sum of the failures' ranks, tied values sharing the mean of their ranks.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j < values.len() && values[j].0 == values[i].0 {
            j += 1;
        }
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        let tied_failures = values[i..j].iter().filter(|v| v.1).count() as f64;
        rank_sum += mean_rank * tied_failures;
        i = j;
    }
    Some((rank_sum - failures * (failures + 1.0) / 2.0) / (failures * successes))
}

/// The `p`-th percentile by nearest rank: the ceil(p/100 * n)-th smallest. Sorts `values`.
pub fn nearest_rank(values: &mut [f64], p: usize) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (p * values.len()).div_ceil(100).max(1);
    Some(values[rank - 1])
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// A span in hours, fractions of a second included.
fn hours(span: Duration) -> f64 {
    (span.num_seconds() as f64 + f64::from(span.subsec_nanos()) / 1e9) / 3600.0
}

/// The starts of the weeks or months that touch `[since, until)`, in order.
pub fn bucket_starts(by: Bucket, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let day = since.date_naive();
    let first = match by {
        Bucket::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        Bucket::Month => day.with_day(1).unwrap_or(day),
    };
    let mut starts = Vec::new();
    let mut start = first;
    loop {
        let at = Utc.from_utc_datetime(&start.and_time(chrono::NaiveTime::MIN));
        if at >= until {
            break;
        }
        starts.push(at);
        start = match by {
            Bucket::Week => start + Duration::days(7),
            Bucket::Month => next_month(start),
        };
    }
    starts
}

fn next_month(day: NaiveDate) -> NaiveDate {
    let (y, m) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(day + Duration::days(31))
}
