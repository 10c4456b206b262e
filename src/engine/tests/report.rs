//! The report's numbers, checked against a ledger written by hand: every figure below was worked
//! out on paper from the timeline the test builds (what it submitted, decided, reviewed and
//! recorded, and when), not read from the engine's own queries. The timeline puts events exactly
//! at the period's start and exactly at its end, an outcome recorded after the end, a decision in
//! the period on a request submitted before it, and an exception that expires without cleanup.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use super::*;
use crate::engine::report::{
    self, Bucket, Calibration, FactorCalibration, GateCounts, Report, ReportParams, ReportQuery,
};
use crate::engine::{EventKind, OutcomeResult, Thresholds};

fn at(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).unwrap()
}

fn since() -> DateTime<Utc> {
    at(2026, 3, 1, 0)
}

fn until() -> DateTime<Utc> {
    at(2026, 4, 1, 0)
}

fn with_factors(deployment: &str, score: f64, factors: &[(&str, f64)]) -> Command {
    let mut s = submission(deployment, score);
    s.risk_factors = factors
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect::<BTreeMap<_, _>>()
        .into();
    Command::Submit(s)
}

fn outcome(request_id: Uuid, result: OutcomeResult) -> Command {
    Command::RecordOutcome {
        request_id,
        result,
        incident: None,
        note: None,
    }
}

/// The timeline, in the order it happened. Ids are kept by the names the ledger uses.
struct Timeline {
    world: World,
}

impl Timeline {
    fn at(&mut self, when: DateTime<Utc>) -> &mut World {
        self.world.now = when;
        &mut self.world
    }

    fn submit(&mut self, when: DateTime<Utc>, name: &str, score: f64, f: &[(&str, f64)]) -> Uuid {
        self.at(when).ok(&rita(), with_factors(name, score, f))[0]
            .kind
            .request_id()
    }

    fn exception(&mut self, when: DateTime<Utc>, request: Uuid, days: i64) -> Uuid {
        self.at(when).ask_exception(request, Some(days))
    }
}

fn busy_month() -> World {
    let mut t = Timeline {
        world: World::new(),
    };
    // Before the period: R10 waits for ever; R0 is decided inside the period.
    t.submit(at(2025, 12, 1, 0), "r10", 60.0, &[]);
    let r0 = t.submit(at(2026, 2, 20, 0), "r0", 60.0, &[]);
    // Exactly at `since`: counted.
    let r1 = t.submit(since(), "r1", 20.0, &[("change_size", 1.0)]);
    t.at(at(2026, 3, 2, 0)).ok(&carol(), approve(r0));
    let r11 = t.submit(at(2026, 3, 2, 0), "r11", 5.0, &[]);
    t.at(at(2026, 3, 3, 0))
        .ok(&ravi(), outcome(r1, OutcomeResult::Success));
    // R0 was submitted before the period: its outcome is not the period's.
    t.at(at(2026, 3, 3, 0))
        .ok(&ravi(), outcome(r0, OutcomeResult::Failure));
    let r2 = t.submit(at(2026, 3, 5, 10), "r2", 60.0, &[]);
    t.at(at(2026, 3, 5, 16)).ok(&colin(), reject(r2));
    let r3 = t.submit(
        at(2026, 3, 10, 10),
        "r3",
        70.0,
        &[("change_size", 5.0), ("blast_radius", 2.0)],
    );
    t.at(at(2026, 3, 11, 10))
        .ok(&carol(), approve_with(r3, &["watch the error budget"]));
    t.at(at(2026, 3, 12, 0))
        .ok(&ravi(), outcome(r3, OutcomeResult::Failure));
    // R4: an exception approved for 7 days, expiring in the period without cleanup.
    let r4 = t.submit(at(2026, 3, 15, 0), "r4", 90.0, &[("change_size", 3.0)]);
    let e1 = t.exception(at(2026, 3, 15, 12), r4, 7);
    t.at(at(2026, 3, 16, 0))
        .review_exception(e1, Review::Approve);
    t.at(at(2026, 3, 17, 0))
        .ok(&ravi(), outcome(r4, OutcomeResult::RolledBack));
    // R5: active at the end, expiring in 19 days.
    let r5 = t.submit(
        at(2026, 3, 20, 0),
        "r5",
        95.0,
        &[("change_size", 2.0), ("blast_radius", 9.0)],
    );
    let e2 = t.exception(at(2026, 3, 20, 0), r5, 30);
    t.at(at(2026, 3, 21, 0))
        .review_exception(e2, Review::Approve);
    t.at(at(2026, 3, 22, 0))
        .ok(&ravi(), outcome(r5, OutcomeResult::Success));
    // R6: active at the end, expiring within 7 days of it.
    let r6 = t.submit(at(2026, 3, 25, 0), "r6", 80.0, &[("blast_radius", 4.0)]);
    let e3 = t.exception(at(2026, 3, 25, 0), r6, 10);
    t.at(at(2026, 3, 26, 0))
        .review_exception(e3, Review::Approve);
    t.at(at(2026, 3, 27, 0))
        .ok(&ravi(), outcome(r6, OutcomeResult::Failure));
    // R7: its exception is rejected; it waits.
    let r7 = t.submit(at(2026, 3, 28, 0), "r7", 85.0, &[]);
    let e4 = t.exception(at(2026, 3, 28, 0), r7, 30);
    t.at(at(2026, 3, 29, 0))
        .review_exception(e4, Review::Reject);
    // R8 waits, an hour old at the end.
    t.submit(at(2026, 3, 31, 23), "r8", 55.0, &[]);
    // Exactly at `until`: not counted, though the snapshot holds it.
    t.submit(until(), "r9", 10.0, &[]);
    // After the end: an outcome of a request of the period, recorded too late to count.
    t.at(at(2026, 4, 2, 0))
        .ok(&ravi(), outcome(r11, OutcomeResult::Failure));
    t.world
}

fn params(by: Bucket, what_if: Option<(f64, f64)>) -> ReportParams {
    ReportParams {
        since: since(),
        until: until(),
        by,
        what_if: what_if.map(|(a, r)| Thresholds::new(a, r).unwrap()),
    }
}

/// The report as `--at until` would give it: the events up to the end, replayed.
fn report_of(world: &World, params: &ReportParams) -> Report {
    let state = State::replay_as_of(&world.log, params.until).expect("the log replays");
    report::compute(&state, params)
}

#[test]
fn counts_of_the_period_match_the_ledger_with_events_at_both_edges() {
    let r = report_of(&busy_month(), &params(Bucket::Month, None));
    assert_eq!(
        r.requests.submitted, 9,
        "R1..R8 and R11; not R0, R10, nor R9 at until"
    );
    assert_eq!(
        r.requests.by_gate,
        GateCounts {
            auto_approved: 2,
            manual_review: 3,
            exception_required: 4
        }
    );
    assert_eq!(
        (
            r.decisions.auto_approved,
            r.decisions.approved,
            r.decisions.conditional,
            r.decisions.rejected
        ),
        (2, 1, 1, 1),
        "R9's automatic decision at until is not in the period; R0's decision is"
    );
    assert_eq!(r.approval_rate, Some(2.0 / 3.0));
    assert_eq!(r.auto_approval_share, Some(2.0 / 9.0));
}

#[test]
fn lead_time_percentiles_are_nearest_rank_over_the_periods_manual_decisions() {
    let r = report_of(&busy_month(), &params(Bucket::Month, None));
    let lt = r.decision_lead_time_hours;
    // R0: 240 h (submitted before the period), R2: 6 h, R3: 24 h.
    assert_eq!(lt.count, 3);
    assert_eq!(lt.p50, Some(24.0), "ceil(0.5 * 3) = 2nd smallest");
    assert_eq!(lt.p90, Some(240.0), "ceil(0.9 * 3) = 3rd smallest");
    assert_eq!(lt.max, Some(240.0));
}

#[test]
fn pending_at_the_end_counts_what_waits_with_whole_day_ages() {
    let p = report_of(&busy_month(), &params(Bucket::Month, None)).pending;
    assert_eq!(p.under_review, 2, "R8 and R10");
    assert_eq!(
        p.exception_required, 2,
        "R7 (exception rejected) and R4 (exception expired without cleanup)"
    );
    assert_eq!(
        p.age_days.rows(),
        [
            ("0-1", 1),
            ("2-5", 1),
            ("6-30", 1),
            ("31-90", 0),
            (">90", 1)
        ],
        "R8 0 days, R7 4, R4 17, R10 121"
    );
}

#[test]
fn exceptions_count_requests_reviews_expiries_and_the_end_snapshot() {
    let x = report_of(&busy_month(), &params(Bucket::Month, None)).exceptions;
    assert_eq!((x.requested, x.approved, x.rejected), (4, 3, 1));
    assert_eq!(x.expired, 1, "E1 expired on 03-22 though cleanup never ran");
    assert_eq!(x.active_at_end, 2, "E2 and E3");
    assert_eq!(x.expiring_within_7_days, 1, "E3 expires 04-04, E2 04-19");
}

#[test]
fn approvers_are_ordered_by_manual_decisions_then_name() {
    let r = report_of(&busy_month(), &params(Bucket::Month, None));
    let rows: Vec<(&str, u64, u64, u64)> = r
        .approvers
        .iter()
        .map(|a| (a.approver.as_str(), a.approved, a.conditional, a.rejected))
        .collect();
    assert_eq!(rows, [("carol", 1, 1, 0), ("colin", 0, 0, 1)]);
}

#[test]
fn outcomes_count_the_periods_requests_recorded_by_the_end_by_gate_and_band() {
    let o = report_of(&busy_month(), &params(Bucket::Month, None)).outcomes;
    // R1 success, R3 failure, R4 rolled back, R5 success, R6 failure; not R0 (submitted
    // before), not R11 (recorded after the end).
    assert_eq!((o.recorded, o.failures), (5, 3));
    assert_eq!(o.failure_rate, Some(0.6));
    let g = o.by_gate;
    assert_eq!((g.auto_approved.recorded, g.auto_approved.failures), (1, 0));
    assert_eq!(g.auto_approved.failure_rate, Some(0.0));
    assert_eq!((g.manual_review.recorded, g.manual_review.failures), (1, 1));
    assert_eq!(
        (
            g.exception_required.recorded,
            g.exception_required.failures,
            g.exception_required.failure_rate
        ),
        (3, 2, Some(2.0 / 3.0))
    );
    let bands: Vec<(&str, u64, u64)> = o
        .by_risk_band
        .iter()
        .map(|b| (b.band.as_str(), b.recorded, b.failures))
        .collect();
    assert_eq!(
        bands,
        [
            ("0-10", 0, 0),
            ("10-20", 0, 0),
            ("20-30", 1, 0),
            ("30-40", 0, 0),
            ("40-50", 0, 0),
            ("50-60", 0, 0),
            ("60-70", 0, 0),
            ("70-80", 1, 1),
            ("80-90", 1, 1),
            ("90-100", 2, 1),
        ]
    );
    assert_eq!(o.by_risk_band[0].failure_rate, None, "no outcome, no rate");
}

#[test]
fn calibration_ranks_failures_above_successes_per_score_and_factor() {
    let c = report_of(&busy_month(), &params(Bucket::Month, None)).calibration;
    // Failures score 70, 90, 80; successes 20, 95: 3 of 6 pairs ranked right.
    // change_size: failures 5, 3; successes 1, 2. blast_radius: failures 2, 4; success 9.
    let expected = Calibration {
        score_auc: 0.5,
        factors: BTreeMap::from([
            (
                "blast_radius".to_string(),
                FactorCalibration {
                    auc: Some(0.0),
                    mean_failure: Some(3.0),
                    mean_success: Some(9.0),
                },
            ),
            (
                "change_size".to_string(),
                FactorCalibration {
                    auc: Some(1.0),
                    mean_failure: Some(4.0),
                    mean_success: Some(1.5),
                },
            ),
        ]),
    };
    assert_eq!(c, Some(expected));
}

#[test]
fn what_if_regates_the_periods_submissions_and_counts_failures_it_would_auto_approve() {
    let w = report_of(&busy_month(), &params(Bucket::Month, Some((60.0, 85.0))))
        .what_if
        .expect("a what-if was asked");
    // Scores 20, 5 stay auto; 60 (R2) and 55 (R8) become auto; 70 stays manual; 80 and 85
    // become manual; 90 and 95 stay exceptions.
    assert_eq!(
        w.by_gate,
        GateCounts {
            auto_approved: 4,
            manual_review: 3,
            exception_required: 2
        }
    );
    assert_eq!(
        w.changes,
        BTreeMap::from([
            ("exception_required->manual_review".to_string(), 2),
            ("manual_review->auto_approved".to_string(), 2),
        ])
    );
    assert_eq!(w.failures_auto_approved, 0, "failures scored 70, 80 and 90");
    let w = report_of(&busy_month(), &params(Bucket::Month, Some((85.0, 90.0))))
        .what_if
        .expect("a what-if was asked");
    assert_eq!(w.failures_auto_approved, 2, "R3 (70) and R6 (80)");
    assert_eq!(
        (
            w.thresholds.auto_approve_max,
            w.thresholds.manual_review_max
        ),
        (85.0, 90.0)
    );
}

#[test]
fn months_touching_the_period_are_listed_with_counts_cut_to_it() {
    let rows = report_of(&busy_month(), &params(Bucket::Month, None)).periods;
    assert_eq!(rows.len(), 1, "only March touches [03-01, 04-01)");
    let m = &rows[0];
    assert_eq!(m.start, since());
    assert_eq!(
        (
            m.submitted,
            m.auto_approved,
            m.approved,
            m.conditional,
            m.rejected
        ),
        (9, 2, 1, 1, 1)
    );
    assert_eq!((m.exceptions_requested, m.exceptions_approved), (4, 3));
    assert_eq!(m.lead_time_hours_p50, Some(24.0));
}

#[test]
fn weeks_start_on_monday_before_the_period_and_count_only_inside_it() {
    let rows = report_of(&busy_month(), &params(Bucket::Week, None)).periods;
    let starts: Vec<DateTime<Utc>> = rows.iter().map(|r| r.start).collect();
    // 2026-03-01 is a Sunday: its week starts Monday 02-23; the last week starts 03-30.
    assert_eq!(
        starts,
        [23, 2, 9, 16, 23, 30]
            .iter()
            .zip([2, 3, 3, 3, 3, 3])
            .map(|(d, m)| at(2026, m, *d, 0))
            .collect::<Vec<_>>()
    );
    // Week of 02-23, cut to Sunday 03-01: only R1, at `since`.
    assert_eq!((rows[0].submitted, rows[0].auto_approved), (1, 1));
    assert_eq!(rows[0].approved, 0, "R0's approval is on Monday 03-02");
    // Week of 03-02: R11 and R2 submitted; R0 approved (240 h) and R2 rejected (6 h).
    let w = &rows[1];
    assert_eq!(
        (w.submitted, w.auto_approved, w.approved, w.rejected),
        (2, 1, 1, 1)
    );
    assert_eq!(
        w.lead_time_hours_p50,
        Some(6.0),
        "ceil(0.5 * 2) = 1st of [6, 240]"
    );
    // Week of 03-30, cut to 04-01: R8 only; R9 at `until` is outside.
    assert_eq!((rows[5].submitted, rows[5].auto_approved), (1, 0));
    assert_eq!(rows[5].lead_time_hours_p50, None);
}

#[test]
fn an_empty_period_reports_zeros_and_nulls_with_every_gate_and_band_listed() {
    let r = report::compute(&State::new(), &params(Bucket::Month, None));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["requests"]["submitted"], 0);
    assert_eq!(json["approval_rate"], Value::Null);
    assert_eq!(json["auto_approval_share"], Value::Null);
    assert_eq!(
        json["decision_lead_time_hours"],
        serde_json::json!({"count": 0, "p50": null, "p90": null, "max": null})
    );
    assert_eq!(json["outcomes"]["failure_rate"], Value::Null);
    for gate in ["auto_approved", "manual_review", "exception_required"] {
        assert_eq!(
            json["outcomes"]["by_gate"][gate],
            serde_json::json!({"recorded": 0, "failures": 0, "failure_rate": null})
        );
    }
    assert_eq!(
        json["outcomes"]["by_risk_band"].as_array().unwrap().len(),
        10
    );
    assert_eq!(json["calibration"], Value::Null);
    assert_eq!(json["periods"].as_array().unwrap().len(), 1);
    assert_eq!(json["periods"][0]["lead_time_hours_p50"], Value::Null);
    assert_eq!(json["approvers"], serde_json::json!([]));
    assert!(json.get("what_if").is_none(), "what_if only with a flag");
}

#[test]
fn the_json_object_has_exactly_the_fields_of_the_contract() {
    let r = report_of(&busy_month(), &params(Bucket::Month, Some((60.0, 85.0))));
    let json = serde_json::to_value(&r).unwrap();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let sorted = |names: &[&str]| {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(
        keys(&json),
        sorted(&[
            "period",
            "requests",
            "decisions",
            "approval_rate",
            "auto_approval_share",
            "decision_lead_time_hours",
            "pending",
            "exceptions",
            "periods",
            "approvers",
            "outcomes",
            "calibration",
            "what_if"
        ])
    );
    assert_eq!(json["period"]["since"], "2026-03-01T00:00:00Z");
    assert_eq!(json["period"]["until"], "2026-04-01T00:00:00Z");
    assert_eq!(
        keys(&json["pending"]["age_days"]),
        sorted(&["0-1", "2-5", "6-30", "31-90", ">90"])
    );
    assert_eq!(
        keys(&json["exceptions"]),
        sorted(&[
            "requested",
            "approved",
            "rejected",
            "expired",
            "active_at_end",
            "expiring_within_7_days"
        ])
    );
    assert_eq!(
        keys(&json["periods"][0]),
        sorted(&[
            "start",
            "submitted",
            "auto_approved",
            "approved",
            "conditional",
            "rejected",
            "exceptions_requested",
            "exceptions_approved",
            "lead_time_hours_p50"
        ])
    );
    assert_eq!(
        keys(&json["what_if"]),
        sorted(&["thresholds", "by_gate", "changes", "failures_auto_approved"])
    );
    assert_eq!(
        json["what_if"]["changes"]["manual_review->auto_approved"],
        2
    );
    assert_eq!(
        keys(&json["calibration"]["factors"]["change_size"]),
        sorted(&["auc", "mean_failure", "mean_success"])
    );
    // It reads back as the same report (the remote client parses it).
    let back: Report = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn calibration_is_null_below_two_failures_or_two_successes() {
    let mut w = World::new();
    for (i, result) in [
        OutcomeResult::Success,
        OutcomeResult::Success,
        OutcomeResult::Failure,
    ]
    .into_iter()
    .enumerate()
    {
        w.now = since() + Duration::hours(i as i64);
        let r = w.submit(&format!("d{i}"), 10.0);
        w.ok(&ravi(), outcome(r, result));
    }
    let r = report_of(&w, &params(Bucket::Month, None));
    assert_eq!((r.outcomes.recorded, r.outcomes.failures), (3, 1));
    assert_eq!(r.calibration, None);
}

#[test]
fn a_query_defaults_to_ninety_days_before_now_and_keeps_configured_thresholds() {
    let now = at(2026, 6, 1, 12);
    let p = ReportQuery::default()
        .resolve(now, Thresholds::default())
        .unwrap();
    assert_eq!(
        (p.since, p.until, p.by),
        (now - Duration::days(90), now, Bucket::Month)
    );
    assert_eq!(p.what_if, None);
    let q = ReportQuery {
        what_if_review_max: Some(80.0),
        ..ReportQuery::default()
    };
    let t = q
        .resolve(now, Thresholds::default())
        .unwrap()
        .what_if
        .unwrap();
    assert_eq!((t.auto_approve_max(), t.manual_review_max()), (50.0, 80.0));
}

#[test]
fn a_query_whose_period_is_empty_or_backwards_or_thresholds_crossed_is_invalid() {
    let now = at(2026, 6, 1, 12);
    let backwards = ReportQuery {
        since: Some(now),
        until: Some(now),
        ..ReportQuery::default()
    };
    assert_eq!(
        backwards
            .resolve(now, Thresholds::default())
            .unwrap_err()
            .field,
        "since"
    );
    let crossed = ReportQuery {
        what_if_auto_max: Some(80.0),
        ..ReportQuery::default()
    };
    assert_eq!(
        crossed
            .resolve(now, Thresholds::default())
            .unwrap_err()
            .field,
        "what_if"
    );
    let out_of_range = ReportQuery {
        what_if_review_max: Some(120.0),
        ..ReportQuery::default()
    };
    assert!(out_of_range.resolve(now, Thresholds::default()).is_err());
}

/// The definition, pair by pair, that the rank formula must agree with.
fn auc_by_pairs(values: &[(f64, bool)]) -> Option<f64> {
    let fails: Vec<f64> = values.iter().filter(|v| v.1).map(|v| v.0).collect();
    let oks: Vec<f64> = values.iter().filter(|v| !v.1).map(|v| v.0).collect();
    if fails.is_empty() || oks.is_empty() {
        return None;
    }
    let mut wins = 0.0;
    for f in &fails {
        for s in &oks {
            wins += if f > s {
                1.0
            } else if f == s {
                0.5
            } else {
                0.0
            };
        }
    }
    Some(wins / (fails.len() * oks.len()) as f64)
}

proptest! {
    #[test]
    fn auc_from_ranks_equals_the_pairwise_definition_ties_counting_half(
        values in prop::collection::vec((0u8..12, any::<bool>()), 0..60)
    ) {
        let values: Vec<(f64, bool)> = values.into_iter().map(|(v, f)| (f64::from(v), f)).collect();
        let fast = report::auc(values.iter().copied());
        let slow = auc_by_pairs(&values);
        match (fast, slow) {
            (Some(a), Some(b)) => prop_assert!((a - b).abs() < 1e-12, "{a} vs {b}"),
            (a, b) => prop_assert_eq!(a, b),
        }
    }

    #[test]
    fn nearest_rank_is_the_ceil_p_n_th_smallest(
        mut values in prop::collection::vec(0u16..1000, 1..80),
        p in 1usize..=100,
    ) {
        let mut floats: Vec<f64> = values.iter().map(|v| f64::from(*v)).collect();
        values.sort_unstable();
        let n = values.len();
        // Smallest k with k >= p * n / 100, by counting rather than dividing.
        let k = (1..=n).find(|k| 100 * k >= p * n).unwrap();
        prop_assert_eq!(report::nearest_rank(&mut floats, p), Some(f64::from(values[k - 1])));
    }
}

#[test]
fn over_all_time_every_recorded_outcome_is_counted() {
    // Every outcome event in the log is one the report can see: the counts of outcome events
    // of requests submitted in a period that covers everything equal the report's total.
    let w = busy_month();
    let everything = ReportParams {
        since: at(2025, 1, 1, 0),
        until: at(2027, 1, 1, 0),
        by: Bucket::Month,
        what_if: None,
    };
    let recorded = w
        .log
        .iter()
        .filter(|e| matches!(e.event.kind, EventKind::OutcomeRecorded(_)))
        .count() as u64;
    assert_eq!(report_of(&w, &everything).outcomes.recorded, recorded);
}

#[test]
fn a_week_starting_before_the_year_2000_is_written_and_read_back() {
    let p = ReportParams {
        since: at(2000, 1, 1, 0),
        until: at(2000, 1, 10, 0),
        by: Bucket::Week,
        what_if: None,
    };
    let r = report::compute(&State::new(), &p);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["periods"][0]["start"], "1999-12-27T00:00:00Z");
    let back: Report = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}
