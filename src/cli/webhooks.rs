//! `cab notify [--follow]`, `cab webhook list` and `cab webhook test NAME` (SPEC section 7):
//! the command line's side of the webhooks in `crate::notify`, with their text and JSON.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use tokio::sync::watch;

use super::Env;
use super::exit::{self, CliError};
use super::table::Table;
use crate::backend::LocalStore;
use crate::notify::progress::{self, ProgressError, WebhookProgress};
use crate::notify::{Deliverer, Mode, Signals, Summary, Webhook, deliver, due, message};
use crate::untrusted;

fn progress_error(e: ProgressError) -> CliError {
    match e {
        ProgressError::Busy { .. } => CliError::Busy(e.to_string()),
        ProgressError::Store(e) => e.into(),
        other => CliError::Output(std::io::Error::other(other.to_string())),
    }
}

/// A store file that does not exist yet holds no events (a database always exists).
fn missing_file(store: &crate::store::Store) -> bool {
    store.file().is_some_and(|f| !f.path().exists())
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// `cab notify`: what is due, one attempt per message; with `--follow`, until stopped.
pub(super) fn notify(env: &Env, follow: bool) -> Result<u8, CliError> {
    let file = env.local_only("notify")?;
    let hooks = env.config.webhooks.clone();
    if hooks.is_empty() {
        env.print(&Vec::<Summary>::new(), || {
            "No webhooks are configured: add a [[webhooks]] block to the config file (config.example.toml shows one).\n".to_string()
        })?;
        return Ok(exit::OK);
    }
    if !follow && missing_file(&file) {
        let summaries: Vec<Summary> = hooks
            .iter()
            .map(|h| Summary {
                name: h.name.clone(),
                ..Summary::default()
            })
            .collect();
        env.print(&summaries, || {
            format!(
                "Nothing to deliver: the store {} holds no events yet.\n",
                untrusted::line(&file.name())
            )
        })?;
        return Ok(exit::OK);
    }
    let progress = progress::acquire(&file).map_err(progress_error)?;
    let store = Arc::new(LocalStore::new(file, env.config.policy()?, env.clock));
    // Read (and verify) the store before sending anything from it.
    let head = store.head();
    for n in store.take_notices() {
        eprintln!("cab: note: {}", untrusted::line(&n));
    }
    head?;
    if follow {
        crate::server::init_logging();
    }
    let client = deliver::client().map_err(CliError::Delivery)?;
    let mode = if follow { Mode::Follow } else { Mode::Once };
    let summaries = runtime()?.block_on(async move {
        let (stop_tx, stop_rx) = watch::channel(false);
        if follow {
            tokio::spawn(async move {
                crate::server::shutdown_signal().await;
                let _ = stop_tx.send(true);
            });
        } else {
            // Nobody stops a single round; the sender lives until it ends.
            std::mem::forget(stop_tx);
        }
        let deliverer = Arc::new(Deliverer::new(store, Arc::from(progress), client));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, hook) in hooks.into_iter().enumerate() {
            let deliverer = Arc::clone(&deliverer);
            let signals = Signals {
                written: None,
                stop: stop_rx.clone(),
            };
            tasks.spawn(async move { (i, deliverer.run(&hook, mode, signals).await) });
        }
        let mut done = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            if let Ok(one) = joined {
                done.push(one);
            }
        }
        done.sort_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, s)| s).collect::<Vec<_>>()
    });
    let failed: Vec<String> = summaries
        .iter()
        .filter_map(|s| s.error.as_ref().map(|e| format!("webhook {}: {e}", s.name)))
        .collect();
    if failed.is_empty() || follow {
        env.print(&summaries, || render_summaries(&summaries))?;
        return Ok(exit::OK);
    }
    // With --json the error is the one document; in text the table comes first.
    if !env.json {
        super::emit(render_summaries(&summaries))?;
    }
    Err(CliError::Delivery(format!(
        "{} of {} webhooks could not deliver everything due ({}); what waits is sent by the next `cab notify`, `cab notify --follow` or `cab serve`",
        failed.len(),
        summaries.len(),
        failed.join("; ")
    )))
}

fn render_summaries(summaries: &[Summary]) -> String {
    let mut table = Table::new(&["WEBHOOK", "DELIVERED", "SKIPPED", "AT EVENT", "RESULT"])
        .right_columns(&[1, 2, 3])
        .limit(4, 100);
    for s in summaries {
        table.row(vec![
            s.name.clone(),
            s.delivered.to_string(),
            s.skipped.to_string(),
            s.last_delivered_seq.to_string(),
            s.error.clone().unwrap_or_else(|| "up to date".to_string()),
        ]);
    }
    table.render()
}

/// One row of `cab webhook list --json`. Never the secret.
#[derive(Debug, Serialize)]
struct WebhookRow {
    name: String,
    url: String,
    format: &'static str,
    /// The event types it takes, or `null` for every type.
    events: Option<Vec<String>>,
    last_delivered_seq: u64,
    last_delivered_at: Option<String>,
    /// Messages due and not yet acknowledged: stored events its filter takes, and expiry notices.
    pending: u64,
    /// Failed attempts since the last acknowledged one; 0 when it is healthy.
    failures: u64,
    last_error: Option<String>,
    last_error_at: Option<String>,
}

/// `cab webhook list`: each configured webhook's progress, from the progress file and the store.
pub(super) fn list(env: &Env) -> Result<u8, CliError> {
    let file = env.local_only("webhook list")?;
    let recorded = progress::read_any(&file).map_err(progress_error)?;
    let exists = !missing_file(&file);
    let store = LocalStore::new(file, env.config.policy()?, env.clock);
    let mut rows = Vec::new();
    for hook in &env.config.webhooks {
        let p = recorded.get(&hook.name).cloned().unwrap_or_default();
        let pending = if exists {
            pending(&store, hook, &p)?
        } else {
            0
        };
        rows.push(WebhookRow {
            name: hook.name.clone(),
            url: hook.shown_url(),
            format: hook.format.as_str(),
            events: hook.events.as_ref().map(|t| t.iter().cloned().collect()),
            last_delivered_seq: p.last_delivered_seq,
            last_delivered_at: p.last_delivered_at.clone(),
            pending,
            failures: p.failures,
            last_error: p.last_error.clone(),
            last_error_at: p.last_error_at.clone(),
        });
    }
    for n in store.take_notices() {
        eprintln!("cab: note: {}", untrusted::line(&n));
    }
    env.print(&rows, || render_list(&rows))?;
    Ok(exit::OK)
}

/// How many messages wait for this webhook.
fn pending(store: &LocalStore, hook: &Webhook, p: &WebhookProgress) -> Result<u64, CliError> {
    let mut count = 0u64;
    let mut after = p.last_delivered_seq;
    loop {
        let page = store.events(after, Duration::ZERO, 10_000)?;
        count += page.events.iter().filter(|e| due::wants(hook, e)).count() as u64;
        match page.events.last() {
            Some(last) if last.seq < page.head => after = last.seq,
            _ => break,
        }
    }
    let (soon, _) = store.expiring_soon()?;
    count += due::expiry_notices(hook, p, &soon).len() as u64;
    Ok(count)
}

fn render_list(rows: &[WebhookRow]) -> String {
    if rows.is_empty() {
        return "No webhooks are configured: add a [[webhooks]] block to the config file (config.example.toml shows one).\n".to_string();
    }
    let now = Utc::now();
    let ago = |at: &Option<String>| {
        at.as_deref()
            .and_then(|t| crate::engine::time::parse(t).ok())
            .map(|t| crate::humanize::relative(t, now))
    };
    let mut table = Table::new(&[
        "NAME", "URL", "FORMAT", "EVENTS", "AT EVENT", "PENDING", "STATE",
    ])
    .right_columns(&[4, 5])
    .limit(1, 48)
    .limit(6, 90);
    for r in rows {
        let events = match &r.events {
            None => "all".to_string(),
            Some(types) if types.len() == 1 => types[0].clone(),
            Some(types) => format!("{} types", types.len()),
        };
        let state = if r.failures > 0 {
            format!(
                "failing ({} attempt{}): {}",
                r.failures,
                if r.failures == 1 { "" } else { "s" },
                r.last_error.as_deref().unwrap_or("")
            )
        } else {
            match ago(&r.last_delivered_at) {
                Some(when) => format!("ok, last delivery {when}"),
                None => "ok, nothing delivered yet".to_string(),
            }
        };
        table.row(vec![
            r.name.clone(),
            r.url.clone(),
            r.format.to_string(),
            events,
            r.last_delivered_seq.to_string(),
            r.pending.to_string(),
            state,
        ]);
    }
    table.render()
}

#[derive(Debug, Serialize)]
struct TestResult {
    name: String,
    url: String,
    webhook_id: String,
    status: u16,
    latency_ms: f64,
}

/// `cab webhook test NAME`: one signed `webhook_test` message, whatever the filter; the store
/// is neither read nor written.
pub(super) fn test(env: &Env, name: &str) -> Result<u8, CliError> {
    let hook = env
        .config
        .webhooks
        .iter()
        .find(|h| h.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = env
                .config
                .webhooks
                .iter()
                .map(|h| h.name.as_str())
                .collect();
            CliError::Invalid(if names.is_empty() {
                format!(
                    "no webhook is named {:?}: the config file has no [[webhooks]] block",
                    untrusted::line(name)
                )
            } else {
                format!(
                    "no webhook is named {:?}; the config file names {}",
                    untrusted::line(name),
                    names.join(", ")
                )
            })
        })?;
    let sent_by = env
        .config
        .actor(
            std::env::var("CAB_USER").ok(),
            std::env::var("CAB_ROLES").ok(),
        )
        .map(|a| a.name)
        .unwrap_or_else(|_| "cab".to_string());
    let id = format!("test_{}", uuid::Uuid::new_v4().simple());
    let data = message::TestData {
        webhook: &hook.name,
        sent_by: &sent_by,
        message: "a test message from `cab webhook test`",
    };
    let msg = message::test(id, &data, env.clock.now(), hook.format);
    let client = deliver::client().map_err(CliError::Delivery)?;
    let ack = runtime()?
        .block_on(deliver::send(&client, hook, &msg))
        .map_err(|e| CliError::Delivery(format!("webhook {}: {e}", hook.name)))?;
    let result = TestResult {
        name: hook.name.clone(),
        url: hook.shown_url(),
        webhook_id: msg.id.clone(),
        status: ack.status,
        latency_ms: (ack.elapsed.as_secs_f64() * 10_000.0).round() / 10.0,
    };
    env.print(&result, || {
        format!(
            "Webhook {}: the receiver acknowledged a signed webhook_test message (HTTP {}, {:.1} ms, webhook-id {}).\n",
            result.name, result.status, result.latency_ms, result.webhook_id
        )
    })?;
    Ok(exit::OK)
}
