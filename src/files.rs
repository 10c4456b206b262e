//! Opening files that someone else may have put in place: a FIFO must not block the opening
//! and a device must not be read without end, so only regular files are opened for reading.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::path::Path;

/// Open `path` for reading without blocking, and only if it is a regular file (links followed).
/// A FIFO, folder or device is an error of kind `InvalidInput`.
pub fn open_regular(path: &Path) -> io::Result<(File, Metadata)> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file (a folder, a FIFO or a device)",
        ));
    }
    Ok((file, meta))
}

/// The whole text of a regular file of at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> io::Result<String> {
    use std::io::Read;
    let (file, meta) = open_regular(path)?;
    if meta.len() > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is larger than {} KiB", limit / 1024),
        ));
    }
    let mut text = String::new();
    file.take(limit).read_to_string(&mut text)?;
    Ok(text)
}
