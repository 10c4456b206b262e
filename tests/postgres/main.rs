//! SPEC section 8 against a real PostgreSQL server that the tests start on this machine
//! (`support::postgres`): several `cab serve` instances and `cab` processes on one database,
//! racing, loaded, killed and cut off from it; `cab store copy` and `cab verify` on it.
//!
//! A new file here is `tests/postgres/<topic>.rs`, and one `mod <topic>;` line below. Every test
//! starts with `let Some(pg) = pg() else { return };` (no PostgreSQL on this machine: said once,
//! and a failure when CAB_TEST_POSTGRES=required).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod backend;
mod copy;
mod instances;
mod restart;
mod tls;
mod webhooks;

/// The PostgreSQL server this binary shares.
pub fn pg() -> Option<&'static support::postgres::Pg> {
    support::postgres::shared()
}
