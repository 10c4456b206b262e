//! cab: a review console and command line for a Change Advisory Board.
//!
//! `engine` holds the pure workflow rules; `store` the append-only, hash-chained JSON-lines file;
//! `backend` the one interface the command line and the console talk to; `cli` the command line.

pub mod allocator;
pub mod backend;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod demo;
pub mod engine;
pub mod files;
pub mod humanize;
pub mod notify;
pub mod remote;
pub mod server;
pub mod siem;
pub mod store;
pub mod untrusted;
