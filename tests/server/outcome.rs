//! `POST /v1/requests/{id}/outcome` over loopback: recorded once by any user, answered with the
//! request and its outcome; the refusals (409 `not_eligible`, 409 `outcome_recorded`), an
//! unknown id (404), bad bodies (400), and a retried `Idempotency-Key` that writes once.

use serde_json::{Value, json};

use crate::support::server::{NOW, World};

/// A well-formed id that names nothing.
const NOBODY: &str = "00000000-0000-4000-8000-000000000000";

fn path(id: &str) -> String {
    format!("/v1/requests/{id}/outcome")
}

fn outcome_events(world: &World) -> Vec<Value> {
    world
        .store_events()
        .into_iter()
        .filter(|e| e["type"] == "outcome_recorded")
        .collect()
}

#[test]
fn posting_an_outcome_answers_201_with_the_outcome_recorded_by_the_token_user() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let id = dana.submit("web", 20.0);
    let reply = dana.post(
        &path(&id[..8]),
        &json!({"result": "rolled_back", "incident": "INC-4242", "note": "p99 doubled"}),
    );
    reply.expect(201, "outcome");
    let o = &reply.json;
    assert_eq!(o["request_id"], json!(id));
    assert_eq!(o["result"], "rolled_back");
    assert_eq!(o["incident"], "INC-4242");
    assert_eq!(o["note"], "p99 doubled");
    assert_eq!(o["recorded_by"], "dana");
    assert_eq!(o["recorded_at"], NOW);
    assert_eq!(o["deployment_intent_id"], "web");

    let shown = dana.get(&format!("/v1/requests/{id}"));
    shown.expect(200, "the request");
    let history = shown.json["history"].as_array().unwrap();
    assert_eq!(history.last().unwrap()["data"]["outcome"], *o);
    let events = outcome_events(&world);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], "dana");
    world.verify();
}

#[test]
fn incident_and_note_may_be_left_out_or_null() {
    let world = World::new();
    let server = world.start();
    let carol = server.as_user(&world, "carol");
    let a = carol.submit("a", 10.0);
    let b = carol.submit("b", 10.0);
    carol
        .post(&path(&a), &json!({"result": "success"}))
        .expect(201, "without incident and note");
    let r = carol.post(
        &path(&b),
        &json!({"result": "failure", "incident": null, "note": null}),
    );
    r.expect(201, "with nulls");
    assert_eq!(r.json["incident"], Value::Null);
    assert_eq!(r.json["note"], Value::Null);
}

#[test]
fn a_second_outcome_is_409_outcome_recorded_naming_the_first_and_writes_nothing() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let carol = server.as_user(&world, "carol");
    let id = dana.submit("web", 20.0);
    dana.post(&path(&id), &json!({"result": "success"}))
        .expect(201, "first");
    let before = world.store_bytes();
    let message = carol
        .post(&path(&id), &json!({"result": "failure"}))
        .expect_error(409, "outcome_recorded", "second");
    assert!(
        message.contains("success") && message.contains("dana"),
        "{message}"
    );
    assert_eq!(world.store_bytes(), before, "nothing written");
}

#[test]
fn an_outcome_of_a_request_that_could_not_be_deployed_is_409_not_eligible() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let carol = server.as_user(&world, "carol");
    let review = dana.submit("review", 60.0);
    let high = dana.submit("high", 90.0);
    let rejected = dana.submit("rejected", 60.0);
    carol
        .post(
            &format!("/v1/requests/{rejected}/reject"),
            &json!({"rationale": "no"}),
        )
        .expect(200, "reject");
    let before = world.store_bytes();
    for id in [review, high, rejected] {
        let message = dana
            .post(&path(&id), &json!({"result": "success"}))
            .expect_error(409, "not_eligible", &id);
        assert!(message.contains(&id[..8]), "{message}");
    }
    assert_eq!(world.store_bytes(), before, "nothing written");
}

#[test]
fn an_outcome_of_an_unknown_request_is_404() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    dana.post(&path(NOBODY), &json!({"result": "success"}))
        .expect_error(404, "not_found", "unknown id");
    assert!(world.store_bytes().is_empty());
}

#[test]
fn a_bad_result_a_missing_one_an_unknown_field_or_a_blank_incident_is_400() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let id = dana.submit("web", 20.0);
    let before = world.store_bytes();
    for body in [
        json!({"result": "ok"}),
        json!({"result": "Success"}),
        json!({}),
        json!({"result": "success", "by": "someone-else"}),
        json!({"result": "failure", "incident": "  "}),
        json!({"result": "failure", "note": ""}),
        json!(["success"]),
    ] {
        dana.post(&path(&id), &body)
            .expect_error(400, "invalid_input", &body.to_string());
    }
    assert_eq!(world.store_bytes(), before, "nothing written");
}

#[test]
fn a_retried_idempotency_key_answers_the_first_outcome_and_writes_one_event() {
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let id = dana.submit("web", 20.0);
    let body = json!({"result": "failure", "incident": "INC-1"});
    let first = dana.post_idem(&path(&id), "outcome-1", &body);
    first.expect(201, "first");
    let again = dana.post_idem(&path(&id), "outcome-1", &body);
    again.expect(201, "a retry answers as the first did");
    assert_eq!(again.json, first.json);
    assert_eq!(outcome_events(&world).len(), 1, "one event for both");
    // The same key with another body is another request: 400, nothing written.
    dana.post_idem(&path(&id), "outcome-1", &json!({"result": "success"}))
        .expect_error(400, "invalid_input", "the key with another body");
    assert_eq!(outcome_events(&world).len(), 1);
    world.verify();
}

#[test]
fn the_real_client_records_an_outcome_through_the_backend_trait() {
    use cab::backend::{Backend, BackendError};
    use cab::engine::OutcomeResult;
    let world = World::new();
    let server = world.start();
    let dana = server.as_user(&world, "dana");
    let id = dana.submit("web", 20.0);
    let martin = server.remote(&world, "martin");
    let o = martin
        .record_outcome(&id, OutcomeResult::Failure, Some("INC-8"), Some("paged"))
        .expect("recorded");
    assert_eq!(o.result, OutcomeResult::Failure);
    assert_eq!(o.recorded_by, "martin");
    assert_eq!(o.incident.as_deref(), Some("INC-8"));
    match martin.record_outcome(&id, OutcomeResult::Success, None, None) {
        Err(BackendError::Remote { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (409, "outcome_recorded"));
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
}
