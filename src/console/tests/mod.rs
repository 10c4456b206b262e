//! The console tested without a terminal: the update function driven by messages, and the
//! view rendered into ratatui's `TestBackend` (snapshots, and a hostile-text check on every
//! cell).

mod hostile;
mod preview;
mod report;
mod snapshots;
mod update;

use chrono::{DateTime, Duration, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use uuid::Uuid;

use super::app::{App, Effect, Msg};
use super::theme::Theme;
use crate::engine::rules::{self, Command, Ctx, IdSource, Review, Submission, Verdict};
use crate::engine::{Actor, Event, Policy, Role, State, StoredEvent, time};

pub const NOW: &str = "2026-11-28T12:00:00Z";

pub fn now() -> DateTime<Utc> {
    time::parse(NOW).unwrap()
}

/// Ids whose first eight characters differ, so short ids are readable in snapshots.
pub struct Counter(u128);

impl IdSource for Counter {
    fn next_id(&mut self) -> Uuid {
        self.0 += 1;
        let n = self.0;
        Uuid::from_u128(((0x1a2b_3c4d + n * 0x0111_1111) << 96) | (0x4000_8000_0000_0000_0000 + n))
    }
}

pub fn actor(name: &str, roles: &[Role]) -> Actor {
    Actor::new(name, roles.iter().copied()).unwrap()
}

/// A store's worth of history built through the engine, keeping every stored event.
pub struct Fixture {
    pub state: State,
    pub events: Vec<StoredEvent>,
    ids: Counter,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture {
            state: State::new(),
            events: Vec::new(),
            ids: Counter(0),
        }
    }

    /// Run a command as `who`, `hours_ago` before NOW; returns the id of what it created.
    pub fn run(&mut self, who: &Actor, hours_ago: i64, command: Command) -> Uuid {
        let policy = Policy::default();
        let ctx = Ctx {
            actor: who,
            now: now() - Duration::hours(hours_ago),
            policy: &policy,
        };
        let events = rules::handle(&self.state, &command, &ctx, &mut self.ids)
            .unwrap_or_else(|e| panic!("fixture command refused: {e}"));
        let mut created = Uuid::nil();
        for event in events {
            created = created_id(&event);
            self.push(event);
        }
        created
    }

    pub fn push(&mut self, event: Event) {
        let seq = self.state.head() + 1;
        self.state.apply(seq, event.at, event.kind.clone()).unwrap();
        self.events.push(StoredEvent {
            seq,
            prev: String::new(),
            hash: String::new(),
            event,
        });
    }

    pub fn submit(
        &mut self,
        who: &Actor,
        hours_ago: i64,
        deployment: &str,
        title: &str,
        risk: f64,
    ) -> Uuid {
        let factors: crate::engine::RiskFactors = [
            ("change_size", 0.3),
            ("blast_radius", 0.25),
            ("test_coverage_gap", 0.2),
            ("rollback_complexity", 0.15),
            ("incident_history", 0.1),
        ]
        .into_iter()
        .map(|(n, w)| (n.to_string(), (risk * w * 10.0).round() / 10.0))
        .collect();
        self.run(
            who,
            hours_ago,
            Command::Submit(Submission {
                deployment_intent_id: deployment.into(),
                evidence_package_id: format!("EP-{deployment}").into(),
                title: Some(title.into()),
                risk_score: risk,
                risk_factors: factors,
                correlation_id: Some(format!("ci-{deployment}").into()),
            }),
        )
    }

    pub fn history(&self, request: Uuid) -> Vec<StoredEvent> {
        self.events
            .iter()
            .filter(|e| e.event.kind.request_id() == request)
            .cloned()
            .collect()
    }
}

fn created_id(event: &Event) -> Uuid {
    use crate::engine::EventKind as K;
    match &event.kind {
        K::RequestSubmitted(e) => e.request.id,
        K::RequestDecided(e) => e.decision.id,
        K::ExceptionRequested(e) => e.exception.id,
        K::ExceptionReviewed(e) => e.exception_id,
        K::ExceptionExpired(e) => e.exception_id,
        K::OutcomeRecorded(e) => e.outcome.id,
    }
}

/// The people of the fixtures.
pub struct People {
    pub dana: Actor,
    pub erik: Actor,
    pub carol: Actor,
    pub sam: Actor,
}

pub fn people() -> People {
    People {
        dana: actor("dana", &[]),
        erik: actor("erik", &[]),
        carol: actor("carol", &[Role::CabMember]),
        sam: actor("sam", &[Role::SecurityReviewer]),
    }
}

/// Ids of the standard fixture's records.
pub struct Ids {
    pub openssl: Uuid,
    pub flag: Uuid,
    pub schema: Uuid,
    pub pending_exception: Uuid,
    pub urgent_exception: Uuid,
    pub approved: Uuid,
    pub rejected: Uuid,
    pub carols_own: Uuid,
}

/// Every status and every kind of exception, on a handful of believable requests.
pub fn standard() -> (Fixture, Ids) {
    let p = people();
    let mut f = Fixture::new();
    let auto = f.submit(
        &p.dana,
        200,
        "catalog-api-r1040",
        "Add index on orders.created_at",
        18.5,
    );
    let _ = auto;
    let approved = f.submit(
        &p.erik,
        100,
        "ledger-service-r2210",
        "Rotate TLS certificates",
        58.0,
    );
    f.run(
        &p.carol,
        90,
        decide(
            approved,
            Verdict::Approve { conditions: vec![] },
            "Staging soak clean for 48h.",
        ),
    );
    let rejected = f.submit(
        &p.dana,
        80,
        "billing-batch-r0988",
        "Drop legacy invoices column",
        71.2,
    );
    f.run(
        &p.carol,
        70,
        decide(
            rejected,
            Verdict::Reject,
            "No rollback plan for the schema change.",
        ),
    );
    let urgent_request = f.submit(
        &p.erik,
        28 * 24,
        "edge-proxy-r3301",
        "Patch CVE-2026-4201 in envoy",
        88.0,
    );
    let urgent_exception = f.run(
        &p.erik,
        28 * 24 - 1,
        exception(
            urgent_request,
            "Actively exploited CVE.",
            &[
                "WAF rule in monitor mode",
                "Automated rollback on error rate above 0.5%",
            ],
            30,
        ),
    );
    f.run(
        &p.sam,
        28 * 24 - 3,
        review(
            urgent_exception,
            Review::Approve,
            "Controls are adequate for the window.",
        ),
    );
    let schema = f.submit(
        &p.dana,
        30,
        "payments-api-r4821",
        "Migrate payments to the new schema",
        82.5,
    );
    let pending_exception = f.run(
        &p.dana,
        20,
        exception(
            schema,
            "Regulatory deadline at month end.",
            &["Security engineer pairs on the rollout"],
            14,
        ),
    );
    let openssl = f.submit(
        &p.dana,
        5,
        "checkout-web-r7702",
        "Bump openssl to 3.0.15",
        62.0,
    );
    let flag = f.submit(
        &p.erik,
        2,
        "feature-flags-r0311",
        "Enable smart-retry for 5% of traffic",
        55.5,
    );
    let carols_own = f.submit(
        &p.carol,
        1,
        "search-indexer-r0120",
        "Reconfigure autoscaling thresholds",
        51.0,
    );
    (
        f,
        Ids {
            openssl,
            flag,
            schema,
            pending_exception,
            urgent_exception,
            approved,
            rejected,
            carols_own,
        },
    )
}

pub fn decide(request: Uuid, verdict: Verdict, rationale: &str) -> Command {
    Command::Decide {
        request_id: request,
        verdict,
        rationale: rationale.into(),
    }
}

pub fn exception(request: Uuid, justification: &str, controls: &[&str], days: i64) -> Command {
    Command::RequestException {
        request_id: request,
        justification: justification.into(),
        compensating_controls: controls.iter().map(|c| c.to_string()).collect(),
        expiry_days: Some(days),
    }
}

pub fn review(exception: Uuid, review: Review, rationale: &str) -> Command {
    Command::ReviewException {
        exception_id: exception,
        review,
        rationale: rationale.into(),
    }
}

/// A console over a fixture, as `who`, sized `w` x `h`, with the selected request's history.
pub fn app_over(f: &Fixture, who: Actor, w: u16, h: u16) -> App {
    console_over(f, who, w, h, false)
}

/// The same, opened read-only.
pub fn read_only_app_over(f: &Fixture, who: Actor, w: u16, h: u16) -> App {
    console_over(f, who, w, h, true)
}

fn console_over(f: &Fixture, who: Actor, w: u16, h: u16, read_only: bool) -> App {
    let mut app = App::new(
        who,
        "store /var/lib/cab/store.jsonl".into(),
        read_only,
        now(),
        Theme::monochrome(),
    );
    app.update(Msg::Resize(w, h));
    let effects = app.update(Msg::Snapshot {
        head_hash: None,
        state: Box::new(f.state.clone()),
        head: f.state.head(),
    });
    deliver_histories(&mut app, f, effects);
    app
}

/// The console opened as of `at` (`--at`), as `who`: the fixture's events dated up to then,
/// replayed as the backend replays them, the clock at `at`, histories as of then.
pub fn as_of_app_over(f: &Fixture, who: Actor, w: u16, h: u16, at: DateTime<Utc>) -> App {
    let mut app = App::new(
        who,
        "store /var/lib/cab/store.jsonl".into(),
        false,
        at,
        Theme::monochrome(),
    );
    app.show_as_of(at);
    app.update(Msg::Resize(w, h));
    let then = State::replay_as_of(&f.events, at).unwrap();
    let mut effects = app.update(Msg::Snapshot {
        head_hash: None,
        state: Box::new(then),
        head: f.state.head(),
    });
    while let Some(Effect::FetchHistory(id)) = effects.first().cloned() {
        let history = f
            .history(id)
            .into_iter()
            .filter(|e| e.event.at <= at)
            .collect();
        effects = app.update(Msg::History(id, Ok(history)));
    }
    app
}

/// Answer the history fetches an update asked for, as the runtime's worker would.
pub fn deliver_histories(app: &mut App, f: &Fixture, effects: Vec<Effect>) -> Vec<Effect> {
    let mut rest = Vec::new();
    for effect in effects {
        match effect {
            Effect::FetchHistory(id) => {
                let more = app.update(Msg::History(id, Ok(f.history(id))));
                rest.extend(deliver_histories(app, f, more));
            }
            other => rest.push(other),
        }
    }
    rest
}

pub fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub fn ctrl(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )))
}

pub fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// Draw the whole console into a test terminal of the app's size.
pub fn draw(app: &App) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(
        app.viewport().width,
        app.viewport().height,
    ))
    .unwrap();
    terminal.draw(|f| super::view::view(app, f)).unwrap();
    terminal
}
