//! What is due for one webhook, decided without I/O: which stored events it wants, which
//! expiry notices are owed, whether the store still continues where it left off, and how long
//! to wait before trying a failed delivery again.

use std::time::Duration;

use super::progress::WebhookProgress;
use super::webhook::{EXCEPTION_EXPIRING, Webhook};
use crate::engine::{ExceptionView, StoredEvent};

/// Waits between attempts at one message: the first retry within 10 s, then longer, never
/// more than an hour apart, and never given up (SPEC section 7).
const RETRY_SECONDS: [u64; 7] = [2, 10, 30, 120, 600, 1800, 3600];

pub fn retry_delay(failed_attempts: u32) -> Duration {
    let i = (failed_attempts as usize)
        .saturating_sub(1)
        .min(RETRY_SECONDS.len() - 1);
    Duration::from_secs(RETRY_SECONDS[i])
}

/// Whether this webhook is sent this stored event.
pub fn wants(hook: &Webhook, event: &StoredEvent) -> bool {
    hook.wants(event.event.kind.type_name())
}

/// Expiry notices owed: exceptions whose notice is due now (`due`, from
/// [`crate::engine::query::expiring_soon`]) and not yet acknowledged by this webhook.
pub fn expiry_notices<'a>(
    hook: &Webhook,
    progress: &WebhookProgress,
    due: &'a [ExceptionView],
) -> Vec<&'a ExceptionView> {
    if !hook.wants(EXCEPTION_EXPIRING) {
        return Vec::new();
    }
    due.iter()
        .filter(|x| !progress.expiring_notified.contains(&x.exception.id))
        .collect()
}

/// Forget notices of exceptions that are no longer due (they expired: never due again), so the
/// record stays as small as the set of exceptions about to expire. Whether anything changed.
pub fn prune_notified(progress: &mut WebhookProgress, due: &[ExceptionView]) -> bool {
    let before = progress.expiring_notified.len();
    progress
        .expiring_notified
        .retain(|id| due.iter().any(|x| x.exception.id == *id));
    progress.expiring_notified.len() != before
}

/// Whether the store still continues the history this webhook was following: the next event
/// links to the last one handled, and the store is not shorter than what was handled.
pub fn continues(
    progress: &WebhookProgress,
    next: Option<&StoredEvent>,
    head: u64,
) -> Result<(), String> {
    if head < progress.last_delivered_seq {
        return Err(format!(
            "the store holds {head} events, but this webhook was sent events up to {}: the store was cut or replaced; remove its entry from the progress file to start again",
            progress.last_delivered_seq
        ));
    }
    if let (Some(next), Some(hash)) = (next, &progress.last_delivered_hash)
        && next.seq == progress.last_delivered_seq + 1
        && next.prev != *hash
    {
        return Err(format!(
            "event {} of the store is not the one this webhook was sent: the store was replaced or rewritten; remove its entry from the progress file to start again",
            progress.last_delivered_seq
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_start_within_ten_seconds_and_never_wait_more_than_an_hour() {
        assert!(retry_delay(1) <= Duration::from_secs(10));
        let mut last = Duration::ZERO;
        for attempt in 1..200 {
            let d = retry_delay(attempt);
            assert!(d >= last, "the waits never shrink");
            assert!(d <= Duration::from_secs(3600), "attempt {attempt}: {d:?}");
            last = d;
        }
        assert_eq!(retry_delay(1000), Duration::from_secs(3600));
    }

    #[test]
    fn a_shorter_store_does_not_continue_the_history() {
        let progress = WebhookProgress {
            last_delivered_seq: 9,
            ..WebhookProgress::default()
        };
        assert!(
            continues(&progress, None, 5)
                .unwrap_err()
                .contains("holds 5 events")
        );
        assert!(continues(&progress, None, 9).is_ok());
    }
}
