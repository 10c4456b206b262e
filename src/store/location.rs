//! Where a store is, and the one type the backend holds whichever it is: a JSON-lines file or
//! a PostgreSQL database. Both keep the same canonical lines and hash chain (docs/store-format.md);
//! [`Store`] passes each call to the one it has, so nothing above it knows which.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::file::{
    AppendError, Appended, Commit, DeploymentScan, FileStore, Replica, StoreError, VerifyReport,
};
use super::postgres::{PgStore, PgTarget};
use super::{Verified, line};
use crate::engine::{Event, State, StoredEvent};

/// What `--store`, `CAB_STORE` or the config's `store` names.
#[derive(Debug, Clone)]
pub enum Location {
    File(PathBuf),
    Postgres(Box<PgTarget>),
}

impl Location {
    /// A `postgres://` or `postgresql://` URL names a database; anything else that looks like
    /// a URL (`scheme://...`) is refused, never taken for a file name; the rest is a path.
    pub fn parse(path: PathBuf) -> Result<Location, String> {
        let Some(text) = path.to_str() else {
            return Ok(Location::File(path));
        };
        if PgTarget::is_url(text) {
            return PgTarget::parse(text)
                .map(|t| Location::Postgres(Box::new(t)))
                .map_err(|e| format!("the store URL is not valid: {e}"));
        }
        if let Some(scheme) = url_scheme(text) {
            return Err(format!(
                "the store {scheme}://… is a URL, and only postgres:// and postgresql:// URLs name a store; give a store file path or a PostgreSQL URL"
            ));
        }
        Ok(Location::File(path))
    }
}

/// The scheme of text shaped like `scheme://...` (RFC 3986: a letter, then letters, digits,
/// `+`, `-`, `.`).
fn url_scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// A store, whichever kind it is.
#[derive(Debug, Clone)]
pub enum Store {
    File(FileStore),
    Postgres(Arc<PgStore>),
}

impl From<FileStore> for Store {
    fn from(store: FileStore) -> Self {
        Store::File(store)
    }
}

impl Store {
    /// The store at a location (a database is connected on first use).
    pub fn open(location: Location) -> Result<Store, StoreError> {
        Ok(match location {
            Location::File(path) => Store::File(FileStore::new(path)),
            Location::Postgres(target) => Store::Postgres(Arc::new(PgStore::new(*target)?)),
        })
    }

    /// Its name for people: the file's path, or the URL without its password.
    pub fn name(&self) -> String {
        match self {
            Store::File(f) => f.path().display().to_string(),
            Store::Postgres(p) => p.shown().to_string(),
        }
    }

    /// "store /path/store.jsonl" or "database postgres://user@host/db".
    pub fn describe(&self) -> String {
        match self {
            Store::File(_) => format!("store {}", self.name()),
            Store::Postgres(_) => format!("database {}", self.name()),
        }
    }

    pub fn file(&self) -> Option<&FileStore> {
        match self {
            Store::File(f) => Some(f),
            Store::Postgres(_) => None,
        }
    }

    pub fn refresh(&self, replica: &mut Replica) -> Result<(), StoreError> {
        match self {
            Store::File(f) => f.refresh(replica),
            Store::Postgres(p) => p.refresh(replica),
        }
    }

    /// Lock out other writers, catch up, judge, write: see [`FileStore::append_unsynced`].
    pub fn append_unsynced<T, E>(
        &self,
        replica: &mut Replica,
        judge: impl FnMut(&Replica) -> Result<(Vec<Event>, T), E>,
    ) -> Result<(Appended<T>, Commit), AppendError<E>> {
        match self {
            Store::File(f) => f.append_unsynced(replica, judge),
            Store::Postgres(p) => p.append_unsynced(replica, judge),
        }
    }

    /// [`Self::append_unsynced`], durable when it returns.
    pub fn append<T, E>(
        &self,
        replica: &mut Replica,
        judge: impl FnMut(&Replica) -> Result<(Vec<Event>, T), E>,
    ) -> Result<Appended<T>, AppendError<E>> {
        let (appended, commit) = self.append_unsynced(replica, judge)?;
        self.sync(commit)?;
        Ok(appended)
    }

    /// Commit several writers' commands together, where the store can (a database: one
    /// transaction, one commit for all). `None` hands the jobs back: the store writes one
    /// command at a time ([`Self::append_unsynced`]).
    pub fn append_batch(
        &self,
        replica: &mut Replica,
        jobs: Vec<Box<dyn super::postgres::Job>>,
    ) -> Option<Vec<Box<dyn super::postgres::Job>>> {
        match self {
            Store::File(_) => Some(jobs),
            Store::Postgres(p) => {
                p.append_batch(replica, jobs);
                None
            }
        }
    }

    /// Make what was appended durable (a database already is).
    pub fn sync(&self, commit: Commit) -> Result<(), StoreError> {
        match self {
            Store::File(f) => f.sync(commit),
            Store::Postgres(_) => Ok(()),
        }
    }

    pub fn commit_through(&self, replica: &Replica, seq: u64) -> Result<Commit, StoreError> {
        match self {
            Store::File(f) => f.commit_through(replica, seq),
            Store::Postgres(_) => Ok(Commit::durable()),
        }
    }

    pub fn read_events(
        &self,
        replica: &Replica,
        seqs: impl IntoIterator<Item = u64>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            Store::File(f) => f.read_events(replica, seqs),
            Store::Postgres(p) => p.read_events(replica, seqs),
        }
    }

    /// Check every event: format, canonical form, chain and every rule.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        match self {
            Store::File(f) => f.verify(),
            Store::Postgres(p) => p.verify(),
        }
    }

    pub fn state_as_of(&self, verified: &Verified, at: DateTime<Utc>) -> Result<State, StoreError> {
        match self {
            Store::File(f) => f.state_as_of(verified, at),
            Store::Postgres(p) => p.state_as_of(verified, at),
        }
    }

    /// One deployment's events, without replaying the rest: only a file can be read that way
    /// (`None` for a database, whose replica is read instead).
    pub fn scan_deployment_at(
        &self,
        deployment: &str,
        at: Option<DateTime<Utc>>,
    ) -> Option<Result<DeploymentScan, StoreError>> {
        match self {
            Store::File(f) => Some(f.scan_deployment_at(deployment, at)),
            Store::Postgres(_) => None,
        }
    }

    /// Is the store there to be used? A file store always is (its failures are per request);
    /// a database must answer.
    pub fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::File(_) => Ok(()),
            Store::Postgres(p) => p.ping(),
        }
    }

    /// Call `changed` when another process writes, where the store can tell (a database's
    /// notifications); readers of a file look at it again on their own.
    pub fn watch(&self, changed: Arc<dyn Fn() + Send + Sync>) {
        if let Store::Postgres(p) = self {
            p.watch(changed);
        }
    }

    /// Write a run of events into a new or empty store, all or nothing (the demo).
    pub fn fill(&self, events: impl Iterator<Item = Event>) -> Result<u64, StoreError> {
        match self {
            Store::File(f) => f.fill(events),
            Store::Postgres(p) => {
                let mut seq = 0;
                let mut prev = line::GENESIS.to_string();
                let mut buf = Vec::new();
                let mut lines = events.map(|event| {
                    seq += 1;
                    buf.clear();
                    prev = line::encode(&mut buf, seq, &prev, &event);
                    buf.pop();
                    Ok(String::from_utf8_lossy(&buf).into_owned())
                });
                p.fill_lines(&mut lines)
            }
        }
    }

    /// How many events the store holds (0 for a file that does not exist yet).
    pub fn count(&self) -> Result<u64, StoreError> {
        match self {
            Store::File(f) => f.count_lines(),
            Store::Postgres(p) => p.count(),
        }
    }

    /// Every line, in order, each checked in the chain (call [`Self::verify`] first for the
    /// rules).
    pub fn lines(&self, f: impl FnMut(&str) -> Result<(), StoreError>) -> Result<(), StoreError> {
        match self {
            Store::File(file) => file.lines(f),
            Store::Postgres(p) => p.lines(f),
        }
    }

    /// Write whole lines into a new or empty store, all or nothing; refused with
    /// [`StoreError::TargetNotEmpty`] when it holds events.
    pub fn fill_lines(&self, lines: Vec<String>) -> Result<u64, StoreError> {
        match self {
            Store::File(f) => f.fill_lines(&lines),
            Store::Postgres(p) => p.fill_lines(&mut lines.into_iter().map(Ok)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_postgres_url_names_a_database_other_urls_are_refused_and_the_rest_are_files() {
        assert!(matches!(
            Location::parse("postgres://cab@localhost/cab".into()).unwrap(),
            Location::Postgres(_)
        ));
        assert!(matches!(
            Location::parse("postgresql://cab@localhost/cab".into()).unwrap(),
            Location::Postgres(_)
        ));
        for url in [
            "http://example.com/store",
            "mysql://u:pw@h/db",
            "file:///tmp/x",
        ] {
            let e = Location::parse(url.into()).unwrap_err();
            assert!(e.contains("only postgres://"), "{e}");
            assert!(!e.contains("pw"), "the refusal repeats no password: {e}");
        }
        for path in [
            "store.jsonl",
            "/var/lib/cab/store.jsonl",
            "a:b.jsonl",
            "./x://y",
        ] {
            assert!(matches!(
                Location::parse(path.into()).unwrap(),
                Location::File(_)
            ));
        }
    }
}
