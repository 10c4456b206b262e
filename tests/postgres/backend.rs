//! The backend the console and the command line use, on a database: it follows writes made by
//! other processes (what the console's live refresh waits on), and it refuses a schema made by
//! a newer cab.

use std::time::Duration;

use cab::backend::{Backend, LocalBackend};
use cab::store::{Location, Store};

use super::pg;
use crate::support::{Sealed, now};

fn backend(url: &str) -> LocalBackend {
    let store = Store::open(Location::parse(url.into()).unwrap()).unwrap();
    LocalBackend::new(
        store,
        cab::engine::Actor::new("carol", [cab::engine::Role::CabMember]).unwrap(),
        cab::engine::Policy::default(),
        cab::clock::Clock::Fixed(now()),
    )
}

fn submit(dir: &std::path::Path, url: &str, deployment: &str) {
    let out = Sealed::new(dir)
        .user("dana", "")
        .command()
        .args([
            "--store",
            url,
            "submit",
            "--deployment",
            deployment,
            "--evidence",
            "E",
        ])
        .args(["--risk", "60"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn a_console_on_the_database_sees_a_write_by_another_process_while_it_waits_for_events() {
    let Some(pg) = pg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, url) = pg.fresh();
    submit(dir.path(), &url, "first");
    let console = backend(&url);
    let head = console.snapshot().unwrap().head;
    assert_eq!(head, 1);
    std::thread::scope(|s| {
        let waiting = s.spawn(|| console.events(head, Duration::from_secs(30)).unwrap());
        std::thread::sleep(Duration::from_millis(200));
        submit(dir.path(), &url, "second");
        let page = waiting.join().unwrap();
        assert_eq!(
            page.events.len(),
            1,
            "woken by the write, not by the wait's end"
        );
        assert_eq!(page.head, 2);
    });
    assert!(
        console.location().starts_with("database postgres://"),
        "{}",
        console.location()
    );
}

#[test]
fn a_database_whose_schema_a_newer_cab_made_is_refused_with_a_sentence_and_not_written_to() {
    let Some(pg) = pg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (db, url) = pg.fresh();
    submit(dir.path(), &url, "first");
    pg.psql(&db, "INSERT INTO cab_schema (version) VALUES (99)");
    let out = Sealed::new(dir.path())
        .user("dana", "")
        .command()
        .args([
            "--store",
            &url,
            "submit",
            "--deployment",
            "d",
            "--evidence",
            "E",
            "--risk",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("schema is version 99") && stderr.contains("upgrade cab"),
        "{stderr}"
    );
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM cab_events"), "1");
}
