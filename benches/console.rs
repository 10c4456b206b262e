//! Benchmark: one console update plus a full render, with 100,000 requests in the state
//! (target: under 16 ms, one frame at 60 Hz). Rendered into ratatui's TestBackend at 120x40,
//! so the figure is the console's own work, without the terminal's.
//!
//!     cargo bench --bench console
//!     CAB_BENCH_REQUESTS=20000 cargo bench --bench console
//!
//! Figures go in docs/perf.md. Nothing here asserts a speed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use cab::console::Theme;
use cab::console::app::{App, Msg};
use cab::console::view::view;
use cab::engine::rules::{self, Command, Ctx, IdSource, Submission};
use cab::engine::{Actor, Policy, Role, State, StoredEvent, time};
use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

struct Seq(u128);

impl IdSource for Seq {
    fn next_id(&mut self) -> uuid::Uuid {
        self.0 += 1;
        uuid::Uuid::from_u128(self.0 | (0xbe_u128 << 120))
    }
}

fn big_state(requests: usize) -> State {
    let now = time::parse("2026-11-28T12:00:00Z").unwrap();
    let mut state = State::new();
    for event in cab::demo::Generator::new(requests, 1, now, &Policy::default()) {
        let event = event.expect("the demo's events follow the rules");
        state.apply(state.head() + 1, event.at, event.kind).unwrap();
    }
    state
}

fn console(c: &mut Criterion) {
    let requests: usize = std::env::var("CAB_BENCH_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let now = time::parse("2026-11-28T12:00:00Z").unwrap();
    let state = big_state(requests);
    let me = Actor::new("carol", [Role::CabMember, Role::SecurityReviewer]).unwrap();
    let mut app = App::new(
        me.clone(),
        "store bench".into(),
        false,
        now,
        Theme::colored(),
    );
    app.update(Msg::Resize(120, 40));
    app.update(Msg::Snapshot {
        head_hash: None,
        head: state.head(),
        state: Box::new(state),
    });
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();

    let mut group = c.benchmark_group(format!("console with {requests} requests"));
    group.bench_function("move down one row + render", |b| {
        let mut down = true;
        b.iter(|| {
            // Alternate so the selection stays in place over many iterations.
            let msg = key(if down { KeyCode::Down } else { KeyCode::Up });
            down = !down;
            black_box(app.update(msg));
            terminal.draw(|f| view(&app, f)).unwrap();
        })
    });
    group.bench_function("filter keystroke + render", |b| {
        app.update(key(KeyCode::Char('/')));
        let mut typed = false;
        b.iter(|| {
            let msg = key(if typed {
                KeyCode::Backspace
            } else {
                KeyCode::Char('p')
            });
            typed = !typed;
            black_box(app.update(msg));
            terminal.draw(|f| view(&app, f)).unwrap();
        });
        app.update(key(KeyCode::Esc));
    });
    group.bench_function("sort change + render", |b| {
        b.iter(|| {
            black_box(app.update(key(KeyCode::Char('s'))));
            terminal.draw(|f| view(&app, f)).unwrap();
        })
    });
    group.bench_function("one new event from another process + render", |b| {
        let policy = Policy::default();
        let requester = Actor::new("dana", []).unwrap();
        let mut ids = Seq(0);
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            let ctx = Ctx {
                actor: &requester,
                now,
                policy: &policy,
            };
            let command = Command::Submit(Submission {
                deployment_intent_id: format!("bench-r{n}").into(),
                evidence_package_id: "EP-bench".into(),
                title: Some("Benchmark request".into()),
                risk_score: 60.0,
                risk_factors: Default::default(),
                correlation_id: None,
            });
            let events = rules::handle(app.state(), &command, &ctx, &mut ids).unwrap();
            let seq = app.head() + 1;
            let page = cab::backend::EventPage {
                head: seq,
                events: events
                    .into_iter()
                    .map(|event| StoredEvent {
                        seq,
                        prev: String::new(),
                        hash: String::new(),
                        event,
                    })
                    .collect(),
            };
            black_box(app.update(Msg::Events(page)));
            terminal.draw(|f| view(&app, f)).unwrap();
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = console
}
criterion_main!(benches);
