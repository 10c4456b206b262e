//! The store as it was at a moment (`--at`): the events dated at or before it, read again from
//! lines a replica has already verified and replayed in store order. Nothing is re-judged (the
//! rules judged every line when the replica first read it), but every line used is checked to
//! be that same line: its hash, recomputed, must be the one the replica verified. Its JSON is
//! not parsed again where it can be helped: the line says what happened to which record, and
//! the replica's state holds the record ([`crate::engine::as_of::Mention`]).

use std::fs::File;
use std::io::Read;

use chrono::{DateTime, Utc};

use super::blocks::{self, Block, Stopped};
use super::file::{PIPELINE_FROM, ScanError, for_each_line};
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

    /// [`Self::state_as_of`] on every core: one thread reads blocks of whole lines, the
    /// parsers pick and rebuild their events, this one applies them in store order.
    fn pipelined(
        &self,
        reader: impl Read + Send,
        verified: &Verified,
        at: DateTime<Utc>,
        mut apply: impl FnMut(Picked) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let parse = |block: Block<'_>| {
            let mut events = Vec::new();
            for (seq, _, bytes) in block.lines() {
                match self.read_line(verified, seq, bytes, at) {
                    Ok(Some(event)) => events.push(event),
                    Ok(None) => {}
                    Err(e) => return (events, Some(e)),
                }
            }
            (events, None)
        };
        let take = |(events, failed): (Vec<Picked>, Option<StoreError>)| {
            events.into_iter().try_for_each(&mut apply)?;
            failed.map_or(Ok(()), Err)
        };
        match blocks::pipelined(reader, 0, 1, parse, take) {
            Ok(read) => self.read_all(verified, read.count, read.tail),
            Err(Stopped::Taken(e)) => Err(e),
            Err(Stopped::Read(e)) => Err(ScanError::Io(e).into_store(self)),
        }
    }
}
