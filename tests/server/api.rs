//! The HTTP API of SPEC section 5 over loopback against a real `cab serve`: every route, its
//! status codes and bodies, token checks, malformed and oversized bodies, idempotency keys,
//! separation of duties by the token's identity, and the real client through the library.

use std::time::Duration;

use cab::backend::{Backend, BackendError};
use cab::engine::{ExceptionFilter, RequestFilter, Review, Submission, Verdict};
use serde_json::{Value, json};

use crate::support::server::{Api, NOW, Reply, World, now_plus_days};

/// A well-formed id that names nothing.
const NOBODY: &str = "00000000-0000-4000-8000-000000000000";

fn submit_body(deployment: &str, risk: f64) -> Value {
    json!({
        "deployment_intent_id": deployment,
        "evidence_package_id": format!("EP-{deployment}"),
        "risk_score": risk,
    })
}

fn events_of_type(world: &World, kind: &str) -> Vec<Value> {
    world
        .store_events()
        .into_iter()
        .filter(|e| e["type"] == kind)
        .collect()
}

#[test]
fn healthz_and_openapi_answer_200_without_a_token() {
    let world = World::new();
    let server = world.start();
    for api in [server.api(None), server.api(Some("cab_not_a_real_token"))] {
        let health = api.get("/v1/healthz");
        health.expect(200, "healthz");
        let doc = api.get("/v1/openapi.json");
        doc.expect(200, "openapi.json");
        assert!(
            doc.json["openapi"].as_str().unwrap_or("").starts_with("3."),
            "an OpenAPI 3 document: {}",
            doc.text.chars().take(200).collect::<String>()
        );
        assert!(doc.json["paths"]["/v1/requests"].is_object());
    }
}

#[test]
fn every_other_route_answers_401_json_with_www_authenticate_without_a_token_or_with_a_wrong_one() {
    let world = World::new();
    let server = world.start();
    let sam = world.user("sam");
    let routes: Vec<_> = cab::server::routes::ROUTES
        .iter()
        .filter(|(_, path)| !cab::server::routes::PUBLIC.contains(path))
        .collect();
    // Every route of SPEC section 5 is among them.
    for spec in [
        ("POST", "/v1/requests"),
        ("GET", "/v1/requests"),
        ("GET", "/v1/requests/{id}"),
        ("POST", "/v1/requests/{id}/approve"),
        ("POST", "/v1/requests/{id}/reject"),
        ("POST", "/v1/requests/{id}/exceptions"),
        ("GET", "/v1/exceptions"),
        ("POST", "/v1/exceptions/{id}/approve"),
        ("POST", "/v1/exceptions/{id}/reject"),
        ("POST", "/v1/exceptions/cleanup"),
        ("GET", "/v1/deployments/{id}/status"),
        ("GET", "/v1/events"),
    ] {
        assert!(routes.contains(&&spec), "{spec:?} is served");
    }
    let api = server.api(None);
    for (method, path) in routes {
        let path = path.replace("{id}", NOBODY);
        let body = json!({"rationale": "r", "justification": "j", "compensating_controls": ["c"]});
        // No token; a wrong token; the right token under another scheme; the token's hash
        // (what the config file holds) presented as the token.
        let attempts = [
            ("no token", None),
            (
                "a wrong token",
                Some(format!("Bearer cab_{}", "0".repeat(64))),
            ),
            ("an empty bearer", Some("Bearer ".to_string())),
            ("another scheme", Some(format!("Basic {}", sam.token))),
            ("the hash", Some(format!("Bearer {}", sam.token_sha256))),
        ];
        for (what, header) in attempts {
            let mut request = api.request(method, &path);
            if let Some(h) = header {
                request = request.header("authorization", h);
            }
            if *method == "POST" {
                request = request.json(&body);
            }
            let reply = api.send(request);
            let label = format!("{method} {path} with {what}");
            reply.expect_error(401, "unauthorized", &label);
            let challenge = reply
                .headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{label}: no WWW-Authenticate header"));
            assert!(challenge.starts_with("Bearer"), "{label}: {challenge}");
        }
    }
    assert!(
        world.store_bytes().is_empty(),
        "a refused request writes nothing"
    );
}

#[test]
fn submit_answers_201_with_the_body_fields_the_gate_and_the_token_user_as_requester() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let reply = dana.post(
        "/v1/requests",
        &json!({
            "deployment_intent_id": "payments-api",
            "evidence_package_id": "EP-7",
            "risk_score": 60.5,
            "risk_factors": {"change_size": 40, "blast_radius": 20.5},
            "title": "Rotate the signing keys",
            "correlation_id": "corr-123",
        }),
    );
    reply.expect(201, "submit");
    let r = &reply.json;
    let id = reply.id();
    let parsed = uuid::Uuid::parse_str(&id).expect("the id is a UUID");
    assert_eq!(parsed.get_version_num(), 4, "a UUID v4");
    assert_eq!(r["deployment_intent_id"], "payments-api");
    assert_eq!(r["evidence_package_id"], "EP-7");
    assert_eq!(r["title"], "Rotate the signing keys");
    assert_eq!(r["risk_score"], 60.5);
    assert_eq!(
        r["risk_factors"],
        json!({"change_size": 40.0, "blast_radius": 20.5})
    );
    assert_eq!(r["gate"], "manual_review");
    assert_eq!(r["status"], "under_review");
    assert_eq!(
        r["thresholds"],
        json!({"auto_approve_max": 50.0, "manual_review_max": 75.0})
    );
    assert_eq!(r["requested_by"], "dana");
    assert_eq!(r["correlation_id"], "corr-123");
    assert_eq!(r["submitted_at"], NOW);
    assert_eq!(r["decision"], Value::Null);
    assert_eq!(r["exceptions"], json!([]));

    // The gate's edges: 50 auto-approves with a decision by `system`; 75.01 needs an exception.
    let auto = dana.post("/v1/requests", &submit_body("web", 50.0));
    auto.expect(201, "submit 50");
    assert_eq!(auto.json["status"], "auto_approved");
    assert_eq!(auto.json["decision"]["approver"], "system");
    assert_eq!(auto.json["decision"]["decision"], "auto_approved");
    let generated = auto.json["correlation_id"]
        .as_str()
        .expect("a correlation id");
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
    let high = dana.post("/v1/requests", &submit_body("ledger", 75.01));
    high.expect(201, "submit 75.01");
    assert_eq!(high.json["gate"], "exception_required");
    assert_eq!(high.json["status"], "exception_required");

    let events = world.store_events();
    assert_eq!(events.len(), 3, "one event per submission");
    assert_eq!(events[0]["data"]["request"]["id"], id.as_str());
    world.verify();
}

#[test]
fn list_filters_by_status_and_deployment() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let carol = server.as_user(&world, "carol");
    let review_a = dana.submit("alpha", 60.0);
    let auto_a = dana.submit("alpha", 10.0);
    let review_b = dana.submit("beta", 70.0);
    let high_b = dana.submit("beta", 90.0);
    let approved_b = dana.submit("beta", 65.0);
    carol
        .post(
            &format!("/v1/requests/{approved_b}/approve"),
            &json!({"rationale": "fine"}),
        )
        .expect(200, "approve");

    let ids = |path: &str| -> Vec<String> {
        let reply = carol.get(path);
        reply.expect(200, path);
        let mut ids: Vec<String> = reply
            .json
            .as_array()
            .unwrap_or_else(|| panic!("{path}: a JSON array"))
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_string())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<&String>| -> Vec<String> {
        v.sort();
        v.into_iter().cloned().collect()
    };
    assert_eq!(
        ids("/v1/requests"),
        sorted(vec![&review_a, &auto_a, &review_b, &high_b, &approved_b])
    );
    carol.get("/v1/requests?status=").expect_error(
        400,
        "invalid_input",
        "an empty filter is not a status (SPEC section 5)",
    );
    assert_eq!(
        ids("/v1/requests?status=under_review"),
        sorted(vec![&review_a, &review_b])
    );
    assert_eq!(
        ids("/v1/requests?status=auto_approved"),
        vec![auto_a.clone()]
    );
    assert_eq!(
        ids("/v1/requests?status=exception_required"),
        vec![high_b.clone()]
    );
    assert_eq!(
        ids("/v1/requests?status=approved"),
        vec![approved_b.clone()]
    );
    assert!(ids("/v1/requests?status=rejected").is_empty());
    assert_eq!(
        ids("/v1/requests?deployment=alpha"),
        sorted(vec![&review_a, &auto_a])
    );
    assert_eq!(
        ids("/v1/requests?deployment=beta&status=under_review"),
        vec![review_b.clone()]
    );
    assert!(ids("/v1/requests?deployment=gamma").is_empty());
    let before = world.store_bytes();
    carol.get("/v1/requests?status=submitted").expect_error(
        400,
        "invalid_input",
        "an unknown status filter",
    );
    carol.get("/v1/requests?status=bogus").expect_error(
        400,
        "invalid_input",
        "an unknown status filter",
    );
    assert_eq!(world.store_bytes(), before);
}

#[test]
fn one_request_answers_with_its_decision_and_event_history_by_id_or_prefix() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let martin = server.as_user(&world, "martin");
    let id = dana.submit("payments", 60.0);
    martin
        .post(
            &format!("/v1/requests/{id}/approve"),
            &json!({"rationale": "tested in staging"}),
        )
        .expect(200, "approve");

    let whole = martin.get(&format!("/v1/requests/{id}"));
    whole.expect(200, "one request");
    let r = &whole.json;
    assert_eq!(r["id"], id.as_str());
    assert_eq!(r["status"], "approved");
    assert_eq!(r["decision"]["approver"], "martin");
    assert_eq!(r["decision"]["rationale"], "tested in staging");
    let history = r["history"].as_array().expect("a history");
    let types: Vec<&str> = history
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(types, ["request_submitted", "request_decided"]);
    assert_eq!(history[0]["seq"], 1);
    assert_eq!(history[1]["seq"], 2);
    assert_eq!(
        history,
        &world.store_events(),
        "the history is the store's events"
    );

    let prefix = martin.get(&format!("/v1/requests/{}", &id[..8]));
    prefix.expect(200, "an 8-character prefix");
    assert_eq!(prefix.json, whole.json);
    martin
        .get(&format!("/v1/requests/{}", &id[..7]))
        .expect_error(400, "invalid_input", "a 7-character prefix is too short");
    martin
        .get(&format!("/v1/requests/{NOBODY}"))
        .expect_error(404, "not_found", "an unknown id");
    martin
        .get("/v1/requests/ffffffff")
        .expect_error(404, "not_found", "an unknown prefix");
}

#[test]
fn approve_with_conditions_is_conditional_plain_approve_is_approved_and_reject_is_rejected() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let carol = server.as_user(&world, "carol");
    let martin = server.as_user(&world, "martin");
    let (one, two, three) = (
        dana.submit("one", 60.0),
        dana.submit("two", 61.0),
        dana.submit("three", 62.0),
    );

    let conditional = carol.post(
        &format!("/v1/requests/{one}/approve"),
        &json!({"rationale": "ok with guard rails", "conditions": ["canary first", "watch p99"]}),
    );
    conditional.expect(200, "conditional approval");
    assert_eq!(conditional.json["status"], "conditional");
    let d = &conditional.json["decision"];
    assert_eq!(d["decision"], "conditional");
    assert_eq!(d["approver"], "carol");
    assert_eq!(d["conditions"], json!(["canary first", "watch p99"]));
    assert_eq!(d["decided_at"], NOW);
    assert_eq!(d["request_id"], one.as_str());

    let approved = martin.post(
        &format!("/v1/requests/{two}/approve"),
        &json!({"rationale": "fine", "conditions": []}),
    );
    approved.expect(200, "approval");
    assert_eq!(approved.json["status"], "approved");
    assert_eq!(approved.json["decision"]["conditions"], json!([]));

    let rejected = carol.post(
        &format!("/v1/requests/{}/reject", &three[..8]),
        &json!({"rationale": "no rollback plan"}),
    );
    rejected.expect(200, "rejection by prefix");
    assert_eq!(rejected.json["id"], three.as_str());
    assert_eq!(rejected.json["status"], "rejected");
    assert_eq!(rejected.json["decision"]["decision"], "rejected");
    assert_eq!(rejected.json["decision"]["rationale"], "no rollback plan");

    assert_eq!(events_of_type(&world, "request_decided").len(), 3);
    world.verify();
}

#[test]
fn decision_refusals_answer_400_403_404_409_naming_the_rule_and_write_nothing() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let carol = server.as_user(&world, "carol");
    let martin = server.as_user(&world, "martin");
    let id = dana.submit("payments", 60.0);
    let carols_own = carol.submit("search", 60.0);
    let high = dana.submit("ledger", 80.0);
    let before = world.store_bytes();
    let approve = |id: &str| format!("/v1/requests/{id}/approve");

    dana.post("/v1/requests", &submit_body("x", 101.0))
        .expect_error(400, "invalid_input", "risk 101");
    dana.post("/v1/requests", &submit_body("x", -0.5))
        .expect_error(400, "invalid_input", "a negative risk");
    dana.post(
        "/v1/requests",
        &json!({"deployment_intent_id": "", "evidence_package_id": "e", "risk_score": 1}),
    )
    .expect_error(400, "invalid_input", "an empty deployment");
    carol
        .post(&approve(&id), &json!({"rationale": ""}))
        .expect_error(400, "invalid_input", "an empty rationale");
    carol
        .post(
            &format!("/v1/requests/{id}/reject"),
            &json!({"rationale": "  "}),
        )
        .expect_error(400, "invalid_input", "a blank rationale");
    carol
        .post(&approve(&id[..5]), &json!({"rationale": "ok"}))
        .expect_error(400, "invalid_input", "an id prefix too short");
    let role = dana
        .post(&approve(&id), &json!({"rationale": "ok"}))
        .expect_error(403, "missing_role", "no cab_member role");
    assert!(role.contains("cab_member"), "{role}");
    let own = carol
        .post(&approve(&carols_own), &json!({"rationale": "ok"}))
        .expect_error(403, "separation_of_duties", "own request");
    assert!(own.contains("separation of duties"), "{own}");
    carol
        .post(&approve(NOBODY), &json!({"rationale": "ok"}))
        .expect_error(404, "not_found", "an unknown id");
    let needs = carol
        .post(&approve(&high), &json!({"rationale": "ok"}))
        .expect_error(
            409,
            "exception_required",
            "a request above the review maximum",
        );
    assert!(needs.contains("exception"), "{needs}");
    assert_eq!(world.store_bytes(), before, "no refusal writes anything");

    carol
        .post(&approve(&id), &json!({"rationale": "ok"}))
        .expect(200, "the first decision");
    let after_first = world.store_bytes();
    for (path, body) in [
        (approve(&id), json!({"rationale": "me too"})),
        (
            format!("/v1/requests/{id}/reject"),
            json!({"rationale": "no"}),
        ),
    ] {
        let message =
            martin
                .post(&path, &body)
                .expect_error(409, "already_decided", "a second decision");
        assert!(
            message.contains("carol") && message.contains("approved") && message.contains(NOW),
            "the refusal names the winner's decision: {message}"
        );
    }
    assert_eq!(world.store_bytes(), after_first);
}

#[test]
fn exceptions_are_created_listed_and_reviewed_with_expiry_bounds_roles_and_separation_of_duties() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let sam = server.as_user(&world, "sam");
    let carol = server.as_user(&world, "carol");
    let h1 = dana.submit("ledger", 90.0);
    let h2 = dana.submit("billing", 90.0);
    let h3 = dana.submit("vault", 95.0);
    let sams = sam.submit("edge", 99.0);
    let review = dana.submit("web", 60.0);
    let create = |id: &str| format!("/v1/requests/{id}/exceptions");
    let body = |days: Value| {
        let mut b = json!({
            "justification": "quarter-end fix",
            "compensating_controls": ["extra on-call", "feature flag"],
        });
        if !days.is_null() {
            b["expiry_days"] = days;
        }
        b
    };

    // Expiry: default 30 days; 1 to 90; 0, 91, fractions and strings refused.
    let before = world.store_bytes();
    for bad in [json!(0), json!(91), json!(-1), json!(1.5), json!("7")] {
        dana.post(&create(&h2), &body(bad.clone())).expect_error(
            400,
            "invalid_input",
            &format!("expiry_days {bad}"),
        );
    }
    dana.post(
        &create(&h2),
        &json!({"justification": "x", "compensating_controls": []}),
    )
    .expect_error(400, "invalid_input", "no compensating control");
    dana.post(
        &create(&h2),
        &json!({"justification": " ", "compensating_controls": ["c"]}),
    )
    .expect_error(400, "invalid_input", "a blank justification");
    dana.post(&create(&review), &body(Value::Null))
        .expect_error(409, "wrong_state", "a request that needs no exception");
    dana.post(&create(NOBODY), &body(Value::Null)).expect_error(
        404,
        "not_found",
        "an unknown request",
    );
    assert_eq!(world.store_bytes(), before, "no refusal writes anything");

    let x1 = dana.post(&create(&h1), &body(Value::Null));
    x1.expect(201, "an exception with the default expiry");
    assert_eq!(x1.json["status"], "pending");
    assert_eq!(x1.json["request_id"], h1.as_str());
    assert_eq!(x1.json["deployment_intent_id"], "ledger");
    assert_eq!(x1.json["requested_by"], "dana");
    assert_eq!(x1.json["requested_at"], NOW);
    assert_eq!(x1.json["expires_at"], now_plus_days(30));
    assert_eq!(x1.json["is_active"], false);
    assert_eq!(x1.json["is_expired"], false);
    assert_eq!(
        x1.json["compensating_controls"],
        json!(["extra on-call", "feature flag"])
    );
    let x1 = x1.id();
    dana.post(&create(&h1), &body(Value::Null)).expect_error(
        409,
        "exception_open",
        "a second open exception",
    );
    let x2 = dana.post(&create(&h2), &body(json!(1)));
    x2.expect(201, "one day");
    assert_eq!(x2.json["expires_at"], now_plus_days(1));
    let x2 = x2.id();
    let x3 = sam.post(&create(&h3), &body(json!(90)));
    x3.expect(201, "ninety days");
    assert_eq!(x3.json["expires_at"], now_plus_days(90));
    let x3 = x3.id();
    let x4 = dana.post(&create(&sams), &body(Value::Null));
    x4.expect(201, "an exception for sam's request");
    let x4 = x4.id();

    // Reviews: the security_reviewer role; not the exception's requester nor the request's.
    let before = world.store_bytes();
    let approve = |id: &str| format!("/v1/exceptions/{id}/approve");
    let reject = |id: &str| format!("/v1/exceptions/{id}/reject");
    carol
        .post(&approve(&x1), &json!({"rationale": "ok"}))
        .expect_error(403, "missing_role", "a CAB member reviewing");
    let own = sam
        .post(&approve(&x3), &json!({"rationale": "ok"}))
        .expect_error(403, "separation_of_duties", "own exception");
    assert!(own.contains("requested exception"), "{own}");
    let own_request = sam
        .post(&reject(&x4), &json!({"rationale": "no"}))
        .expect_error(403, "separation_of_duties", "an exception for own request");
    assert!(own_request.contains("submitted request"), "{own_request}");
    sam.post(&approve(&x1), &json!({"rationale": ""}))
        .expect_error(400, "invalid_input", "an empty rationale");
    sam.post(&approve(NOBODY), &json!({"rationale": "ok"}))
        .expect_error(404, "not_found", "an unknown exception");
    assert_eq!(world.store_bytes(), before, "no refusal writes anything");

    let approved = sam.post(&approve(&x1), &json!({"rationale": "controls suffice"}));
    approved.expect(200, "approve");
    assert_eq!(approved.json["status"], "approved");
    assert_eq!(approved.json["reviewed_by"], "sam");
    assert_eq!(approved.json["reviewed_at"], NOW);
    assert_eq!(approved.json["review_rationale"], "controls suffice");
    assert_eq!(approved.json["is_active"], true);
    let rejected = sam.post(&reject(&x2[..8]), &json!({"rationale": "too risky"}));
    rejected.expect(200, "reject by prefix");
    assert_eq!(rejected.json["id"], x2.as_str());
    assert_eq!(rejected.json["status"], "rejected");
    assert_eq!(rejected.json["is_active"], false);
    let again = sam
        .post(&reject(&x1), &json!({"rationale": "changed my mind"}))
        .expect_error(409, "already_reviewed", "a second review");
    assert!(again.contains("sam"), "{again}");

    // Lists, filtered by status.
    let ids = |path: &str| -> Vec<String> {
        let reply = carol.get(path);
        reply.expect(200, path);
        let mut v: Vec<String> = reply
            .json
            .as_array()
            .unwrap_or_else(|| panic!("{path}: an array"))
            .iter()
            .map(|x| x["id"].as_str().expect("id").to_string())
            .collect();
        v.sort();
        v
    };
    let mut all = vec![x1.clone(), x2.clone(), x3.clone(), x4.clone()];
    all.sort();
    assert_eq!(ids("/v1/exceptions"), all);
    let mut pending = vec![x3.clone(), x4.clone()];
    pending.sort();
    assert_eq!(ids("/v1/exceptions?status=pending"), pending);
    assert_eq!(ids("/v1/exceptions?status=approved"), vec![x1.clone()]);
    assert_eq!(ids("/v1/exceptions?status=active"), vec![x1.clone()]);
    assert_eq!(ids("/v1/exceptions?status=rejected"), vec![x2.clone()]);
    assert!(ids("/v1/exceptions?status=expired").is_empty());
    carol.get("/v1/exceptions?status=forever").expect_error(
        400,
        "invalid_input",
        "an unknown exception status",
    );

    // The approved exception makes its deployment eligible.
    let status = carol.get("/v1/deployments/ledger/status");
    status.expect(200, "status");
    assert_eq!(status.json["eligible"], true);
    assert_eq!(status.json["active_exception"]["id"], x1.as_str());
    world.verify();
}

#[test]
fn an_expired_exception_cannot_be_approved_and_cleanup_records_each_expiry_once_the_clock_moves_on()
{
    let world = World::new();
    let (pending, approved) = {
        let server = world.start();
        let dana = server.as_user(&world, "dana");
        let sam = server.as_user(&world, "sam");
        let h1 = dana.submit("ledger", 90.0);
        let h2 = dana.submit("billing", 90.0);
        let body = json!({"justification": "j", "compensating_controls": ["c"], "expiry_days": 1});
        let pending = dana.post(&format!("/v1/requests/{h1}/exceptions"), &body);
        pending.expect(201, "exception 1");
        let approved = dana.post(&format!("/v1/requests/{h2}/exceptions"), &body);
        approved.expect(201, "exception 2");
        sam.post(
            &format!("/v1/exceptions/{}/approve", approved.id()),
            &json!({"rationale": "ok for a day"}),
        )
        .expect(200, "approve exception 2");
        let (status, log) = server.terminate();
        assert!(status.success(), "{status}: {log}");
        (pending.id(), approved.id())
    };

    // Two days later.
    let server = world.start_at(&now_plus_days(2));
    let sam = server.as_user(&world, "sam");
    let expired = sam.get("/v1/exceptions?status=expired");
    expired.expect(200, "expired list");
    let list = expired.json.as_array().expect("an array");
    assert_eq!(list.len(), 2, "both are reported expired before cleanup");
    for x in list {
        assert_eq!(x["status"], "expired");
        assert_eq!(x["is_expired"], true);
        assert_eq!(x["is_active"], false);
    }
    let before = world.store_bytes();
    let message = sam
        .post(
            &format!("/v1/exceptions/{pending}/approve"),
            &json!({"rationale": "late"}),
        )
        .expect_error(409, "exception_expired", "approving an expired exception");
    assert!(message.contains("expired"), "{message}");
    assert_eq!(world.store_bytes(), before, "the refusal writes nothing");
    let status = sam.get("/v1/deployments/billing/status");
    status.expect(200, "status");
    assert_eq!(status.json["eligible"], false);

    let cleanup = sam.post("/v1/exceptions/cleanup", &json!({}));
    cleanup.expect(200, "cleanup");
    assert_eq!(cleanup.json["recorded"], 2);
    let mut cleaned: Vec<&str> = cleanup.json["exceptions"]
        .as_array()
        .expect("the exceptions it recorded")
        .iter()
        .map(|x| x["id"].as_str().unwrap_or(""))
        .collect();
    cleaned.sort();
    let mut expected = vec![pending.as_str(), approved.as_str()];
    expected.sort();
    assert_eq!(cleaned, expected);
    assert_eq!(events_of_type(&world, "exception_expired").len(), 2);

    let after = world.store_bytes();
    let again = sam.send(sam.request("POST", "/v1/exceptions/cleanup"));
    again.expect(200, "a second cleanup, with no body");
    assert_eq!(again.json["recorded"], 0);
    assert_eq!(world.store_bytes(), after, "nothing left to record");
    sam.post("/v1/exceptions/cleanup", &json!({"force": true}))
        .expect_error(400, "invalid_input", "cleanup takes no fields");
    world.verify();
}

#[test]
fn deployment_status_answers_eligibility_with_and_without_a_ring() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let carol = server.as_user(&world, "carol");
    let status = |path: &str| {
        let reply = dana.get(path);
        reply.expect(200, path);
        reply.json
    };

    let none = status("/v1/deployments/web/status");
    assert_eq!(none["deployment_intent_id"], "web");
    assert_eq!(none["eligible"], false);
    assert_eq!(none["request"], Value::Null);
    assert!(none["reason"].as_str().is_some_and(|r| !r.is_empty()));

    let id = dana.submit("web", 60.0);
    let review = status("/v1/deployments/web/status");
    assert_eq!(review["eligible"], false);
    assert_eq!(review["request"]["id"], id.as_str());
    assert!(
        review["reason"].as_str().unwrap_or("").contains("review"),
        "{review}"
    );
    for ring in [0, 1] {
        let exempt = status(&format!("/v1/deployments/web/status?ring={ring}"));
        assert_eq!(exempt["eligible"], true, "ring {ring} needs no approval");
        assert_eq!(exempt["ring"], ring);
    }
    assert_eq!(
        status("/v1/deployments/web/status?ring=2")["eligible"],
        false
    );

    carol
        .post(
            &format!("/v1/requests/{id}/approve"),
            &json!({"rationale": "ok", "conditions": ["canary"]}),
        )
        .expect(200, "approve");
    let approved = status("/v1/deployments/web/status?ring=3");
    assert_eq!(approved["eligible"], true);
    assert_eq!(
        approved["request"]["decision"]["conditions"],
        json!(["canary"])
    );

    // The most recently submitted request decides.
    dana.submit("web", 70.0);
    assert_eq!(status("/v1/deployments/web/status")["eligible"], false);

    dana.get("/v1/deployments/web/status?ring=-1").expect_error(
        400,
        "invalid_input",
        "a negative ring",
    );
    dana.get("/v1/deployments/web/status?ring=two")
        .expect_error(400, "invalid_input", "a ring that is not a number");
}

#[test]
fn events_page_after_a_sequence_number_with_a_limit_and_report_the_head() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let empty = dana.get("/v1/events");
    empty.expect(200, "no events yet");
    assert_eq!(empty.json, json!({"events": [], "head": 0}));
    for i in 0..5 {
        dana.submit(&format!("d{i}"), 60.0);
    }
    let page = |path: &str| -> (Vec<u64>, u64) {
        let reply = dana.get(path);
        reply.expect(200, path);
        let seqs = reply.json["events"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: events"))
            .iter()
            .map(|e| e["seq"].as_u64().expect("seq"))
            .collect();
        (seqs, reply.json["head"].as_u64().expect("head"))
    };
    assert_eq!(page("/v1/events"), (vec![1, 2, 3, 4, 5], 5));
    assert_eq!(page("/v1/events?after=0"), (vec![1, 2, 3, 4, 5], 5));
    assert_eq!(page("/v1/events?after=2"), (vec![3, 4, 5], 5));
    assert_eq!(page("/v1/events?after=2&limit=2"), (vec![3, 4], 5));
    assert_eq!(page("/v1/events?limit=1"), (vec![1], 5));
    assert_eq!(page("/v1/events?after=5"), (vec![], 5));
    assert_eq!(page("/v1/events?after=99"), (vec![], 5));
    let all = dana.get("/v1/events");
    assert_eq!(
        all.json["events"],
        Value::Array(world.store_events()),
        "the events are the store's lines"
    );
    dana.get("/v1/events?after=-1").expect_error(
        400,
        "invalid_input",
        "a negative sequence number",
    );
    dana.get("/v1/events?wait=soon").expect_error(
        400,
        "invalid_input",
        "a wait that is not a number",
    );
}

#[test]
fn unknown_routes_and_ids_answer_404_json_wrong_methods_405_json_and_bad_path_ids_400_json() {
    let world = World::new();
    let server = world.start();
    for api in [server.api(None), server.as_user(&world, "carol")] {
        for path in [
            "/",
            "/v1",
            "/v1/nothing",
            "/v2/requests",
            "/v1/requests/a/b/c",
        ] {
            api.get(path)
                .expect_error(404, "not_found", &format!("GET {path}"));
        }
        api.post("/v1/nothing", &json!({}))
            .expect_error(404, "not_found", "POST to no route");
    }
    let carol = server.as_user(&world, "carol");
    for (method, path) in [
        ("DELETE", "/v1/requests"),
        ("PUT", format!("/v1/requests/{NOBODY}").as_str()),
        ("GET", "/v1/exceptions/cleanup"),
        ("POST", "/v1/events"),
    ] {
        let reply = carol.send(carol.request(method, path));
        reply.expect_error(405, "method_not_allowed", &format!("{method} {path}"));
    }
    carol.get(&format!("/v1/requests/{NOBODY}")).expect_error(
        404,
        "not_found",
        "an unknown request",
    );
    // An id that is not UTF-8 once percent-decoded.
    carol
        .get("/v1/requests/%FF%FE%FD%FC%FB%FA%F9%F8")
        .expect_error(400, "invalid_input", "a path id that is not UTF-8");
    carol
        .post("/v1/requests/%FF/approve", &json!({"rationale": "ok"}))
        .expect_error(400, "invalid_input", "a path id that is not UTF-8");
    assert!(world.store_bytes().is_empty());
}

#[test]
fn malformed_bodies_wrong_types_unknown_and_missing_fields_answer_400_json_and_write_nothing() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let sam = server.as_user(&world, "sam");
    let carol = server.as_user(&world, "carol");
    let review = dana.submit("web", 60.0);
    let high = dana.submit("ledger", 90.0);
    let exception = dana.post(
        &format!("/v1/requests/{high}/exceptions"),
        &json!({"justification": "j", "compensating_controls": ["c"]}),
    );
    exception.expect(201, "exception");
    let exception = exception.id();
    let before = world.store_bytes();

    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep = &deep[..60_000]; // under the size limit, far deeper than any parser should go
    let syntax: Vec<Vec<u8>> = vec![
        b"{".to_vec(),
        b"not json".to_vec(),
        b"{\"rationale\": \"ok\",}".to_vec(),
        b"{\"rationale\": \"ok\"} trailing".to_vec(),
        b"[]".to_vec(),
        br#"["d", "e", 60, {}, null, null]"#.to_vec(),
        br#"["a rationale", []]"#.to_vec(),
        b"null".to_vec(),
        b"\"a string\"".to_vec(),
        b"42".to_vec(),
        vec![b'{', 0xff, 0xfe, b'}'],
        b"{\"rationale\": \"\xc3\x28\"}".to_vec(),
        deep.as_bytes().to_vec(),
        b"\x00\x01\x02".to_vec(),
    ];
    let routes = [
        ("/v1/requests".to_string(), &dana),
        (format!("/v1/requests/{review}/approve"), &carol),
        (format!("/v1/requests/{review}/reject"), &carol),
        (format!("/v1/requests/{high}/exceptions"), &dana),
        (format!("/v1/exceptions/{exception}/approve"), &sam),
        (format!("/v1/exceptions/{exception}/reject"), &sam),
        ("/v1/exceptions/cleanup".to_string(), &sam),
    ];
    for (path, api) in &routes {
        for body in &syntax {
            let label = format!(
                "POST {path} with {:?}",
                String::from_utf8_lossy(&body[..body.len().min(40)])
            );
            api.post_raw(path, body.clone())
                .expect_error(400, "invalid_input", &label);
        }
    }

    // Well-formed JSON of the wrong shape, route by route.
    let submit = |patch: Value| {
        let mut b =
            json!({"deployment_intent_id": "d", "evidence_package_id": "e", "risk_score": 60});
        for (k, v) in patch.as_object().expect("a patch") {
            if v.is_null() {
                b.as_object_mut().expect("an object").remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let shapes: Vec<(String, &Api, Value, &str)> = vec![
        (
            "/v1/requests".into(),
            &dana,
            submit(json!({"risk_score": "60"})),
            "risk_score as a string",
        ),
        (
            "/v1/requests".into(),
            &dana,
            submit(json!({"risk_score": null})),
            "no risk_score",
        ),
        (
            "/v1/requests".into(),
            &dana,
            submit(json!({"risk_score": true})),
            "risk_score as a bool",
        ),
        (
            "/v1/requests".into(),
            &dana,
            submit(json!({"evidence_package_id": null})),
            "no evidence",
        ),
        (
            "/v1/requests".into(),
            &dana,
            submit(json!({"deployment_intent_id": 7})),
            "a numeric deployment",
        ),
        (
            "/v1/requests".into(),
            &dana,
            submit(json!({"risk_factors": {"size": "big"}})),
            "a factor that is not a number",
        ),
        (
            "/v1/requests".into(),
            &dana,
            submit(json!({"risk_factors": [1, 2]})),
            "factors as a list",
        ),
        (
            "/v1/requests".into(),
            &dana,
            submit(json!({"title": ["t"]})),
            "a title that is a list",
        ),
        (
            "/v1/requests".into(),
            &dana,
            submit(json!({"status": "approved"})),
            "an unknown field",
        ),
        (
            "/v1/requests".into(),
            &dana,
            submit(json!({"gate": "auto_approved"})),
            "a gate from the client",
        ),
        ("/v1/requests".into(), &dana, json!({}), "an empty object"),
        (
            format!("/v1/requests/{review}/approve"),
            &carol,
            json!({}),
            "no rationale",
        ),
        (
            format!("/v1/requests/{review}/approve"),
            &carol,
            json!({"rationale": 5}),
            "a numeric rationale",
        ),
        (
            format!("/v1/requests/{review}/approve"),
            &carol,
            json!({"rationale": "ok", "conditions": "one"}),
            "conditions as a string",
        ),
        (
            format!("/v1/requests/{review}/approve"),
            &carol,
            json!({"rationale": "ok", "conditions": [1]}),
            "a numeric condition",
        ),
        (
            format!("/v1/requests/{review}/approve"),
            &carol,
            json!({"rationale": "ok", "verdict": "reject"}),
            "an unknown field",
        ),
        (
            format!("/v1/requests/{review}/reject"),
            &carol,
            json!({"rationale": "no", "conditions": ["c"]}),
            "conditions on a rejection",
        ),
        (
            format!("/v1/requests/{high}/exceptions"),
            &dana,
            json!({"justification": "j"}),
            "no controls",
        ),
        (
            format!("/v1/requests/{high}/exceptions"),
            &dana,
            json!({"justification": "j", "compensating_controls": "c"}),
            "controls as a string",
        ),
        (
            format!("/v1/requests/{high}/exceptions"),
            &dana,
            json!({"justification": "j", "compensating_controls": ["c"], "permanent": true}),
            "an unknown field",
        ),
        (
            format!("/v1/exceptions/{exception}/approve"),
            &sam,
            json!({"rationale": null}),
            "a null rationale",
        ),
        (
            format!("/v1/exceptions/{exception}/reject"),
            &sam,
            json!({"rationale": "r", "by": "sam"}),
            "an unknown field",
        ),
    ];
    for (path, api, body, what) in shapes {
        let message = api.post(&path, &body).expect_error(
            400,
            "invalid_input",
            &format!("POST {path}: {what}"),
        );
        assert!(!message.contains("panic"), "{message}");
    }
    assert_eq!(
        world.store_bytes(),
        before,
        "no malformed body writes anything"
    );
    assert!(
        !server.log().contains("panicked"),
        "the server never panicked:\n{}",
        server.log()
    );
    // The server is still serving.
    server
        .api(None)
        .get("/v1/healthz")
        .expect(200, "still alive");
}

#[test]
fn a_body_over_64_kib_answers_413_json_and_writes_nothing_while_one_under_it_is_read() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let carol = server.as_user(&world, "carol");
    let review = dana.submit("web", 60.0);
    let before = world.store_bytes();

    // A valid submission padded with whitespace to just over 64 KiB.
    let padded = |size: usize| -> Vec<u8> {
        let core = serde_json::to_vec(&submit_body("big", 60.0)).expect("json");
        let mut body = vec![b'{'];
        body.extend(std::iter::repeat_n(b' ', size - core.len()));
        body.extend_from_slice(&core[1..]);
        assert_eq!(body.len(), size);
        body
    };
    let over = padded(64 * 1024 + 1);
    for path in [
        "/v1/requests".to_string(),
        format!("/v1/requests/{review}/approve"),
        "/v1/exceptions/cleanup".to_string(),
    ] {
        let api = if path.contains("approve") {
            &carol
        } else {
            &dana
        };
        api.post_raw(&path, over.clone()).expect_error(
            413,
            "body_too_large",
            &format!("{path}, with a length"),
        );
        // The same without a Content-Length (chunked): the limit holds while reading.
        let chunked = reqwest::blocking::Body::new(std::io::Cursor::new(over.clone()));
        let reply = api.send(
            api.request("POST", &path)
                .header("content-type", "application/json")
                .body(chunked),
        );
        reply.expect_error(413, "body_too_large", &format!("{path}, chunked"));
    }
    assert_eq!(world.store_bytes(), before, "nothing written");

    let under = dana.post_raw("/v1/requests", padded(64 * 1024 - 16));
    under.expect(201, "a body just under the limit");
    assert_eq!(under.json["deployment_intent_id"], "big");
}

#[test]
fn a_repeated_idempotency_key_returns_the_first_result_and_writes_one_event() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let carol = server.as_user(&world, "carol");
    let body = submit_body("payments", 60.0);

    let first = dana.post_idem("/v1/requests", "retry-1", &body);
    first.expect(201, "first");
    let second = dana.post_idem("/v1/requests", "retry-1", &body);
    second.expect(201, "a retry answers as the first did");
    assert_eq!(second.id(), first.id());
    assert_eq!(second.json, first.json);
    assert_eq!(world.store_events().len(), 1, "one event for both");

    // A decision retried is answered with the decision, not refused as already decided.
    let path = format!("/v1/requests/{}/approve", first.id());
    let rationale = json!({"rationale": "ok", "conditions": ["canary"]});
    let decided = carol.post_idem(&path, "decide-1", &rationale);
    decided.expect(200, "decide");
    let retried = carol.post_idem(&path, "decide-1", &rationale);
    retried.expect(200, "the decision retried");
    assert_eq!(retried.json, decided.json);
    assert_eq!(world.store_events().len(), 2);

    // The same for an exception and its review, and for cleanup.
    let high = dana.submit("ledger", 90.0);
    let xbody = json!({"justification": "j", "compensating_controls": ["c"], "expiry_days": 3});
    let xpath = format!("/v1/requests/{high}/exceptions");
    let x = dana.post_idem(&xpath, "x-1", &xbody);
    x.expect(201, "exception");
    let x_again = dana.post_idem(&xpath, "x-1", &xbody);
    x_again.expect(201, "exception retried");
    assert_eq!(x_again.id(), x.id());
    let sam = server.as_user(&world, "sam");
    let rpath = format!("/v1/exceptions/{}/approve", x.id());
    let reviewed = sam.post_idem(&rpath, "r-1", &json!({"rationale": "fine"}));
    reviewed.expect(200, "review");
    let reviewed_again = sam.post_idem(&rpath, "r-1", &json!({"rationale": "fine"}));
    reviewed_again.expect(200, "review retried");
    assert_eq!(reviewed_again.json, reviewed.json);
    assert_eq!(world.store_events().len(), 5);
    world.verify();
}

#[test]
fn reusing_an_idempotency_key_for_a_different_request_is_400_and_writes_nothing() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let carol = server.as_user(&world, "carol");
    let first = dana.post_idem("/v1/requests", "k", &submit_body("payments", 60.0));
    first.expect(201, "first");
    let before = world.store_bytes();
    dana.post_idem("/v1/requests", "k", &submit_body("payments", 61.0))
        .expect_error(400, "invalid_input", "the key with another body");
    let other = dana.submit("web", 60.0);
    let after_other = world.store_bytes();
    assert_ne!(after_other, before);
    // The same key on another route is another request too.
    dana.post_idem(
        &format!("/v1/requests/{other}/exceptions"),
        "k",
        &json!({"justification": "j", "compensating_controls": ["c"]}),
    )
    .expect_error(400, "invalid_input", "the key on another route");
    // A key that is not visible ASCII is refused.
    carol
        .send(
            carol
                .request("POST", &format!("/v1/requests/{other}/approve"))
                .header("Idempotency-Key", "")
                .json(&json!({"rationale": "ok"})),
        )
        .expect_error(400, "invalid_input", "an empty key");
    carol
        .send(
            carol
                .request("POST", &format!("/v1/requests/{other}/approve"))
                .header("Idempotency-Key", "x".repeat(201))
                .json(&json!({"rationale": "ok"})),
        )
        .expect_error(400, "invalid_input", "a key of 201 characters");
    assert_eq!(world.store_bytes(), after_other, "nothing written");
}

#[test]
fn the_same_idempotency_key_from_another_user_is_independent() {
    let world = World::new();
    let server = world.start();
    let body = submit_body("payments", 60.0);
    let dana = server
        .as_user(&world, "dana")
        .post_idem("/v1/requests", "shared", &body);
    dana.expect(201, "dana");
    let carol = server
        .as_user(&world, "carol")
        .post_idem("/v1/requests", "shared", &body);
    carol.expect(201, "carol, same key and body");
    assert_ne!(carol.id(), dana.id(), "two requests");
    assert_eq!(dana.json["requested_by"], "dana");
    assert_eq!(carol.json["requested_by"], "carol");
    assert_eq!(world.store_events().len(), 2);
    // And a third user's different body under the same key is no conflict either.
    let sam = server.as_user(&world, "sam").post_idem(
        "/v1/requests",
        "shared",
        &submit_body("web", 10.0),
    );
    sam.expect(201, "sam, same key, another body");
    assert_eq!(world.store_events().len(), 3);
}

#[test]
fn separation_of_duties_follows_the_token_not_anything_the_client_sends() {
    let world = World::new();
    let server = world.start();
    let carol = server.as_user(&world, "carol");
    let me = carol.get("/v1/me");
    me.expect(200, "me");
    assert_eq!(me.json["name"], "carol");

    // A body that claims another requester is refused outright.
    let before = world.store_bytes();
    let mut claims = submit_body("payments", 60.0);
    claims["requested_by"] = json!("martin");
    let message = carol.post("/v1/requests", &claims).expect_error(
        400,
        "invalid_input",
        "requested_by in the body",
    );
    assert!(message.contains("requested_by"), "{message}");
    assert_eq!(world.store_bytes(), before);

    // Headers that look like identity change nothing: the request is carol's.
    let reply = carol.send(
        carol
            .request("POST", "/v1/requests")
            .header("X-Cab-User", "martin")
            .header("X-Forwarded-User", "martin")
            .header("CAB_USER", "martin")
            .json(&submit_body("payments", 60.0)),
    );
    reply.expect(201, "submit");
    assert_eq!(reply.json["requested_by"], "carol");
    let id = reply.id();

    // So carol may not decide it, whatever she claims.
    let approve = format!("/v1/requests/{id}/approve");
    carol
        .post(&approve, &json!({"rationale": "ok", "approver": "martin"}))
        .expect_error(400, "invalid_input", "approver in the body");
    carol
        .send(
            carol
                .request("POST", &approve)
                .header("X-Cab-User", "martin")
                .json(&json!({"rationale": "ok"})),
        )
        .expect_error(
            403,
            "separation_of_duties",
            "carol deciding her own request",
        );
    // martin may, and the decision is his.
    let decided = server
        .as_user(&world, "martin")
        .post(&approve, &json!({"rationale": "ok"}));
    decided.expect(200, "martin decides");
    assert_eq!(decided.json["decision"]["approver"], "martin");
    let events = world.store_events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["actor"], "carol");
    assert_eq!(events[1]["actor"], "martin");
}

#[test]
fn the_real_client_drives_every_route_through_the_backend_trait() {
    let world = World::new();
    let server = world.start();
    let dana = server.remote(&world, "dana");
    let carol = server.remote(&world, "carol");
    let sam = server.remote(&world, "sam");
    let martin = server.remote(&world, "martin");

    assert_eq!(dana.whoami().expect("whoami").name, "dana");
    assert!(dana.location().contains(server.base()));
    let submission = |deployment: &str, risk: f64| Submission {
        deployment_intent_id: deployment.into(),
        evidence_package_id: "EP-1".into(),
        title: Some("a change".into()),
        risk_score: risk,
        risk_factors: [("size".to_string(), 3.0)].into_iter().collect(),
        correlation_id: None,
    };
    let review = dana.submit(submission("web", 60.0)).expect("submit");
    assert_eq!(review.request.requested_by, "dana");
    let id = review.request.id.to_string();
    let decided = carol
        .decide(
            &id[..8],
            Verdict::Approve {
                conditions: vec!["canary".into()],
            },
            "ok",
        )
        .expect("decide by prefix");
    assert_eq!(decided.decision.expect("a decision").approver, "carol");
    match martin.decide(&id, Verdict::Reject, "no") {
        Err(BackendError::Remote {
            status,
            code,
            message,
        }) => {
            assert_eq!((status, code.as_str()), (409, "already_decided"));
            assert!(message.contains("carol"), "{message}");
        }
        other => panic!("a second decision must be refused: {other:?}"),
    }
    match carol.decide(NOBODY, Verdict::Reject, "no") {
        Err(BackendError::Remote { status: 404, .. }) => {}
        other => panic!("an unknown id is 404: {other:?}"),
    }

    let high = dana
        .submit(submission("ledger", 90.0))
        .expect("submit high");
    let x = dana
        .request_exception(
            &high.request.id.to_string(),
            "freeze fix",
            vec!["on-call".into()],
            Some(7),
        )
        .expect("exception");
    let reviewed = sam
        .review_exception(&x.exception.id.to_string(), Review::Approve, "fine")
        .expect("review");
    assert!(reviewed.is_active);
    assert_eq!(
        carol
            .exceptions(ExceptionFilter::Active)
            .expect("active exceptions")
            .len(),
        1
    );
    assert_eq!(
        carol
            .requests(RequestFilter::All, Some("web"))
            .expect("list")
            .len(),
        1
    );
    let detail = carol.request(&id).expect("one request");
    assert_eq!(detail.history.len(), 2);
    assert!(carol.status("ledger", None).expect("status").eligible);
    assert!(carol.status("web", Some(2)).expect("status").eligible);
    assert_eq!(carol.cleanup().expect("cleanup").recorded, 0);
    let page = carol.events(0, Duration::ZERO).expect("events");
    assert_eq!(page.head, 5);
    assert_eq!(page.events.len(), 5);
    let snapshot = carol.snapshot().expect("snapshot");
    assert_eq!(snapshot.head, 5);
    assert_eq!(snapshot.state.head(), 5);
    assert_eq!(
        snapshot.head_hash.as_deref(),
        Some(page.events[4].hash.as_str()),
        "the next event links to the snapshot's head"
    );
    assert_eq!(carol.all_events().expect("all events").len(), 5);

    // A wrong token is Unauthorized, and an invalid submission is refused before writing.
    let stranger =
        cab::remote::RemoteBackend::new(server.base(), Some("cab_wrong".into())).expect("a client");
    assert!(matches!(
        stranger.requests(RequestFilter::All, None),
        Err(BackendError::Unauthorized(_))
    ));
    let before = world.store_bytes();
    assert!(dana.submit(submission("web", 101.0)).is_err());
    assert!(dana.submit(submission("web", f64::NAN)).is_err());
    assert_eq!(world.store_bytes(), before);
    world.verify();
}

#[test]
fn a_500_answers_a_generic_sentence_and_only_the_log_has_the_store_path_and_the_system_error() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    dana.submit("payments-api", 60.0);
    let folder = world.dir().to_str().expect("a UTF-8 path").to_string();
    let leaks = |reply: &Reply| {
        reply.text.contains(&folder)
            || reply.text.contains("store.jsonl")
            || reply.text.contains("os error")
    };

    // The store's file replaced by a folder: reading and writing it fail in the system.
    let aside = world.dir().join("store.aside");
    std::fs::rename(world.store(), &aside).expect("move the store aside");
    std::fs::create_dir(world.store()).expect("a folder where the store was");
    let write = dana.post("/v1/requests", &submit_body("ledger-db", 30.0));
    let message = write.expect_error(500, "internal", "a write the system refuses");
    assert!(!leaks(&write), "the 500 leaks the store: {write:#?}");
    assert!(message.contains("log"), "it says where to look: {message}");

    // A store that fails verification.
    std::fs::remove_dir(world.store()).expect("remove the folder");
    std::fs::rename(&aside, world.store()).expect("put the store back");
    let mut store = std::fs::OpenOptions::new()
        .append(true)
        .open(world.store())
        .expect("the store opens");
    std::io::Write::write_all(&mut store, b"{\"not\": \"an event\"}\n").expect("appended");
    drop(store);
    let read = dana.get("/v1/requests");
    read.expect_error(500, "store_corrupt", "a store that fails verification");
    assert!(!leaks(&read), "the 500 leaks the store: {read:#?}");

    // The operator still learns what happened, from the log (read by a thread of the harness:
    // wait until the last error's line has come through).
    let log = server.wait_for_log_lines(&["code=store_corrupt"], 1);
    assert!(
        log.lines()
            .any(|l| l.contains("code=internal") && l.contains(&folder) && l.contains("os error")),
        "the log names the path and the system error:\n{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("code=store_corrupt") && l.contains(&folder)),
        "the log names the store that fails verification:\n{log}"
    );
}
