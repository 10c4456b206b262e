//! The store file: locking, catching up, appending durably, quarantining a torn tail.
//!
//! Writers take an exclusive advisory lock on the file, read what others appended since they
//! last looked (verifying every new line), let the engine judge the command against that
//! up-to-date state, append the resulting lines with one write, and fsync before they return.
//! Readers take a shared lock, so they never see half of a line that is being written.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use thiserror::Error;

use super::blocks::{self, Block, Stopped};
use super::checkpoint::{self, CheckpointPolicy};
use super::disk::{self, Disk, Os, Target};
use super::line::{self, GENESIS};
use crate::engine::event::Idempotency;
use crate::engine::{self, Event, State, StoredEvent};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot {action} the store {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the store {} fails verification at line {line}: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("cannot {action} the database {store}: {detail}")]
    Db {
        store: String,
        action: &'static str,
        detail: String,
    },
    #[error("cannot reach the database {store}: {detail}")]
    DbUnreachable { store: String, detail: String },
    #[error("the database {store} fails verification at sequence number {seq}: {reason}")]
    DbCorrupt {
        store: String,
        seq: u64,
        reason: String,
    },
    #[error(
        "{store} already holds {events} events; only a new or empty store can be filled (by cab store copy or cab demo), and nothing was written"
    )]
    TargetNotEmpty { store: String, events: u64 },
    #[error("there is no store at {}", path.display())]
    Missing { path: PathBuf },
    #[error(
        "{} is not a store file (it is a folder, a FIFO or a device); give the path of a store file with --store",
        path.display()
    )]
    NotAFile { path: PathBuf },
    #[error(
        "the store {} already holds {bytes} bytes of events; only a new or empty store can be filled with demo data (pick another path with --store)",
        path.display()
    )]
    NotEmpty { path: PathBuf, bytes: u64 },
}

/// Bytes after the last complete line: a line cut off by a crash, never parsed as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// The line number the torn bytes would have had.
    pub line: u64,
    /// Where they start in the file.
    pub offset: u64,
    pub len: u64,
}

/// A verified prefix of the store, replayed into state. Long-lived holders (the console, the
/// server) keep one and only read what was appended since.
#[derive(Debug, Default)]
pub struct Replica {
    pub state: State,
    /// End of the last complete, verified line.
    offset: u64,
    head_hash: String,
    /// Start offset of every line: `line_starts[seq - 1]`.
    line_starts: Vec<u64>,
    /// Every line's hash, 32 bytes each, one after the other: what a checkpoint keeps to tell
    /// a rewritten line.
    line_hashes: Vec<u8>,
    file_id: Option<(u64, u64)>,
    /// A torn last line seen by the latest read, if any.
    pub torn: Option<TornTail>,
    /// Warnings for the user from reading (a store whose history changed under its checkpoint).
    warnings: Vec<String>,
    /// The sequence number of the last checkpoint read or written.
    checkpoint_seq: u64,
    /// Lines taken from a checkpoint when this replica was first read.
    restored: u64,
    /// Idempotency keys seen, by user and key: the events they wrote and the fingerprint of
    /// the request that wrote them.
    keys: HashMap<(String, String), (Vec<u64>, String)>,
}

impl Replica {
    pub fn new() -> Self {
        Replica {
            head_hash: GENESIS.to_string(),
            ..Replica::default()
        }
    }

    pub fn head_seq(&self) -> u64 {
        (self.line_hashes.len() / 32) as u64
    }

    pub fn head_hash(&self) -> &str {
        &self.head_hash
    }

    pub fn is_empty(&self) -> bool {
        self.line_hashes.is_empty()
    }

    /// Whether event `seq` of this replica has this hash (64 hex digits): whether something
    /// made at that head (a snapshot) belongs to this history.
    pub fn has_hash_at(&self, seq: u64, hex: &str) -> bool {
        let Some(start) = (seq as usize).checked_sub(1).map(|i| i * 32) else {
            return false;
        };
        self.line_hashes
            .get(start..start + 32)
            .is_some_and(|h| h == super::line::hash_bytes(hex) && hex.len() == 64)
    }

    /// Take one decoded event that follows the head: re-judged and applied first, so that an
    /// event the rules refuse leaves the replica exactly as it was. (The file store also
    /// records where its line starts.)
    pub(super) fn admit(&mut self, event: StoredEvent) -> Result<(), String> {
        self.take(event, false)
    }

    /// [`Replica::admit`], or, when `judged`, without judging again an event that
    /// [`engine::rejudge_alone`] accepted.
    fn take(&mut self, event: StoredEvent, judged: bool) -> Result<(), String> {
        let seq = event.seq;
        let key = event
            .event
            .idempotency
            .as_ref()
            .map(|idem| (event.event.actor.clone(), idem.clone()));
        if judged {
            engine::admit_judged(&mut self.state, seq, event.event)?;
        } else {
            engine::admit(&mut self.state, seq, event.event)?;
        }
        if let Some((actor, idem)) = key {
            self.remember(seq, &actor, Some(&idem));
        }
        self.line_hashes
            .extend_from_slice(&line::hash_bytes(&event.hash));
        self.head_hash = event.hash;
        Ok(())
    }

    /// Room for `lines` more lines in the line index, if the system grants that much address
    /// space at once; if not, the index grows as lines come, as it would without this.
    fn reserve_lines(&mut self, lines: usize) {
        if self.line_starts.try_reserve_exact(lines).is_ok() {
            let _ = self.line_hashes.try_reserve_exact(lines.saturating_mul(32));
        }
    }

    /// The hash of a line this replica verified, as 32 bytes.
    pub(super) fn line_hash(&self, seq: u64) -> Option<&[u8]> {
        let at = usize::try_from(seq.checked_sub(1)?).ok()?.checked_mul(32)?;
        self.line_hashes.get(at..at + 32)
    }

    /// Keep a warning for the user (a history that changed under this process).
    pub(super) fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    /// Take events this process has just written (and the engine judged): applied without
    /// being judged again.
    pub(super) fn written(&mut self, stored: &[StoredEvent]) -> Result<(), (u64, String)> {
        for event in stored {
            self.remember(
                event.seq,
                &event.event.actor,
                event.event.idempotency.as_ref(),
            );
            self.state
                .apply(event.seq, event.event.at, event.event.kind.clone())
                .map_err(|e| (event.seq, e.to_string()))?;
            self.line_hashes
                .extend_from_slice(&line::hash_bytes(&event.hash));
            self.head_hash.clone_from(&event.hash);
        }
        Ok(())
    }

    /// Warnings from the reads since the last call, each given once.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// How many lines were taken from a checkpoint rather than replayed (0 for none).
    pub fn restored_lines(&self) -> u64 {
        self.restored
    }

    /// What this replica has verified and replayed, to read those lines again without holding
    /// it ([`FileStore::state_as_of`]).
    pub fn verified(&self) -> super::as_of::Verified {
        super::as_of::Verified {
            offset: self.offset,
            line_hashes: self.line_hashes.clone(),
            state: self.state.clone(),
        }
    }

    /// The events an earlier request with this user's idempotency key wrote, and that
    /// request's fingerprint.
    pub fn idempotent(&self, user: &str, key: &str) -> Option<(&[u64], &str)> {
        self.keys
            .get(&(user.to_string(), key.to_string()))
            .map(|(seqs, fingerprint)| (seqs.as_slice(), fingerprint.as_str()))
    }

    /// Keep the idempotency key an event was written with, if any, under its actor.
    fn remember(&mut self, seq: u64, actor: &str, idempotency: Option<&Idempotency>) {
        if let Some(idem) = idempotency {
            self.keys
                .entry((actor.to_string(), idem.key.clone()))
                .or_insert_with(|| (Vec::new(), idem.fingerprint.clone()))
                .0
                .push(seq);
        }
    }
}

/// What `cab verify` reports about a store that passes.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    pub events: u64,
    pub head_hash: String,
    pub requests: usize,
    pub exceptions: usize,
    pub bytes: u64,
    pub torn: Option<TornTail>,
}

/// One deployment's events picked out of the store, with the whole chain checked on the way.
#[derive(Debug)]
pub struct DeploymentScan {
    pub state: State,
    /// With [`FileStore::scan_deployment_at`], the deployment's events dated at or before that
    /// moment, applied in store order (judged with all of them in `state`).
    pub as_of: Option<State>,
    pub head: u64,
    pub torn: Option<TornTail>,
}

/// The store at one path.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
    checkpoints: Option<CheckpointPolicy>,
    /// Group commit: how far this process's appends are written and known to be on disk.
    commits: Arc<Mutex<Commits>>,
    /// Held while an fsync runs: one at a time, and the writers queued behind it find their
    /// lines already on disk when it ends. Counts the fsyncs of appends.
    syncing: Arc<Mutex<u64>>,
    /// Every write, sync and cut of the store and its quarantine files goes through here.
    disk: Arc<dyn Disk>,
}

/// Offsets (ends of complete lines this process appended) in the file with this identity.
#[derive(Debug, Default)]
struct Commits {
    file: Option<(u64, u64)>,
    written: u64,
    synced: u64,
}

/// Lines appended but not yet known to be on disk: [`FileStore::sync`] makes them durable.
/// Nothing may be acknowledged before that.
#[must_use = "appended lines are acknowledged only once FileStore::sync has made them durable"]
#[derive(Debug)]
pub struct Commit {
    file: Option<File>,
    id: Option<(u64, u64)>,
    end: u64,
    /// Sync even when the bookkeeping says these lines are on disk.
    always: bool,
}

impl Commit {
    /// Nothing left to make durable (a database commits before it answers).
    pub(super) fn durable() -> Commit {
        Commit {
            file: None,
            id: None,
            end: 0,
            always: false,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(super) const READ_CHUNK: usize = 1 << 20;
/// From this many bytes still to read on, parsing and applying run on two threads.
pub(crate) const PIPELINE_FROM: u64 = 4 << 20;
/// How much of a torn tail is copied or compared at a time.
const COPY_CHUNK: usize = 64 << 10;
/// Names tried for one offset's quarantine file beyond the first (`.1` to `.1000`).
const QUARANTINE_NAMES: u32 = 1000;

impl FileStore {
    /// The store at `path`, with checkpoints in the platform cache folder (see
    /// [`CheckpointPolicy::from_env`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStore {
            path: path.into(),
            checkpoints: CheckpointPolicy::from_env(),
            commits: Arc::default(),
            syncing: Arc::default(),
            disk: Arc::new(Os),
        }
    }

    /// The same store on another disk: the fault tests' way in.
    #[cfg(test)]
    pub(crate) fn with_disk(mut self, disk: Arc<dyn Disk>) -> Self {
        self.disk = disk;
        self
    }

    /// The same store with other checkpoints, or none.
    pub fn with_checkpoints(mut self, policy: Option<CheckpointPolicy>) -> Self {
        self.checkpoints = policy;
        self
    }

    /// The store's path made absolute: what names it in a checkpoint.
    fn absolute(&self) -> String {
        std::path::absolute(&self.path)
            .unwrap_or_else(|_| self.path.clone())
            .to_string_lossy()
            .into_owned()
    }

    /// Where its checkpoints are kept, if it keeps them.
    pub(super) fn checkpoints(&self) -> Option<&CheckpointPolicy> {
        self.checkpoints.as_ref()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn io(&self, action: &'static str) -> impl FnOnce(io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            action,
            path: self.path.clone(),
            source,
        }
    }

    pub(super) fn corrupt(&self, line: u64, reason: impl ToString) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            line,
            reason: reason.to_string(),
        }
    }

    /// Open for reading with a shared lock; `None` when there is no store yet.
    pub(super) fn open_shared(&self) -> Result<Option<File>, StoreError> {
        match crate::files::open_regular(&self.path) {
            Ok((file, _)) => {
                file.lock_shared().map_err(self.io("lock"))?;
                Ok(Some(file))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => Err(StoreError::NotAFile {
                path: self.path.clone(),
            }),
            Err(e) => Err(self.io("open")(e)),
        }
    }

    /// Open for appending with an exclusive lock, creating the store (and its folder) if needed.
    fn open_exclusive(&self) -> Result<File, StoreError> {
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir
            && !dir.exists()
        {
            fs::create_dir_all(dir).map_err(self.io("create the folder of"))?;
            if let Some(grandparent) = dir.parent() {
                self.disk
                    .sync_dir(grandparent)
                    .map_err(self.io("sync the folder of"))?;
            }
        }
        let (file, created) = match OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(&self.path)
        {
            Ok(file) => (file, true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => (
                OpenOptions::new()
                    .read(true)
                    .append(true)
                    .open(&self.path)
                    .map_err(self.io("open"))?,
                false,
            ),
            Err(e) => return Err(self.io("create")(e)),
        };
        // Opened for reading and writing, a FIFO does not block; it is refused here.
        if !file.metadata().map_err(self.io("read"))?.is_file() {
            return Err(StoreError::NotAFile {
                path: self.path.clone(),
            });
        }
        file.lock().map_err(self.io("lock"))?;
        // A new store: make its existence durable before anything is acknowledged in it. An
        // empty one may be a new store whose syncs failed (a full disk): sync it again, else
        // its first acknowledged event could vanish with its folder entry in a crash.
        if created || file.metadata().map_err(self.io("read"))?.len() == 0 {
            self.disk
                .sync_all(&file, Target::Store)
                .map_err(self.io("sync"))?;
            self.disk
                .sync_dir(dir.unwrap_or(Path::new(".")))
                .map_err(self.io("sync the folder of"))?;
        }
        Ok(file)
    }

    /// Bring a replica up to date with the file, without writing. A torn last line is recorded
    /// in `replica.torn` for the caller to report.
    pub fn refresh(&self, replica: &mut Replica) -> Result<(), StoreError> {
        match self.open_shared()? {
            Some(file) => self.catch_up(&file, replica),
            None if replica.is_empty() => {
                replica.torn = None;
                Ok(())
            }
            None => Err(StoreError::Missing {
                path: self.path.clone(),
            }),
        }
    }

    /// The writer's protocol: lock, catch up, judge, quarantine a torn tail, append, fsync.
    /// `judge` sees the up-to-date state and returns the events to append (none: nothing is
    /// written) plus a value for the caller. A refusal writes nothing, not even a new empty
    /// file, so `judge` may be called twice when the store does not exist yet. Returns the
    /// stored events, any notices for the user, and the value.
    pub fn append<T, E>(
        &self,
        replica: &mut Replica,
        judge: impl FnMut(&Replica) -> Result<(Vec<Event>, T), E>,
    ) -> Result<Appended<T>, AppendError<E>> {
        let (appended, commit) = self.append_unsynced(replica, judge)?;
        self.sync(commit)?;
        Ok(appended)
    }

    /// The first half of [`FileStore::append`]: the lines are written and the store's lock is
    /// released, but they are on disk only after [`FileStore::sync`]. Between the two a
    /// long-lived caller releases its own lock on the replica too, so that the next writer can
    /// append while this one syncs, and one fsync serves every line written before it (group
    /// commit).
    pub fn append_unsynced<T, E>(
        &self,
        replica: &mut Replica,
        mut judge: impl FnMut(&Replica) -> Result<(Vec<Event>, T), E>,
    ) -> Result<(Appended<T>, Commit), AppendError<E>> {
        let nothing = |value, notices| {
            (
                Appended {
                    stored: Vec::new(),
                    notices,
                    value,
                },
                Commit {
                    file: None,
                    id: None,
                    end: 0,
                    always: false,
                },
            )
        };
        if replica.is_empty() && !self.path.exists() {
            let (events, value) = judge(replica).map_err(AppendError::Refused)?;
            if events.is_empty() {
                return Ok(nothing(value, Vec::new()));
            }
        }
        let file = self.open_exclusive()?;
        self.catch_up(&file, replica)?;
        let (events, value) = judge(replica).map_err(AppendError::Refused)?;
        let mut notices = Vec::new();
        if events.is_empty() {
            return Ok(nothing(value, notices));
        }
        if let Some(torn) = replica.torn.take() {
            notices.push(self.quarantine(&file, torn)?);
        }
        let start = replica.offset;
        let stored = self.write_events(&file, replica, events)?;
        let end = replica.offset;
        {
            let mut commits = lock(&self.commits);
            // Lines only ever go after the ones before them, so a write that starts before
            // where this process has already written is in another file at the same path,
            // one that may even have the old one's inode number: nothing of it is synced.
            if commits.file != replica.file_id || start < commits.written {
                *commits = Commits {
                    file: replica.file_id,
                    written: 0,
                    synced: 0,
                };
            }
            commits.written = commits.written.max(end);
        }
        // The lines are in the file: other writers may append behind them while this one syncs.
        file.unlock().map_err(self.io("unlock"))?;
        Ok((
            Appended {
                stored,
                notices,
                value,
            },
            Commit {
                file: Some(file),
                id: replica.file_id,
                end,
                always: false,
            },
        ))
    }

    /// Make appended lines durable: one fsync at a time, covering every line this process had
    /// written when it started, so a writer that waited for it may find nothing left to do.
    pub fn sync(&self, commit: Commit) -> Result<(), StoreError> {
        let Some(file) = commit.file else {
            return Ok(());
        };
        let mut fsyncs = lock(&self.syncing);
        let target = {
            let commits = lock(&self.commits);
            if !commit.always && commits.file == commit.id && commits.synced >= commit.end {
                return Ok(());
            }
            if commits.file == commit.id {
                commits.written.max(commit.end)
            } else {
                commit.end
            }
        };
        self.disk
            .sync_data(&file, Target::Store)
            .map_err(|e| {
                // Written whole but not known to be on disk, and other writers may already
                // have appended behind: not undone, not acknowledged either.
                self.io("sync")(io::Error::new(
                    e.kind(),
                    format!("{e}; the command's events are in the file but may not be on disk, so check before repeating it"),
                ))
            })?;
        *fsyncs += 1;
        let mut commits = lock(&self.commits);
        if commits.file == commit.id {
            commits.synced = commits.synced.max(target);
        }
        Ok(())
    }

    /// How many fsyncs this store's appends have made (in this process).
    pub fn fsyncs(&self) -> u64 {
        *lock(&self.syncing)
    }

    /// What [`FileStore::sync`] needs to make lines up to `seq` (as the replica read them)
    /// durable: for answering a retried request with events that another thread (or process)
    /// wrote and may still be syncing. Retries are rare: this always syncs.
    pub fn commit_through(&self, replica: &Replica, seq: u64) -> Result<Commit, StoreError> {
        let end = replica
            .line_starts
            .get(seq as usize)
            .copied()
            .unwrap_or(replica.offset);
        Ok(Commit {
            file: Some(File::open(&self.path).map_err(self.io("open"))?),
            id: replica.file_id,
            end,
            always: true,
        })
    }

    fn write_events(
        &self,
        file: &File,
        replica: &mut Replica,
        events: Vec<Event>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut buf = Vec::with_capacity(events.len() * 768);
        let mut starts = Vec::with_capacity(events.len());
        let mut stored = Vec::with_capacity(events.len());
        let mut prev = replica.head_hash.clone();
        let mut seq = replica.head_seq();
        for event in events {
            seq += 1;
            starts.push(replica.offset + buf.len() as u64);
            let hash = line::encode(&mut buf, seq, &prev, &event);
            stored.push(StoredEvent {
                seq,
                prev: std::mem::replace(&mut prev, hash.clone()),
                hash,
                event,
            });
        }
        // One write for the whole batch; the caller syncs before anything is acknowledged. Under
        // the lock the file ends where the replica does (a torn tail was cut off), so a failed
        // write is undone by cutting back there: nothing of the command counts, in the file or
        // in memory (the replica only learns of the events below).
        if let Err(e) = disk::write_all(&*self.disk, file, Target::Store, &buf) {
            return Err(self.cut_back(file, replica.offset, e));
        }
        replica
            .written(&stored)
            .map_err(|(seq, e)| self.corrupt(seq, e))?;
        replica.line_starts.extend(starts);
        replica.offset += buf.len() as u64;
        debug_assert_eq!(replica.head_hash, prev);
        Ok(stored)
    }

    /// Write a long run of events into a new or empty store under one lock, syncing once at the
    /// end (the demo). Returns how many events were written. All or nothing: on any failure the
    /// store is cut back to empty.
    pub fn fill(&self, events: impl Iterator<Item = Event>) -> Result<u64, StoreError> {
        let file = self.open_exclusive()?;
        let bytes = file.metadata().map_err(self.io("read"))?.len();
        if bytes > 0 {
            return Err(StoreError::NotEmpty {
                path: self.path.clone(),
                bytes,
            });
        }
        const FLUSH_AT: usize = 8 << 20;
        let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
        let mut prev = GENESIS.to_string();
        let mut seq = 0;
        let write = |buf: &[u8]| disk::write_all(&*self.disk, &file, Target::Store, buf);
        for event in events {
            seq += 1;
            prev = line::encode(&mut buf, seq, &prev, &event);
            if buf.len() >= FLUSH_AT {
                write(&buf).map_err(|e| self.cut_back(&file, 0, e))?;
                buf.clear();
            }
        }
        write(&buf).map_err(|e| self.cut_back(&file, 0, e))?;
        // Still under the lock: no one else can have appended, so a failed sync is undone too.
        self.disk
            .sync_data(&file, Target::Store)
            .map_err(|e| self.cut_back(&file, 0, e))?;
        Ok(seq)
    }

    /// How many whole lines the store holds (0 when it does not exist yet).
    pub fn count_lines(&self) -> Result<u64, StoreError> {
        let Some(file) = self.open_shared()? else {
            return Ok(0);
        };
        let mut n = 0;
        for_each_line(&file, 0, |_, _| {
            n += 1;
            Ok(())
        })
        .map_err(|e| e.into_store(self))?;
        Ok(n)
    }

    /// Every whole line, in order, each checked in the chain (sequence, link, hash).
    pub fn lines(
        &self,
        mut f: impl FnMut(&str) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let file = self.open_shared()?.ok_or_else(|| StoreError::Missing {
            path: self.path.clone(),
        })?;
        let mut seq = 0;
        let mut prev = GENESIS.to_string();
        for_each_line(&file, 0, |_, bytes| {
            seq += 1;
            let link = line::check_link(bytes, seq, &prev).map_err(|e| self.corrupt(seq, e))?;
            prev = link.hash.to_string();
            let text = std::str::from_utf8(bytes).map_err(|_| self.corrupt(seq, "not UTF-8"))?;
            f(text)
        })
        .map_err(|e| e.into_store(self))?;
        Ok(())
    }

    /// Write whole lines (without their `\n`) into a new or empty store, under the lock,
    /// synced once, all or nothing (`cab store copy`). Refused when the store holds anything.
    pub fn fill_lines(&self, lines: &[String]) -> Result<u64, StoreError> {
        let file = self.open_exclusive()?;
        let bytes = file.metadata().map_err(self.io("read"))?.len();
        if bytes > 0 {
            return Err(StoreError::TargetNotEmpty {
                store: self.path.display().to_string(),
                events: self.count_lines()?,
            });
        }
        const FLUSH_AT: usize = 8 << 20;
        let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
        let write = |buf: &[u8]| disk::write_all(&*self.disk, &file, Target::Store, buf);
        for text in lines {
            buf.extend_from_slice(text.as_bytes());
            buf.push(b'\n');
            if buf.len() >= FLUSH_AT {
                write(&buf).map_err(|e| self.cut_back(&file, 0, e))?;
                buf.clear();
            }
        }
        write(&buf).map_err(|e| self.cut_back(&file, 0, e))?;
        self.disk
            .sync_data(&file, Target::Store)
            .map_err(|e| self.cut_back(&file, 0, e))?;
        Ok(lines.len() as u64)
    }

    /// Undo a failed append: cut the file back to `end` (where the batch started, the end of
    /// its last whole line) and sync, so that no line of it is ever read. Returns the error to
    /// report, which says so when the cut itself failed and part of the batch may remain.
    fn cut_back(&self, file: &File, end: u64, cause: io::Error) -> StoreError {
        let cut = || {
            self.disk
                .set_len(file, Target::Store, end)
                .and_then(|()| self.disk.sync_data(file, Target::Store))
        };
        // A cut needs no space; one retry covers a passing error such as EINTR.
        let source = match cut().or_else(|_| cut()) {
            Ok(()) => io::Error::new(
                cause.kind(),
                format!("{cause}; nothing of this command was recorded"),
            ),
            Err(undo) => io::Error::new(
                cause.kind(),
                format!(
                    "{cause}; what was written of this command could not be cut off ({undo}), so the store may hold part of it"
                ),
            ),
        };
        StoreError::Io {
            action: "append to",
            path: self.path.clone(),
            source,
        }
    }

    /// Read and verify everything appended after the replica's prefix. If the prefix itself is
    /// no longer what the replica read (the file was replaced or truncated), start over.
    fn catch_up(&self, file: &File, replica: &mut Replica) -> Result<(), StoreError> {
        self.catch_up_with(file, replica, true)
    }

    fn catch_up_with(
        &self,
        file: &File,
        replica: &mut Replica,
        checkpoints: bool,
    ) -> Result<(), StoreError> {
        let meta = file.metadata().map_err(self.io("read"))?;
        let id = file_id(&meta);
        if !replica.is_empty()
            && (replica.file_id != id
                || meta.len() < replica.offset
                || !self.prefix_intact(file, replica)?)
        {
            let seen = replica.head_seq();
            *replica = Replica::new();
            replica.warnings.push(format!(
                "WARNING: the store {} changed under this process: the {seen} line{} it had read are no longer all there as they were (replaced, cut or rewritten); reading it again from the start",
                self.path.display(),
                if seen == 1 { "" } else { "s" }
            ));
        }
        if checkpoints && replica.is_empty() {
            match self.restore() {
                Ok(restored) => *replica = restored,
                Err(Some(warning)) => replica.warnings.push(warning),
                Err(None) => {}
            }
        }
        replica.file_id = id;
        replica.torn = None;
        if meta.len() == replica.offset {
            // Nothing appended since: what a long-lived reader (the server) finds almost
            // every time. Reading would only allocate and zero a buffer to find nothing.
            if checkpoints {
                self.maybe_checkpoint(replica);
            }
            return Ok(());
        }
        let mut reader = file;
        reader
            .seek(SeekFrom::Start(replica.offset))
            .map_err(self.io("read"))?;
        let start = replica.offset;
        let tail = if meta.len() - start >= PIPELINE_FROM {
            self.read_pipelined(reader, start, replica)?
        } else {
            for_each_line(reader, start, |offset, bytes| {
                let seq = replica.head_seq() + 1;
                let event = line::decode(bytes, seq, &replica.head_hash)
                    .map_err(|e| self.corrupt(seq, e))?;
                self.accept(replica, offset, bytes.len(), event, false)
            })
            .map_err(|e| e.into_store(self))?
        };
        if tail > 0 {
            replica.torn = Some(TornTail {
                line: replica.head_seq() + 1,
                offset: replica.offset,
                len: tail,
            });
        }
        if checkpoints {
            self.maybe_checkpoint(replica);
        }
        Ok(())
    }

    /// Take one decoded line into the replica: re-judged and applied first, so that a line
    /// the rules refuse leaves the replica exactly as it was.
    fn accept(
        &self,
        replica: &mut Replica,
        offset: u64,
        len: usize,
        event: StoredEvent,
        judged: bool,
    ) -> Result<(), StoreError> {
        let seq = event.seq;
        replica
            .take(event, judged)
            .map_err(|e| self.corrupt(seq, e))?;
        replica.line_starts.push(offset);
        replica.offset = offset + len as u64 + 1;
        Ok(())
    }

    /// Read a long run of lines on every core: parser threads check each block's lines
    /// (hash, sequence, the links inside the block, JSON, the canonical form) and judge its
    /// submissions (which need no state); this one links each block to the one before,
    /// re-judges the other events and applies them all, in order. The first failure by line
    /// number is the one reported, with the words a plain read gives. Returns the length of a
    /// torn tail.
    fn read_pipelined(
        &self,
        reader: &File,
        start: u64,
        replica: &mut Replica,
    ) -> Result<u64, StoreError> {
        /// A block's events (each with whether it is judged already), the `prev` its first
        /// line is written with (to link it to the block before), and the failure that ended
        /// it early.
        struct Parsed {
            first_seq: u64,
            first_prev: Option<String>,
            events: Vec<(u64, usize, StoredEvent, bool)>,
            failed: Option<(u64, String)>,
        }
        let first = replica.head_seq() + 1;
        let parse = |block: Block<'_>| {
            let mut parsed = Parsed {
                first_seq: block.first_seq,
                first_prev: None,
                events: Vec::with_capacity(block.bytes.len() / 512),
                failed: None,
            };
            for (seq, offset, bytes) in block.lines() {
                let decoded = match parsed.events.last() {
                    Some((_, _, before, _)) => line::decode(bytes, seq, &before.hash),
                    None => line::decode_unlinked(bytes, seq).map_err(|(prev, e)| {
                        parsed.first_prev = prev;
                        e
                    }),
                };
                let event = match decoded {
                    Ok(event) => event,
                    Err(e) => {
                        parsed.failed = Some((seq, e.to_string()));
                        break;
                    }
                };
                if parsed.events.is_empty() {
                    parsed.first_prev = Some(event.prev.clone());
                }
                // A submission needs no state to be judged: judged here, on every core.
                let judged = match engine::rejudge_alone(&event.event) {
                    Some(Err(violation)) => {
                        parsed.failed = Some((seq, violation.to_string()));
                        break;
                    }
                    Some(Ok(())) => true,
                    None => false,
                };
                parsed.events.push((offset, bytes.len(), event, judged));
            }
            parsed
        };
        // Room for the most lines the rest of the file could hold, made once: growing the line
        // index as it fills would copy it and, for a moment, hold it twice. Room never filled
        // is address space, not memory: no page of it is touched.
        let to_read = reader
            .metadata()
            .map_or(0, |m| m.len().saturating_sub(start));
        replica.reserve_lines(usize::try_from(to_read / line::SHORTEST).unwrap_or(0));
        let take = |parsed: Parsed| {
            if parsed
                .first_prev
                .is_some_and(|prev| prev != replica.head_hash)
            {
                return Err(self.corrupt(parsed.first_seq, line::LineError::BrokenChain));
            }
            for (offset, len, event, judged) in parsed.events {
                self.accept(replica, offset, len, event, judged)?;
            }
            match parsed.failed {
                Some((seq, reason)) => Err(self.corrupt(seq, reason)),
                None => Ok(()),
            }
        };
        match blocks::pipelined(reader, start, first, parse, take) {
            Ok(read) => Ok(read.tail),
            Err(Stopped::Taken(e)) => Err(e),
            Err(Stopped::Read(e)) => Err(self.io("read")(e)),
        }
    }

    /// A replica from the store's checkpoint, if it has one that still holds: every line it
    /// saw is still there, byte for byte. `Err(Some(warning))` when the store's lines are no
    /// longer those the checkpoint saw; `Err(None)` when there is no usable checkpoint.
    fn restore(&self) -> Result<Replica, Option<String>> {
        let policy = self.checkpoints.as_ref().ok_or(None)?;
        let loaded = checkpoint::load(&policy.file_for(&self.path)).ok_or(None)?;
        let header = &loaded.header;
        let lines = header.line_starts.len() as u64;
        if header.store != self.absolute()
            || lines == 0
            || header.line_hashes.len() as u64 != lines * 32
        {
            return Err(None);
        }
        // Check the digest and decode the state while the store's prefix is compared with the
        // header: two cores, half the wait. Nothing the header says counts before the digest.
        let (state, history) = std::thread::scope(|s| {
            let chain = s.spawn(|| self.compare_history(header));
            let state = loaded.state();
            (state, chain.join().unwrap_or(History::Unreadable))
        });
        let Some(state) = state else {
            return Err(None);
        };
        match history {
            History::Same => {}
            History::Unreadable => return Err(None),
            History::Differs(line) => {
                return Err(Some(if line == 1 {
                    format!(
                        "WARNING: the store {} is not the one cab read at this path before: its first line differs (a new store in the old one's place, or its whole history rewritten); `cab verify` checks what it holds now",
                        self.path.display()
                    )
                } else {
                    format!(
                        "WARNING: the store {} no longer holds the history cab read from it before: line {line} is not the line {line} read then, although the hash chain may still check out (lines rewritten and re-hashed). Unless it was restored or replaced on purpose, compare it with a backup or another copy",
                        self.path.display()
                    )
                }));
            }
            History::Shorter(found) => {
                return Err(Some(format!(
                    "WARNING: the store {} holds {found} whole line{}, but cab read {lines} from it before: lines {} to {lines} were removed. Unless it was restored from an older copy on purpose, compare it with a backup",
                    self.path.display(),
                    if found == 1 { "" } else { "s" },
                    found + 1
                )));
            }
        }
        let state = state.filter(|s| s.head() == lines).ok_or(None)?;
        let header = loaded.header;
        let file_id = File::open(&self.path)
            .and_then(|f| f.metadata())
            .ok()
            .and_then(|m| file_id(&m));
        Ok(Replica {
            state,
            offset: header.offset,
            head_hash: header.head_hash,
            line_starts: header.line_starts,
            line_hashes: header.line_hashes,
            file_id,
            torn: None,
            warnings: Vec::new(),
            checkpoint_seq: lines,
            restored: lines,
            keys: header
                .keys
                .into_iter()
                .map(|(user, key, seqs, fingerprint)| ((user, key), (seqs, fingerprint)))
                .collect(),
        })
    }

    /// Are the store's first lines those a checkpoint saw? Hashing only, no parsing: every
    /// line's chain link is checked and its hash compared with the one the checkpoint recorded.
    fn compare_history(&self, header: &checkpoint::Header) -> History {
        let Ok(file) = File::open(&self.path) else {
            return History::Unreadable;
        };
        let lines = header.line_starts.len() as u64;
        let mut prev = GENESIS.to_string();
        let mut seq = 0u64;
        let mut end = 0u64;
        let mut differs = None;
        // Stops at the first line that differs, with an error that is not reported.
        let result = for_each_line(&file, 0, |offset, bytes| {
            if seq == lines {
                return Err(self.corrupt(seq, "past the checkpoint"));
            }
            seq += 1;
            let link = line::check_link(bytes, seq, &prev).map_err(|e| self.corrupt(seq, e))?;
            let at = (seq as usize - 1) * 32;
            if line::hash_bytes(link.hash)[..] != header.line_hashes[at..at + 32]
                || header.line_starts[seq as usize - 1] != offset
            {
                differs = Some(seq);
                return Err(self.corrupt(seq, "differs from the checkpoint"));
            }
            prev.clear();
            prev.push_str(link.hash);
            end = offset + bytes.len() as u64 + 1;
            Ok(())
        });
        if let Some(line) = differs {
            return History::Differs(line);
        }
        match result {
            // Every line it saw, and nothing else.
            Ok(_) if seq == lines && end == header.offset && prev == header.head_hash => {
                History::Same
            }
            // Every line it saw, and more after them.
            Err(_) if seq == lines && end == header.offset && prev == header.head_hash => {
                History::Same
            }
            Ok(_) if seq < lines => History::Shorter(seq),
            // A broken chain: the full replay reports it with its line number.
            _ => History::Unreadable,
        }
    }

    /// Write a new checkpoint when enough has been read since the last one. A cache: failures
    /// are ignored.
    fn maybe_checkpoint(&self, replica: &mut Replica) {
        let Some(policy) = &self.checkpoints else {
            return;
        };
        let head = replica.head_seq();
        if head < policy.every || head - replica.checkpoint_seq < policy.every {
            return;
        }
        replica.checkpoint_seq = head;
        let header = checkpoint::Header {
            store: self.absolute(),
            file_id: replica.file_id,
            offset: replica.offset,
            head_hash: replica.head_hash.clone(),
            // Copies (40 bytes a line) for the thread that writes it, while this one goes on.
            line_starts: replica.line_starts.clone(),
            line_hashes: replica.line_hashes.clone(),
            keys: replica
                .keys
                .iter()
                .map(|((user, key), (seqs, fingerprint))| {
                    (user.clone(), key.clone(), seqs.clone(), fingerprint.clone())
                })
                .collect(),
        };
        checkpoint::save_in_background(policy.file_for(&self.path), header, replica.state.clone());
    }

    /// Do the bytes just before the replica's offset still end with its head hash?
    fn prefix_intact(&self, mut file: &File, replica: &Replica) -> Result<bool, StoreError> {
        // A line ends with `<64 hex>"}\n`.
        let end = replica.offset;
        if end < 67 {
            return Ok(false);
        }
        let mut tail = [0u8; 64];
        file.seek(SeekFrom::Start(end - 67))
            .map_err(self.io("read"))?;
        file.read_exact(&mut tail).map_err(self.io("read"))?;
        Ok(tail == replica.head_hash.as_bytes())
    }

    /// Move a torn last line into a quarantine file beside the store, then cut it off.
    ///
    /// Quarantine files never pile up: a failed copy is removed again, a file that holds the
    /// start of these same bytes (an earlier copy cut short) is completed, and one that holds
    /// them all already is used as it is. Only other bytes at the same offset take a new name.
    fn quarantine(&self, file: &File, torn: TornTail) -> Result<String, StoreError> {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "store".into());
        let mut n = 0;
        let (qpath, copied) = loop {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!(".{n}")
            };
            let candidate = self
                .path
                .with_file_name(format!("{name}.torn-at-{}{suffix}", torn.offset));
            match self
                .quarantine_into(file, torn, &candidate)
                .map_err(self.io("quarantine the torn line of"))?
            {
                Some(copied) => break (candidate, copied),
                None if n < QUARANTINE_NAMES => n += 1,
                None => {
                    return Err(self.io("quarantine the torn line of")(io::Error::other(
                        format!(
                            "{} files named after offset {} already hold other bytes; move them elsewhere",
                            QUARANTINE_NAMES + 1,
                            torn.offset
                        ),
                    )));
                }
            }
        };
        if copied && let Some(dir) = qpath.parent() {
            self.disk
                .sync_dir(dir)
                .map_err(self.io("sync the folder of"))?;
        }
        self.disk
            .set_len(file, Target::Store, torn.offset)
            .and_then(|()| self.disk.sync_all(file, Target::Store))
            .map_err(self.io("cut the torn line off"))?;
        let kept = if copied {
            "moved it to"
        } else {
            "the same bytes were already kept in"
        };
        Ok(format!(
            "the store's last line (line {}, {} bytes) was incomplete, cut off by a crash or a failed write; {kept} {} and cut it off before writing",
            torn.line,
            torn.len,
            qpath.display()
        ))
    }

    /// Keep the torn bytes in `candidate`: `Some(true)` copied (whole, synced), `Some(false)`
    /// already there whole, `None` the name holds something else.
    fn quarantine_into(
        &self,
        store: &File,
        torn: TornTail,
        candidate: &Path,
    ) -> io::Result<Option<bool>> {
        let (q, created) = match OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(candidate)
        {
            Ok(q) => (q, true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                match open_regular_for_append(candidate)? {
                    Some(q) => (q, false),
                    None => return Ok(None),
                }
            }
            Err(e) => return Err(e),
        };
        let have = if created {
            0
        } else {
            match torn_prefix_in(store, torn, &q)? {
                Some(have) => have,
                None => return Ok(None),
            }
        };
        if have == torn.len {
            // Its copy may have been cut short before its sync: sync again, it costs nothing.
            self.disk.sync_all(&q, Target::Quarantine)?;
            return Ok(Some(false));
        }
        let copy = self
            .copy_torn(store, torn.offset + have, torn.len - have, &q)
            .and_then(|()| self.disk.sync_all(&q, Target::Quarantine));
        if let Err(e) = copy {
            // Leave nothing behind that the next attempt would have to step around.
            let _ = if created {
                fs::remove_file(candidate)
            } else {
                self.disk.set_len(&q, Target::Quarantine, have)
            };
            return Err(e);
        }
        Ok(Some(true))
    }

    /// Append `len` bytes of the store, from `from`, to `q`, a chunk at a time: a torn tail may
    /// be any size, memory stays bounded.
    fn copy_torn(&self, mut store: &File, from: u64, len: u64, q: &File) -> io::Result<()> {
        store.seek(SeekFrom::Start(from))?;
        let mut chunk = vec![0u8; COPY_CHUNK.min(len as usize)];
        let mut left = len;
        while left > 0 {
            let want = chunk.len().min(left as usize);
            store.read_exact(&mut chunk[..want])?;
            disk::write_all(&*self.disk, q, Target::Quarantine, &chunk[..want])?;
            left -= want as u64;
        }
        Ok(())
    }

    /// Check the whole store: format, sequence, hash chain, and that every event could follow
    /// the ones before it.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let file = self.open_shared()?.ok_or_else(|| StoreError::Missing {
            path: self.path.clone(),
        })?;
        let mut replica = Replica::new();
        // Verification replays everything: a checkpoint is never taken on trust here.
        self.catch_up_with(&file, &mut replica, false)?;
        Ok(VerifyReport {
            events: replica.head_seq(),
            head_hash: replica.head_hash.clone(),
            requests: replica.state.request_count(),
            exceptions: replica.state.exception_count(),
            bytes: replica.offset,
            torn: replica.torn,
        })
    }

    /// Pick one deployment's events out of the store without holding the rest in memory:
    /// every line's sequence, chain link and hash are checked, and only lines that mention the
    /// deployment are parsed.
    pub fn scan_deployment(&self, deployment: &str) -> Result<DeploymentScan, StoreError> {
        self.scan_deployment_at(deployment, None)
    }

    /// [`Self::scan_deployment`], also keeping the deployment's state as of `at` (`--at`).
    pub fn scan_deployment_at(
        &self,
        deployment: &str,
        at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<DeploymentScan, StoreError> {
        let as_of = at.map(|_| State::new());
        let Some(file) = self.open_shared()? else {
            return Ok(DeploymentScan {
                state: State::new(),
                as_of,
                head: 0,
                torn: None,
            });
        };
        self.scan_lines(&file, deployment, at)
    }

    /// Stored events by sequence number, read back from the lines the replica has verified.
    pub fn read_events(
        &self,
        replica: &Replica,
        seqs: impl IntoIterator<Item = u64>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        // Opened only when there is a line to read: an empty store need not exist yet.
        let mut file: Option<File> = None;
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for seq in seqs {
            let Some(&start) = replica.line_starts.get((seq as usize).wrapping_sub(1)) else {
                continue;
            };
            let file = match &mut file {
                Some(f) => f,
                None => file.insert(File::open(&self.path).map_err(self.io("open"))?),
            };
            let end = replica
                .line_starts
                .get(seq as usize)
                .copied()
                .unwrap_or(replica.offset);
            buf.resize((end - start) as usize, 0);
            file.seek(SeekFrom::Start(start)).map_err(self.io("read"))?;
            file.read_exact(&mut buf).map_err(self.io("read"))?;
            let bytes = buf.strip_suffix(b"\n").unwrap_or(&buf);
            out.push(line::decode_linked(bytes, seq).map_err(|e| self.corrupt(seq, e))?);
        }
        Ok(out)
    }

    /// Every stored event after `after`, up to the replica's head.
    pub fn events_after(
        &self,
        replica: &Replica,
        after: u64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        // Nothing to read: do not open the file, which need not exist yet (an empty store).
        if after >= replica.head_seq() {
            return Ok(Vec::new());
        }
        self.read_events(replica, after + 1..=replica.head_seq())
    }
}

/// What a store's first lines are, against what its checkpoint saw.
enum History {
    Same,
    /// This line (numbered from 1) is not the one the checkpoint saw.
    Differs(u64),
    /// Only this many whole lines are left of those it saw.
    Shorter(u64),
    /// Not comparable (no file, a broken chain): replay and let the replay say.
    Unreadable,
}

/// Append-side failures: the store's own, or the judge's refusal.
#[derive(Debug)]
pub enum AppendError<E> {
    Store(StoreError),
    Refused(E),
}

impl<E> From<StoreError> for AppendError<E> {
    fn from(e: StoreError) -> Self {
        AppendError::Store(e)
    }
}

/// What an append wrote and what the user should be told.
#[derive(Debug)]
pub struct Appended<T> {
    pub stored: Vec<StoredEvent>,
    pub notices: Vec<String>,
    pub value: T,
}

pub(super) enum ScanError {
    Io(io::Error),
    Store(StoreError),
}

impl From<StoreError> for ScanError {
    fn from(e: StoreError) -> Self {
        ScanError::Store(e)
    }
}

impl ScanError {
    pub(super) fn into_store(self, store: &FileStore) -> StoreError {
        match self {
            ScanError::Io(e) => store.io("read")(e),
            ScanError::Store(e) => e,
        }
    }
}

/// Call `f(offset, line)` for every complete line (without its `\n`) read from `reader`, whose
/// first byte is at `start`. Returns how many bytes follow the last complete line.
pub(super) fn for_each_line(
    mut reader: impl Read,
    start: u64,
    mut f: impl FnMut(u64, &[u8]) -> Result<(), StoreError>,
) -> Result<u64, ScanError> {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut filled = 0;
    let mut base = start; // file offset of buf[0]
    loop {
        if filled == buf.len() {
            // One line longer than the buffer: grow rather than fail.
            buf.resize(buf.len() * 2, 0);
        }
        let n = match reader.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ScanError::Io(e)),
        };
        if n == 0 {
            return Ok(filled as u64);
        }
        let scan_from = filled;
        filled += n;
        let mut line_start = 0;
        for nl in memchr::memchr_iter(b'\n', &buf[scan_from..filled]) {
            let nl = scan_from + nl;
            f(base + line_start as u64, &buf[line_start..nl])?;
            line_start = nl + 1;
        }
        buf.copy_within(line_start..filled, 0);
        filled -= line_start;
        base += line_start as u64;
    }
}

/// An existing quarantine file, opened without following a link or blocking on a FIFO; `None`
/// when the name is taken by anything but a regular file.
fn open_regular_for_append(path: &Path) -> io::Result<Option<File>> {
    if !fs::symlink_metadata(path)?.is_file() {
        return Ok(None);
    }
    let mut options = OpenOptions::new();
    options.read(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let q = match options.open(path) {
        Ok(q) => q,
        // Replaced by a link or something else since it was looked at.
        Err(e) if e.kind() != io::ErrorKind::PermissionDenied => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(q.metadata()?.is_file().then_some(q))
}

/// How many bytes `q` holds if they are the start of the torn tail (all of it included);
/// `None` if they are anything else. Compared a chunk at a time, reading no more of `q` than
/// its size said.
fn torn_prefix_in(mut store: &File, torn: TornTail, mut q: &File) -> io::Result<Option<u64>> {
    let have = q.metadata()?.len();
    if have > torn.len {
        return Ok(None);
    }
    store.seek(SeekFrom::Start(torn.offset))?;
    let mut ours = vec![0u8; COPY_CHUNK.min(have as usize)];
    let mut theirs = vec![0u8; ours.len()];
    let mut left = have;
    while left > 0 {
        let want = ours.len().min(left as usize);
        store.read_exact(&mut ours[..want])?;
        match q.read_exact(&mut theirs[..want]) {
            Ok(()) => {}
            // Shorter than it said: not a copy to trust.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        if ours[..want] != theirs[..want] {
            return Ok(None);
        }
        left -= want as u64;
    }
    Ok(Some(have))
}

#[cfg(unix)]
fn file_id(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(_meta: &fs::Metadata) -> Option<(u64, u64)> {
    None
}
