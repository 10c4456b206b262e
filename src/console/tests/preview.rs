//! A console shown a preview (the open requests alone, read ahead of the whole state from a
//! real store file) draws the first screen the whole state draws, says the rest is being read,
//! and shows nothing of it once the whole store turns out unreadable.

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::{actor, draw, now, press};
use crate::console::app::{App, Msg};
use crate::console::theme::Theme;
use crate::engine::{Policy, Role, State};
use crate::store::{FileStore, Replica};

/// The preview and the whole state of a demo store.
fn preview_and_whole() -> (State, State) {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("store.jsonl")).with_checkpoints(None);
    crate::demo::fill(
        &crate::store::Store::from(store.clone()),
        500,
        5,
        now(),
        &Policy::default(),
    )
    .unwrap();
    let preview = store.preview_from(0).expect("a preview of an intact store");
    let mut replica = Replica::new();
    store.refresh(&mut replica).unwrap();
    (preview, replica.state)
}

fn console(w: u16, h: u16, msg: Msg) -> App {
    let mut app = App::new(
        actor("carol", &[Role::CabMember]),
        "store /var/lib/cab/store.jsonl".into(),
        false,
        now(),
        Theme::monochrome(),
    );
    app.update(Msg::Resize(w, h));
    app.update(msg);
    app
}

fn whole_msg(state: &State) -> Msg {
    Msg::Snapshot {
        state: Box::new(state.clone()),
        head: state.head(),
        head_hash: None,
    }
}

fn rows(terminal: &Terminal<TestBackend>) -> Vec<String> {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect()
        })
        .collect()
}

#[test]
fn a_preview_draws_the_first_screen_of_the_whole_state_and_says_the_rest_is_being_read() {
    let (preview, whole) = preview_and_whole();
    assert!(preview.request_count() < whole.request_count());
    for (w, h) in [(120, 40), (80, 24)] {
        let mut early = console(w, h, Msg::Preview(Box::new(preview.clone())));
        let mut done = console(w, h, whole_msg(&whole));
        assert!(early.previewing() && !done.previewing());
        // The same keys in both: down the queue, to the exceptions, down them.
        let keys = [
            None,
            Some(KeyCode::Down),
            Some(KeyCode::Down),
            Some(KeyCode::Tab),
            Some(KeyCode::Down),
        ];
        for key in keys {
            if let Some(key) = key {
                press(&mut early, key);
                press(&mut done, key);
            }
            let (a, b) = (rows(&draw(&early)), rows(&draw(&done)));
            // The queue's title (when the queue is on screen) says the rest is being read;
            // nothing else differs.
            const READING: &str = " · reading the whole store…";
            let queue_shown = a.iter().any(|row| row.contains(" Queue pending"));
            assert_eq!(
                a.iter().any(|row| row.contains(READING)),
                queue_shown,
                "at {w}x{h} after {key:?}"
            );
            assert!(queue_shown || key.is_some());
            assert!(b.iter().all(|row| !row.contains("reading")));
            let bare = |row: &str| row.replace(READING, "").replace('─', "");
            for (y, (a, b)) in a.iter().zip(&b).enumerate() {
                if a.contains(READING) {
                    assert_eq!(bare(a), bare(b), "row {y} at {w}x{h} after {key:?}");
                } else {
                    assert_eq!(a, b, "row {y} at {w}x{h} after {key:?}");
                }
            }
            assert!(a.join("").contains("under review"));
        }
        // The whole state arrives: the very screen of a console that started with it.
        early.update(whole_msg(&whole));
        assert!(!early.previewing());
        assert_eq!(rows(&draw(&early)), rows(&draw(&done)));
    }
}

#[test]
fn a_preview_is_dropped_when_the_whole_store_cannot_be_read() {
    let (preview, _) = preview_and_whole();
    let mut app = console(120, 40, Msg::Preview(Box::new(preview)));
    assert!(!app.queue().is_empty());
    app.update(Msg::SyncFailed(
        "the store /s.jsonl is damaged at line 7: it breaks the rule expiry_days".into(),
    ));
    assert!(!app.previewing() && !app.loaded());
    assert!(app.queue().is_empty() && app.exceptions().is_empty());
    let screen = rows(&draw(&app)).join("\n");
    assert!(screen.contains("Loading…"), "{screen}");
    assert!(screen.contains("not up to date: the store"), "{screen}");
}

#[test]
fn a_preview_that_comes_after_the_whole_state_changes_nothing() {
    let (preview, whole) = preview_and_whole();
    let mut app = console(120, 40, whole_msg(&whole));
    let before = rows(&draw(&app));
    app.update(Msg::Preview(Box::new(preview)));
    assert!(!app.previewing());
    assert_eq!(rows(&draw(&app)), before);
}
