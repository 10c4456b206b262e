//! The console end to end: the real `cab` binary in a pseudo-terminal, its screen read through
//! a terminal emulator, on a local store or against a `cab serve`. (The console's model and
//! views are tested without a terminal, beside their code in src/console.)
//!
//! A new file here is `tests/console/<topic>.rs` using `crate::support::pty`, and one
//! `mod <topic>;` line below.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod at_pty;
mod pty;
mod remote_pty;
