//! The embedded store: an append-only, hash-chained JSON-lines file (docs/store-format.md).
//! `line` encodes and checks one event per line; `file` owns locking, durability, catching up
//! with other writers and the torn-tail quarantine; `disk` is the seam all of its writes go
//! through.

pub mod checkpoint;
mod disk;
#[cfg(test)]
mod faults;
pub mod file;
pub mod line;
#[cfg(test)]
mod replay_tests;

pub use checkpoint::CheckpointPolicy;
pub use file::{
    AppendError, Appended, Commit, DeploymentScan, FileStore, Replica, StoreError, TornTail,
    VerifyReport,
};
