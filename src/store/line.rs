//! One event as one line of the store, and back. See docs/store-format.md.
//!
//! A line is a JSON object with fields in this order:
//! `{"v":1,"seq":N,"at":T,"actor":A,"correlation_id":C,"type":K,"data":{..},"prev":P,"hash":H}`
//! where `H` is the SHA-256 (lowercase hex) of the line's bytes before `,"hash":"`, and `P` is
//! the previous line's `H` (64 zeros for the first line).

use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::engine::as_of::Mention;
use crate::engine::event::Idempotency;
use crate::engine::event::{EnvelopeOut, SCHEMA_VERSION};
use crate::engine::{Event, EventKind, StoredEvent, time};
use crate::untrusted::json;

/// The `prev` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HASH_KEY: &[u8] = b",\"hash\":\"";
const PREV_KEY: &[u8] = b",\"prev\":\"";
const HEX_LEN: usize = 64;
/// `,"hash":"` + 64 hex digits + `"}`: how every line ends (before its `\n`).
pub(super) const HASH_SUFFIX_LEN: usize = HASH_KEY.len() + HEX_LEN + 2;
/// `,"prev":"` + 64 hex digits + `"`: what comes right before the hash.
pub(super) const PREV_SUFFIX_LEN: usize = PREV_KEY.len() + HEX_LEN + 1;
const SEQ_PREFIX: &[u8] = b"{\"v\":1,\"seq\":";
/// No valid line is shorter than this with its `\n`: it begins with the version and sequence
/// number and ends with the previous line's hash and its own.
pub(super) const SHORTEST: u64 = (SEQ_PREFIX.len() + PREV_SUFFIX_LEN + HASH_SUFFIX_LEN + 1) as u64;

/// Why one line is not a valid next event.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LineError {
    #[error("the line is empty")]
    Empty,
    #[error("the line is not valid UTF-8")]
    NotUtf8,
    #[error("the line does not end with its hash field")]
    NoHash,
    #[error("the line's content does not match its hash (it was changed after it was written)")]
    HashMismatch,
    #[error(
        "the line's previous-hash does not match the line before it (a line was removed, inserted or moved)"
    )]
    BrokenChain,
    #[error(
        "sequence number {found} where {expected} was expected (a line was removed, inserted, duplicated or moved)"
    )]
    BadSequence { expected: u64, found: u64 },
    #[error("the line is not a valid event: {0}")]
    Format(String),
    #[error(
        "the line is not in the canonical form cab writes (it differs at byte {byte}: another spelling of a time, a number, a string escape or the field order); see docs/store-format.md"
    )]
    NotCanonical { byte: u64 },
}

/// SHA-256 as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn to_hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 0xf) as usize]);
    }
    // Only ASCII hex digits were pushed.
    String::from_utf8(out).unwrap_or_default()
}

/// A line hash's 64 hex digits as its 32 bytes (zeros where a digit is not hex, which no
/// checked hash has).
pub fn hash_bytes(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let digit = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    };
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        *byte = (digit(pair[0]) << 4) | digit(pair[1]);
    }
    out
}

/// Does `hex` (64 lowercase hex digits) spell out `digest`?
fn hex_matches(hex: &str, digest: &[u8]) -> bool {
    hex_bytes_match(hex.as_bytes(), digest)
}

/// Whether `hex` is exactly the lowercase hex of a 32-byte `digest`: the digest is spelled out
/// and the two compared whole, which is faster than digit by digit.
fn hex_bytes_match(hex: &[u8], digest: &[u8]) -> bool {
    if hex.len() != 64 || digest.len() != 32 {
        return false;
    }
    let mut spelled = [0u8; 64];
    for (pair, &b) in spelled.chunks_exact_mut(2).zip(digest) {
        pair[0] = HEX[(b >> 4) as usize];
        pair[1] = HEX[(b & 0xf) as usize];
    }
    spelled.as_slice() == hex
}

/// Append one event as a line (with its `\n`) to `out`; returns the new line's hash.
pub fn encode(out: &mut Vec<u8>, seq: u64, prev: &str, event: &Event) -> String {
    let start = out.len();
    encode_body(out, seq, prev, event);
    let hash = sha256_hex(&out[start..]);
    out.extend_from_slice(HASH_KEY);
    out.extend_from_slice(hash.as_bytes());
    out.extend_from_slice(b"\"}\n");
    hash
}

/// What the hash covers: the line up to, not including, `,"hash":"`.
fn encode_body(out: &mut Vec<u8>, seq: u64, prev: &str, event: &Event) {
    let envelope = EnvelopeOut {
        v: SCHEMA_VERSION,
        seq,
        at: time::format(event.at),
        actor: &event.actor,
        correlation_id: &event.correlation_id,
        idempotency: event.idempotency.as_ref(),
        kind: &event.kind,
        prev,
        hash: None,
    };
    // Serializing our own types into memory has no failure path (no maps with non-string keys,
    // no I/O); if it ever failed the line would be rejected by every reader, never misread.
    let _ = json::write_compact(&mut *out, &envelope);
    out.pop(); // the closing brace: the hash covers everything before `,"hash":"`
}

/// The chain facts of a line, read without parsing its JSON: enough to check sequence, chain
/// and hash at the speed of SHA-256.
#[derive(Debug, Clone, Copy)]
pub struct ChainLink<'a> {
    pub seq: u64,
    pub prev: &'a str,
    pub hash: &'a str,
}

/// Check a line's sequence number, its link to the previous hash and its own hash.
/// `line` excludes the trailing `\n`.
pub fn check_link<'a>(
    line: &'a [u8],
    expected_seq: u64,
    expected_prev: &str,
) -> Result<ChainLink<'a>, LineError> {
    let link = own_link(line)?;
    if link.seq != expected_seq {
        return Err(LineError::BadSequence {
            expected: expected_seq,
            found: link.seq,
        });
    }
    if link.prev != expected_prev {
        return Err(LineError::BrokenChain);
    }
    Ok(link)
}

/// A line's own chain facts, its hash checked against its content: what can be checked of
/// one line without the line before it (so lines can be checked on several threads, and
/// their sequence and links in order afterwards, as [`check_link`] does them).
pub fn own_link(line: &[u8]) -> Result<ChainLink<'_>, LineError> {
    if line.is_empty() {
        return Err(LineError::Empty);
    }
    let len = line.len();
    if len < SEQ_PREFIX.len() + PREV_SUFFIX_LEN + HASH_SUFFIX_LEN || !line.ends_with(b"\"}") {
        return Err(LineError::NoHash);
    }
    let body_end = len - HASH_SUFFIX_LEN;
    if &line[body_end..body_end + HASH_KEY.len()] != HASH_KEY {
        return Err(LineError::NoHash);
    }
    let hash_at = body_end + HASH_KEY.len();
    let hash = line
        .get(hash_at..hash_at + HEX_LEN)
        .ok_or(LineError::NoHash)?;
    if !hex_bytes_match(hash, &Sha256::digest(&line[..body_end])) {
        // Only a hex digest can match; which fault it is matters for the message alone.
        return Err(match hex_at(line, hash_at) {
            None => LineError::NoHash,
            Some(_) => LineError::HashMismatch,
        });
    }
    // The digits matched a digest's lowercase hex, so they are ASCII.
    let hash = std::str::from_utf8(hash).map_err(|_| LineError::NoHash)?;
    // From here on the line is exactly as some writer wrote it; read its place in the chain.
    let prev_start = body_end - PREV_SUFFIX_LEN;
    if &line[prev_start..prev_start + PREV_KEY.len()] != PREV_KEY || line[body_end - 1] != b'"' {
        return Err(LineError::Format(
            "the prev field is not where it belongs".into(),
        ));
    }
    let prev = hex_at(line, prev_start + PREV_KEY.len())
        .ok_or_else(|| LineError::Format("prev is not 64 hex digits".into()))?;
    let seq = read_seq(line)?;
    Ok(ChainLink { seq, prev, hash })
}

/// A line's chain fields as bytes, its hash checked against its content and nothing else
/// validated: the fast path of a scan, which compares `prev` with the hash before it (so it
/// is hex whenever it matches) and falls back to [`own_link`] for the exact fault when
/// anything is off. `None` when the line is not shaped as a line or its hash does not match.
pub fn quick_link(line: &[u8]) -> Option<(u64, &[u8], &[u8])> {
    let len = line.len();
    if len < SEQ_PREFIX.len() + PREV_SUFFIX_LEN + HASH_SUFFIX_LEN || !line.ends_with(b"\"}") {
        return None;
    }
    let body_end = len - HASH_SUFFIX_LEN;
    let hash_at = body_end + HASH_KEY.len();
    let hash = line.get(hash_at..hash_at + HEX_LEN)?;
    if &line[body_end..hash_at] != HASH_KEY
        || !hex_bytes_match(hash, &Sha256::digest(&line[..body_end]))
    {
        return None;
    }
    let prev_start = body_end - PREV_SUFFIX_LEN;
    let prev_at = prev_start + PREV_KEY.len();
    if &line[prev_start..prev_at] != PREV_KEY || line[body_end - 1] != b'"' {
        return None;
    }
    let prev = line.get(prev_at..prev_at + HEX_LEN)?;
    let seq = read_seq(line).ok()?;
    Some((seq, prev, hash))
}

fn hex_at(line: &[u8], start: usize) -> Option<&str> {
    let bytes = line.get(start..start + HEX_LEN)?;
    if bytes
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

fn read_seq(line: &[u8]) -> Result<u64, LineError> {
    let rest = line.strip_prefix(SEQ_PREFIX).ok_or_else(|| {
        LineError::Format("the line does not start with {\"v\":1,\"seq\":".into())
    })?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 || rest.get(digits) != Some(&b',') {
        return Err(LineError::Format("seq is not a whole number".into()));
    }
    // At most 19 digits: no u64 overflow.
    Ok(rest[..digits]
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// The fields of a line, parsed in one pass: `type` comes before `data` in every line, so the
/// data is deserialized straight into its event's type.
struct LineIn {
    v: u32,
    seq: u64,
    at: String,
    actor: String,
    correlation_id: String,
    idempotency: Option<Idempotency>,
    kind: EventKind,
    prev: String,
    hash: String,
}

impl<'de> Deserialize<'de> for LineIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(LineVisitor)
    }
}

struct LineVisitor;

impl<'de> serde::de::Visitor<'de> for LineVisitor {
    type Value = LineIn;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<LineIn, A::Error> {
        use serde::de::Error;
        let (mut v, mut seq, mut at, mut actor, mut correlation_id) =
            (None, None, None, None, None);
        let (mut type_name, mut kind, mut prev, mut hash) = (None::<String>, None, None, None);
        let mut idempotency = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "v" => v = Some(map.next_value()?),
                "seq" => seq = Some(map.next_value()?),
                "at" => at = Some(map.next_value()?),
                "actor" => actor = Some(map.next_value()?),
                "correlation_id" => correlation_id = Some(map.next_value()?),
                "idempotency" => idempotency = Some(map.next_value()?),
                "type" => type_name = Some(map.next_value()?),
                "data" => {
                    let t = type_name
                        .as_deref()
                        .ok_or_else(|| A::Error::custom("data comes before type"))?;
                    kind = Some(match t {
                        "request_submitted" => EventKind::RequestSubmitted(map.next_value()?),
                        "request_decided" => EventKind::RequestDecided(map.next_value()?),
                        "exception_requested" => EventKind::ExceptionRequested(map.next_value()?),
                        "exception_reviewed" => EventKind::ExceptionReviewed(map.next_value()?),
                        "exception_expired" => EventKind::ExceptionExpired(map.next_value()?),
                        "outcome_recorded" => EventKind::OutcomeRecorded(map.next_value()?),
                        other => {
                            return Err(A::Error::custom(format!("unknown event type {other:?}")));
                        }
                    });
                }
                "prev" => prev = Some(map.next_value()?),
                "hash" => hash = Some(map.next_value()?),
                other => return Err(A::Error::unknown_field(other, FIELDS)),
            }
        }
        let missing = |f: &'static str| A::Error::missing_field(f);
        Ok(LineIn {
            v: v.ok_or_else(|| missing("v"))?,
            seq: seq.ok_or_else(|| missing("seq"))?,
            at: at.ok_or_else(|| missing("at"))?,
            actor: actor.ok_or_else(|| missing("actor"))?,
            correlation_id: correlation_id.ok_or_else(|| missing("correlation_id"))?,
            idempotency,
            kind: kind.ok_or_else(|| missing("data"))?,
            prev: prev.ok_or_else(|| missing("prev"))?,
            hash: hash.ok_or_else(|| missing("hash"))?,
        })
    }
}

const FIELDS: &[&str] = &[
    "v",
    "seq",
    "at",
    "actor",
    "correlation_id",
    "idempotency",
    "type",
    "data",
    "prev",
    "hash",
];

/// Check a line's place in the chain and parse it whole: its JSON, its schema version and its
/// event. `line` excludes the trailing `\n`.
pub fn decode(
    line: &[u8],
    expected_seq: u64,
    expected_prev: &str,
) -> Result<StoredEvent, LineError> {
    let link = check_link(line, expected_seq, expected_prev)?;
    let body = &line[..line.len() - HASH_SUFFIX_LEN];
    if let Some(stored) = super::strict::read(body, link.seq, link.prev, link.hash) {
        debug_assert_eq!(
            decode_general(line, &link).as_ref(),
            Ok(&stored),
            "the strict reader and the general one disagree"
        );
        return Ok(stored);
    }
    decode_general(line, &link)
}

/// [`decode`] after the chain checks, for any line: parsed as JSON, then encoded again to
/// check that it is canonical, so what is wrong with it is found and named.
pub(super) fn decode_general(line: &[u8], link: &ChainLink<'_>) -> Result<StoredEvent, LineError> {
    let text = std::str::from_utf8(line).map_err(|_| LineError::NotUtf8)?;
    let raw: LineIn = serde_json::from_str(text).map_err(|e| LineError::Format(e.to_string()))?;
    if raw.v != SCHEMA_VERSION {
        return Err(LineError::Format(format!(
            "schema version {} is not one this cab reads (it reads {SCHEMA_VERSION})",
            raw.v
        )));
    }
    if raw.seq != link.seq || raw.prev != link.prev || raw.hash != link.hash {
        return Err(LineError::Format(
            "the parsed fields disagree with the line's chain fields".into(),
        ));
    }
    let at = time::parse(&raw.at).map_err(|e| LineError::Format(format!("bad time: {e}")))?;
    let stored = StoredEvent {
        seq: link.seq,
        prev: raw.prev,
        hash: raw.hash,
        event: Event {
            at,
            actor: raw.actor,
            correlation_id: raw.correlation_id.into(),
            idempotency: raw.idempotency,
            kind: raw.kind,
        },
    };
    canonical(line, &stored)?;
    Ok(stored)
}

/// [`decode`] for a line whose predecessor is read on another thread: every check but the
/// link to the previous line's hash, which the caller makes in order. On a failure found after
/// the link would have been checked, the `prev` the line is written with comes along, so the
/// caller can report a broken link first, as [`decode`] does.
pub fn decode_unlinked(
    line: &[u8],
    expected_seq: u64,
) -> Result<StoredEvent, (Option<String>, LineError)> {
    let prev = match own_link(line) {
        Ok(link) if link.seq != expected_seq => {
            return Err((
                None,
                LineError::BadSequence {
                    expected: expected_seq,
                    found: link.seq,
                },
            ));
        }
        Ok(link) => link.prev.to_string(),
        Err(e) => return Err((None, e)),
    };
    decode(line, expected_seq, &prev).map_err(|e| (Some(prev), e))
}

/// Is the line byte for byte what cab writes for its event? Two lines that mean the same event
/// are one line: a time with `+00:00`, a raw bidi override or a reordered field each make
/// another text with the same meaning, which another reader could take differently.
fn canonical(line: &[u8], stored: &StoredEvent) -> Result<(), LineError> {
    let body = &line[..line.len() - HASH_SUFFIX_LEN];
    let mut canon = Vec::with_capacity(line.len());
    encode_body(&mut canon, stored.seq, &stored.prev, &stored.event);
    if canon == body {
        return Ok(());
    }
    let at = canon
        .iter()
        .zip(body)
        .position(|(a, b)| a != b)
        .unwrap_or(canon.len().min(body.len()));
    Err(LineError::NotCanonical {
        byte: at as u64 + 1,
    })
}

/// Parse a line whose own hash a scan checked a moment ago, from the bytes it checked: its
/// link read as written, nothing hashed again. Only a line in the canonical spelling (the
/// strict reader's); `None` for any other.
pub(super) fn decode_checked(line: &[u8]) -> Option<StoredEvent> {
    let body_end = line.len().checked_sub(HASH_SUFFIX_LEN)?;
    let hash = hex_at(line, body_end + HASH_KEY.len())?;
    let prev = hex_at(
        line,
        body_end.checked_sub(PREV_SUFFIX_LEN)? + PREV_KEY.len(),
    )?;
    let seq = read_seq(line).ok()?;
    super::strict::read(&line[..body_end], seq, prev, hash)
}

/// Parse a line whose place in the chain was verified when it was first read: its hash is
/// checked again, its `prev` is taken as written.
pub fn decode_linked(line: &[u8], expected_seq: u64) -> Result<StoredEvent, LineError> {
    let len = line.len();
    if len < SEQ_PREFIX.len() + PREV_SUFFIX_LEN + HASH_SUFFIX_LEN {
        return Err(LineError::NoHash);
    }
    let prev_at = len - HASH_SUFFIX_LEN - PREV_SUFFIX_LEN + PREV_KEY.len();
    let prev = hex_at(line, prev_at)
        .ok_or_else(|| LineError::Format("prev is not 64 hex digits".into()))?
        .to_string();
    decode(line, expected_seq, &prev)
}

/// The time of a line, read without parsing its JSON: `at` is always its third field. `None`
/// when the line does not start as cab writes it.
pub fn time_of(line: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
    const AT_KEY: &[u8] = b",\"at\":\"";
    let rest = line.strip_prefix(SEQ_PREFIX)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = rest.get(digits..)?.strip_prefix(AT_KEY)?;
    let text = &rest[..memchr::memchr(b'"', rest)?];
    time::parse_canonical(text).or_else(|| time::parse(std::str::from_utf8(text).ok()?).ok())
}

/// What a line's event did and to which record, read without parsing its JSON (in the
/// canonical form the data's first fields are fixed: docs/store-format.md). `None` when the
/// line is not laid out that way: the caller parses it.
pub fn mention(line: &[u8]) -> Option<Mention> {
    use std::sync::LazyLock;
    const TYPE_KEY: &[u8] = b",\"type\":\"";
    const DECISION: &[u8] = b",\"decision\":{\"id\":\"";
    static TYPE: LazyLock<memchr::memmem::Finder> =
        LazyLock::new(|| memchr::memmem::Finder::new(TYPE_KEY));
    static DECIDED: LazyLock<memchr::memmem::Finder> =
        LazyLock::new(|| memchr::memmem::Finder::new(DECISION));
    // A string's quotes are always escaped inside it, so the first `,"type":"` is the field.
    let at = TYPE.find(line)? + TYPE_KEY.len();
    let rest = &line[at..];
    let uuid = |bytes: &[u8], prefix: &[u8]| {
        let id = bytes.strip_prefix(prefix)?.get(..36)?;
        uuid::Uuid::try_parse_ascii(id).ok()
    };
    if let Some(data) = rest.strip_prefix(b"request_submitted\"") {
        return uuid(data, b",\"data\":{\"request\":{\"id\":\"").map(Mention::RequestSubmitted);
    }
    if let Some(data) = rest.strip_prefix(b"exception_requested\"") {
        return uuid(data, b",\"data\":{\"exception\":{\"id\":\"").map(Mention::ExceptionRequested);
    }
    if let Some(data) = rest.strip_prefix(b"exception_reviewed\"") {
        return uuid(data, b",\"data\":{\"exception_id\":\"").map(Mention::ExceptionReviewed);
    }
    if let Some(data) = rest.strip_prefix(b"exception_expired\"") {
        return uuid(data, b",\"data\":{\"exception_id\":\"").map(Mention::ExceptionExpired);
    }
    if let Some(data) = rest.strip_prefix(b"outcome_recorded\"") {
        let data = data.strip_prefix(b",\"data\":{\"outcome\":{\"id\":\"")?;
        return uuid(data.get(36..)?, b"\",\"request_id\":\"").map(Mention::OutcomeRecorded);
    }
    if let Some(data) = rest.strip_prefix(b"request_decided\"") {
        // After the deployment id, a string of any length: the decision's ids follow it.
        let data = data.strip_prefix(b",\"data\":{\"deployment_intent_id\":\"")?;
        let at = DECIDED.find(data)? + DECISION.len();
        return uuid(data.get(at + 36..)?, b"\",\"request_id\":\"").map(Mention::RequestDecided);
    }
    None
}

/// Is this the line that was verified with this hash: its content hashes to it, and its hash
/// field says so?
pub fn is_verified(line: &[u8], verified_hash: &[u8]) -> bool {
    let len = line.len();
    if len < SEQ_PREFIX.len() + PREV_SUFFIX_LEN + HASH_SUFFIX_LEN || !line.ends_with(b"\"}") {
        return false;
    }
    let body_end = len - HASH_SUFFIX_LEN;
    let written = &line[body_end + HASH_KEY.len()..len - 2];
    Sha256::digest(&line[..body_end])[..] == *verified_hash
        && std::str::from_utf8(written).is_ok_and(|hex| hex_matches(hex, verified_hash))
}

/// Parse a line that was verified when first read (chain, hash, canonical form, rules), after
/// checking that it is still that line: its hash, recomputed, must be `verified_hash`. Equal
/// hashes mean equal bytes, so the canonical form need not be checked again.
pub fn decode_verified(
    line: &[u8],
    expected_seq: u64,
    verified_hash: &[u8],
) -> Result<StoredEvent, LineError> {
    if !is_verified(line, verified_hash) {
        return Err(LineError::HashMismatch);
    }
    let body_end = line.len() - HASH_SUFFIX_LEN;
    let hash = std::str::from_utf8(&line[body_end + HASH_KEY.len()..line.len() - 2]);
    let prev = hex_at(line, body_end - PREV_SUFFIX_LEN + PREV_KEY.len());
    if let (Ok(hash), Some(prev)) = (hash, prev)
        && let Some(stored) = super::strict::read(&line[..body_end], expected_seq, prev, hash)
    {
        return Ok(stored);
    }
    let text = std::str::from_utf8(line).map_err(|_| LineError::NotUtf8)?;
    let raw: LineIn = serde_json::from_str(text).map_err(|e| LineError::Format(e.to_string()))?;
    if raw.seq != expected_seq {
        return Err(LineError::BadSequence {
            expected: expected_seq,
            found: raw.seq,
        });
    }
    let at = time::parse(&raw.at).map_err(|e| LineError::Format(format!("bad time: {e}")))?;
    Ok(StoredEvent {
        seq: raw.seq,
        prev: raw.prev,
        hash: raw.hash,
        event: Event {
            at,
            actor: raw.actor,
            correlation_id: raw.correlation_id.into(),
            idempotency: raw.idempotency,
            kind: raw.kind,
        },
    })
}

/// The hash of the line's event as stored, for a client that re-encodes events it received
/// (from a server) to check them against their recorded hashes.
pub fn recompute_hash(stored: &StoredEvent) -> String {
    let mut buf = Vec::with_capacity(512);
    encode(&mut buf, stored.seq, &stored.prev, &stored.event)
}

/// [`check_link`] for an event received already parsed (from a server): its sequence number,
/// its link to the previous hash, and its hash recomputed from its canonical line.
pub fn check_event(
    stored: &StoredEvent,
    expected_seq: u64,
    expected_prev: &str,
) -> Result<(), LineError> {
    if stored.seq != expected_seq {
        return Err(LineError::BadSequence {
            expected: expected_seq,
            found: stored.seq,
        });
    }
    if stored.prev != expected_prev {
        return Err(LineError::BrokenChain);
    }
    if recompute_hash(stored) != stored.hash {
        return Err(LineError::HashMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The line parser under arbitrary input: it never panics, and a line it accepts is exactly
    //! the line cab would write for the event it read (so nothing it accepts is refused later).

    use proptest::prelude::*;

    use super::*;
    use crate::engine::event::RequestSubmitted;
    use crate::engine::{ApprovalRequest, Gate, RequestStatus, RiskScore, Thresholds};

    fn sample_line() -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, 1, GENESIS, &sample_event());
        out.pop();
        out
    }

    fn sample_event() -> Event {
        let at = time::parse("2026-11-28T09:00:00Z").unwrap();
        let request = ApprovalRequest {
            id: uuid::Uuid::from_u128(7),
            deployment_intent_id: "payments-api".into(),
            evidence_package_id: "EP-1".into(),
            title: Some("change \u{e9}".into()),
            risk_score: RiskScore::new(60.5).unwrap(),
            risk_factors: [("blast".to_string(), 3.0)].into(),
            gate: Gate::ManualReview,
            thresholds: Thresholds::default(),
            status: RequestStatus::UnderReview,
            requested_by: "alice".into(),
            correlation_id: "c-1".into(),
            submitted_at: at,
        };
        Event {
            at,
            actor: "alice".into(),
            correlation_id: "c-1".into(),
            idempotency: None,
            kind: EventKind::RequestSubmitted(RequestSubmitted {
                request,
                decision: None,
            }),
        }
    }

    /// Give a changed line a correct hash again, as a forger would.
    fn rehash(line: &[u8]) -> Vec<u8> {
        let body_end = line.len().saturating_sub(HASH_SUFFIX_LEN);
        let mut out = line[..body_end].to_vec();
        out.extend_from_slice(HASH_KEY);
        out.extend_from_slice(sha256_hex(&line[..body_end]).as_bytes());
        out.extend_from_slice(b"\"}");
        out
    }

    #[test]
    fn the_sample_line_decodes() {
        assert!(decode(&sample_line(), 1, GENESIS).is_ok());
    }

    #[test]
    fn a_checked_line_decodes_as_decode_reads_it_and_a_respelled_one_not_at_all() {
        let line = sample_line();
        assert_eq!(decode_checked(&line), decode(&line, 1, GENESIS).ok());
        assert!(decode_checked(&line).is_some());
        // The same event, spelled with a space: valid JSON, not how cab writes it.
        let text = String::from_utf8(line).unwrap();
        let spaced = rehash(text.replacen("\"v\":1,", "\"v\": 1,", 1).as_bytes());
        assert!(decode_checked(&spaced).is_none());
        assert!(decode_checked(b"{\"v\":1}").is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn a_line_s_time_read_digit_by_digit_is_the_time_written(
            secs in time::earliest().timestamp()..=time::latest().timestamp(),
            nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000, (0u32..1000).prop_map(|m| m * 1_000_000)],
        ) {
            let at = chrono::DateTime::from_timestamp(secs, nanos).unwrap();
            let text = time::format(at);
            prop_assert_eq!(time::parse_canonical(text.as_bytes()), Some(at), "{}", text);
            let mut line = Vec::new();
            let event = Event { at, ..sample_event() };
            encode(&mut line, 3, GENESIS, &event);
            prop_assert_eq!(time_of(&line), Some(at));
        }

        #[test]
        fn a_time_not_written_as_cab_writes_it_is_read_as_rfc_3339_reads_it_or_not_at_all(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,10})?(Z|z|\\+01:00)?",
        ) {
            let fast = time::parse_canonical(text.as_bytes());
            if let Some(at) = fast {
                prop_assert_eq!(time::parse_general(&text).ok(), Some(at), "{}", text);
            }
            prop_assert_eq!(time::parse(&text), time::parse_general(&text), "{}", text);
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode(&bytes, 1, GENESIS);
            let _ = decode_linked(&bytes, 1);
        }

        #[test]
        fn a_changed_and_rehashed_line_is_accepted_only_if_it_is_canonical(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        ) {
            let line = sample_line();
            let body_end = line.len() - HASH_SUFFIX_LEN;
            let mut changed = line.clone();
            for (at, byte) in edits {
                changed[at.index(body_end)] = byte;
            }
            let forged = rehash(&changed);
            if let Ok(stored) = decode(&forged, 1, GENESIS) {
                let mut again = Vec::new();
                encode(&mut again, stored.seq, &stored.prev, &stored.event);
                again.pop();
                prop_assert_eq!(again, forged, "an accepted line is what cab writes for it");
            }
        }
    }
}
