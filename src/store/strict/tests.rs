//! The strict reader against the general one: it reads every line the encoder writes, to the
//! same event, and on any other line (changed, then given a correct hash again, as a forger
//! would) it agrees with the general reader: the same event, or no event at all.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::read;
use crate::engine::event::{
    ExceptionExpired, ExceptionRequested, ExceptionReviewed, Idempotency, OutcomeRecorded,
    RequestDecided, RequestSubmitted,
};
use crate::engine::{
    ApprovalRequest, Decision, DecisionKind, Event, EventKind, ExceptionStatus, Gate, Outcome,
    OutcomeResult, RequestStatus, RiskFactors, RiskScore, SecurityException, StoredEvent, Text,
    Thresholds, time,
};
use crate::store::line::{self, GENESIS, HASH_SUFFIX_LEN, LineError, own_link, sha256_hex};

/// Texts that take every path of a string's reading: plain, escaped, raw non-ASCII, escaped
/// non-ASCII, a pair of escapes beyond the first plane.
const TEXTS: &[&str] = &[
    "alice",
    "",
    "say \"yes\" \\ no / maybe",
    "tab\there\nnew line\r\u{8}\u{c}\u{0}\u{1f}",
    "caf\u{e9} \u{65e5}\u{672c} \u{1f680}",
    "a\u{202e}b\u{200b}c\u{7f}d\u{9b}e\u{1b}f\u{e0041}g\u{2028}",
    "\u{feff}\u{ad}",
];

fn at(text: &str) -> DateTime<Utc> {
    time::parse(text).unwrap()
}

/// One event of each kind (and each optional field both ways), its texts `text`, its times
/// `when`, its numbers from `score`.
fn events(text: &str, when: DateTime<Utc>, score: f64) -> Vec<Event> {
    let t = || Text::from(text);
    let id = |n: u128| Uuid::from_u128(n * 0x1234_5678_9abc_def0_1122_3344);
    let factors: RiskFactors = [
        (format!("{text}a"), score),
        (format!("{text}b"), -0.0),
        ("z".to_string(), 1e-7),
    ]
    .into();
    let request = |title: Option<Text>, factors: RiskFactors| ApprovalRequest {
        id: id(1),
        deployment_intent_id: t(),
        evidence_package_id: t(),
        title,
        risk_score: RiskScore::new(score).unwrap(),
        risk_factors: factors,
        gate: Gate::ManualReview,
        thresholds: Thresholds::new(score / 2.0, score).unwrap(),
        status: RequestStatus::UnderReview,
        requested_by: t(),
        correlation_id: t(),
        submitted_at: when,
    };
    let decision = |conditions: Vec<Text>| Decision {
        id: id(2),
        request_id: id(1),
        decision: DecisionKind::Conditional,
        approver: t(),
        rationale: t(),
        conditions,
        decided_at: when,
        correlation_id: t(),
    };
    let exception = |reviewed: bool| SecurityException {
        id: id(3),
        request_id: id(1),
        deployment_intent_id: t(),
        justification: t(),
        compensating_controls: vec![t(), Text::from("second")],
        requested_by: t(),
        requested_at: when,
        expires_at: when,
        status: if reviewed {
            ExceptionStatus::Approved
        } else {
            ExceptionStatus::Pending
        },
        reviewed_by: reviewed.then(t),
        reviewed_at: reviewed.then_some(when),
        review_rationale: reviewed.then(t),
    };
    let outcome = |given: bool| Outcome {
        id: id(4),
        request_id: id(1),
        deployment_intent_id: t(),
        result: OutcomeResult::ALL[usize::from(given)],
        incident: given.then(t),
        note: given.then(t),
        recorded_by: t(),
        recorded_at: when,
    };
    let kinds = vec![
        EventKind::RequestSubmitted(RequestSubmitted {
            request: request(Some(t()), factors.clone()),
            decision: None,
        }),
        EventKind::RequestSubmitted(RequestSubmitted {
            request: request(None, RiskFactors::default()),
            decision: Some(decision(Vec::new())),
        }),
        EventKind::RequestDecided(RequestDecided {
            deployment_intent_id: text.into(),
            decision: decision(vec![t(), Text::from("canary first")]),
        }),
        EventKind::ExceptionRequested(ExceptionRequested {
            exception: exception(false),
        }),
        EventKind::ExceptionRequested(ExceptionRequested {
            exception: exception(true),
        }),
        EventKind::ExceptionReviewed(ExceptionReviewed {
            exception_id: id(3),
            request_id: id(1),
            deployment_intent_id: text.into(),
            status: ExceptionStatus::Rejected,
            reviewed_by: text.into(),
            reviewed_at: when,
            review_rationale: text.into(),
        }),
        EventKind::ExceptionExpired(ExceptionExpired {
            exception_id: id(3),
            request_id: id(1),
            deployment_intent_id: text.into(),
            expires_at: when,
        }),
        EventKind::OutcomeRecorded(OutcomeRecorded {
            outcome: outcome(false),
        }),
        EventKind::OutcomeRecorded(OutcomeRecorded {
            outcome: outcome(true),
        }),
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Event {
            at: when,
            actor: text.to_string(),
            correlation_id: text.into(),
            idempotency: (i % 2 == 0).then(|| Idempotency {
                key: text.to_string(),
                fingerprint: "f".repeat(64),
            }),
            kind,
        })
        .collect()
}

/// The line cab writes for `event` as the store's `seq`th, without its `\n`.
fn line_of(event: &Event, seq: u64) -> Vec<u8> {
    let mut out = Vec::new();
    line::encode(&mut out, seq, GENESIS, event);
    out.pop();
    out
}

/// What each reader makes of a line whose chain fields are in order: the strict reader's
/// event, and the general reader's answer. `None` when the chain fields are not.
fn both(line: &[u8]) -> Option<(Option<StoredEvent>, Result<StoredEvent, LineError>)> {
    let link = own_link(line).ok()?;
    let body = &line[..line.len() - HASH_SUFFIX_LEN];
    Some((
        read(body, link.seq, link.prev, link.hash),
        line::decode_general(line, &link),
    ))
}

/// Give a changed line a correct hash again, as a forger would.
fn rehash(line: &[u8]) -> Vec<u8> {
    let body_end = line.len().saturating_sub(HASH_SUFFIX_LEN);
    let mut out = line[..body_end].to_vec();
    out.extend_from_slice(b",\"hash\":\"");
    out.extend_from_slice(sha256_hex(&line[..body_end]).as_bytes());
    out.extend_from_slice(b"\"}");
    out
}

#[test]
fn every_kind_of_event_with_every_kind_of_text_is_read_strictly_as_written() {
    let times = [
        "2026-11-28T09:00:00Z",
        "2026-11-28T09:00:00.120Z",
        "2000-01-01T00:00:00.000001Z",
        "9000-12-31T23:59:59.999999999Z",
    ];
    let mut read_lines = 0;
    for text in TEXTS {
        for when in times.map(at) {
            for score in [0.0, 0.5, 46.9, 60.25, 100.0, 1e-7, 33.333333333333336] {
                for (seq, event) in (1..).zip(events(text, when, score)) {
                    let line = line_of(&event, seq);
                    let (strict, general) = both(&line).expect("a written line is chained");
                    let strict = strict.unwrap_or_else(|| {
                        panic!("not read strictly: {}", String::from_utf8_lossy(&line))
                    });
                    assert_eq!(strict.event, event);
                    assert_eq!(Ok(&strict), general.as_ref());
                    read_lines += 1;
                }
            }
        }
    }
    assert_eq!(read_lines, TEXTS.len() * 4 * 7 * 9);
}

#[test]
fn another_spelling_of_each_value_is_left_to_the_general_reader_which_refuses_it() {
    let event = &events("alice", at("2026-11-28T09:00:00.120Z"), 46.9)[0];
    let line = String::from_utf8(line_of(event, 1)).unwrap();
    let respellings = [
        ("\"seq\":1", "\"seq\":01"),
        ("09:00:00.120Z", "09:00:00.12Z"),
        ("09:00:00.120Z", "09:00:00.120+00:00"),
        ("\"risk_score\":46.9", "\"risk_score\":46.90"),
        ("\"risk_score\":46.9", "\"risk_score\":4.69e1"),
        ("\"manual_review_max\":46.9", "\"manual_review_max\":46.9 "),
        ("\"z\":1e-7", "\"z\":1E-7"),
        ("\"z\":1e-7", "\"z\":0.0000001"),
        ("\"aliceb\":-0.0", "\"aliceb\":-0"),
        ("\"decision\":null", "\"decision\":NULL"),
        ("\"actor\":\"alice\"", "\"actor\":\"\\u0061lice\""),
        ("\"actor\":\"alice\"", "\"actor\" :\"alice\""),
        ("\"gate\":\"manual_review\"", "\"gate\":\"Manual_review\""),
        ("\"title\":\"alice\"", "\"title\":\"alic\\u0065\""),
        ("\"alicea\":46.9,\"aliceb\"", "\"aliceb\":46.9,\"alicea\""),
        (
            "00000000-1234-5678-9abc-def011223344",
            "00000000-1234-5678-9ABC-def011223344",
        ),
    ];
    for (from, to) in respellings {
        assert!(line.contains(from), "{from} not in {line}");
        let forged = rehash(line.replacen(from, to, 1).as_bytes());
        let (strict, general) = both(&forged).expect("still chained");
        assert_eq!(strict, None, "{to}");
        assert!(general.is_err(), "{to} accepted by the general reader");
    }
}

fn interesting_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z0-9 _.-]{0,6}",
        Just("\"".to_string()),
        Just("\\".to_string()),
        (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap().to_string()),
        any::<char>().prop_map(String::from),
        prop::sample::select(vec![
            '\u{7f}',
            '\u{85}',
            '\u{202e}',
            '\u{200d}',
            '\u{e0020}',
            '\u{fffd}',
            '\u{1f600}'
        ])
        .prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_event_cab_writes_is_read_strictly_to_itself(
        text in interesting_text(),
        secs in time::earliest().timestamp()..=time::latest().timestamp(),
        nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000, (0u32..1000).prop_map(|m| m * 1_000_000)],
        score in prop_oneof![0.0..=100.0f64, (0u32..=1000).prop_map(|n| f64::from(n) / 10.0)],
    ) {
        let when = DateTime::from_timestamp(secs, nanos).unwrap();
        for (seq, event) in (1..).zip(events(&text, when, score)) {
            let line = line_of(&event, seq);
            let (strict, general) = both(&line).unwrap();
            prop_assert_eq!(strict.as_ref().map(|s| &s.event), Some(&event));
            prop_assert_eq!(strict.as_ref(), general.as_ref().ok());
        }
    }

    #[test]
    fn a_changed_and_rehashed_line_is_read_strictly_exactly_when_the_general_reader_accepts_it(
        kind in 0usize..9,
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), 0u8..3, prop::sample::select(
                b"\"\\,:{}[]0123456789.eE+-nultrfaZTu ".iter().copied().chain([0x80, 0xc3, 0xa9, 0x7f, 0x1f]).collect::<Vec<u8>>()
            )),
            1..4,
        ),
    ) {
        let event = &events("caf\u{e9} \"q\"\u{202e}", at("2026-11-28T09:00:00.120Z"), 46.9)[kind];
        let mut changed = line_of(event, 1);
        let body_end = changed.len() - HASH_SUFFIX_LEN;
        for (at, how, byte) in edits {
            let at = at.index(body_end);
            match how {
                0 => changed[at] = byte,
                1 => changed.insert(at, byte),
                _ => { changed.remove(at); }
            }
        }
        let forged = rehash(&changed);
        if let Some((strict, general)) = both(&forged) {
            prop_assert_eq!(strict.as_ref(), general.as_ref().ok(), "{}", String::from_utf8_lossy(&forged));
        }
    }
}

#[test]
fn a_time_is_read_exactly_only_in_the_spelling_format_gives_it() {
    for text in [
        "2026-11-28T09:00:00Z",
        "2026-11-28T09:00:00.100Z",
        "2026-11-28T09:00:00.000100Z",
        "2026-11-28T09:00:00.000000100Z",
        "2016-12-31T23:59:60.500Z",
    ] {
        let parsed = time::parse_exact(text.as_bytes()).unwrap();
        assert_eq!(time::format(parsed), text);
    }
    for text in [
        "2026-11-28T09:00:00.000Z",
        "2026-11-28T09:00:00.1Z",
        "2026-11-28T09:00:00.100000Z",
        "2026-11-28T09:00:00.000100000Z",
        "2026-11-28T09:00:00.10Z",
        "2026-11-28T09:00:00z",
        "2026-11-28 09:00:00Z",
    ] {
        assert_eq!(time::parse_exact(text.as_bytes()), None, "{text}");
    }
}
