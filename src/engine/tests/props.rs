//! Property tests: the gate is monotonic, replay is deterministic, for arbitrary runs of
//! commands by arbitrary actors at non-decreasing times the workflow's invariants hold, and the
//! state as of any moment answers as the events up to it replayed from scratch.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::{CountingIds, bea, carol, colin, ravi, rita, sara, sven, t0};
use crate::engine::query::{self, ExceptionFilter, ReasonCode, RequestFilter};
use crate::engine::rules::{self, Command, Ctx, Review, Submission, Verdict};
use crate::engine::{
    Actor, DecisionKind, Event, EventKind, ExceptionStatus, Gate, Policy, RequestStatus, RiskScore,
    SYSTEM_ACTOR, State, StoredEvent, Thresholds,
};

/// Scores that hit the default boundaries often, and anywhere in between.
fn score() -> BoxedStrategy<f64> {
    prop_oneof![
        4 => 0.0f64..=100.0,
        1 => prop::sample::select(vec![0.0, 50.0, 50.01, 75.0, 75.01, 100.0]),
    ]
    .boxed()
}

/// Valid thresholds, equal ones included.
fn thresholds() -> impl Strategy<Value = Thresholds> {
    (score(), score()).prop_map(|(a, b)| Thresholds::new(a.min(b), a.max(b)).unwrap())
}

proptest! {
    #[test]
    fn gate_is_monotonic_in_the_score(t in thresholds(), a in score(), b in score()) {
        let (low, high) = (a.min(b), a.max(b));
        let gate = |s| t.gate(RiskScore::new(s).unwrap());
        prop_assert!(gate(low) <= gate(high), "{low} -> {:?}, {high} -> {:?}", gate(low), gate(high));
    }

    #[test]
    fn gate_follows_the_thresholds_exactly(t in thresholds(), s in score()) {
        let expected = if s <= t.auto_approve_max() {
            Gate::AutoApproved
        } else if s <= t.manual_review_max() {
            Gate::ManualReview
        } else {
            Gate::ExceptionRequired
        };
        prop_assert_eq!(t.gate(RiskScore::new(s).unwrap()), expected);
    }

    #[test]
    fn score_exists_only_if_finite_and_from_0_to_100(x in any::<f64>()) {
        let valid = x.is_finite() && (0.0..=100.0).contains(&x);
        prop_assert_eq!(RiskScore::new(x).is_ok(), valid);
    }

    #[test]
    fn arbitrary_runs_keep_the_workflow_invariants(
        t in thresholds(),
        ops in ops(score()),
    ) {
        let played = play(t, &ops, false)?;
        check_queries(&played.state, &played.policy, played.now)?;
    }

    // Any score, 17 significant digits included: serde_json's `float_roundtrip` feature makes
    // the store give back exactly the float that was written.
    #[test]
    fn every_event_survives_a_json_round_trip(
        ops in ops(score()),
    ) {
        play(Thresholds::default(), &ops, true)?;
    }

    #[test]
    fn replaying_the_same_events_twice_gives_equal_states(
        t in thresholds(),
        ops in ops(score()),
    ) {
        let played = play(t, &ops, false)?;
        let replay = || {
            State::replay(played.log.clone())
                .map_err(|(seq, e)| TestCaseError::fail(format!("replay refused event {seq}: {e}")))
        };
        let (first, second) = (replay()?, replay()?);
        prop_assert_eq!(&first, &second, "two replays differ");
        prop_assert_eq!(&first, &played.state, "replay differs from the state built step by step");
    }
}

// ----- as of a moment (`--at`) -----

/// A moment to ask about, given the run's event times: exactly an event's time, a second
/// either side of one, or anywhere from a day before the run to 120 days after its last event
/// (so approved exceptions expire without cleanup).
#[derive(Debug, Clone)]
enum Moment {
    AtEvent(prop::sample::Index, i64),
    Anywhere(u32),
}

fn moment() -> impl Strategy<Value = Moment> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), -1i64..=1).prop_map(|(i, d)| Moment::AtEvent(i, d)),
        2 => any::<u32>().prop_map(Moment::Anywhere),
    ]
}

fn moment_in(log: &[(u64, DateTime<Utc>, EventKind)], m: &Moment) -> DateTime<Utc> {
    let first = log.first().map_or(t0(), |e| e.1) - Duration::days(1);
    let last = log.last().map_or(t0(), |e| e.1) + Duration::days(120);
    match m {
        Moment::AtEvent(i, d) if !log.is_empty() => {
            log[i.index(log.len())].1 + Duration::seconds(*d)
        }
        Moment::AtEvent(..) => t0(),
        Moment::Anywhere(n) => {
            first + Duration::seconds(i64::from(*n) % (last - first).num_seconds().max(1))
        }
    }
}

/// Every answer a reader gets with the clock at `now`: both queues, every exception with its
/// status of then, each deployment's status (with and without a ring), the counts, and each
/// request's history.
fn answers(state: &State, policy: &Policy, now: DateTime<Utc>) -> String {
    let mut out = format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n",
        query::requests(state, RequestFilter::Pending, None, now),
        query::requests(state, RequestFilter::All, None, now),
        query::exceptions(state, ExceptionFilter::All, now),
        query::counts(state, now),
    );
    for deployment in ["web", "api", "db", "nowhere"] {
        for ring in [None, Some(0), Some(5)] {
            let s = query::status(state, deployment, ring, policy, now);
            out.push_str(&format!("{s:?}\n"));
        }
    }
    for r in state.requests() {
        out.push_str(&format!("{:?}\n", state.history(&r.id)));
    }
    out
}

proptest! {
    #[test]
    fn the_state_as_of_a_moment_answers_as_the_events_up_to_it_replayed_from_scratch(
        t in thresholds(),
        ops in ops(score()),
        m in moment(),
    ) {
        let played = play(t, &ops, false)?;
        let at = moment_in(&played.log, &m);
        let stored: Vec<StoredEvent> = played
            .log
            .iter()
            .map(|(seq, at, kind)| StoredEvent {
                seq: *seq,
                prev: String::new(),
                hash: String::new(),
                event: Event {
                    at: *at,
                    actor: "someone".into(),
                    correlation_id: "c".into(),
                    idempotency: None,
                    kind: kind.clone(),
                },
            })
            .collect();
        // The clock never goes back in these runs: the events up to `at` are a prefix.
        let prefix: Vec<_> = played.log.iter().take_while(|e| e.1 <= at).cloned().collect();
        let from_scratch = State::replay(prefix)
            .map_err(|(seq, e)| TestCaseError::fail(format!("the prefix refused event {seq}: {e}")))?;
        let as_of = State::replay_as_of(&stored, at)
            .map_err(|(seq, e)| TestCaseError::fail(format!("as of {at}, event {seq} refused: {e}")))?;
        prop_assert_eq!(&as_of, &from_scratch, "the states as of {} differ", at);
        prop_assert_eq!(
            answers(&as_of, &played.policy, at),
            answers(&from_scratch, &played.policy, at),
            "the answers as of {} differ", at
        );
        // The store reads the events up to the moment back from the current state's records
        // (`--at` without parsing every line): each is the event recorded.
        for (seq, _, kind) in &played.log {
            let mention = crate::engine::as_of::Mention::of(kind);
            let rebuilt = mention.rebuild(&played.state);
            prop_assert_eq!(rebuilt.as_ref(), Some(kind), "event {}", seq);
        }
        // No event after the moment: the state as of it is the current state (`--at`'s fast
        // path, which reads nothing again).
        if played.state.last_at().is_none_or(|last| last <= at) {
            prop_assert_eq!(&as_of, &played.state);
        } else {
            prop_assert!(as_of.last_at().is_none_or(|last| last <= at));
        }
    }
}

// ----- arbitrary runs of commands -----

fn cast() -> [Actor; 7] {
    [rita(), ravi(), carol(), colin(), sven(), sara(), bea()]
}

#[derive(Debug, Clone)]
enum Op {
    Wait {
        minutes: i64,
    },
    Submit {
        actor: usize,
        deployment: usize,
        score: f64,
        correlation: bool,
    },
    Decide {
        actor: usize,
        target: usize,
        verdict: usize,
        blank: bool,
    },
    RequestException {
        actor: usize,
        target: usize,
        days: Option<i64>,
        controls: usize,
        blank: bool,
    },
    Review {
        actor: usize,
        target: usize,
        approve: bool,
        blank: bool,
    },
    Cleanup {
        actor: usize,
    },
}

/// A few submissions to work on, then anything.
fn ops(score: BoxedStrategy<f64>) -> impl Strategy<Value = Vec<Op>> {
    let first =
        (0..7usize, 0..3usize, score.clone()).prop_map(|(actor, deployment, score)| Op::Submit {
            actor,
            deployment,
            score,
            correlation: false,
        });
    (
        prop::collection::vec(first, 1..4),
        prop::collection::vec(op(score), 1..60),
    )
        .prop_map(|(mut first, then)| {
            first.extend(then);
            first
        })
}

fn op(score: BoxedStrategy<f64>) -> impl Strategy<Value = Op> {
    let actor = 0..7usize;
    let target = 0..16usize;
    let wait = prop_oneof![Just(0i64), 1i64..180, 1i64..(60 * 24 * 100),];
    let bad_score = prop::sample::select(vec![-1.0, 100.5, f64::NAN, f64::INFINITY]);
    let days = prop_oneof![
        2 => Just(None),
        6 => (1i64..=90).prop_map(Some),
        1 => (-2i64..=95).prop_map(Some),
    ];
    prop_oneof![
        2 => wait.prop_map(|minutes| Op::Wait { minutes }),
        3 => (actor.clone(), 0..3usize, prop_oneof![9 => score, 1 => bad_score], any::<bool>())
            .prop_map(|(actor, deployment, score, correlation)| Op::Submit {
                actor,
                deployment,
                score,
                correlation,
            }),
        3 => (actor.clone(), target.clone(), 0..3usize, prop::bool::weighted(0.1))
            .prop_map(|(actor, target, verdict, blank)| Op::Decide {
                actor,
                target,
                verdict,
                blank,
            }),
        3 => (actor.clone(), target.clone(), days, prop_oneof![1 => Just(0usize), 9 => 1..3usize], prop::bool::weighted(0.1))
            .prop_map(|(actor, target, days, controls, blank)| Op::RequestException {
                actor,
                target,
                days,
                controls,
                blank,
            }),
        3 => (actor.clone(), target, any::<bool>(), prop::bool::weighted(0.1))
            .prop_map(|(actor, target, approve, blank)| Op::Review {
                actor,
                target,
                approve,
                blank,
            }),
        1 => actor.prop_map(|actor| Op::Cleanup { actor }),
    ]
}

/// Which record a command aims at. Target 0 is an id nobody has; most targets count back from
/// the newest record that fits the command (a request under review for a decision, a pending
/// exception for a review...); the rest count back through all of them, to hit wrong states.
fn pick(fitting: &[Uuid], all: &[Uuid], target: usize) -> Uuid {
    let from = |ids: &[Uuid]| ids[ids.len() - 1 - target % ids.len()];
    match target {
        0 => Uuid::from_u128(u128::MAX),
        1..=11 if !fitting.is_empty() => from(fitting),
        _ if !all.is_empty() => from(all),
        _ => Uuid::from_u128(u128::MAX),
    }
}

fn command(op: &Op, state: &State) -> Option<(usize, Command)> {
    let requests: Vec<Uuid> = state.requests().map(|r| r.id).collect();
    let in_status = |status| -> Vec<Uuid> {
        state
            .requests()
            .filter(|r| r.status == status)
            .map(|r| r.id)
            .collect()
    };
    let exceptions: Vec<Uuid> = state.exceptions().map(|e| e.id).collect();
    let pending: Vec<Uuid> = state
        .exceptions()
        .filter(|e| e.status == ExceptionStatus::Pending)
        .map(|e| e.id)
        .collect();
    let text = |blank: bool, text: &str| {
        if blank {
            " ".to_string()
        } else {
            text.to_string()
        }
    };
    Some(match *op {
        Op::Wait { .. } => return None,
        Op::Submit {
            actor,
            deployment,
            score,
            correlation,
        } => (
            actor,
            Command::Submit(Submission {
                deployment_intent_id: ["web", "api", "db"][deployment].into(),
                evidence_package_id: "evidence".into(),
                title: None,
                risk_score: score,
                risk_factors: Default::default(),
                correlation_id: correlation.then(|| "run-1".into()),
            }),
        ),
        Op::Decide {
            actor,
            target,
            verdict,
            blank,
        } => (
            actor,
            Command::Decide {
                request_id: pick(&in_status(RequestStatus::UnderReview), &requests, target),
                verdict: match verdict {
                    0 => Verdict::Approve { conditions: vec![] },
                    1 => Verdict::Approve {
                        conditions: vec!["canary first".into()],
                    },
                    _ => Verdict::Reject,
                },
                rationale: text(blank, "reviewed"),
            },
        ),
        Op::RequestException {
            actor,
            target,
            days,
            controls,
            blank,
        } => (
            actor,
            Command::RequestException {
                request_id: pick(
                    &in_status(RequestStatus::ExceptionRequired),
                    &requests,
                    target,
                ),
                justification: text(blank, "urgent"),
                compensating_controls: (0..controls).map(|i| format!("control {i}")).collect(),
                expiry_days: days,
            },
        ),
        Op::Review {
            actor,
            target,
            approve,
            blank,
        } => (
            actor,
            Command::ReviewException {
                exception_id: pick(&pending, &exceptions, target),
                review: if approve {
                    Review::Approve
                } else {
                    Review::Reject
                },
                rationale: text(blank, "checked"),
            },
        ),
        Op::Cleanup { actor } => (actor, Command::Cleanup),
    })
}

struct Played {
    state: State,
    log: Vec<(u64, DateTime<Utc>, EventKind)>,
    policy: Policy,
    now: DateTime<Utc>,
}

/// Play the ops, checking the invariants after every step.
/// With `json`, also check that every event reads back from JSON as it was written.
fn play(thresholds: Thresholds, ops: &[Op], json: bool) -> Result<Played, TestCaseError> {
    let cast = cast();
    let policy = Policy {
        thresholds,
        ..Policy::default()
    };
    let mut state = State::new();
    let mut log: Vec<(u64, DateTime<Utc>, EventKind)> = Vec::new();
    let mut ids = CountingIds::default();
    let mut now = t0();

    for op in ops {
        if let Op::Wait { minutes } = op {
            now += Duration::minutes(*minutes);
        }
        let Some((who, command)) = command(op, &state) else {
            continue;
        };
        let actor = &cast[who];
        let ctx = Ctx {
            actor,
            now,
            policy: &policy,
        };
        let before = state.clone();
        match rules::handle(&state, &command, &ctx, &mut ids) {
            Err(_) => {
                // A refusal is an `Err`, so it cannot carry events; nothing gets applied.
                prop_assert_eq!(&state, &before);
            }
            Ok(events) => {
                if !matches!(command, Command::Cleanup) {
                    prop_assert_eq!(events.len(), 1, "{:?} gave {:?}", command, events);
                }
                for event in events {
                    prop_assert_eq!(event.at, now);
                    prop_assert_eq!(&event.actor, &actor.name);
                    if json {
                        let text = serde_json::to_string(&event.kind).unwrap();
                        let back: EventKind = serde_json::from_str(&text).unwrap();
                        prop_assert_eq!(&back, &event.kind, "the event does not survive JSON");
                    }
                    // `cab verify` re-judges every event it reads: the rules must accept their own.
                    if let Err(v) = crate::engine::rejudge(&state, &event) {
                        return Err(TestCaseError::fail(format!(
                            "{command:?} by {} produced an event that re-judging refuses: {v}",
                            actor.name
                        )));
                    }
                    let seq = state.head() + 1;
                    if let Err(e) = state.apply(seq, event.at, event.kind.clone()) {
                        return Err(TestCaseError::fail(format!(
                            "{command:?} by {} produced an event that does not apply: {e}",
                            actor.name
                        )));
                    }
                    log.push((seq, event.at, event.kind));
                }
            }
        }
        check_invariants(&state, &log, now)?;
    }

    Ok(Played {
        state,
        log,
        policy,
        now,
    })
}

fn check_invariants(
    state: &State,
    log: &[(u64, DateTime<Utc>, EventKind)],
    now: DateTime<Utc>,
) -> Result<(), TestCaseError> {
    let mut decisions: HashMap<Uuid, usize> = HashMap::new();
    for (_, _, kind) in log {
        let decision = match kind {
            EventKind::RequestSubmitted(e) => e.decision.as_ref(),
            EventKind::RequestDecided(e) => Some(&e.decision),
            _ => None,
        };
        if let Some(d) = decision {
            *decisions.entry(d.request_id).or_default() += 1;
            prop_assert!(
                !d.rationale.trim().is_empty(),
                "a decision without rationale"
            );
            prop_assert_eq!(
                d.decision == DecisionKind::Conditional,
                !d.conditions.is_empty(),
                "conditions and conditional approval go together"
            );
            let request = state.request(&d.request_id).unwrap();
            prop_assert_ne!(&d.approver, &request.requested_by, "a requester decided");
            prop_assert_eq!(
                d.approver == SYSTEM_ACTOR,
                request.gate == Gate::AutoApproved,
                "only automatic decisions are by system"
            );
        }
    }
    prop_assert!(
        decisions.values().all(|&n| n == 1),
        "a request has two decisions: {decisions:?}"
    );

    for r in state.requests() {
        prop_assert_eq!(
            state.decision(&r.id).is_some(),
            decisions.contains_key(&r.id)
        );
        let expected_gate = r.thresholds.gate(r.risk_score);
        prop_assert_eq!(
            r.gate,
            expected_gate,
            "gate not reproducible from the record"
        );
        match state.decision(&r.id) {
            Some(d) => prop_assert_eq!(r.status, d.decision.status()),
            None => prop_assert!(matches!(
                r.status,
                RequestStatus::UnderReview | RequestStatus::ExceptionRequired
            )),
        }
    }

    for e in state.exceptions() {
        let lifetime = e.expires_at - e.requested_at;
        prop_assert!(
            lifetime >= Duration::days(1) && lifetime <= Duration::days(90),
            "exception {} lives {lifetime}",
            e.id
        );
        prop_assert_eq!(lifetime.num_seconds() % 86_400, 0, "not whole days");
        prop_assert!(!e.justification.trim().is_empty());
        prop_assert!(
            !e.compensating_controls.is_empty(),
            "an exception without controls"
        );
        prop_assert!(e.compensating_controls.iter().all(|c| !c.trim().is_empty()));
        let request = state.request(&e.request_id).unwrap();
        prop_assert_eq!(request.status, RequestStatus::ExceptionRequired);
        if let (Some(by), Some(at)) = (&e.reviewed_by, e.reviewed_at) {
            prop_assert_ne!(by, &e.requested_by);
            prop_assert_ne!(by, &request.requested_by);
            prop_assert!(at < e.expires_at, "reviewed after expiry");
        }
        let open = state
            .exceptions_for(&e.request_id)
            .filter(|x| x.is_open(now))
            .count();
        prop_assert!(
            open <= 1,
            "request {} has {open} open exceptions",
            e.request_id
        );
    }
    Ok(())
}

fn check_queries(state: &State, policy: &Policy, now: DateTime<Utc>) -> Result<(), TestCaseError> {
    for deployment in ["web", "api", "db"] {
        let s = query::status(state, deployment, None, policy, now);
        let eligible_code = matches!(
            s.reason_code,
            ReasonCode::AutoApproved
                | ReasonCode::Approved
                | ReasonCode::Conditional
                | ReasonCode::ActiveException
        );
        prop_assert_eq!(s.eligible, eligible_code, "{:?}", s);
        prop_assert_eq!(
            s.active_exception.is_some(),
            s.reason_code == ReasonCode::ActiveException
        );
    }
    let queue = query::requests(state, RequestFilter::Pending, None, now);
    for view in &queue {
        prop_assert!(!view.exceptions.iter().any(|e| e.is_active));
    }
    let active = query::exceptions(state, ExceptionFilter::Active, now);
    for view in &active {
        prop_assert_eq!(view.exception.status, ExceptionStatus::Approved);
        prop_assert!(now < view.exception.expires_at);
    }
    let counts = query::counts(state, now);
    prop_assert_eq!(counts.under_review + counts.exception_required, queue.len());
    Ok(())
}
