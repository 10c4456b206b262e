//! Configuration and environment: the config file by --config and CAB_CONFIG (thresholds,
//! promotion ring, identity), CAB_USER / CAB_ROLES over the file, CAB_NOW, and the refusals of a
//! config or clock that cannot be used.

use serde_json::json;

use crate::support::cli::*;

fn submit(deployment: &str, risk: &str) -> Vec<String> {
    [
        "--json",
        "submit",
        "--deployment",
        deployment,
        "--evidence",
        "e",
        "--risk",
        risk,
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn config_thresholds_auto_approve_max_30_makes_40_need_review() {
    let cab = Cab::new();
    let config = cab.file("c.toml", "[thresholds]\nauto_approve_max = 30\n");
    let r = cab
        .cmd(submit("d", "40"))
        .arg("--config")
        .arg(&config)
        .run()
        .success()
        .json();
    assert_eq!(r["gate"], "manual_review");
    assert_eq!(r["status"], "under_review");
    assert_eq!(
        r["thresholds"],
        json!({"auto_approve_max": 30.0, "manual_review_max": 75.0})
    );
    // Without the file, 40 is auto-approved.
    assert_eq!(cab.submit("alice", "d", "40")["gate"], "auto_approved");
}

#[test]
fn cab_config_names_the_file_like_the_flag() {
    let cab = Cab::new();
    let config = cab.file("c.toml", "[thresholds]\nmanual_review_max = 60\n");
    let r = cab
        .cmd(submit("d", "65"))
        .env("CAB_CONFIG", &config)
        .run()
        .success()
        .json();
    assert_eq!(r["gate"], "exception_required");
}

#[test]
fn the_config_flag_wins_over_cab_config() {
    let cab = Cab::new();
    let env_file = cab.file("env.toml", "[thresholds]\nauto_approve_max = 10\n");
    let flag_file = cab.file("flag.toml", "[thresholds]\nauto_approve_max = 45\n");
    let r = cab
        .cmd(submit("d", "40"))
        .env("CAB_CONFIG", &env_file)
        .arg("--config")
        .arg(&flag_file)
        .run()
        .success()
        .json();
    assert_eq!(r["gate"], "auto_approved");
}

#[test]
fn a_request_keeps_the_thresholds_it_was_judged_with_after_the_config_changes() {
    let cab = Cab::new();
    let config = cab.file("c.toml", "[thresholds]\nauto_approve_max = 30\n");
    let id = id_of(
        &cab.cmd(submit("d", "40"))
            .arg("--config")
            .arg(&config)
            .run()
            .success()
            .json(),
    );
    let shown = cab.json("x", "", &["show", &id]);
    assert_eq!(shown["thresholds"]["auto_approve_max"], 30.0);
    assert_eq!(shown["status"], "under_review");
}

#[test]
fn the_default_config_file_in_the_platform_folder_is_read() {
    let cab = Cab::new();
    let dir = cab.dir().join("home").join("config").join("cab");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "[thresholds]\nauto_approve_max = 20\n",
    )
    .unwrap();
    assert_eq!(cab.submit("alice", "d", "30")["gate"], "manual_review");
}

#[test]
fn promotion_approval_required_from_ring_moves_the_exempt_rings() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "60");
    let config = cab.file("c.toml", "[promotion]\napproval_required_from_ring = 4\n");
    let gate = |ring: &str| {
        cab.cmd(["gate", "d", "--ring", ring])
            .arg("--config")
            .arg(&config)
            .run()
            .code
    };
    assert_eq!(gate("3"), 0);
    assert_eq!(gate("4"), 3);
    let zero = cab.file(
        "zero.toml",
        "[promotion]\napproval_required_from_ring = 0\n",
    );
    let code = cab
        .cmd(["gate", "d", "--ring", "0"])
        .arg("--config")
        .arg(&zero)
        .run()
        .code;
    assert_eq!(code, 3, "with 0, every ring needs approval");
}

#[test]
fn identity_comes_from_the_config_file_when_cab_user_and_roles_are_unset() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    let config = cab.file(
        "c.toml",
        "[identity]\nuser = \"carol\"\nroles = [\"cab_member\"]\n",
    );
    let r = cab
        .cmd(["--json", "approve", &id, "--rationale", "ok"])
        .no_identity()
        .arg("--config")
        .arg(&config)
        .run()
        .success()
        .json();
    assert_eq!(r["decision"]["approver"], "carol");
}

#[test]
fn cab_user_and_cab_roles_override_the_config_identity() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    let config = cab.file(
        "c.toml",
        "[identity]\nuser = \"carol\"\nroles = [\"cab_member\"]\n",
    );
    // CAB_USER replaces the user; the file's roles still apply when CAB_ROLES is unset.
    let r = cab
        .cmd(["--json", "approve", &id, "--rationale", "ok"])
        .no_identity()
        .env("CAB_USER", "dave")
        .arg("--config")
        .arg(&config)
        .run()
        .success()
        .json();
    assert_eq!(r["decision"]["approver"], "dave");

    // CAB_ROLES replaces the roles: without cab_member, carol may not decide.
    let other = cab.submit_id("alice", "d2", "60");
    let f = cab.fails_call(4, || {
        cab.cmd(["reject", &other, "--rationale", "no"])
            .no_identity()
            .env("CAB_ROLES", "security_reviewer")
            .arg("--config")
            .arg(&config)
    });
    assert_eq!(f.code, "missing_role");
    assert!(f.message.contains("carol"), "{}", f.message);
}

#[test]
fn a_config_with_an_unknown_key_exits_2_naming_the_key() {
    let cab = Cab::new();
    for (text, key) in [
        ("[thresholds]\nauto_aprove_max = 30\n", "auto_aprove_max"),
        ("colour = \"red\"\n", "colour"),
        ("[identity]\nname = \"x\"\n", "name"),
        ("[promotion]\nring = 2\n", "ring"),
    ] {
        let config = cab.file("bad.toml", text);
        let f = cab.fails_call(2, || {
            cab.cmd([
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                "10",
            ])
            .arg("--config")
            .arg(&config)
        });
        assert!(f.message.contains(key), "{key}: {}", f.message);
        assert!(cab.store_bytes().is_none());
    }
}

#[test]
fn a_config_with_invalid_values_exits_2() {
    let cab = Cab::new();
    for text in [
        "[thresholds]\nauto_approve_max = 80\nmanual_review_max = 70\n",
        "[thresholds]\nauto_approve_max = -1\n",
        "[thresholds]\nmanual_review_max = 101\n",
        "[thresholds]\nauto_approve_max = \"fifty\"\n",
        "[promotion]\napproval_required_from_ring = -1\n",
        "[identity]\nroles = [\"admin\"]\n",
        "this is not toml",
    ] {
        let config = cab.file("bad.toml", text);
        cab.fails_call(2, || {
            cab.cmd([
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                "10",
            ])
            .no_identity()
            .env("CAB_USER", "alice")
            .arg("--config")
            .arg(&config)
        });
    }
    assert!(cab.store_bytes().is_none());
}

#[test]
fn an_explicit_config_path_that_does_not_exist_exits_2_for_flag_and_env() {
    let cab = Cab::new();
    let missing = cab.dir().join("nope.toml");
    let f = cab.fails_call(2, || cab.cmd(["queue"]).arg("--config").arg(&missing));
    assert!(f.message.contains("nope.toml"), "{}", f.message);
    cab.fails_call(2, || cab.cmd(["queue"]).env("CAB_CONFIG", &missing));
    assert!(cab.store_bytes().is_none());
}

#[test]
fn the_store_flag_overrides_cab_store() {
    let cab = Cab::new();
    let other = cab.dir().join("other.jsonl");
    cab.cmd([
        "submit",
        "--deployment",
        "d",
        "--evidence",
        "e",
        "--risk",
        "10",
        "--store",
    ])
    .arg(&other)
    .run()
    .success();
    assert!(other.exists());
    assert!(cab.store_bytes().is_none());
}

#[test]
fn an_invalid_cab_now_exits_2_for_reads_and_writes() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "60");
    for bad in [
        "tomorrow",
        "2026-11-28",
        "2026-11-28 09:00:00",
        "2026-11-28T09:00:00",
    ] {
        let f = cab.fails_call(2, || {
            cab.cmd([
                "submit",
                "--deployment",
                "d",
                "--evidence",
                "e",
                "--risk",
                "10",
            ])
            .at(bad)
        });
        assert!(f.message.contains("CAB_NOW"), "{}", f.message);
        cab.fails_call(2, || cab.cmd(["queue"]).at(bad));
        cab.fails_call(2, || cab.cmd(["status", "d"]).at(bad));
    }
}

#[test]
fn cab_now_fixes_the_clock_for_decisions_and_exceptions() {
    let cab = Cab::new();
    let id = cab.submit_id("alice", "d", "60");
    let t = "2026-12-24T18:30:00Z";
    let r = cab
        .cmd(["--json", "approve", &id, "--rationale", "ok"])
        .user("carol", "cab_member")
        .at(t)
        .run()
        .success()
        .json();
    assert_eq!(r["decision"]["decided_at"], t);
    let high = cab.submit_id("alice", "h", "90");
    let e = cab
        .cmd([
            "--json",
            "exception",
            "create",
            &high,
            "--justification",
            "j",
            "--control",
            "c",
            "--days",
            "2",
        ])
        .user("bob", "")
        .at(t)
        .run()
        .success()
        .json();
    assert_eq!(e["requested_at"], t);
    assert_eq!(e["expires_at"], "2026-12-26T18:30:00Z");
}

#[test]
fn demo_with_a_remote_set_exits_2_and_writes_nothing_locally() {
    let cab = Cab::new();
    cab.submit_id("alice", "d", "60");
    // The demo fills a local store file only; against a server it is refused.
    let f = cab.fails_call(2, || {
        cab.cmd(["demo", "--requests", "3"])
            .env("CAB_REMOTE", "http://127.0.0.1:9")
    });
    assert!(f.message.contains("demo"), "{}", f.message);
}
