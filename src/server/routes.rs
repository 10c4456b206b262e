//! The routes of SPEC section 5, each a thin handler over [`LocalStore`]: parse the request,
//! run the store call on a blocking thread (it takes the store's lock and fsyncs), answer JSON.
//! [`ROUTES`] lists them for the OpenAPI test, which checks the document lists the same ones.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{
    DefaultBodyLimit, Extension, FromRequest, FromRequestParts, Path, Query, Request, State,
};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, watch};

use super::error::{ApiError, json_response};
use crate::backend::as_of::AsOf;
use crate::backend::{BackendError, LocalStore};
use crate::engine::event::Idempotency;
use crate::engine::query::GateView;
use crate::engine::{
    Actor, ExceptionFilter, OutcomeResult, RequestFilter, Review, Submission, Text, Verdict, time,
};

/// Every route the server answers: method and path, as the OpenAPI document lists them.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/healthz"),
    ("GET", "/v1/readyz"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/me"),
    ("POST", "/v1/requests"),
    ("GET", "/v1/requests"),
    ("GET", "/v1/requests/{id}"),
    ("POST", "/v1/requests/{id}/approve"),
    ("POST", "/v1/requests/{id}/reject"),
    ("POST", "/v1/requests/{id}/exceptions"),
    ("POST", "/v1/requests/{id}/outcome"),
    ("GET", "/v1/exceptions"),
    ("POST", "/v1/exceptions/{id}/approve"),
    ("POST", "/v1/exceptions/{id}/reject"),
    ("POST", "/v1/exceptions/cleanup"),
    ("GET", "/v1/deployments/{id}/status"),
    ("GET", "/v1/gate"),
    ("GET", "/v1/events"),
    ("GET", "/v1/snapshot"),
    ("GET", "/v1/report"),
];

/// Routes anyone may call, without a token.
pub const PUBLIC: &[&str] = &["/v1/healthz", "/v1/readyz", "/v1/openapi.json"];

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The longest a long-poll on /v1/events may wait.
pub const MAX_WAIT: u64 = 30;
const EVENTS_LIMIT_DEFAULT: usize = 1000;
const EVENTS_LIMIT_MAX: usize = 10_000;
/// How often a waiting long-poll looks at the store for writes by other processes.
const POLL: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<LocalStore>,
    /// Woken after every write through this server, so long-polls answer at once.
    pub written: Arc<Notify>,
    /// Set when the server is shutting down: long-polls answer at once.
    pub stopping: watch::Receiver<bool>,
    /// Whether a newer snapshot is being encoded in the background.
    pub snapshot_refreshing: Arc<std::sync::atomic::AtomicBool>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/healthz", get(healthz))
        .route("/v1/readyz", get(readyz))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/me", get(me))
        .route("/v1/requests", post(submit).get(list_requests))
        .route("/v1/requests/{id}", get(one_request))
        .route("/v1/requests/{id}/approve", post(approve))
        .route("/v1/requests/{id}/reject", post(reject))
        .route("/v1/requests/{id}/exceptions", post(create_exception))
        .route("/v1/requests/{id}/outcome", post(record_outcome))
        .route("/v1/exceptions", get(list_exceptions))
        .route("/v1/exceptions/{id}/approve", post(approve_exception))
        .route("/v1/exceptions/{id}/reject", post(reject_exception))
        .route("/v1/exceptions/cleanup", post(cleanup))
        .route("/v1/deployments/{id}/status", get(status))
        .route("/v1/gate", get(gate))
        .route("/v1/events", get(events))
        .route("/v1/snapshot", get(snapshot))
        .route("/v1/report", get(report))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

type ApiResult = Result<Response, ApiError>;

/// Run a store call on a blocking thread (it takes locks and fsyncs) and answer its value as
/// JSON with `status`.
async fn answer<T: serde::Serialize + Send + 'static>(
    store: &Arc<LocalStore>,
    status: StatusCode,
    f: impl FnOnce(&LocalStore) -> Result<T, BackendError> + Send + 'static,
) -> ApiResult {
    let store = Arc::clone(store);
    let value = tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| ApiError::internal(format!("the request's work failed: {e}")))?
        .map_err(ApiError::from)?;
    Ok(json_response(status, &value))
}

/// A read route's answer: 200 and the value.
async fn read<T: serde::Serialize + Send + 'static>(
    app: &AppState,
    f: impl FnOnce(&LocalStore) -> Result<T, BackendError> + Send + 'static,
) -> ApiResult {
    answer(&app.store, StatusCode::OK, f).await
}

/// A write route's answer: the store call with the caller and their idempotency key, then
/// waking the long-polls.
async fn write<T: serde::Serialize + Send + 'static>(
    app: &AppState,
    status: StatusCode,
    post: Post,
    f: impl FnOnce(&LocalStore, &Actor, Option<&Idempotency>) -> Result<T, BackendError>
    + Send
    + 'static,
) -> ApiResult {
    let Post {
        actor, idempotency, ..
    } = post;
    let response = answer(&app.store, status, move |store| {
        f(store, &actor, idempotency.as_ref())
    })
    .await;
    app.written.notify_waiters();
    response
}

/// A POST as the write routes take it: who sends it (the token's user, set by the guard), its
/// `Idempotency-Key` with a fingerprint of the request, and its body.
struct Post {
    actor: Actor,
    idempotency: Option<Idempotency>,
    body: Result<Bytes, ApiError>,
}

impl<S: Send + Sync> FromRequest<S> for Post {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let actor = request
            .extensions()
            .get::<Actor>()
            .cloned()
            .ok_or_else(ApiError::unauthorized)?;
        let key = request.headers().get("idempotency-key").cloned();
        let head = format!("{} {}\n", request.method(), request.uri().path());
        let body = Bytes::from_request(request, state)
            .await
            .map_err(body_error);
        let idempotency = match key {
            None => None,
            Some(value) => {
                let key = value
                    .to_str()
                    .ok()
                    .filter(|k| {
                        !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic())
                    })
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "Idempotency-Key must be 1 to 200 visible ASCII characters",
                        )
                    })?;
                let mut fingerprinted = head.into_bytes();
                if let Ok(bytes) = &body {
                    fingerprinted.extend_from_slice(bytes);
                }
                Some(Idempotency {
                    key: key.to_string(),
                    fingerprint: crate::store::line::sha256_hex(&fingerprinted),
                })
            }
        };
        Ok(Post {
            actor,
            idempotency,
            body,
        })
    }
}

impl Post {
    /// The body as the route's JSON object, or a 400 that says what is wrong with it. An empty
    /// body is `{}`.
    fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let bytes = self.body.as_ref().map_err(Clone::clone)?;
        let text = if bytes.iter().all(u8::is_ascii_whitespace) {
            &b"{}"[..]
        } else {
            bytes
        };
        // serde also reads a struct from a JSON array (fields by position); bodies are objects.
        if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::invalid("the request body must be a JSON object"));
        }
        serde_json::from_slice(text).map_err(|e| {
            ApiError::invalid(format!(
                "the request body is not valid JSON for this route: {e}"
            ))
        })
    }
}

/// A body that could not be read: 413 when over the limit, 400 otherwise.
fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            crate::engine::error::ErrorCode::BodyTooLarge,
            format!("the request body is larger than {BODY_LIMIT} bytes"),
        )
    } else {
        ApiError::invalid(format!("cannot read the request body: {rejection}"))
    }
}

/// The `{id}` of a path, or a JSON 400 (axum's own rejection, for an id that is not UTF-8
/// once percent-decoded, is plain text).
struct PathId(String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| PathId(id))
            .map_err(|e| ApiError::invalid(format!("bad id in the path: {}", e.body_text())))
    }
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::invalid(format!("bad query parameters: {}", e.body_text())))
}

/// A `status` query parameter: absent means all; empty is not a status (the OpenAPI document
/// lists the values, and every query parameter outside it is 400).
fn filter<F: std::str::FromStr<Err = crate::engine::Invalid>>(
    status: Option<&str>,
    all: F,
) -> Result<F, ApiError> {
    match status {
        None => Ok(all),
        Some("") => Err(ApiError::invalid(
            "status must not be empty; leave it out for all",
        )),
        Some(s) => s
            .parse()
            .map_err(|e: crate::engine::Invalid| ApiError::invalid(e.message)),
    }
}

/// A number query parameter within the bounds the OpenAPI document gives it.
fn within<T: PartialOrd + std::fmt::Display + Copy>(
    name: &str,
    value: Option<T>,
    min: T,
    max: T,
) -> Result<Option<T>, ApiError> {
    match value {
        Some(v) if v < min || v > max => Err(ApiError::invalid(format!(
            "{name} must be from {min} to {max}, not {v}"
        ))),
        _ => Ok(value),
    }
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// Readiness: 200 while the store can be used (a database answers), else 503; the reason
/// goes to the log.
async fn readyz(State(app): State<AppState>) -> ApiResult {
    let store = Arc::clone(&app.store);
    tokio::task::spawn_blocking(move || store.ready())
        .await
        .map_err(|e| ApiError::internal(format!("the request's work failed: {e}")))?
        .map_err(ApiError::unavailable)?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({"status": "ready"}),
    ))
}

/// The whole state at the head, for a console to start from (`backend::snapshot`), then follow
/// `/v1/events?after=HEAD`. Binary: a client built with another state layout refuses it and
/// reads events instead.
async fn snapshot(State(app): State<AppState>) -> ApiResult {
    let store = Arc::clone(&app.store);
    let (bytes, behind) = tokio::task::spawn_blocking(move || store.encoded_snapshot())
        .await
        .map_err(|e| ApiError::internal(format!("the request's work failed: {e}")))?
        .map_err(ApiError::from)?;
    // Behind the head: this console reads the events since; the next one gets a newer copy,
    // encoded meanwhile, off this request.
    if behind
        && !app
            .snapshot_refreshing
            .swap(true, std::sync::atomic::Ordering::AcqRel)
    {
        let store = Arc::clone(&app.store);
        let flag = Arc::clone(&app.snapshot_refreshing);
        tokio::task::spawn_blocking(move || {
            let _ = store.refresh_snapshot();
            flag.store(false, std::sync::atomic::Ordering::Release);
        });
    }
    Ok((
        StatusCode::OK,
        [(
            axum::http::header::CONTENT_TYPE,
            crate::backend::snapshot::MEDIA_TYPE,
        )],
        axum::body::Bytes::from_owner(ArcBytes(bytes)),
    )
        .into_response())
}

/// An encoded snapshot shared by every answer at one head, handed to the body without a copy.
struct ArcBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// The OpenAPI document, kept as YAML in docs/ and served as JSON.
pub fn openapi_document() -> Result<&'static serde_json::Value, String> {
    static DOC: OnceLock<Result<serde_json::Value, String>> = OnceLock::new();
    DOC.get_or_init(|| {
        serde_norway::from_str(include_str!("../../docs/openapi.yaml"))
            .map_err(|e| format!("docs/openapi.yaml does not parse: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The query parameters the OpenAPI document lets a route take (method and path template, as
/// the router matched them): the document is the one list, so the two cannot disagree. None
/// when the document lists no such route (or does not parse; then nothing is checked).
pub fn documented_query(method: &str, route: &str) -> Option<&'static [String]> {
    static QUERIES: OnceLock<HashMap<(String, String), Vec<String>>> = OnceLock::new();
    let queries = QUERIES.get_or_init(|| {
        let Ok(doc) = openapi_document() else {
            return HashMap::new();
        };
        let resolve = |p: &'static serde_json::Value| match p.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => r.strip_prefix('#').and_then(|r| doc.pointer(r)),
            None => Some(p),
        };
        let mut queries = HashMap::new();
        for (method, path) in ROUTES {
            let item = &doc["paths"][*path];
            let op = &item[method.to_lowercase()];
            let names = [&item["parameters"], &op["parameters"]]
                .into_iter()
                .filter_map(|p| p.as_array())
                .flatten()
                .filter_map(resolve)
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect();
            queries.insert((method.to_string(), path.to_string()), names);
        }
        queries
    });
    queries
        .get(&(method.to_string(), route.to_string()))
        .map(Vec::as_slice)
}

/// A 400 for a query parameter the document does not list for this route.
pub fn check_query_names(method: &str, route: &str, uri: &axum::http::Uri) -> Result<(), ApiError> {
    let Some(allowed) = documented_query(method, route) else {
        return Ok(());
    };
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| ApiError::invalid(format!("bad query parameters: {}", e.body_text())))?;
    match pairs.iter().find(|(name, _)| !allowed.contains(name)) {
        None => Ok(()),
        Some((name, _)) if allowed.is_empty() => Err(ApiError::invalid(format!(
            "{method} {route} takes no query parameters, not {:?}",
            crate::untrusted::line(name)
        ))),
        Some((name, _)) => Err(ApiError::invalid(format!(
            "{method} {route} takes the query parameters {}, not {:?}",
            allowed.join(", "),
            crate::untrusted::line(name)
        ))),
    }
}

async fn openapi() -> ApiResult {
    let doc = openapi_document().map_err(ApiError::internal)?;
    Ok(json_response(StatusCode::OK, doc))
}

async fn me(Extension(actor): Extension<Actor>) -> Response {
    json_response(StatusCode::OK, &actor)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    deployment_intent_id: String,
    evidence_package_id: String,
    risk_score: f64,
    #[serde(default)]
    risk_factors: BTreeMap<String, f64>,
    title: Option<String>,
    correlation_id: Option<String>,
}

async fn submit(State(app): State<AppState>, post: Post) -> ApiResult {
    let b: SubmitBody = post.json()?;
    let submission = Submission {
        deployment_intent_id: b.deployment_intent_id.into(),
        evidence_package_id: b.evidence_package_id.into(),
        title: b.title.map(Text::from),
        risk_score: b.risk_score,
        risk_factors: b.risk_factors.into(),
        correlation_id: b.correlation_id.map(Text::from),
    };
    write(
        &app,
        StatusCode::CREATED,
        post,
        move |store, actor, idem| store.submit(actor, idem, submission),
    )
    .await
}

/// An `at` query parameter: the moment a read answers as of (`cab --at`), RFC 3339 in the
/// years 2000 to 9000.
fn moment(at: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    at.map(|text| {
        time::parse(text).map_err(|_| {
            ApiError::invalid(format!(
                "at must be an RFC 3339 time in the years 2000 to 9000, such as 2026-11-28T09:00:00Z, not {:?}",
                crate::untrusted::line(text)
            ))
        })
    })
    .transpose()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    deployment: Option<String>,
    at: Option<String>,
}

async fn list_requests(
    State(app): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    let filter = filter(q.status.as_deref(), RequestFilter::All)?;
    let at = moment(q.at.as_deref())?;
    read(&app, move |store| {
        let deployment = q.deployment.as_deref();
        match at {
            Some(at) => AsOf::new(store, at).requests(filter, deployment),
            None => store.requests(filter, deployment),
        }
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AtQuery {
    at: Option<String>,
}

async fn one_request(
    State(app): State<AppState>,
    PathId(id): PathId,
    q: Result<Query<AtQuery>, QueryRejection>,
) -> ApiResult {
    let at = moment(query(q)?.at.as_deref())?;
    read(&app, move |store| match at {
        Some(at) => AsOf::new(store, at).request(&id),
        None => store.request(&id),
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    rationale: String,
    #[serde(default)]
    conditions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RationaleBody {
    rationale: String,
}

async fn approve(State(app): State<AppState>, PathId(id): PathId, post: Post) -> ApiResult {
    let b: ApproveBody = post.json()?;
    let verdict = Verdict::Approve {
        conditions: b.conditions,
    };
    write(&app, StatusCode::OK, post, move |store, actor, idem| {
        store.decide(actor, idem, &id, verdict, &b.rationale)
    })
    .await
}

async fn reject(State(app): State<AppState>, PathId(id): PathId, post: Post) -> ApiResult {
    let b: RationaleBody = post.json()?;
    write(&app, StatusCode::OK, post, move |store, actor, idem| {
        store.decide(actor, idem, &id, Verdict::Reject, &b.rationale)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionBody {
    justification: String,
    compensating_controls: Vec<String>,
    expiry_days: Option<i64>,
}

async fn create_exception(
    State(app): State<AppState>,
    PathId(id): PathId,
    post: Post,
) -> ApiResult {
    let b: ExceptionBody = post.json()?;
    write(
        &app,
        StatusCode::CREATED,
        post,
        move |store, actor, idem| {
            store.request_exception(
                actor,
                idem,
                &id,
                &b.justification,
                b.compensating_controls,
                b.expiry_days,
            )
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    result: OutcomeResult,
    incident: Option<String>,
    note: Option<String>,
}

/// 201 with the outcome recorded: a new record, like an exception request.
async fn record_outcome(State(app): State<AppState>, PathId(id): PathId, post: Post) -> ApiResult {
    let b: OutcomeBody = post.json()?;
    write(
        &app,
        StatusCode::CREATED,
        post,
        move |store, actor, idem| {
            store.record_outcome(
                actor,
                idem,
                &id,
                b.result,
                b.incident.as_deref(),
                b.note.as_deref(),
            )
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionQuery {
    status: Option<String>,
    at: Option<String>,
}

async fn list_exceptions(
    State(app): State<AppState>,
    q: Result<Query<ExceptionQuery>, QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    let filter = filter(q.status.as_deref(), ExceptionFilter::All)?;
    let at = moment(q.at.as_deref())?;
    read(&app, move |store| match at {
        Some(at) => AsOf::new(store, at).exceptions(filter),
        None => store.exceptions(filter),
    })
    .await
}

async fn review(app: AppState, id: String, review: Review, post: Post) -> ApiResult {
    let b: RationaleBody = post.json()?;
    write(&app, StatusCode::OK, post, move |store, actor, idem| {
        store.review_exception(actor, idem, &id, review, &b.rationale)
    })
    .await
}

async fn approve_exception(
    State(app): State<AppState>,
    PathId(id): PathId,
    post: Post,
) -> ApiResult {
    review(app, id, Review::Approve, post).await
}

async fn reject_exception(
    State(app): State<AppState>,
    PathId(id): PathId,
    post: Post,
) -> ApiResult {
    review(app, id, Review::Reject, post).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyBody {}

async fn cleanup(State(app): State<AppState>, post: Post) -> ApiResult {
    let _: EmptyBody = post.json()?;
    write(&app, StatusCode::OK, post, |store, actor, idem| {
        store.cleanup(actor, idem)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusQuery {
    ring: Option<u32>,
    at: Option<String>,
}

async fn status(
    State(app): State<AppState>,
    PathId(id): PathId,
    q: Result<Query<StatusQuery>, QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    let at = moment(q.at.as_deref())?;
    read(&app, move |store| match at {
        Some(at) => AsOf::new(store, at).status(&id, q.ring),
        None => store.status(&id, q.ring),
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GateQuery {
    deployment: Option<String>,
    ring: Option<u32>,
    at: Option<String>,
}

/// The status as one small object for deploy tools that poll a URL (SPEC section 7): 200 for
/// known and unknown deployments alike, `state` telling them to wait or stop.
async fn gate(
    State(app): State<AppState>,
    q: Result<Query<GateQuery>, QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    let deployment = q
        .deployment
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("deployment is required and must not be empty"))?;
    let at = moment(q.at.as_deref())?;
    read(&app, move |store| {
        let status = match at {
            Some(at) => AsOf::new(store, at).status(&deployment, q.ring)?,
            None => store.status(&deployment, q.ring)?,
        };
        Ok(GateView::from(&status))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    after: Option<u64>,
    wait: Option<u64>,
    limit: Option<usize>,
}

/// Events after a sequence number; with `wait`, a long-poll that answers as soon as one is
/// written (by this server at once, by another process within a tenth of a second).
async fn events(
    State(mut app): State<AppState>,
    q: Result<Query<EventsQuery>, QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    let after = q.after.unwrap_or(0);
    let limit = within("limit", q.limit, 1, EVENTS_LIMIT_MAX)?.unwrap_or(EVENTS_LIMIT_DEFAULT);
    let wait = within("wait", q.wait, 0, MAX_WAIT)?.unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        // Register for the wake-up before looking, so a write in between is not missed.
        let written = app.written.clone();
        let woken = written.notified();
        let store = Arc::clone(&app.store);
        let page = tokio::task::spawn_blocking(move || store.events(after, Duration::ZERO, limit))
            .await
            .map_err(|e| ApiError::internal(format!("the request's work failed: {e}")))??;
        if !page.events.is_empty() || Instant::now() >= deadline || *app.stopping.borrow() {
            return Ok(json_response(StatusCode::OK, &page));
        }
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))) => {}
            _ = app.stopping.changed() => {}
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQueryParams {
    since: Option<String>,
    until: Option<String>,
    by: Option<String>,
    what_if_auto_max: Option<f64>,
    what_if_review_max: Option<f64>,
}

/// The report of SPEC section 6, for any user; unset times default from the server's clock.
async fn report(
    State(app): State<AppState>,
    q: Result<Query<ReportQueryParams>, QueryRejection>,
) -> ApiResult {
    use crate::engine::report::{Bucket, ReportQuery};
    let q = query(q)?;
    let time = |name: &str, text: Option<&str>| {
        text.map(|t| {
            crate::engine::time::parse(t).map_err(|e| {
                ApiError::invalid(format!(
                    "{name} must be an RFC 3339 time such as 2026-11-01T00:00:00Z: {e}"
                ))
            })
        })
        .transpose()
    };
    let by = match q.by.as_deref() {
        None => Bucket::default(),
        Some(by) => by
            .parse()
            .map_err(|e: crate::engine::Invalid| ApiError::invalid(e.message))?,
    };
    let query = ReportQuery {
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
        by,
        what_if_auto_max: q.what_if_auto_max,
        what_if_review_max: q.what_if_review_max,
    };
    read(&app, move |store| store.report(query)).await
}
