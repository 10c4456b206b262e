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

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{Xxh3, xxh3_128};

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

/// A checkpoint file read into memory: its header, and its state still to be decoded.
pub struct Loaded {
    /// Not to be believed before [`Loaded::intact`] says so.
    pub header: Header,
    body: Vec<u8>,
    state_at: usize,
    digest: [u8; DIGEST_LEN],
}

impl Loaded {
    /// Does the digest at the end match everything before it? Checked apart from [`load`], so
    /// that it can run while the store is being compared with the header.
    pub fn intact(&self) -> bool {
        xxh3_128(&self.body).to_le_bytes() == self.digest
    }

    pub fn state(&self) -> Option<State> {
        postcard::from_bytes(&self.body[self.state_at..]).ok()
    }
}

/// Read a checkpoint: `None` when there is none, it is not a regular file, or it cannot be
/// parsed; then the store is replayed in full. Its checksum is checked by [`Loaded::intact`].
/// Never blocks on a FIFO and never reads more than the file's own size.
pub fn load(file: &Path) -> Option<Loaded> {
    let (handle, meta) = crate::files::open_regular(file).ok()?;
    if meta.len() > MAX_BYTES {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    handle.take(meta.len()).read_to_end(&mut bytes).ok()?;
    let content_len = bytes.len().checked_sub(DIGEST_LEN)?;
    let digest: [u8; DIGEST_LEN] = bytes[content_len..].try_into().ok()?;
    bytes.truncate(content_len);
    let rest = bytes.strip_prefix(MAGIC)?;
    let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
    let header: Header = postcard::from_bytes(rest.get(8..8usize.checked_add(len)?)?).ok()?;
    let state_at = MAGIC.len() + 8 + len;
    Some(Loaded {
        header,
        body: bytes,
        state_at,
        digest,
    })
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

/// A writer that digests what it passes on.
struct Digesting<W> {
    digest: Xxh3,
    out: W,
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
