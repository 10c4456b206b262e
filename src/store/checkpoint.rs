//! A cache of the replayed state, so that a large store opens in a fraction of the time its
//! full replay takes: the state, the line offsets and hashes and the head at some point, in a
//! compact binary file in the user's cache folder (`$XDG_CACHE_HOME/cab/checkpoints/`), named
//! after the store's path.
//!
//! A checkpoint is only a shortcut, never a source of truth. Its last 16 bytes are an XXH3-128
//! checksum of everything before them, written last (a checksum against damage, fast enough
//! not to slow the start; against forgery no digest helps, see docs/store-format.md): a
//! checkpoint damaged anywhere (a flipped byte, a cut, another file) is no checkpoint. It is
//! used only when every line it saw is still in the store, byte for byte (each line's hash,
//! re-computed, equals the one it recorded), so the state it holds is what a replay of that
//! prefix gives. Anything else means a full replay,
//! which reports any damage with its line number exactly as before; and when the store's lines
//! no longer are those the checkpoint saw, the first differing line is named in a warning, since
//! a consistent rewrite of history (every hash recomputed) is otherwise invisible to one
//! process. `cab verify` never uses a checkpoint. docs/store-format.md says what someone who can
//! write the cache folder, and forges a checkpoint checksum and all, could and could not do.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::engine::State;

/// Written first in every checkpoint file; another value means another format. It names the
/// binary layout of `State` too: a server's snapshot (`backend/snapshot.rs`) carries it, so a
/// client built with another layout falls back to reading events instead of misreading bytes.
pub const MAGIC: &[u8; 8] = b"cabckp07";
/// The XXH3-128 checksum at the end of the file (little-endian).
const DIGEST_LEN: usize = 16;
/// No checkpoint is read beyond this size (a cache folder entry linked to an endless device).
const MAX_BYTES: u64 = 16 << 30;

/// When and where checkpoints are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointPolicy {
    pub dir: PathBuf,
    /// Write a new checkpoint once this many events were read beyond the last one.
    pub every: u64,
}

impl CheckpointPolicy {
    /// The platform cache folder, a checkpoint every 10,000 events; none when `CAB_CHECKPOINTS`
    /// is `off` or there is no cache folder.
    pub fn from_env() -> Option<Self> {
        if std::env::var("CAB_CHECKPOINTS").is_ok_and(|v| v == "off" || v == "0") {
            return None;
        }
        directories::ProjectDirs::from("", "", "cab").map(|d| CheckpointPolicy {
            dir: d.cache_dir().join("checkpoints"),
            every: 10_000,
        })
    }

    /// The checkpoint file of one store: named after a hash of the store's absolute path.
    pub fn file_for(&self, store: &Path) -> PathBuf {
        let absolute = std::path::absolute(store).unwrap_or_else(|_| store.to_path_buf());
        let hash = super::line::sha256_hex(absolute.to_string_lossy().as_bytes());
        self.dir.join(format!("{}.ckpt", &hash[..32]))
    }
}

/// Where a checkpoint stands in its store; read before the (much larger) state, so the chain
/// check of the store can start while the state is still being read.
#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    /// The store's path, to tell two stores apart should their names' hashes ever collide.
    pub store: String,
    pub file_id: Option<(u64, u64)>,
    /// End of the last line replayed.
    pub offset: u64,
    pub head_hash: String,
    /// Start offset of every line replayed.
    pub line_starts: Vec<u64>,
    /// The hash of every line replayed, 32 bytes each, one after the other: what tells a
    /// rewritten line from the one the checkpoint saw. Raw bytes, read back in one copy.
    #[serde(with = "serde_bytes")]
    pub line_hashes: Vec<u8>,
    /// Idempotency keys seen: user, key, the events written, the request's fingerprint.
    pub keys: Vec<(String, String, Vec<u64>, String)>,
}

/// A checkpoint file opened: its header read, its state still to be decoded from the file.
pub struct Loaded {
    /// Not to be believed before [`Loaded::state`] says the checkpoint is intact.
    pub header: Header,
    file: File,
    /// The digest of everything before the state.
    head_digest: Xxh3,
    state_at: u64,
    /// Where the digest at the end begins.
    content_len: u64,
}

impl Loaded {
    /// The state, decoded as it is read from the file (never the whole encoding in memory
    /// beside it), with its digest checked over everything before it: `None` when the
    /// checkpoint is damaged, `Some(None)` when it is intact but cannot be decoded. Apart from
    /// [`load`], so that it can run while the store is being compared with the header.
    pub fn state(&self) -> Option<Option<State>> {
        let body = self.content_len - self.state_at;
        // Decoding keeps every id's 16 bytes in its scratch (a bit over a tenth of a state's
        // encoding); should a quarter not be enough, once more with room for all of it.
        let small = (body / 4).saturating_add(1 << 20).min(body);
        let mut tries = vec![small];
        if small < body {
            tries.push(body);
        }
        let mut result = None;
        for scratch in tries {
            let (intact, state) = self.decode(scratch as usize).ok()?;
            if !intact {
                return None;
            }
            result = Some(state);
            if result.as_ref().is_some_and(Option::is_some) {
                break;
            }
        }
        result
    }

    /// One pass over the state: (is the digest right, the state if it decoded).
    fn decode(&self, scratch: usize) -> io::Result<(bool, Option<State>)> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(self.state_at))?;
        // Digested below the buffer: in large reads, not in the decoder's byte-sized ones.
        let mut reader = io::BufReader::with_capacity(
            1 << 16,
            Digesting {
                digest: self.head_digest.clone(),
                out: file.take(self.content_len - self.state_at),
            },
        );
        let mut buffer = vec![0u8; scratch];
        let state = postcard::from_io::<State, _>((&mut reader, &mut buffer[..]))
            .ok()
            .map(|(state, _)| state);
        drop(buffer);
        // What decoding left unread counts for the digest too.
        io::copy(&mut reader, &mut io::sink())?;
        let digested = reader.into_inner().digest.digest128().to_le_bytes();
        let mut digest = [0u8; DIGEST_LEN];
        file.seek(SeekFrom::Start(self.content_len))?;
        file.read_exact(&mut digest)?;
        let intact = digested == digest;
        Ok((intact, state.filter(|_| intact)))
    }
}

/// Read a checkpoint's header: `None` when there is none, it is not a regular file, or it
/// cannot be parsed; then the store is replayed in full. Its checksum is checked by
/// [`Loaded::state`]. Never blocks on a FIFO and never reads more than the file's own size.
pub fn load(file: &Path) -> Option<Loaded> {
    finish_writes();
    let (mut handle, meta) = crate::files::open_regular(file).ok()?;
    if meta.len() > MAX_BYTES {
        return None;
    }
    let content_len = meta.len().checked_sub(DIGEST_LEN as u64)?;
    let mut start = [0u8; MAGIC.len() + 8];
    if content_len < start.len() as u64 {
        return None;
    }
    handle.read_exact(&mut start).ok()?;
    let rest = start.strip_prefix(MAGIC)?;
    let len = u64::from_le_bytes(rest.try_into().ok()?);
    let state_at = (start.len() as u64).checked_add(len)?;
    if state_at > content_len {
        return None;
    }
    let mut head = vec![0u8; len as usize];
    handle.read_exact(&mut head).ok()?;
    let header: Header = postcard::from_bytes(&head).ok()?;
    let mut head_digest = Xxh3::new();
    head_digest.update(&start);
    head_digest.update(&head);
    Some(Loaded {
        header,
        file: handle,
        head_digest,
        state_at,
        content_len,
    })
}

/// Checkpoints being written by this process, on threads of their own.
static WRITING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

fn writing() -> MutexGuard<'static, Vec<JoinHandle<()>>> {
    WRITING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// [`save`] on a thread of its own, so that whoever read the store (a console's first
/// screen, a command's answer, a server's request) does not wait for it. One at a time: a
/// write still going on is finished first. [`load`] and [`finish_writes`] wait for them.
pub fn save_in_background(file: PathBuf, header: Header, state: State) {
    finish_writes();
    let spawned = std::thread::Builder::new()
        .name("cab-checkpoint".into())
        .spawn(move || {
            // A cache: a failure to write it only means the next start replays more.
            let _ = save(&file, &header, &state);
        });
    if let Ok(handle) = spawned {
        writing().push(handle);
    }
}

/// Wait for the checkpoints this process is writing: before it exits (`cli::run`), and before
/// one is read back.
pub fn finish_writes() {
    // Joined while the list is held: a second caller (another thread) returns only once the
    // writes it waits for are done, not when the first caller has merely taken them.
    let mut pending = writing();
    for handle in pending.drain(..) {
        let _ = handle.join();
    }
}

/// Write a checkpoint: to a temporary file beside it, then renamed over it, so a reader never
/// sees half of one; its digest goes last. The state is encoded straight into the file, never
/// whole in memory beside itself. Failures are the caller's to ignore: it is a cache.
pub fn save(file: &Path, header: &Header, state: &State) -> io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let head = postcard::to_stdvec(header).map_err(io::Error::other)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut out = Digesting {
        digest: Xxh3::new(),
        out: io::BufWriter::with_capacity(1 << 20, tmp),
    };
    let len = (head.len() as u64).to_le_bytes();
    for part in [MAGIC.as_slice(), &len, &head] {
        out.write_all(part)?;
    }
    let Digesting { digest, mut out } = postcard::to_io(state, out).map_err(io::Error::other)?;
    out.write_all(&digest.digest128().to_le_bytes())?;
    let tmp = out.into_inner().map_err(|e| e.into_error())?;
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

/// A writer or reader that digests what it passes on.
struct Digesting<W> {
    digest: Xxh3,
    out: W,
}

impl<R: Read> Read for Digesting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.out.read(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }
}

impl<W: Write> Write for Digesting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::engine::Policy;
    use crate::store::{FileStore, Replica};

    fn demo_state(dir: &Path) -> State {
        let store = FileStore::new(dir.join("store.jsonl")).with_checkpoints(None);
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let store = crate::store::Store::from(store);
        crate::demo::fill(&store, 300, 7, now, &Policy::default()).unwrap();
        let mut replica = Replica::new();
        store.refresh(&mut replica).unwrap();
        replica.state
    }

    fn header() -> Header {
        Header {
            store: "/somewhere/store.jsonl".into(),
            file_id: Some((1, 2)),
            offset: 10,
            head_hash: "ab".repeat(32),
            line_starts: vec![0, 5],
            line_hashes: vec![7; 64],
            keys: Vec::new(),
        }
    }

    #[test]
    fn a_state_is_read_back_from_the_file_with_little_scratch_or_with_room_for_all() {
        let dir = tempfile::tempdir().unwrap();
        let state = demo_state(dir.path());
        let file = dir.path().join("c.ckpt");
        save(&file, &header(), &state).unwrap();
        let loaded = load(&file).unwrap();
        assert_eq!(loaded.header.line_hashes, vec![7; 64]);
        assert_eq!(loaded.state(), Some(Some(state.clone())));
        // Too little room to decode: still known to be intact, then decoded with room for all.
        assert!(matches!(loaded.decode(64), Ok((true, None))));
        let body = loaded.content_len - loaded.state_at;
        assert!(matches!(loaded.decode(body as usize), Ok((true, Some(s))) if s == state));
        // The same bytes as encoding the state in memory.
        let bytes = fs::read(&file).unwrap();
        let encoded = postcard::to_stdvec(&state).unwrap();
        assert_eq!(
            &bytes[loaded.state_at as usize..loaded.content_len as usize],
            &encoded[..]
        );
    }

    #[test]
    fn a_checkpoint_damaged_anywhere_gives_no_state() {
        let dir = tempfile::tempdir().unwrap();
        let state = demo_state(dir.path());
        let file = dir.path().join("c.ckpt");
        save(&file, &header(), &state).unwrap();
        let good = fs::read(&file).unwrap();
        let len = good.len();
        for at in [MAGIC.len() + 9, len / 2, len - DIGEST_LEN - 1, len - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x20;
            fs::write(&file, &bad).unwrap();
            // A damaged header may not even parse; a parsed one never yields a state.
            if let Some(loaded) = load(&file) {
                assert_eq!(loaded.state(), None, "byte {at} flipped");
            }
        }
        fs::write(&file, &good[..len - 3]).unwrap();
        assert!(load(&file).is_none_or(|l| l.state().is_none()));
    }
}
