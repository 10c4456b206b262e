//! How far each webhook has got, kept durably so that a restart sends nothing already
//! acknowledged, and a crash at most the one message in flight (SPEC section 7).
//!
//! For a store file, progress lives beside it in `<store>.webhooks.json`, rewritten whole
//! (temporary file, fsync, rename, folder fsync) after every acknowledged delivery; one
//! process at a time delivers, holding the exclusive lock `<store>.webhooks.lock`. For a
//! database, progress is a row per webhook in `cab_webhook_progress`, and the lock an advisory
//! lock on a connection of the deliverer's own, so that of several instances one delivers and
//! another takes over when it dies. Progress is kept by webhook name, so a changed URL or
//! secret carries on where the webhook was.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::store::{PgStore, WebhookLock};

/// What one webhook has been sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookProgress {
    /// Every stored event up to this one has been delivered (or skipped by the filter).
    pub last_delivered_seq: u64,
    /// That event's hash: the next event must link to it, or the store is not the one the
    /// webhook was following.
    pub last_delivered_hash: Option<String>,
    /// When the receiver last acknowledged a message (the real clock), RFC 3339.
    pub last_delivered_at: Option<String>,
    /// Approved exceptions whose expiry notice was acknowledged, while they have not expired.
    #[serde(default)]
    pub expiring_notified: BTreeSet<Uuid>,
    /// Failed attempts since the last acknowledged delivery.
    #[serde(default)]
    pub failures: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgressDoc {
    version: u32,
    webhooks: BTreeMap<String, WebhookProgress>,
}

const VERSION: u32 = 1;

#[derive(Debug, Error)]
pub enum ProgressError {
    #[error(
        "another process delivers this store's webhooks (it holds {lock}): cab serve or cab notify --follow delivers what is due"
    )]
    Busy { lock: String },
    #[error("cannot keep webhook progress in {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot keep webhook progress in the database: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error(
        "the webhook progress file {} is damaged ({message}); it is what keeps webhooks from sending an event twice: repair it, or remove it to send every event again",
        path.display()
    )]
    Damaged { path: PathBuf, message: String },
}

/// Where delivery progress is kept: a file beside the store today, the database later.
pub trait ProgressStore: Send + Sync {
    /// One webhook's progress (the default for one never delivered).
    fn get(&self, webhook: &str) -> WebhookProgress;
    /// Record one webhook's progress; returns once it is on disk.
    fn put(&self, webhook: &str, progress: &WebhookProgress) -> Result<(), ProgressError>;
}

/// `<store>.webhooks.json`.
pub fn file_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".webhooks.json");
    PathBuf::from(name)
}

fn lock_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".webhooks.lock");
    PathBuf::from(name)
}

/// Every webhook's progress as last written, read without the lock (the file is replaced
/// whole, so it is never seen half-written). No file yet: nothing delivered.
pub fn read(store: &Path) -> Result<BTreeMap<String, WebhookProgress>, ProgressError> {
    Ok(read_doc(&file_path(store))?.webhooks)
}

fn read_doc(path: &Path) -> Result<ProgressDoc, ProgressError> {
    let text = match crate::files::read_text(path, 64 << 20) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(ProgressDoc {
                version: VERSION,
                webhooks: BTreeMap::new(),
            });
        }
        Err(source) => {
            return Err(ProgressError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let doc: ProgressDoc = serde_json::from_str(&text).map_err(|e| ProgressError::Damaged {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if doc.version != VERSION {
        return Err(ProgressError::Damaged {
            path: path.to_path_buf(),
            message: format!("version {} where cab writes {VERSION}", doc.version),
        });
    }
    Ok(doc)
}

/// The progress of one store file's webhooks, held with its exclusive lock.
pub struct FileProgress {
    path: PathBuf,
    doc: Mutex<ProgressDoc>,
    /// Held for as long as this process delivers; the lock goes with the file.
    _lock: File,
}

impl FileProgress {
    /// Take the lock (or say who holds it) and read the progress so far.
    pub fn acquire(store: &Path) -> Result<FileProgress, ProgressError> {
        let lock = lock_path(store);
        let io_error = |source| ProgressError::Io {
            path: lock.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(ProgressError::Busy {
                    lock: lock.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(e)),
        }
        let path = file_path(store);
        let doc = read_doc(&path)?;
        Ok(FileProgress {
            path,
            doc: Mutex::new(doc),
            _lock: file,
        })
    }
}

impl ProgressStore for FileProgress {
    fn get(&self, webhook: &str) -> WebhookProgress {
        let doc = self.doc.lock().unwrap_or_else(|p| p.into_inner());
        doc.webhooks.get(webhook).cloned().unwrap_or_default()
    }

    fn put(&self, webhook: &str, progress: &WebhookProgress) -> Result<(), ProgressError> {
        let mut doc = self.doc.lock().unwrap_or_else(|p| p.into_inner());
        let before = doc.webhooks.insert(webhook.to_string(), progress.clone());
        let bytes = match serde_json::to_vec_pretty(&*doc) {
            Ok(bytes) => bytes,
            Err(e) => {
                restore(&mut doc, webhook, before);
                return Err(ProgressError::Damaged {
                    path: self.path.clone(),
                    message: e.to_string(),
                });
            }
        };
        if let Err(source) = crate::files::replace_durably(&self.path, &bytes) {
            // Not on disk, so not recorded: the next attempt writes it again.
            restore(&mut doc, webhook, before);
            return Err(ProgressError::Io {
                path: self.path.clone(),
                source,
            });
        }
        Ok(())
    }
}

fn restore(doc: &mut ProgressDoc, webhook: &str, before: Option<WebhookProgress>) {
    match before {
        Some(p) => doc.webhooks.insert(webhook.to_string(), p),
        None => doc.webhooks.remove(webhook),
    };
}

/// Where a store keeps its webhooks' progress, whichever kind of store it is.
pub fn acquire(store: &crate::store::Store) -> Result<Box<dyn ProgressStore>, ProgressError> {
    match store {
        crate::store::Store::File(file) => Ok(Box::new(FileProgress::acquire(file.path())?)),
        crate::store::Store::Postgres(db) => Ok(Box::new(DbProgress::acquire(Arc::clone(db))?)),
    }
}

/// Every webhook's progress as last recorded, read without the lock.
pub fn read_any(
    store: &crate::store::Store,
) -> Result<BTreeMap<String, WebhookProgress>, ProgressError> {
    match store {
        crate::store::Store::File(file) => read(file.path()),
        crate::store::Store::Postgres(db) => read_db(db),
    }
}

/// The lock a database's deliverer holds, as a person would look for it.
const DB_LOCK: &str = "the database's webhook lock";

fn read_db(db: &PgStore) -> Result<BTreeMap<String, WebhookProgress>, ProgressError> {
    db.webhook_progress()?
        .into_iter()
        .map(|(name, json)| {
            let progress = serde_json::from_str(&json).map_err(|e| ProgressError::Damaged {
                path: PathBuf::from(format!("cab_webhook_progress row {name:?}")),
                message: e.to_string(),
            })?;
            Ok((name, progress))
        })
        .collect()
}

/// The progress of one database's webhooks, held with its advisory lock.
pub struct DbProgress {
    db: Arc<PgStore>,
    lock: WebhookLock,
    cache: Mutex<BTreeMap<String, WebhookProgress>>,
}

impl DbProgress {
    pub fn acquire(db: Arc<PgStore>) -> Result<DbProgress, ProgressError> {
        let lock = db.lock_webhooks()?.ok_or_else(|| ProgressError::Busy {
            lock: DB_LOCK.to_string(),
        })?;
        // Read once the lock is held: nobody else writes it from now on.
        let cache = Mutex::new(read_db(&db)?);
        Ok(DbProgress { db, lock, cache })
    }
}

impl ProgressStore for DbProgress {
    fn get(&self, webhook: &str) -> WebhookProgress {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(webhook).cloned().unwrap_or_default()
    }

    fn put(&self, webhook: &str, progress: &WebhookProgress) -> Result<(), ProgressError> {
        let json = serde_json::to_string(progress).map_err(|e| ProgressError::Damaged {
            path: PathBuf::from(format!("cab_webhook_progress row {webhook:?}")),
            message: e.to_string(),
        })?;
        if !self.db.save_webhook_progress(&self.lock, webhook, &json)? {
            return Err(ProgressError::Busy {
                lock: DB_LOCK.to_string(),
            });
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(webhook.to_string(), progress.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_survives_a_new_process_and_the_lock_admits_one_deliverer() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store.jsonl");
        let first = FileProgress::acquire(&store).unwrap();
        let progress = WebhookProgress {
            last_delivered_seq: 7,
            last_delivered_hash: Some("ab".repeat(32)),
            ..WebhookProgress::default()
        };
        first.put("team", &progress).unwrap();
        assert!(matches!(
            FileProgress::acquire(&store),
            Err(ProgressError::Busy { .. })
        ));
        assert_eq!(read(&store).unwrap()["team"], progress);
        drop(first);
        let again = FileProgress::acquire(&store).unwrap();
        assert_eq!(again.get("team"), progress);
        assert_eq!(again.get("other"), WebhookProgress::default());
    }

    #[test]
    fn a_damaged_progress_file_is_refused_not_reset() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store.jsonl");
        std::fs::write(file_path(&store), b"{\"version\":1,\"webhooks\":{").unwrap();
        let err = FileProgress::acquire(&store).err().unwrap();
        assert!(err.to_string().contains("is damaged"), "{err}");
        assert!(matches!(read(&store), Err(ProgressError::Damaged { .. })));
    }
}
