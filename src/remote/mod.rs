//! The backend over a `cab serve` server: every call of the [`Backend`] trait as one HTTP
//! request (SPEC section 5). The command line and the console do not know which backend they
//! hold. Every POST carries an `Idempotency-Key`, so the retries made here after a lost
//! connection or a gateway error never write twice. Identity is the server's: it comes from
//! the token.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::as_of::{self, Follow};
use crate::backend::snapshot::{self, Snapshot};
use crate::backend::{Backend, BackendError, CleanupReport, EventPage};
use crate::engine::error::ErrorCode;
use crate::engine::query::Counts;
use crate::engine::report::{Report, ReportQuery};
use crate::engine::{
    Actor, ExceptionFilter, ExceptionView, Outcome, OutcomeResult, RequestDetail, RequestFilter,
    RequestView, Review, State, StatusView, StoredEvent, Submission, Verdict, time,
};

/// How long to wait for a connection, and for an answer (long-polls get their wait on top).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the whole state may take to arrive (hundreds of megabytes for a large store).
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(300);
/// Attempts for one call, when the connection fails or a gateway answers 502/503/504.
const ATTEMPTS: u32 = 3;
/// Events per page when reading the whole history.
const PAGE: usize = 10_000;

pub struct RemoteBackend {
    base: String,
    token: Option<String>,
    client: Client,
    me: OnceLock<Actor>,
    /// `--at`: every read as of this moment (the server's `at` parameter), writes refused.
    as_of: Option<Follow>,
    notices: std::sync::Mutex<Vec<String>>,
}

/// An error body as the server sends it.
#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

impl RemoteBackend {
    /// A client for the server at `url` (`http://` or `https://`), with a bearer token.
    pub fn new(url: &str, token: Option<String>) -> Result<Self, BackendError> {
        let base = url.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base).map_err(|e| {
            BackendError::Unsupported(format!(
                "--remote {url:?} is not a URL ({e}); give one like https://cab.example.com"
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(BackendError::Unsupported(format!(
                "--remote {url:?} must start with http:// or https://"
            )));
        }
        let client = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(ANSWER_TIMEOUT)
            .user_agent(concat!("cab/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BackendError::Unreachable(format!("cannot start the HTTP client: {e}")))?;
        Ok(RemoteBackend {
            base,
            token: token.filter(|t| !t.trim().is_empty()),
            client,
            me: OnceLock::new(),
            as_of: None,
            notices: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// This client as of a moment (`--at`): reads answer as of it, writes are refused.
    pub fn as_of(mut self, at: DateTime<Utc>) -> Self {
        self.as_of = Some(Follow::new(at));
        self
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    /// Refuse a write as of a moment: the past cannot be changed.
    fn writable(&self) -> Result<(), BackendError> {
        match &self.as_of {
            Some(follow) => Err(as_of::read_only(follow.at())),
            None => Ok(()),
        }
    }

    /// A read route's query, with `at` when reading as of a moment.
    fn reading(&self, mut query: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
        if let Some(follow) = &self.as_of {
            query.push(("at", time::format(follow.at())));
        }
        query
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut builder = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            builder = builder.bearer_auth(token);
        }
        builder
    }

    /// Send with retries: connection failures, timeouts and gateway errors are tried again
    /// (POSTs keep their idempotency key, so a retry never writes twice).
    fn send(&self, make: impl Fn() -> RequestBuilder) -> Result<Response, BackendError> {
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 * 3u64.pow(attempt - 1)));
            }
            match make().send() {
                Ok(response)
                    if matches!(
                        response.status(),
                        StatusCode::BAD_GATEWAY
                            | StatusCode::SERVICE_UNAVAILABLE
                            | StatusCode::GATEWAY_TIMEOUT
                    ) && attempt + 1 < ATTEMPTS =>
                {
                    last = Some(format!("it answered {}", response.status()));
                }
                Ok(response) => return Ok(response),
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                    last = Some(describe(&e));
                }
                Err(e) => {
                    return Err(BackendError::Unreachable(format!(
                        "cannot reach the cab server at {}: {}",
                        self.base,
                        describe(&e)
                    )));
                }
            }
        }
        Err(BackendError::Unreachable(format!(
            "cannot reach the cab server at {} ({} attempts): {}",
            self.base,
            ATTEMPTS,
            last.unwrap_or_default()
        )))
    }

    /// Decode a success, or turn the server's error body into the matching error.
    fn answer<T: DeserializeOwned>(&self, response: Response) -> Result<T, BackendError> {
        let bytes = self.answer_bytes(response)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            BackendError::Unreachable(format!(
                "the server at {} did not answer as a cab server does ({e})",
                self.base
            ))
        })
    }

    /// A success's body, or the server's error body turned into the matching error.
    fn answer_bytes(&self, response: Response) -> Result<bytes::Bytes, BackendError> {
        let status = response.status();
        let bytes = response.bytes().map_err(|e| {
            BackendError::Unreachable(format!(
                "the cab server at {} broke off its answer: {}",
                self.base,
                describe(&e)
            ))
        })?;
        if status.is_success() {
            return Ok(bytes);
        }
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => (
                ErrorCode::from_wire(&body.error.code).unwrap_or(ErrorCode::ServerError),
                body.error.message,
            ),
            Err(_) => (
                ErrorCode::ServerError,
                format!("the server at {} answered {status}", self.base),
            ),
        };
        Err(match status {
            StatusCode::UNAUTHORIZED => BackendError::Unauthorized(format!(
                "the cab server at {} did not accept the token ({message}); set CAB_TOKEN or --token",
                self.base
            )),
            _ => BackendError::Remote {
                status: status.as_u16(),
                code,
                message,
            },
        })
    }

    fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, BackendError> {
        let response = self.send(|| self.request(Method::GET, path).query(query))?;
        self.answer(response)
    }

    fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, BackendError> {
        self.writable()?;
        let key = uuid::Uuid::new_v4().to_string();
        let body = crate::untrusted::json::to_string(body)
            .map_err(|e| BackendError::Unsupported(format!("cannot encode the request: {e}")))?;
        let response = self.send(|| {
            self.request(Method::POST, path)
                .header("Idempotency-Key", &key)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
        })?;
        self.answer(response)
    }

    /// Read every event page by page, handing each page's events to `f`; the head.
    fn each_page(
        &self,
        mut f: impl FnMut(Vec<StoredEvent>) -> Result<(), BackendError>,
    ) -> Result<u64, BackendError> {
        let mut after = 0;
        loop {
            let page = self.events_page(after, Duration::ZERO, PAGE)?;
            let got = page.events.len();
            after = page.events.last().map_or(after, |e| e.seq);
            f(page.events)?;
            if after >= page.head || got == 0 {
                return Ok(page.head);
            }
        }
    }

    fn events_page(
        &self,
        after: u64,
        wait: Duration,
        limit: usize,
    ) -> Result<EventPage, BackendError> {
        let wait_secs = wait.as_secs().min(30);
        let response = self.send(|| {
            self.request(Method::GET, "/v1/events")
                .query(&[
                    ("after", after.to_string()),
                    ("wait", wait_secs.to_string()),
                    ("limit", limit.to_string()),
                ])
                .timeout(ANSWER_TIMEOUT + Duration::from_secs(wait_secs))
        })?;
        self.answer(response)
    }
}

impl RemoteBackend {
    /// `GET /v1/snapshot`: `None` from a server without the route (an older cab) or when its
    /// bytes cannot be used here (another state layout, damaged), said once as a notice.
    fn server_snapshot(&self) -> Result<Option<Snapshot>, BackendError> {
        let response = self.send(|| {
            self.request(Method::GET, "/v1/snapshot")
                .header(reqwest::header::ACCEPT, snapshot::MEDIA_TYPE)
                .timeout(SNAPSHOT_TIMEOUT)
        })?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let bytes = self.answer_bytes(response)?;
        match snapshot::decode(&bytes) {
            Ok(snapshot) => Ok(Some(snapshot)),
            Err(why) => {
                self.notices
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!(
                        "the server's snapshot cannot be used here ({why}); reading every event instead"
                    ));
                Ok(None)
            }
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

fn seg(id: &str) -> String {
    // Ids travel in paths: keep them one segment, whatever the user typed.
    id.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c.to_string(),
            other => other
                .to_string()
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect(),
        })
        .collect()
}

#[derive(Serialize)]
struct SubmitBody<'a> {
    deployment_intent_id: &'a str,
    evidence_package_id: &'a str,
    risk_score: f64,
    risk_factors: &'a crate::engine::factors::RiskFactors,
    title: Option<&'a str>,
    correlation_id: Option<&'a str>,
}

impl Backend for RemoteBackend {
    fn location(&self) -> String {
        format!("server {}", self.base)
    }

    fn whoami(&self) -> Result<Actor, BackendError> {
        if let Some(me) = self.me.get() {
            return Ok(me.clone());
        }
        let me: Actor = self.get("/v1/me", &[])?;
        Ok(self.me.get_or_init(|| me).clone())
    }

    fn submit(&self, s: Submission) -> Result<RequestView, BackendError> {
        self.writable()?;
        if !s.risk_score.is_finite() {
            // JSON has no NaN or infinity; say what the server would.
            return Err(
                crate::engine::EngineError::Invalid(crate::engine::Invalid::new(
                    "risk_score",
                    format!(
                        "risk score must be a number from 0 to 100, got {}",
                        s.risk_score
                    ),
                ))
                .into(),
            );
        }
        self.post(
            "/v1/requests",
            &SubmitBody {
                deployment_intent_id: &s.deployment_intent_id,
                evidence_package_id: &s.evidence_package_id,
                risk_score: s.risk_score,
                risk_factors: &s.risk_factors,
                title: s.title.as_deref(),
                correlation_id: s.correlation_id.as_deref(),
            },
        )
    }

    fn decide(
        &self,
        request: &str,
        verdict: Verdict,
        rationale: &str,
    ) -> Result<RequestView, BackendError> {
        match verdict {
            Verdict::Approve { conditions } => self.post(
                &format!("/v1/requests/{}/approve", seg(request)),
                &serde_json::json!({"rationale": rationale, "conditions": conditions}),
            ),
            Verdict::Reject => self.post(
                &format!("/v1/requests/{}/reject", seg(request)),
                &serde_json::json!({"rationale": rationale}),
            ),
        }
    }

    fn record_outcome(
        &self,
        request: &str,
        result: OutcomeResult,
        incident: Option<&str>,
        note: Option<&str>,
    ) -> Result<Outcome, BackendError> {
        self.post(
            &format!("/v1/requests/{}/outcome", seg(request)),
            &serde_json::json!({"result": result, "incident": incident, "note": note}),
        )
    }

    fn request_exception(
        &self,
        request: &str,
        justification: &str,
        compensating_controls: Vec<String>,
        expiry_days: Option<i64>,
    ) -> Result<ExceptionView, BackendError> {
        self.post(
            &format!("/v1/requests/{}/exceptions", seg(request)),
            &serde_json::json!({
                "justification": justification,
                "compensating_controls": compensating_controls,
                "expiry_days": expiry_days,
            }),
        )
    }

    fn review_exception(
        &self,
        exception: &str,
        review: Review,
        rationale: &str,
    ) -> Result<ExceptionView, BackendError> {
        let verb = match review {
            Review::Approve => "approve",
            Review::Reject => "reject",
        };
        self.post(
            &format!("/v1/exceptions/{}/{verb}", seg(exception)),
            &serde_json::json!({"rationale": rationale}),
        )
    }

    fn cleanup(&self) -> Result<CleanupReport, BackendError> {
        self.post("/v1/exceptions/cleanup", &serde_json::json!({}))
    }

    fn requests(
        &self,
        filter: RequestFilter,
        deployment: Option<&str>,
    ) -> Result<Vec<RequestView>, BackendError> {
        let mut query = vec![("status", filter.as_str().to_string())];
        if let Some(d) = deployment {
            query.push(("deployment", d.to_string()));
        }
        self.get("/v1/requests", &self.reading(query))
    }

    fn request(&self, id: &str) -> Result<RequestDetail, BackendError> {
        self.get(&format!("/v1/requests/{}", seg(id)), &self.reading(vec![]))
    }

    fn exceptions(&self, filter: ExceptionFilter) -> Result<Vec<ExceptionView>, BackendError> {
        self.get(
            "/v1/exceptions",
            &self.reading(vec![("status", filter.as_str().to_string())]),
        )
    }

    fn status(&self, deployment: &str, ring: Option<u32>) -> Result<StatusView, BackendError> {
        let query = ring.map(|r| ("ring", r.to_string())).into_iter().collect();
        self.get(
            &format!("/v1/deployments/{}/status", seg(deployment)),
            &self.reading(query),
        )
    }

    fn report(&self, query: ReportQuery) -> Result<Report, BackendError> {
        let query = match &self.as_of {
            Some(follow) => as_of::report_query(follow.at(), query)?,
            None => query,
        };
        let mut params = vec![("by", query.by.as_str().to_string())];
        let times = [("since", query.since), ("until", query.until)];
        for (name, at) in times {
            if let Some(at) = at {
                params.push((name, crate::engine::time::format(at)));
            }
        }
        let thresholds = [
            ("what_if_auto_max", query.what_if_auto_max),
            ("what_if_review_max", query.what_if_review_max),
        ];
        for (name, value) in thresholds {
            if let Some(value) = value {
                params.push((name, value.to_string()));
            }
        }
        self.get("/v1/report", &params)
    }

    fn counts(&self) -> Result<Counts, BackendError> {
        let state = self.snapshot()?.state;
        let now = self
            .as_of
            .as_ref()
            .map_or_else(chrono::Utc::now, Follow::at);
        Ok(crate::engine::query::counts(&state, now))
    }

    fn events(&self, after: u64, wait: Duration) -> Result<EventPage, BackendError> {
        match &self.as_of {
            Some(follow) => follow.page(after, wait, |after, wait| {
                self.events_page(after, wait, PAGE)
            }),
            None => self.events_page(after, wait, PAGE),
        }
    }

    fn all_events(&self) -> Result<Vec<StoredEvent>, BackendError> {
        let mut events = Vec::new();
        self.each_page(|page| {
            events.extend(page);
            Ok(())
        })?;
        Ok(match &self.as_of {
            Some(follow) => follow.then(events),
            None => events,
        })
    }

    /// The server's own snapshot (`GET /v1/snapshot`), decoded; or, from a server without one,
    /// or one this client cannot read, and as of a moment, every event page by page, replayed
    /// (and checked by the rules, as a store's reader does).
    fn snapshot(&self) -> Result<Snapshot, BackendError> {
        if self.as_of.is_none()
            && let Some(snapshot) = self.server_snapshot()?
        {
            return Ok(snapshot);
        }
        let mut head_hash = None;
        let mut state = State::new();
        let mut past = self.as_of.as_ref().map(|f| (f.at(), State::new()));
        let head = self.each_page(|page| {
            for e in page {
                let seq = e.seq;
                let then = past
                    .as_ref()
                    .is_some_and(|(at, _)| e.event.at <= *at)
                    .then(|| (e.event.at, e.event.kind.clone()));
                let refused = |err: String| {
                    BackendError::Inconsistent(format!(
                        "the server sent event {seq}, which cannot be accepted: {err}"
                    ))
                };
                head_hash = Some(e.hash.clone());
                crate::engine::admit(&mut state, seq, e.event).map_err(refused)?;
                if let (Some((_, past)), Some((at, kind))) = (&mut past, then) {
                    past.apply(seq, at, kind)
                        .map_err(|err| refused(err.to_string()))?;
                }
            }
            Ok(())
        })?;
        Ok(match past {
            // As of a moment the events followed are those dated by then, not a chain.
            Some((_, past)) => Snapshot {
                state: past,
                head,
                head_hash: None,
            },
            None => Snapshot {
                head_hash: head_hash.filter(|_| state.head() == head),
                state,
                head,
            },
        })
    }

    fn take_notices(&self) -> Vec<String> {
        std::mem::take(&mut *self.notices.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
