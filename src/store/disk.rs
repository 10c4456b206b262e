//! The one seam between the store's writes and the operating system: every byte written to a
//! store, to a quarantine file or into the store's folder, every sync and every cut goes
//! through [`Disk`]. Production uses [`Os`], which only makes the system calls; the store's
//! fault tests swap in a disk that fails the way a full disk, a file-size limit or a dying
//! device does, so that each write path is proven to fail cleanly.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Which file an operation is for, so that a test can fail one and not the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Store,
    Quarantine,
}

pub(crate) trait Disk: fmt::Debug + Send + Sync {
    /// One `write(2)` at the file's end: how many bytes went in (maybe fewer than asked).
    fn write(&self, file: &File, target: Target, buf: &[u8]) -> io::Result<usize>;
    fn sync_data(&self, file: &File, target: Target) -> io::Result<()>;
    fn sync_all(&self, file: &File, target: Target) -> io::Result<()>;
    /// Cut the file to `len` bytes.
    fn set_len(&self, file: &File, target: Target, len: u64) -> io::Result<()>;
    /// Make a folder's entries (a new file, a removed one) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The real disk.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Os;

impl Disk for Os {
    fn write(&self, mut file: &File, _: Target, buf: &[u8]) -> io::Result<usize> {
        file.write(buf)
    }

    fn sync_data(&self, file: &File, _: Target) -> io::Result<()> {
        file.sync_data()
    }

    fn sync_all(&self, file: &File, _: Target) -> io::Result<()> {
        file.sync_all()
    }

    fn set_len(&self, file: &File, _: Target, len: u64) -> io::Result<()> {
        file.set_len(len)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        #[cfg(unix)]
        {
            File::open(dir)?.sync_all()
        }
        #[cfg(not(unix))]
        {
            let _ = dir;
            Ok(())
        }
    }
}

/// All of `buf`, in as many writes as it takes; the first error ends it (some bytes may be in).
pub(crate) fn write_all(
    disk: &dyn Disk,
    file: &File,
    target: Target,
    mut buf: &[u8],
) -> io::Result<()> {
    while !buf.is_empty() {
        match disk.write(file, target, buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n.min(buf.len())..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
