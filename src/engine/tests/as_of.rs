//! Events rebuilt from a later state (`--at` reads a store without parsing every line again):
//! every kind of event, rebuilt from the state after it and after everything that followed, is
//! exactly the event recorded; the store line names the record it rebuilds from; and replaying
//! the rebuilt events up to a moment gives the state as of that moment.

use chrono::Duration;

use super::*;
use crate::engine::as_of::Mention;
use crate::engine::{EventKind, OutcomeResult};

/// A history with every kind of event: an automatic approval, decisions, an exception
/// rejected, approved and pending ones expired by cleanup, and outcomes.
fn every_kind() -> World {
    let mut w = World::new();
    let auto = w.submit("docs", 10.0);
    w.advance(Duration::hours(1));
    let reviewed = w.under_review("web");
    w.advance(Duration::hours(1));
    w.ok(&carol(), approve(reviewed));
    let rejected_request = w.under_review("web");
    w.ok(&colin(), reject(rejected_request));
    w.advance(Duration::hours(1));
    let risky = w.needing_exception("db");
    let refused = w.ask_exception(risky, Some(3));
    w.review_exception(refused, Review::Reject);
    w.advance(Duration::hours(1));
    let lapsing = w.ask_exception(risky, Some(1));
    w.review_exception(lapsing, Review::Approve);
    let other = w.needing_exception("cache");
    w.ask_exception(other, Some(1));
    let third = w.needing_exception("queue");
    let cleaned = w.ask_exception(third, Some(2));
    w.review_exception(cleaned, Review::Approve);
    for request in [auto, reviewed] {
        w.ok(
            &ravi(),
            Command::RecordOutcome {
                request_id: request,
                result: OutcomeResult::Failure,
                incident: Some("INC-7".into()),
                note: None,
            },
        );
    }
    w.advance(Duration::days(3));
    w.ok(&bea(), Command::Cleanup);
    w
}

#[test]
fn every_kind_of_event_rebuilt_from_the_final_state_is_the_event_recorded() {
    let w = every_kind();
    let kinds: Vec<&str> = w.log.iter().map(|e| e.event.kind.type_name()).collect();
    for kind in EventKind::TYPES {
        assert!(kinds.contains(&kind), "the history has no {kind}");
    }
    for stored in &w.log {
        let mention = Mention::of(&stored.event.kind);
        assert_eq!(
            mention.rebuild(&w.state).as_ref(),
            Some(&stored.event.kind),
            "event {} ({mention:?})",
            stored.seq
        );
    }
}

#[test]
fn a_store_line_names_the_record_its_event_is_about() {
    let w = every_kind();
    for stored in &w.log {
        let mut line = Vec::new();
        crate::store::line::encode(&mut line, stored.seq, &stored.prev, &stored.event);
        assert_eq!(
            crate::store::line::mention(&line),
            Some(Mention::of(&stored.event.kind)),
            "line {}",
            String::from_utf8_lossy(&line)
        );
    }
}

#[test]
fn the_rebuilt_events_up_to_any_moment_replay_to_the_state_then() {
    let w = every_kind();
    for moment in w.log.iter().map(|e| e.event.at) {
        for at in [moment - Duration::seconds(1), moment] {
            let rebuilt = State::replay(w.log.iter().filter(|e| e.event.at <= at).map(|e| {
                let kind = Mention::of(&e.event.kind).rebuild(&w.state).unwrap();
                (e.seq, e.event.at, kind)
            }))
            .unwrap();
            assert_eq!(
                rebuilt,
                State::replay_as_of(&w.log, at).unwrap(),
                "as of {at}"
            );
        }
    }
}

#[test]
fn a_record_the_later_state_does_not_hold_rebuilds_nothing() {
    let w = every_kind();
    let nobody = uuid::Uuid::from_u128(u128::MAX);
    for mention in [
        Mention::RequestSubmitted(nobody),
        Mention::RequestDecided(nobody),
        Mention::ExceptionRequested(nobody),
        Mention::ExceptionReviewed(nobody),
        Mention::ExceptionExpired(nobody),
        Mention::OutcomeRecorded(nobody),
    ] {
        assert_eq!(mention.rebuild(&w.state), None, "{mention:?}");
    }
    // An earlier state, before the review, the expiry and the outcomes it is asked about.
    let before = State::replay_as_of(&w.log, t0()).unwrap();
    for stored in &w.log[1..] {
        assert_eq!(
            Mention::of(&stored.event.kind).rebuild(&before),
            None,
            "event {} rebuilt from a state before it",
            stored.seq
        );
    }
}
