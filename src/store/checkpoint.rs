//! A cache of the replayed state, so that a large store opens in a fraction of the time its
//! full replay takes: the state, the line offsets and the head (sequence number and hash) at
//! some point, in a compact binary file in the user's cache folder
//! (`$XDG_CACHE_HOME/cab/checkpoints/`), named after the store's path.
//!
//! A checkpoint is only a shortcut, never a source of truth. It is used only when the store is
//! the same file (device and inode), at least as long, and still has the checkpoint's head hash
//! at the checkpoint's offset, and when every line before that offset still passes the hash
//! chain check (sequence, previous hash, own hash). Because each line's hash covers the one
//! before, that check proves the prefix is byte for byte what was replayed into the checkpoint.
//! Anything else (no file, another version, a mismatch, a broken chain) means a full replay,
//! which then reports any damage with its line number exactly as before. It lives in the user's
//! own cache, trusted as much as their other files; `cab verify` never uses it.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::State;

/// Written first in every checkpoint file; another value means another format.
const MAGIC: &[u8; 8] = b"cabckp03";

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
    /// Idempotency keys seen: user, key, the events written, the request's fingerprint.
    pub keys: Vec<(String, String, Vec<u64>, String)>,
}

/// A checkpoint file read into memory: its header, and its state still to be decoded.
pub struct Loaded {
    pub header: Header,
    body: Vec<u8>,
    state_at: usize,
}

impl Loaded {
    pub fn state(&self) -> Option<State> {
        postcard::from_bytes(&self.body[self.state_at..]).ok()
    }
}

/// Read a checkpoint's header; `None` when there is none or it cannot be read (then: a full
/// replay).
pub fn load(file: &Path) -> Option<Loaded> {
    let mut bytes = Vec::new();
    File::open(file).ok()?.read_to_end(&mut bytes).ok()?;
    let rest = bytes.strip_prefix(MAGIC)?;
    let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
    let header: Header = postcard::from_bytes(rest.get(8..8 + len)?).ok()?;
    let state_at = MAGIC.len() + 8 + len;
    Some(Loaded {
        header,
        body: bytes,
        state_at,
    })
}

/// Write a checkpoint: to a temporary file beside it, then renamed over it, so a reader never
/// sees half of one. Failures are the caller's to ignore: it is a cache.
pub fn save(file: &Path, header: &Header, state: &State) -> io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let head = postcard::to_stdvec(header).map_err(io::Error::other)?;
    let body = postcard::to_stdvec(state).map_err(io::Error::other)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(MAGIC)?;
    tmp.write_all(&(head.len() as u64).to_le_bytes())?;
    tmp.write_all(&head)?;
    tmp.write_all(&body)?;
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}
