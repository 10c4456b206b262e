//! The store as a file on disk: integrity (tampering, torn tails, crashes, full disks),
//! concurrent writers and the checkpoint cache, through the library and the real `cab` binary.
//!
//! A new file here is `tests/store/<topic>.rs` starting with `use crate::support::store::*;`,
//! and one `mod <topic>;` line below.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod checkpoint;
mod concurrency;
mod crash;
mod faults;
mod group_commit;
mod tamper;
mod torn_tail;
