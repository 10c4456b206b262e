//! `cab demo`: generated data that is reproducible byte for byte, verifies, shows every status
//! a reviewer meets, and never touches a store that already holds events.

use chrono::Duration;
use serde_json::Value;

use crate::support::cli::*;

fn demo(cab: &Cab, args: &[&str]) -> Value {
    let mut all = vec!["demo"];
    all.extend_from_slice(args);
    cab.json("demo", "", &all)
}

#[test]
fn demo_with_the_same_seed_and_now_is_byte_for_byte_reproducible() {
    let (a, b) = (Cab::new(), Cab::new());
    let sa = demo(&a, &["--requests", "40", "--seed", "7"]);
    let sb = demo(&b, &["--requests", "40", "--seed", "7"]);
    assert_eq!(sa["requests"], 40);
    assert_eq!(sa["events"], sb["events"]);
    let (ba, bb) = (a.store_bytes().unwrap(), b.store_bytes().unwrap());
    assert!(!ba.is_empty());
    assert!(ba == bb, "two demo stores with seed 7 differ");
}

#[test]
fn demo_with_another_seed_or_now_differs() {
    let (a, b, c) = (Cab::new(), Cab::new(), Cab::new());
    demo(&a, &["--requests", "10", "--seed", "7"]);
    demo(&b, &["--requests", "10", "--seed", "8"]);
    c.cmd(["demo", "--requests", "10", "--seed", "7"])
        .at("2026-12-01T00:00:00Z")
        .run()
        .success();
    assert_ne!(a.store_bytes(), b.store_bytes());
    assert_ne!(a.store_bytes(), c.store_bytes());
}

#[test]
fn demo_store_verifies_and_the_summary_matches_it() {
    let cab = Cab::new();
    let summary = demo(&cab, &["--requests", "40", "--seed", "7"]);
    let v = cab.json("x", "", &["verify"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["events"], summary["events"]);
    assert_eq!(v["requests"], summary["requests"]);
    assert_eq!(v["exceptions"], summary["exceptions"]);
    assert_eq!(summary["seed"], 7);
}

#[test]
fn demo_contains_every_request_status() {
    let cab = Cab::new();
    demo(&cab, &["--requests", "40", "--seed", "7"]);
    let all = cab.json("x", "", &["queue", "--status", "all"]);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 40);
    for r in all {
        assert_request_shape(r, false);
    }
    for status in [
        "auto_approved",
        "under_review",
        "approved",
        "conditional",
        "rejected",
        "exception_required",
    ] {
        assert!(
            all.iter().any(|r| r["status"] == status),
            "no request is {status}"
        );
    }
}

#[test]
fn demo_contains_pending_active_expiring_soon_expired_and_rejected_exceptions() {
    let cab = Cab::new();
    demo(&cab, &["--requests", "40", "--seed", "7"]);
    let list = cab.json("x", "", &["exception", "list"]);
    let list = list.as_array().unwrap();
    for e in list {
        assert_exception_shape(e);
    }
    for status in ["pending", "approved", "rejected", "expired"] {
        assert!(
            list.iter().any(|e| e["status"] == status),
            "no {status} exception"
        );
    }
    let soon = now() + Duration::hours(72);
    assert!(
        list.iter().any(
            |e| e["is_active"] == true && parse_time(e["expires_at"].as_str().unwrap()) <= soon
        ),
        "no active exception expires within 72 hours"
    );
    assert!(
        list.iter()
            .any(|e| e["is_active"] == true && parse_time(e["expires_at"].as_str().unwrap()) > soon),
        "no active exception with time to spare"
    );
}

#[test]
fn demo_history_lies_in_the_past_of_cab_now() {
    let cab = Cab::new();
    demo(&cab, &["--requests", "40", "--seed", "7"]);
    let all = cab.json("x", "", &["queue", "--status", "all"]);
    for r in all.as_array().unwrap() {
        assert!(
            parse_time(r["submitted_at"].as_str().unwrap()) <= now(),
            "{r}"
        );
    }
}

#[test]
fn demo_refuses_a_non_empty_store_with_exit_2_and_writes_nothing() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "10");
    let f = cab.fails(2, "x", "", &["demo", "--requests", "5"]);
    assert!(f.message.contains("store"), "{}", f.message);

    let filled = Cab::new();
    demo(&filled, &["--requests", "5", "--seed", "1"]);
    filled.fails(2, "x", "", &["demo", "--requests", "5", "--seed", "1"]);
}

#[test]
fn demo_fills_an_existing_empty_store_file() {
    let cab = Cab::new();
    cab.write_store(b"");
    let summary = demo(&cab, &["--requests", "5", "--seed", "3"]);
    assert_eq!(summary["requests"], 5);
    cab.json("x", "", &["verify"]);
}

#[test]
fn demo_with_invalid_numbers_exits_2_and_creates_nothing() {
    let cab = Cab::new();
    for args in [
        ["demo", "--requests", "-1"],
        ["demo", "--requests", "many"],
        ["demo", "--seed", "x"],
    ] {
        cab.fails(2, "x", "", &args);
    }
    assert!(cab.store_bytes().is_none());
}

#[test]
fn demo_text_says_what_it_wrote() {
    let cab = Cab::new();
    let run = cab
        .run("x", "", &["demo", "--requests", "12", "--seed", "2"])
        .success();
    assert!(run.stdout.contains("12 requests"), "{}", run.stdout);
}

/// When the request became eligible: its decision, or the approval of its active exception.
fn eligible_since(r: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    match r["status"].as_str().unwrap() {
        "auto_approved" | "approved" | "conditional" => {
            Some(parse_time(r["decision"]["decided_at"].as_str().unwrap()))
        }
        "exception_required" => r["exceptions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["status"] == "approved" || e["status"] == "expired")
            .filter_map(|e| e["reviewed_at"].as_str())
            .map(parse_time)
            .max(),
        _ => None,
    }
}

#[test]
fn demo_records_outcomes_for_most_eligible_requests_after_they_became_eligible_failing_more_with_risk()
 {
    let cab = Cab::new();
    let summary = demo(&cab, &["--requests", "1500", "--seed", "5"]);
    let all = cab.json("x", "", &["queue", "--status", "all"]);
    let all = all.as_array().unwrap();
    // Outcomes as the store holds them: the data of each `outcome_recorded` line.
    let store = String::from_utf8(cab.store_bytes().unwrap()).unwrap();
    let outcomes: std::collections::HashMap<String, Value> = store
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["type"] == "outcome_recorded")
        .map(|e| {
            let o = e["data"]["outcome"].clone();
            (o["request_id"].as_str().unwrap().to_string(), o)
        })
        .collect();
    let with: Vec<(&Value, &Value)> = all
        .iter()
        .filter_map(|r| outcomes.get(r["id"].as_str().unwrap()).map(|o| (r, o)))
        .collect();
    assert_eq!(
        with.len(),
        outcomes.len(),
        "every outcome is of a listed request"
    );
    assert_eq!(summary["outcomes"], with.len());
    let eligible = all
        .iter()
        .filter(|r| {
            matches!(
                r["status"].as_str().unwrap(),
                "auto_approved" | "approved" | "conditional"
            )
        })
        .count();
    assert!(
        with.len() * 10 >= eligible * 6,
        "most eligible requests have an outcome: {} of {eligible}",
        with.len()
    );
    let (mut low, mut high) = ((0, 0), (0, 0));
    for (r, o) in &with {
        assert_outcome_shape(o);
        let at = parse_time(o["recorded_at"].as_str().unwrap());
        let since = eligible_since(r).unwrap_or_else(|| panic!("an outcome of {r}"));
        assert!(since < at && at <= now(), "{r}");
        let failed = o["result"] != "success";
        let score = r["risk_score"].as_f64().unwrap();
        if score < 30.0 {
            low = (low.0 + 1, low.1 + usize::from(failed));
        } else if score >= 60.0 {
            high = (high.0 + 1, high.1 + usize::from(failed));
        }
    }
    let rate = |(n, failed): (usize, usize)| failed as f64 / n as f64;
    assert!(
        rate(low) < 0.06 && rate(high) > 0.08 && rate(high) > 2.0 * rate(low),
        "failures rise with risk: {low:?} below 30, {high:?} from 60"
    );
    for result in ["success", "failure", "rolled_back"] {
        assert!(
            with.iter().any(|(_, o)| o["result"] == result),
            "no {result}"
        );
    }
    assert!(with.iter().any(|(_, o)| o["incident"].is_string()));
    assert!(with.iter().any(|(_, o)| o["note"].is_string()));
}

#[test]
fn demo_text_says_how_many_outcomes_it_wrote() {
    let cab = Cab::new();
    let run = cab
        .run("x", "", &["demo", "--requests", "40", "--seed", "2"])
        .success();
    assert!(run.stdout.contains(" outcomes ("), "{}", run.stdout);
}
