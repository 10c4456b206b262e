//! The OpenAPI document (docs/openapi.yaml) against the server: it declares what SPEC section 5
//! asks for, lists exactly the routes the router serves with every status code each can return,
//! is what `GET /v1/openapi.json` serves, and real responses of a running server (successes and
//! errors, on every route) validate against the schemas it gives for them.

use std::collections::{BTreeMap, BTreeSet};

use cab::server::routes::{PUBLIC, ROUTES, openapi_document};
use serde_json::{Value, json};

use crate::support::remote::{Reply, Server, World, id_of};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

fn doc() -> &'static Value {
    openapi_document().unwrap_or_else(|e| panic!("{e}"))
}

/// Follow a local `$ref` (`#/components/...`) until the value is not one.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references are expected, got {reference}"));
        value = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{reference} points at nothing"));
    }
    value
}

/// Every (METHOD, path) the document describes.
fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("the document has paths");
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(*method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

fn router_routes() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    doc["paths"]
        .get(path)
        .and_then(|item| item.get(method.to_lowercase()))
        .unwrap_or_else(|| panic!("the document has no {method} {path}"))
}

/// The documented responses of a route, by status code, references resolved.
fn responses<'a>(doc: &'a Value, method: &str, path: &str) -> BTreeMap<u16, &'a Value> {
    operation(doc, method, path)["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} has no responses"))
        .iter()
        .map(|(code, r)| {
            let code = code
                .parse()
                .unwrap_or_else(|_| panic!("{method} {path}: response {code:?} is not a status"));
            (code, resolve(doc, r))
        })
        .collect()
}

/// The JSON schema of a route's response with `status`, when the document gives one.
fn response_schema<'a>(doc: &'a Value, method: &str, path: &str, status: u16) -> Option<&'a Value> {
    responses(doc, method, path)
        .get(&status)?
        .pointer("/content/application~1json/schema")
}

/// The media type of a response documented as binary (`format: binary`, not JSON): the
/// snapshot a console starts from.
fn binary_media(doc: &Value, method: &str, path: &str, status: u16) -> Option<String> {
    let responses = responses(doc, method, path);
    let content = responses.get(&status)?.get("content")?.as_object()?;
    let (media, body) = content.iter().next().filter(|_| content.len() == 1)?;
    (media != "application/json" && body.pointer("/schema/format") == Some(&json!("binary")))
        .then(|| media.clone())
}

fn request_body_schema<'a>(doc: &'a Value, method: &str, path: &str) -> Option<&'a Value> {
    resolve(doc, operation(doc, method, path).get("requestBody")?)
        .pointer("/content/application~1json/schema")
}

/// A validator for `schema`, a part of the document: the root carries the document's
/// `components`, so its `#/components/...` references resolve as they do in the document.
/// OpenAPI 3.1 schemas are JSON Schema 2020-12; formats (uuid, date-time) are checked too.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = match schema {
        Value::Object(map) => map.clone(),
        other => panic!("a schema is an object here, got {other}"),
    };
    root.insert("components".into(), doc["components"].clone());
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&Value::Object(root))
        .unwrap_or_else(|e| panic!("the schema {schema} does not compile: {e}"))
}

/// Why `instance` does not validate against `schema`, if it does not.
fn problems(doc: &Value, schema: &Value, instance: &Value) -> Option<String> {
    let v = validator(doc, schema);
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// Every status code a route can answer, read from src/server:
/// - the success code of its handler (201 for the two that create a record);
/// - 401 from the guard on every route that is not public;
/// - 400 where a handler reads something the caller wrote: a body or Idempotency-Key (every
///   POST), query parameters, or an id in the path (a prefix too short, not UTF-8);
/// - 413 on every POST: the body limit;
/// - 404 where the path names a request or exception (a deployment without requests is a 200);
/// - 403 and 409 where a workflow rule judges who acts and when (decide, review), 409 alone
///   where it judges only when (requesting an exception, recording an outcome: anyone may);
/// - 500 wherever the store is read or written (it may be unreadable or fail verification),
///   and on the document's route (the document may not parse);
/// - 503 from the guard's timeout wherever the store is used (its lock may be held).
fn expected_statuses(method: &str, path: &str) -> BTreeSet<u16> {
    let mut codes = BTreeSet::new();
    let post = method == "POST";
    codes.insert(match (method, path) {
        ("POST", "/v1/requests")
        | ("POST", "/v1/requests/{id}/exceptions")
        | ("POST", "/v1/requests/{id}/outcome") => 201,
        _ => 200,
    });
    if !PUBLIC.contains(&path) {
        codes.insert(401);
    }
    let touches_store = !matches!(
        path,
        "/v1/healthz" | "/v1/readyz" | "/v1/openapi.json" | "/v1/me"
    );
    if path == "/v1/readyz" {
        // Only whether the store can be used: 503 while its database is unreachable.
        codes.insert(503);
    }
    if touches_store {
        codes.extend([500, 503]);
    }
    if path == "/v1/openapi.json" {
        codes.insert(500);
    }
    let reads_input = post
        || path.contains("{id}")
        || matches!(
            path,
            "/v1/requests" | "/v1/exceptions" | "/v1/events" | "/v1/report" | "/v1/gate"
        );
    if reads_input {
        codes.insert(400);
    }
    if post {
        codes.insert(413);
    }
    if path.starts_with("/v1/requests/{id}") || path.starts_with("/v1/exceptions/{id}") {
        codes.insert(404);
    }
    if path.ends_with("/approve") || path.ends_with("/reject") {
        codes.extend([403, 409]);
    }
    if matches!(
        path,
        "/v1/requests/{id}/exceptions" | "/v1/requests/{id}/outcome"
    ) {
        codes.insert(409);
    }
    codes
}

#[test]
fn the_document_is_openapi_3_1_with_the_bearer_scheme_and_public_routes_need_no_token() {
    let doc = doc();
    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3.1."), "OpenAPI 3.1, got {version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("components.securitySchemes");
    let bearer: Vec<&String> = schemes
        .iter()
        .filter(|(_, s)| s["type"] == "http" && s["scheme"] == "bearer")
        .map(|(name, _)| name)
        .collect();
    assert_eq!(bearer.len(), 1, "one http bearer scheme: {schemes:?}");
    let required = doc["security"].as_array().expect("a global security list");
    assert!(
        required.iter().any(|r| r.get(bearer[0]).is_some()),
        "every route needs the bearer token unless it says otherwise: {required:?}"
    );

    for (method, path) in ROUTES {
        let security = operation(doc, method, path).get("security");
        let public = security.is_some_and(|s| s.as_array().is_some_and(Vec::is_empty));
        assert_eq!(
            public,
            PUBLIC.contains(path),
            "{method} {path}: the document says it is {}public",
            if public { "" } else { "not " }
        );
    }
}

#[test]
fn the_document_lists_exactly_the_routes_of_the_router() {
    let documented = documented_routes(doc());
    let served = router_routes();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not documented: {undocumented:?}\ndocumented but not served: {unserved:?}"
    );
}

#[test]
fn every_route_documents_a_json_schema_for_each_response_and_every_status_it_can_return() {
    let doc = doc();
    let mut wrong = Vec::new();
    for (method, path) in ROUTES {
        let documented = responses(doc, method, path);
        for (code, response) in &documented {
            if response
                .pointer("/content/application~1json/schema")
                .is_none()
                && binary_media(doc, method, path, *code).is_none()
            {
                wrong.push(format!(
                    "{method} {path}: response {code} has no JSON schema"
                ));
            }
        }
        let codes: BTreeSet<u16> = documented.keys().copied().collect();
        let expected = expected_statuses(method, path);
        if codes != expected {
            wrong.push(format!(
                "{method} {path}: the server can answer {expected:?}, the document lists {codes:?}"
            ));
        }
        if method == &"POST" && request_body_schema(doc, method, path).is_none() {
            wrong.push(format!("{method} {path}: no JSON request body schema"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_schema_in_the_document_compiles_as_json_schema_2020_12() {
    let doc = doc();
    let schemas = doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas");
    assert!(schemas.len() >= 10, "the document defines its schemas");
    for name in schemas.keys() {
        validator(
            doc,
            &json!({"$ref": format!("#/components/schemas/{name}")}),
        );
    }
}

/// Requests, exceptions and ids to drive every route with.
struct Fixture {
    server: Server,
    /// dana's, under review.
    review: String,
    /// rita's, pending, for a request of dana's that needs one.
    exception: String,
}

fn fixture() -> Fixture {
    let server = Server::start();
    let review = id_of(
        &server
            .http(
                "POST",
                "/v1/requests",
                Some("dana"),
                Some(&submission("payments-api", 62.0)),
            )
            .body,
    );
    let exc_request = id_of(
        &server
            .http(
                "POST",
                "/v1/requests",
                Some("dana"),
                Some(&submission("ledger-db", 91.0)),
            )
            .body,
    );
    let exception = id_of(
        &server
            .http(
                "POST",
                &format!("/v1/requests/{exc_request}/exceptions"),
                Some("rita"),
                Some(&exception_body()),
            )
            .body,
    );
    Fixture {
        server,
        review,
        exception,
    }
}

fn submission(deployment: &str, risk: f64) -> Value {
    json!({
        "deployment_intent_id": deployment,
        "evidence_package_id": format!("EP-{deployment}"),
        "risk_score": risk,
        "risk_factors": {"blast_radius": risk / 2.0, "change_size": risk / 2.0},
        "title": format!("Change to {deployment}"),
        "correlation_id": format!("corr-{deployment}"),
    })
}

fn exception_body() -> Value {
    json!({
        "justification": "Outage fix that cannot wait for the next window",
        "compensating_controls": ["canary at 1%", "on-call watching the error rate"],
        "expiry_days": 7,
    })
}

/// The route template with `{id}` replaced by a real id of the right kind.
fn concrete(f: &Fixture, path: &str) -> String {
    if path.starts_with("/v1/requests/{id}") {
        path.replace("{id}", &f.review)
    } else if path.starts_with("/v1/exceptions/{id}") {
        path.replace("{id}", &f.exception)
    } else {
        path.replace("{id}", "payments-api")
    }
}

#[test]
fn every_route_of_the_router_answers_on_a_running_server() {
    let f = fixture();
    let mut unanswered = Vec::new();
    for (method, path) in ROUTES {
        let body = (*method == "POST").then(|| json!({}));
        let reply = f
            .server
            .http(method, &concrete(&f, path), Some("carol"), body.as_ref());
        // With real ids, a 404 or 405 can only mean the router does not know the route.
        if matches!(reply.status, 404 | 405) {
            unanswered.push(format!("{method} {path}: {} {}", reply.status, reply.body));
        }
    }
    assert!(unanswered.is_empty(), "{}", unanswered.join("\n"));

    // The check can tell: a route that is not there, and a method a path does not take.
    let missing = f.server.http("GET", "/v1/request", Some("carol"), None);
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(missing.body["error"]["code"], "not_found");
    let wrong = f.server.http("DELETE", "/v1/requests", Some("carol"), None);
    assert_eq!(wrong.status, 405, "{}", wrong.body);
    assert_eq!(wrong.body["error"]["code"], "method_not_allowed");
}

#[test]
fn the_schemas_reject_replies_that_break_them() {
    // The validation below is only worth something if a wrong reply fails it.
    let doc = doc();
    let f = fixture();
    let schema = response_schema(doc, "GET", "/v1/requests/{id}", 200).expect("a schema");
    let good = f
        .server
        .http(
            "GET",
            &format!("/v1/requests/{}", f.review),
            Some("carol"),
            None,
        )
        .body;
    assert_eq!(
        problems(doc, schema, &good),
        None,
        "the real reply validates"
    );
    let mut breakages: Vec<(&str, Value)> = Vec::new();
    let mut b = good.clone();
    b.as_object_mut().unwrap().remove("gate");
    breakages.push(("a required field missing", b));
    let mut b = good.clone();
    b["id"] = json!("not-a-uuid");
    breakages.push(("an id that is not a UUID", b));
    let mut b = good.clone();
    b["submitted_at"] = json!("yesterday");
    breakages.push(("a time that is not RFC 3339", b));
    let mut b = good.clone();
    b["status"] = json!("submitted");
    breakages.push(("a status SPEC does not have", b));
    let mut b = good.clone();
    b["history"][0]["hash"] = json!("abc");
    breakages.push(("an event hash that is not 64 hex digits", b));
    let mut b = good.clone();
    b["exceptions"] = json!([{"id": f.exception}]);
    breakages.push(("an exception without its fields", b));
    let mut b = good.clone();
    b["history"][0]["data"] = json!({"decision": null});
    breakages.push(("a submission event without its request", b));
    let mut b = good.clone();
    b["history"][0]["type"] = json!("exception_expired");
    breakages.push(("an event whose data is not of its type", b));
    for (what, broken) in breakages {
        assert!(
            problems(doc, schema, &broken).is_some(),
            "{what} passes validation"
        );
    }

    let error = response_schema(doc, "GET", "/v1/requests/{id}", 404).expect("a schema");
    let text = json!("Invalid URL: Invalid UTF-8 in `id`");
    assert!(
        problems(doc, error, &text).is_some(),
        "a plain-text error passes"
    );
    let extra = json!({"error": {"code": "x", "message": "y", "stack": "z"}});
    assert!(
        problems(doc, error, &extra).is_some(),
        "an unknown error field passes"
    );
}

#[test]
fn get_openapi_json_serves_the_document_in_docs_without_a_token() {
    let server = Server::start();
    let reply = server.http("GET", "/v1/openapi.json", None, None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let content_type = reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "served as JSON, not {content_type:?}"
    );
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml"))
        .expect("docs/openapi.yaml is there");
    let on_disk: Value = serde_norway::from_str(&text).expect("docs/openapi.yaml parses");
    assert!(
        reply.body == on_disk,
        "GET /v1/openapi.json differs from docs/openapi.yaml"
    );
}

/// One exchange with the server, kept for validation against the document.
struct Exchange {
    method: &'static str,
    route: &'static str,
    path: String,
    sent: Option<Value>,
    reply: Reply,
    /// The server refused the body itself: the document's request schema must refuse it too.
    bad_body: bool,
}

/// For `Recorder` calls: send no Authorization header.
const NO_TOKEN: &str = "";

/// Drives the server and keeps every exchange.
struct Recorder<'a> {
    server: &'a Server,
    seen: Vec<Exchange>,
}

impl Recorder<'_> {
    /// GET `route` at `target` (its `{id}`, then any `?query`) as `user` (`NO_TOKEN`: none);
    /// the reply's body, whose status must be `expect`.
    fn get(&mut self, expect: u16, route: &'static str, target: &str, user: &str) -> Value {
        self.send(expect, "GET", route, target, user, None, &[])
    }

    /// POST a JSON body.
    fn post(
        &mut self,
        expect: u16,
        route: &'static str,
        target: &str,
        user: &str,
        body: Value,
    ) -> Value {
        let bytes = serde_json::to_vec(&body).expect("JSON");
        self.send(expect, "POST", route, target, user, Some(bytes), &[])
    }

    /// POST a body the server refuses as invalid input (400), which the document's request
    /// body schema must refuse as well.
    fn post_bad(&mut self, route: &'static str, target: &str, user: &str, body: Value) -> Value {
        let reply = self.post(400, route, target, user, body);
        if let Some(last) = self.seen.last_mut() {
            last.bad_body = true;
        }
        reply
    }

    /// POST raw bytes, with extra headers.
    fn post_raw(
        &mut self,
        expect: u16,
        route: &'static str,
        target: &str,
        user: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Value {
        let body = Some(body.to_vec());
        self.send(expect, "POST", route, target, user, body, headers)
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        expect: u16,
        method: &'static str,
        route: &'static str,
        target: &str,
        user: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Value {
        let (id, query) = match target.split_once('?') {
            Some((id, query)) => (id, format!("?{query}")),
            None => (target, String::new()),
        };
        assert!(
            id.is_empty() != route.contains("{id}"),
            "{route} takes an id exactly when it has {{id}}: {target:?}"
        );
        let path = format!("{}{query}", route.replace("{id}", id));
        let sent = body.as_deref().and_then(|b| serde_json::from_slice(b).ok());
        let user = (!user.is_empty()).then_some(user);
        let reply = self.server.http_raw(method, &path, user, body, headers);
        assert_eq!(
            reply.status, expect,
            "{method} {path}: expected {expect}, got {} {}",
            reply.status, reply.body
        );
        let body = reply.body.clone();
        self.seen.push(Exchange {
            method,
            route,
            path,
            sent,
            reply,
            bad_body: false,
        });
        body
    }
}

/// Long before `NOW`: an exception requested then for one day has long expired.
const LONG_AGO: &str = "2026-10-01T09:00:00Z";

fn why(text: &str) -> Value {
    json!({ "rationale": text })
}

fn unknown() -> String {
    uuid::Uuid::new_v4().to_string()
}

const HEALTHZ: &str = "/v1/healthz";
const READYZ: &str = "/v1/readyz";
const OPENAPI: &str = "/v1/openapi.json";
const ME: &str = "/v1/me";
const REQS: &str = "/v1/requests";
const ONE: &str = "/v1/requests/{id}";
const APPROVE: &str = "/v1/requests/{id}/approve";
const REJECT: &str = "/v1/requests/{id}/reject";
const EXC: &str = "/v1/requests/{id}/exceptions";
const OUTCOME: &str = "/v1/requests/{id}/outcome";
const XLIST: &str = "/v1/exceptions";
const XAPPROVE: &str = "/v1/exceptions/{id}/approve";
const XREJECT: &str = "/v1/exceptions/{id}/reject";
const CLEANUP: &str = "/v1/exceptions/cleanup";
const STATUS: &str = "/v1/deployments/{id}/status";
const GATE: &str = "/v1/gate";
const EVENTS: &str = "/v1/events";
const SNAPSHOT: &str = "/v1/snapshot";
const REPORT: &str = "/v1/report";

#[test]
fn real_responses_of_every_route_success_and_error_validate_against_the_document() {
    let doc = doc();
    // An exception that expired while pending, written to the store before the server starts.
    let world = World::new();
    let submit_old = [
        "submit",
        "--deployment",
        "old-batch",
        "--evidence",
        "EP-old",
        "--risk",
        "95",
    ];
    let old = id_of(&world.local_json_at(LONG_AGO, "rita", &submit_old));
    let create_old = [
        "exception",
        "create",
        &old,
        "--justification",
        "quarter end",
        "--control",
        "manual check",
        "--days",
        "1",
    ];
    let expired = id_of(&world.local_json_at(LONG_AGO, "rita", &create_old));
    let server = Server::start_on(world);
    let mut r = Recorder {
        server: &server,
        seen: Vec::new(),
    };
    let big = {
        let mut b = br#"{"rationale": ""#.to_vec();
        b.extend(std::iter::repeat_n(b'x', 70 * 1024));
        b.extend_from_slice(br#""}"#);
        b
    };
    let bad_token = [("Authorization", "Bearer cab_not-a-token-anyone-has")];

    // Public routes, and who am I.
    r.get(200, HEALTHZ, "", NO_TOKEN);
    r.get(200, READYZ, "", NO_TOKEN);
    r.get(200, OPENAPI, "", NO_TOKEN);
    let me = r.get(200, ME, "", "carol");
    assert_eq!(me["name"], "carol", "{me}");
    r.get(401, ME, "", NO_TOKEN);
    r.send(401, "GET", ME, "", NO_TOKEN, None, &bad_token);

    // Submit: each gate, bad input, a replayed and a reused Idempotency-Key.
    let review = id_of(&r.post(201, REQS, "", "dana", submission("payments-api", 62.0)));
    let cond = id_of(&r.post(201, REQS, "", "dana", submission("search-api", 70.0)));
    let own = id_of(&r.post(201, REQS, "", "carol", submission("carol-tool", 60.0)));
    let minimal = json!({
        "deployment_intent_id": "docs-site", "evidence_package_id": "EP-docs", "risk_score": 12.5,
    });
    let auto = r.post(201, REQS, "", "dana", minimal);
    assert_eq!(auto["decision"]["approver"], "system", "{auto}");
    let high = id_of(&r.post(201, REQS, "", "dana", submission("ledger-db", 91.0)));
    let high2 = id_of(&r.post(201, REQS, "", "sam", submission("vault", 88.0)));
    let high3 = id_of(&r.post(201, REQS, "", "dana", submission("billing", 80.0)));
    let keyed = serde_json::to_vec(&submission("keyed", 40.0)).unwrap();
    let key = [("Idempotency-Key", "k-1")];
    let first = r.post_raw(201, REQS, "", "dana", &keyed, &key);
    let again = r.post_raw(201, REQS, "", "dana", &keyed, &key);
    assert_eq!(
        first["id"], again["id"],
        "a replayed key answers the first result"
    );
    let other = serde_json::to_vec(&submission("other", 40.0)).unwrap();
    r.post_raw(400, REQS, "", "dana", &other, &key);
    r.post_raw(
        400,
        REQS,
        "",
        "dana",
        &other,
        &[("Idempotency-Key", "with space")],
    );
    r.post_bad(REQS, "", "dana", submission("too-risky", 120.0));
    r.post_bad(REQS, "", "dana", json!({"deployment_intent_id": "x"}));
    let mut blank = submission("x", 10.0);
    blank["deployment_intent_id"] = json!("   ");
    r.post_bad(REQS, "", "dana", blank);
    r.post_raw(400, REQS, "", "dana", b"{not json", &[]);
    r.post_raw(413, REQS, "", "dana", &big, &[]);
    r.post(401, REQS, "", NO_TOKEN, submission("anon", 10.0));

    // Lists and one request.
    r.get(200, REQS, "", "erin");
    r.get(200, REQS, "?status=pending", "erin");
    r.get(
        200,
        REQS,
        "?status=auto_approved&deployment=docs-site",
        "erin",
    );
    r.get(400, REQS, "?status=bogus", "erin");
    r.get(401, REQS, "", NO_TOKEN);
    r.get(200, ONE, &review, "erin");
    r.get(200, ONE, &high[..8], "erin");
    r.get(400, ONE, "abc", "erin");
    r.get(400, ONE, "%FF%FE%FD%FC%FB%FA%F9%F8", "erin");
    r.get(404, ONE, &unknown(), "erin");
    r.get(401, ONE, &review, NO_TOKEN);

    // Decisions: approve, conditional, reject, and every refusal.
    r.post(
        200,
        APPROVE,
        &review,
        "carol",
        why("rollback plan reviewed"),
    );
    let conditions = json!({
        "rationale": "fine with guard rails", "conditions": ["deploy after 18:00", "watch p99"],
    });
    let c = r.post(200, APPROVE, &cond[..8], "erin", conditions);
    assert_eq!(c["status"], "conditional", "{c}");
    r.post(409, APPROVE, &review, "erin", why("again"));
    r.post(409, APPROVE, &high, "carol", why("needs an exception"));
    r.post(403, APPROVE, &own, "dana", why("no role"));
    r.post(403, APPROVE, &own, "carol", why("my own"));
    r.post(404, APPROVE, &unknown(), "carol", why("x"));
    r.post_bad(APPROVE, &own, "erin", why(""));
    let blank_condition = json!({"rationale": "x", "conditions": ["ok", "  "]});
    r.post_bad(APPROVE, &own, "erin", blank_condition);
    r.post_bad(APPROVE, &own, "erin", json!({"rationale": "x", "extra": 1}));
    r.post_raw(413, APPROVE, &own, "erin", &big, &[]);
    r.post(401, APPROVE, &own, NO_TOKEN, why("x"));
    r.post(403, REJECT, &own, "carol", why("my own"));
    r.post(403, REJECT, &own, "sam", why("no role"));
    r.post(200, REJECT, &own, "erin", why("no rollback plan"));
    r.post(409, REJECT, &own, "erin", why("again"));
    r.post(404, REJECT, &unknown(), "erin", why("x"));
    r.post_bad(REJECT, &own, "erin", json!({}));
    r.post_bad(REJECT, &own, "erin", why(&"x".repeat(10_001)));
    r.post_raw(413, REJECT, &own, "erin", &big, &[]);
    r.post(401, REJECT, &own, NO_TOKEN, why("x"));

    // Outcomes: of an auto-approved and an approved request (anyone may), and every refusal.
    let failed = json!({"result": "failure", "incident": "INC-4242", "note": "p99 doubled"});
    let o = r.post(201, OUTCOME, &id_of(&auto), "dana", failed);
    assert_eq!(o["result"], "failure", "{o}");
    let success = json!({"result": "success"});
    r.post(201, OUTCOME, &review[..8], "rita", success.clone());
    r.post(409, OUTCOME, &review, "erin", success.clone());
    r.post(409, OUTCOME, &own, "dana", success.clone());
    r.post(409, OUTCOME, &high, "dana", success.clone());
    r.post(404, OUTCOME, &unknown(), "dana", success.clone());
    r.post_bad(OUTCOME, &cond, "dana", json!({"result": "ok"}));
    r.post_bad(OUTCOME, &cond, "dana", json!({"incident": "INC-1"}));
    let blank = json!({"result": "failure", "incident": "  "});
    r.post_bad(OUTCOME, &cond, "dana", blank);
    let extra = json!({"result": "success", "recorded_by": "someone"});
    r.post_bad(OUTCOME, &cond, "dana", extra);
    r.post_raw(413, OUTCOME, &cond, "dana", &big, &[]);
    r.post(401, OUTCOME, &cond, NO_TOKEN, success);

    // Exceptions: request, and every refusal.
    let pending = id_of(&r.post(201, EXC, &high, "rita", exception_body()));
    let one_control =
        json!({"justification": "key rotation", "compensating_controls": ["pairing"]});
    let sams = id_of(&r.post(201, EXC, &high2, "tess", one_control));
    let to_reject = id_of(&r.post(201, EXC, &high3, "dana", exception_body()));
    r.post(409, EXC, &high, "rita", exception_body());
    r.post(409, EXC, &review, "rita", exception_body());
    r.post(404, EXC, &unknown(), "rita", exception_body());
    let forever = json!({
        "justification": "forever", "compensating_controls": ["none"], "expiry_days": 365,
    });
    r.post_bad(EXC, &high, "rita", forever);
    let no_controls = json!({"justification": "no controls", "compensating_controls": []});
    r.post_bad(EXC, &high, "rita", no_controls);
    r.post_raw(413, EXC, &high, "rita", &big, &[]);
    r.post(401, EXC, &high, NO_TOKEN, exception_body());

    // Reviews.
    r.post(403, XAPPROVE, &pending, "carol", why("no role"));
    r.post(403, XAPPROVE, &sams, "sam", why("my own request"));
    r.post(403, XAPPROVE, &sams, "tess", why("my own exception"));
    r.post(409, XAPPROVE, &expired, "sam", why("too late"));
    r.post(200, XAPPROVE, &pending[..8], "sam", why("controls suffice"));
    r.post(409, XAPPROVE, &pending, "tess", why("again"));
    r.post(404, XAPPROVE, &unknown(), "sam", why("x"));
    r.post_bad(XAPPROVE, &to_reject, "sam", why("  "));
    r.post(400, XAPPROVE, "short", "sam", why("x"));
    r.post_raw(413, XAPPROVE, &to_reject, "sam", &big, &[]);
    r.post(401, XAPPROVE, &to_reject, NO_TOKEN, why("x"));
    r.post(403, XREJECT, &to_reject, "erin", why("no role"));
    r.post(403, XREJECT, &sams, "sam", why("my own request"));
    r.post(200, XREJECT, &to_reject, "sam", why("controls too weak"));
    r.post(409, XREJECT, &to_reject, "tess", why("again"));
    r.post(404, XREJECT, &unknown(), "sam", why("x"));
    r.post_bad(XREJECT, &sams, "sam", json!({"reason": "wrong field"}));
    r.post_raw(413, XREJECT, &sams, "sam", &big, &[]);
    r.post(401, XREJECT, &sams, NO_TOKEN, why("x"));

    // Exception lists and cleanup (which records the one that expired).
    r.get(200, XLIST, "", "dana");
    r.get(200, XLIST, "?status=active", "dana");
    r.get(200, XLIST, "?status=expired", "dana");
    r.get(400, XLIST, "?status=permanent", "dana");
    r.get(401, XLIST, "", NO_TOKEN);
    let report = r.post(200, CLEANUP, "", "dana", json!({}));
    assert_eq!(
        report["recorded"], 1,
        "the expired exception is recorded: {report}"
    );
    r.post_raw(200, CLEANUP, "", "dana", b"", &[]);
    r.post_bad(CLEANUP, "", "dana", json!({"all": true}));
    r.post_raw(413, CLEANUP, "", "dana", &big, &[]);
    r.post(401, CLEANUP, "", NO_TOKEN, json!({}));

    // Eligibility: approved, conditional at a ring, exception, auto, no request.
    for path in [
        "payments-api",
        "search-api?ring=3",
        "ledger-db",
        "docs-site?ring=0",
        "never-submitted",
    ] {
        r.get(200, STATUS, path, "dana");
    }
    r.get(400, STATUS, "payments-api?ring=-1", "dana");
    r.get(400, STATUS, "%20", "dana");
    r.get(401, STATUS, "payments-api", NO_TOKEN);

    // The gate URL: approved, pending, rejected, expired, a ring exempt, unknown, bad input.
    for query in [
        "?deployment=payments-api",
        "?deployment=search-api&ring=3",
        "?deployment=billing",
        "?deployment=old-batch",
        "?deployment=carol-tool",
        "?deployment=vault",
        "?deployment=vault&ring=0",
        "?deployment=never-submitted",
        "?deployment=payments-api&at=2026-10-01T00:00:00Z",
    ] {
        r.get(200, GATE, query, "dana");
    }
    let states: BTreeSet<String> = r
        .seen
        .iter()
        .filter(|x| x.route == GATE)
        .filter_map(|x| x.reply.body["state"].as_str().map(str::to_string))
        .collect();
    let all = ["approved", "pending", "rejected", "expired", "none"];
    assert_eq!(states, all.iter().map(|s| s.to_string()).collect());
    r.get(400, GATE, "", "dana");
    r.get(400, GATE, "?deployment=", "dana");
    r.get(400, GATE, "?deployment=payments-api&ring=-1", "dana");
    r.get(400, GATE, "?deployment=payments-api&at=yesterday", "dana");
    r.get(401, GATE, "?deployment=payments-api", NO_TOKEN);

    // Events: all, a page, a long-poll that ends empty, bad parameters.
    let page = r.get(200, EVENTS, "", "dana");
    let head = page["head"].as_u64().expect("a head");
    let types: BTreeSet<&str> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        types.len(),
        6,
        "the page holds every type of event: {types:?}"
    );
    r.get(200, EVENTS, "?after=2&limit=3", "dana");
    r.get(200, EVENTS, &format!("?after={head}&wait=1"), "dana");
    r.get(400, EVENTS, "?after=minus-one", "dana");
    r.get(401, EVENTS, "", NO_TOKEN);

    // The report: by default, by week with a what-if, and bad parameters.
    r.get(200, REPORT, "", "dana");
    let what_if = r.get(
        200,
        REPORT,
        "?since=2026-09-01T00:00:00Z&until=2026-11-28T09:00:00Z&by=week&what_if_auto_max=60&what_if_review_max=80",
        "dana",
    );
    assert!(what_if["what_if"].is_object(), "{what_if}");
    r.get(400, REPORT, "?by=day", "dana");
    r.get(400, REPORT, "?since=yesterday", "dana");
    r.get(
        400,
        REPORT,
        "?since=2026-11-28T09:00:00Z&until=2026-11-01T00:00:00Z",
        "dana",
    );
    r.get(400, REPORT, "?what_if_auto_max=120", "dana");
    r.get(400, REPORT, "?what_if_review_max=40", "dana");
    r.get(400, REPORT, "?what_if_auto_max=NaN", "dana");
    r.get(401, REPORT, "", NO_TOKEN);

    // The snapshot a console starts from: binary, its media type as documented.
    r.get(200, SNAPSHOT, "", "dana");
    r.get(401, SNAPSHOT, "", NO_TOKEN);

    // A store that fails verification: every route that uses it answers 500.
    let mut store = std::fs::OpenOptions::new()
        .append(true)
        .open(server.world().store())
        .expect("the store opens");
    std::io::Write::write_all(&mut store, b"{\"not\": \"an event\"}\n").expect("appended");
    drop(store);
    r.get(500, REQS, "", "dana");
    r.get(500, ONE, &review, "dana");
    r.get(500, XLIST, "", "dana");
    r.get(500, STATUS, "payments-api", "dana");
    r.get(500, GATE, "?deployment=payments-api", "dana");
    r.get(500, EVENTS, "", "dana");
    r.get(500, SNAPSHOT, "", "dana");
    r.get(500, REPORT, "", "dana");
    r.post(500, REQS, "", "dana", submission("late", 10.0));
    r.post(500, APPROVE, &high3, "carol", why("x"));
    r.post(500, REJECT, &high3, "carol", why("x"));
    r.post(500, EXC, &high3, "rita", exception_body());
    r.post(500, OUTCOME, &cond, "dana", json!({"result": "success"}));
    r.post(500, XAPPROVE, &sams, "dana", why("x"));
    r.post(500, XREJECT, &sams, "dana", why("x"));
    r.post(500, CLEANUP, "", "dana", json!({}));

    // Every reply validates against the schema the document gives for its route and status,
    // every body the server accepted against the documented request body, and no body the
    // server refused as invalid does.
    let mut failures = Vec::new();
    for x in &r.seen {
        let what = format!("{} {} -> {}", x.method, x.path, x.reply.status);
        if let Some(media) = binary_media(doc, x.method, x.route, x.reply.status) {
            let got = x
                .reply
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok());
            if got != Some(media.as_str()) {
                failures.push(format!(
                    "{what}: content-type {got:?}, the document says {media}"
                ));
            }
            continue;
        }
        match response_schema(doc, x.method, x.route, x.reply.status) {
            None => failures.push(format!(
                "{what}: the document has no schema for this status"
            )),
            Some(schema) => {
                if let Some(p) = problems(doc, schema, &x.reply.body) {
                    failures.push(format!(
                        "{what}: the reply does not validate: {p}\nreply: {}",
                        x.reply.body
                    ));
                }
            }
        }
        if x.reply.status == 401 && x.reply.headers.get("www-authenticate").is_none() {
            failures.push(format!("{what}: a 401 without WWW-Authenticate"));
        }
        if (200..300).contains(&x.reply.status)
            && let Some(sent) = &x.sent
            && let Some(schema) = request_body_schema(doc, x.method, x.route)
            && let Some(p) = problems(doc, schema, sent)
        {
            failures.push(format!(
                "{what}: the accepted body does not validate: {p}\nbody: {sent}"
            ));
        }
    }
    for x in r.seen.iter().filter(|x| x.bad_body) {
        let sent = x.sent.as_ref().expect("a JSON body");
        let schema = request_body_schema(doc, x.method, x.route).expect("a body schema");
        if problems(doc, schema, sent).is_none() {
            failures.push(format!(
                "{} {}: the server refused a body the document accepts: {sent}\nreply: {}",
                x.method, x.path, x.reply.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // And the drive reached every route with every status it documents (except the timeout,
    // and the document's own 500, which a running server cannot be made to answer).
    let mut unreached = Vec::new();
    for (method, path) in ROUTES {
        let seen: BTreeSet<u16> = r
            .seen
            .iter()
            .filter(|x| x.method == *method && x.route == *path)
            .map(|x| x.reply.status)
            .collect();
        for code in responses(doc, method, path).keys() {
            let cannot = *code == 503 || (*path == OPENAPI && *code == 500);
            if !cannot && !seen.contains(code) {
                unreached.push(format!("{method} {path} {code}"));
            }
        }
    }
    assert!(unreached.is_empty(), "statuses never driven: {unreached:?}");
}

/// Every `oneOf`/`anyOf` in the document, with its JSON pointer.
fn alternatives<'a>(value: &'a Value, at: String, found: &mut Vec<(String, &'a str, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "oneOf" || key == "anyOf" {
                    found.push((at.clone(), key.as_str(), value));
                }
                alternatives(child, format!("{at}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                alternatives(child, format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// `{"type": "null"}`: the one inline alternative generators read as "or none".
fn is_null(variant: &Value) -> bool {
    variant == &json!({"type": "null"})
}

/// Problems a client generator (openapi-python-client, say) has with the document: an
/// anonymous inline schema among the alternatives of a `oneOf`/`anyOf` (it cannot name the
/// type), or a `oneOf` of several schemas without a discriminator that maps each value of the
/// discriminating property to its schema (it cannot tell which one it got).
fn generator_problems(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    alternatives(doc, String::from("#"), &mut found);
    let mut problems = Vec::new();
    for (at, keyword, schema) in found {
        let variants = schema[keyword]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: {keyword} is a list"));
        let mut named = BTreeSet::new();
        for (i, variant) in variants.iter().enumerate() {
            match variant.get("$ref").and_then(Value::as_str) {
                Some(reference) if variant.as_object().is_some_and(|o| o.len() == 1) => {
                    named.insert(reference.to_string());
                }
                _ if is_null(variant) => {}
                _ => problems.push(format!(
                    "{at}/{keyword}/{i}: an anonymous inline schema; make it a component and $ref it"
                )),
            }
        }
        if keyword != "oneOf" || named.len() < 2 {
            continue;
        }
        let Some(discriminator) = schema.get("discriminator") else {
            problems.push(format!(
                "{at}: a oneOf of {named:?} without a discriminator"
            ));
            continue;
        };
        let Some(property) = discriminator["propertyName"].as_str() else {
            problems.push(format!("{at}: the discriminator has no propertyName"));
            continue;
        };
        let mapping: BTreeMap<String, String> = discriminator["mapping"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let mapped: BTreeSet<String> = mapping.values().cloned().collect();
        if mapped != named {
            problems.push(format!(
                "{at}: the discriminator maps {mapped:?}, the oneOf lists {named:?}"
            ));
        }
        for (value, reference) in &mapping {
            let link = json!({ "$ref": reference });
            let target = resolve(doc, &link);
            let required = target["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|p| p == property));
            let fixed = &target["properties"][property];
            let fixed_to_value =
                fixed["const"] == *value || fixed["enum"] == json!([value.as_str()]);
            if !required || !fixed_to_value {
                problems.push(format!(
                    "{at}: {reference} must require {property:?} fixed to {value:?}"
                ));
            }
        }
    }
    problems
}

#[test]
fn every_one_of_and_any_of_alternative_is_a_named_schema_and_every_one_of_has_a_discriminator() {
    let problems = generator_problems(doc());
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The lint can tell: an inline alternative, and a oneOf without its discriminator.
    let mut broken = doc().clone();
    broken["components"]["schemas"]["Event"]["oneOf"][0] =
        json!({"type": "object", "properties": {"type": {"const": "request_submitted"}}});
    let problems = generator_problems(&broken);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("anonymous inline schema")),
        "{problems:?}"
    );
    let mut broken = doc().clone();
    broken["components"]["schemas"]["Event"]
        .as_object_mut()
        .expect("Event is an object")
        .remove("discriminator");
    let problems = generator_problems(&broken);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("without a discriminator")),
        "{problems:?}"
    );
}

#[test]
fn the_event_variants_are_named_components_matching_the_store_s_event_types() {
    let doc = doc();
    let mapping = doc["components"]["schemas"]["Event"]["discriminator"]["mapping"]
        .as_object()
        .expect("Event has a discriminator mapping");
    let kinds: BTreeSet<&str> = mapping.keys().map(String::as_str).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "request_submitted",
            "request_decided",
            "exception_requested",
            "exception_reviewed",
            "exception_expired",
            "outcome_recorded",
        ])
    );
    // An event of one kind with the data of another is refused.
    let event = validator(doc, &json!({"$ref": "#/components/schemas/Event"}));
    let mut decided = json!({
        "v": 1, "seq": 2, "at": "2026-11-28T09:00:00Z", "actor": "carol",
        "correlation_id": "c", "type": "request_decided",
        "data": {"deployment_intent_id": "payments-api", "decision": null},
        "prev": "0".repeat(64), "hash": "1".repeat(64),
    });
    assert!(
        !event.is_valid(&decided),
        "a decided event needs a decision"
    );
    decided["type"] = json!("request_submitted");
    assert!(
        !event.is_valid(&decided),
        "a submitted event needs a request"
    );
}

/// A path with a query string, for the route's documented query parameters.
fn with_query(f: &Fixture, path: &str, query: &str) -> String {
    format!("{}?{query}", concrete(f, path))
}

#[test]
fn every_query_parameter_outside_what_the_document_allows_is_400() {
    let f = fixture();
    let doc = doc();
    let mut wrong = Vec::new();
    let mut check = |path: &str, query: &str, expect: u16| {
        let target = with_query(&f, path, query);
        let reply = f.server.http("GET", &target, Some("carol"), None);
        if reply.status != expect {
            wrong.push(format!(
                "GET {target}: {} (expected {expect}) {}",
                reply.status, reply.body
            ));
        } else if expect == 400 && reply.body["error"]["code"] != "invalid_input" {
            wrong.push(format!("GET {target}: not invalid_input: {}", reply.body));
        }
    };
    let mut tried = 0;
    for (method, path) in ROUTES {
        if *method != "GET" || PUBLIC.contains(path) {
            continue;
        }
        check(path, "not_a_parameter=1", 400);
        let parameters = operation(doc, method, path)["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for parameter in parameters.iter().map(|p| resolve(doc, p)) {
            if parameter["in"] != "query" {
                continue;
            }
            let name = parameter["name"].as_str().expect("a name");
            let schema = &parameter["schema"];
            if let Some(values) = schema["enum"].as_array() {
                tried += 1;
                for value in values {
                    let value = value.as_str().expect("string values");
                    check(path, &format!("{name}={value}"), 200);
                }
                check(path, &format!("{name}="), 400);
                check(path, &format!("{name}=no-such-value"), 400);
            }
            if schema["type"] == "integer" {
                tried += 1;
                check(path, &format!("{name}="), 400);
                check(path, &format!("{name}=1.5"), 400);
                if let Some(min) = schema["minimum"].as_i64() {
                    check(path, &format!("{name}={}", min - 1), 400);
                }
                if let Some(max) = schema["maximum"].as_i64() {
                    check(path, &format!("{name}={}", max + 1), 400);
                    // The maximum itself is fine (events exist, so a wait answers at once).
                    check(path, &format!("{name}={max}"), 200);
                }
            }
        }
    }
    assert!(tried >= 6, "the document's query parameters were all tried");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_documented_error_codes_are_exactly_the_codes_a_cab_server_sends() {
    let doc = doc();
    let error = &doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"];
    let documented: BTreeSet<String> = error["enum"]
        .as_array()
        .expect("the error code is an enum")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let sent: BTreeSet<String> = cab::engine::error::ErrorCode::ALL
        .iter()
        .filter(|c| c.is_sent_by_server())
        .map(|c| c.as_str().to_string())
        .collect();
    assert_eq!(documented, sent);
}

/// A report with every part filled (outcomes, so `calibration` is an object, and a what-if)
/// validates against the document's schema, and a broken one does not. Made through the
/// library: the server drive above has no outcomes to report.
#[test]
fn the_report_schema_takes_a_report_with_calibration_and_what_if_and_refuses_broken_ones() {
    use cab::backend::{Backend, LocalBackend};
    use cab::clock::Clock;
    use cab::engine::report::ReportQuery;
    use cab::engine::{Actor, OutcomeResult, Policy, Role, Submission, Verdict};
    use cab::store::FileStore;

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.jsonl");
    let as_of = |user: &str, roles: &[Role], at: &str| {
        LocalBackend::new(
            FileStore::new(&store),
            Actor::new(user, roles.iter().copied()).unwrap(),
            Policy::default(),
            Clock::Fixed(crate::support::parse_time(at)),
        )
    };
    let results = [
        OutcomeResult::Success,
        OutcomeResult::Success,
        OutcomeResult::Failure,
        OutcomeResult::RolledBack,
        OutcomeResult::Success,
    ];
    // Scores 10, 25, 40, 55, 70: three auto-approved, two for review.
    let mut views = Vec::new();
    for i in 0..results.len() {
        let risk = 10.0 + 15.0 * i as f64;
        let submission = Submission {
            deployment_intent_id: format!("svc-{i}").into(),
            evidence_package_id: format!("EP-{i}").into(),
            title: None,
            risk_score: risk,
            risk_factors: [("change_size".to_string(), risk / 2.0)].into(),
            correlation_id: None,
        };
        views.push(
            as_of("dana", &[], "2026-11-02T09:00:00Z")
                .submit(submission)
                .unwrap(),
        );
    }
    let carol = as_of("carol", &[Role::CabMember], "2026-11-03T09:00:00Z");
    for view in views.iter().filter(|v| v.decision.is_none()) {
        let approve = Verdict::Approve { conditions: vec![] };
        carol
            .decide(&view.request.id.to_string(), approve, "fine")
            .unwrap();
    }
    let dana = as_of("dana", &[], "2026-11-04T09:00:00Z");
    for (view, result) in views.iter().zip(results) {
        dana.record_outcome(&view.request.id.to_string(), result, None, None)
            .unwrap();
    }
    let query = ReportQuery {
        what_if_auto_max: Some(60.0),
        ..ReportQuery::default()
    };
    let report = as_of("dana", &[], NOW_TEXT).report(query).unwrap();
    let good = serde_json::to_value(&report).unwrap();
    assert!(
        good["calibration"]["factors"]["change_size"].is_object(),
        "{good}"
    );
    assert_eq!(
        good["what_if"]["changes"]["manual_review->auto_approved"], 1,
        "{good}"
    );

    let doc = doc();
    let schema = response_schema(doc, "GET", REPORT, 200).expect("a schema");
    assert_eq!(problems(doc, schema, &good), None, "{good}");
    let mut breakages: Vec<(&str, Value)> = Vec::new();
    let mut b = good.clone();
    b["approval_rate"] = json!(1.5);
    breakages.push(("a rate above 1", b));
    let mut b = good.clone();
    b["outcomes"]["by_risk_band"].as_array_mut().unwrap().pop();
    breakages.push(("nine risk bands", b));
    let mut b = good.clone();
    b["pending"]["age_days"]
        .as_object_mut()
        .unwrap()
        .remove(">90");
    breakages.push(("an age bucket missing", b));
    let mut b = good.clone();
    b["what_if"]["changes"]["manual_review->nowhere"] = json!(1);
    breakages.push(("a move to a gate that does not exist", b));
    let mut b = good.clone();
    b["periods"][0]["start"] = json!("last month");
    breakages.push(("a period start that is not a time", b));
    let mut b = good.clone();
    b["calibration"] = json!({"score_auc": 0.5});
    breakages.push(("a calibration without its factors", b));
    for (what, broken) in breakages {
        assert!(
            problems(doc, schema, &broken).is_some(),
            "{what} passes validation"
        );
    }
}

/// `NOW` of the support module, as text for the library's clock.
const NOW_TEXT: &str = crate::support::NOW;
