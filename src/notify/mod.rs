//! Notifications (SPEC section 7): webhooks that tell people and systems what the store
//! records, signed per the Standard Webhooks specification.
//!
//! `webhook` is one configured receiver (URL, secret, filter, format); `message` builds what is
//! sent (`slack` words it for people) and `sign` signs it; `due` decides, without I/O, what
//! is owed; `progress` keeps each webhook's place durably; `deliver` is the loop that sends,
//! run by `cab serve` (here: [`spawn_for_server`]) and by `cab notify`.

pub mod deliver;
pub mod due;
pub mod message;
pub mod progress;
pub mod sign;
pub mod slack;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

pub use deliver::{Deliverer, Mode, Signals, Summary};
pub use webhook::{Format, Webhook};

use crate::backend::LocalStore;
use progress::ProgressError;

/// How often a server that could not take the delivery lock (another process delivers, or the
/// folder is not writable yet) tries again.
const LOCK_RETRY: Duration = Duration::from_secs(10);

/// Deliver this server's webhooks in the background until `stop`: one task per webhook, so a
/// dead receiver holds back only its own messages, never requests to the API. The handle ends
/// once every delivery in flight at the stop has finished and recorded its progress.
pub fn spawn_for_server(
    store: Arc<LocalStore>,
    webhooks: Vec<Webhook>,
    written: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    if webhooks.is_empty() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut told = false;
        let progress = loop {
            let at = store.store().clone();
            match tokio::task::spawn_blocking(move || progress::acquire(&at)).await {
                Ok(Ok(progress)) => break progress,
                Ok(Err(e)) => {
                    if !told {
                        let busy = matches!(e, ProgressError::Busy { .. });
                        // Of several servers on one database, one delivers; another takes
                        // over within LOCK_RETRY when it stops.
                        tracing::warn!(
                            error = %crate::untrusted::line(&e.to_string()),
                            "webhooks: {}; trying again every {} s",
                            if busy { "not delivering here" } else { "cannot deliver" },
                            LOCK_RETRY.as_secs()
                        );
                        told = true;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhooks: the lock could not be taken"),
            }
            tokio::select! {
                _ = tokio::time::sleep(LOCK_RETRY) => {}
                _ = stop.changed() => return,
            }
        };
        let client = match deliver::client() {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(error = %e, "webhooks: not delivering");
                return;
            }
        };
        if told {
            tracing::info!("webhooks: the lock is taken; delivering from here");
        }
        tracing::info!(webhooks = webhooks.len(), "webhooks: delivering");
        let deliverer = Arc::new(Deliverer::new(store, Arc::from(progress), client));
        let mut tasks = tokio::task::JoinSet::new();
        for hook in webhooks {
            let deliverer = Arc::clone(&deliverer);
            let signals = Signals {
                written: Some(Arc::clone(&written)),
                stop: stop.clone(),
            };
            tasks.spawn(async move { deliverer.run(&hook, Mode::Follow, signals).await });
        }
        while tasks.join_next().await.is_some() {}
    }))
}
