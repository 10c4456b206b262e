//! Reading a line that is exactly what cab writes, in one pass over its bytes, without a JSON
//! parser and without encoding the event again to compare.
//!
//! Every field is matched in the order the encoder writes it, and every value is accepted only
//! in the one spelling the encoder gives it (a time, a number, an id, a string's escapes), so a
//! line this reader accepts is byte for byte the encoding of the event it returns. Anything
//! else (another spelling, an unknown field, a value out of range) gets `None`, and the caller
//! reads the line with the general parser, which finds and names what is wrong. This reader
//! never refuses a line on its own: it is only the quick way to the same answer.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::ser::{CompactFormatter, Formatter};
use uuid::Uuid;

use crate::engine::event::{
    ExceptionExpired, ExceptionRequested, ExceptionReviewed, Idempotency, OutcomeRecorded,
    RequestDecided, RequestSubmitted,
};
use crate::engine::{
    ApprovalRequest, Decision, DecisionKind, Event, EventKind, ExceptionStatus, Gate, Outcome,
    OutcomeResult, RequestStatus, RiskFactors, RiskScore, SecurityException, StoredEvent, Text,
    Thresholds, time,
};
use crate::untrusted::{is_unsafe, json::SafeFormatter};

/// The event of `body` (a line up to, not including, `,"hash":"`), if the body is exactly what
/// the encoder writes for it with sequence number `seq` and previous hash `prev`.
pub(super) fn read(body: &[u8], seq: u64, prev: &str, hash: &str) -> Option<StoredEvent> {
    let mut at = Cursor { bytes: body, at: 0 };
    at.lit(b"{\"v\":1,\"seq\":")?;
    if at.digits()? != seq {
        return None;
    }
    at.lit(b",\"at\":")?;
    let when = at.time()?;
    at.lit(b",\"actor\":")?;
    let actor = at.string()?.into_owned();
    at.lit(b",\"correlation_id\":")?;
    let correlation_id = at.text()?;
    let idempotency = if at.next_is(b",\"idempotency\":") {
        at.lit(b",\"idempotency\":{\"key\":")?;
        let key = at.string()?.into_owned();
        at.lit(b",\"fingerprint\":")?;
        let fingerprint = at.string()?.into_owned();
        at.lit(b"}")?;
        Some(Idempotency { key, fingerprint })
    } else {
        None
    };
    at.lit(b",\"type\":\"")?;
    let kind = at.kind()?;
    at.lit(b"}")?;
    at.lit(b",\"prev\":\"")?;
    at.lit(prev.as_bytes())?;
    at.lit(b"\"")?;
    if at.at != body.len() {
        return None;
    }
    Some(StoredEvent {
        seq,
        prev: prev.to_string(),
        hash: hash.to_string(),
        event: Event {
            at: when,
            actor,
            correlation_id,
            idempotency,
            kind,
        },
    })
}

/// A place in a line's bytes. Every reading method moves past what it read, or gives `None`
/// (the cursor's place is then of no further use).
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at..]
    }

    fn next_is(&self, text: &[u8]) -> bool {
        self.rest().starts_with(text)
    }

    /// Exactly `text`.
    fn lit(&mut self, text: &[u8]) -> Option<()> {
        self.next_is(text).then(|| self.at += text.len())
    }

    /// A whole number as the encoder writes one: digits, no leading zero (but `0` itself).
    fn digits(&mut self) -> Option<u64> {
        let rest = self.rest();
        let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let digits = &rest[..len];
        if len == 0 || len > 19 || (len > 1 && digits[0] == b'0') {
            return None;
        }
        self.at += len;
        Some(digits.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
    }

    /// A finite number, spelled as the encoder spells it.
    fn number(&mut self) -> Option<f64> {
        let rest = self.rest();
        let len = rest
            .iter()
            .take_while(|b| matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
            .count();
        let value = Numbers::read(&rest[..len])?;
        self.at += len;
        Some(value)
    }

    /// A quoted string, its escapes exactly those the encoder writes and no character raw that
    /// it escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.lit(b"\"")?;
        let rest = self.rest();
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        let plain = plain_text(&rest[..end])?;
        if rest[end] == b'"' {
            self.at += end + 1;
            return Some(Cow::Borrowed(plain));
        }
        let mut text = plain.to_string();
        self.at += end;
        loop {
            let rest = self.rest();
            match rest.first()? {
                b'"' => {
                    self.at += 1;
                    return Some(Cow::Owned(text));
                }
                b'\\' => {
                    let (c, len) = escaped(rest)?;
                    text.push(c);
                    self.at += len;
                }
                _ => {
                    let end = memchr::memchr2(b'"', b'\\', rest)?;
                    text.push_str(plain_text(&rest[..end])?);
                    self.at += end;
                }
            }
        }
    }

    fn text(&mut self) -> Option<Text> {
        self.string().map(|s| Text::from(s.as_ref()))
    }

    /// `null` or a string.
    fn optional_text(&mut self) -> Option<Option<Text>> {
        if self.lit(b"null").is_some() {
            return Some(None);
        }
        self.text().map(Some)
    }

    /// An id: 36 characters, lowercase and hyphenated.
    fn uuid(&mut self) -> Option<Uuid> {
        self.lit(b"\"")?;
        let text = self.rest().get(..36)?;
        let id = Uuid::try_parse_ascii(text).ok()?;
        let mut canonical = [0u8; 36];
        if id.hyphenated().encode_lower(&mut canonical).as_bytes() != text {
            return None;
        }
        self.at += 36;
        self.lit(b"\"")?;
        Some(id)
    }

    /// A time as [`time::format`] writes it.
    fn time(&mut self) -> Option<DateTime<Utc>> {
        self.lit(b"\"")?;
        let rest = self.rest();
        let end = memchr::memchr(b'"', rest)?;
        let text = &rest[..end];
        let at = time::parse_exact(text)?;
        self.at += end + 1;
        Some(at)
    }

    fn optional_time(&mut self) -> Option<Option<DateTime<Utc>>> {
        if self.lit(b"null").is_some() {
            return Some(None);
        }
        self.time().map(Some)
    }

    /// A quoted word, one of `words` as `name` spells them.
    fn word<T: Copy>(&mut self, words: &[T], name: fn(T) -> &'static str) -> Option<T> {
        self.lit(b"\"")?;
        let rest = self.rest();
        let end = memchr::memchr(b'"', rest)?;
        let found = words
            .iter()
            .copied()
            .find(|&w| name(w).as_bytes() == &rest[..end])?;
        self.at += end + 1;
        Some(found)
    }

    /// `[]` or `["a","b"]`.
    fn texts(&mut self) -> Option<Vec<Text>> {
        self.lit(b"[")?;
        let mut items = Vec::new();
        if self.lit(b"]").is_some() {
            return Some(items);
        }
        loop {
            items.push(self.text()?);
            if self.lit(b"]").is_some() {
                return Some(items);
            }
            self.lit(b",")?;
        }
    }

    /// A map of names to numbers, as a `BTreeMap` writes one: names in order, none twice.
    /// Nearly every request names the same factors: the list of names last read on this
    /// thread is used again when the names are the same.
    fn factors(&mut self) -> Option<RiskFactors> {
        thread_local! {
            static LAST: RefCell<Arc<[Text]>> = RefCell::new(Arc::from(Vec::new()));
        }
        self.lit(b"{")?;
        if self.lit(b"}").is_some() {
            return Some(RiskFactors::default());
        }
        let last = LAST.with_borrow(Arc::clone);
        // The names read, once they are not the last list's.
        let mut other: Option<Vec<Text>> = None;
        let mut values = Vec::with_capacity(last.len());
        loop {
            let name = self.string()?;
            let i = values.len();
            match &mut other {
                None if last.get(i).is_some_and(|known| known.as_str() == name) => {}
                _ => {
                    let names = other.get_or_insert_with(|| last[..i].to_vec());
                    if names
                        .last()
                        .is_some_and(|before| before.as_str() >= name.as_ref())
                    {
                        return None;
                    }
                    names.push(Text::from(name.as_ref()));
                }
            }
            self.lit(b":")?;
            values.push(self.number()?);
            if self.lit(b"}").is_some() {
                break;
            }
            self.lit(b",")?;
        }
        let names = match other {
            None if values.len() == last.len() => last,
            None => Arc::from(&last[..values.len()]),
            Some(names) => {
                let names: Arc<[Text]> = Arc::from(names);
                LAST.set(names.clone());
                names
            }
        };
        Some(RiskFactors::from_sorted(names, values.into_boxed_slice()))
    }

    fn score(&mut self) -> Option<RiskScore> {
        let value = self.number()?;
        let score = RiskScore::new(value).ok()?;
        // The score kept is the one written (a `-0` would be kept as `0`).
        (score.value().to_bits() == value.to_bits()).then_some(score)
    }

    fn thresholds(&mut self) -> Option<Thresholds> {
        self.lit(b"{\"auto_approve_max\":")?;
        let auto = self.number()?;
        self.lit(b",\"manual_review_max\":")?;
        let manual = self.number()?;
        self.lit(b"}")?;
        let thresholds = Thresholds::new(auto, manual).ok()?;
        let kept = (
            thresholds.auto_approve_max(),
            thresholds.manual_review_max(),
        );
        (kept.0.to_bits() == auto.to_bits() && kept.1.to_bits() == manual.to_bits())
            .then_some(thresholds)
    }

    /// The event's type, `"`, and its `data` object up to, not including, its closing brace
    /// (which the caller matches).
    fn kind(&mut self) -> Option<EventKind> {
        let rest = self.rest();
        let end = memchr::memchr(b'"', rest)?;
        let name = &rest[..end];
        self.at += end + 1;
        self.lit(b",\"data\":{")?;
        Some(match name {
            b"request_submitted" => {
                self.lit(b"\"request\":")?;
                let request = self.request()?;
                self.lit(b",\"decision\":")?;
                let decision = if self.lit(b"null").is_some() {
                    None
                } else {
                    Some(self.decision()?)
                };
                EventKind::RequestSubmitted(RequestSubmitted { request, decision })
            }
            b"request_decided" => {
                self.lit(b"\"deployment_intent_id\":")?;
                let deployment_intent_id = self.text()?;
                self.lit(b",\"decision\":")?;
                let decision = self.decision()?;
                EventKind::RequestDecided(RequestDecided {
                    deployment_intent_id,
                    decision,
                })
            }
            b"exception_requested" => {
                self.lit(b"\"exception\":")?;
                let exception = self.exception()?;
                EventKind::ExceptionRequested(ExceptionRequested { exception })
            }
            b"exception_reviewed" => {
                self.lit(b"\"exception_id\":")?;
                let exception_id = self.uuid()?;
                self.lit(b",\"request_id\":")?;
                let request_id = self.uuid()?;
                self.lit(b",\"deployment_intent_id\":")?;
                let deployment_intent_id = self.text()?;
                self.lit(b",\"status\":")?;
                let status = self.word(&ExceptionStatus::ALL, ExceptionStatus::as_str)?;
                self.lit(b",\"reviewed_by\":")?;
                let reviewed_by = self.text()?;
                self.lit(b",\"reviewed_at\":")?;
                let reviewed_at = self.time()?;
                self.lit(b",\"review_rationale\":")?;
                let review_rationale = self.text()?;
                EventKind::ExceptionReviewed(ExceptionReviewed {
                    exception_id,
                    request_id,
                    deployment_intent_id,
                    status,
                    reviewed_by,
                    reviewed_at,
                    review_rationale,
                })
            }
            b"exception_expired" => {
                self.lit(b"\"exception_id\":")?;
                let exception_id = self.uuid()?;
                self.lit(b",\"request_id\":")?;
                let request_id = self.uuid()?;
                self.lit(b",\"deployment_intent_id\":")?;
                let deployment_intent_id = self.text()?;
                self.lit(b",\"expires_at\":")?;
                let expires_at = self.time()?;
                EventKind::ExceptionExpired(ExceptionExpired {
                    exception_id,
                    request_id,
                    deployment_intent_id,
                    expires_at,
                })
            }
            b"outcome_recorded" => {
                self.lit(b"\"outcome\":")?;
                let outcome = self.outcome()?;
                EventKind::OutcomeRecorded(OutcomeRecorded { outcome })
            }
            _ => return None,
        })
    }

    fn request(&mut self) -> Option<ApprovalRequest> {
        self.lit(b"{\"id\":")?;
        let id = self.uuid()?;
        self.lit(b",\"deployment_intent_id\":")?;
        let deployment_intent_id = self.text()?;
        self.lit(b",\"evidence_package_id\":")?;
        let evidence_package_id = self.text()?;
        self.lit(b",\"title\":")?;
        let title = self.optional_text()?;
        self.lit(b",\"risk_score\":")?;
        let risk_score = self.score()?;
        self.lit(b",\"risk_factors\":")?;
        let risk_factors = self.factors()?;
        self.lit(b",\"gate\":")?;
        let gate = self.word(&Gate::ALL, Gate::as_str)?;
        self.lit(b",\"thresholds\":")?;
        let thresholds = self.thresholds()?;
        self.lit(b",\"status\":")?;
        let status = self.word(&RequestStatus::ALL, RequestStatus::as_str)?;
        self.lit(b",\"requested_by\":")?;
        let requested_by = self.text()?;
        self.lit(b",\"correlation_id\":")?;
        let correlation_id = self.text()?;
        self.lit(b",\"submitted_at\":")?;
        let submitted_at = self.time()?;
        self.lit(b"}")?;
        Some(ApprovalRequest {
            id,
            deployment_intent_id,
            evidence_package_id,
            title,
            risk_score,
            risk_factors,
            gate,
            thresholds,
            status,
            requested_by,
            correlation_id,
            submitted_at,
        })
    }

    fn decision(&mut self) -> Option<Decision> {
        self.lit(b"{\"id\":")?;
        let id = self.uuid()?;
        self.lit(b",\"request_id\":")?;
        let request_id = self.uuid()?;
        self.lit(b",\"decision\":")?;
        let decision = self.word(&DecisionKind::ALL, DecisionKind::as_str)?;
        self.lit(b",\"approver\":")?;
        let approver = self.text()?;
        self.lit(b",\"rationale\":")?;
        let rationale = self.text()?;
        self.lit(b",\"conditions\":")?;
        let conditions = self.texts()?;
        self.lit(b",\"decided_at\":")?;
        let decided_at = self.time()?;
        self.lit(b",\"correlation_id\":")?;
        let correlation_id = self.text()?;
        self.lit(b"}")?;
        Some(Decision {
            id,
            request_id,
            decision,
            approver,
            rationale,
            conditions,
            decided_at,
            correlation_id,
        })
    }

    fn exception(&mut self) -> Option<SecurityException> {
        self.lit(b"{\"id\":")?;
        let id = self.uuid()?;
        self.lit(b",\"request_id\":")?;
        let request_id = self.uuid()?;
        self.lit(b",\"deployment_intent_id\":")?;
        let deployment_intent_id = self.text()?;
        self.lit(b",\"justification\":")?;
        let justification = self.text()?;
        self.lit(b",\"compensating_controls\":")?;
        let compensating_controls = self.texts()?;
        self.lit(b",\"requested_by\":")?;
        let requested_by = self.text()?;
        self.lit(b",\"requested_at\":")?;
        let requested_at = self.time()?;
        self.lit(b",\"expires_at\":")?;
        let expires_at = self.time()?;
        self.lit(b",\"status\":")?;
        let status = self.word(&ExceptionStatus::ALL, ExceptionStatus::as_str)?;
        self.lit(b",\"reviewed_by\":")?;
        let reviewed_by = self.optional_text()?;
        self.lit(b",\"reviewed_at\":")?;
        let reviewed_at = self.optional_time()?;
        self.lit(b",\"review_rationale\":")?;
        let review_rationale = self.optional_text()?;
        self.lit(b"}")?;
        Some(SecurityException {
            id,
            request_id,
            deployment_intent_id,
            justification,
            compensating_controls,
            requested_by,
            requested_at,
            expires_at,
            status,
            reviewed_by,
            reviewed_at,
            review_rationale,
        })
    }

    fn outcome(&mut self) -> Option<Outcome> {
        self.lit(b"{\"id\":")?;
        let id = self.uuid()?;
        self.lit(b",\"request_id\":")?;
        let request_id = self.uuid()?;
        self.lit(b",\"deployment_intent_id\":")?;
        let deployment_intent_id = self.text()?;
        self.lit(b",\"result\":")?;
        let result = self.word(&OutcomeResult::ALL, OutcomeResult::as_str)?;
        self.lit(b",\"incident\":")?;
        let incident = self.optional_text()?;
        self.lit(b",\"note\":")?;
        let note = self.optional_text()?;
        self.lit(b",\"recorded_by\":")?;
        let recorded_by = self.text()?;
        self.lit(b",\"recorded_at\":")?;
        let recorded_at = self.time()?;
        self.lit(b"}")?;
        Some(Outcome {
            id,
            request_id,
            deployment_intent_id,
            result,
            incident,
            note,
            recorded_by,
            recorded_at,
        })
    }
}

/// The numbers last read on this thread whose spelling is at most eight bytes (nearly all: a
/// score, a threshold, a factor), by their spelling: the same few hundred values recur line
/// after line, and a number found here was checked when it was first read.
struct Numbers {
    /// Each slot: a spelling (its bytes, zero-padded, as one word) and its value.
    slots: Box<[(u64, f64)]>,
}

impl Numbers {
    const SLOTS: usize = 1024;

    fn read(text: &[u8]) -> Option<f64> {
        thread_local! {
            static NUMBERS: RefCell<Numbers> = RefCell::new(Numbers {
                slots: vec![(0, 0.0); Numbers::SLOTS].into_boxed_slice(),
            });
        }
        if text.is_empty() || text.len() > 8 {
            return checked(text);
        }
        let mut word = [0u8; 8];
        word[..text.len()].copy_from_slice(text);
        // Not zero: a spelling is not empty and has no zero byte.
        let key = u64::from_le_bytes(word);
        let slot = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54) as usize;
        NUMBERS.with_borrow_mut(|numbers| {
            let (known, value) = numbers.slots[slot];
            if known == key {
                return Some(value);
            }
            let value = checked(text)?;
            numbers.slots[slot] = (key, value);
            Some(value)
        })
    }
}

/// The finite number `text` spells, if the encoder spells it so.
fn checked(text: &[u8]) -> Option<f64> {
    // Only ASCII is ever passed.
    let value: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
    (value.is_finite() && spelled(value, text)).then_some(value)
}

/// Is `text` exactly how the encoder writes `value`?
fn spelled(value: f64, text: &[u8]) -> bool {
    let mut buffer = [0u8; 40];
    let mut out = &mut buffer[..];
    if SafeFormatter(CompactFormatter)
        .write_f64(&mut out, value)
        .is_err()
    {
        return false;
    }
    let written = 40 - out.len();
    &buffer[..written] == text
}

/// A run of a string with no quote or backslash in it, if it holds no character the encoder
/// escapes (controls, bidi controls, zero-width characters: [`is_unsafe`]).
fn plain_text(bytes: &[u8]) -> Option<&str> {
    if crate::untrusted::json::printable_ascii(bytes) {
        // SAFETY: printable ASCII is valid UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    let text = std::str::from_utf8(bytes).ok()?;
    (!text.chars().any(is_unsafe)).then_some(text)
}

/// The character an escape at the start of `rest` stands for and the escape's length, if the
/// encoder writes that character so: `\"`, `\\`, the five short escapes for controls, and
/// `\u` with four lowercase hex digits (a pair of them beyond the first plane) for every other
/// control and every character [`is_unsafe`] names.
fn escaped(rest: &[u8]) -> Option<(char, usize)> {
    let short = match rest.get(1)? {
        b'"' => Some('"'),
        b'\\' => Some('\\'),
        b'b' => Some('\u{8}'),
        b't' => Some('\t'),
        b'n' => Some('\n'),
        b'f' => Some('\u{c}'),
        b'r' => Some('\r'),
        b'u' => None,
        _ => return None,
    };
    if let Some(c) = short {
        return Some((c, 2));
    }
    let unit = |at: usize| -> Option<u32> {
        let digits = rest.get(at..at + 4)?;
        digits.iter().try_fold(0u32, |n, &d| {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                _ => return None,
            };
            Some(n * 16 + u32::from(v))
        })
    };
    let first = unit(2)?;
    let (c, len) = match first {
        0xD800..=0xDBFF => {
            if rest.get(6..8)? != b"\\u" {
                return None;
            }
            let second = unit(8)?;
            if !(0xDC00..=0xDFFF).contains(&second) {
                return None;
            }
            let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
            (char::from_u32(c)?, 12)
        }
        _ => (char::from_u32(first)?, 6),
    };
    let short_form = matches!(c, '\u{8}' | '\t' | '\n' | '\u{c}' | '\r');
    (is_unsafe(c) && !short_form).then_some((c, len))
}

#[cfg(test)]
mod tests;
