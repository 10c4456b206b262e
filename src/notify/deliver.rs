//! The delivery loop: for each webhook, its stored events in store order from where its
//! progress stands, then the expiry notices owed, each POSTed until the receiver acknowledges
//! it (2xx), progress recorded after each acknowledgement. A failing receiver holds back only
//! its own webhook: each runs on a task of its own, reads the store like any reader, and waits
//! between attempts without holding anything. `cab serve` and `cab notify --follow` run it
//! until they stop; `cab notify` runs it once, one attempt per message.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};

use super::due;
use super::message::{self, Message};
use super::progress::{ProgressError, ProgressStore, WebhookProgress};
use super::sign;
use super::webhook::Webhook;
use crate::backend::{BackendError, EventPage};
use crate::engine::ExceptionView;

/// How many events are read at a time.
const PAGE: usize = 256;
/// How often a following deliverer looks at the store for writes by other processes.
const POLL: Duration = Duration::from_millis(250);
/// How often it looks for exceptions whose expiry notice became due, when nothing is written.
const EXPIRY_CHECK: Duration = Duration::from_secs(15);
/// How long one delivery may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What the deliverer reads: the store's events, and the exceptions whose notice is due.
pub trait Source: Send + Sync + 'static {
    fn events_after(&self, after: u64, limit: usize) -> Result<EventPage, BackendError>;
    /// Approved exceptions with 72 hours or less to go, not yet expired, and the clock's now.
    fn expiring_soon(&self) -> Result<(Vec<ExceptionView>, DateTime<Utc>), BackendError>;
}

impl Source for crate::backend::LocalStore {
    fn events_after(&self, after: u64, limit: usize) -> Result<EventPage, BackendError> {
        self.events(after, Duration::ZERO, limit)
    }
    fn expiring_soon(&self) -> Result<(Vec<ExceptionView>, DateTime<Utc>), BackendError> {
        crate::backend::LocalStore::expiring_soon(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Deliver what is due, one attempt per message, and end.
    Once,
    /// Keep delivering, retrying with backoff, until told to stop.
    Follow,
}

/// How one webhook's run went.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub name: String,
    pub delivered: u64,
    /// Stored events its filter does not take.
    pub skipped: u64,
    pub last_delivered_seq: u64,
    /// Why it stopped short, if it did.
    pub error: Option<String>,
}

/// A receiver's acknowledgement.
#[derive(Debug, Clone, Copy)]
pub struct Acknowledged {
    pub status: u16,
    pub elapsed: Duration,
}

/// The HTTP client every delivery uses: no redirects followed (a webhook's URL is the one
/// configured), a bounded time per attempt.
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("cab/", env!("CARGO_PKG_VERSION"), " (webhooks)"))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client for webhooks: {e}"))
}

/// POST one message, signed for this moment (the real clock, as receivers check freshness).
/// An error is one sentence without the URL (it may carry a credential) or the secret.
pub async fn send(
    client: &reqwest::Client,
    hook: &Webhook,
    msg: &Message,
) -> Result<Acknowledged, String> {
    let timestamp = Utc::now().timestamp();
    let signature = sign::signature(&hook.secret, &msg.id, timestamp, &msg.body);
    let started = Instant::now();
    let response = client
        .post(hook.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &msg.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(msg.body.clone())
        .send()
        .await
        .map_err(|e| describe_failure(&e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(Acknowledged {
            status: status.as_u16(),
            elapsed: started.elapsed(),
        });
    }
    let mut answer = format!("the receiver answered {status}");
    if status.is_redirection() {
        answer.push_str(" (redirects are not followed: configure the URL it points to)");
    }
    // A little of the receiver's own explanation helps; it is shown cleaned, never raw.
    if let Ok(text) = response.text().await {
        let text = text.trim();
        if !text.is_empty() {
            answer.push_str(": ");
            answer.push_str(&crate::humanize::truncate(
                &crate::untrusted::line(text),
                200,
            ));
        }
    }
    Err(answer)
}

fn describe_failure(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("the receiver did not answer within {} s", TIMEOUT.as_secs());
    }
    let what = if e.is_connect() {
        "cannot connect to the receiver"
    } else {
        "the delivery failed"
    };
    // The innermost cause names what went wrong (refused, reset, DNS); reqwest's own message
    // would repeat the URL.
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    format!("{what}: {cause}")
}

/// Delivers for webhooks over one source, keeping progress in one place.
pub struct Deliverer {
    source: Arc<dyn Source>,
    progress: Arc<dyn ProgressStore>,
    client: reqwest::Client,
}

/// What tells a following deliverer to look again or to stop.
#[derive(Clone)]
pub struct Signals {
    /// Woken after each write through this process (the server's), so delivery starts at once.
    pub written: Option<Arc<Notify>>,
    /// Becomes true to stop.
    pub stop: watch::Receiver<bool>,
}

/// Why a delivery loop stopped before the end.
enum Halt {
    Stopped,
    Failed(String),
}

impl Deliverer {
    pub fn new(
        source: Arc<dyn Source>,
        progress: Arc<dyn ProgressStore>,
        client: reqwest::Client,
    ) -> Deliverer {
        Deliverer {
            source,
            progress,
            client,
        }
    }

    /// Run one webhook until it is done (`Once`) or told to stop (`Follow`).
    pub async fn run(&self, hook: &Webhook, mode: Mode, mut signals: Signals) -> Summary {
        let mut progress = self.progress.get(&hook.name);
        let mut summary = Summary {
            name: hook.name.clone(),
            last_delivered_seq: progress.last_delivered_seq,
            ..Summary::default()
        };
        let mut expiry_checked: Option<Instant> = None;
        let mut source_failures = 0u32;
        loop {
            // A stop, or nobody left to send one.
            if *signals.stop.borrow() || signals.stop.has_changed().is_err() {
                break;
            }
            // Listen before looking, so a write in between is not missed.
            let written = signals.written.clone();
            let woken = async {
                match &written {
                    Some(n) => n.notified().await,
                    None => std::future::pending::<()>().await,
                }
            };
            let mut woken = std::pin::pin!(woken);
            let step = self
                .step(
                    hook,
                    mode,
                    &mut progress,
                    &mut summary,
                    &mut expiry_checked,
                    &mut signals,
                )
                .await;
            summary.last_delivered_seq = progress.last_delivered_seq;
            match step {
                Ok(more) => {
                    source_failures = 0;
                    summary.error = None;
                    if more {
                        continue;
                    }
                }
                Err(Halt::Stopped) => break,
                Err(Halt::Failed(error)) => {
                    summary.error = Some(error.clone());
                    if mode == Mode::Once {
                        break;
                    }
                    // The store cannot be read or is not the one followed, or progress cannot
                    // be written: try again later, as for a receiver.
                    source_failures += 1;
                    let delay = due::retry_delay(source_failures);
                    tracing::warn!(
                        webhook = %hook.name,
                        retry_in_s = delay.as_secs(),
                        error = %crate::untrusted::line(&error),
                        "webhooks: cannot go on"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = signals.stop.changed() => {}
                    }
                    continue;
                }
            }
            if mode == Mode::Once {
                break;
            }
            tokio::select! {
                _ = &mut woken => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = signals.stop.changed() => {}
            }
        }
        summary
    }

    /// One round: the next page of events, and the expiry notices once caught up. `Ok(true)`
    /// when more events wait at once.
    async fn step(
        &self,
        hook: &Webhook,
        mode: Mode,
        progress: &mut WebhookProgress,
        summary: &mut Summary,
        expiry_checked: &mut Option<Instant>,
        signals: &mut Signals,
    ) -> Result<bool, Halt> {
        let source = Arc::clone(&self.source);
        let after = progress.last_delivered_seq;
        let page = blocking(move || source.events_after(after, PAGE))
            .await?
            .map_err(|e| Halt::Failed(format!("cannot read the store: {e}")))?;
        if let Err(e) = due::continues(progress, page.events.first(), page.head) {
            self.record_failure(hook, progress, &e).await;
            return Err(Halt::Failed(e));
        }
        let got_events = !page.events.is_empty();
        let mut unsaved = false;
        for event in &page.events {
            if due::wants(hook, event) {
                let msg = message::stored(event, hook.format);
                self.deliver(hook, &msg, progress, mode, signals).await?;
                summary.delivered += 1;
            } else {
                summary.skipped += 1;
            }
            progress.last_delivered_seq = event.seq;
            progress.last_delivered_hash = Some(event.hash.clone());
            unsaved = !due::wants(hook, event);
            if !unsaved {
                self.save(hook, progress).await?;
            }
        }
        if unsaved {
            self.save(hook, progress).await?;
        }
        if progress.last_delivered_seq < page.head {
            return Ok(true);
        }
        let stale = expiry_checked.is_none_or(|at| at.elapsed() >= EXPIRY_CHECK);
        if got_events || stale {
            *expiry_checked = Some(Instant::now());
            self.expiry_notices(hook, mode, progress, summary, signals)
                .await?;
        }
        Ok(false)
    }

    async fn expiry_notices(
        &self,
        hook: &Webhook,
        mode: Mode,
        progress: &mut WebhookProgress,
        summary: &mut Summary,
        signals: &mut Signals,
    ) -> Result<(), Halt> {
        let source = Arc::clone(&self.source);
        let (due_now, now) = blocking(move || source.expiring_soon())
            .await?
            .map_err(|e| Halt::Failed(format!("cannot read the store: {e}")))?;
        let owed: Vec<ExceptionView> = due::expiry_notices(hook, progress, &due_now)
            .into_iter()
            .cloned()
            .collect();
        for exception in &owed {
            let msg = message::expiring(exception, now, hook.format);
            self.deliver(hook, &msg, progress, mode, signals).await?;
            summary.delivered += 1;
            progress.expiring_notified.insert(exception.exception.id);
            self.save(hook, progress).await?;
        }
        if due::prune_notified(progress, &due_now) {
            self.save(hook, progress).await?;
        }
        Ok(())
    }

    /// Send one message until it is acknowledged (`Follow`) or once (`Once`).
    async fn deliver(
        &self,
        hook: &Webhook,
        msg: &Message,
        progress: &mut WebhookProgress,
        mode: Mode,
        signals: &mut Signals,
    ) -> Result<(), Halt> {
        let mut failed = 0u32;
        loop {
            // Once stopping, nothing new is sent; what is in flight finishes.
            if *signals.stop.borrow() {
                return Err(Halt::Stopped);
            }
            match send(&self.client, hook, msg).await {
                Ok(ack) => {
                    progress.failures = 0;
                    progress.last_delivered_at = Some(crate::engine::time::format(Utc::now()));
                    tracing::info!(
                        webhook = %hook.name,
                        id = %msg.id,
                        r#type = %msg.event_type,
                        status = ack.status,
                        latency_ms = format!("{:.1}", ack.elapsed.as_secs_f64() * 1000.0),
                        "delivered"
                    );
                    return Ok(());
                }
                Err(error) => {
                    failed += 1;
                    let what = match msg.seq {
                        Some(seq) => format!("event {seq} ({})", msg.event_type),
                        None => msg.event_type.clone(),
                    };
                    let error = format!("{what}: {error}");
                    self.record_failure(hook, progress, &error).await;
                    if mode == Mode::Once {
                        return Err(Halt::Failed(error));
                    }
                    let delay = due::retry_delay(failed);
                    tracing::warn!(
                        webhook = %hook.name,
                        id = %msg.id,
                        attempt = failed,
                        retry_in_s = delay.as_secs(),
                        error = %error,
                        "delivery failed"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = signals.stop.changed() => return Err(Halt::Stopped),
                    }
                }
            }
        }
    }

    async fn record_failure(&self, hook: &Webhook, progress: &mut WebhookProgress, error: &str) {
        progress.failures += 1;
        progress.last_error = Some(error.to_string());
        progress.last_error_at = Some(crate::engine::time::format(Utc::now()));
        // A failure that cannot be recorded is still logged; the delivery is retried anyway.
        if let Err(Halt::Failed(e)) = self.save(hook, progress).await {
            tracing::warn!(webhook = %hook.name, error = %e, "cannot record the failure");
        }
    }

    async fn save(&self, hook: &Webhook, progress: &WebhookProgress) -> Result<(), Halt> {
        let store = Arc::clone(&self.progress);
        let name = hook.name.clone();
        let snapshot = progress.clone();
        blocking(move || store.put(&name, &snapshot))
            .await?
            .map_err(|e: ProgressError| Halt::Failed(e.to_string()))
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Halt> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Halt::Failed(format!("the delivery's work failed: {e}")))
}
