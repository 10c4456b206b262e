//! `cab approve` and `cab reject`: a CAB member's decisions, by whole id or unique prefix, and
//! every rule that refuses one (exit 4) or input that is invalid (exit 2), none of which writes.

use serde_json::json;

use crate::support::cli::*;

const CAB: &str = "cab_member";

#[test]
fn approve_records_an_immutable_decision_and_sets_status_approved() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    let r = cab.json(
        "carol",
        CAB,
        &["approve", &id, "--rationale", "tested in staging"],
    );
    assert_request_shape(&r, false);
    assert_eq!(r["status"], "approved");
    let d = &r["decision"];
    assert_eq!(d["decision"], "approved");
    assert_eq!(d["approver"], "carol");
    assert_eq!(d["rationale"], "tested in staging");
    assert_eq!(d["conditions"], json!([]));
    assert_eq!(d["request_id"], json!(id));
    assert_eq!(d["decided_at"], NOW);
    assert_eq!(d["correlation_id"], r["correlation_id"]);
}

#[test]
fn approve_with_repeated_condition_is_conditional_with_every_condition_in_order() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "70");
    let r = cab.json(
        "carol",
        CAB,
        &[
            "approve",
            &id,
            "--rationale",
            "ok with guard rails",
            "--condition",
            "deploy after 18:00",
            "--condition",
            "on-call present",
        ],
    );
    assert_eq!(r["status"], "conditional");
    assert_eq!(r["decision"]["decision"], "conditional");
    assert_eq!(
        r["decision"]["conditions"],
        json!(["deploy after 18:00", "on-call present"])
    );
}

#[test]
fn reject_sets_status_rejected_with_the_rationale() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    let r = cab.json(
        "carol",
        CAB,
        &["reject", &id, "--rationale", "no rollback plan"],
    );
    assert_request_shape(&r, false);
    assert_eq!(r["status"], "rejected");
    assert_eq!(r["decision"]["decision"], "rejected");
    assert_eq!(r["decision"]["rationale"], "no rollback plan");
    assert_eq!(r["decision"]["conditions"], json!([]));
}

#[test]
fn text_output_of_a_decision_names_decision_approver_and_rationale() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    let run = cab
        .run(
            "carol",
            CAB,
            &[
                "approve",
                &id,
                "--rationale",
                "looks fine",
                "--condition",
                "watch",
            ],
        )
        .success();
    for part in ["conditional", "carol", "looks fine", "watch", &id] {
        assert!(
            run.stdout.contains(part),
            "{part:?} missing:\n{}",
            run.stdout
        );
    }
}

#[test]
fn approve_by_unique_8_character_prefix_decides_that_request() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    cab.submit_id("alice", "d2", "60");
    let r = cab.json("carol", CAB, &["approve", &id[..8], "--rationale", "ok"]);
    assert_eq!(r["id"], json!(id));
    assert_eq!(r["status"], "approved");
}

#[test]
fn reject_by_prefix_with_uppercase_letters_decides_that_request() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    let prefix = id[..13].to_uppercase();
    let r = cab.json("carol", CAB, &["reject", &prefix, "--rationale", "no"]);
    assert_eq!(r["id"], json!(id));
}

#[test]
fn approve_twice_exits_4_naming_the_first_approver_decision_and_time() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    cab.json("carol", CAB, &["approve", &id, "--rationale", "ok"]);
    let f = cab.fails(4, "dave", CAB, &["approve", &id, "--rationale", "me too"]);
    assert_eq!(f.code, "already_decided");
    assert!(f.message.contains("carol"), "{}", f.message);
    assert!(f.message.contains("approved"), "{}", f.message);
    assert!(f.message.contains(NOW), "{}", f.message);
}

#[test]
fn reject_after_approve_exits_4_and_the_decision_stays() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    cab.json("carol", CAB, &["approve", &id, "--rationale", "ok"]);
    let f = cab.fails(
        4,
        "dave",
        CAB,
        &["reject", &id, "--rationale", "changed my mind"],
    );
    assert!(f.message.contains("carol"), "{}", f.message);
    let shown = cab.json("dave", "", &["show", &id]);
    assert_eq!(shown["status"], "approved");
    assert_eq!(shown["decision"]["approver"], "carol");
}

#[test]
fn deciding_an_auto_approved_request_exits_4_naming_system() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "20");
    let f = cab.fails(4, "carol", CAB, &["reject", &id, "--rationale", "no"]);
    assert_eq!(f.code, "already_decided");
    assert!(f.message.contains("system"), "{}", f.message);
}

#[test]
fn approving_your_own_request_exits_4_for_separation_of_duties() {
    let cab = Cab::new();
    let id = cab.submit_id("carol", "d", "60");
    let f = cab.fails(4, "carol", CAB, &["approve", &id, "--rationale", "mine"]);
    assert_eq!(f.code, "separation_of_duties");
    assert!(f.message.contains("separation of duties"), "{}", f.message);
    cab.fails(4, "carol", CAB, &["reject", &id, "--rationale", "mine"]);
}

#[test]
fn deciding_without_the_cab_member_role_exits_4_naming_the_role() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    for roles in ["", "requester", "security_reviewer"] {
        let f = cab.fails(4, "mallory", roles, &["approve", &id, "--rationale", "ok"]);
        assert_eq!(f.code, "missing_role");
        assert!(f.message.contains("cab_member"), "{}", f.message);
        cab.fails(4, "mallory", roles, &["reject", &id, "--rationale", "no"]);
    }
}

#[test]
fn approving_a_request_that_needs_an_exception_exits_4() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "80");
    let f = cab.fails(4, "carol", CAB, &["approve", &id, "--rationale", "ok"]);
    assert_eq!(f.code, "exception_required");
    assert!(f.message.contains("exception"), "{}", f.message);
    cab.fails(4, "carol", CAB, &["reject", &id, "--rationale", "no"]);
}

#[test]
fn an_empty_rationale_or_condition_exits_2() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    cab.fails(2, "carol", CAB, &["approve", &id, "--rationale", ""]);
    cab.fails(2, "carol", CAB, &["approve", &id, "--rationale", "   "]);
    cab.fails(2, "carol", CAB, &["reject", &id, "--rationale", ""]);
    cab.fails(
        2,
        "carol",
        CAB,
        &["approve", &id, "--rationale", "ok", "--condition", ""],
    );
    // Still undecided: nothing was written.
    assert_eq!(
        cab.json("carol", "", &["show", &id])["status"],
        "under_review"
    );
}

#[test]
fn a_missing_rationale_flag_exits_2_naming_it() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    let f = cab.fails(2, "carol", CAB, &["approve", &id]);
    assert!(f.message.contains("--rationale"), "{}", f.message);
    let f = cab.fails(2, "carol", CAB, &["reject", &id]);
    assert!(f.message.contains("--rationale"), "{}", f.message);
}

#[test]
fn an_unknown_whole_id_exits_2() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "60");
    let unknown = "0b7e9a3c-1d2e-4f60-8a9b-0c1d2e3f4a5b";
    let f = cab.fails(2, "carol", CAB, &["approve", unknown, "--rationale", "ok"]);
    assert_eq!(f.code, "not_found");
    cab.fails(2, "carol", CAB, &["reject", unknown, "--rationale", "ok"]);
}

#[test]
fn an_unknown_id_on_a_store_that_does_not_exist_exits_2_and_creates_nothing() {
    let cab = Cab::new();
    cab.fails(
        2,
        "carol",
        CAB,
        &["approve", "0b7e9a3c", "--rationale", "ok"],
    );
    assert!(cab.store_bytes().is_none());
}

#[test]
fn a_prefix_shorter_than_8_characters_exits_2_even_when_unique() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    let f = cab.fails(2, "carol", CAB, &["approve", &id[..7], "--rationale", "ok"]);
    assert!(f.message.contains('8'), "{}", f.message);
    cab.fails(2, "carol", CAB, &["reject", &id[..1], "--rationale", "ok"]);
    cab.fails(2, "carol", CAB, &["approve", "", "--rationale", "ok"]);
}

#[test]
fn an_ambiguous_prefix_exits_2_and_the_whole_id_still_works() {
    let cab = Cab::new();
    let a = cab.submit_id("alice", "d1", "60");
    let b = cab.submit_id("alice", "d2", "60");
    let (a2, b2) = (
        "abcdef01-2345-4678-8abc-000000000001",
        "abcdef01-2345-4678-8abc-000000000002",
    );
    cab.rewrite_store(&[(&a, a2), (&b, b2)]);
    cab.run("x", "", &["verify"]).success();
    for prefix in ["abcdef01", "abcdef01-2345-4678-8abc-00000000000"] {
        let f = cab.fails(2, "carol", CAB, &["approve", prefix, "--rationale", "ok"]);
        assert!(f.message.contains("ambiguous"), "{}", f.message);
    }
    cab.fails(
        2,
        "carol",
        CAB,
        &["reject", "abcdef01", "--rationale", "ok"],
    );
    let r = cab.json("carol", CAB, &["approve", b2, "--rationale", "ok"]);
    assert_eq!(r["id"], b2);
    assert_eq!(
        cab.json("carol", "", &["show", a2])["status"],
        "under_review"
    );
}
