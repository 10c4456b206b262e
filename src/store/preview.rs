//! The open requests first: what a console starting on a large store with no checkpoint shows
//! before the whole replay is done.
//!
//! A console's first screen (the pending queue, the exceptions pane and the counts) reads only
//! the requests nobody has decided yet, neither the gate nor a CAB member, with their
//! exceptions and outcomes ([`crate::engine::query::counts`] and the panes read nothing else).
//! Every rule reads only the request an event names and that request's exceptions, so the
//! state of those requests alone, replayed from their own lines, is exactly the part of the
//! whole state that the first screen draws.
//!
//! So: every line of the store is checked on every core (its hash, its sequence number, its
//! link to the line before: what `cab status` checks), and placed without parsing its JSON
//! ([`line::mention`]); an exception's line, always wanted, is parsed there and then. Then only
//! the open requests' other lines are read again and parsed, and all of theirs re-judged and
//! applied in store order, as a replay does (at 100,000 demo requests: 31,030 of 211,820 lines,
//! for 11,574 requests). Nothing is taken from a cache or an index: the lines themselves are
//! read. A line that cannot be placed, any fault, or a line the rules refuse, and there is no
//! preview: the whole replay, which follows in any case and has the last word, reports it in
//! its own words.

use std::collections::BTreeMap;
use std::fs::File;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use uuid::Uuid;

use super::file::FileStore;
use super::line;
use super::scan::{self, PARALLEL_FROM};
use crate::engine::as_of::Mention;
use crate::engine::text::HashSet;
use crate::engine::{self, State};

/// Below this size the whole replay is quick: no preview.
pub const PREVIEW_FROM: u64 = PARALLEL_FROM;

/// What a line is, as far as choosing the open requests' lines goes.
#[derive(Debug)]
enum Place {
    /// A request submitted; `open` when the gate did not decide it (no decision with it).
    Submitted { request: Uuid, open: bool },
    /// A CAB member's decision: the request is closed.
    Decided(Uuid),
    /// An outcome: the open requests' are kept.
    Outcome(Uuid),
    /// An exception requested, reviewed or expired, parsed on the spot from the bytes just
    /// checked: always kept (every exception belongs to a request that needs one, and such a
    /// request is never decided).
    Exception(Box<engine::Event>),
}

/// A line kept: where it is and what it is.
#[derive(Debug)]
struct Placed {
    offset: u64,
    len: u32,
    place: Option<Place>,
}

/// How the data of a submission without a decision ends (docs/store-format.md: the canonical
/// form), just before `prev` and `hash`.
const UNDECIDED_END: &[u8] = b",\"decision\":null}";
/// How it ends with the gate's decision: the decision's correlation id, then two objects close.
const DECIDED_END: &[u8] = b"\"}}";

/// Whether a submission line carries no decision (the request stays open), read from where
/// the canonical form puts it. `None` when the line ends otherwise.
fn undecided(bytes: &[u8]) -> Option<bool> {
    let data_end = bytes
        .len()
        .checked_sub(line::PREV_SUFFIX_LEN + line::HASH_SUFFIX_LEN)?;
    let data = &bytes[..data_end];
    if data.ends_with(UNDECIDED_END) {
        Some(true)
    } else if data.ends_with(DECIDED_END) {
        Some(false)
    } else {
        None
    }
}

fn place(bytes: &[u8]) -> Option<Place> {
    Some(match line::mention(bytes)? {
        Mention::RequestSubmitted(request) => Place::Submitted {
            request,
            open: undecided(bytes)?,
        },
        Mention::RequestDecided(request) => Place::Decided(request),
        Mention::OutcomeRecorded(request) => Place::Outcome(request),
        Mention::ExceptionRequested(_)
        | Mention::ExceptionReviewed(_)
        | Mention::ExceptionExpired(_) => {
            Place::Exception(Box::new(line::decode_checked(bytes)?.event))
        }
    })
}

impl FileStore {
    /// The state of the store's open requests alone (see the module), or `None` when there is
    /// none to give: the store is small, has a checkpoint (the whole state comes quickly), or
    /// has a line this way does not place or accept.
    pub fn preview(&self) -> Option<State> {
        self.preview_from(PREVIEW_FROM)
    }

    /// [`Self::preview`] of a store of at least `least` bytes (of any size, with 0).
    pub(crate) fn preview_from(&self, least: u64) -> Option<State> {
        if self
            .checkpoints()
            .is_some_and(|policy| policy.file_for(self.path()).exists())
        {
            return None;
        }
        let file = self.open_shared().ok()??;
        let len = file.metadata().ok()?.len();
        if len < least {
            return None;
        }
        self.preview_of(&file, len)
    }

    /// [`Self::preview`] of the first `len` bytes of `file`, whatever its size.
    pub(super) fn preview_of(&self, file: &File, len: u64) -> Option<State> {
        let (parts, threads) = scan::parts_for(len);
        let checked = self
            .check_in_parts(file, len, parts, threads, |offset, bytes| {
                Some(Placed {
                    offset,
                    len: u32::try_from(bytes.len()).ok()?,
                    place: place(bytes),
                })
            })
            .ok()?;
        if checked.fault.is_some() || checked.kept.len() as u64 != checked.head {
            return None;
        }
        let mut open = HashSet::default();
        let mut decided = HashSet::default();
        for (_, placed) in &checked.kept {
            match placed.place.as_ref()? {
                Place::Submitted {
                    request,
                    open: true,
                } => {
                    open.insert(*request);
                }
                Place::Decided(request) => {
                    decided.insert(*request);
                }
                _ => {}
            }
        }
        open.retain(|request| !decided.contains(request));
        // The open requests' lines in file order: exceptions parsed already, the rest to read.
        let mut parsed = Vec::new();
        let mut to_read = Vec::new();
        for (seq, placed) in checked.kept {
            match placed.place {
                Some(Place::Submitted { request, .. } | Place::Outcome(request))
                    if open.contains(&request) =>
                {
                    to_read.push((seq, placed.offset, placed.len));
                }
                Some(Place::Exception(event)) => parsed.push((seq, *event)),
                _ => {}
            }
        }
        read_and_apply(file, &to_read, parsed)
    }
}

/// How many lines a parser reads at a time: few enough that re-judging and applying them
/// starts soon after reading does.
const CHUNK: usize = 256;

/// A chunk of lines read and parsed: `(seq, event, judged)`, or `None` when one of them does
/// not read back as it was checked or is a submission the rules refuse.
type Chunk = Option<Vec<(u64, engine::Event, bool)>>;

/// The state of the lines `wanted` (`(seq, offset, len)`, read again, each one's hash checked
/// again) and of the events `parsed` already, all in store order. Parser threads read and
/// parse `wanted` a chunk at a time while this thread re-judges and applies what they have
/// done, in order. `None` at the first line that does not read back as it was checked or that
/// the rules refuse.
fn read_and_apply(
    file: &File,
    wanted: &[(u64, u64, u32)],
    parsed: Vec<(u64, engine::Event)>,
) -> Option<State> {
    let chunks: Vec<&[(u64, u64, u32)]> = wanted.chunks(CHUNK).collect();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Chunk)>();
    std::thread::scope(|s| {
        for _ in 0..super::blocks::parsers() {
            let (tx, next, chunks) = (tx.clone(), &next, &chunks);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = chunks.get(i) else {
                        return;
                    };
                    // The taker gone (it stopped at a line it refused): nothing more to do.
                    if tx.send((i, read_chunk(file, chunk))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut state = State::new();
        let mut parsed = parsed.into_iter().peekable();
        let mut waiting = BTreeMap::new();
        let mut taken = 0;
        // Returning early drops `rx`: each parser stops at its next chunk.
        for (i, chunk) in &rx {
            waiting.insert(i, chunk);
            while let Some(chunk) = waiting.remove(&taken) {
                taken += 1;
                for (seq, event, judged) in chunk? {
                    while let Some((before, earlier)) = parsed.next_if(|(at, _)| *at < seq) {
                        admit(&mut state, before, earlier, false)?;
                    }
                    admit(&mut state, seq, event, judged)?;
                }
            }
        }
        for (seq, event) in parsed {
            admit(&mut state, seq, event, false)?;
        }
        (taken == chunks.len()).then_some(state)
    })
}

/// Read and parse one chunk of lines (see [`Chunk`]).
fn read_chunk(file: &File, lines: &[(u64, u64, u32)]) -> Chunk {
    let mut out = Vec::with_capacity(lines.len());
    let mut buf = Vec::new();
    for &(seq, offset, len) in lines {
        buf.resize(len as usize, 0);
        scan::read_exact_at(file, &mut buf, offset).ok()?;
        let stored = line::decode_linked(&buf, seq).ok()?;
        let judged = match engine::rejudge_alone(&stored.event) {
            Some(Err(_)) => return None,
            Some(Ok(())) => true,
            None => false,
        };
        out.push((seq, stored.event, judged));
    }
    Some(out)
}

/// Re-judge (unless `judged` already) and apply one event.
fn admit(state: &mut State, seq: u64, event: engine::Event, judged: bool) -> Option<()> {
    if judged {
        engine::admit_judged(state, seq, event).ok()
    } else {
        engine::admit(state, seq, event).ok()
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use chrono::{DateTime, Duration, TimeZone, Utc};

    use super::super::line;
    use super::super::{CheckpointPolicy, FileStore, Replica};
    use crate::engine::query::{self, RequestFilter};
    use crate::engine::{ExceptionFilter, Policy, State};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
    }

    fn demo(dir: &Path, requests: usize) -> FileStore {
        let store = FileStore::new(dir.join("store.jsonl")).with_checkpoints(None);
        let filled = crate::store::Store::from(store.clone());
        crate::demo::fill(&filled, requests, 11, now(), &Policy::default()).unwrap();
        store
    }

    fn whole(store: &FileStore) -> State {
        let mut replica = Replica::new();
        store.refresh(&mut replica).unwrap();
        replica.state
    }

    fn preview(store: &FileStore) -> Option<State> {
        let file = fs::File::open(store.path()).unwrap();
        let len = file.metadata().unwrap().len();
        store.preview_of(&file, len)
    }

    fn lines(store: &FileStore) -> Vec<Vec<u8>> {
        fs::read(store.path())
            .unwrap()
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// Write `lines` with each line's `prev` and `hash` made again from line `from` on: a
    /// store edited by someone who can write the file and knows how the chain is made.
    fn write_rechained(store: &FileStore, mut lines: Vec<Vec<u8>>, from: usize) {
        let tail = line::PREV_SUFFIX_LEN + line::HASH_SUFFIX_LEN;
        for k in from..lines.len() {
            let prev = if k == 0 {
                line::GENESIS.to_string()
            } else {
                let before = &lines[k - 1];
                String::from_utf8(before[before.len() - 66..before.len() - 2].to_vec()).unwrap()
            };
            let l = &mut lines[k];
            let data_end = l.len() - tail;
            l.truncate(data_end);
            l.extend_from_slice(format!(",\"prev\":\"{prev}\"").as_bytes());
            let hash = line::sha256_hex(l);
            l.extend_from_slice(format!(",\"hash\":\"{hash}\"}}").as_bytes());
        }
        let mut bytes = lines.join(&b'\n');
        bytes.push(b'\n');
        fs::write(store.path(), bytes).unwrap();
    }

    #[test]
    fn the_preview_holds_exactly_the_open_requests_of_the_whole_state_with_all_they_concern() {
        let dir = tempfile::tempdir().unwrap();
        let store = demo(dir.path(), 600);
        let whole = whole(&store);
        let preview = preview(&store).expect("a preview of an intact store");
        let open: Vec<_> = whole
            .requests()
            .filter(|r| whole.decision(&r.id).is_none())
            .map(|r| r.id)
            .collect();
        assert!(
            open.len() > 20 && open.len() < whole.request_count() / 2,
            "the demo has open and closed requests: {} of {}",
            open.len(),
            whole.request_count()
        );
        let shown: Vec<_> = preview.requests().map(|r| r.id).collect();
        assert_eq!(shown, open, "the open requests, in the same order");
        for id in &open {
            assert_eq!(preview.request(id), whole.request(id));
            assert_eq!(preview.history(id), whole.history(id), "history of {id}");
            assert_eq!(preview.outcome(id), whole.outcome(id), "outcome of {id}");
            assert!(
                preview.exceptions_for(id).eq(whole.exceptions_for(id)),
                "exceptions of {id}"
            );
        }
        assert!(whole.exceptions().count() > 5);
        assert!(
            preview.exceptions().eq(whole.exceptions()),
            "every exception"
        );
        assert!(preview.awaiting().eq(whole.awaiting()), "the pending queue");
        // The first screen's numbers and lists, now and as time passes.
        for later in [0, 1, 3, 10, 40] {
            let at = now() + Duration::days(later);
            assert_eq!(
                query::counts(&preview, at),
                query::counts(&whole, at),
                "{at}"
            );
            assert_eq!(
                query::requests(&preview, RequestFilter::Pending, None, at),
                query::requests(&whole, RequestFilter::Pending, None, at),
                "{at}"
            );
            assert_eq!(
                query::exceptions(&preview, ExceptionFilter::All, at),
                query::exceptions(&whole, ExceptionFilter::All, at),
                "{at}"
            );
        }
    }

    #[test]
    fn requests_written_with_idempotency_keys_and_hostile_texts_are_previewed_as_replayed() {
        use crate::backend::LocalStore;
        use crate::clock::Clock;
        use crate::engine::event::Idempotency;
        use crate::engine::{Actor, Role, Submission, Verdict};

        let dir = tempfile::tempdir().unwrap();
        let store = demo(dir.path(), 60);
        let local = LocalStore::new(store.clone(), Policy::default(), Clock::Fixed(now()));
        let dana = Actor::new("dana", [Role::Requester]).unwrap();
        let carol = Actor::new("carol", Role::ALL).unwrap();
        let key = |k: &str| Idempotency {
            key: format!("{k},\"type\":\"request_decided\""),
            fingerprint: "f".repeat(64),
        };
        let hostile = "\"decision\":null},\"prev\":\" \u{202e} \\ ,\"type\":\"x\"";
        let mut ids = Vec::new();
        for (n, risk) in [(0, 30.0), (1, 60.0), (2, 62.0), (3, 90.0)] {
            let view = local
                .submit(
                    &dana,
                    Some(&key(&format!("submit-{n}"))),
                    Submission {
                        deployment_intent_id: format!("svc-{n}").into(),
                        evidence_package_id: "EP-1".into(),
                        title: Some(hostile.into()),
                        risk_score: risk,
                        risk_factors: Default::default(),
                        correlation_id: Some(format!("c-{n}").into()),
                    },
                )
                .unwrap();
            ids.push(view.request.id);
        }
        // One of the two under review decided, with a key and a hostile rationale.
        local
            .decide(
                &carol,
                Some(&key("decide")),
                &ids[1].to_string(),
                Verdict::Reject,
                hostile,
            )
            .unwrap();
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("\"idempotency\":{"), "keys were written");
        let whole = whole(&store);
        let preview = preview(&store).expect("a preview");
        for (id, open) in [
            (ids[0], false),
            (ids[1], false),
            (ids[2], true),
            (ids[3], true),
        ] {
            assert_eq!(preview.request(&id).is_some(), open, "{id}");
            if open {
                assert_eq!(preview.request(&id), whole.request(&id));
                assert_eq!(preview.history(&id), whole.history(&id));
            }
        }
        assert!(preview.awaiting().eq(whole.awaiting()));
    }

    #[test]
    fn a_store_with_a_damaged_or_unplaceable_line_or_one_the_rules_refuse_gives_no_preview() {
        let dir = tempfile::tempdir().unwrap();
        let store = demo(dir.path(), 300);
        let intact = lines(&store);
        assert!(preview(&store).is_some());
        let find = |kind: &str| {
            let key = format!("\"type\":\"{kind}\"");
            intact
                .iter()
                .rposition(|l| memchr::memmem::find(l, key.as_bytes()).is_some())
                .unwrap()
        };
        let replace = |k: usize, from: &str, to: &str| {
            let mut edited = intact.clone();
            let text = String::from_utf8(edited[k].clone()).unwrap();
            assert!(text.contains(from), "line {} holds {from}", k + 1);
            edited[k] = text.replacen(from, to, 1).into_bytes();
            edited
        };

        // A byte changed, the hash left as it was: found by the check of every line.
        let k = find("request_decided");
        let edited = replace(k, "\"approver\":\"", "\"approver\":\"x");
        let mut bytes = edited.join(&b'\n');
        bytes.push(b'\n');
        fs::write(store.path(), bytes).unwrap();
        assert!(preview(&store).is_none(), "a damaged line");

        // A line whose type is not one cab writes, re-hashed and re-chained.
        let k = find("request_submitted");
        write_rechained(
            &store,
            replace(k, "\"request_submitted\"", "\"request_submittal\""),
            k,
        );
        assert!(preview(&store).is_none(), "a line that cannot be placed");

        // An exception whose expiry is not a whole number of days after it was requested:
        // re-hashed and re-chained, so only the rules find it.
        let k = find("exception_requested");
        let text = String::from_utf8(intact[k].clone()).unwrap();
        let at = text.find("\"expires_at\":\"").unwrap() + "\"expires_at\":\"".len();
        let expires = &text[at..at + 20];
        let second = if expires.as_bytes()[18] == b'0' {
            '1'
        } else {
            '0'
        };
        let moved = format!("{}{second}Z", &expires[..18]);
        write_rechained(&store, replace(k, expires, &moved), k);
        assert!(whole_fails(&store), "the rules refuse it");
        assert!(preview(&store).is_none(), "a line the rules refuse");

        // Intact again: a preview again.
        write_rechained(&store, intact, 0);
        assert!(preview(&store).is_some());
    }

    fn whole_fails(store: &FileStore) -> bool {
        store.refresh(&mut Replica::new()).is_err()
    }

    #[test]
    fn no_preview_of_a_small_store_or_of_one_with_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let policy = CheckpointPolicy {
            dir: cache.path().to_path_buf(),
            every: 1,
        };
        let store = demo(dir.path(), 200).with_checkpoints(Some(policy.clone()));
        assert!(
            fs::metadata(store.path()).unwrap().len() < super::PREVIEW_FROM,
            "a small store"
        );
        assert!(
            store.preview().is_none(),
            "a small store is read whole at once"
        );
        assert!(store.preview_from(0).is_some(), "no checkpoint yet");
        store.refresh(&mut Replica::new()).unwrap();
        super::super::checkpoint::finish_writes();
        assert!(
            policy.file_for(store.path()).exists(),
            "a checkpoint written"
        );
        assert!(
            store.preview_from(0).is_none(),
            "with a checkpoint the whole state comes quickly"
        );
        let missing = FileStore::new(dir.path().join("missing.jsonl")).with_checkpoints(None);
        assert!(missing.preview_from(0).is_none(), "no store, no preview");
    }
}
