//! What one webhook delivery sends: its `webhook-id` (stable for the event, the same on every
//! retry), its type, and its body, already serialized so that the exact bytes are signed.
//! `standard` bodies are `{"type", "timestamp", "data"}` (Standard Webhooks); `slack` bodies
//! are the messages of [`super::slack`]. Pure: built from events and views, no clock of its own.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::slack;
use super::webhook::{EXCEPTION_EXPIRING, Format, WEBHOOK_TEST};
use crate::engine::query::EXPIRING_SOON_HOURS;
use crate::engine::{ExceptionView, StoredEvent, time};
use crate::untrusted::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `webhook-id`: derived from what the message is about, never from when it is sent.
    pub id: String,
    pub event_type: String,
    /// The store's sequence number, for stored events.
    pub seq: Option<u64>,
    pub body: Vec<u8>,
}

#[derive(Serialize)]
struct Standard<'a, T: Serialize> {
    #[serde(rename = "type")]
    event_type: &'a str,
    timestamp: String,
    data: &'a T,
}

fn standard<T: Serialize>(event_type: &str, at: DateTime<Utc>, data: &T) -> Vec<u8> {
    let mut body = Vec::with_capacity(1024);
    let value = Standard {
        event_type,
        timestamp: time::format(at),
        data,
    };
    // Our own types serialize into memory without a failure path (string keys only, no I/O).
    let _ = json::write_compact(&mut body, &value);
    body
}

fn slack_body(message: &serde_json::Value) -> Vec<u8> {
    let mut body = Vec::with_capacity(1024);
    let _ = json::write_compact(&mut body, message);
    body
}

/// The id of a stored event's messages: its sequence number and the start of its hash, so it
/// is the same on every retry, after a restart, and in a copy of the store.
pub fn stored_id(event: &StoredEvent) -> String {
    format!(
        "evt_{}_{}",
        event.seq,
        event.hash.get(..16).unwrap_or(&event.hash)
    )
}

/// A stored event. In `standard` form `data` is the whole event as the store holds it, in its
/// canonical form, so a receiver can even check its `hash` (docs/store-format.md).
pub fn stored(event: &StoredEvent, format: Format) -> Message {
    let event_type = event.event.kind.type_name();
    let body = match format {
        Format::Standard => standard(event_type, event.event.at, event),
        Format::Slack => slack_body(&slack::stored(event)),
    };
    Message {
        id: stored_id(event),
        event_type: event_type.to_string(),
        seq: Some(event.seq),
        body,
    }
}

/// When an approved exception's expiry notice is due: 72 hours before it expires, or when it
/// was approved if that was later.
pub fn expiring_due_at(exception: &ExceptionView) -> DateTime<Utc> {
    let due = exception.exception.expires_at - Duration::hours(EXPIRING_SOON_HOURS);
    exception
        .exception
        .reviewed_at
        .map_or(due, |reviewed| due.max(reviewed))
}

/// The expiry notice of an approved exception (`data` is the exception, as `cab exception
/// list --json` shows it). `now` words the Slack countdown; the standard body does not use it.
pub fn expiring(exception: &ExceptionView, now: DateTime<Utc>, format: Format) -> Message {
    let body = match format {
        Format::Standard => standard(EXCEPTION_EXPIRING, expiring_due_at(exception), exception),
        Format::Slack => slack_body(&slack::expiring(exception, now)),
    };
    Message {
        id: format!("exp_{}", exception.exception.id),
        event_type: EXCEPTION_EXPIRING.to_string(),
        seq: None,
        body,
    }
}

/// What a `webhook_test` message carries.
#[derive(Debug, Clone, Serialize)]
pub struct TestData<'a> {
    pub webhook: &'a str,
    pub sent_by: &'a str,
    pub message: &'a str,
}

/// The message `cab webhook test NAME` sends; `id` is fresh for each test.
pub fn test(id: String, data: &TestData<'_>, now: DateTime<Utc>, format: Format) -> Message {
    let body = match format {
        Format::Standard => standard(WEBHOOK_TEST, now, data),
        Format::Slack => slack_body(&slack::test(data.webhook, data.sent_by)),
    };
    Message {
        id,
        event_type: WEBHOOK_TEST.to_string(),
        seq: None,
        body,
    }
}
