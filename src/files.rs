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

/// Replace `path` whole with `bytes`: written to a temporary file in the same folder, synced,
/// then renamed over it, so a reader (or a crash) sees the old file or the new one, never half.
/// The new file gets the usual permissions (0666 less the umask), not a temporary file's 0600.
pub fn replace_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".cab-tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut file = builder.tempfile_in(folder)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// [`replace_atomically`], and the folder synced after the rename, so the new file survives a
/// power cut too: for state that must not go back once acknowledged (webhook progress).
pub fn replace_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_atomically(path, bytes)?;
    #[cfg(unix)]
    {
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(folder)?.sync_all()?;
    }
    Ok(())
}
