//! The command line end to end: the real `cab` binary run as a script runs it, one process per
//! command, on a store in a temporary folder (or against a `cab serve` for `remote`), checking
//! what it prints, its exit code and what it leaves in the store.
//!
//! A new file here is `tests/cli/<topic>.rs` starting with `use crate::support::cli::*;`, and
//! one `mod <topic>;` line below.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod at;
mod config;
mod decide;
mod demo;
mod errors;
mod exceptions;
mod notify;
mod outcome;
mod queue_show;
mod remote;
mod report;
mod reshape;
mod siem;
mod status_gate;
mod submit;
mod untrusted;
mod verify_audit;
