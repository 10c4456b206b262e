//! What a person can ask the console for, each a typed intent carrying its target, with the
//! form that asks for its details described as data. One function, [`Intent::command`], turns
//! an intent and its form's fields into the engine's command: the dry run that says whether
//! the user may act and the real submit both go through it, so they cannot disagree. Adding
//! an action is one variant here, its form description, and its key in the keymap.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::keymap::Action;
use crate::engine::rules::{self, Ctx, DEFAULT_EXPIRY_DAYS, IdSource};
use crate::engine::{
    Actor, Command, Event, EventKind, OutcomeResult, Policy, Review, State, Verdict, short_id, time,
};
use crate::humanize::relative;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Approve(Uuid),
    ApproveWithConditions(Uuid),
    Reject(Uuid),
    RequestException(Uuid),
    ApproveException(Uuid),
    RejectException(Uuid),
    RecordOutcome(Uuid),
}

/// How a form field is edited and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// Text that may be left empty (then nothing is recorded for it).
    Optional,
    /// Items added one at a time (type, Enter).
    List,
    /// A whole number of days, 1 to 90.
    Days,
    /// One of these, the first to begin with.
    Choice(&'static [&'static str]),
}

/// One field of a form, as data: the form is built from these and read by `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub kind: FieldKind,
}

const fn field(
    name: &'static str,
    label: &'static str,
    help: &'static str,
    kind: FieldKind,
) -> FieldSpec {
    FieldSpec {
        name,
        label,
        help,
        kind,
    }
}

const DECISION_RATIONALE: FieldSpec = field(
    "rationale",
    "Rationale",
    "why; recorded with the decision",
    FieldKind::Text,
);
const REVIEW_RATIONALE: FieldSpec = field(
    "rationale",
    "Rationale",
    "why; recorded with the review",
    FieldKind::Text,
);
const CONDITIONS: FieldSpec = field(
    "conditions",
    "Conditions",
    "each one a condition of the approval",
    FieldKind::List,
);
const JUSTIFICATION: FieldSpec = field(
    "justification",
    "Justification",
    "why it must go ahead despite its risk",
    FieldKind::Text,
);
const CONTROLS: FieldSpec = field(
    "controls",
    "Compensating controls",
    "what limits the risk meanwhile",
    FieldKind::List,
);
const DAYS: FieldSpec = field(
    "days",
    "Expires after (days)",
    "1 to 90; there are no permanent exceptions",
    FieldKind::Days,
);
/// The results an outcome can have, in `OutcomeResult::ALL` order (a test keeps them so).
const RESULTS: &[&str] = &["success", "failure", "rolled_back"];
const RESULT: FieldSpec = field(
    "result",
    "Result",
    "how the deployment went (←/→ or s/f/r)",
    FieldKind::Choice(RESULTS),
);
const INCIDENT: FieldSpec = field(
    "incident",
    "Incident",
    "optional: the incident it caused, as your tracker names it",
    FieldKind::Optional,
);
const NOTE: FieldSpec = field(
    "note",
    "Note",
    "optional: what happened",
    FieldKind::Optional,
);

/// What a form's fields hold, read by field name.
pub trait Values {
    /// A text field, trimmed.
    fn text(&self, name: &str) -> String;
    /// A list field's items.
    fn items(&self, name: &str) -> Vec<String>;
    /// A days field, when it holds a number.
    fn days(&self, name: &str) -> Option<i64>;
    /// A choice field's chosen option, as an index into its choices.
    fn choice(&self, name: &str) -> usize;
}

/// Stand-in values for judging an intent before its form is filled in.
struct Placeholder;

impl Values for Placeholder {
    fn text(&self, _: &str) -> String {
        "-".to_string()
    }

    fn items(&self, _: &str) -> Vec<String> {
        vec!["-".to_string()]
    }

    fn days(&self, _: &str) -> Option<i64> {
        None
    }

    fn choice(&self, _: &str) -> usize {
        0
    }
}

/// What an action key asks for before its target is known: which intent, on which kind of
/// record.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    make: fn(Uuid) -> Intent,
    on_exception: bool,
}

impl Ask {
    /// The intent an action key asks for, if it asks for one.
    pub fn of(action: Action) -> Option<Ask> {
        let (make, on_exception): (fn(Uuid) -> Intent, bool) = match action {
            Action::Approve => (Intent::Approve, false),
            Action::Conditional => (Intent::ApproveWithConditions, false),
            Action::Reject => (Intent::Reject, false),
            Action::RequestException => (Intent::RequestException, false),
            Action::RecordOutcome => (Intent::RecordOutcome, false),
            Action::ReviewApprove => (Intent::ApproveException, true),
            Action::ReviewReject => (Intent::RejectException, true),
            _ => return None,
        };
        Some(Ask { make, on_exception })
    }

    /// The verb, which does not depend on the target.
    pub fn verb(self) -> &'static str {
        (self.make)(Uuid::nil()).verb()
    }

    /// The intent on the selected record of the kind it needs; or why there is none.
    pub fn on(self, request: Option<Uuid>, exception: Option<Uuid>) -> Result<Intent, String> {
        let (target, what) = if self.on_exception {
            (exception, "exception")
        } else {
            (request, "request")
        };
        target
            .map(self.make)
            .ok_or_else(|| format!("no {what} selected to {}", self.verb()))
    }
}

/// Ids for a dry run of the rules: never stored.
struct NoIds;

impl IdSource for NoIds {
    fn next_id(&mut self) -> Uuid {
        Uuid::nil()
    }
}

impl Intent {
    /// What the user is doing, as in "cannot approve this request: …".
    pub fn verb(self) -> &'static str {
        match self {
            Intent::Approve(_) => "approve this request",
            Intent::ApproveWithConditions(_) => "approve this request with conditions",
            Intent::Reject(_) => "reject this request",
            Intent::RequestException(_) => "request an exception for this request",
            Intent::ApproveException(_) => "approve this exception",
            Intent::RejectException(_) => "reject this exception",
            Intent::RecordOutcome(_) => "record the outcome of this request",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Intent::Approve(_) => "Approve request",
            Intent::ApproveWithConditions(_) => "Approve with conditions",
            Intent::Reject(_) => "Reject request",
            Intent::RequestException(_) => "Request a security exception",
            Intent::ApproveException(_) => "Approve exception",
            Intent::RejectException(_) => "Reject exception",
            Intent::RecordOutcome(_) => "Record outcome",
        }
    }

    /// The form that asks for the intent's details.
    pub fn form(self) -> &'static [FieldSpec] {
        match self {
            Intent::Approve(_) | Intent::Reject(_) => &[DECISION_RATIONALE],
            Intent::ApproveWithConditions(_) => &[CONDITIONS, DECISION_RATIONALE],
            Intent::RequestException(_) => &[JUSTIFICATION, CONTROLS, DAYS],
            Intent::ApproveException(_) | Intent::RejectException(_) => &[REVIEW_RATIONALE],
            Intent::RecordOutcome(_) => &[RESULT, INCIDENT, NOTE],
        }
    }

    /// What the confirmation says about going back on it.
    pub fn permanence(self) -> &'static str {
        match self {
            Intent::RequestException(_) => {
                "The request is recorded now; a security reviewer approves or rejects it."
            }
            Intent::ApproveException(_) | Intent::RejectException(_) => {
                "A review is permanent: it can never be changed or deleted."
            }
            Intent::RecordOutcome(_) => {
                "An outcome is permanent: it can never be changed or deleted."
            }
            _ => "A decision is permanent: it can never be changed or deleted.",
        }
    }

    /// The engine command for this intent with these field values.
    pub fn command(self, values: &dyn Values) -> Command {
        let decide = |request_id, verdict| Command::Decide {
            request_id,
            verdict,
            rationale: values.text("rationale"),
        };
        let review = |exception_id, review| Command::ReviewException {
            exception_id,
            review,
            rationale: values.text("rationale"),
        };
        match self {
            Intent::Approve(id) => decide(
                id,
                Verdict::Approve {
                    conditions: Vec::new(),
                },
            ),
            Intent::ApproveWithConditions(id) => decide(
                id,
                Verdict::Approve {
                    conditions: values.items("conditions"),
                },
            ),
            Intent::Reject(id) => decide(id, Verdict::Reject),
            Intent::RequestException(id) => Command::RequestException {
                request_id: id,
                justification: values.text("justification"),
                compensating_controls: values.items("controls"),
                expiry_days: values.days("days"),
            },
            Intent::ApproveException(id) => review(id, Review::Approve),
            Intent::RejectException(id) => review(id, Review::Reject),
            Intent::RecordOutcome(id) => {
                // An empty optional field records nothing for it.
                let given = |name| Some(values.text(name)).filter(|t| !t.is_empty());
                Command::RecordOutcome {
                    request_id: id,
                    // The field's choices are the results, in order: the index is one of them.
                    result: OutcomeResult::ALL
                        .get(values.choice("result"))
                        .copied()
                        .unwrap_or(OutcomeResult::Success),
                    incident: given("incident"),
                    note: given("note"),
                }
            }
        }
    }

    /// Whether the user may take this action now, judged by the engine's own rules on a dry
    /// run: the refusal, if any, is the rule's own sentence.
    pub fn judge(self, state: &State, me: &Actor, now: DateTime<Utc>) -> Result<(), String> {
        dry_run(state, me, now, &self.command(&Placeholder)).map(|_| ())
    }

    /// One line naming the record the intent is about.
    pub fn subject(self, state: &State) -> String {
        match self {
            Intent::Approve(id)
            | Intent::ApproveWithConditions(id)
            | Intent::Reject(id)
            | Intent::RequestException(id)
            | Intent::RecordOutcome(id) => match state.request(&id) {
                Some(r) => format!(
                    "request {} · {} · risk {}{}",
                    short_id(&id),
                    r.deployment_intent_id,
                    r.risk_score,
                    r.title
                        .as_ref()
                        .map(|t| format!(" · {t}"))
                        .unwrap_or_default()
                ),
                None => format!("request {}", short_id(&id)),
            },
            Intent::ApproveException(id) | Intent::RejectException(id) => {
                match state.exception(&id) {
                    Some(e) => format!(
                        "exception {} · {} · requested by {}",
                        short_id(&id),
                        e.deployment_intent_id,
                        e.requested_by
                    ),
                    None => format!("exception {}", short_id(&id)),
                }
            }
        }
    }
}

/// The events the engine would record for `command`, or its refusal.
pub fn dry_run(
    state: &State,
    me: &Actor,
    now: DateTime<Utc>,
    command: &Command,
) -> Result<Vec<Event>, String> {
    let policy = Policy::default();
    let ctx = Ctx {
        actor: me,
        now,
        policy: &policy,
    };
    rules::handle(state, command, &ctx, &mut NoIds).map_err(|e| e.to_string())
}

/// Field name and value of what the engine would record, in the order it records them, read
/// from the dry run's events (so the decision's name is the engine's).
pub fn recorded(command: &Command, events: &[Event], now: DateTime<Utc>) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut row = |label: &str, value: String| rows.push((label.to_string(), value));
    for event in events {
        match &event.kind {
            EventKind::RequestDecided(e) => {
                let d = &e.decision;
                row("decision", d.decision.to_string());
                row("approver", d.approver.to_string());
                row("rationale", d.rationale.to_string());
                for c in &d.conditions {
                    row("condition", c.to_string());
                }
            }
            EventKind::ExceptionRequested(e) => {
                let x = &e.exception;
                let days = match command {
                    Command::RequestException {
                        expiry_days: Some(days),
                        ..
                    } => *days,
                    _ => DEFAULT_EXPIRY_DAYS,
                };
                let expires = now + Duration::days(days);
                row("justification", x.justification.to_string());
                row("requested by", x.requested_by.to_string());
                row(
                    "expires",
                    format!(
                        "{days} day{} after it is recorded (about {}, {})",
                        if days == 1 { "" } else { "s" },
                        time::format_secs(expires),
                        relative(expires, now),
                    ),
                );
                for c in &x.compensating_controls {
                    row("control", c.to_string());
                }
            }
            EventKind::ExceptionReviewed(e) => {
                row("review", e.status.to_string());
                row("reviewer", e.reviewed_by.to_string());
                row("rationale", e.review_rationale.to_string());
            }
            EventKind::OutcomeRecorded(e) => {
                let o = &e.outcome;
                row("outcome", o.result.to_string());
                if let Some(incident) = &o.incident {
                    row("incident", incident.to_string());
                }
                if let Some(note) = &o.note {
                    row("note", note.to_string());
                }
                row("recorded by", o.recorded_by.to_string());
            }
            EventKind::RequestSubmitted(_) | EventKind::ExceptionExpired(_) => {}
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from a table, as a filled-in form would give them.
    struct Filled(&'static [(&'static str, &'static str)]);

    impl Values for Filled {
        fn text(&self, name: &str) -> String {
            self.0
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(String::new(), |(_, v)| v.to_string())
        }
        fn items(&self, name: &str) -> Vec<String> {
            self.0
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
                .collect()
        }
        fn days(&self, name: &str) -> Option<i64> {
            self.text(name).parse().ok()
        }
        fn choice(&self, name: &str) -> usize {
            self.text(name).parse().unwrap_or(0)
        }
    }

    #[test]
    fn every_field_an_intent_reads_is_in_its_form() {
        let id = Uuid::nil();
        for intent in [
            Intent::Approve(id),
            Intent::ApproveWithConditions(id),
            Intent::Reject(id),
            Intent::RequestException(id),
            Intent::ApproveException(id),
            Intent::RejectException(id),
            Intent::RecordOutcome(id),
        ] {
            /// Records which names the command reads.
            struct Spy(std::cell::RefCell<Vec<String>>);
            impl Values for Spy {
                fn text(&self, name: &str) -> String {
                    self.0.borrow_mut().push(name.into());
                    String::new()
                }
                fn items(&self, name: &str) -> Vec<String> {
                    self.0.borrow_mut().push(name.into());
                    Vec::new()
                }
                fn days(&self, name: &str) -> Option<i64> {
                    self.0.borrow_mut().push(name.into());
                    None
                }
                fn choice(&self, name: &str) -> usize {
                    self.0.borrow_mut().push(name.into());
                    0
                }
            }
            let spy = Spy(Default::default());
            intent.command(&spy);
            let mut read = spy.0.into_inner();
            let mut form: Vec<String> = intent.form().iter().map(|f| f.name.into()).collect();
            read.sort();
            form.sort();
            assert_eq!(read, form, "{intent:?}");
        }
    }

    #[test]
    fn fields_are_read_by_name_into_the_engine_command() {
        let id = Uuid::from_u128(7);
        let filled = Filled(&[
            ("justification", "deadline"),
            ("controls", "canary"),
            ("controls", "rollback"),
            ("days", "9"),
        ]);
        assert_eq!(
            Intent::RequestException(id).command(&filled),
            Command::RequestException {
                request_id: id,
                justification: "deadline".into(),
                compensating_controls: vec!["canary".into(), "rollback".into()],
                expiry_days: Some(9),
            }
        );
    }

    #[test]
    fn the_outcome_form_offers_exactly_the_engine_s_results_in_order() {
        let names: Vec<&str> = OutcomeResult::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(RESULTS, names.as_slice());
        let id = Uuid::from_u128(7);
        let chosen: [&'static [(&str, &str)]; 3] =
            [&[("result", "0")], &[("result", "1")], &[("result", "2")]];
        for (values, result) in chosen.into_iter().zip(OutcomeResult::ALL) {
            match Intent::RecordOutcome(id).command(&Filled(values)) {
                Command::RecordOutcome { result: r, .. } => assert_eq!(r, result),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn an_outcome_s_empty_incident_and_note_record_none_and_filled_ones_their_text() {
        let id = Uuid::from_u128(7);
        assert_eq!(
            Intent::RecordOutcome(id).command(&Filled(&[("result", "1")])),
            Command::RecordOutcome {
                request_id: id,
                result: OutcomeResult::Failure,
                incident: None,
                note: None,
            }
        );
        let filled = Filled(&[("result", "2"), ("incident", "INC-7"), ("note", "p99 up")]);
        assert_eq!(
            Intent::RecordOutcome(id).command(&filled),
            Command::RecordOutcome {
                request_id: id,
                result: OutcomeResult::RolledBack,
                incident: Some("INC-7".into()),
                note: Some("p99 up".into()),
            }
        );
    }

    #[test]
    fn an_action_without_its_kind_of_record_selected_says_which_is_missing() {
        let ask = Ask::of(Action::ReviewApprove).unwrap();
        assert_eq!(
            ask.on(Some(Uuid::nil()), None),
            Err("no exception selected to approve this exception".into())
        );
        assert!(Ask::of(Action::Quit).is_none());
    }
}
