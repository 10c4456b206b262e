//! The embedded store: an append-only, hash-chained JSON-lines file (docs/store-format.md).
//! `line` encodes and checks one event per line; `file` owns locking, durability, catching up
//! with other writers and the torn-tail quarantine; `disk` is the seam all of its writes go
//! through; `as_of` reads verified lines again for the state as of a moment (`--at`); `scan`
//! checks every line on every core for one deployment's status, and `preview` with it the
//! open requests a console shows first;
//! `postgres` keeps the same lines in a PostgreSQL table (SPEC section 8), and `location`'s
//! [`Store`] is either, for the backend that must not know which.

mod as_of;
#[cfg(test)]
mod as_of_tests;
mod blocks;
pub mod checkpoint;
mod disk;
#[cfg(test)]
mod faults;
pub mod file;
pub mod line;
mod location;
pub mod postgres;
mod preview;
#[cfg(test)]
mod replay_tests;
mod scan;
mod strict;

pub use as_of::Verified;
pub use checkpoint::CheckpointPolicy;
pub use file::{
    AppendError, Appended, Commit, DeploymentScan, FileStore, Replica, StoreError, TornTail,
    VerifyReport,
};
pub use location::{Location, Store};
pub use postgres::{Job, PgStore, PgTarget, WebhookLock};
