//! The whole state at one head, for a console starting against a server: instead of every
//! event page by page (replayed and re-judged on the client), `GET /v1/snapshot` answers the
//! server's replayed state in the compact binary layout of a checkpoint, with its head, so the
//! console draws its first screen at once and then follows the events after that head.
//!
//! Layout: `cabsnap1`, the state's layout tag (`store::checkpoint::MAGIC`: a client built with
//! another layout refuses the bytes and reads events instead), the head's sequence number (u64,
//! little-endian), the head's hash (64 hex digits), the state (postcard), and an XXH3-128
//! checksum of all before it (little-endian). The next event must link to the head's hash; a
//! console that sees one that does not (a server restarted on another store) loads a new
//! snapshot.

use xxhash_rust::xxh3::xxh3_128;

use crate::engine::State;
use crate::store::checkpoint;

/// The state a front end starts from, the sequence number it is at, and that event's hash
/// when the backend knows it (the next event must link to it; `None` as of a past moment,
/// where the events followed are not a chain).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub state: State,
    pub head: u64,
    pub head_hash: Option<String>,
}

/// The media type of an encoded snapshot.
pub const MEDIA_TYPE: &str = "application/vnd.cab.snapshot";

const MAGIC: &[u8; 8] = b"cabsnap1";
const HASH_LEN: usize = 64;
const DIGEST_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + checkpoint::MAGIC.len() + 8 + HASH_LEN;

/// The wire form of a state at a head.
pub fn encode(state: &State, head: u64, head_hash: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(HEADER_LEN + (1 << 20));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(checkpoint::MAGIC);
    out.extend_from_slice(&head.to_le_bytes());
    if head_hash.len() != HASH_LEN {
        return Err(format!("the head hash {head_hash:?} is not 64 hex digits"));
    }
    out.extend_from_slice(head_hash.as_bytes());
    let mut out = postcard::to_extend(state, out).map_err(|e| e.to_string())?;
    let digest = xxh3_128(&out).to_le_bytes();
    out.extend_from_slice(&digest);
    Ok(out)
}

/// A snapshot read back, or why it cannot be used (damaged, cut, another layout, inconsistent).
pub fn decode(bytes: &[u8]) -> Result<Snapshot, String> {
    let body_len = bytes
        .len()
        .checked_sub(DIGEST_LEN)
        .filter(|&n| n >= HEADER_LEN)
        .ok_or("the snapshot is cut short")?;
    let (body, digest) = bytes.split_at(body_len);
    if xxh3_128(body).to_le_bytes() != digest {
        return Err("the snapshot's checksum does not match: it is damaged".into());
    }
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or("this is not a cab snapshot")?;
    let (layout, rest) = rest.split_at(checkpoint::MAGIC.len());
    if layout != checkpoint::MAGIC {
        return Err(format!(
            "the snapshot's state layout is {:?}, this cab reads {:?}",
            String::from_utf8_lossy(layout),
            String::from_utf8_lossy(checkpoint::MAGIC)
        ));
    }
    let (head, rest) = rest.split_at(8);
    let head = u64::from_le_bytes(head.try_into().map_err(|_| "the snapshot is cut short")?);
    let (hash, state) = rest.split_at(HASH_LEN);
    let hash = std::str::from_utf8(hash)
        .ok()
        .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or("the snapshot's head hash is not hex")?
        .to_string();
    let state: State =
        postcard::from_bytes(state).map_err(|e| format!("the snapshot's state: {e}"))?;
    if state.head() != head {
        return Err(format!(
            "the snapshot says head {head} but its state is at event {}",
            state.head()
        ));
    }
    Ok(Snapshot {
        state,
        head,
        head_hash: Some(hash),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Actor, Policy, Role, Submission};

    fn some_state() -> State {
        use crate::engine::rules::{self, Command, Ctx, RandomIds};
        let mut state = State::new();
        let actor = Actor::new("dana", [Role::Requester]).unwrap();
        let now = crate::engine::time::parse("2026-11-28T09:00:00Z").unwrap();
        let policy = Policy::default();
        let ctx = Ctx {
            actor: &actor,
            now,
            policy: &policy,
        };
        for (n, risk) in [20.0, 60.0, 90.0].into_iter().enumerate() {
            let submission = Submission {
                deployment_intent_id: format!("svc-{n}").into(),
                evidence_package_id: "EP-1".into(),
                title: None,
                risk_score: risk,
                risk_factors: Default::default(),
                correlation_id: None,
            };
            let events =
                rules::handle(&state, &Command::Submit(submission), &ctx, &mut RandomIds).unwrap();
            for e in events {
                let seq = state.head() + 1;
                state.apply(seq, e.at, e.kind).unwrap();
            }
        }
        state
    }

    const HASH: &str = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";

    #[test]
    fn a_snapshot_reads_back_as_the_same_state_head_and_hash() {
        let state = some_state();
        let bytes = encode(&state, 3, HASH).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back.state, state);
        assert_eq!(back.head, 3);
        assert_eq!(back.head_hash.as_deref(), Some(HASH));
    }

    #[test]
    fn a_damaged_cut_foreign_or_inconsistent_snapshot_is_refused() {
        let state = some_state();
        let bytes = encode(&state, 3, HASH).unwrap();
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN + 5] ^= 1;
        assert!(decode(&flipped).unwrap_err().contains("damaged"));
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(&bytes[..10]).unwrap_err().contains("cut short"));
        // Another state layout, checksum and all.
        let mut foreign = bytes[..bytes.len() - DIGEST_LEN].to_vec();
        foreign[MAGIC.len()..MAGIC.len() + 8].copy_from_slice(b"cabckp01");
        let digest = xxh3_128(&foreign).to_le_bytes();
        foreign.extend_from_slice(&digest);
        assert!(decode(&foreign).unwrap_err().contains("layout"));
        // A head that is not the state's.
        let wrong = encode(&state, 7, HASH).unwrap();
        assert!(decode(&wrong).unwrap_err().contains("head 7"));
    }
}
