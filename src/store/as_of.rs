//! The store as it was at a moment (`--at`): the events dated at or before it, read again from
//! lines a replica has already verified and replayed in store order. Nothing is re-judged (the
//! rules judged every line when the replica first read it), but every line used is checked to
//! be that same line: its hash, recomputed, must be the one the replica verified. Its JSON is
//! not parsed again where it can be helped: the line says what happened to which record, and
//! the replica's state holds the record ([`crate::engine::as_of::Mention`]).

use std::fs::File;
use std::io::Read;

use chrono::{DateTime, Utc};

use super::file::{PIPELINE_FROM, READ_CHUNK, ScanError, for_each_line};
use super::line;
use super::{FileStore, StoreError};
use crate::engine::{EventKind, State};

/// One line's event, as applied: its sequence number, time and kind.
type Picked = (u64, DateTime<Utc>, EventKind);

/// Lines a replica has verified: where they end, each one's hash, and the state replayed from
/// them. Taken from the replica ([`super::Replica::verified`]) so that reading them again does
/// not hold it.
#[derive(Debug, Clone, Default)]
pub struct Verified {
    pub(super) offset: u64,
    pub(super) line_hashes: Vec<u8>,
    pub(super) state: State,
}

impl Verified {
    pub fn lines(&self) -> u64 {
        (self.line_hashes.len() / 32) as u64
    }

    pub(super) fn hash(&self, seq: u64) -> Option<&[u8]> {
        let at = usize::try_from(seq.checked_sub(1)?).ok()?.checked_mul(32)?;
        self.line_hashes.get(at..at + 32)
    }
}

impl FileStore {
    /// The state after the verified lines whose time is at or before `at`, applied in store
    /// order. A line that is no longer the one verified (the file was rewritten meanwhile)
    /// fails with its line number, as a store that fails verification does.
    pub fn state_as_of(&self, verified: &Verified, at: DateTime<Utc>) -> Result<State, StoreError> {
        let mut state = State::new();
        if verified.lines() == 0 {
            return Ok(state);
        }
        let file = File::open(self.path()).map_err(self.io("open"))?;
        let reader = file.take(verified.offset);
        let mut apply = |(seq, time, kind): Picked| {
            state
                .apply(seq, time, kind)
                .map_err(|err| self.corrupt(seq, err))
        };
        if verified.offset >= PIPELINE_FROM {
            self.pipelined(reader, verified, at, apply)?;
        } else {
            let mut seq = 0;
            let tail = for_each_line(reader, 0, |_, bytes| {
                seq += 1;
                match self.read_line(verified, seq, bytes, at)? {
                    Some(e) => apply(e),
                    None => Ok(()),
                }
            })
            .map_err(|e| e.into_store(self))?;
            self.read_all(verified, seq, tail)?;
        }
        Ok(state)
    }

    /// One verified line's event, when its time is at or before `at`: rebuilt from the
    /// verified state's records, or parsed where it cannot be.
    fn read_line(
        &self,
        verified: &Verified,
        seq: u64,
        bytes: &[u8],
        at: DateTime<Utc>,
    ) -> Result<Option<Picked>, StoreError> {
        let hash = verified
            .hash(seq)
            .ok_or_else(|| self.corrupt(seq, "the store changed while it was read"))?;
        let time = line::time_of(bytes)
            .ok_or_else(|| self.corrupt(seq, "the line has no readable time"))?;
        if time > at {
            return Ok(None);
        }
        if !line::is_verified(bytes, hash) {
            return Err(self.corrupt(seq, line::LineError::HashMismatch));
        }
        let later = &verified.state;
        if later.head() == verified.lines()
            && let Some(kind) = line::mention(bytes).and_then(|m| m.rebuild(later))
        {
            return Ok(Some((seq, time, kind)));
        }
        let stored = line::decode_verified(bytes, seq, hash).map_err(|e| self.corrupt(seq, e))?;
        Ok(Some((seq, stored.event.at, stored.event.kind)))
    }

    /// Were exactly the verified lines read, whole?
    fn read_all(&self, verified: &Verified, seq: u64, tail: u64) -> Result<(), StoreError> {
        if seq == verified.lines() && tail == 0 {
            Ok(())
        } else {
            Err(self.corrupt(
                seq.min(verified.lines()) + 1,
                "the store changed while it was read (lines were cut or rewritten)",
            ))
        }
    }

    /// [`Self::state_as_of`] on every core: one thread reads blocks of whole lines, two pick
    /// and parse them, this one applies their events in store order.
    fn pipelined(
        &self,
        reader: impl Read + Send,
        verified: &Verified,
        at: DateTime<Utc>,
        mut apply: impl FnMut(Picked) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        /// A block of whole lines, its place among the blocks, and its first line's number.
        type Block = (usize, u64, Vec<u8>);
        /// A block's events, and the failure that ended it early, if any.
        type Parsed = (usize, Vec<Picked>, Option<StoreError>);
        const PARSERS: usize = 2;
        let (blocks_tx, blocks_rx) = std::sync::mpsc::sync_channel::<Block>(2 * PARSERS);
        let blocks_rx = std::sync::Mutex::new(blocks_rx);
        let (parsed_tx, parsed_rx) = std::sync::mpsc::sync_channel::<Parsed>(4 * PARSERS);
        // Parsed blocks go back to the reader to be filled again.
        let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::scope(|s| {
            let reading = s.spawn(move || {
                let (mut index, mut seq) = (0, 0);
                let tail = for_each_block(reader, &spare_rx, |block| {
                    let lines = memchr::memchr_iter(b'\n', &block).count() as u64;
                    // Parsers gone: the applier stopped, and its error is the one.
                    let sent = blocks_tx.send((index, seq + 1, block)).is_ok();
                    index += 1;
                    seq += lines;
                    Ok(sent)
                });
                tail.map_err(|e| e.into_store(self))
                    .and_then(|tail| self.read_all(verified, seq, tail))
            });
            for _ in 0..PARSERS {
                let (blocks_rx, parsed_tx, spare_tx) =
                    (&blocks_rx, parsed_tx.clone(), spare_tx.clone());
                s.spawn(move || {
                    loop {
                        let next = blocks_rx
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .recv();
                        let Ok((index, first, block)) = next else {
                            return;
                        };
                        let ends: Vec<usize> = memchr::memchr_iter(b'\n', &block).collect();
                        let mut events = Vec::with_capacity(ends.len());
                        let mut failed = None;
                        let starts = std::iter::once(0).chain(ends.iter().map(|end| end + 1));
                        let lines = starts.zip(&ends).map(|(start, &end)| &block[start..end]);
                        for (seq, bytes) in (first..).zip(lines) {
                            match self.read_line(verified, seq, bytes, at) {
                                Ok(Some(event)) => events.push(event),
                                Ok(None) => {}
                                Err(e) => {
                                    failed = Some(e);
                                    break;
                                }
                            }
                        }
                        let _ = spare_tx.send(block);
                        if parsed_tx.send((index, events, failed)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(parsed_tx);
            // Blocks come back in any order; each is applied once those before it are.
            let mut waiting = std::collections::BTreeMap::new();
            let mut next = 0;
            let mut applied = Ok(());
            'blocks: for (index, events, failed) in &parsed_rx {
                waiting.insert(index, (events, failed));
                while let Some((events, failed)) = waiting.remove(&next) {
                    next += 1;
                    for event in events {
                        applied = apply(event);
                        if applied.is_err() {
                            break 'blocks;
                        }
                    }
                    if let Some(e) = failed {
                        applied = Err(e);
                        break 'blocks;
                    }
                }
            }
            drop(parsed_rx);
            let read = reading.join().unwrap_or_else(|_| {
                Err(ScanError::Io(std::io::Error::other("the reader failed")).into_store(self))
            });
            applied?;
            read
        })
    }
}

/// Call `f` with blocks of whole lines (each ending with its `\n`) read from `reader`, until
/// it returns `false`; the number of bytes after the last whole line. Blocks come from
/// `spare` when it has one (a block handed back once parsed): fresh memory would have to be
/// zeroed by the kernel, page by page.
fn for_each_block(
    mut reader: impl Read,
    spare: &std::sync::mpsc::Receiver<Vec<u8>>,
    mut f: impl FnMut(Vec<u8>) -> Result<bool, StoreError>,
) -> Result<u64, ScanError> {
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut block = spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(READ_CHUNK));
        block.clear();
        block.extend_from_slice(&carry);
        // At least a whole chunk to read into, more when a line is longer than that.
        let want = READ_CHUNK.max(2 * carry.len());
        block.reserve(want.saturating_sub(block.len()));
        let room = (block.capacity() - block.len()) as u64;
        let n = loop {
            match (&mut reader).take(room).read_to_end(&mut block) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ScanError::Io(e)),
            }
        };
        if n == 0 {
            return Ok(block.len() as u64);
        }
        let Some(last) = memchr::memrchr(b'\n', &block) else {
            carry = block;
            continue;
        };
        carry.clear();
        carry.extend_from_slice(&block[last + 1..]);
        block.truncate(last + 1);
        if !f(block)? {
            return Ok(0);
        }
    }
}
