//! The console opened as of a moment (`cab --at TIME`), in a pseudo-terminal: the status bar
//! says when, the queue is the queue then, an action key says why it cannot act, another
//! process's event dated by then appears by itself (a later one does not), and nothing is
//! written.

use crate::support::pty::{NOW, World, lines_with};

const THEN: &str = "2026-11-25T00:00:00Z";

#[test]
fn a_console_opened_at_a_moment_shows_that_moment_read_only_and_follows_only_events_dated_by_then()
{
    let world = World::new();
    world.submit_at("2026-11-20T09:00:00Z", "dave", "earlier-pty7", "62");
    world.submit_at(NOW, "dave", "later-pty7", "63");
    let before = world.store_bytes();

    let mut console = world.console("carol", "cab_member", &["--at", THEN], (120, 40));
    console.wait_for_checks(&[
        ("the status bar says as of when", &|s| {
            !lines_with(s, &["READ-ONLY as of 2026-11-25T00:00:00Z"]).is_empty()
        }),
        ("the request submitted by then is queued", &|s| {
            s.contains("earlier-pty7")
        }),
        ("its age is that of then", &|s| {
            !lines_with(s, &["earlier-pty7", "4d"]).is_empty()
        }),
        ("the later request is not", &|s| !s.contains("later-pty7")),
    ]);

    console.send("a");
    console.wait_for_checks(&[
        ("a message says why it cannot approve", &|s| {
            !lines_with(s, &["cannot approve", "--at"]).is_empty()
        }),
        ("no form opens", &|s| !s.contains("Rationale")),
    ]);
    assert!(world.store_bytes() == before, "the console wrote");

    // Another process records one event dated by then and one after: only the first shows.
    world.submit_at("2026-11-24T09:00:00Z", "dave", "backdated-pty7", "64");
    world.submit_at(NOW, "dave", "newer-pty7", "65");
    console.wait_until("the event dated by then appears", |s| {
        s.contains("backdated-pty7")
    });
    assert!(!console.screen().contains("newer-pty7"));

    console.send("q");
    let status = console.wait_exit();
    assert!(status.success(), "the console exited with {status:?}");
}
