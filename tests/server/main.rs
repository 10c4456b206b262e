//! `cab serve` as a client sees it: a real server process on a loopback port, its HTTP API,
//! OpenAPI document, concurrency, connection hygiene and life cycle.
//!
//! A new file here is `tests/server/<topic>.rs` using `crate::support::server` (or
//! `crate::support::remote` for a server with the remote clients' users), and one
//! `mod <topic>;` line below.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod api;
mod at;
mod concurrency;
mod connections;
mod gate;
mod lifecycle;
mod openapi;
mod outcome;
mod snapshot;
mod webhooks;
