//! A webhook as the config file's `[[webhooks]]` gives it (SPEC section 7): a name, where to
//! POST, the secret that signs each message, which event types it wants, and the format of the
//! body. Everything is checked when the file is read, so every command refuses a bad block
//! with one sentence naming it.

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use serde::Deserialize;

use crate::engine::EventKind;

/// Event types that are not stored but are delivered: the expiry notice and the test message.
pub const EXCEPTION_EXPIRING: &str = "exception_expiring";
pub const WEBHOOK_TEST: &str = "webhook_test";

/// Every event type a webhook can ask for: the store's own, then the two above.
pub fn event_types() -> impl Iterator<Item = &'static str> {
    EventKind::TYPES
        .into_iter()
        .chain([EXCEPTION_EXPIRING, WEBHOOK_TEST])
}

/// The Standard Webhooks specification asks for secrets of 24 to 64 bytes.
const SECRET_MIN: usize = 24;
const SECRET_MAX: usize = 64;

#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "WebhookEntry")]
pub struct Webhook {
    pub name: String,
    pub url: reqwest::Url,
    pub secret: Secret,
    /// Only these event types, when the config lists them; every type otherwise.
    pub events: Option<BTreeSet<String>>,
    pub format: Format,
}

/// What a message's body looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `{"type", "timestamp", "data"}` with the whole stored event in `data`.
    #[default]
    Standard,
    /// A Slack-compatible message (`text` and `blocks`) for people to read.
    Slack,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Standard => "standard",
            Format::Slack => "slack",
        }
    }
}

/// The key that signs messages: the configured secret without its `whsec_` prefix,
/// base64-decoded. It is never printed: `Debug` shows its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn parse(text: &str) -> Result<Secret, String> {
        let encoded = text.trim();
        let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
        let lenient = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let key = lenient.decode(encoded).map_err(|_| {
            "is not base64 (after an optional whsec_ prefix); make one with `openssl rand -base64 32` and write it as \"whsec_<that>\"".to_string()
        })?;
        if !(SECRET_MIN..=SECRET_MAX).contains(&key.len()) {
            return Err(format!(
                "is {} bytes once decoded; the Standard Webhooks specification asks for {SECRET_MIN} to {SECRET_MAX} (make one with `openssl rand -base64 32`)",
                key.len()
            ));
        }
        Ok(Secret(key))
    }

    pub fn key(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("url", &self.shown_url())
            .field("secret", &self.secret)
            .field("events", &self.events)
            .field("format", &self.format)
            .finish()
    }
}

impl Webhook {
    /// Whether messages of this event type go to this webhook.
    pub fn wants(&self, event_type: &str) -> bool {
        self.events
            .as_ref()
            .is_none_or(|types| types.contains(event_type))
    }

    /// The URL for people and `webhook list`: a password in it is hidden (a Slack-style URL
    /// whose path is the credential is shown as configured: it is what the user wrote).
    pub fn shown_url(&self) -> String {
        let mut url = self.url.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        url.to_string()
    }
}

/// A `[[webhooks]]` block as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookEntry {
    name: String,
    url: String,
    secret: String,
    events: Option<Vec<String>>,
    format: Option<String>,
}

impl TryFrom<WebhookEntry> for Webhook {
    type Error = String;
    fn try_from(entry: WebhookEntry) -> Result<Webhook, String> {
        let name = entry.name.trim().to_string();
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid_name {
            return Err(format!(
                "[[webhooks]] name {:?} must be 1 to 64 letters, digits, '-', '_' or '.'",
                crate::untrusted::line(&entry.name)
            ));
        }
        let at = |what: &str| format!("[[webhooks]] {name:?}: {what}");
        let url = reqwest::Url::parse(entry.url.trim())
            .map_err(|e| at(&format!("url {:?} is not a URL ({e})", entry.url)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(at(&format!(
                "url {:?} must be an http:// or https:// URL with a host",
                entry.url
            )));
        }
        let secret = Secret::parse(&entry.secret).map_err(|e| at(&format!("the secret {e}")))?;
        let events = match entry.events {
            None => None,
            Some(list) if list.is_empty() => {
                return Err(at(
                    "events = [] would deliver nothing; leave `events` out to deliver every event type",
                ));
            }
            Some(list) => {
                let mut types = BTreeSet::new();
                for t in list {
                    if !event_types().any(|known| known == t) {
                        return Err(at(&format!(
                            "unknown event type {:?}; the types are {}",
                            crate::untrusted::line(&t),
                            event_types().collect::<Vec<_>>().join(", ")
                        )));
                    }
                    types.insert(t);
                }
                Some(types)
            }
        };
        let format = match entry.format.as_deref() {
            None | Some("standard") => Format::Standard,
            Some("slack") => Format::Slack,
            Some(other) => {
                return Err(at(&format!(
                    "unknown format {:?}; formats are \"standard\" and \"slack\"",
                    crate::untrusted::line(other)
                )));
            }
        };
        Ok(Webhook {
            name,
            url,
            secret,
            events,
            format,
        })
    }
}

/// Check the webhooks of one config file together: names are unique.
pub fn check_all(webhooks: &[Webhook]) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for w in webhooks {
        if !seen.insert(w.name.as_str()) {
            return Err(format!(
                "two [[webhooks]] blocks are named {:?}; each needs a name of its own (progress is kept by name)",
                w.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str, secret: &str) -> WebhookEntry {
        WebhookEntry {
            name: "team".into(),
            url: url.into(),
            secret: secret.into(),
            events: None,
            format: None,
        }
    }

    const GOOD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn a_whsec_secret_is_decoded_from_base64_without_its_prefix() {
        let hook = Webhook::try_from(entry("https://example.com/hook", GOOD)).unwrap();
        assert_eq!(hook.secret.key().len(), 24);
        let bare = Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(bare, hook.secret);
    }

    #[test]
    fn a_secret_that_is_not_base64_or_too_short_is_refused_with_the_webhook_named() {
        let err = Webhook::try_from(entry("https://example.com", "whsec_not base64!")).unwrap_err();
        assert!(
            err.contains("\"team\"") && err.contains("not base64"),
            "{err}"
        );
        let err = Webhook::try_from(entry("https://example.com", "whsec_c2hvcnQ=")).unwrap_err();
        assert!(err.contains("5 bytes") && err.contains("24 to 64"), "{err}");
    }

    #[test]
    fn a_url_that_is_not_http_is_refused() {
        for url in [
            "ftp://example.com/x",
            "file:///etc/passwd",
            "example.com",
            "http://",
        ] {
            let err = Webhook::try_from(entry(url, GOOD)).unwrap_err();
            assert!(
                err.contains("\"team\"") && err.contains("url"),
                "{url}: {err}"
            );
        }
    }

    #[test]
    fn unknown_event_types_and_formats_are_refused_and_known_ones_filter() {
        let mut e = entry("http://127.0.0.1:9/x", GOOD);
        e.events = Some(vec!["request_decided".into(), "exception_expiring".into()]);
        e.format = Some("slack".into());
        let hook = Webhook::try_from(e).unwrap();
        assert!(hook.wants("request_decided") && hook.wants(EXCEPTION_EXPIRING));
        assert!(!hook.wants("request_submitted"));
        assert_eq!(hook.format, Format::Slack);

        let mut e = entry("http://127.0.0.1:9/x", GOOD);
        e.events = Some(vec!["request_approved".into()]);
        let err = Webhook::try_from(e).unwrap_err();
        assert!(
            err.contains("unknown event type \"request_approved\""),
            "{err}"
        );
        let mut e = entry("http://127.0.0.1:9/x", GOOD);
        e.events = Some(vec![]);
        assert!(
            Webhook::try_from(e)
                .unwrap_err()
                .contains("deliver nothing")
        );
        let mut e = entry("http://127.0.0.1:9/x", GOOD);
        e.format = Some("teams".into());
        assert!(Webhook::try_from(e).unwrap_err().contains("unknown format"));
    }

    #[test]
    fn the_secret_never_shows_in_debug_output_and_a_url_password_is_hidden() {
        let hook = Webhook::try_from(entry("https://user:hunter2@example.com/hook", GOOD)).unwrap();
        let debug = format!("{hook:?}");
        assert!(
            !debug.contains("MfKQ9r8G") && debug.contains("Secret(24 bytes)"),
            "{debug}"
        );
        assert!(!debug.contains("hunter2"), "{debug}");
        assert_eq!(hook.shown_url(), "https://user:***@example.com/hook");
    }

    #[test]
    fn two_webhooks_with_one_name_are_refused() {
        let a = Webhook::try_from(entry("https://example.com/a", GOOD)).unwrap();
        assert!(
            check_all(&[a.clone(), a])
                .unwrap_err()
                .contains("two [[webhooks]]")
        );
    }
}
